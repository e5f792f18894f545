"""Spark: where the tasks of Spark nodes run. A section per ``type``, a union tagged by it: Dataproc or a
custom factory (a cluster per run, from uploaded artifacts), or spark-submit on Kubernetes."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter, model_validator

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


_TYPE = ("`dataproc`: a Google Dataproc cluster per run; `custom`: the operators of `operator_factory`; "
         "`kubernetes` (or `k8s`): spark-submit in cluster mode.")
_OPERATOR_FACTORY = ("Class path of a `kedro_af_ci.spark.SparkOperatorFactory` subclass in the project's `src`; "
                     "with `dataproc`, it replaces the built-in Dataproc operators.")
_REGION = "Cloud region of the cluster."
_PROJECT_ID = "Cloud project of the cluster."
# keys kedro-airflow-k8s's `k8s` type took (it named a cluster and its config there too), which
# spark-submit on Kubernetes has no use for: accepted, and said to be ignored
IGNORED_ON_KUBERNETES = {"cluster_name": "spark-submit creates no cluster to name",
                         "cluster_config": "spark-submit creates no cluster to configure (use conf)"}


def _type_alias(data: Any) -> Any:
    """``type: k8s``, the predecessor's name, is ``kubernetes``."""
    if isinstance(data, dict) and data.get("type") == "k8s":
        return {**data, "type": SparkType.KUBERNETES.value}
    return data


@cache
def _any_spark() -> TypeAdapter[KubernetesSpark | DataprocSpark | CustomSpark]:
    return TypeAdapter(AnySpark)


class SparkConfig(StrictModel):
    """Spark nodes, grouped, each group one submit task (seed 3.6): what every type's section has.
    ``spark_config(data)`` reads a section as ``run_config.spark`` does, into the model of its type."""

    type: SparkType = Field(description=_TYPE)


def spark_config(data: Mapping[str, Any]) -> KubernetesSpark | DataprocSpark | CustomSpark:
    """The section of the type ``data`` names, validated as ``run_config.spark`` is."""
    return _any_spark().validate_python(dict(data))


def _cluster_name(value: str | None) -> str | None:
    if value is not None and not CLUSTER_NAME.match(value):
        raise ValueError(f"cluster_name {value!r} must be lowercase letters, digits and '-', start with a letter "
                         "and have at most 42 characters (a per-run suffix is added)")
    return value


def _class_path(value: str | None) -> str | None:
    if value is not None and not CLASS_PATH.match(value):
        raise ValueError(f"operator_factory {value!r} is not a dotted class path")
    return value


ClassPath = Annotated[str, AfterValidator(_class_path)]


class KubernetesSpark(SparkConfig):
    """``type: kubernetes`` (or ``k8s``): each group one spark-submit in cluster mode, in the project image;
    no cluster to create and nothing to upload."""

    type: Literal[SparkType.KUBERNETES] = Field(description=_TYPE)
    conn_id: AirflowKey = Field(
        default="spark_default", description="Airflow connection whose host is the master, "
                                             "`k8s://https://<api server>`.")
    image: ImageRef | None = Field(default=None, description="Driver and executor image; default `run_config.image`.")
    application: str | None = Field(
        default=None, description="Application URI; default `local://<project_path>/src/<package>/__main__.py`.")
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Spark configuration, over the generated one.")
    num_executors: int | None = Field(default=None, gt=0, description="Number of executors.")
    driver_port: int | None = Field(default=None, gt=0, lt=65536, description="`spark.driver.port`.")
    block_manager_port: int | None = Field(
        default=None, gt=0, lt=65536, description="`spark.blockManager.port`.")
    local_storage_class_name: str | None = Field(
        default=None, description="Storage class of an on-demand claim Spark spills to; with "
                                  "`local_storage_size`.")
    local_storage_size: Quantity | None = Field(
        default=None, description="Size of that claim (Kubernetes quantity).")

    @model_validator(mode="before")
    @classmethod
    def _predecessor_keys(cls, data: Any) -> Any:
        """``k8s`` is kubernetes; the cluster keys a predecessor's config has here mean nothing: dropped."""
        data = _type_alias(data)
        if isinstance(data, dict) and IGNORED_ON_KUBERNETES.keys() & data.keys():
            for key, reason in IGNORED_ON_KUBERNETES.items():
                if data.get(key):
                    log.warning("run_config.spark.%s is ignored with type kubernetes: %s", key, reason)
            data = {key: value for key, value in data.items() if key not in IGNORED_ON_KUBERNETES}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> KubernetesSpark:
        if (self.local_storage_class_name is None) != (self.local_storage_size is None):
            raise ValueError("local_storage_class_name and local_storage_size go together: the storage class "
                             "and size of the on-demand claim Spark spills to")
        if self.application is not None and not URI.match(self.application):
            raise ValueError(f"application {self.application!r} is not a URI (local:///path/in/image.py, s3a://…)")
        return self


class ClusterSpark(SparkConfig):
    """What ``dataproc`` and ``custom`` share: a cluster per run, fed by the artifacts uploaded to
    ``artifacts_path`` (the seed's keys, all of which a custom factory receives)."""

    operator_factory: ClassPath | None = Field(default=None, description=_OPERATOR_FACTORY)
    region: str | None = Field(default=None, description=_REGION)
    project_id: str | None = Field(default=None, description=_PROJECT_ID)
    cluster_name: Annotated[str | None, AfterValidator(_cluster_name)] = Field(
        default=None, description="Cluster name: lowercase letters, digits and `-`, at most 42 characters; a "
                                  "per-run suffix is added.")
    artifacts_path: str = Field(
        min_length=1, description="Where the init script, project archive and run scripts are uploaded, e.g. "
                                  "`gs://bucket/spark`.")
    user_init_path: str | None = Field(
        default=None, description="Script (relative to `src`) run before the generated cluster init script.")
    user_post_init_path: str | None = Field(
        default=None, description="Script (relative to `src`) run after the generated cluster init script.")
    cluster_config: dict[str, Any] = Field(
        default_factory=dict, description="Cluster definition for the create-cluster operator (Dataproc: its "
                                          "`ClusterConfig`).")
    archive_exclude: list[str] = Field(
        default_factory=list, description="More gitignore patterns kept out of `project.tar.gz`.")


class DataprocSpark(ClusterSpark):
    """``type: dataproc``: an ephemeral Google Dataproc cluster per run (the built-in factory, unless
    ``operator_factory`` names another)."""

    type: Literal[SparkType.DATAPROC] = Field(description=_TYPE)
    region: str = Field(min_length=1, description=_REGION)
    project_id: str = Field(min_length=1, description=_PROJECT_ID)


class CustomSpark(ClusterSpark):
    """``type: custom``: the operators of the project's ``operator_factory``."""

    type: Literal[SparkType.CUSTOM] = Field(description=_TYPE)
    operator_factory: ClassPath = Field(description=_OPERATOR_FACTORY)


# run_config.spark: the section of the type its `type` names; a key of another type is refused as such
AnySpark = Annotated[KubernetesSpark | DataprocSpark | CustomSpark, Field(discriminator="type"),
                     BeforeValidator(_type_alias)]
