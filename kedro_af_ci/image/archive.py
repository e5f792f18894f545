"""An image as ``docker save`` writes it, read as data (docs/action.md, "Trusted deployer").

The trusted deployer pushes a branch's image without loading it into an engine and without extracting
anything: the archive's ``manifest.json`` names one image config and its layers, each layer is hashed
while it is read and must be the ``diff_id`` its config says, and nothing else in the archive is looked
at. Every size and count is bounded before it is read.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

MAX_SMALL = 2**20  # manifest.json, the image config
MAX_MEMBERS = 100_000
MAX_LAYERS = 127
CHUNK = 2**20


class BadArchive(ValueError):
    """The archive is not one image as ``docker save`` writes it; the message says what is wrong."""


@dataclass(frozen=True)
class ArchivedImage:
    path: Path
    config: bytes
    layers: tuple[str, ...]  # the archive's member of each layer, bottom first
    diff_ids: tuple[str, ...]


def read_archive(path: Path) -> ArchivedImage:
    """The image's config and where its layers are (BadArchive when it is not one image)."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            members = _members(tar)
            manifest = _json(tar, members, "manifest.json")
            if not (isinstance(manifest, list) and len(manifest) == 1 and isinstance(manifest[0], dict)):
                raise BadArchive("manifest.json does not describe exactly one image")
            config_name, layers = manifest[0].get("Config"), manifest[0].get("Layers")
            if not isinstance(config_name, str) or not _strings(layers) or not 0 < len(layers) <= MAX_LAYERS:
                raise BadArchive("manifest.json names no config or no layers")
            config = _small(tar, members, config_name)
    except (tarfile.TarError, OSError) as exc:
        raise BadArchive(f"not a readable tar archive ({exc})") from None
    diff_ids = _diff_ids(config)
    missing = [name for name in layers if name not in members or not members[name].isfile()]
    if missing or len(diff_ids) != len(layers):
        raise BadArchive("the layers manifest.json names are not the config's (missing, or not as many)")
    return ArchivedImage(path, config, tuple(layers), tuple(diff_ids))


def gzipped_layers(image: ArchivedImage) -> Iterator[bytes]:
    """Each layer gzipped, bottom first, after checking it is the layer its config names."""
    with tarfile.open(image.path, mode="r:") as tar:
        members = _members(tar)
        for name, diff_id in zip(image.layers, image.diff_ids, strict=True):
            source = tar.extractfile(members[name])
            if source is None:
                raise BadArchive(f"{name} is not a file")
            digest, packer, parts = hashlib.sha256(), zlib.compressobj(6, zlib.DEFLATED, 31), []
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                parts.append(packer.compress(chunk))
            parts.append(packer.flush())
            if "sha256:" + digest.hexdigest() != diff_id:
                raise BadArchive(f"layer {name} is not the layer the image config names ({diff_id[:19]})")
            yield b"".join(parts)


def _members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    members: dict[str, tarfile.TarInfo] = {}
    for member in tar:
        if len(members) >= MAX_MEMBERS:
            raise BadArchive(f"over {MAX_MEMBERS} entries")
        members[member.name.removeprefix("./")] = member
    return members


def _small(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str) -> bytes:
    member = members.get(name)
    if member is None or not member.isfile() or member.size > MAX_SMALL:
        raise BadArchive(f"{name} is missing, not a file, or over {MAX_SMALL} bytes")
    found = tar.extractfile(member)
    assert found is not None
    return found.read()


def _json(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str) -> object:
    try:
        return json.loads(_small(tar, members, name))
    except ValueError:
        raise BadArchive(f"{name} is not JSON") from None


def _diff_ids(config: bytes) -> list[str]:
    try:
        data = json.loads(config)
    except ValueError:
        raise BadArchive("the image config is not JSON") from None
    found = data.get("rootfs", {}).get("diff_ids") if isinstance(data, dict) else None
    if not _strings(found) or not all(d.startswith("sha256:") and len(d) == 71 for d in found):
        raise BadArchive("the image config has no rootfs.diff_ids")
    return found


def _strings(value: object) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
