"""A deleted branch's image tag against a real registry (Debian's docker-registry, htpasswd login): images
are pushed through its HTTP API (a config blob and a manifest each), no Docker engine needed."""

from __future__ import annotations

import json
import shutil
import uuid

import pytest

from kedro_af_ci.deliver.registry import ImageCleanup, Registry, RegistryRefused, remove_branch_image

pytestmark = [pytest.mark.skipif(not shutil.which("docker-registry"), reason="needs Debian's docker-registry"),
              pytest.mark.unit]
REPO = "acme/spaceflights"
MAIN, FEATURE = "kaf-branch-main", "kaf-branch-feature-x"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    from containers import start_registry
    from servers import stop

    started = start_registry(tmp_path_factory.mktemp("registry"))
    yield started
    stop(started.proc)


def client(reg, password: str | None = None) -> Registry:
    return Registry(reg.host, reg.username, reg.password if password is None else password)


def test_the_branchs_image_goes_with_its_commit_tag_and_nothing_else(registry, tmp_path):
    repo = f"{REPO}-{uuid.uuid4().hex[:8]}"
    registry.push(repo, "main", MAIN, "a" * 40)
    registry.push(repo, "feature", FEATURE, "b" * 40)
    registry.push(repo, "feature-older", "c" * 40)

    outcome = remove_branch_image(client(registry), repo, FEATURE, commits_in_use={"a" * 40})
    assert outcome == ImageCleanup(removed=(FEATURE, "b" * 40))
    assert sorted(registry.tags(repo)) == sorted([MAIN, "a" * 40, "c" * 40])
    assert registry.manifest(repo, FEATURE).status_code == 404
    again = remove_branch_image(client(registry), repo, FEATURE, commits_in_use=set())
    assert again == ImageCleanup() and "no image tag" in again.describe(repo, FEATURE)


@pytest.mark.parametrize("keeper", [MAIN, "latest", "d" * 40])
def test_an_image_another_tag_still_needs_stays(registry, tmp_path, keeper):
    """The registry deletes images, not tags: had the branch's image been deleted, ``keeper`` (another
    branch's cache, a release tag, the commit of a DAG Airflow runs) would have gone with it."""
    repo = f"{REPO}-{uuid.uuid4().hex[:8]}"
    digest = registry.push(repo, "shared", FEATURE, keeper)

    outcome = remove_branch_image(client(registry), repo, FEATURE, commits_in_use={"d" * 40})
    assert not outcome.removed and repr(keeper) in outcome.left
    assert set(registry.tags(repo)) == {FEATURE, keeper}
    # without the check: the delete takes the other tag with it
    client(registry).delete(repo, digest)
    assert registry.manifest(repo, keeper).status_code == 404


def test_a_wrong_password_or_a_registry_without_deletes_leaves_the_tag_named(registry, tmp_path):
    repo = f"{REPO}-{uuid.uuid4().hex[:8]}"
    registry.push(repo, "feature", FEATURE)
    wrong = remove_branch_image(client(registry, password="not-it"), repo, FEATURE, set())
    assert not wrong.removed and "HTTP 401" in wrong.left and "registry-password" in wrong.left
    assert "not-it" not in wrong.describe(repo, FEATURE)
    assert wrong.describe(repo, FEATURE).startswith(f"left behind: image tag {repo}:{FEATURE}")
    assert FEATURE in registry.tags(repo)


def test_a_registry_that_forbids_deletes(tmp_path):
    """Docker Hub's and ECR's answer, and a registry without storage.delete.enabled: 405."""
    from attacks import RecordingServer

    def answer(method, path):
        if method == "HEAD":
            return 200, {"Docker-Content-Digest": "sha256:" + "1" * 64}, b""
        if path.endswith("/tags/list?n=1000"):
            return 200, {"Content-Type": "application/json"}, json.dumps({"tags": [FEATURE]}).encode()
        return 405, {"Content-Type": "application/json"}, b'{"errors":[{"code":"UNSUPPORTED"}]}'

    server = RecordingServer(answer)
    try:
        host = server.url.removeprefix("http://")
        outcome = remove_branch_image(Registry(host), REPO, FEATURE, set())
    finally:
        server.close()
    assert not outcome.removed and "does not allow deleting images (HTTP 405" in outcome.left


def test_a_token_service_gets_the_login_only_over_https_or_on_the_registry_itself():
    """Bearer auth as GAR and Docker Hub ask for it: the login is traded for a repository-scoped token; a
    challenge naming a plain-http realm elsewhere (a hostile or misconfigured registry) gets nothing."""
    import base64

    from attacks import RecordingServer

    elsewhere = RecordingServer(lambda method, path: (200, {}, b'{"token": "t"}'))
    realm = {"url": ""}

    def answer(method, path):
        if path.startswith("/token"):
            return 200, {"Content-Type": "application/json"}, b'{"token": "scoped-token"}'
        if "Bearer scoped-token" not in str(registry.seen[-1][2].get("Authorization")):
            return 401, {"WWW-Authenticate": f'Bearer realm="{realm["url"]}",service="reg"'}, b""
        return 404, {}, b""

    registry = RecordingServer(answer)
    try:
        host = registry.url.removeprefix("http://")
        realm["url"] = f"{registry.url}/token"
        assert Registry(host, "user", "pass").digest(REPO, FEATURE) is None  # 404 once authenticated
        [token_call] = [seen for seen in registry.seen if seen[1].startswith("/token")]
        assert "scope=repository%3Aacme%2Fspaceflights%3Apull%2Cdelete" in token_call[1]
        assert token_call[2]["Authorization"] == "Basic " + base64.b64encode(b"user:pass").decode()

        realm["url"] = f"{elsewhere.url}/token"
        outcome = remove_branch_image(Registry(host, "user", "pass"), REPO, FEATURE, set())
        assert "token service is not https" in outcome.left and elsewhere.seen == []
    finally:
        registry.close()
        elsewhere.close()


def test_blobs_and_manifests_written_and_read_back(registry):
    """What a code-only deploy writes (a layer, a config, a manifest under two tags) and reads (a record)."""
    import hashlib

    repo = f"{REPO}-{uuid.uuid4().hex[:8]}"
    writer = Registry(registry.host, registry.username, registry.password, actions="pull,push")
    blob = b'{"graph": "a record"}'
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    writer.put_blob(repo, digest, blob)
    writer.put_blob(repo, digest, blob)  # already there: not sent again
    assert writer.blob(repo, digest) == blob
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.kedro-af-ci.graph-record.v1+json",
                                      "digest": digest, "size": len(blob)}, "layers": []}).encode()
    for tag in ("kaf-graph-main", "v1"):
        writer.put_manifest(repo, tag, "application/vnd.oci.image.manifest.v1+json", manifest)
    read, media_type, manifest_digest = writer.manifest(repo, "kaf-graph-main")
    assert (read, media_type) == (manifest, "application/vnd.oci.image.manifest.v1+json")
    assert writer.manifest(repo, manifest_digest)[0] == manifest
    assert writer.manifest(repo, "kaf-graph-gone") is None
    assert sorted(registry.tags(repo)) == ["kaf-graph-main", "v1"]
    with pytest.raises(RegistryRefused, match="HTTP 401: check registry-username"):
        Registry(registry.host, registry.username, "wrong", actions="pull,push").put_blob(repo, "sha256:" + "0" * 64,
                                                                                          b"x")


def test_a_client_kept_across_a_long_step_gets_a_new_deadline(registry):
    """A code-only deploy looks up before the build and writes its record after it (minutes later)."""
    import time

    client = Registry(registry.host, registry.username, registry.password, deadline=time.monotonic() - 1)
    with pytest.raises(RegistryRefused, match="no answer within 120 s"):
        client.tags(REPO)
    client.restart_clock()
    assert client.tags(f"{REPO}-none") == []
