"""Commit id, branch name and dirtiness of the project's checkout.

CI checkouts are usually detached (GitHub Actions, GitLab CI) or sit on a PR merge ref, where
``git``'s own idea of the branch is useless; the CI's variables know better, so they come first
for the branch, while the commit always comes from the checkout that is actually being built.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping
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
    source: str = "git"  # where the values came from: git, ci, none


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


def _ci_commit(environ: Mapping[str, str]) -> str | None:
    for var in ("GITHUB_SHA", "CI_COMMIT_SHA"):
        value = environ.get(var, "").strip()
        if value:
            return value
    return None


def _git(cwd: str | Path, *args: str) -> str:
    """One git command; raises CalledProcessError/OSError when git or the repository is missing."""
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


def _branch_from_refs(cwd: str | Path) -> str | None:
    """Name a branch (local or remote) whose tip is HEAD, for detached checkouts outside CI."""
    refs = _git(cwd, "for-each-ref", "--points-at", "HEAD", "--format=%(refname)", "refs/heads", "refs/remotes")
    candidates = []
    for ref in refs.splitlines():
        if ref.startswith("refs/heads/"):
            candidates.append(ref.removeprefix("refs/heads/"))
        elif ref.startswith("refs/remotes/") and ref.count("/") >= 3 and not ref.endswith("/HEAD"):
            candidates.append(ref.split("/", 3)[3])
    return sorted(candidates)[0] if candidates else None


def read_git_info(path: str | Path, environ: Mapping[str, str] | None = None) -> GitInfo:
    """Describe the checkout at ``path``; falls back to CI variables, then to ``unknown``.

    Plain ``git`` commands (a few ms each) rather than gitpython, whose import alone took 70 ms of
    every compile (benchmarks/run.py).
    """
    environ = os.environ if environ is None else environ
    try:
        top, commit = _git(path, "rev-parse", "--show-toplevel", "HEAD").splitlines()
        dirty = bool(_git(path, "status", "--porcelain", "--untracked-files=no"))
        try:
            branch = _git(path, "symbolic-ref", "--quiet", "--short", "HEAD") or None
        except subprocess.CalledProcessError:  # detached HEAD
            branch = None
        branch = branch or _ci_branch(environ) or _branch_from_refs(path) or UNKNOWN_BRANCH
        if dirty:
            log.warning("the git working tree at %s has uncommitted changes; commit_id %s does "
                        "not describe them", top, commit[:12])
        return GitInfo(commit_id=commit, branch_name=branch, dirty=dirty, source="git")
    except (OSError, ValueError, subprocess.SubprocessError) as exc:  # no git, not a repository, no commit
        log.debug("git information unavailable at %s: %s", path, exc)
    commit = _ci_commit(environ)
    branch = _ci_branch(environ)
    if commit or branch:
        return GitInfo(commit or UNKNOWN_COMMIT, branch or UNKNOWN_BRANCH, source="ci")
    return GitInfo(UNKNOWN_COMMIT, UNKNOWN_BRANCH, source="none")
