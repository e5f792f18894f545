"""Spark's operator-factory API: what users import to run their Spark groups with operators of their own.

Which nodes are Spark nodes is the plan's (``plan/spark_detect.py``); a factory run in the project
image talks through ``spark_factory/wire.py``. Operators are described as data (:class:`OperatorSpec`: class
path + JSON-like arguments), never as code strings; the renderer imports the class and passes the
arguments as literals. The built-in backend is Dataproc; ``type: custom`` loads a
:class:`SparkOperatorFactory` subclass.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .vocabulary.airflow_template import AirflowTemplate, ConfigTemplate  # noqa: F401 - part of the factory API

PROJECT_HOME = "/opt/kedro/project"  # where the init script unpacks the project on every cluster node
_CLASS_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")  # used with fullmatch


# ---------------------------------------------------------------------------------------------
# Operators as data


@dataclass(frozen=True)
class OperatorSpec:
    """One Airflow operator: ``class_path`` is imported by the DAG, ``arguments`` are keyword
    arguments made of str/int/float/bool/None/list/dict only (written as literals; strings that
    Airflow's Jinja would alter are protected). ``task_id`` is set by the DAG."""

    class_path: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.class_path, str) or not _CLASS_PATH.fullmatch(self.class_path):
            raise ConfigError(f"operator class path {self.class_path!r} is not a dotted class path",
                              key="run_config.spark.operator_factory")
        _check_plain(self.arguments, self.class_path)


def _check_plain(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"{where}: argument keys must be strings, got {key!r}",
                                  key="run_config.spark.operator_factory")
            _check_plain(item, where)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_plain(item, where)
    elif not (value is None or isinstance(value, (str, int, float, bool))):
        raise ConfigError(f"{where}: arguments must be plain data (str, numbers, bools, None, lists, dicts), "
                          f"got {type(value).__name__}", key="run_config.spark.operator_factory")


@dataclass(frozen=True)
class SparkJob:
    """What a submit operator runs: the group's run script with Kedro's arguments."""

    task_id: str
    nodes: tuple[str, ...]
    main_uri: str  # the uploaded run script of this group
    args: tuple[str, ...]  # e.g. ("--params", "ds={{ ds }}"): Jinja here is Airflow's to render


@dataclass(frozen=True)
class SparkSettings:
    """Everything a factory needs; ``cluster_name`` is unique per DAG run (a Jinja expression)."""

    project_id: str | None
    region: str | None
    cluster_name: str
    cluster_config: dict[str, Any]
    artifacts_uri: str
    init_script_uri: str
    archive_uri: str
    dag_id: str


class SparkOperatorFactory:
    """Base class for ``spark.type: custom`` (``operator_factory: my_project.factories.Factory``).

    Return :class:`OperatorSpec` objects: the class is imported by the generated DAG and the
    arguments are written as literals. Return None from the cluster methods when the cluster is
    not managed by the DAG. The DAG wires ``create_cluster`` before every submit task and
    ``delete_cluster`` after them with ``trigger_rule="all_done"``.
    """

    def create_cluster(self, settings: SparkSettings) -> OperatorSpec | None:
        return None

    def submit(self, settings: SparkSettings, job: SparkJob) -> OperatorSpec:
        raise NotImplementedError("a Spark operator factory must implement submit()")

    def delete_cluster(self, settings: SparkSettings) -> OperatorSpec | None:
        return None


_DATAPROC = "airflow.providers.google.cloud.operators.dataproc."


class DataprocOperatorFactory(SparkOperatorFactory):
    """Google Dataproc through the official Google provider: an ephemeral cluster per DAG run."""

    def create_cluster(self, settings: SparkSettings) -> OperatorSpec:
        config = dict(settings.cluster_config)
        actions = list(config.get("initialization_actions") or [])
        actions.append({"executable_file": settings.init_script_uri})
        config["initialization_actions"] = actions
        return OperatorSpec(_DATAPROC + "DataprocCreateClusterOperator", {
            "project_id": settings.project_id, "region": settings.region,
            "cluster_name": settings.cluster_name, "cluster_config": config,
        })

    def submit(self, settings: SparkSettings, job: SparkJob) -> OperatorSpec:
        return OperatorSpec(_DATAPROC + "DataprocSubmitJobOperator", {
            "project_id": settings.project_id, "region": settings.region,
            "job": {
                "reference": {"project_id": settings.project_id},
                "placement": {"cluster_name": settings.cluster_name},
                "pyspark_job": {"main_python_file_uri": job.main_uri, "args": list(job.args)},
            },
        })

    def delete_cluster(self, settings: SparkSettings) -> OperatorSpec:
        return OperatorSpec(_DATAPROC + "DataprocDeleteClusterOperator", {
            "project_id": settings.project_id, "region": settings.region, "cluster_name": settings.cluster_name,
        })


def load_factory(spark_type: str, class_path: str | None, project_path: Path) -> SparkOperatorFactory:
    """The factory for ``spark.type``; a custom class is imported with the project's ``src`` on the path."""
    if spark_type == "dataproc" and not class_path:
        return DataprocOperatorFactory()
    key = "run_config.spark.operator_factory"
    module_name, _, class_name = str(class_path).rpartition(".")
    for folder in (project_path / "src", project_path):
        if folder.is_dir() and str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    try:
        factory_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import the Spark operator factory {class_path!r}: {exc}", key=key) from None
    if not (isinstance(factory_class, type) and issubclass(factory_class, SparkOperatorFactory)):
        raise ConfigError(f"{class_path!r} must be a subclass of kedro_af_ci.spark.SparkOperatorFactory", key=key)
    return factory_class()


@dataclass(frozen=True)
class FactoryOutput:
    """What a factory made of one DAG's Spark groups: the operators, as data."""

    create: OperatorSpec | None
    delete: OperatorSpec | None
    submits: dict[str, OperatorSpec]  # task id -> its submit operator


def _checked(spec: object, method: str) -> OperatorSpec:
    if not isinstance(spec, OperatorSpec):
        raise ConfigError(f"the Spark operator factory's {method}() returned {type(spec).__name__}; expected "
                          "kedro_af_ci.spark.OperatorSpec", key="run_config.spark.operator_factory")
    return spec


def run_factory(factory: SparkOperatorFactory, settings: SparkSettings, jobs: list[SparkJob]) -> FactoryOutput:
    submits = {job.task_id: _checked(factory.submit(settings, job), "submit") for job in jobs}
    create, delete = factory.create_cluster(settings), factory.delete_cluster(settings)
    return FactoryOutput(create=_checked(create, "create_cluster") if create is not None else None,
                         delete=_checked(delete, "delete_cluster") if delete is not None else None, submits=submits)


