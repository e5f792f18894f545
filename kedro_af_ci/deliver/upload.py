"""Put a DAG file where Airflow reads DAGs: a local folder or any fsspec URL (gs://, s3://, …).

Local writes are atomic (temp file + rename in the same folder), so the DAG processor never parses
half a file. Object stores replace objects atomically by themselves; there the upload is read back
and compared, so a success message means the bytes Airflow will read are the bytes compiled.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import UploadError
from .fileio import atomic_write_bytes

log = logging.getLogger(__name__)

PACKAGE = "kedro-airflow-k8s-action"
_EXTRAS = {"gs": "gcp", "gcs": "gcp", "s3": "aws", "s3a": "aws"}


@dataclass(frozen=True)
class UploadResult:
    location: str  # full path/URL of the DAG file
    sha256: str
    size: int


def _split(destination: str) -> tuple[str | None, str]:
    if "://" in destination:
        protocol, _, rest = destination.partition("://")
        return protocol.lower(), rest
    return None, destination


def dag_location(destination: str, filename: str) -> str:
    """``destination`` is a folder (or a ``.py`` file path); return the DAG file's full location."""
    if destination.endswith(".py"):
        return destination
    return destination.rstrip("/") + "/" + filename


def filesystem(protocol: str, storage_options: dict | None = None):
    """An fsspec filesystem for ``protocol``, or a one-line hint naming the extra to install."""
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")  # skip gcsfs's gRPC bucket probe
    import fsspec

    try:
        return fsspec.filesystem(protocol, **(storage_options or {}))
    except ImportError:
        extra = _EXTRAS.get(protocol)
        hint = f"pip install '{PACKAGE}[{extra}]'" if extra else f"install the fsspec backend for {protocol}://"
        raise UploadError(
            f"cannot write to {protocol}:// locations: the filesystem library is missing ({hint})"
        ) from None
    except ValueError as exc:
        raise UploadError(f"{protocol}:// is not a known storage protocol: {exc}") from None


def upload_dag(source: str, destination: str, filename: str, storage_options: dict | None = None) -> UploadResult:
    """Write the DAG ``source`` to ``destination`` (folder or file) and verify what landed."""
    return upload_bytes(source.encode("utf-8"), dag_location(destination, filename), storage_options)


def upload_artifacts(artifacts, storage_options: dict | None = None) -> list[UploadResult]:
    """Spark artifacts (:class:`~kedro_af_ci.deliver.artifacts.Artifacts`), uploaded before the DAG
    that points at them; each is verified like the DAG."""
    if artifacts is None:
        return []
    results = [upload_bytes(data, artifacts.uri(name), storage_options)
               for name, data in sorted(artifacts.files.items())]
    log.debug("uploaded %d Spark artifact(s) to %s", len(results), artifacts.base_uri)
    return results


def upload_bytes(data: bytes, location: str, storage_options: dict | None = None) -> UploadResult:
    """Write ``data`` to ``location`` (path or URL) atomically and verify what landed."""
    digest = hashlib.sha256(data).hexdigest()
    protocol, path = _split(location)
    if protocol in (None, "file", "local"):
        try:
            atomic_write_bytes(path, data)
        except OSError as exc:
            raise UploadError(f"cannot write {path}: {exc.strerror or exc}") from None
        return UploadResult(location=str(Path(path).resolve()), sha256=digest, size=len(data))

    fs = filesystem(protocol, storage_options)
    try:
        with fs.open(path, "wb") as handle:
            handle.write(data)
        fs.invalidate_cache(path)
        landed = fs.cat_file(path)
    # fsspec backends raise OSError subclasses (FileNotFound, Permission), botocore and google-auth
    # their own errors that share no base class: each becomes the same one-line message
    except Exception as exc:
        raise UploadError(f"upload to {location} failed: {type(exc).__name__}: {exc}") from None
    if hashlib.sha256(landed).hexdigest() != digest:
        raise UploadError(f"upload to {location} did not verify: read back {len(landed)} bytes that differ "
                          f"from the {len(data)} written")
    log.debug("uploaded %s (%d bytes, sha256 %s)", location, len(data), digest[:12])
    return UploadResult(location=location, sha256=digest, size=len(data))
