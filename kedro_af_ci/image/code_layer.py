"""The project's code layer, made by Docker and nothing else (docs/action.md, "Code-only deploys").

Docker copies the build context into an empty image (``FROM scratch``, the Dockerfile's own
``COPY`` flags), so ``.dockerignore``, ownership and modes follow Docker's rules, not a copy of them
here; nothing needs fetching. The layer is then rewritten byte-for-byte reproducibly (entries sorted,
no owner names, no folder above the destination, whose owner and mode stay the lower layers') and
gzipped without a timestamp: the same commit gives the same layer on every runner.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BuildError
from .dockerfile import CodeCopy
from .graph_inputs import LayerFile

if TYPE_CHECKING:
    from .docker import Docker

MAX_LAYER = 2 * 2**30


@dataclass(frozen=True)
class CodeLayer:
    tar: bytes  # uncompressed
    gzipped: bytes
    files: dict[str, LayerFile]  # path under the destination -> entry

    @property
    def diff_id(self) -> str:
        return "sha256:" + hashlib.sha256(self.tar).hexdigest()

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.gzipped).hexdigest()


def make_code_layer(docker: Docker, context: Path, copy: CodeCopy) -> CodeLayer:
    """Docker's copy of ``context`` to ``copy.dest``, as a reproducible layer."""
    ref = f"kaf-code-layer:{uuid.uuid4().hex[:16]}"
    chown = f"--chown={copy.chown} " if copy.chown else ""
    with tempfile.TemporaryDirectory(prefix="kaf-code-") as folder:
        dockerfile = Path(folder) / "code.Dockerfile"
        dockerfile.write_text(f"FROM scratch\nCOPY {chown}. {json.dumps(copy.dest)}\n")
        docker.build(ref, context=str(context), dockerfile=str(dockerfile), build_args=[], labels={})
    try:
        saved = docker.save(ref)
    finally:
        docker.remove(ref)
    return _normalised(_only_layer(saved), copy.dest)


def _only_layer(saved: bytes) -> bytes:
    try:
        with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
            manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
            layers = manifest[0]["Layers"]
            if len(layers) != 1:
                raise BuildError(f"the code layer's image has {len(layers)} layers, not one")
            return archive.extractfile(layers[0]).read()  # type: ignore[union-attr]
    except (tarfile.TarError, KeyError, IndexError, ValueError, AttributeError) as exc:
        raise BuildError(f"docker save gave no readable code layer: {exc}") from None


def _normalised(layer: bytes, dest: str) -> CodeLayer:
    prefix = dest.strip("/") + "/"
    out, files = io.BytesIO(), {}
    with tarfile.open(fileobj=io.BytesIO(layer)) as source, \
            tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as target:
        members = sorted((m for m in source.getmembers() if _name(m).startswith(prefix)), key=_name)
        for member in members:
            name = _name(member)
            if not (member.isfile() or member.isdir() or member.issym()):
                raise BuildError(f"the code layer holds {name}, neither file, folder nor link")
            member.name, member.uname, member.gname, member.pax_headers = name, "", "", {}
            member.mtime = int(member.mtime)
            data = source.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            target.addfile(member, io.BytesIO(data) if member.isfile() else None)
            kind = "file" if member.isfile() else "dir" if member.isdir() else "link"
            content = data if kind == "file" else member.linkname.encode()
            files[name[len(prefix):]] = LayerFile(kind, member.mode, content, member.mtime)
    tar = out.getvalue()
    if len(tar) > MAX_LAYER:
        raise BuildError("the code layer is over 2 GiB")
    return CodeLayer(tar, gzip.compress(tar, mtime=0), files)


@dataclass(frozen=True)
class Folder:
    """The destination, or a folder above it, as the built image has it."""

    path: str  # from the root, without slashes around: home/kedro
    mode: int
    uid: int
    gid: int


def folders_of(found: object, dest: str) -> tuple[Folder, ...]:
    """The trace's (or a record's) ``[path, mode, uid, gid]`` of ``dest`` and each folder above it, checked:
    exactly those folders, modes and ids in range (ValueError otherwise)."""
    wanted = [str(p) for p in (Path(dest), *Path(dest).parents) if p != p.parent]
    if not isinstance(found, list) or len(found) != len(wanted):
        raise ValueError("folders: not the destination and the folders above it")
    folders = []
    for item, path in zip(found, wanted, strict=True):
        if not (isinstance(item, list) and len(item) == 4 and item[0] == path
                and all(type(n) is int and 0 <= n < 2**32 for n in item[1:]) and item[1] < 0o10000):
            raise ValueError(f"folders: {path} is not described")
        folders.append(Folder(path.strip("/"), item[1], item[2], item[3]))
    return tuple(sorted(folders, key=lambda f: f.path))


def with_folders(layer: CodeLayer, folders: tuple[Folder, ...], mtime: int) -> CodeLayer:
    """The layer with an entry for the destination and each folder above it, as a build's layer has them:
    without them, unpacking the layer creates those folders owned by root (0755), and in an overlay
    filesystem the top layer's folder hides the lower one's owner and mode."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(layer.tar)) as source, \
            tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as target:
        for folder in folders:
            entry = tarfile.TarInfo(folder.path)
            entry.type, entry.mode, entry.uid, entry.gid, entry.mtime = tarfile.DIRTYPE, folder.mode, folder.uid, \
                folder.gid, mtime
            target.addfile(entry)
        for member in source.getmembers():
            target.addfile(member, source.extractfile(member) if member.isfile() else None)
    tar = out.getvalue()
    return CodeLayer(tar, gzip.compress(tar, mtime=0), layer.files)


def _name(member: tarfile.TarInfo) -> str:
    return member.name.removeprefix("./").lstrip("/").rstrip("/")
