"""``execution: docker``: every task is a container on one Docker engine (DockerOperator)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from .common import StrictModel


class DockerConfig(StrictModel):
    """The Docker engine and container settings of ``execution: docker``."""

    url: str | None = Field(
        default=None, description="Docker engine as the Airflow worker reaches it (`unix://`, `tcp://`, `ssh://`); "
                                  "default: `DOCKER_HOST` or the local socket.")
    conn_id: str | None = Field(
        default=None, description="Airflow connection holding the registry credentials for pulls.")
    network_mode: str | None = Field(
        default=None, description="Container network: `host`, `none`, `bridge` or a network name; default: the "
                                  "engine's.")
    auto_remove: Literal["never", "success", "force"] = Field(
        default="success", description="Remove the container once it exits: `never`, on `success`, or always "
                                       "(`force`).")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(unix|tcp|ssh|npipe)://\S+\Z", value):
            raise ValueError(f"{value!r} is not a Docker engine address (unix:///var/run/docker.sock, tcp://host:2376)")
        return value
