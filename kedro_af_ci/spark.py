"""Spark: which nodes run on a Spark cluster, how they are grouped, and the operators that run them.

Detection follows the original plugin's rules (seed 3.6.3): the ``kedro-airflow-k8s:group:pyspark``
tag (``kedro-airflow-k8s.group.pyspark`` in Kedro 1.x, which forbids ``:``), a ``pyspark.sql``
DataFrame in the node function's type hints, a Spark dataset among its inputs or outputs, and
default nodes sandwiched between parts of one Spark group. Groups are closed under "lies on a path
from the group back to the group", so collapsing each group into one task can never make a cycle.

Operators are described as data (:class:`OperatorSpec`: class path + JSON-like arguments), never as
code strings; the renderer imports the class and passes the arguments as literals. The built-in
backend is Dataproc; ``type: custom`` loads a :class:`SparkOperatorFactory` subclass.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .graph.model import PipelineGraph
from .plan.partition import UnionFind, reachable

SPARK_TAGS = ("kedro-airflow-k8s:group:pyspark", "kedro-airflow-k8s.group.pyspark")
_SPARK_HINT = re.compile(r"\bpyspark\.sql(\.[A-Za-z_.]+)?\.DataFrame\b")
SPARK_DATASETS = {"SparkDataset", "SparkHiveDataset", "SparkJDBCDataset",
                  "SparkDataSet", "SparkHiveDataSet", "SparkJDBCDataSet"}
PROJECT_HOME = "/opt/kedro/project"  # where the init script unpacks the project on every cluster node
_CLASS_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")  # used with fullmatch


class AirflowTemplate(str):
    """A string that is Jinja for Airflow to render at run time (e.g. the per-run cluster name).

    Every other string in operator arguments is protected from Jinja; pass these through unchanged
    (or wrap your own template in this class) when a factory builds its arguments."""


class ConfigTemplate(AirflowTemplate):
    """Jinja written in the config (``env_vars``, pod templates): Airflow renders it, and in CI the
    deployment's policy reads it first (docs/architecture.md, "Trust")."""


def is_spark_dataset(ds_type: str | None, known: bool | None = None) -> bool:
    """``known``: what the class hierarchy said at graph extraction; else the kedro-datasets spark
    family by name (``spark.*``, ``kedro_datasets.spark.*``, any ``Spark…Dataset``)."""
    if known is not None:
        return known
    if not ds_type:
        return False
    module, _, name = ds_type.rpartition(".")
    return (module in ("spark", "kedro_datasets.spark") or module.startswith("kedro_datasets.spark.")
            or name in SPARK_DATASETS or bool(re.fullmatch(r"Spark\w*Data[sS]et(V\d+)?", name)))


def spark_reasons(graph: PipelineGraph) -> dict[str, str]:
    """Nodes that are Spark nodes by tag, type hint or dataset class (before the sandwich rule), and why."""
    found: dict[str, str] = {}
    for node in graph.nodes:
        tag = next((t for t in node.tags if t in SPARK_TAGS), None)
        hint = next((f"{arg}: {h}" for arg, h in node.type_hints.items() if _SPARK_HINT.search(h)), None)
        dataset = next((f"{name} ({info.type})" for name in (*node.inputs, *node.outputs)
                        if (info := graph.datasets.get(name)) is not None and is_spark_dataset(info.type, info.spark)),
                       None)
        if tag or hint or dataset:
            found[node.name] = (f"tag {tag}" if tag else f"type hint {hint}" if hint else f"Spark dataset {dataset}")
    return found


def spark_nodes(graph: PipelineGraph) -> set[str]:
    return set(spark_reasons(graph))


def spark_groups(graph: PipelineGraph) -> list[tuple[str, ...]]:
    """Spark groups in topological order of their first node, each in topological order.

    Adjacent Spark nodes share a group; then each group takes in every node on a path that leaves
    it and comes back (the sandwich rule), merging with any other group met on the way, until
    nothing changes. The result is convex, so the collapsed task graph stays acyclic.
    """
    marked = spark_nodes(graph)
    if not marked:
        return []
    order = {n.name: i for i, n in enumerate(graph.nodes)}
    deps = graph.node_dependencies()
    children: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    for child, parents in deps.items():
        for parent in parents:
            children[parent].append(child)
    sets = UnionFind(order, marked)
    for name in marked:
        for child in children[name]:
            if child in marked:
                sets.union(name, child)
    while _absorb_sandwiched(sets, children, deps):
        pass
    return sorted((tuple(g) for g in sets.members().values()), key=lambda g: order[g[0]])


def _absorb_sandwiched(sets: UnionFind, children: dict[str, list[str]], deps: dict[str, list[str]]) -> bool:
    """Into the earliest group with any, the nodes on a path leaving it and coming back; False if none."""
    for root, names in sets.members().items():
        group = set(names)
        between = reachable(group, children) & reachable(group, deps) - group
        for name in sorted(between, key=sets.order.__getitem__):
            sets.add(name)
            sets.union(root, name)
        if between:
            return True
    return False


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


# -- the factory run elsewhere (the action runs project code only inside the project image) -------------

_TEMPLATE_KEY = "__airflow_template__"


def _encode(value: Any) -> Any:
    """JSON-ready, with AirflowTemplate strings marked so they come back as AirflowTemplate."""
    if isinstance(value, AirflowTemplate):
        return {_TEMPLATE_KEY: str(value)}
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_TEMPLATE_KEY} and isinstance(value[_TEMPLATE_KEY], str):
            return AirflowTemplate(value[_TEMPLATE_KEY])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def factory_request(class_path: str, settings: SparkSettings, jobs: list[SparkJob]) -> dict[str, Any]:
    return {"class_path": class_path, "settings": _encode(asdict(settings)), "jobs": [_encode(asdict(j)) for j in jobs]}


def run_factory_request(request: dict[str, Any]) -> dict[str, Any]:
    """Where the project's code may run: import the factory from the current project and answer."""
    settings = SparkSettings(**_decode(request["settings"]))
    jobs = []
    for job in request["jobs"]:
        data = _decode(job)
        jobs.append(SparkJob(task_id=data["task_id"], nodes=tuple(data["nodes"]), main_uri=data["main_uri"],
                             args=tuple(data["args"])))
    output = run_factory(load_factory("custom", request["class_path"], Path.cwd()), settings, jobs)

    def spec(value: OperatorSpec | None) -> Any:
        return None if value is None else {"class_path": value.class_path, "arguments": _encode(value.arguments)}

    return {"create": spec(output.create), "delete": spec(output.delete),
            "submits": {task_id: spec(value) for task_id, value in output.submits.items()}}


def factory_output(answer: dict[str, Any]) -> FactoryOutput:
    """The answer of :func:`run_factory_request`, checked again here: it comes from the project's code."""
    def spec(value: Any) -> OperatorSpec | None:
        if value is None:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("arguments"), dict):
            raise ConfigError("the Spark operator factory answered something else than operators",
                              key="run_config.spark.operator_factory")
        return OperatorSpec(value.get("class_path"), _decode(value["arguments"]))

    submits = answer.get("submits") if isinstance(answer, dict) else None
    if not isinstance(submits, dict):
        raise ConfigError("the Spark operator factory answered without submit operators",
                          key="run_config.spark.operator_factory")
    return FactoryOutput(create=spec(answer.get("create")), delete=spec(answer.get("delete")),
                         submits={str(task_id): spec(value) for task_id, value in submits.items()})

