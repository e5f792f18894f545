"""The code-only glue's decisions against a fake registry (issue 36): which record a run reuses, the fallback
to the default branch's, and that a corrupt record, a gone image or a refusing registry each end in a
usual build with the reason said, never in a broken image. The same records against a real registry, and
their forgeries: tests/action/test_records.py; the whole deploy: tests/action/test_layer_cache.py."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import pytest

from kedro_af_ci.action.code_only import (
    CodeLayerPlan,
    CodeOnlyRun,
    NoCodeOnly,
    _assemble,
    _identity,
    _matching_record,
    _reuse,
)
from kedro_af_ci.action.records import encode_record, record_tag, tag_record, upload_record
from kedro_af_ci.deliver.registry import RegistryRefused
from kedro_af_ci.image.docker import branch_tag
from kedro_af_ci.image.dockerfile import CodeCopy

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

REPOSITORY = "acme/spaceflights"
COPY = CodeCopy(dest="/home/kedro", chown="999:0", inputs="sha256:" + "1" * 64)
IMAGE = "sha256:" + "a" * 64


class FakeRegistry:
    """The registry calls the glue makes, answered from dicts; ``refuse`` makes every read a refusal."""

    def __init__(self, refuse: str = ""):
        self.manifests: dict[tuple[str, str], bytes] = {}
        self.blobs: dict[tuple[str, str], bytes] = {}
        self.refuse = refuse

    def put_blob(self, repository: str, digest: str, data: bytes) -> None:
        self.blobs[repository, digest] = data

    def put_manifest(self, repository: str, reference: str, media_type: str, data: bytes) -> None:
        self.manifests[repository, reference] = data

    def manifest(self, repository: str, reference: str):
        if self.refuse:
            raise RegistryRefused(self.refuse)
        data = self.manifests.get((repository, reference))
        return None if data is None else (data, "application/vnd.oci.image.manifest.v1+json",
                                          "sha256:" + hashlib.sha256(data).hexdigest())

    def blob(self, repository: str, digest: str) -> bytes:
        return self.blobs[repository, digest]


def run(branch: str, pipeline: str = "__default__") -> CodeOnlyRun:
    """What the glue reads of a run: its branch (the default one is main), its inputs, its image."""
    return CodeOnlyRun(SimpleNamespace(record_key="", pipeline=pipeline, env=None), f"registry.example/{REPOSITORY}:c",
                       SimpleNamespace(branch_name=branch, commit_id="c" * 40), "main", "/home/kedro",
                       custom_factory=False, log=lambda text: None, decided=lambda text: None)


def state(registry: FakeRegistry) -> CodeLayerPlan:
    return CodeLayerPlan(COPY, None, registry, REPOSITORY)


def record_of(branch: str, registry: FakeRegistry, pipeline: str = "__default__", blob: bytes | None = None) -> None:
    """A record as a deploy of ``branch`` writes it; ``blob`` replaces its content (a corrupt one)."""
    record = {**_identity(run(branch, pipeline), COPY), "branch": branch, "image": IMAGE, "cache": IMAGE}
    encoded = encode_record(record, REPOSITORY, branch, "")
    if blob is not None:
        encoded = type(encoded)(encoded.digest, blob, encoded.manifest)
    upload_record(registry, REPOSITORY, encoded)
    tag_record(registry, REPOSITORY, branch, encoded)


def test_a_branch_without_a_record_of_its_own_reuses_the_default_branchs():
    registry = FakeRegistry()
    record_of("main", registry)
    previous, record = _matching_record(run("feature/x"), state(registry))
    assert previous == f"registry.example/{REPOSITORY}:{branch_tag('main')}" and record["branch"] == "main"


def test_the_branchs_own_record_comes_first_and_a_mismatch_falls_back():
    registry = FakeRegistry()
    record_of("main", registry)
    record_of("feature/x", registry)
    assert _matching_record(run("feature/x"), state(registry))[1]["branch"] == "feature/x"
    record_of("feature/x", registry, pipeline="data_processing")  # made for another pipeline: not this run's
    assert _matching_record(run("feature/x"), state(registry))[1]["branch"] == "main"


def test_no_record_anywhere_and_only_mismatches_say_why():
    with pytest.raises(NoCodeOnly, match="no record yet"):
        _matching_record(run("feature/x"), state(FakeRegistry()))
    registry = FakeRegistry()
    record_of("main", registry, pipeline="data_processing")
    with pytest.raises(NoCodeOnly, match="the record was made with another pipeline"):
        _matching_record(run("feature/x"), state(registry))


@pytest.mark.parametrize(("registry", "said"), [
    (FakeRegistry(refuse="HTTP 403 on the manifest"), "the registry: HTTP 403 on the manifest"),
    ("corrupt", "the record is not readable: the record is not a JSON object"),
    ("not json", "the record is not readable"),
])
def test_a_refusing_registry_or_a_corrupt_record_means_a_usual_build(registry, said):
    if isinstance(registry, str):
        blob = b"[1, 2]" if registry == "corrupt" else b"{not json"
        registry = FakeRegistry()
        record_of("feature/x", registry, blob=blob)
    with pytest.raises(NoCodeOnly, match=said.replace("(", r"\(").replace(")", r"\)")):
        _reuse(run("feature/x"), state(registry))


def test_the_records_image_gone_from_the_registry_means_a_usual_build():
    with pytest.raises(NoCodeOnly, match=f"the record's image {IMAGE[:19]} is gone from the registry"):
        _assemble(run("feature/x"), state(FakeRegistry()), None, IMAGE)


def test_the_fake_answers_as_the_records_module_reads():
    """The fake holds what the real calls write: the record's tag names a manifest whose config is the record."""
    registry = FakeRegistry()
    record_of("main", registry)
    manifest = json.loads(registry.manifests[REPOSITORY, record_tag("main")])
    assert json.loads(registry.blob(REPOSITORY, manifest["config"]["digest"]))["branch"] == "main"
