"""The one rule for plain http (kedro_af_ci/guards/hosts.py): this machine's loopback, in every spelling, and
nothing that only looks like it."""

from __future__ import annotations

import pytest

from kedro_af_ci.guards.hosts import is_loopback, registry_host_is_loopback

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project


@pytest.mark.parametrize("name", ["localhost", "LOCALHOST", "localhost.", "127.0.0.1", "127.8.9.10", "::1"])
def test_loopback_names(name):
    assert is_loopback(name)


@pytest.mark.parametrize("name", ["localhost.example.com", "127.0.0.1.nip.io", "10.0.0.1", "0.0.0.0", "", "::",
                                  "registry", "[::1]"])
def test_what_only_looks_like_loopback(name):
    assert not is_loopback(name)


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1:5000", True), ("localhost:5000", True), ("[::1]:5000", True), ("[::1]", True), ("localhost", True),
    ("ghcr.io", False), ("registry.example.com:5000", False), ("127.0.0.1.nip.io:5000", False), ("[::2]:5000", False),
])
def test_registry_hosts(host, loopback):
    assert registry_host_is_loopback(host) is loopback


@pytest.mark.parametrize(("url", "insecure", "may"), [
    ("https://airflow.example.com", False, True),
    ("http://127.0.0.1:8080/api/v4", False, True),
    ("http://[::1]:8080", False, True),
    ("http://localhost.", False, True),
    ("http://airflow.example.com", False, False),
    ("http://127.0.0.1.example.com", False, False),
    ("http://airflow.example.com", True, True),
    ("ftp://127.0.0.1", True, False),
    ("file:///etc/passwd", True, False),
])
def test_credentials_go_over_https_or_to_loopback_or_where_the_user_says(url, insecure, may):
    """The one rule for the Airflow token and GitLab's (deliver/client.py and deliver/gitlab.py both ask it)."""
    from kedro_af_ci.guards.hosts import credentials_may_go

    assert credentials_may_go(url, insecure) is may
