"""The run's shared data volume."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ..vocabulary import k8s_names as names
from .common import Quantity, StrictModel

AccessMode = Literal["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod"]


class VolumeConfig(StrictModel):
    """One volume per DAG run, mounted at ``<project_path>/data`` by every task, deleted after the run."""

    storageclass: str | None = Field(
        default=None, description="Storage class of the volume claim; empty: the cluster's default class.")
    size: Quantity = Field(default="1Gi", description="Size of the volume (Kubernetes quantity).")
    access_modes: list[AccessMode] = Field(
        default_factory=lambda: list[AccessMode](["ReadWriteOnce"]), min_length=1,
        description="Access modes of the claim; `ReadWriteMany` lets tasks on different nodes share it (not "
                    "every cluster offers it, e.g. GKE).")
    skip_init: bool = Field(
        default=False, description="Skip `data_volume_init`, which copies the image's `<project_path>/data` "
                                   "onto the new volume.")
    owner: int = Field(default=0, ge=0, description="`fsGroup` of the pods: the group id owning the volume "
                                                     "(0: root, which GKE volumes need).")
    disabled: bool = Field(default=False, description="No shared volume; the other `volume` keys are ignored.")
    keep: bool = Field(default=False, description="Keep the run's volume after the run, to inspect its data.")

    @field_validator("storageclass")
    @classmethod
    def _storageclass(cls, value: str | None) -> str | None:
        return names.check_dns_subdomain(value) if value else None
