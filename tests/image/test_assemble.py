"""The code-only image: the previous image's manifest and config with the top layer swapped, its
other layers and settings untouched, and BuildKit's inline cache metadata gone."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from kedro_af_ci.image.assemble import MANIFEST_V2, NotAssemblable, replace_code_layer
from kedro_af_ci.image.code_layer import CodeLayer

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def previous(top: str = "COPY --chown=999:0 . . # buildkit") -> tuple[dict, dict]:
    layers = [{"mediaType": GZIP, "digest": f"sha256:{c * 64}", "size": 10} for c in "abc"]
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_V2, "layers": layers,
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                           "digest": "sha256:" + "f" * 64, "size": 1}}
    config = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [
        f"sha256:{c * 64}" for c in "123"]}, "config": {"User": "999", "Cmd": ["kedro", "run"], "Labels": {
            "moby.buildkit.cache.v0": "e30=", "org.opencontainers.image.revision": "old", "team": "ml"}},
        "history": [{"created_by": "FROM"}, {"created_by": "RUN pip install"}, {"created_by": "WORKDIR",
                    "empty_layer": True}, {"created_by": top}, {"created_by": "USER 999", "empty_layer": True}]}
    return manifest, config


def layer() -> CodeLayer:
    tar = b"a tar" * 100
    return CodeLayer(tar, gzip.compress(tar, mtime=0), {})


def test_only_the_top_layer_changes():
    manifest, config = previous()
    made = replace_code_layer(manifest, config, layer(), labels={"org.opencontainers.image.revision": "new"},
                              created_by="COPY . /home/kedro", created="2026-12-06T00:00:00Z")
    new_manifest, new_config = json.loads(made.manifest), json.loads(made.config)
    assert new_manifest["layers"][:2] == manifest["layers"][:2]
    assert new_manifest["layers"][2] == {"mediaType": GZIP, "digest": layer().digest, "size": len(layer().gzipped)}
    assert new_manifest["config"]["digest"] == "sha256:" + hashlib.sha256(made.config).hexdigest()
    assert new_manifest["config"]["size"] == len(made.config)
    assert new_config["rootfs"]["diff_ids"] == [*config["rootfs"]["diff_ids"][:2], layer().diff_id]
    assert new_config["config"]["Labels"] == {"org.opencontainers.image.revision": "new", "team": "ml"}
    assert new_config["config"]["User"] == "999" and new_config["config"]["Cmd"] == ["kedro", "run"]
    assert new_config["history"][3]["created_by"] == "COPY . /home/kedro"
    assert new_config["history"][4] == config["history"][4]
    assert made.media_type == MANIFEST_V2


@pytest.mark.parametrize(("change", "reason"), [
    (lambda m, c: m.update(mediaType="application/vnd.oci.image.index.v1+json"), "an index"),
    (lambda m, c: m["layers"].pop(), "do not match"),
    (lambda m, c: c["history"][3].update(created_by="RUN make"), "not a COPY"),
    (lambda m, c: m["layers"][-1].update(mediaType="application/vnd.oci.image.layer.v1.tar+zstd"), "not gzip"),
])
def test_an_image_this_cannot_rework_is_refused(change, reason):
    manifest, config = previous()
    change(manifest, config)
    with pytest.raises(NotAssemblable, match=reason):
        replace_code_layer(manifest, config, layer(), labels={}, created_by="COPY", created="x")
