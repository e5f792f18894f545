"""Which hosts are this machine: the one rule by which credentials may travel over plain http, to the
Airflow API and to a registry alike, as Docker itself treats a registry (README, "Security model")."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(name: str) -> bool:
    """``name`` (a host name or address, no port, no brackets) is this machine's loopback."""
    name = name.lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def registry_host_is_loopback(host: str) -> bool:
    """A registry's ``host[:port]`` (``[::1]:5000`` for IPv6) is this machine's loopback."""
    if host.startswith("["):
        return is_loopback(host[1:].split("]", 1)[0])
    return is_loopback(host.rsplit(":", 1)[0] if host.count(":") == 1 else host)


def credentials_may_go(url: str, insecure: bool) -> bool:
    """Credentials travel to ``url`` over https, or over plain http to this machine's loopback, or where the
    user said ``insecure`` (a network they trust): the Airflow API's token and GitLab's alike."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and (insecure or is_loopback(parts.hostname or ""))
