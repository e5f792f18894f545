"""A source project's branch packages, read over GitLab's REST API v4 by the trusted deployer's scheduled
job (docs/action.md, "Trusted deployer on GitLab").

What the deployer takes from GitLab, never from a package: which branches exist and their head commits,
the default branch, and for each branch the newest successful package job, its commit and its artifacts.
Every answer is bounded (pages, bytes, seconds), and the token is sent only over https or to loopback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..guards.hosts import credentials_may_go
from .client import read_bounded

TIMEOUT = (5, 30)  # connect, read: per request
PAGE = 100
MAX_PAGES = 20  # branches: 2000; jobs: the 2000 newest successful ones
MAX_BODY = 8 * 2**20  # a page of branches or jobs
COMMIT = re.compile(r"[0-9a-f]{40}\Z|[0-9a-f]{64}\Z")


class GitLabRefused(Exception):
    """GitLab could not or would not answer; the message says why (never the token)."""


@dataclass(frozen=True)
class PackageJob:
    job_id: int
    branch: str
    commit: str
    finished_at: str


class SourceProject:
    """One project's branches and package jobs, read with a read-only token (Reporter, ``read_api``)."""

    def __init__(self, api: str, project: str, token: str, *, insecure: bool = False):
        check_api(api, insecure)
        self.base = f"{api.rstrip('/')}/projects/{quote(project, safe='')}"
        self.project = project
        self.session = requests.Session()
        self.session.headers["PRIVATE-TOKEN"] = token
        retry = Retry(total=4, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504),
                      allowed_methods=frozenset({"GET"}), raise_on_status=False)
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.mount("http://", HTTPAdapter(max_retries=retry))

    def default_branch(self) -> str:
        answer = self._get("", {})
        branch = answer.get("default_branch") if isinstance(answer, dict) else None
        if not isinstance(branch, str) or not branch:
            raise GitLabRefused(f"project {self.project!r} names no default branch")
        return branch

    def branches(self) -> dict[str, str]:
        """Every branch and its head commit; refused when there are more than MAX_PAGES pages of them (a list
        cut short would make the branches past it look deleted, and their DAGs pruned)."""
        heads = {}
        for item in self._pages("/repository/branches", {}, whole=True):
            name, commit = item.get("name"), (item.get("commit") or {}).get("id")
            if isinstance(name, str) and isinstance(commit, str) and COMMIT.match(commit):
                heads[name] = commit
        return heads

    def package_jobs(self, job_name: str) -> list[PackageJob]:
        """The newest successful ``job_name`` job of each branch that kept its artifacts (GitLab lists the
        newest first); tags' and merge requests' pipelines are not branches and are left out."""
        newest: dict[str, PackageJob] = {}
        for item in self._pages("/jobs", {"scope[]": "success"}):
            job = _package_job(item, job_name)
            if job is not None and job.branch not in newest:
                newest[job.branch] = job
        return list(newest.values())

    def download_artifacts(self, job_id: int, destination: Path, limit: int) -> None:
        """The job's artifacts archive (a zip) into ``destination``, refused past ``limit`` bytes."""
        try:
            with self.session.get(f"{self.base}/jobs/{job_id}/artifacts", timeout=TIMEOUT, stream=True) as answer:
                _raise_for(answer, f"the artifacts of job {job_id}")
                size = 0
                with destination.open("wb") as out:
                    for chunk in answer.iter_content(chunk_size=2**20):
                        size += len(chunk)
                        if size > limit:
                            raise GitLabRefused(f"the artifacts of job {job_id} are over {limit // 2**20} MiB")
                        out.write(chunk)
        except requests.RequestException as exc:
            raise GitLabRefused(f"the artifacts of job {job_id}: {type(exc).__name__}") from None

    def _pages(self, path: str, params: dict[str, str], *, whole: bool = False) -> Iterator[dict[str, Any]]:
        """The items of up to MAX_PAGES pages, newest first; with ``whole``, all of them or GitLabRefused."""
        for page in range(1, MAX_PAGES + 1):
            items = self._get(path, {**params, "per_page": str(PAGE), "page": str(page)})
            if not isinstance(items, list):
                raise GitLabRefused(f"GitLab's answer to {path or 'the project'} is not a list")
            yield from (item for item in items if isinstance(item, dict))
            if len(items) < PAGE:
                return
        if whole:
            raise GitLabRefused(f"more than {MAX_PAGES * PAGE} items in {path}: not all read")

    def _get(self, path: str, params: dict[str, str]) -> object:
        try:
            answer = self.session.get(f"{self.base}{path}", params=params, timeout=TIMEOUT, stream=True)
            _raise_for(answer, path or "the project")
            read_bounded(answer, MAX_BODY, GitLabRefused)
            return answer.json()
        except requests.RequestException as exc:
            raise GitLabRefused(f"{path or 'the project'}: {type(exc).__name__}") from None
        except ValueError:
            raise GitLabRefused(f"GitLab's answer to {path or 'the project'} is not JSON") from None


def _package_job(item: dict[str, Any], job_name: str) -> PackageJob | None:
    """A package job of a branch's pipeline, with its artifacts archive, else None."""
    commit = (item.get("commit") or {}).get("id")
    archive = any(isinstance(a, dict) and a.get("file_type") == "archive" for a in item.get("artifacts") or ())
    if item.get("name") != job_name or item.get("tag") or not archive or not isinstance(item.get("id"), int):
        return None
    ref = item.get("ref")
    if not isinstance(ref, str) or ref.startswith("refs/") or not isinstance(commit, str) or not COMMIT.match(commit):
        return None
    return PackageJob(item["id"], ref, commit, str(item.get("finished_at") or ""))


def _raise_for(answer: requests.Response, what: str) -> None:
    if answer.status_code in (401, 403):
        raise GitLabRefused(f"GitLab refused the token for {what} (HTTP {answer.status_code}): it needs the Reporter "
                            "role and the read_api scope on the source project")
    if answer.status_code == 404:
        raise GitLabRefused(f"GitLab has no {what} (HTTP 404): check the project's path and the token's project")
    if answer.status_code >= 400:
        raise GitLabRefused(f"GitLab answered HTTP {answer.status_code} for {what}")


def check_api(api: str, insecure: bool) -> None:
    """The token travels over https, or plain http to this machine's loopback, or where ``insecure`` says so."""
    if credentials_may_go(api, insecure):
        return
    raise GitLabRefused(f"{api[:80]!r} is not an https URL of GitLab's API (plain http would send the token in "
                        "clear): use CI_API_V4_URL's https URL")
