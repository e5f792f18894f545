"""PipelineGraph + PluginConfig → DagPlan: every decision about the DAG, made without I/O.

The renderer only turns this plan into source text, so all naming, resource selection, volume
wiring and dependency logic is here, where it is testable without Airflow.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import __version__
from .config import (
    DockerConfig,
    ExternalDependency,
    PluginConfig,
    ResourceConfig,
    RunConfig,
    SecretConfig,
    SlackFailureHandler,
    tagged_values,
)
from .errors import ConfigError, GraphError
from .fixed_tasks import RESERVED_TASK_IDS
from .gitinfo import GitInfo
from .grouping import NodeGroup, group_nodes
from .k8s_names import dns_name, quantity_value, sanitize_id, short_hash
from .pipeline_graph import MlflowInfo, PipelineGraph, strip_transcoding
from .pod_templates import parse_pod_template, template_volume_names
from .spark import (
    PROJECT_HOME,
    AirflowTemplate,
    DataprocOperatorFactory,
    FactoryOutput,
    OperatorSpec,
    SparkJob,
    SparkSettings,
    run_factory,
    spark_groups,
    spark_reasons,
)
from .spark_kubernetes import SUBMIT_OPERATOR, KubernetesSubmit, default_application, mlflow_run_id, submit_spec

log = logging.getLogger(__name__)
TAG_PREFIX = "generated_with_kedro_airflow_k8s"
EXPERIMENT_TAG = "experiment:"
DEFAULT_START_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)
# Airflow 3 removed these from the template context; a task using them fails at render time.
# ... each with what to use instead (Airflow 3's upgrade notes)
_REMOVED_IN_AIRFLOW3 = {
    "execution_date": "logical_date", "next_ds": "data_interval_end", "next_ds_nodash": "data_interval_end",
    "next_execution_date": "data_interval_end", "prev_ds": "prev_data_interval_start_success",
    "prev_ds_nodash": "prev_data_interval_start_success", "prev_execution_date": "prev_data_interval_start_success",
    "prev_execution_date_success": "prev_data_interval_start_success", "tomorrow_ds": "data_interval_end",
    "tomorrow_ds_nodash": "data_interval_end", "yesterday_ds": "data_interval_start",
    "yesterday_ds_nodash": "data_interval_start", "conf": "a variables_params entry",
}
MLFLOW_START_TASK = "start_mlflow_run"
DATA_VOLUME_NAME = "kedro-data"
INIT_MOUNT_PATH = "/mnt/kedro-data-volume"


@dataclass(frozen=True)
class PlannedTask:
    task_id: str
    pod_name: str
    nodes: tuple[str, ...]  # Kedro node names run by this task
    profile: str | None  # key into DagPlan.profiles
    upstream: tuple[str, ...] = ()
    template: str | None = None  # key into DagPlan.pod_templates
    group: str = ""  # the node group's name (Spark groups: pyspark_<n>)

    @property
    def display_name(self) -> str:
        return ",".join(self.nodes)


@dataclass(frozen=True)
class VolumePlan:
    pvc_prefix: str  # DNS-safe prefix; the run id completes the name at run time
    size: str
    access_modes: tuple[str, ...]
    storageclass: str | None
    owner: int
    init: bool
    mount_path: str  # where node pods see the volume: <project_path>/data
    image_data_path: str  # what data-volume-init copies from the image
    keep: bool = False  # no delete task: the data stays for inspection

    @property
    def claim_name(self) -> str:
        """PVC name: the run id completes it at run time (the DAG defines the kaf_dns filter)."""
        return self.pvc_prefix + "-{{ run_id | kaf_dns }}"


@dataclass(frozen=True)
class ContainerLimits:
    """A resource profile as Docker applies it (``execution: docker``): CPU shares from
    ``requests.cpu`` (what Kubernetes also turns into shares), a memory limit from ``limits.memory``."""

    cpus: float | None
    mem_limit: int | None
    labels: dict[str, str]


@dataclass(frozen=True)
class SensorPlan:
    task_id: str  # inside the "external_dependencies" task group
    dependency: ExternalDependency


@dataclass(frozen=True)
class MlflowPlan:
    """One MLflow run per DAG run: started before the first node, closed with the run's outcome."""

    experiment_name: str
    tracking_uri: str | None  # None: MLFLOW_TRACKING_URI of the environment the script runs in
    tags: dict[str, str]
    auth: str  # Null | GoogleOAuth2 | Vars
    auth_params: tuple[str, ...]  # Vars: Airflow Variable names = environment variable names
    templates_with_run_id: tuple[str, ...] = ()  # pod templates that set MLFLOW_RUN_ID themselves


@dataclass(frozen=True)
class SparkPlan:
    """Spark groups run as submit jobs on a cluster created and deleted by the DAG run."""

    artifacts_uri: str  # <artifacts_path>/<dag_id>/<commit>: init script, archive, run scripts
    project_home: str
    user_init_path: str | None
    user_post_init_path: str | None
    jobs: tuple[SparkJob, ...]
    create: OperatorSpec | None
    delete: OperatorSpec | None
    submits: dict[str, OperatorSpec]  # task id -> its submit operator
    factory: str = ""  # class path of the operator factory
    archive_exclude: tuple[str, ...] = ()  # patterns kept out of the project archive, over the deny list
    settings: SparkSettings | None = None  # set while a custom factory's operators are still to be made


@dataclass(frozen=True)
class DagPlan:
    dag_id: str
    display_name: str
    description: str | None
    schedule: str | None
    start_date: datetime
    catchup: bool
    max_active_runs: int | None
    retries: int
    tags: tuple[str, ...]
    execution: str
    image: str
    namespace: str
    image_pull_policy: str
    startup_timeout: int
    service_account_name: str | None
    image_pull_secrets: tuple[str, ...]
    secrets: tuple[SecretConfig, ...]
    env_vars: dict[str, str]
    kedro_args: tuple[str, ...]  # `kedro run` arguments shared by every node task
    params: str | None  # value of --params, a Jinja template built only from validated names
    profiles: dict[str, ResourceConfig]
    tasks: tuple[PlannedTask, ...]
    volume: VolumePlan | None
    sensors: tuple[SensorPlan, ...]
    pod_templates: dict[str, dict]  # name -> pod dict for pod_template_dict
    template_images: dict[str, str]  # name -> image override
    templates_with_volume: tuple[str, ...]  # templates that define the data volume themselves
    failure_handlers: tuple[SlackFailureHandler, ...]
    mlflow: MlflowPlan | None
    spark: SparkPlan | None
    docker: DockerConfig | None  # execution: docker
    container_limits: dict[str, ContainerLimits]  # execution: docker, per profile
    project_path: str
    project_name: str
    pipeline: str
    kedro_env: str | None
    commit_id: str
    branch_name: str
    version: str = __version__
    warnings: tuple[str, ...] = field(default=())

    @property
    def edges(self) -> list[tuple[str, str]]:
        return [(up, task.task_id) for task in self.tasks for up in task.upstream]


def _unique_ids(names: list[str], make, sep: str) -> dict[str, str]:
    """Deterministic ids: sanitised, then numbered in sorted order of the originals on collision."""
    taken: set[str] = set(RESERVED_TASK_IDS)
    result: dict[str, str] = {}
    for name in sorted(names):
        candidate = make(name)
        base, n = candidate, 2
        while candidate in taken:
            candidate = f"{base}{sep}{n}"
            n += 1
        taken.add(candidate)
        result[name] = candidate
    return result


def kedro_split_nodes(text: str) -> list[str]:
    """How ``kedro run --nodes`` reads its value (kedro.framework.cli.utils.split_node_names):
    commas split unless inside square brackets, and each name is stripped."""
    result, argument, depth = [], "", 0
    for char in text + ",":
        depth += (char == "[") - (char == "]")
        if char == "," and depth == 0 and argument:
            result.append(argument.strip())
            argument = ""
        else:
            argument += char
    return result


def _check_node_names(groups) -> None:
    """A task passes its nodes as one ``--nodes a,b,c`` value; a name Kedro would read back
    differently would run the wrong nodes, so it is refused here."""
    for group in groups:
        if kedro_split_nodes(",".join(group.nodes)) != list(group.nodes):
            bad = next((n for n in group.nodes if kedro_split_nodes(n) != [n]), group.nodes[0])
            raise GraphError(f"node name {bad!r} cannot be passed to `kedro run --nodes` (Kedro splits the value "
                             "on commas outside square brackets and strips spaces); rename the node")


def _params_template(config: PluginConfig) -> str | None:
    rc = config.run_config
    parts = [f"{name}={{{{ {name} }}}}" for name in rc.macro_params]
    parts += [f"{name}={{{{ var.value.get('{name}') }}}}" for name in rc.variables_params]
    return ",".join(parts) or None


def build_plan(graph: PipelineGraph, config: PluginConfig, git: GitInfo, *,
               kedro_env: str | None = None, schedule: str | bool | None = True,
               grouping: str | None = None, run_once: bool = False,
               airflow_major: int | None = None) -> DagPlan:
    """Plan the DAG in named steps, without I/O (docs/architecture.md, "Plan"). ``schedule=True`` takes
    the config's cron; ``None``/``False`` means no schedule. ``run_once``: the DAG runs once, now, by
    hand: it does not wait for other DAGs (as the original plugin). ``airflow_major``: the Airflow the
    DAG is checked against (None: not known here). A custom Spark factory's operators are left to
    :func:`kedro_af_ci.spark_operators.apply_factory`, which runs project code."""
    rc = config.run_config
    warnings: list[str] = []
    run_name = rc.run_name or rc.experiment_name or graph.project.package_name  # the seed's default: the experiment
    dag_id = sanitize_id(run_name)
    spark_of = classify_spark(graph, rc)
    groups = group_tasks(graph, grouping or rc.grouping, spark_of, warnings)
    tasks, profiles = plan_tasks(graph, config, groups, warnings)
    warn_memory_crossings(graph, tasks, warnings)
    check_removed_macros(rc, airflow_major, warnings)
    volume = plan_volume(rc, dag_id)
    if rc.execution == "docker":
        warnings += _docker_warnings(rc, profiles)
    sensors = plan_sensors(rc.external_dependencies, run_once, warnings)
    templates = plan_pod_templates(rc, tasks, volume, warnings)
    mlflow = _mlflow_plan(graph, config, git, warnings, templates.pods)
    params = _params_template(config)
    kedro_args = _kedro_args(kedro_env, graph.pipeline)
    spark_task_ids = tuple(t.task_id for t in tasks if t.group in set(spark_of.values()))
    if rc.spark is not None and rc.spark.type == "kubernetes":
        spark = _kubernetes_spark_plan(config, dag_id, graph, tasks, spark_task_ids, params, kedro_args, profiles,
                                       mlflow is not None, warnings)
    else:
        spark = _spark_plan(config, git, dag_id, tasks, spark_task_ids, params)
    return DagPlan(
        **_dag_settings(rc, graph, git, run_name, dag_id, rc.cron_expression if schedule is True else schedule or None),
        kedro_env=kedro_env, kedro_args=kedro_args, params=params, profiles=profiles, tasks=tuple(tasks),
        volume=volume, sensors=sensors, pod_templates=templates.pods, template_images=templates.images,
        templates_with_volume=templates.with_volume, mlflow=mlflow, spark=spark,
        container_limits={name: _container_limits(p) for name, p in profiles.items()}
        if rc.execution == "docker" else {},
        warnings=tuple(warnings),
    )


def _dag_settings(rc: RunConfig, graph: PipelineGraph, git: GitInfo, run_name: str, dag_id: str,
                  cron: str | None) -> dict[str, Any]:
    """The plan's fields that come straight from the config and the git checkout."""
    tags = [f"{TAG_PREFIX}:{__version__}", f"commit:{git.commit_id}"[:100]]
    if rc.experiment_name:
        tags.append(f"{EXPERIMENT_TAG}{rc.experiment_name}"[:100])
    return {
        "dag_id": dag_id, "display_name": run_name, "description": rc.description, "schedule": cron,
        "start_date": rc.start_date or DEFAULT_START_DATE, "catchup": rc.catchup,
        "max_active_runs": rc.max_active_runs, "retries": rc.retries, "tags": tuple(tags),
        "execution": rc.execution, "image": rc.image, "namespace": rc.namespace,
        "image_pull_policy": rc.image_pull_policy, "startup_timeout": rc.startup_time,
        "service_account_name": rc.service_account_name, "image_pull_secrets": tuple(rc.image_pull_secrets),
        "secrets": tuple(rc.secrets), "env_vars": airflow_env(rc.env_vars),
        "failure_handlers": tuple(rc.failure_handlers), "docker": rc.docker if rc.execution == "docker" else None,
        "project_path": rc.project_path, "project_name": graph.project.project_name, "pipeline": graph.pipeline,
        "commit_id": git.commit_id, "branch_name": git.branch_name,
    }


def airflow_env(env_vars: dict[str, str]) -> dict[str, str]:
    """Jinja the user wrote is Airflow's to render (substituted values are inert Jinja literals by then)."""
    return {k: AirflowTemplate(v) if ("{{" in v or "{%" in v) else v for k, v in env_vars.items()}


def classify_spark(graph: PipelineGraph, rc: RunConfig) -> dict[str, str]:
    """Spark node → its group name (``pyspark_<n>``); empty without a spark section."""
    if rc.spark is None:
        return {}
    reasons = spark_reasons(graph)
    for node, reason in reasons.items():
        log.debug("Spark node %s: %s", node, reason)
    groups = spark_groups(graph) if rc.group_spark_nodes else \
        [(n.name,) for n in graph.nodes if n.name in reasons]  # one task per Spark node
    spark_of = {}
    for index, members in enumerate(groups, start=1):
        spark_of.update(dict.fromkeys(members, f"pyspark_{index}"))
        log.debug("Spark group pyspark_%d: %s", index, ", ".join(members))
    return spark_of


def group_tasks(graph: PipelineGraph, strategy: str, spark_of: dict[str, str], warnings: list[str]) -> list[NodeGroup]:
    """The node groups of the tasks; ``auto`` groups by memory only where in-memory datasets cross."""
    if strategy == "auto":
        lost = _memory_crossings(graph, {n.name: n.name for n in graph.nodes})
        strategy = "memory" if lost else "none"
        if lost:
            warnings.append(f"grouping auto: nodes that pass in-memory datasets ({_shown(lost)}) share a task, "
                            "since each task is a separate process; set run_config.grouping to choose")
    groups, group_warnings = group_nodes(graph, strategy, fixed=spark_of)
    _check_node_names(groups)
    warnings += group_warnings
    return groups


def plan_tasks(graph: PipelineGraph, config: PluginConfig, groups: list[NodeGroup],
               warnings: list[str]) -> tuple[list[PlannedTask], dict[str, ResourceConfig]]:
    """One task per group: its ids, resource profile, pod template and upstream tasks."""
    rc = config.run_config
    names = [g.name for g in groups]
    task_ids = _unique_ids(names, sanitize_id, "_")
    pod_names = _unique_ids(names, lambda n: dns_name(n, max_len=50, hash_lossy=False), "-")
    group_of = {node: g.name for g in groups for node in g.nodes}
    nodes_by_name = {n.name: n for n in graph.nodes}
    deps = graph.node_dependencies()
    profiles: dict[str, ResourceConfig] = {}
    tasks = []
    for group in groups:
        tags = list(dict.fromkeys(t for name in group.nodes for t in nodes_by_name[name].tags))
        key = _profile_key(group, tags, rc, warnings)
        if key is not None:
            profiles[key] = config.resources_for((f"resources:{key}",) if key in tagged_values(tags, "resources")
                                                 else ())
        upstream = {group_of[d] for name in group.nodes for d in deps[name]} - {group.name}
        tasks.append(PlannedTask(
            task_id=task_ids[group.name], pod_name=pod_names[group.name], nodes=group.nodes, profile=key,
            upstream=tuple(sorted(task_ids[u] for u in upstream)),
            template=_template_key(group, tags, rc, warnings), group=group.name,
        ))
    return tasks, profiles


def _profile_key(group: NodeGroup, tags: list[str], rc: RunConfig, warnings: list[str]) -> str | None:
    """The group's ``resources:<name>`` profile (the first, with a warning on a mix), else __default__."""
    named = [n for n in tagged_values(tags, "resources") if n in rc.resources]
    for name in (n for n in tagged_values(tags, "resources") if n not in rc.resources):
        warnings.append(f"node(s) {group.nodes[0]!r}: resources tag {name!r} is not in run_config.resources; "
                        + ("using '__default__'" if "__default__" in rc.resources else "using the cluster defaults"))
    if len(set(named)) > 1:
        warnings.append(f"task {group.name!r} groups nodes with different resources tags {sorted(set(named))}; "
                        f"using {named[0]!r}")
    return named[0] if named else ("__default__" if "__default__" in rc.resources else None)


def _template_key(group: NodeGroup, tags: list[str], rc: RunConfig, warnings: list[str]) -> str | None:
    """The group's ``k8s_template:<name>`` pod template, else __default__ (Kubernetes only)."""
    if rc.execution != "kubernetes":
        return None
    wanted = tagged_values(tags, "k8s_template")
    known = [t for t in wanted if t in rc.kubernetes_pod_templates]
    for name in sorted(set(wanted) - set(known)):
        warnings.append(f"node(s) {group.nodes[0]!r}: k8s_template {name!r} is not in "
                        "run_config.kubernetes_pod_templates; using the default template")
    return known[0] if known else ("__default__" if "__default__" in rc.kubernetes_pod_templates else None)


def warn_memory_crossings(graph: PipelineGraph, tasks: list[PlannedTask], warnings: list[str]) -> None:
    crossing = _memory_crossings(graph, {node: t.task_id for t in tasks for node in t.nodes})
    if crossing:
        warnings.append(f"{len(crossing)} in-memory dataset(s) pass between tasks and are lost, since each task "
                        f"is a separate process: {_shown(crossing)}; persist them in the catalog, or set "
                        "grouping to memory or auto")


def check_removed_macros(rc: RunConfig, airflow_major: int | None, warnings: list[str]) -> None:
    """Macros Airflow 3 removed: an error when the DAG is checked against Airflow 3, else a warning."""
    removed = sorted(set(rc.macro_params) & set(_REMOVED_IN_AIRFLOW3))
    if not removed:
        return
    instead = "; ".join(f"{name}: use {_REMOVED_IN_AIRFLOW3[name]}" for name in removed)
    if airflow_major is not None and airflow_major >= 3:  # every task would fail to render
        raise ConfigError(f"{', '.join(removed)} no longer exist in Airflow 3 ({instead})",
                          key="run_config.macro_params")
    warnings.append(f"run_config.macro_params: {', '.join(removed)} no longer exist in Airflow 3; "
                    f"tasks using them fail to render there ({instead})")


def plan_volume(rc: RunConfig, dag_id: str) -> VolumePlan | None:
    """The run's shared data volume (not in local mode, nor when disabled)."""
    if rc.volume.disabled or rc.execution == "local":
        return None
    return VolumePlan(
        pvc_prefix=dns_name(dag_id, max_len=40), size=rc.volume.size, access_modes=tuple(rc.volume.access_modes),
        storageclass=rc.volume.storageclass, owner=rc.volume.owner, init=not rc.volume.skip_init,
        mount_path=f"{rc.project_path}/data", image_data_path=f"{rc.project_path}/data", keep=rc.volume.keep,
    )


def plan_sensors(dependencies: list[ExternalDependency], run_once: bool,
                 warnings: list[str]) -> tuple[SensorPlan, ...]:
    """One sensor per external dependency (none for run-once); the same one twice gets numbered ids."""
    if run_once:
        if dependencies:
            warnings.append(f"run-once: the {len(dependencies)} external dependency sensor(s) are left out; "
                            "the scheduled DAG waits for them")
        return ()

    def key(dep: ExternalDependency) -> str:
        return f"{dep.dag_id}__{dep.task_id}" if dep.task_id else dep.dag_id

    ids = _unique_ids(list(dict.fromkeys(key(d) for d in dependencies)),
                      lambda n: sanitize_id("wait_for_" + n), "_")
    used: dict[str, int] = {}
    sensors = []
    for dep in dependencies:
        used[key(dep)] = used.get(key(dep), 0) + 1
        task_id = ids[key(dep)] if used[key(dep)] == 1 else f"{ids[key(dep)]}_{used[key(dep)]}"
        sensors.append(SensorPlan(task_id=task_id, dependency=dep))
    return tuple(sensors)


@dataclass(frozen=True)
class TemplatePlan:
    pods: dict[str, dict]  # name -> pod dict for pod_template_dict
    images: dict[str, str]  # name -> image override
    with_volume: tuple[str, ...]  # templates that define the data volume themselves


def plan_pod_templates(rc: RunConfig, tasks: list[PlannedTask], volume: VolumePlan | None,
                       warnings: list[str]) -> TemplatePlan:
    """The pod templates the tasks use, parsed and checked."""
    pods: dict[str, dict] = {}
    for name in sorted({t.template for t in tasks if t.template}):
        key = f"run_config.kubernetes_pod_templates.{name}.template"
        if re.search(r"^type:\s*Pod\s*$", rc.kubernetes_pod_templates[name].template, flags=re.M):
            warnings.append(f"{key}: `type: Pod` (the seed's samples) is read as `kind: Pod`, the field Kubernetes "
                            "knows; write kind: Pod")
        pods[name] = parse_pod_template(rc.kubernetes_pod_templates[name].template, key,
                                        volume.claim_name if volume else None)
    images = {name: image for name in pods if (image := rc.kubernetes_pod_templates[name].image)}
    with_volume = tuple(sorted(n for n, d in pods.items() if DATA_VOLUME_NAME in template_volume_names(d)))
    return TemplatePlan(pods=pods, images=images, with_volume=with_volume)


def _memory_crossings(graph: PipelineGraph, group_of: dict[str, str]) -> list[str]:
    """In-memory datasets written in one task and read in another: lost between the two processes.
    One pass over the nodes' inputs (a pass per dataset over all nodes was quadratic)."""
    producer = graph.producers()
    crossing = set()
    for node in graph.nodes:
        for name in node.inputs:
            info, source = graph.datasets.get(name), producer.get(strip_transcoding(name))
            if info is not None and info.memory and source is not None and group_of[source] != group_of[node.name]:
                crossing.add(name)
    return sorted(crossing)


def _shown(names: list[str]) -> str:
    return ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")


def _container_limits(profile: ResourceConfig) -> ContainerLimits:
    cpu, memory = profile.requests.get("cpu"), profile.limits.get("memory")
    return ContainerLimits(cpus=quantity_value(cpu) if cpu else None,
                           mem_limit=int(quantity_value(memory)) if memory else None, labels=dict(profile.labels))


def _docker_warnings(rc: RunConfig, profiles: dict[str, ResourceConfig]) -> list[str]:
    """Settings that only a Kubernetes cluster applies: said once, never silently dropped."""
    ignored = [key for key, value in (
        ("secrets", rc.secrets), ("image_pull_secrets", rc.image_pull_secrets),
        ("service_account_name", rc.service_account_name), ("kubernetes_pod_templates", rc.kubernetes_pod_templates),
    ) if value]
    for name, profile in profiles.items():
        fields = [f for f in ("node_selectors", "tolerations") if getattr(profile, f)]
        fields += [f"limits.{key}" for key in sorted(set(profile.limits) - {"memory"})]
        if fields:
            ignored.append(f"resources.{name}: {', '.join(fields)}")
    if not ignored:
        return []
    return [f"execution docker: these Kubernetes settings have no Docker equivalent and are not applied: "
            f"{'; '.join(ignored)} (on one host, requests.cpu becomes CPU shares, limits.memory a memory limit "
            "and labels container labels)"]


def _kedro_args(kedro_env: str | None, pipeline: str) -> tuple[str, ...]:
    """The ``kedro run`` arguments every task shares (its nodes are added per task)."""
    return ("run", *(("--env", kedro_env) if kedro_env else ()), "--pipeline", pipeline)


def _kubernetes_spark_plan(config: PluginConfig, dag_id: str, graph: PipelineGraph, tasks: list[PlannedTask],
                           spark_task_ids: tuple[str, ...], params: str | None, kedro_args: tuple[str, ...],
                           profiles: dict[str, ResourceConfig], mlflow: bool, warnings: list[str]) -> SparkPlan | None:
    """``spark.type: kubernetes``: one spark-submit per group, each with its task's resource profile;
    no cluster to create and nothing to upload (the project image is the Spark image)."""
    rc = config.run_config
    sc = rc.spark
    if sc is None or not spark_task_ids:
        return None
    assert rc.image is not None  # required for execution kubernetes; a check names the key otherwise
    env = airflow_env(rc.env_vars)
    if mlflow:
        env["MLFLOW_RUN_ID"] = mlflow_run_id(MLFLOW_START_TASK)
    submit = KubernetesSubmit(
        spark=sc, image=sc.image or rc.image, image_pull_policy=rc.image_pull_policy, namespace=rc.namespace,
        service_account_name=rc.service_account_name,
        application=sc.application or default_application(rc.project_path, graph.project.package_name),
        source_path=f"{rc.project_path.rstrip('/')}/src", dag_id=dag_id, env=env, secrets=tuple(rc.secrets))
    by_id = {t.task_id: t for t in tasks}
    jobs = tuple(SparkJob(task_id=task_id, nodes=by_id[task_id].nodes, main_uri=submit.application,
                          args=("--params", AirflowTemplate(params)) if params else ()) for task_id in spark_task_ids)
    submits, unapplied = {}, set()
    for job in jobs:
        profile = by_id[job.task_id].profile
        submits[job.task_id], missing = submit_spec(submit, job, kedro_args, profiles.get(profile) if profile else None)
        unapplied.update(missing)
    if unapplied:
        warnings.append(f"spark type kubernetes: {', '.join(sorted(unapplied))} cannot be passed to spark-submit "
                        "and are not applied to the Spark driver and executors")
    return SparkPlan(artifacts_uri="", project_home=rc.project_path, user_init_path=None, user_post_init_path=None,
                     jobs=jobs, create=None, delete=None, submits=submits, factory=SUBMIT_OPERATOR)


def _mlflow_plan(graph: PipelineGraph, config: PluginConfig, git: GitInfo, warnings: list[str],
                 pod_templates: dict[str, dict]) -> MlflowPlan | None:
    """One MLflow run per DAG run, when the project has kedro-mlflow config or the config asks for it."""
    rc = config.run_config
    info = graph.mlflow
    if not (rc.mlflow.enabled if rc.mlflow.enabled is not None else info is not None):
        if rc.authentication.type != "Null":
            warnings.append(f"run_config.authentication {rc.authentication.type} applies to the MLflow tasks, and "
                            "MLflow is off here (no kedro-mlflow mlflow.yml, run_config.mlflow.enabled not true): "
                            "it has no effect")
        return None
    if info is not None and not info.installed:
        warnings.append("the project has kedro-mlflow configuration but mlflow is not installed where the "
                        "graph was extracted; the start_mlflow_run task needs it in the project image")
    experiment = rc.experiment_name or (info.experiment_name if info else None) or graph.project.package_name
    return MlflowPlan(experiment_name=experiment, tracking_uri=_tracking_uri(rc, info, warnings),
                      tags=_mlflow_tags(rc, graph, git), auth=rc.authentication.type,
                      auth_params=tuple(rc.authentication.params),
                      templates_with_run_id=_templates_with_run_id(pod_templates))


def _tracking_uri(rc: RunConfig, info: MlflowInfo | None, warnings: list[str]) -> str | None:
    uri = rc.mlflow.tracking_uri or (info.tracking_uri if info else None)
    if uri and "://" not in uri and not uri.startswith(("databricks", "/")):
        # kedro-mlflow reads a relative URI from the project folder
        uri = f"file://{rc.project_path}/{uri}"
        if rc.execution == "kubernetes":
            warnings.append(f"MLflow tracking URI {uri!r} is a folder inside the pod and is lost when the pod "
                            "ends; point server.mlflow_tracking_uri (mlflow.yml) at a tracking server")
    return uri


def _mlflow_tags(rc: RunConfig, graph: PipelineGraph, git: GitInfo) -> dict[str, str]:
    tags = {
        "mlflow.source.git.commit": git.commit_id,
        "git.branch": git.branch_name,
        "kedro.pipeline": graph.pipeline,
        "kedro.project": graph.project.package_name,
    }
    if rc.image and rc.execution != "local":
        tags["docker.image"] = rc.image  # what the run ran
    return tags


def _templates_with_run_id(pod_templates: dict[str, dict]) -> tuple[str, ...]:
    """Pod templates that set MLFLOW_RUN_ID themselves (theirs wins)."""
    def sets_run_id(pod: dict) -> bool:
        containers = (pod.get("spec") or {}).get("containers", []) or []
        return any(isinstance(e, dict) and e.get("name") == "MLFLOW_RUN_ID"
                   for c in containers for e in c.get("env", []) or [])

    return tuple(sorted(name for name, pod in pod_templates.items() if sets_run_id(pod)))


def _spark_plan(config: PluginConfig, git: GitInfo, dag_id: str, tasks: list[PlannedTask],
                spark_task_ids: tuple[str, ...], params: str | None) -> SparkPlan | None:
    """Dataproc or a custom factory: a cluster per run, jobs reading uploaded artifacts. The built-in
    Dataproc factory runs here (pure); a custom one's operators come later (they run project code)."""
    sc = config.run_config.spark
    if sc is None or not spark_task_ids:
        return None
    artifacts_uri = f"{sc.artifacts_path.rstrip('/')}/{dag_id}/{git.commit_id[:12]}"
    base_name = sc.cluster_name or dns_name("spark-" + dag_id, max_len=30)
    settings = SparkSettings(
        project_id=sc.project_id, region=sc.region,
        # one cluster per DAG run: parallel runs never share (or delete) each other's cluster
        cluster_name=AirflowTemplate(base_name + "-{{ run_id | kaf_run_hash }}"),
        cluster_config=dict(sc.cluster_config), artifacts_uri=artifacts_uri,
        init_script_uri=f"{artifacts_uri}/init.sh", archive_uri=f"{artifacts_uri}/project.tar.gz", dag_id=dag_id,
    )
    nodes_of = {t.task_id: t.nodes for t in tasks}
    jobs = tuple(SparkJob(task_id=task_id, nodes=nodes_of[task_id], main_uri=f"{artifacts_uri}/run_{task_id}.py",
                          args=("--params", AirflowTemplate(params)) if params else ()) for task_id in spark_task_ids)
    built_in = sc.type == "dataproc" and not sc.operator_factory
    output = run_factory(DataprocOperatorFactory(), settings, list(jobs)) if built_in else FactoryOutput(None, None, {})
    return SparkPlan(
        artifacts_uri=artifacts_uri, project_home=PROJECT_HOME, user_init_path=sc.user_init_path,
        user_post_init_path=sc.user_post_init_path, jobs=jobs, create=output.create, delete=output.delete,
        submits=output.submits,
        # the configured (validated) class path, never a name the imported class reports about itself
        factory=sc.operator_factory or f"{DataprocOperatorFactory.__module__}.{DataprocOperatorFactory.__name__}",
        archive_exclude=tuple(sc.archive_exclude), settings=None if built_in else settings,
    )


def content_tag(source_without_hash: str) -> str:
    return f"dag_hash:{short_hash(source_without_hash, 16)}"
