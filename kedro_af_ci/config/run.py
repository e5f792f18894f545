"""The whole file: ``host``, ``output`` and ``run_config``, which holds the other sections."""

from __future__ import annotations

import difflib
import logging
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from ..vocabulary.asset_uris import asset_uri
from ..vocabulary.dag_tags import check_user_tag
from ..vocabulary.modes import GROUPINGS
from .common import (
    AirflowKey,
    Choice,
    DnsLabel,
    DnsSubdomain,
    Duration,
    EnvName,
    ImageRef,
    ParamName,
    StrictModel,
    VariableName,
    to_str_list,
)
from .dependencies import ExternalDependency
from .docker import DockerConfig
from .mlflow import AuthenticationConfig, MlflowConfig
from .notifications import FailureHandler
from .resources import PodTemplateConfig, ResourceConfig
from .schedule import CronExpression, StartDate
from .secrets import SecretConfig
from .spark import AnySpark
from .volume import VolumeConfig

log = logging.getLogger(__name__)

DEFAULT_PROFILE = "__default__"  # the resource profile and pod template every node gets
# the predecessor's (kedro-airflow-k8s) names of keys that have another name here
RENAMED = {"startup_timeout": "startup_time"}
DagTag = Annotated[str, AfterValidator(check_user_tag)]
CREDENTIALS_IN_URL = ("the URL carries credentials, which would be printed and stored; use AIRFLOW_API_TOKEN, "
                      "or AIRFLOW_USERNAME and AIRFLOW_PASSWORD")


class Execution(Choice):
    """Where a task runs."""

    KUBERNETES = "kubernetes"
    DOCKER = "docker"
    LOCAL = "local"


class TaskGroups(Choice):
    """How the DAG draws Kedro's modular pipelines."""

    NAMESPACE = "namespace"
    NONE = "none"


class PodSecurity(Choice):
    """A Kubernetes Pod Security Standard, from the least restricted to the most (policy/pod_security.py)."""

    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"

    @property
    def rank(self) -> int:
        return list(PodSecurity).index(self)


class Grouping(Choice):
    """Which nodes share a task."""

    AUTO = "auto"
    NONE = "none"
    MEMORY = "memory"
    NAMESPACE = "namespace"
    TAG = "tag"


if tuple(g.value for g in Grouping) != GROUPINGS:  # vocabulary/modes.py is the one list the CLI and the action read
    raise ImportError("config.run.Grouping and modes.GROUPINGS differ")


def variables_as_env(value: Any) -> Any:
    """The seed's list of Airflow Variable names: each becomes the variable of that name, read at run time."""
    if not isinstance(value, list):
        return value
    env = {}
    for name in value:
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"{name!r} is not an Airflow Variable name usable as an environment variable "
                             "(letters, digits and _, not starting with a digit)")
        env[name] = "{{ var.value." + name + " }}"
    return env


def check_host(value: str | None) -> str | None:
    """An http(s) URL without credentials, without its trailing slash."""
    if value is None:
        return None
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*(:\d+)?(/\S*)?", value):  # the predecessor took a bare host
        log.warning("host %r has no scheme: read as https://%s; write it so (the token goes to https only, or to "
                    "plain http on this machine)", value, value)
        value = f"https://{value}"
    if not re.match(r"^https?://[^\s/$.?#][^\s]*\Z", value):
        raise ValueError(f"{value!r} is not an http(s) URL (include the scheme, e.g. https://airflow.example.com)")
    if "@" in urlsplit(value).netloc:  # never echo the value: it holds a secret
        raise ValueError(CREDENTIALS_IN_URL)
    return value.rstrip("/")


StrList = BeforeValidator(to_str_list)


class RunConfig(StrictModel):
    """How the pipeline runs: image, schedule, Kubernetes settings and the sections below."""

    execution: Execution = Field(  # first: image's validator reads it
        default=Execution.KUBERNETES, validate_default=True,
        description="Where tasks run: `kubernetes` (a pod each), `docker` (containers on one Docker engine), "
                    "`local` (`kedro run` in the Airflow worker).")
    image: ImageRef | None = Field(
        default=None, validate_default=True,
        description="Image that runs the nodes (required unless `execution` is `local`).")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default="IfNotPresent", description="When the image is pulled; `Always` suits a tag that is pushed again.")
    startup_time: int = Field(
        default=600, gt=0, description="Seconds a pod may take to start (`startup_timeout` is read too).")
    namespace: DnsLabel = Field(default="airflow", description="Kubernetes namespace of the pods and the volume.")
    experiment_name: str | None = Field(
        default=None, description="MLflow experiment; the DAG's name when `run_name` is not set.")
    run_name: str | None = Field(
        default=None, description="DAG display name, from which the dag_id is derived; default `experiment_name`.")
    cron_expression: CronExpression | None = Field(
        default=None, description="Schedule: a preset (`@daily`…) or a 5-field cron expression; empty: none.")
    start_date: StartDate = Field(
        default=None, description="Start of the schedule: `YYYYMMDD`, `YYYY-MM-DD` or ISO 8601 (UTC unless "
                                  "given); default 2024-01-01.")
    description: str | None = Field(default=None, description="DAG description.")
    image_pull_secrets: Annotated[list[DnsSubdomain], StrList] = Field(
        default_factory=list, description="Secrets holding registry credentials: a list or a comma-separated string.")
    service_account_name: DnsSubdomain | None = Field(
        default=None, description="Kubernetes service account of the pods.")
    failure_handlers: list[FailureHandler] = Field(
        default_factory=list, description="Notified when a task fails (every task's `on_failure_callback`).")
    volume: VolumeConfig = Field(default_factory=VolumeConfig, description="The run's shared data volume.")
    secrets: list[SecretConfig] = Field(
        default_factory=list, description="Kubernetes Secrets exposed to every task.")
    macro_params: Annotated[list[ParamName], StrList] = Field(
        default_factory=list, description="Airflow macros passed as parameters: `ds` becomes "
                                          "`--params ds={{ ds }}`. Airflow 2's date macros that Airflow 3 "
                                          "removed (`prev_ds`, `next_ds`…) are read there from their "
                                          "replacement, under the same name, with a warning.")
    variables_params: Annotated[list[VariableName], StrList] = Field(
        default_factory=list, description="Airflow Variables passed as parameters: `env` becomes "
                                          "`--params env={{ var.value.get('env') }}`.")
    resources: dict[str, ResourceConfig] = Field(
        default_factory=dict, description="Resource profiles by name: a node tagged `resources.<name>` gets that "
                                          "one layered over `__default__`, other nodes `__default__`.")
    external_dependencies: list[ExternalDependency] = Field(
        default_factory=list, description="DAGs or tasks this DAG waits for before its first task.")
    authentication: AuthenticationConfig = Field(
        default_factory=AuthenticationConfig, description="How the MLflow tasks authenticate to the tracking "
                                                          "server.")
    kubernetes_pod_templates: dict[str, PodTemplateConfig] = Field(
        default_factory=dict, description="Pod templates by name: a node tagged `k8s_template.<name>` gets that "
                                          "one, other nodes `__default__`, else the built-in pod.")
    pod_security: PodSecurity = Field(
        default=PodSecurity.BASELINE, validate_default=True,
        description="The Pod Security Standard the pods' namespace enforces: pod templates outside it are refused "
                    "before any DAG is written. `baseline`: no host namespaces, host paths or ports, privileged "
                    "containers, added capabilities, SELinux or AppArmor overrides; `restricted`: also non-root, "
                    "no privilege escalation, every capability dropped, a seccomp profile; the tool's own pods "
                    "are then given these settings (the image must run as a numeric non-root `USER`, as `init`'s "
                    "Dockerfile does; not with `spark.type: kubernetes`); `privileged`: no check. In CI, "
                    "`deployment.pod_security` is the lowest a branch may choose.")
    spark: AnySpark | None = Field(
        default=None, description="Where Spark nodes run; empty: they run as any other node.")
    mlflow: MlflowConfig = Field(
        default_factory=MlflowConfig, description="MLflow run tracking: one MLflow run per DAG run.")
    grouping: Grouping = Field(
        default=Grouping.AUTO, validate_default=True,
        description="Nodes per task: `auto` (one per node, except nodes passing in-memory datasets: `memory`), "
                    "`none` (one per node), `memory` (linked by in-memory datasets), `namespace` (per top-level "
                    "namespace), `tag` (per `group.<name>` tag). `--group-by` overrides it.")
    task_groups: TaskGroups = Field(
        default=TaskGroups.NAMESPACE, validate_default=True,
        description="`namespace`: the tasks of each Kedro namespace are drawn in one Airflow task group (nested "
                    "as the namespaces are; a task of nodes from several namespaces sits in the deepest one they "
                    "share; task ids unchanged); `none`: a flat DAG. Not with `grouping: namespace`, whose tasks "
                    "are the namespaces.")
    project_path: str = Field(
        default="/home/kedro", description="Project root inside the image (absolute); the data volume is mounted "
                                           "at `<project_path>/data`.")
    env_vars: Annotated[dict[EnvName, str], BeforeValidator(variables_as_env)] = Field(
        default_factory=dict, description="Environment of every task: a mapping `NAME: value` (Jinja in a value is "
                                          "Airflow's to render), or a list of Airflow Variable names, each read "
                                          "into the variable of that name at run time.")
    catchup: bool = Field(default=False, description="Run the schedule's missed intervals since `start_date`.")
    max_active_runs: int | None = Field(
        default=None, gt=0, description="Most DAG runs at once; default: Airflow's setting.")
    retries: int = Field(default=0, ge=0, description="Retries of a failed task (a resource profile may set its "
                                                       "own).")
    deferrable: bool = Field(
        default=False, description="`execution: kubernetes`: the pods' tasks wait in Airflow's triggerer instead "
                                   "of holding a worker slot while the pod runs (needs a running triggerer).")
    schedule_on_assets: list[str] = Field(
        default_factory=list, description="Asset URIs (`s3://bucket/path`, `gs://…`) this DAG is scheduled on: "
                                          "it runs when each has been updated, e.g. by another Kedro project's "
                                          "DAG. Instead of `cron_expression`.")
    max_active_tasks: int | None = Field(
        default=None, gt=0, description="Most tasks of this DAG running at once, across its runs; default: "
                                        "Airflow's `max_active_tasks_per_dag`.")
    dagrun_timeout: Duration | None = Field(
        default=None, description="Longest a DAG run may take (seconds or ISO 8601): past it, the run fails.")
    owner: AirflowKey | None = Field(default=None, description="Owner of the DAG's tasks, as the UI shows it.")
    tags: list[DagTag] = Field(
        default_factory=list, description="Extra tags of the DAG (besides the tool's own: branch, commit…).")
    docker: DockerConfig = Field(default_factory=DockerConfig, description="Docker engine of `execution: docker`.")
    group_spark_nodes: bool = Field(
        default=True, description="`false`: each Spark node is a task of its own instead of one per group.")

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: Any) -> Any:
        """A predecessor's config loads unchanged: its key names are read, with a warning to rename them."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for old, new in RENAMED.items():
            if old in data:
                if new in data:
                    raise ValueError(f"both {old} and {new} are set: keep {new} ({old} is its former name)")
                log.warning("run_config.%s is the former name of run_config.%s: read as such; rename it", old, new)
                data[new] = data.pop(old)
        return data

    @field_validator("image")
    @classmethod
    def _image_for_containers(cls, value: str | None, info) -> str | None:
        if value is None and info.data.get("execution", Execution.KUBERNETES) != Execution.LOCAL:
            raise ValueError("required key is missing: the image that runs the nodes (unless execution is local)")
        return value

    @field_validator("resources", "kubernetes_pod_templates")
    @classmethod
    def _default_spelt_right(cls, value: dict[str, Any]) -> dict[str, Any]:
        """A misspelt ``__default__`` is a profile no node gets: every node would run with none, silently."""
        for name in value:
            if name != DEFAULT_PROFILE and name.startswith("_") and difflib.get_close_matches(
                    name, [DEFAULT_PROFILE], n=1, cutoff=0.7):
                raise ValueError(f"{name!r} looks like a misspelt {DEFAULT_PROFILE!r} (did you mean "
                                 f"{DEFAULT_PROFILE!r}?): only {DEFAULT_PROFILE} applies to every node; a node "
                                 "gets another profile only by its tag")
        return value

    @field_validator("schedule_on_assets")
    @classmethod
    def _asset_uris(cls, value: list[str]) -> list[str]:
        bad = [uri for uri in value if asset_uri(uri) is None]
        if bad:
            raise ValueError(f"{bad[0]!r} is not an Asset URI this tool writes: scheme://bucket/path with a scheme "
                             "of s3, gs, abfs, az, hdfs, file, bigquery, no credentials, query or braces")
        return [str(asset_uri(uri)) for uri in value]  # as the writing DAG names it

    @model_validator(mode="after")
    def _one_schedule(self) -> RunConfig:
        if self.schedule_on_assets and self.cron_expression:
            raise ValueError("set cron_expression or schedule_on_assets, not both")
        return self

    @field_validator("project_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not re.fullmatch(r"(/[A-Za-z0-9_.@+-]+)+/?|/", value) or "/../" in f"{value}/":
            raise ValueError(f"{value!r} must be an absolute path of letters, digits and _ . @ + - (e.g. /home/kedro)")
        return value.rstrip("/") or "/"


class PluginConfig(StrictModel):
    """``conf/<env>/airflow-k8s.yaml``."""

    host: Annotated[str | None, AfterValidator(check_host)] = Field(
        default=None, description="Airflow base URL with its scheme; no credentials in it.")
    output: str | None = Field(
        default=None, description="Where the DAG file goes: a folder or an fsspec URL (`gs://`, `s3://`…).")
    run_config: RunConfig = Field(description="How the pipeline runs.")
