"""``execution: docker``: every task is a container on one Docker engine (DockerOperator)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from .common import AirflowKey, StrictModel


def _network_name(value: str) -> str:
    """host, none, bridge, container:<name> or a network's name: Docker's own name charset."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}", value):
        raise ValueError(f"{value!r} is not a Docker network (host, none, bridge or a network name)")
    return value


DockerName = Annotated[str, AfterValidator(_network_name)]


class DockerConfig(StrictModel):
    """The Docker engine and container settings of ``execution: docker``."""

    url: str | None = Field(
        default=None, description="Docker engine as the Airflow worker reaches it (`unix://`, `tcp://`, `ssh://`); "
                                  "default: `DOCKER_HOST` or the local socket.")
    conn_id: AirflowKey | None = Field(
        default=None, description="Airflow connection holding the registry credentials for pulls.")
    network_mode: DockerName | None = Field(
        default=None, description="Container network: `host`, `none`, `bridge` or a network name; default: the "
                                  "engine's.")
    auto_remove: Literal["never", "success", "force"] = Field(
        default="success", description="Remove the container once it exits: `never`, on `success`, or always "
                                       "(`force`).")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_docker_url(value)


def check_docker_url(value: str) -> str:
    if not re.match(r"^(unix|tcp|ssh|npipe)://[^\s{}]+\Z", value):
        raise ValueError(f"{value!r} is not a Docker engine address (unix:///var/run/docker.sock, tcp://host:2376)")
    return value
