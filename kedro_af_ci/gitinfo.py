"""Commit id, branch name and dirtiness of the project's checkout.

CI checkouts are usually detached (GitHub Actions, GitLab CI) or sit on a PR merge ref, where
``git``'s own idea of the branch is useless; the CI's variables know better, so they come first
for the branch, while the commit always comes from the checkout that is actually being built.
"""

from __future__ import annotations

import logging
import os
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


def _branch_from_refs(repo) -> str | None:
    """Name a branch (local or remote) whose tip is HEAD, for detached checkouts outside CI."""
    head = repo.head.commit.hexsha
    candidates = [h.name for h in repo.heads if h.commit.hexsha == head]
    for remote in repo.remotes:
        for ref in remote.refs:
            if ref.remote_head != "HEAD" and ref.commit.hexsha == head:
                candidates.append(ref.remote_head)
    return sorted(candidates)[0] if candidates else None


def read_git_info(path: str | Path, environ: Mapping[str, str] | None = None) -> GitInfo:
    """Describe the checkout at ``path``; falls back to CI variables, then to ``unknown``."""
    environ = os.environ if environ is None else environ
    try:
        import git  # gitpython; imported lazily: it costs ~100 ms

        repo = git.Repo(path, search_parent_directories=True)
        commit = repo.head.commit.hexsha
        dirty = repo.is_dirty(untracked_files=False)
        branch = None
        if not repo.head.is_detached:
            branch = repo.active_branch.name
        branch = branch or _ci_branch(environ) or _branch_from_refs(repo) or UNKNOWN_BRANCH
        if dirty:
            log.warning("the git working tree at %s has uncommitted changes; commit_id %s does "
                        "not describe them", repo.working_tree_dir, commit[:12])
        return GitInfo(commit_id=commit, branch_name=branch, dirty=dirty, source="git")
    except Exception as exc:  # no git binary, not a repository, repository without commits...
        log.debug("git information unavailable at %s: %s", path, exc)
    commit = _ci_commit(environ)
    branch = _ci_branch(environ)
    if commit or branch:
        return GitInfo(commit or UNKNOWN_COMMIT, branch or UNKNOWN_BRANCH, source="ci")
    return GitInfo(UNKNOWN_COMMIT, UNKNOWN_BRANCH, source="none")
