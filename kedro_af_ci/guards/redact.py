"""A secret in every encoding the tool itself sends it in, so that none of them is ever printed.

The Airflow client sends the token in a header, the password in a JSON body (``/auth/token``) and
``user:password`` as base64 (basic auth on Airflow 2); a server that echoes a request back (an error
page, a proxy) may print any of these, URL-encoded or HTML-escaped on top. Cutting only the raw
value misses them (docs/architecture.md, "Trust").
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MIN_LENGTH = 4  # shorter values would cut ordinary words out of messages; no real secret is that short


def _base64_forms(raw: bytes) -> set[str]:
    encoded = base64.b64encode(raw).decode()
    return {encoded, encoded.rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")}


def forms(secret: str, username: str | None = None) -> set[str]:
    """``secret`` as sent and as echoed: raw, JSON-escaped, URL-encoded, HTML-escaped and base64 (of
    itself and, with ``username``, of the basic-auth pair)."""
    if len(secret) < MIN_LENGTH:
        return set()
    found = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], quote(secret, safe=""),
             quote_plus(secret), html.escape(secret)}
    found |= _base64_forms(secret.encode())
    if username is not None:
        found |= _base64_forms(f"{username}:{secret}".encode())
    return {form for form in found if len(form) >= MIN_LENGTH}


def redact(text: str, found: Iterable[str]) -> str:
    """``text`` with every one of ``found`` (the :func:`forms` of the secrets) replaced by ``***``,
    longest first, so a form that holds another is cut whole."""
    for form in sorted(set(found), key=len, reverse=True):
        text = text.replace(form, "***")
    return text
