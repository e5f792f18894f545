"""The registry over its HTTP API v2: a deleted branch's image (docs/action.md "Delete"), and the
reads and writes of a code-only deploy (docs/action.md "Code-only deploys").

The registry deletes images, not tags: ``DELETE /v2/<name>/manifests/<digest>`` removes the image and
every tag on it. So the branch's tag (``kaf-branch-<branch>``, the layer cache) goes only when no tag
that someone still needs is on the same image: another branch's tag, a tag this tool does not write
(``latest``, ``v1.2``), or the commit tag of a DAG Airflow still has. Where the registry does not allow
deletes (Docker Hub, ECR, ``storage.delete.enabled: false``) the tag is named as left behind, never an
error: the DAG is gone either way.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass

import requests
from requests.utils import parse_dict_header

from ..guards.hosts import registry_host_is_loopback
from .client import origin, read_bounded

MANIFEST_TYPES = ", ".join((
    "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json"))
COMMIT_TAG = re.compile(r"[0-9a-f]{7,64}\Z")  # what image_ref tags a commit's image with
BRANCH_TAG_PREFIX = "kaf-branch-"
TIMEOUT = (5, 20)  # connect, read: per request
DEADLINE = 120.0  # seconds for one use: a cleanup, a code-only lookup, its push
MAX_BODY = 4 * 2**20  # a manifest or a page of tags
MAX_PAGES = 50


class RegistryRefused(Exception):
    """The registry could not or would not do it; the message says why (no URL, no credential)."""


@dataclass(frozen=True)
class ImageCleanup:
    removed: tuple[str, ...] = ()  # tags gone, the branch's first
    left: str = ""  # why the branch's tag is still there ("" when removed or never there)

    def describe(self, repository: str, tag: str) -> str:
        if self.removed:
            return f"removed image tag(s) {', '.join(self.removed)} from {repository}"
        return f"left behind: image tag {repository}:{tag} ({self.left})" if self.left else \
            f"no image tag {tag} in {repository}"


def remove_branch_image(registry: Registry, repository: str, tag: str, commits_in_use: set[str]) -> ImageCleanup:
    """Delete the image under ``tag`` when every tag on it is the branch's own (see the module doc)."""
    try:
        digest = registry.digest(repository, tag)
        if digest is None:
            return ImageCleanup()
        before = registry.tags(repository)
        keeper = _keeper(registry, repository, digest, [t for t in before if t != tag], commits_in_use)
        if keeper:
            return ImageCleanup(left=f"the image also carries {keeper}")
        registry.delete(repository, digest)
        if registry.digest(repository, tag) is not None:
            return ImageCleanup(left="the registry accepted the delete but still has the tag")
        gone = set(before) - set(registry.tags(repository))
        return ImageCleanup(removed=(tag, *sorted(gone - {tag})))
    except RegistryRefused as exc:
        return ImageCleanup(left=str(exc))


def _keeper(registry: Registry, repository: str, digest: str, others: list[str], commits_in_use: set[str]) -> str:
    """The first tag on ``digest`` that someone still needs ("" when none): only tags that could be
    needed are looked up, so a repository of a thousand commit tags costs a handful of requests."""
    for other in others:
        needed = other.startswith(BRANCH_TAG_PREFIX) or not COMMIT_TAG.match(other) or other in commits_in_use
        if needed and registry.digest(repository, other) == digest:
            reason = "the commit tag of a DAG Airflow still has" if other in commits_in_use else "a tag in use"
            return f"{other!r}, {reason}"
    return ""


class Registry:
    """Docker Registry HTTP API v2 client: Basic or Bearer (token service) auth from the same login the
    push uses; https except for a loopback host, as Docker itself treats them."""

    def __init__(self, host: str, username: str = "", password: str = "", *, deadline: float | None = None,
                 actions: str = "pull,delete"):
        self.actions = actions  # what a Bearer token is asked for
        self.base = f"{'http' if registry_host_is_loopback(host) else 'https'}://{host}"
        self._login = (username, password) if username and password else None
        self._auth: dict[str, str] = {}
        self._deadline = deadline if deadline is not None else time.monotonic() + DEADLINE
        self._session = requests.Session()

    def digest(self, repository: str, reference: str) -> str | None:
        answer = self._send("HEAD", f"/v2/{repository}/manifests/{reference}", repository,
                            headers={"Accept": MANIFEST_TYPES})
        if answer.status_code == 404:
            return None
        _expect(answer, 200, "reading the image's manifest")
        found = answer.headers.get("Docker-Content-Digest")
        if found:
            return found
        body = self._send("GET", f"/v2/{repository}/manifests/{reference}", repository,
                          headers={"Accept": MANIFEST_TYPES})
        _expect(body, 200, "reading the image's manifest")
        return "sha256:" + hashlib.sha256(body.content).hexdigest()

    def tags(self, repository: str) -> list[str]:
        found: list[str] = []
        path: str | None = f"/v2/{repository}/tags/list?n=1000"
        for _ in range(MAX_PAGES):
            if path is None:
                return found
            answer = self._send("GET", path, repository)
            if answer.status_code == 404:
                return found
            _expect(answer, 200, "listing the repository's tags")
            found += [str(t) for t in (answer.json().get("tags") or [])]
            path = _next_page(answer.headers.get("Link", ""))
        raise RegistryRefused(f"the tag list goes on past {MAX_PAGES} pages")

    def delete(self, repository: str, digest: str) -> None:
        answer = self._send("DELETE", f"/v2/{repository}/manifests/{digest}", repository)
        if answer.status_code in (405, 400) or (answer.status_code == 404 and _code(answer) == "UNSUPPORTED"):
            raise RegistryRefused(f"the registry does not allow deleting images (HTTP {answer.status_code}; "
                                  "Docker Hub and ECR never do, a registry needs storage.delete.enabled)")
        _expect(answer, 202, "deleting the image")

    def restart_clock(self) -> None:
        """A new deadline, for a client kept across a long step (a build between lookup and push)."""
        self._deadline = time.monotonic() + DEADLINE

    def manifest(self, repository: str, reference: str) -> tuple[bytes, str, str] | None:
        """The manifest under a tag or digest: its bytes, media type and digest; None when absent."""
        answer = self._send("GET", f"/v2/{repository}/manifests/{reference}", repository,
                            headers={"Accept": MANIFEST_TYPES})
        if answer.status_code == 404:
            return None
        _expect(answer, 200, "reading a manifest")
        digest = "sha256:" + hashlib.sha256(answer.content).hexdigest()
        if reference.startswith("sha256:") and reference != digest:
            raise RegistryRefused(f"the registry answered another manifest than {reference}")
        return answer.content, answer.headers.get("Content-Type", "").split(";")[0], digest

    def blob(self, repository: str, digest: str) -> bytes:
        """A small blob (an image config), checked against its digest."""
        answer = self._send("GET", f"/v2/{repository}/blobs/{digest}", repository, follow=True)
        _expect(answer, 200, f"reading blob {digest[:19]}")
        if "sha256:" + hashlib.sha256(answer.content).hexdigest() != digest:
            raise RegistryRefused(f"blob {digest[:19]} does not match its digest")
        return answer.content

    def put_blob(self, repository: str, digest: str, data: bytes) -> None:
        """Upload a blob in one request, unless the repository already has it."""
        if self._send("HEAD", f"/v2/{repository}/blobs/{digest}", repository, follow=True).status_code == 200:
            return
        start = self._send("POST", f"/v2/{repository}/blobs/uploads/", repository)
        _expect(start, 202, "starting a blob upload")
        location = start.headers.get("Location", "")
        url = location if location.startswith(("http://", "https://")) else self.base + location
        if origin(url) != origin(self.base):
            raise RegistryRefused("the registry sent the upload to another host")
        answer = self._send("PUT", url.removeprefix(self.base), repository, params={"digest": digest}, data=data,
                            headers={"Content-Type": "application/octet-stream"})
        _expect(answer, 201, f"uploading blob {digest[:19]}")

    def put_manifest(self, repository: str, reference: str, media_type: str, data: bytes) -> None:
        answer = self._send("PUT", f"/v2/{repository}/manifests/{reference}", repository, data=data,
                            headers={"Content-Type": media_type})
        _expect(answer, 201, f"writing the manifest of {reference}")

    def _send(self, method: str, path: str, repository: str, headers: dict[str, str] | None = None, *,
              follow: bool = False, params: dict[str, str] | None = None, data: bytes | None = None,
              ) -> requests.Response:
        url = requests.Request(method, self.base + path, params=params).prepare().url or self.base + path
        answer = self._request(method, url, {**(headers or {}), **self._auth}, data=data)
        if answer.status_code == 401 and self._authenticate(answer.headers.get("WWW-Authenticate", ""), repository):
            answer = self._request(method, url, {**(headers or {}), **self._auth}, data=data)
        if follow and answer.status_code in (301, 302, 307) and answer.headers.get("Location"):
            # blobs may live in a storage service the registry redirects to (S3, GCS): no login goes there
            answer = self._request(method, answer.headers["Location"], {}, data=data)
        return answer

    def _request(self, method: str, url: str, headers: dict[str, str], data: bytes | None = None,
                 ) -> requests.Response:
        if time.monotonic() > self._deadline:
            raise RegistryRefused(f"no answer within {DEADLINE:.0f} s")
        try:
            answer = self._session.request(method, url, headers=headers, timeout=TIMEOUT, allow_redirects=False,
                                           stream=True, data=data)
        except requests.RequestException as exc:
            raise RegistryRefused(f"the registry did not answer ({type(exc).__name__})") from None
        read_bounded(answer, MAX_BODY, RegistryRefused)
        return answer

    def _authenticate(self, challenge: str, repository: str) -> bool:
        """Answer a 401's challenge once: Basic sends the login; Bearer trades it at the token service for
        a token scoped to this repository (pull, delete). False: nothing more to try."""
        if self._auth or self._login is None:
            return False
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            self._auth = {"Authorization": _basic_auth(*self._login)}
            return True
        if scheme.lower() != "bearer":
            return False
        fields = parse_dict_header(params)
        realm = str(fields.get("realm") or "")
        if not realm.startswith("https://") and origin(realm) != origin(self.base):
            raise RegistryRefused("the registry's token service is not https: the login is not sent there")
        answer = self._request("GET", requests.Request("GET", realm, params={
            "service": fields.get("service") or "", "scope": f"repository:{repository}:{self.actions}"}).prepare().url
            or realm, {"Authorization": _basic_auth(*self._login)})
        _expect(answer, 200, "getting a token from the registry's token service")
        token = answer.json().get("token") or answer.json().get("access_token")
        if not isinstance(token, str) or not token:
            raise RegistryRefused("the registry's token service answered no token")
        self._auth = {"Authorization": f"Bearer {token}"}
        return True


def _expect(answer: requests.Response, status: int, doing: str) -> None:
    if answer.status_code == status:
        return
    hint = {401: ": check registry-username and registry-password", 403: ": the login may not delete images"}
    raise RegistryRefused(f"{doing} failed with HTTP {answer.status_code}{hint.get(answer.status_code, '')}")


def _code(answer: requests.Response) -> str:
    try:
        return str(answer.json()["errors"][0]["code"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def _next_page(link: str) -> str | None:
    """The path of the Link header's next page (``</v2/x/tags/list?last=t&n=1000>; rel="next"``)."""
    match = re.match(r'\s*<(/v2/[^>]*)>\s*;\s*rel="?next"?', link)
    return match.group(1) if match else None


def _basic_auth(username: str, password: str) -> str:
    """HTTP Basic credentials (RFC 7617), UTF-8 encoded as Docker's own client sends them."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
