"""Spark: where the tasks of Spark nodes run (Dataproc, a custom factory, or spark-submit on Kubernetes)."""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from .common import AirflowKey, Choice, ImageRef, Quantity, StrictModel

log = logging.getLogger(__name__)
CLUSTER_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,40}[a-z0-9])?\Z")
CLASS_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+\Z")
URI = re.compile(r"^[a-z][a-z0-9+.-]*://\S+\Z")


class SparkType(Choice):
    """Where Spark groups run."""

    KUBERNETES = "kubernetes"
    DATAPROC = "dataproc"
    CUSTOM = "custom"


def _spark_type(value: Any) -> Any:
    return "kubernetes" if value == "k8s" else value  # the predecessor's name for it


K8S = "(type kubernetes) "


class SparkConfig(StrictModel):
    """Spark nodes, grouped, each group one submit task (seed 3.6)."""

    type: Annotated[SparkType, BeforeValidator(_spark_type)] = Field(
        description="`dataproc`: a Google Dataproc cluster per run; `custom`: the operators of "
                    "`operator_factory`; `kubernetes` (or `k8s`): spark-submit in cluster mode.")
    operator_factory: str | None = Field(
        default=None, description="Class path of a `kedro_af_ci.spark.SparkOperatorFactory` subclass in the "
                                  "project's `src` (required by `custom`).")
    region: str | None = Field(default=None, description="Cloud region of the cluster (required by `dataproc`).")
    project_id: str | None = Field(
        default=None, description="Cloud project of the cluster (required by `dataproc`).")
    cluster_name: str | None = Field(
        default=None, description="Cluster name: lowercase letters, digits and `-`, at most 42 characters; a "
                                  "per-run suffix is added.")
    artifacts_path: str | None = Field(
        default=None, description="Where the init script, project archive and run scripts are uploaded, e.g. "
                                  "`gs://bucket/spark` (required by `dataproc` and `custom`).")
    user_init_path: str | None = Field(
        default=None, description="Script (relative to `src`) run before the generated cluster init script.")
    user_post_init_path: str | None = Field(
        default=None, description="Script (relative to `src`) run after the generated cluster init script.")
    cluster_config: dict[str, Any] = Field(
        default_factory=dict, description="Cluster definition for the create-cluster operator (Dataproc: its "
                                          "`ClusterConfig`).")
    archive_exclude: list[str] = Field(
        default_factory=list, description="More gitignore patterns kept out of `project.tar.gz`.")
    conn_id: AirflowKey = Field(
        default="spark_default", description=K8S + "Airflow connection whose host is the master, "
                                                   "`k8s://https://<api server>`.")
    image: ImageRef | None = Field(
        default=None, description=K8S + "Driver and executor image; default `run_config.image`.")
    application: str | None = Field(
        default=None, description=K8S + "Application URI; default `local://<project_path>/src/<package>/__main__.py`.")
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description=K8S + "Spark configuration, over the generated one.")
    num_executors: int | None = Field(default=None, gt=0, description=K8S + "Number of executors.")
    driver_port: int | None = Field(default=None, gt=0, lt=65536, description=K8S + "`spark.driver.port`.")
    block_manager_port: int | None = Field(
        default=None, gt=0, lt=65536, description=K8S + "`spark.blockManager.port`.")
    local_storage_class_name: str | None = Field(
        default=None, description=K8S + "Storage class of an on-demand claim Spark spills to; with "
                                        "`local_storage_size`.")
    local_storage_size: Quantity | None = Field(
        default=None, description=K8S + "Size of that claim (Kubernetes quantity).")

    @model_validator(mode="before")
    @classmethod
    def _no_cluster_on_kubernetes(cls, data: Any) -> Any:
        """spark-submit on Kubernetes creates no cluster: a predecessor's cluster_name there means nothing."""
        if isinstance(data, dict) and _spark_type(data.get("type")) == "kubernetes" and data.get("cluster_name"):
            log.warning("run_config.spark.cluster_name is ignored with type kubernetes: spark-submit creates no "
                        "cluster to name")
            data = {key: value for key, value in data.items() if key != "cluster_name"}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> SparkConfig:
        self._check_names()
        self._check_type_needs()
        self._check_kubernetes()
        return self

    def _check_names(self) -> None:
        if self.cluster_name is not None and not CLUSTER_NAME.match(self.cluster_name):
            raise ValueError(f"cluster_name {self.cluster_name!r} must be lowercase letters, digits and '-', "
                             "start with a letter and have at most 42 characters (a per-run suffix is added)")

    def _check_type_needs(self) -> None:
        if self.type == SparkType.DATAPROC and not (self.region and self.project_id):
            raise ValueError("spark type dataproc needs region and project_id")
        if self.type == SparkType.CUSTOM and not self.operator_factory:
            raise ValueError("spark type custom needs operator_factory: the class path of the factory")
        if self.operator_factory and not CLASS_PATH.match(self.operator_factory):
            raise ValueError(f"operator_factory {self.operator_factory!r} is not a dotted class path")
        if self.type != SparkType.KUBERNETES and not self.artifacts_path:
            raise ValueError("spark needs artifacts_path: where the init script, project archive and run "
                             "scripts are uploaded (e.g. gs://bucket/spark)")

    def _check_kubernetes(self) -> None:
        if (self.local_storage_class_name is None) != (self.local_storage_size is None):
            raise ValueError("local_storage_class_name and local_storage_size go together: the storage class "
                             "and size of the on-demand claim Spark spills to")
        if self.application is not None and not URI.match(self.application):
            raise ValueError(f"application {self.application!r} is not a URI (local:///path/in/image.py, s3a://…)")
