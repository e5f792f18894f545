"""The plan's data: what every later stage reads (docs/architecture.md, "Plan")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .. import __version__
from ..config import (
    DockerConfig,
    Execution,
    ExternalDependency,
    PodSecurity,
    ResourceConfig,
    SecretConfig,
    SlackFailureHandler,
)
from ..spark import (
    OperatorSpec,
    SparkJob,
    SparkSettings,
)
from ..vocabulary.airflow_template import ConfigTemplate
from ..vocabulary.dag_tags import (  # noqa: F401 - the plan's tags, imported from here by the stages after it
    BRANCH_TAG,
    COMMIT_TAG,
    CONTENT_TAG,
    EXPERIMENT_TAG,
    EXPERIMENT_TAGS,
    MAX_TAG,
    REPOSITORY_TAG,
    TAG_PREFIX,
)
from ..vocabulary.k8s_names import short_hash
from .fixed_tasks import FIXED_TASKS
from .warnings import PlanWarning


def owner_tags(branch: str, repository: str | None) -> tuple[str, ...]:
    """Whose DAG it is, as tags: the branch, and the repository when the CI names one."""
    return (owner_tag(BRANCH_TAG, branch), *((owner_tag(REPOSITORY_TAG, repository),) if repository else ()))


def owner_tag(prefix: str, value: str) -> str:
    """``prefix`` + ``value`` as a tag: whole when it fits, else cut with a hash of the whole value, so
    two values never share a tag (up to the hash) and the same value always gives the same tag."""
    tag = prefix + value
    if len(tag) <= MAX_TAG:
        return tag
    digest = "~" + short_hash(value, 20)
    return tag[:MAX_TAG - len(digest)] + digest


DEFAULT_START_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)


MLFLOW_START_TASK = FIXED_TASKS.start_mlflow_run
# what a task reads MLFLOW_RUN_ID from: the start task's XCom (Jinja for Airflow to render)
MLFLOW_RUN_ID = "{{ ti.xcom_pull(task_ids='" + MLFLOW_START_TASK + "') }}"


DATA_VOLUME_NAME = "kedro-data"


INIT_MOUNT_PATH = "/mnt/kedro-data-volume"


# run_config.pod_security restricted: the security contexts of every pod the DAG makes, and of the MLflow
# start task's XCom sidecar (an image that runs as root unless told otherwise: runAsNonRoot needs a user)
RESTRICTED_POD_CONTEXT: dict[str, Any] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED_CONTAINER_CONTEXT: dict[str, Any] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
XCOM_SIDECAR_CONTEXT: dict[str, Any] = {**RESTRICTED_CONTAINER_CONTEXT, "runAsUser": 65534}  # nobody


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
class DagSettings:
    """The DAG object's own arguments: its id, name, schedule and run limits."""

    dag_id: str
    display_name: str
    description: str | None
    schedule: str | None
    start_date: datetime
    catchup: bool
    max_active_runs: int | None
    retries: int
    tags: tuple[str, ...]
    max_active_tasks: int | None = None
    dagrun_timeout: timedelta | None = None
    owner: str | None = None


@dataclass(frozen=True)
class KedroRun:
    """What every task runs, and the checkout it comes from (the DAG's docstring and artifacts name it)."""

    project_path: str
    project_name: str
    pipeline: str
    kedro_env: str | None
    kedro_args: tuple[str, ...]  # `kedro run` arguments shared by every node task
    params: str | None  # value of --params, a Jinja template built only from validated names
    commit_id: str
    branch_name: str
    version: str = __version__


@dataclass(frozen=True)
class ContainerSettings:
    """The container every node task starts: image, environment, and (Kubernetes) where and as whom."""

    image: str | None  # None: execution local runs in the worker's own environment
    image_pull_policy: str
    env_vars: dict[str, str]
    namespace: str
    startup_timeout: int
    service_account_name: str | None
    image_pull_secrets: tuple[str, ...]
    secrets: tuple[SecretConfig, ...]
    deferrable: bool = False  # execution kubernetes: the pod tasks wait in the triggerer
    pod_security: PodSecurity = PodSecurity.BASELINE  # the standard the pods' namespace enforces
    # execution kubernetes: every pod's security context (the volume's fsGroup; restricted's settings),
    # its main container's and the XCom sidecar's (restricted)
    security_context: dict[str, Any] | None = None
    container_security_context: dict[str, Any] | None = None
    xcom_sidecar_security_context: dict[str, Any] | None = None


@dataclass(frozen=True)
class DockerPlan:
    """execution: docker: the worker's engine settings and each resource profile as Docker limits."""

    settings: DockerConfig
    limits: dict[str, ContainerLimits]


@dataclass(frozen=True)
class TemplatePlan:
    """The config's pod templates, parsed and checked (plan/pod_templates.py)."""

    pods: dict[str, dict]  # name -> pod dict for pod_template_dict
    images: dict[str, str]  # name -> image override
    with_volume: tuple[str, ...]  # templates that define the data volume themselves


@dataclass(frozen=True)
class TaskGroups:
    """Kedro namespaces as task groups: (group id, label, parent id), parents first; task id -> group id."""

    groups: tuple[tuple[str, str, str | None], ...] = ()
    group_of: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AssetPlan:
    """Catalog datasets as Assets (plan/assets.py): persistent datasets left out are listed, and why."""

    by_task: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # id -> inlets, outlets
    skipped: tuple[str, ...] = ()
    schedule: tuple[str, ...] = ()  # what the DAG is scheduled on, instead of a cron


@dataclass(frozen=True)
class DagPlan:
    """Every decision about the DAG, in sections a stage reads whole (docs/architecture.md, "Plan")."""

    dag: DagSettings
    run: KedroRun
    execution: Execution
    container: ContainerSettings
    tasks: tuple[PlannedTask, ...]
    profiles: dict[str, ResourceConfig]
    # Airflow task settings (retries, pool, timeouts…) by resource profile key (None: tasks without one)
    task_settings: dict[str | None, dict[str, Any]] = field(default_factory=dict)
    templates: TemplatePlan = field(default_factory=lambda: TemplatePlan({}, {}, ()))
    docker: DockerPlan | None = None
    volume: VolumePlan | None = None
    sensors: tuple[SensorPlan, ...] = ()
    failure_handlers: tuple[SlackFailureHandler, ...] = ()
    mlflow: MlflowPlan | None = None
    spark: SparkPlan | None = None
    task_groups: TaskGroups = field(default_factory=TaskGroups)
    assets: AssetPlan = field(default_factory=AssetPlan)
    warnings: tuple[PlanWarning, ...] = ()  # plan/warnings.py: code, key and text

    @property
    def edges(self) -> list[tuple[str, str]]:
        return [(up, task.task_id) for task in self.tasks for up in task.upstream]


def content_tag(source_without_hash: str) -> str:
    return f"{CONTENT_TAG}{short_hash(source_without_hash, 16)}"


def airflow_env(env_vars: dict[str, str]) -> dict[str, str]:
    """Jinja the user wrote is Airflow's to render (substituted values are inert Jinja literals by then)."""
    return {k: ConfigTemplate(v) if ("{{" in v or "{%" in v) else v for k, v in env_vars.items()}


def run_name_of(run_name: str | None, experiment_name: str | None, package_name: str) -> str:
    """The DAG's name: run_config.run_name, else the experiment (as kedro-airflow-k8s did), else the
    package; the DAG id is ``k8s_names.dag_id_of`` of it."""
    return run_name or experiment_name or package_name


def kedro_args_of(kedro_env: str | None, pipeline: str) -> tuple[str, ...]:
    """The ``kedro run`` arguments every task shares (its nodes are added per task)."""
    return ("run", *(("--env", kedro_env) if kedro_env else ()), "--pipeline", pipeline)
