"""Kubernetes and Airflow naming rules: validators for config and sanitisers for generated ids.

Validators reject bad input up front with the rule spelled out; sanitisers turn free-form names
(node names, run names) into valid ids deterministically, adding a short hash whenever the
transformation lost information so that two different inputs never map to the same id.
"""

from __future__ import annotations

import hashlib
import re

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
ENV_VAR_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*\Z")
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+\Z")
QUANTITY = re.compile(
    r"^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?\Z"
)
RESOURCE_NAME = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?\Z")
AIRFLOW_KEY = re.compile(r"^[A-Za-z0-9_.-]+\Z")
IMAGE_REF = re.compile(
    r"^(?:(?P<registry>[A-Za-z0-9.-]+(?::\d+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?\Z"
)


def short_hash(text: str, length: int = 6) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _valid(value: str, ok: bool, message: str) -> str:
    if not ok:
        raise ValueError(message)
    return value


def check_dns_label(value: str) -> str:
    return _valid(value, len(value) <= 63 and bool(DNS1123_LABEL.match(value)),
                  f"{value!r} is not a valid Kubernetes name (lowercase letters, digits and '-', "
                  "starting and ending with a letter or digit, at most 63 characters)")


def check_dns_subdomain(value: str) -> str:
    return _valid(value, len(value) <= 253 and bool(DNS1123_SUBDOMAIN.match(value)),
                  f"{value!r} is not a valid Kubernetes object name (lowercase letters, digits, '-' "
                  "and '.', starting and ending with a letter or digit, at most 253 characters)")


def check_label_key(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    _valid(key, not prefix or (len(prefix) <= 253 and bool(DNS1123_SUBDOMAIN.match(prefix))),
           f"label key {key!r} has an invalid prefix {prefix!r} (must be a DNS subdomain)")
    return _valid(key, bool(name) and len(name) <= 63 and bool(QUALIFIED_NAME.match(name)),
                  f"label key {key!r} is invalid (name part: letters, digits, '-', '_', '.', "
                  "starting and ending alphanumeric, at most 63 characters)")


def check_label_value(value: str) -> str:
    return _valid(value, len(value) <= 63 and bool(LABEL_VALUE.match(value)),
                  f"label value {value!r} is invalid (at most 63 characters: letters, digits, '-', '_', "
                  "'.', starting and ending alphanumeric)")


def check_quantity(value: str | int | float) -> str:
    text = str(value).strip() if not isinstance(value, bool) else ""
    if not QUANTITY.match(text):
        raise ValueError(
            f"{value!r} is not a Kubernetes quantity (examples: '500m', '2', '1.5', '512Mi', '4Gi')"
        )
    return text


_SUFFIX_FACTOR = {
    "": 1, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}


def quantity_value(text: str) -> float:
    """A validated Kubernetes quantity as a number: '500m' -> 0.5, '2Gi' -> 2147483648."""
    match = QUANTITY.match(check_quantity(text))
    assert match is not None
    suffix = match.group(3) or ""
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return float(text)
    return float(match.group(1)) * _SUFFIX_FACTOR[suffix]


def check_image(value: str) -> str:
    if not IMAGE_REF.match(value) or len(value) > 512:
        raise ValueError(
            f"{value!r} is not a valid container image reference (REGISTRY/PATH[:TAG][@sha256:DIGEST], "
            "lowercase path, tag of letters, digits, '_', '.', '-')"
        )
    return value


def sanitize_id(name: str, *, max_len: int = 250, lower: bool = False) -> str:
    """Map ``name`` onto Airflow's id charset ``[A-Za-z0-9_.-]``; lossy maps get a hash suffix."""
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.lower() if lower else name).strip("_") or "x"
    if clean != name or len(clean) > max_len:
        suffix = "__" + short_hash(name)
        clean = clean[: max_len - len(suffix)] + suffix
    return clean


_HASHED_ID = re.compile(r"__[0-9a-f]{20}\Z")


def one_to_one(name: str, max_len: int) -> str:
    """``name`` in the charset ``[A-Za-z0-9_.-]`` of Airflow ids and registry tags, one-to-one (up to an
    80-bit hash): a name already in it is kept, any other gets ``__`` + its hash, and a kept name never
    ends like a hashed one, so nobody can name a branch to land on another branch's DAG or image tag
    (docs/architecture.md, "Trust")."""
    if AIRFLOW_KEY.match(name) and len(name) <= max_len and not _HASHED_ID.search(name):
        return name
    suffix = "__" + short_hash(name, 20)
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")
    return clean[: max_len - len(suffix)] + suffix


def dag_id_of(name: str, max_len: int = 250) -> str:
    """The DAG id of a run name, one-to-one (:func:`one_to_one`)."""
    return one_to_one(name, max_len)


def dns_name(name: str, *, max_len: int = 63, hash_lossy: bool = True) -> str:
    """A DNS-1123 label derived from ``name``; lossy maps get a hash suffix unless told not to."""
    clean = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    clean = re.sub(r"-{2,}", "-", clean) or "x"
    if (hash_lossy and clean != name) or len(clean) > max_len:
        suffix = "-" + short_hash(name)
        clean = clean[: max_len - len(suffix)].rstrip("-") + suffix
    if not clean[0].isalnum():
        clean = "x" + clean[: max_len - 1]
    return clean
