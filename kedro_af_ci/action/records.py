"""Deploy records in the registry, and whose they are (docs/action.md, "Code-only deploys"; docs/architecture.md,
"Trust").

A record is an OCI artifact at ``<image>:kaf-graph-<branch>``: the deployed image's digest, the image a later
build may take its layer cache from, the pipeline graph and what it depends on. A branch's job can hold
credentials that write any tag of the repository (a GitLab job token does; so does any shared preview
repository), so a record says nothing about who wrote it. The default branch's deploy therefore reads back only
a record *authenticated* with the record key, a secret only the production environment holds: an HMAC-SHA256
over the repository, the tag and the record's bytes, carried in the manifest's annotations. Without the key,
production reads neither records nor a layer cache from the registry; a branch reads its own record, else the
default branch's, as data for its own preview only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..image.docker import RECORD_PREFIX, branch_tag

if TYPE_CHECKING:
    from ..deliver.registry import Registry

RECORD_TYPE = "application/vnd.kedro-af-ci.graph-record.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MAC_ANNOTATION = "dev.kedro-af-ci.record.hmac-sha256"
# OCI 1.1's empty descriptor: an artifact without layers names it, for registries that want one
EMPTY = b"{}"
EMPTY_DIGEST = "sha256:" + hashlib.sha256(EMPTY).hexdigest()
EMPTY_LAYER = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY_DIGEST, "size": len(EMPTY)}


def record_tag(branch: str) -> str:
    return branch_tag(branch, RECORD_PREFIX)


@dataclass(frozen=True)
class Record:
    branch: str
    data: dict[str, Any]
    authenticated: bool  # it carries the HMAC of the key this run holds


@dataclass(frozen=True)
class Readers:
    """Which records a run may read back, and on what condition."""

    branch: str
    default_branch: str
    key: str  # the record key ("" when this run holds none)

    @property
    def production(self) -> bool:
        return self.branch == self.default_branch

    @property
    def branches(self) -> tuple[str, ...]:
        """Production reads only its own; a branch its own, else the default branch's."""
        return (self.branch,) if self.production else tuple(dict.fromkeys((self.branch, self.default_branch)))

    def refusal(self, record: Record) -> str | None:
        """Why production ignores ``record`` (None: it may be used)."""
        if self.production and not record.authenticated:
            return (f"the record of {record.branch!r} is not authenticated by record-key: ignored, a branch's job "
                    "could have written it")
        return None


def mac(key: str, repository: str, tag: str, blob: bytes) -> str:
    message = b"\0".join((b"kedro-af-ci record", repository.encode(), tag.encode(), blob))
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def read_record(registry: Registry, repository: str, branch: str, key: str) -> Record | None:
    """The branch's record (None when there is none); ValueError when it is not one this tool reads."""
    tag = record_tag(branch)
    found = registry.manifest(repository, tag)
    if found is None:
        return None
    manifest = json.loads(found[0])
    config = manifest.get("config") if isinstance(manifest, dict) else None
    if not isinstance(config, dict) or config.get("mediaType") != RECORD_TYPE:
        return None
    blob = registry.blob(repository, config["digest"])
    data = json.loads(blob)
    if not isinstance(data, dict):
        raise ValueError("the record is not a JSON object")
    given = (manifest.get("annotations") or {}).get(MAC_ANNOTATION)
    authenticated = bool(key) and isinstance(given, str) and hmac.compare_digest(
        given, mac(key, repository, tag, blob))
    return Record(branch, data, authenticated)


@dataclass(frozen=True)
class EncodedRecord:
    digest: str  # of the blob
    blob: bytes
    manifest: bytes


def encode_record(record: dict[str, Any], repository: str, branch: str, key: str) -> EncodedRecord:
    """The record's blob, and the manifest its tag names (with the HMAC when this run holds the key)."""
    blob = json.dumps(record, sort_keys=True).encode()
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                "config": {"mediaType": RECORD_TYPE, "digest": digest, "size": len(blob)},
                                "layers": [EMPTY_LAYER]}
    if key:
        manifest["annotations"] = {MAC_ANNOTATION: mac(key, repository, record_tag(branch), blob)}
    return EncodedRecord(digest, blob, json.dumps(manifest, separators=(",", ":")).encode())


def upload_record(registry: Registry, repository: str, encoded: EncodedRecord) -> None:
    for digest, data in ((encoded.digest, encoded.blob), (EMPTY_DIGEST, EMPTY)):
        registry.put_blob(repository, digest, data)


def tag_record(registry: Registry, repository: str, branch: str, encoded: EncodedRecord) -> None:
    registry.put_manifest(repository, record_tag(branch), OCI_MANIFEST, encoded.manifest)
