"""PipelineGraph + PluginConfig → DagPlan: every decision about the DAG, made without I/O.

The renderer only turns this plan into source text, so all naming, resource selection, volume
wiring and dependency logic is here, where it is testable without Airflow.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

from .. import __version__
from ..config import (
    ExternalDependency,
    KubernetesSpark,
    PluginConfig,
    PodSecurity,
    ResourceConfig,
    RunConfig,
)
from ..errors import ConfigError
from ..gitinfo.commit import GitInfo
from ..graph.model import PipelineGraph
from ..vocabulary.k8s_names import dag_id_of, dns_name, quantity_value, sanitize_id
from .assets import plan_assets
from .mlflow import mlflow_plan
from .model import (
    COMMIT_TAG,
    DATA_VOLUME_NAME,
    DEFAULT_START_DATE,
    EXPERIMENT_TAG,
    RESTRICTED_CONTAINER_CONTEXT,
    RESTRICTED_POD_CONTEXT,
    TAG_PREFIX,
    XCOM_SIDECAR_CONTEXT,
    AssetPlan,
    ContainerLimits,
    ContainerSettings,
    DagPlan,
    DagSettings,
    DockerPlan,
    KedroRun,
    PlannedTask,
    SensorPlan,
    TaskGroups,
    TemplatePlan,
    VolumePlan,
    airflow_env,
    kedro_args_of,
    owner_tags,
    run_name_of,
)
from .pod_templates import parse_pod_template, template_volume_names
from .spark import kubernetes_spark_plan, spark_plan
from .task_groups import plan_task_groups
from .tasks import classify_spark, group_tasks, plan_tasks, unique_ids, warn_memory_crossings
from .warnings import PlanWarning

log = logging.getLogger(__name__)


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


# Airflow 3's reading of a removed macro, kept under its old name (a predecessor's config loads as it is):
# its replacement, formatted as the old macro was; `conf` has none (it is a variables_params entry now)
AIRFLOW3_READING = {
    name: f"{instead} | ds" if name.endswith("_ds") else f"{instead} | ds_nodash" if name.endswith("_nodash")
    else instead for name, instead in _REMOVED_IN_AIRFLOW3.items() if name != "conf"}


def _params_template(config: PluginConfig, airflow_major: int | None) -> str | None:
    rc = config.run_config
    reading = AIRFLOW3_READING if airflow_major is not None and airflow_major >= 3 else {}
    parts = [f"{name}={{{{ {reading.get(name, name)} }}}}" for name in rc.macro_params]
    parts += [f"{name}={{{{ var.value.get('{name}') }}}}" for name in rc.variables_params]
    return ",".join(parts) or None


def build_plan(graph: PipelineGraph, config: PluginConfig, git: GitInfo, *,
               kedro_env: str | None = None, schedule: str | bool | None = True,
               grouping: str | None = None, run_once: bool = False,
               airflow_major: int | None = None, outlet_prefixes: tuple[str, ...] | None = None) -> DagPlan:
    """Plan the DAG in named steps, without I/O (docs/architecture.md, "Plan"). ``schedule=True`` takes
    the config's cron; ``None``/``False`` means no schedule. ``run_once``: the DAG runs once, now, by
    hand: it does not wait for other DAGs (as the original plugin). ``airflow_major``: the Airflow the
    DAG is checked against (None: not known here). A custom Spark factory's operators are left to
    :func:`kedro_af_ci.spark_factory.apply.apply_factory`, which runs project code. ``outlet_prefixes``: the
    Asset URIs whose events the DAG may emit (None: every one; a run-once DAG emits none, so a preview
    never triggers the DAGs scheduled on production data)."""
    rc = config.run_config
    warnings: list[PlanWarning] = []
    run_name = run_name_of(rc.run_name, rc.experiment_name, graph.project.package_name)
    dag_id = dag_id_of(run_name)
    spark_of = classify_spark(graph, rc)
    groups = group_tasks(graph, grouping or rc.grouping, spark_of, warnings)
    tasks, profiles = plan_tasks(graph, config, groups, warnings)
    warn_memory_crossings(graph, tasks, warnings)
    check_removed_macros(rc, airflow_major, warnings)
    check_asset_schedule_macros(rc, airflow_major, warnings)
    volume = plan_volume(rc, dag_id)
    if rc.execution == "docker":
        warnings += _docker_warnings(rc, profiles)
    if rc.deferrable and rc.execution != "kubernetes":
        warnings.append(PlanWarning("deferrable-not-applied", "run_config.deferrable",
            f"run_config.deferrable applies to execution kubernetes only: the tasks of execution "
                        f"{rc.execution} hold their worker slot while they run"))
    sensors = plan_sensors(rc.external_dependencies, run_once, warnings)
    templates = plan_pod_templates(rc, tasks, volume, warnings)
    mlflow = mlflow_plan(graph, config, git, warnings, templates.pods)
    params = _params_template(config, airflow_major)
    kedro_args = kedro_args_of(kedro_env, graph.pipeline)
    spark_task_ids = tuple(t.task_id for t in tasks if t.group in set(spark_of.values()))
    if isinstance(rc.spark, KubernetesSpark):
        check_spark_pod_security(rc)
        spark = kubernetes_spark_plan(config, dag_id, graph, tasks, spark_task_ids, params, kedro_args, profiles,
                                       mlflow is not None, warnings)
    else:
        spark = spark_plan(config, git, dag_id, tasks, spark_task_ids, params)
    cron = rc.cron_expression if schedule is True else schedule or None
    return DagPlan(
        dag=dag_settings(rc, git, run_name, dag_id, cron),
        run=KedroRun(project_path=rc.project_path, project_name=graph.project.project_name, pipeline=graph.pipeline,
                     kedro_env=kedro_env, kedro_args=kedro_args, params=params, commit_id=git.commit_id,
                     branch_name=git.branch_name),
        execution=rc.execution, container=container_settings(rc, volume), tasks=tuple(tasks), profiles=profiles,
        task_settings=task_settings(rc, profiles), templates=templates, docker=docker_plan(rc, profiles),
        volume=volume, sensors=sensors, failure_handlers=tuple(rc.failure_handlers), mlflow=mlflow, spark=spark,
        task_groups=_task_groups(graph, tasks, rc, grouping or rc.grouping),
        assets=_assets(graph, tasks, rc, () if run_once else outlet_prefixes, schedule is True),
        warnings=tuple(warnings),
    )


def _assets(graph: PipelineGraph, tasks: list, rc: RunConfig, outlet_prefixes: tuple[str, ...] | None,
            scheduled: bool) -> AssetPlan:
    assets = plan_assets(graph, tasks, outlet_prefixes)
    return replace(assets, schedule=tuple(rc.schedule_on_assets) if scheduled else ())


def _task_groups(graph: PipelineGraph, tasks: list, rc: RunConfig, grouping: str) -> TaskGroups:
    """Namespaces as task groups, unless turned off or the tasks are the namespaces themselves."""
    if rc.task_groups == "none" or grouping == "namespace":
        return TaskGroups()
    groups, group_of = plan_task_groups(graph, tasks)
    return TaskGroups(tuple((g.group_id, g.label, g.parent) for g in groups), group_of)


def task_settings(rc: RunConfig, profiles: dict[str, ResourceConfig]) -> dict[str | None, dict[str, Any]]:
    """Each profile's Airflow task settings over ``run_config.retries`` (key None: tasks without a
    profile); profiles that set nothing are left out, so their tasks take Airflow's defaults."""
    base: dict[str, Any] = {"retries": rc.retries} if rc.retries else {}
    found: dict[str | None, dict[str, Any]] = {None: base}
    found.update({name: {**base, **p.task_settings()} for name, p in profiles.items()})
    return {name: settings for name, settings in found.items() if settings}


def dag_settings(rc: RunConfig, git: GitInfo, run_name: str, dag_id: str, cron: str | None) -> DagSettings:
    """The DAG's own arguments, from the config and the git checkout (its tags say whose it is)."""
    tags = [f"{TAG_PREFIX}:{__version__}", f"{COMMIT_TAG}{git.commit_id}"[:100],
            *owner_tags(git.branch_name, git.repository)]
    if rc.experiment_name:
        tags.append(f"{EXPERIMENT_TAG}{rc.experiment_name}"[:100])
    return DagSettings(
        dag_id=dag_id, display_name=run_name, description=rc.description, schedule=cron,
        start_date=rc.start_date or DEFAULT_START_DATE, catchup=rc.catchup, max_active_runs=rc.max_active_runs,
        retries=rc.retries, tags=tuple(dict.fromkeys([*tags, *rc.tags])), max_active_tasks=rc.max_active_tasks,
        dagrun_timeout=rc.dagrun_timeout, owner=rc.owner,
    )


def container_settings(rc: RunConfig, volume: VolumePlan | None = None) -> ContainerSettings:
    restricted = rc.execution == "kubernetes" and rc.pod_security == PodSecurity.RESTRICTED
    return ContainerSettings(
        image=rc.image, image_pull_policy=rc.image_pull_policy, env_vars=airflow_env(rc.env_vars),
        namespace=rc.namespace, startup_timeout=rc.startup_time, service_account_name=rc.service_account_name,
        image_pull_secrets=tuple(rc.image_pull_secrets), secrets=tuple(rc.secrets),
        deferrable=rc.deferrable and rc.execution == "kubernetes", pod_security=rc.pod_security,
        security_context=pod_security_context(rc, volume),
        container_security_context=RESTRICTED_CONTAINER_CONTEXT if restricted else None,
        xcom_sidecar_security_context=XCOM_SIDECAR_CONTEXT if restricted else None,
    )


def pod_security_context(rc: RunConfig, volume: VolumePlan | None) -> dict[str, Any] | None:
    """Every pod's security context (execution kubernetes): the data volume's group, so the image's
    user may write it; with ``pod_security: restricted``, a non-root user and the runtime's seccomp
    profile, as the restricted Pod Security Standard requires."""
    if rc.execution != "kubernetes":
        return None
    context = {"fsGroup": volume.owner} if volume is not None else {}
    if rc.pod_security == PodSecurity.RESTRICTED:
        context |= RESTRICTED_POD_CONTEXT
    return context or None


def check_spark_pod_security(rc: RunConfig) -> None:
    """spark-submit makes the driver and executor pods itself, from Spark's settings: none of them
    gives a pod the restricted standard's security contexts (only a pod template file, on the worker)."""
    if rc.pod_security == PodSecurity.RESTRICTED:
        raise ConfigError("spark.type kubernetes cannot run under pod_security restricted: spark-submit makes "
                          "the driver and executor pods itself, without the restricted standard's security "
                          "contexts (non-root, no privilege escalation, capabilities dropped, seccomp); use "
                          "pod_security baseline (in CI: a deployment whose pod_security is baseline), or "
                          "spark.type dataproc", key="run_config.spark.type")


def docker_plan(rc: RunConfig, profiles: dict[str, ResourceConfig]) -> DockerPlan | None:
    if rc.execution != "docker":
        return None
    return DockerPlan(rc.docker, {name: _container_limits(p) for name, p in profiles.items()})


def check_removed_macros(rc: RunConfig, airflow_major: int | None, warnings: list[PlanWarning]) -> None:
    """Macros Airflow 3 removed: an error when the DAG is checked against Airflow 3, else a warning."""
    removed = sorted(set(rc.macro_params) & set(_REMOVED_IN_AIRFLOW3))
    if not removed:
        return
    instead = "; ".join(f"{name}: use {_REMOVED_IN_AIRFLOW3[name]}" for name in removed)
    if airflow_major is not None and airflow_major >= 3:
        unreadable = [name for name in removed if name not in AIRFLOW3_READING]
        if unreadable:  # every task would fail to render
            raise ConfigError(f"{', '.join(unreadable)} no longer exist in Airflow 3 (use "
                              f"{_REMOVED_IN_AIRFLOW3[unreadable[0]]})", key="run_config.macro_params")
        warnings += [PlanWarning("macro-read-for-airflow3", "run_config.macro_params",
            f"run_config.macro_params: {name} no longer exists in Airflow 3: the parameter {name} is "
                                 f"{{{{ {AIRFLOW3_READING[name]} }}}} there, which can differ from Airflow 2's "
                                 f"{name} (a previous *successful* run, the data interval); to say so in the "
                                 f"config, use {_REMOVED_IN_AIRFLOW3[name]}") for name in removed]
        return
    warnings.append(PlanWarning("macro-removed-in-airflow3", "run_config.macro_params",
        f"run_config.macro_params: {', '.join(removed)} no longer exist in Airflow 3; "
                    f"tasks using them fail to render there ({instead})"))


# what an Airflow 3 run without a logical date (asset-triggered) cannot render
_LOGICAL_DATE_MACROS = {"ds", "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz", "logical_date",
                        "data_interval_start", "data_interval_end"}


def check_asset_schedule_macros(rc: RunConfig, airflow_major: int | None, warnings: list[PlanWarning]) -> None:
    """A run started by an Asset has no logical date on Airflow 3: date macros are undefined there."""
    dated = sorted(set(rc.macro_params) & _LOGICAL_DATE_MACROS) if rc.schedule_on_assets else []
    if not dated:
        return
    message = (f"{', '.join(dated)}: a run started by an Asset (schedule_on_assets) has no logical date on "
               "Airflow 3, so every task would fail to render them; use run_id or dag_run.run_after in "
               "variables, or drop them from macro_params")
    if airflow_major is not None and airflow_major >= 3:
        raise ConfigError(message, key="run_config.macro_params")
    warnings.append(PlanWarning("macro-without-logical-date", "run_config.macro_params",
        f"run_config.macro_params: {message}"))


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
                 warnings: list[PlanWarning]) -> tuple[SensorPlan, ...]:
    """One sensor per external dependency (none for run-once); the same one twice gets numbered ids."""
    if run_once:
        if dependencies:
            warnings.append(PlanWarning("sensors-left-out", "run_config.external_dependencies",
                f"run-once: the {len(dependencies)} external dependency sensor(s) are left out; "
                            "the scheduled DAG waits for them"))
        return ()

    def key(dep: ExternalDependency) -> str:
        return f"{dep.dag_id}__{dep.task_id}" if dep.task_id else dep.dag_id

    ids = unique_ids(list(dict.fromkeys(key(d) for d in dependencies)),
                      lambda n: sanitize_id("wait_for_" + n), "_")
    used: dict[str, int] = {}
    sensors = []
    for dep in dependencies:
        used[key(dep)] = used.get(key(dep), 0) + 1
        task_id = ids[key(dep)] if used[key(dep)] == 1 else f"{ids[key(dep)]}_{used[key(dep)]}"
        sensors.append(SensorPlan(task_id=task_id, dependency=dep))
    return tuple(sensors)


def plan_pod_templates(rc: RunConfig, tasks: list[PlannedTask], volume: VolumePlan | None,
                       warnings: list[PlanWarning]) -> TemplatePlan:
    """The pod templates the tasks use, parsed and checked."""
    pods: dict[str, dict] = {}
    for name in sorted({t.template for t in tasks if t.template}):
        key = f"run_config.kubernetes_pod_templates.{name}.template"
        if re.search(r"^type:\s*Pod\s*$", rc.kubernetes_pod_templates[name].template, flags=re.M):
            warnings.append(PlanWarning("pod-template-type-read-as-kind", "run_config.kubernetes_pod_templates",
                f"{key}: `type: Pod` (the seed's samples) is read as `kind: Pod`, the field Kubernetes "
                            "knows; write kind: Pod"))
        pods[name] = parse_pod_template(rc.kubernetes_pod_templates[name].template, key,
                                        volume.claim_name if volume else None)
    images = {name: image for name in pods if (image := rc.kubernetes_pod_templates[name].image)}
    with_volume = tuple(sorted(n for n, d in pods.items() if DATA_VOLUME_NAME in template_volume_names(d)))
    return TemplatePlan(pods=pods, images=images, with_volume=with_volume)


def _container_limits(profile: ResourceConfig) -> ContainerLimits:
    cpu, memory = profile.requests.get("cpu"), profile.limits.get("memory")
    return ContainerLimits(cpus=quantity_value(cpu) if cpu else None,
                           mem_limit=int(quantity_value(memory)) if memory else None, labels=dict(profile.labels))


def _docker_warnings(rc: RunConfig, profiles: dict[str, ResourceConfig]) -> list[PlanWarning]:
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
    return [PlanWarning("docker-settings-not-applied", "run_config.execution",
                        f"execution docker: these Kubernetes settings have no Docker equivalent and are not "
                        f"applied: {'; '.join(ignored)} (on one host, requests.cpu becomes CPU shares, "
                        "limits.memory a memory limit and labels container labels)")]
