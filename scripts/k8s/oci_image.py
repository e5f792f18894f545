"""oci_image.py OUT.tar NAME:TAG BINARY: a one-file image (the binary at /, its entrypoint), as an OCI image-layout
tar that ``ctr images import`` takes: the cluster's pause image, made here since no registry outside this
machine is reachable (scripts/k8s/cluster.sh)."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(binary: Path) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entry = tar.gettarinfo(str(binary), binary.name)
        entry.uid = entry.gid = 0
        entry.uname = entry.gname = ""
        entry.mtime = 0
        with binary.open("rb") as source:
            tar.addfile(entry, source)
    return out.getvalue()


def image(out: Path, ref: str, binary: Path) -> None:
    layer = _layer(binary)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"User": "65535", "Entrypoint": [f"/{binary.name}"], "WorkingDir": "/"},
                         "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _digest(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _digest(layer),
                    "size": len(layer)}]}).encode()
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _digest(manifest),
         "size": len(manifest), "annotations": {"io.containerd.image.name": ref,
                                                "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[1]}}]})
    with tarfile.open(out, "w") as tar:
        for name, data in (("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index.encode()),
                           *((f"blobs/sha256/{_digest(d)[7:]}", d) for d in (layer, config, manifest))):
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            tar.addfile(entry, io.BytesIO(data))


if __name__ == "__main__":
    image(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
