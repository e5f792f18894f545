"""A new image from the branch's previous one with its code layer replaced (docs/action.md,
"Code-only deploys"): the manifest and the image config, as the registry will store them. Pure:
the registry calls are the action's (deliver/registry.py).

The previous image's inline cache metadata (``moby.buildkit.cache.v0``) is dropped: it maps the old
code's cache key to the top layer, which now holds other code, so a later BuildKit build of the old
code would reuse the wrong layer. The layers under it stay in the default branch's cache and this
image's own layers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .code_layer import CodeLayer

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_OCI = "application/vnd.oci.image.manifest.v1+json"
INLINE_CACHE = "moby.buildkit.cache.v0"


class NotAssemblable(Exception):
    """The previous image is not one whose top layer this tool can replace; the message says why."""


@dataclass(frozen=True)
class Assembled:
    manifest: bytes
    media_type: str
    config: bytes


def replace_code_layer(manifest: dict[str, Any], config: dict[str, Any], layer: CodeLayer, *, labels: dict[str, str],
                       created_by: str, created: str) -> Assembled:
    """``manifest`` and ``config`` (the previous image's) with the top layer swapped for ``layer``."""
    media_type = manifest.get("mediaType") or MANIFEST_OCI
    if media_type not in (MANIFEST_V2, MANIFEST_OCI) or manifest.get("schemaVersion") != 2:
        raise NotAssemblable(f"the previous image's manifest is {media_type} (an index or an old schema)")
    layers, diff_ids = manifest.get("layers"), config.get("rootfs", {}).get("diff_ids")
    if not isinstance(layers, list) or not isinstance(diff_ids, list) or not layers or len(layers) != len(diff_ids):
        raise NotAssemblable("the previous image's layers and its config's diff_ids do not match")
    history = config.get("history") or []
    built = [i for i, step in enumerate(history) if not step.get("empty_layer")]
    if len(built) != len(layers) or "COPY" not in str(history[built[-1]].get("created_by", "")):
        raise NotAssemblable("the previous image's top layer is not a COPY")
    if not str(layers[-1].get("mediaType", "")).endswith("gzip"):
        raise NotAssemblable(f"the previous image's top layer is {layers[-1].get('mediaType')}, not gzip")
    new_config = json.loads(json.dumps(config))
    new_config["rootfs"]["diff_ids"][-1] = layer.diff_id
    new_config["history"][built[-1]] = {"created": created, "created_by": created_by}
    new_config["created"] = created
    settings = new_config.setdefault("config", {})
    merged = {k: v for k, v in (settings.get("Labels") or {}).items() if k != INLINE_CACHE}
    settings["Labels"] = {**merged, **labels}
    config_bytes = json.dumps(new_config, sort_keys=True, separators=(",", ":")).encode()
    new_manifest = json.loads(json.dumps(manifest))
    new_manifest["config"] = {**manifest["config"], "digest": _sha(config_bytes), "size": len(config_bytes)}
    new_manifest["layers"][-1] = {"mediaType": layers[-1]["mediaType"], "digest": layer.digest,
                                  "size": len(layer.gzipped)}
    return Assembled(json.dumps(new_manifest, separators=(",", ":")).encode(), media_type, config_bytes)


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
