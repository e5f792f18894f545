"""Who decides: the one test of whether this process runs in CI, where a branch chose the files.

In CI the commit is untrusted (anyone who can push a branch chose it), while the workflow and its
protected variables are the deployment's (docs/architecture.md, "Trust"). Outside CI the user runs
the tool on their own checkout and their config is trusted as it is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

_TRUE = ("true", "1", "yes")


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """GitHub Actions, GitLab CI (gitlab-ci-local names its job too), or any CI that sets ``CI``."""
    environ = os.environ if environ is None else environ
    flags = ("CI", "GITHUB_ACTIONS", "GITLAB_CI")
    return (any(environ.get(flag, "").strip().lower() in _TRUE for flag in flags)
            or bool(environ.get("CI_JOB_ID") and environ.get("CI_PROJECT_DIR")))
