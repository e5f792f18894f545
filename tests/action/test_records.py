"""Production reads back only what production wrote (README, "Security model"): the default branch's deploy takes
a code-only record, and the layer cache it names, only when the record carries the HMAC of the record key, a
secret of the production environment; a branch's job, which may hold credentials that write any tag of the
repository, cannot forge one. Against a real registry (Debian's docker-registry); each attack is shown working
where the defence does not apply (a branch's own preview reads the same record as data)."""

from __future__ import annotations

import json
import shutil
import uuid
from types import SimpleNamespace

import pytest

from kedro_af_ci.action.code_only import (
    CodeLayerPlan,
    CodeOnlyRun,
    CodeState,
    NoCodeOnly,
    _identity,
    _matching_record,
    production_cache,
)
from kedro_af_ci.action.records import MAC_ANNOTATION, encode_record, record_tag, tag_record, upload_record
from kedro_af_ci.action.steps.image import _cache_candidates
from kedro_af_ci.deliver.registry import Registry
from kedro_af_ci.image.docker import branch_tag
from kedro_af_ci.image.dockerfile import CodeCopy

pytestmark = [pytest.mark.skipif(not shutil.which("docker-registry"), reason="needs Debian's docker-registry"),
              pytest.mark.unit]
KEY, OTHER_KEY = "k" * 20 + "production-record-key", "x" * 20 + "an-attackers-own-key!"
COPY = CodeCopy(dest="/home/kedro", chown="999:0", inputs="sha256:" + "1" * 64)
PRODUCTION_IMAGE, ATTACKER_IMAGE = "sha256:" + "a" * 64, "sha256:" + "e" * 64


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    from containers import start_registry
    from servers import stop

    started = start_registry(tmp_path_factory.mktemp("registry"))
    yield started
    stop(started.proc)


class Lines:
    def __init__(self):
        self.lines: list[str] = []

    def line(self, text: str) -> None:
        self.lines.append(text)


def run(registry, repository: str, branch: str, key: str = "") -> CodeOnlyRun:
    """What _matching_record reads of a run: its branch, the default one (main), its key."""
    return CodeOnlyRun(SimpleNamespace(record_key=key, pipeline="__default__", env=None),
                       f"{registry.host}/{repository}:{'c' * 40}",
                       SimpleNamespace(branch_name=branch, commit_id="c" * 40), "main", "/home/kedro",
                       custom_factory=False, log=Lines().line, decided=Lines().line)


def context(registry, repository: str, branch: str, key: str = "", code=None):
    """What _cache_candidates reads of the steps' context."""
    return SimpleNamespace(
        git=SimpleNamespace(branch_name=branch, commit_id="c" * 40), environ={"CI_DEFAULT_BRANCH": "main"},
        inputs=SimpleNamespace(record_key=key, pipeline="__default__", env=None),
        image=f"{registry.host}/{repository}:{'c' * 40}", reporter=Lines(), code=code)


def state(registry, repository: str) -> CodeLayerPlan:
    client = Registry(registry.host, registry.username, registry.password, actions="pull,push")
    return CodeLayerPlan(COPY, None, client, repository)


def write(registry, repository: str, branch: str, image: str, key: str, *, tag_as: str | None = None) -> None:
    """A record as a deploy of ``branch`` writes it (with ``key``, or none), under ``tag_as``'s tag."""
    ctx = run(registry, repository, branch, key)
    record = {**_identity(ctx, COPY), "branch": branch, "image": image, "cache": image}
    encoded = encode_record(record, repository, branch, key)
    client = state(registry, repository).registry
    upload_record(client, repository, encoded)
    tag_record(client, repository, tag_as or branch, encoded)


def new_repository() -> str:
    return f"acme/records-{uuid.uuid4().hex[:8]}"


def test_a_forged_default_branch_record_is_never_used_by_production(registry):
    repository = new_repository()
    write(registry, repository, "main", ATTACKER_IMAGE, key="")  # a branch's job wrote kaf-graph-main
    production = run(registry, repository, "main", KEY)
    with pytest.raises(NoCodeOnly, match="not authenticated by record-key"):
        _matching_record(production, state(registry, repository))
    # without the defence (a run that reads records as data, as a branch's preview does) the forgery is taken
    _previous, record = _matching_record(run(registry, repository, "feature/x"), state(registry, repository))
    assert record["image"] == ATTACKER_IMAGE


def test_a_record_signed_with_another_key_or_moved_from_another_tag_is_refused(registry):
    repository = new_repository()
    write(registry, repository, "main", ATTACKER_IMAGE, key=OTHER_KEY)
    with pytest.raises(NoCodeOnly, match="not authenticated"):
        _matching_record(run(registry, repository, "main", KEY), state(registry, repository))
    # production's own record of another branch name (or repository), replayed under kaf-graph-main
    write(registry, repository, "release", ATTACKER_IMAGE, key=KEY, tag_as="main")
    with pytest.raises(NoCodeOnly, match="not authenticated"):
        _matching_record(run(registry, repository, "main", KEY), state(registry, repository))


def test_production_uses_its_own_authenticated_record_and_the_cache_it_names(registry):
    repository = new_repository()
    write(registry, repository, "main", PRODUCTION_IMAGE, key=KEY)
    found = state(registry, repository)
    _previous, record = _matching_record(run(registry, repository, "main", KEY), found)
    cache = production_cache(run(registry, repository, "main", KEY), found)
    assert record["image"] == PRODUCTION_IMAGE and cache == PRODUCTION_IMAGE
    assert production_cache(run(registry, repository, "main", OTHER_KEY), found) is None  # not its own record
    manifest = json.loads(found.registry.manifest(repository, record_tag("main"))[0])
    assert MAC_ANNOTATION in manifest["annotations"]
    # the layer cache is the image by digest, never the moving tag kaf-branch-main a branch could move
    production = context(registry, repository, "main", KEY, code=CodeState(found, cache))
    assert _cache_candidates(production) == [f"{registry.host}/{repository}@{PRODUCTION_IMAGE}"]


def test_without_a_key_production_reads_no_record_and_no_cache(registry):
    repository = new_repository()
    write(registry, repository, "main", PRODUCTION_IMAGE, key=KEY)
    with pytest.raises(NoCodeOnly, match="without record-key"):
        _matching_record(run(registry, repository, "main", ""), state(registry, repository))
    assert production_cache(run(registry, repository, "main", ""), state(registry, repository)) is None
    production = context(registry, repository, "main", "")
    assert _cache_candidates(production) == []
    assert "takes none from the registry" in production.reporter.lines[0]
    # a branch's run still reads the moving tags, its own and the default branch's (its own preview's risk)
    branch = context(registry, repository, "feature/x")
    assert _cache_candidates(branch) == [f"{registry.host}/{repository}:{branch_tag(b)}" for b in ("feature/x", "main")]


def test_only_a_run_holding_the_key_signs():
    assert MAC_ANNOTATION in json.loads(encode_record({"a": 1}, "r", "main", KEY).manifest)["annotations"]
    assert "annotations" not in json.loads(encode_record({"a": 1}, "r", "main", "").manifest)
