"""Commit id, branch name and dirtiness of the project's checkout.

CI checkouts are usually detached (GitHub Actions, GitLab CI) or sit on a PR merge ref, where
``git``'s own idea of the branch is useless; the CI's variables know better, so they come first
for the branch, while the commit always comes from the checkout that is actually being built.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

UNKNOWN_COMMIT = "unknown"
UNKNOWN_BRANCH = "unknown"


@dataclass(frozen=True)
class GitInfo:
    commit_id: str
    branch_name: str
    dirty: bool = False
    source: str = "git"  # where the values came from: git, ci, unborn (a branch, no commit yet), none
    repository: str | None = None  # owner/name as the CI names it (GITHUB_REPOSITORY, CI_PROJECT_PATH)


def _ci_branch(environ: Mapping[str, str]) -> str | None:
    # GITHUB_HEAD_REF is the PR's source branch; GITHUB_REF_NAME is then "123/merge".
    for var in (
        "GITHUB_HEAD_REF",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
        "GITHUB_REF_NAME",
        "CI_COMMIT_REF_NAME",
        "CI_COMMIT_BRANCH",
    ):
        value = environ.get(var, "").strip()
        if value:
            return value
    return None


def default_branch(environ: Mapping[str, str]) -> str:
    """The repository's default branch as the CI says it (GitLab's variable, GitHub's event payload), else main."""
    if environ.get("CI_DEFAULT_BRANCH"):
        return environ["CI_DEFAULT_BRANCH"]
    event = environ.get("GITHUB_EVENT_PATH")
    if event:
        import json

        with contextlib.suppress(OSError, ValueError, AttributeError):
            found = json.loads(Path(event).read_text(encoding="utf-8")).get("repository", {}).get("default_branch")
            if isinstance(found, str) and found:
                return found
    return "main"


def _remote_repository(path: str | Path, pinned: Path | None) -> str | None:
    """``owner/name`` (GitLab: ``group/sub/name``) of the ``origin`` remote's URL, as CI names the repository:
    DAGs deployed from a laptop say whose they are too (``prune`` keeps to them). Only the URL's path is kept,
    never a credential in it."""
    try:
        url = git(path, "remote", "get-url", "origin", checkout=pinned)
    except (OSError, subprocess.SubprocessError):
        return None
    if "://" in url:
        location = url.split("://", 1)[1].split("/", 1)[1] if "/" in url.split("://", 1)[1] else ""
    elif re.match(r"[^/]+:", url):  # scp form: git@host:owner/name.git
        location = url.split(":", 1)[1]
    else:  # a local path: no repository host names it
        return None
    name = location.strip("/").removesuffix(".git").strip("/")
    return name if re.fullmatch(r"[\w.-]+(/[\w.-]+)+", name) else None


def _unborn_branch(path: str | Path, pinned: Path | None) -> str | None:
    """The branch of a repository that has no commit yet (``git init`` done, nothing committed)."""
    try:
        return git(path, "symbolic-ref", "--quiet", "--short", "HEAD", checkout=pinned) or None
    except (OSError, subprocess.SubprocessError):
        return None


def _ci_repository(environ: Mapping[str, str]) -> str | None:
    return (environ.get("GITHUB_REPOSITORY") or environ.get("CI_PROJECT_PATH") or "").strip() or None


def _ci_commit(environ: Mapping[str, str]) -> str | None:
    for var in ("GITHUB_SHA", "CI_COMMIT_SHA"):
        value = environ.get(var, "").strip()
        if value:
            return value
    return None


# A checkout's files are a branch's to choose, its .git folder is not (git never tracks a path named
# .git). So git reads no repository it would merely discover (a bare repository committed into the
# project), and runs nothing a repository's config names (fsmonitor, hooks).
_HARDENED = ("-c", "safe.bareRepository=explicit", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null",
             "-c", "core.untrackedCache=false")


def git(cwd: str | Path, *args: str, checkout: Path | None = None, timeout: float = 60) -> str:
    """One git command; raises CalledProcessError/OSError when git or the repository is missing.
    With ``checkout``, only that checkout's own .git folder is read. Every git call of the package
    goes through here (or :func:`git_bytes`), so every one gets the same hardening."""
    return git_bytes(cwd, *args, checkout=checkout, timeout=timeout).decode("utf-8", errors="replace").strip()


def git_bytes(cwd: str | Path, *args: str, checkout: Path | None = None, timeout: float = 60,
              stdin: bytes | None = None) -> bytes:
    """:func:`git`'s raw output (file contents, ``-z`` lists)."""
    pinned = ["--git-dir", str(checkout / ".git"), "--work-tree", str(checkout)] if checkout else []
    return subprocess.run(["git", *_HARDENED, *pinned, *args], cwd=cwd, input=stdin, capture_output=True,
                          check=True, timeout=timeout, env=_git_environ(checkout)).stdout


@contextlib.contextmanager
def git_process(cwd: str | Path, *args: str, checkout: Path | None = None,
                timeout: float = 600) -> Iterator[subprocess.Popen]:
    """:func:`git` as a process whose output is read as a stream (``git archive``); CalledProcessError
    when it fails, the process stopped when the reader stops early."""
    pinned = ["--git-dir", str(checkout / ".git"), "--work-tree", str(checkout)] if checkout else []
    command = ["git", *_HARDENED, *pinned, *args]
    with subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=_git_environ(checkout)) as process:
        try:
            yield process
            if process.stdout is not None:
                process.stdout.read()  # what the reader left (tar's padding)
            returncode = process.wait(timeout=timeout)
        except BaseException:
            process.kill()
            raise
        if returncode != 0:
            stderr = process.stderr.read() if process.stderr else b""
            raise subprocess.CalledProcessError(returncode, command[:1] + list(args[:2]), stderr=stderr)


def _git_environ(checkout: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR")}
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for a password nobody will type
    if checkout is not None:  # no discovery above the checkout either
        env["GIT_CEILING_DIRECTORIES"] = str(checkout.parent)
    return env


def tracked_files(folder: Path) -> list[str] | None:
    """Files git tracks under ``folder``, relative to it; None outside a git checkout."""
    try:
        listed = git(folder, "ls-files", "-z", "--", ".")
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return [name for name in listed.split("\0") if name]


def is_tracked(checkout: Path, path: Path) -> bool:
    """True when ``path`` is in the checkout's index (a branch put it there), or when that cannot be
    told (no repository): then it is treated as the branch's too."""
    checkout = checkout.resolve()
    try:
        listed = git(checkout, "ls-files", "--", str(path.resolve().relative_to(checkout)), checkout=checkout)
    except (OSError, ValueError, subprocess.SubprocessError):
        return True
    return bool(listed)


def _branch_from_refs(cwd: str | Path, checkout: Path | None = None) -> str | None:
    """Name a branch (local or remote) whose tip is HEAD, for detached checkouts outside CI."""
    refs = git(cwd, "for-each-ref", "--points-at", "HEAD", "--format=%(refname)", "refs/heads", "refs/remotes",
                checkout=checkout)
    candidates = []
    for ref in refs.splitlines():
        if ref.startswith("refs/heads/"):
            candidates.append(ref.removeprefix("refs/heads/"))
        elif ref.startswith("refs/remotes/") and ref.count("/") >= 3 and not ref.endswith("/HEAD"):
            candidates.append(ref.split("/", 3)[3])
    return sorted(candidates)[0] if candidates else None


def read_git_info(path: str | Path, environ: Mapping[str, str] | None = None,
                  checkout: str | Path | None = None) -> GitInfo:
    """Describe the checkout at ``path``; falls back to CI variables, then to ``unknown``.

    ``checkout``: the CI's checkout (the action's workspace), the only repository then read.
    Plain ``git`` commands (a few ms each) rather than gitpython, whose import alone took 70 ms of
    every compile (benchmarks/run.py).
    """
    environ = os.environ if environ is None else environ
    pinned = Path(checkout).resolve() if checkout is not None else None
    try:
        top, commit = git(path, "rev-parse", "--show-toplevel", "HEAD", checkout=pinned).splitlines()
        dirty = bool(git(path, "status", "--porcelain", "--untracked-files=no", checkout=pinned))
        try:
            symbolic: str | None = git(path, "symbolic-ref", "--quiet", "--short", "HEAD", checkout=pinned) or None
        except subprocess.CalledProcessError:  # detached HEAD
            symbolic = None
        branch = symbolic or _ci_branch(environ) or _branch_from_refs(path, pinned) or UNKNOWN_BRANCH
        if dirty:
            log.warning("the git working tree at %s has uncommitted changes; commit_id %s does "
                        "not describe them", top, commit[:12])
        return GitInfo(commit_id=commit, branch_name=branch, dirty=dirty, source="git",
                       repository=_ci_repository(environ) or _remote_repository(path, pinned))
    except (OSError, ValueError, subprocess.SubprocessError) as exc:  # no git, not a repository, no commit
        log.debug("git information unavailable at %s: %s", path, exc)
    ci_commit, ci_branch = _ci_commit(environ), _ci_branch(environ)
    unborn = None if ci_commit or ci_branch else _unborn_branch(path, pinned)
    if unborn:  # a repository before its first commit: the branch is known, the commit not yet
        log.warning("no commit yet in the repository at %s: the branch is %s, and ${commit_id} takes its default "
                    "until the first commit (the image tag and the DAG's commit)", path, unborn)
        return GitInfo(UNKNOWN_COMMIT, unborn, source="unborn", repository=_ci_repository(environ))
    if ci_commit or ci_branch:
        return GitInfo(ci_commit or UNKNOWN_COMMIT, ci_branch or UNKNOWN_BRANCH, source="ci",
                       repository=_ci_repository(environ))
    return GitInfo(UNKNOWN_COMMIT, UNKNOWN_BRANCH, source="none")
