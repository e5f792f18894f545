"""Asset URIs of storage locations: one parser for the catalog's locations (plan/assets.py) and the
config's ``schedule_on_assets``. A location is the branch's to write, so only a clean URI of a known
scheme passes: no credentials, query, fragment, space, quote or brace (Jinja), ASCII only."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

SCHEMES = {"s3": "s3", "s3a": "s3", "gs": "gs", "gcs": "gs", "abfs": "abfs", "abfss": "abfs", "az": "az",
           "hdfs": "hdfs", "file": "file", "bigquery": "bigquery"}
MAX_URI = 1500  # Airflow's limit on an Asset URI
_CLEAN = re.compile(r"[A-Za-z0-9._~/:%@+=,-]+\Z")  # no space, quote, brace, ? or # (ASCII only)


def asset_uri(location: str | None) -> str | None:
    """The Asset URI of a dataset's location, or None when it has no clean, fixed one."""
    if not location or "://" not in location or len(location) > MAX_URI or not _CLEAN.match(location):
        return None
    parts = urlsplit(location)
    scheme = SCHEMES.get(parts.scheme.lower())
    path = parts.path.rstrip("/")  # as Airflow's own normalizers write a prefix
    if scheme is None or parts.password is not None or (scheme != "file" and not parts.netloc) or not path:
        return None  # a user:password@ (abfs' container@account has no password) is never passed on
    return f"{scheme}://{parts.netloc}{path}"
