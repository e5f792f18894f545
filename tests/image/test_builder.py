"""Which builder `docker build` really uses (image/docker.py, ``Docker.buildkit``), against stand-in docker
CLIs that answer as each version does: the action's layer cache follows the builder, so a wrong guess
builds with no cache (issue 36: a 20.10 CLI beside buildx built classic while the action took BuildKit)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kedro_af_ci.image.docker import Docker

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project


def cli(tmp_path: Path, version: str, buildx: bool) -> Docker:
    """A docker CLI of ``version`` that has (or lacks) the buildx plugin; no engine behind it."""
    script = tmp_path / f"docker-{version}-{buildx}"
    script.write_text(f"""#!/bin/sh
case "$1" in
  version) echo "{version}"; exit 1 ;;  # the client answers; the engine is not there (exit 1)
  buildx) {"echo 'github.com/docker/buildx v0.13.1'; exit 0" if buildx else "echo 'unknown command'; exit 1"} ;;
esac
exit 2
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return Docker(str(script))


@pytest.mark.parametrize(("version", "buildx", "setting", "buildkit"), [
    ("27.4.1", True, None, True),     # BuildKit is the default builder from 23.0 when buildx is installed
    ("27.4.1", False, None, False),   # 23+ without buildx: the legacy builder (with its deprecation notice)
    ("20.10.24", True, None, False),  # 20.10 builds classic even beside buildx: the case the guess got wrong
    ("20.10.24", True, "1", True),    # unless DOCKER_BUILDKIT says otherwise
    ("27.4.1", True, "0", False),
    ("27.4.1", False, "1", False),    # the action's BuildKit path needs buildx itself (its registry lookups)
])
def test_the_builder_is_the_one_docker_build_uses(tmp_path, version, buildx, setting, buildkit):
    docker = cli(tmp_path, version, buildx)
    environ = {} if setting is None else {"DOCKER_BUILDKIT": setting}
    assert docker.buildkit(environ) is buildkit


def test_the_client_version_is_read_without_an_engine(tmp_path):
    assert cli(tmp_path, "20.10.24", True).client_major() == 20
    assert Docker(str(tmp_path / "missing")).client_major() == 0
