"""Typed plugin configuration: ``conf/<base|env>/airflow-k8s.yaml`` → :class:`PluginConfig`.

Every key of the kedro-airflow-k8s configuration reference is modelled here and validated
strictly (unknown keys are errors, with a "did you mean"), because a typo that silently drops a
resource limit or a secret only shows up as a broken run in production. ``${name}`` and
``${name|default}`` are substituted from ``KEDRO_CONFIG_<NAME>`` environment variables, with
``commit_id`` and ``branch_name`` read from git when unset. Substitution happens on parsed YAML
scalars, never on the raw text, so a hostile branch name cannot change the YAML structure.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from . import k8s_names as names
from .errors import ConfigError
from .gitinfo import GitInfo, read_git_info

log = logging.getLogger(__name__)

CONFIG_FILENAMES = ("airflow-k8s.yaml", "airflow-k8s.yml")
ENV_PREFIX = "KEDRO_CONFIG_"

# ---------------------------------------------------------------------------------------------
# Field types


def _to_str_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _plain_scalar_str(value: Any) -> Any:
    """YAML turns ``1`` or ``0.5`` into numbers; quantities and labels are strings to Kubernetes."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


Quantity = Annotated[str, BeforeValidator(_plain_scalar_str), AfterValidator(names.check_quantity)]
DnsLabel = Annotated[str, AfterValidator(names.check_dns_label)]
DnsSubdomain = Annotated[str, AfterValidator(names.check_dns_subdomain)]
LabelKey = Annotated[str, AfterValidator(names.check_label_key)]
LabelValue = Annotated[str, BeforeValidator(_plain_scalar_str), AfterValidator(names.check_label_value)]
AnnotationValue = Annotated[str, BeforeValidator(_plain_scalar_str)]
ImageRef = Annotated[str, AfterValidator(names.check_image)]


def _check_resource_name(value: str) -> str:
    if not names.RESOURCE_NAME.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes resource name (e.g. cpu, memory, nvidia.com/gpu)")
    return value


ResourceName = Annotated[str, AfterValidator(_check_resource_name)]

_CRON_PRESETS = {
    "@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly",
    "@yearly", "@annually", "@midnight",
}
_CRON_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}),
    ("day of week", 0, 7, {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}),
)


def _check_cron_atom(atom: str, low: int, high: int, aliases: dict[str, int]) -> bool:
    base, _, step = atom.partition("/")
    if step and (not step.isdigit() or int(step) == 0):
        return False
    if base == "*":
        return True
    bounds = base.split("-")
    if len(bounds) > 2:
        return False
    values = []
    for bound in bounds:
        bound = bound.lower()
        if bound in aliases:
            values.append(aliases[bound])
        elif bound.isdigit():
            values.append(int(bound))
        else:
            return False
    if any(v < low or v > high for v in values):
        return False
    return len(values) == 1 or values[0] <= values[1]


def check_cron(value: str) -> str:
    """Validate an Airflow schedule: a preset or a 5-field cron expression."""
    text = value.strip()
    if text.lower() in _CRON_PRESETS:
        return text.lower()
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(
            f"{value!r} is not a cron expression: expected 5 fields (minute hour day-of-month month "
            "day-of-week) or a preset such as @daily"
        )
    for field_text, (label, low, high, aliases) in zip(fields, _CRON_FIELDS, strict=True):
        if field_text == "?" and label in ("day of month", "day of week"):
            continue
        if not all(_check_cron_atom(atom, low, high, aliases) for atom in field_text.split(",")):
            raise ValueError(f"{value!r} is not a cron expression: invalid {label} field {field_text!r} "
                             f"(allowed {low}-{high}, '*', ranges, lists and steps)")
    return " ".join(fields)


def _parse_start_date(value: Any) -> Any:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    text = str(value).strip()
    for fmt in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date: use YYYYMMDD, YYYY-MM-DD or an ISO 8601 datetime"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------
# Sections


class Toleration(StrictModel):
    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _exists_has_no_value(self) -> Toleration:
        if self.operator == "Exists" and self.value:
            raise ValueError("a toleration with operator Exists must not have a value")
        return self


class ResourceConfig(StrictModel):
    node_selectors: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    annotations: dict[LabelKey, AnnotationValue] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    requests: dict[ResourceName, Quantity] = Field(default_factory=dict)
    limits: dict[ResourceName, Quantity] = Field(default_factory=dict)

    def over(self, base: ResourceConfig) -> ResourceConfig:
        """This profile layered on ``base``: mappings merge key by key, tolerations add up."""
        return ResourceConfig(
            node_selectors={**base.node_selectors, **self.node_selectors},
            labels={**base.labels, **self.labels},
            annotations={**base.annotations, **self.annotations},
            tolerations=[*base.tolerations, *(t for t in self.tolerations if t not in base.tolerations)],
            requests={**base.requests, **self.requests},
            limits={**base.limits, **self.limits},
        )


class VolumeConfig(StrictModel):
    storageclass: str | None = None
    size: Quantity = "1Gi"
    access_modes: list[Literal["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod"]] = Field(
        default_factory=lambda: ["ReadWriteOnce"], min_length=1
    )
    skip_init: bool = False
    owner: int = Field(default=0, ge=0)
    disabled: bool = False
    keep: bool = False  # beyond the seed: keep the run's volume after the run, to inspect its data


    @field_validator("storageclass")
    @classmethod
    def _storageclass(cls, value: str | None) -> str | None:
        return names.check_dns_subdomain(value) if value else None


class SecretConfig(StrictModel):
    deploy_type: Literal["env", "volume"] = "env"
    deploy_target: str | None = None
    secret: DnsSubdomain
    key: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SecretConfig:
        if self.key is not None and not names.SECRET_KEY.match(self.key):
            raise ValueError(f"key {self.key!r} is not a valid Kubernetes secret key")
        if self.deploy_type == "volume":
            if not self.deploy_target or not self.deploy_target.startswith("/"):
                raise ValueError("deploy_type volume needs deploy_target: an absolute mount path")
        elif self.key is not None:
            if not self.deploy_target or not names.ENV_VAR_NAME.match(self.deploy_target):
                raise ValueError("deploy_type env with a key needs deploy_target: the environment variable name")
        elif self.deploy_target is not None:
            raise ValueError("deploy_type env without key exposes every key of the secret; "
                             "deploy_target must be left out (or give a key)")
        return self


class SlackFailureHandler(StrictModel):
    type: Literal["slack"]
    connection_id: str = "slack"
    message_template: str = (
        ":red_circle: Task Failed.\n*Task*: {task}\n*Dag*: {dag}\n"
        "*Execution Time*: {execution_time}\n*Log Url*: {url}"
    )

    @field_validator("message_template")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        allowed = {"task", "dag", "execution_time", "url"}
        try:
            fields = {f for _, f, _, _ in __import__("string").Formatter().parse(value) if f is not None}
        except ValueError as exc:
            raise ValueError(f"message_template is not a valid format string: {exc}") from None
        unknown = sorted(fields - allowed)
        if unknown:
            raise ValueError(f"message_template uses unknown placeholder(s) {unknown}; "
                             f"allowed: {sorted(allowed)}")
        return value


FailureHandler = Annotated[SlackFailureHandler, Field(discriminator="type")]


class ExternalDependency(StrictModel):
    dag_id: str
    task_id: str | None = None
    timeout: int = Field(default=1440, gt=0, description="minutes")
    check_existence: bool = True
    execution_delta: int = Field(default=0, ge=0, description="minutes")

    @field_validator("dag_id", "task_id")
    @classmethod
    def _airflow_key(cls, value: str | None) -> str | None:
        if value is not None and not names.AIRFLOW_KEY.match(value):
            raise ValueError(f"{value!r} is not a valid Airflow id (letters, digits, '_', '.', '-')")
        return value


def _auth_type(value: Any) -> Any:
    return "Null" if value is None or (isinstance(value, str) and value.lower() == "null") else value


class AuthenticationConfig(StrictModel):
    type: Annotated[Literal["Null", "GoogleOAuth2", "Vars"], BeforeValidator(_auth_type)] = "Null"
    params: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _vars_need_params(self) -> AuthenticationConfig:
        if self.type == "Vars" and not self.params:
            raise ValueError("authentication type Vars needs params: the Airflow Variable names to expose")
        for param in self.params:
            if not names.ENV_VAR_NAME.match(param):
                raise ValueError(f"params entry {param!r} is not a valid environment variable name")
        return self


class MlflowConfig(StrictModel):
    """Beyond the original plugin: MLflow support is detected from the project's kedro-mlflow config
    (``conf/*/mlflow.yml``); these keys force it on or off and override its tracking URI."""

    enabled: bool | None = None  # None: on when the project has kedro-mlflow configuration
    tracking_uri: str | None = None

    @field_validator("tracking_uri")
    @classmethod
    def _no_credentials(cls, value: str | None) -> str | None:
        if value and "@" in urlsplit(value).netloc:
            raise ValueError("the tracking URI carries credentials, which would be stored in the DAG; use "
                             "authentication (type Vars with MLFLOW_TRACKING_USERNAME/PASSWORD) instead")
        return value


class PodTemplateConfig(StrictModel):
    template: str
    image: ImageRef | None = None


class SparkConfig(StrictModel):
    type: Literal["dataproc", "custom"]
    operator_factory: str | None = None
    region: str | None = None
    project_id: str | None = None
    cluster_name: str | None = None
    artifacts_path: str | None = None
    user_init_path: str | None = None
    user_post_init_path: str | None = None
    cluster_config: dict[str, Any] = Field(default_factory=dict)
    archive_exclude: list[str] = Field(default_factory=list)  # more gitignore patterns kept out of project.tar.gz

    @model_validator(mode="after")
    def _factory_for_custom(self) -> SparkConfig:
        if self.cluster_name is not None and not re.match(r"^[a-z]([-a-z0-9]{0,40}[a-z0-9])?\Z", self.cluster_name):
            raise ValueError(f"cluster_name {self.cluster_name!r} must be lowercase letters, digits and '-', "
                             "start with a letter and have at most 42 characters (a per-run suffix is added)")
        if self.type == "dataproc" and not (self.region and self.project_id):
            raise ValueError("spark type dataproc needs region and project_id")
        if self.type == "custom" and not self.operator_factory:
            raise ValueError("spark type custom needs operator_factory: the class path of the factory")
        if self.operator_factory and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+\Z",
                                                  self.operator_factory):
            raise ValueError(f"operator_factory {self.operator_factory!r} is not a dotted class path")
        if not self.artifacts_path:
            raise ValueError("spark needs artifacts_path: where the init script, project archive and run "
                             "scripts are uploaded (e.g. gs://bucket/spark)")
        return self


def _check_param_name(value: str) -> str:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*\Z", value):
        raise ValueError(f"{value!r} is not a valid name (letters, digits and '_', not starting with a digit)")
    return value


ParamName = Annotated[str, AfterValidator(_check_param_name)]


def _check_variable_name(value: str) -> str:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]*\Z", value):
        raise ValueError(f"{value!r} is not a valid Airflow Variable name for a parameter "
                         "(letters, digits, '_', '.', '-')")
    return value


class DockerConfig(StrictModel):
    """``execution: docker``: every task is a container on one Docker engine (DockerOperator)."""

    url: str | None = None  # the engine, as the Airflow worker reaches it; default: DOCKER_HOST or the socket
    conn_id: str | None = None  # Airflow connection holding the registry credentials for pulls
    network_mode: str | None = None  # host, none, bridge or a network name; default: the engine's
    auto_remove: Literal["never", "success", "force"] = "success"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(unix|tcp|ssh|npipe)://\S+\Z", value):
            raise ValueError(f"{value!r} is not a Docker engine address (unix:///var/run/docker.sock, tcp://host:2376)")
        return value


# the predecessor's (kedro-airflow-k8s) names of keys that have another name here
RENAMED = {"startup_timeout": "startup_time"}


class RunConfig(StrictModel):
    execution: Literal["kubernetes", "docker", "local"] = "kubernetes"  # first: image's validator reads it
    image: ImageRef | None = Field(default=None, validate_default=True)  # required for kubernetes
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    startup_time: int = Field(default=600, gt=0, description="seconds")
    namespace: DnsLabel = "airflow"
    experiment_name: str | None = None
    run_name: str | None = None
    cron_expression: Annotated[str, AfterValidator(check_cron)] | None = None
    start_date: Annotated[datetime | None, BeforeValidator(_parse_start_date)] = None
    description: str | None = None
    image_pull_secrets: Annotated[list[DnsSubdomain], BeforeValidator(_to_str_list)] = Field(
        default_factory=list
    )
    service_account_name: DnsSubdomain | None = None
    failure_handlers: list[FailureHandler] = Field(default_factory=list)
    volume: VolumeConfig = Field(default_factory=VolumeConfig)
    secrets: list[SecretConfig] = Field(default_factory=list)
    macro_params: Annotated[list[ParamName], BeforeValidator(_to_str_list)] = Field(default_factory=list)
    variables_params: Annotated[
        list[Annotated[str, AfterValidator(_check_variable_name)]], BeforeValidator(_to_str_list)
    ] = Field(default_factory=list)
    resources: dict[str, ResourceConfig] = Field(default_factory=dict)
    external_dependencies: list[ExternalDependency] = Field(default_factory=list)
    authentication: AuthenticationConfig = Field(default_factory=AuthenticationConfig)
    kubernetes_pod_templates: dict[str, PodTemplateConfig] = Field(default_factory=dict)
    spark: SparkConfig | None = None
    # Beyond the original plugin:
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)
    # auto: one task per node, except nodes that pass in-memory datasets, which share a task (memory)
    grouping: Literal["auto", "none", "memory", "namespace", "tag"] = "auto"
    project_path: str = "/home/kedro"
    # a mapping NAME: value (Jinja in a value is Airflow's to render), or, as in the seed, a list of
    # Airflow Variable names: each becomes the variable of that name, read from the Variable at run time
    env_vars: Annotated[dict[Annotated[str, AfterValidator(lambda v: _env_name(v))], str],
                        BeforeValidator(lambda v: _variables_as_env(v))] = Field(default_factory=dict)
    catchup: bool = False
    max_active_runs: int | None = Field(default=None, gt=0)
    retries: int = Field(default=0, ge=0)
    docker: DockerConfig = Field(default_factory=DockerConfig)
    group_spark_nodes: bool = True  # the predecessor's switch: false runs each Spark node as its own task

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
        if value is None and info.data.get("execution", "kubernetes") != "local":
            raise ValueError("required key is missing: the image that runs the nodes (unless execution is local)")
        return value

    @field_validator("project_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must be an absolute path")
        return value.rstrip("/") or "/"


def _variables_as_env(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    env = {}
    for name in value:
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"{name!r} is not an Airflow Variable name usable as an environment variable "
                             "(letters, digits and _, not starting with a digit)")
        env[name] = "{{ var.value." + name + " }}"
    return env


def _env_name(value: str) -> str:
    if not names.ENV_VAR_NAME.match(value):
        raise ValueError(f"{value!r} is not a valid environment variable name")
    return value


CREDENTIALS_IN_URL = ("the URL carries credentials, which would be printed and stored; use AIRFLOW_API_TOKEN, "
                      "or AIRFLOW_USERNAME and AIRFLOW_PASSWORD")


def _check_host(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.match(r"^https?://[^\s/$.?#][^\s]*\Z", value):
        raise ValueError(f"{value!r} is not an http(s) URL (include the scheme, e.g. https://airflow.example.com)")
    if "@" in urlsplit(value).netloc:  # never echo the value: it holds a secret
        raise ValueError(CREDENTIALS_IN_URL)
    return value.rstrip("/")


class PluginConfig(StrictModel):
    host: Annotated[str | None, AfterValidator(_check_host)] = None
    output: str | None = None
    run_config: RunConfig

    def resources_for(self, tags: list[str] | tuple[str, ...]) -> ResourceConfig | None:
        """Resource profile of a node: ``resources:<name>`` tag layered on ``__default__``."""
        profiles = self.run_config.resources
        default = profiles.get("__default__")
        for name in tagged_values(tags, "resources"):
            if name in profiles:
                return profiles[name].over(default) if default else profiles[name]
        return default


def tagged_values(tags: list[str] | tuple[str, ...], prefix: str) -> list[str]:
    """Values of ``prefix:value`` tags; ``prefix.value`` too, since Kedro 1.x forbids ':' in tags."""
    found = []
    for tag in tags:
        for sep in (":", "."):
            if tag.startswith(prefix + sep) and len(tag) > len(prefix) + 1:
                found.append(tag[len(prefix) + 1:])
    return sorted(found)


# ---------------------------------------------------------------------------------------------
# Loading

_VAR = re.compile(r"\$(\$?)\{([^{}]*)\}")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")


class Substitution:
    """Resolves ``${name}`` / ``${name|default}``; ``$${...}`` is a literal ``${...}``."""

    def __init__(self, environ: Mapping[str, str], git_info: Callable[[], GitInfo]):
        self.environ = environ
        self._git_info = git_info
        self.used: set[str] = set()

    def lookup(self, name: str) -> str | None:
        value = self.environ.get(ENV_PREFIX + name.upper())
        if value is not None:
            return value
        if name.lower() in ("commit_id", "branch_name"):
            return getattr(self._git_info(), name.lower())
        return None

    def _unknown_git(self, name: str) -> bool:
        return (name.lower() in ("commit_id", "branch_name") and ENV_PREFIX + name.upper() not in self.environ
                and self._git_info().source == "none")

    def apply(self, text: str, key: str, jinja: bool = False) -> str:
        """``jinja``: the text is a template Airflow renders (a pod template), so each value goes in
        as a Jinja string literal, which renders to exactly the value whatever braces it holds."""

        def replace(match: re.Match[str]) -> str:
            escaped, body = match.group(1), match.group(2)
            if escaped:
                return "${" + body + "}"
            name, has_default, default = body.partition("|")
            name = name.strip()
            if not _VAR_NAME.match(name):
                raise ConfigError(
                    f"'${{{body}}}' is not a supported substitution: use ${{name}} or ${{name|default}} "
                    f"(value from {ENV_PREFIX}NAME), or $${{...}} for a literal", key=key)
            self.used.add(name)
            value = self.lookup(name)
            if has_default and self._unknown_git(name):  # outside a git checkout: what the config asks for
                value = None
            if value is None:
                if not has_default:
                    raise ConfigError(
                        f"'${{{name}}}' is not set: export {ENV_PREFIX}{name.upper()} or give a default "
                        f"as ${{{name}|default}}", key=key)
                value = default
            return jinja_literal(value) if jinja else value

        return _VAR.sub(replace, text)

    def walk(self, node: Any, path: str = "") -> Any:
        if isinstance(node, dict):
            return {k: self.walk(v, f"{path}.{k}" if path else str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return [self.walk(v, f"{path}.{i}") for i, v in enumerate(node)]
        if isinstance(node, str) and "${" in node:
            return self.apply(node, path, jinja=bool(_RENDERED_BY_AIRFLOW.fullmatch(path)))
        return node


# config strings that Airflow itself renders with Jinja: a substituted value must stay inert there
_RENDERED_BY_AIRFLOW = re.compile(r"run_config\.(kubernetes_pod_templates\.[^.]+\.template|env_vars\.[^.]+)")


def jinja_literal(value: str) -> str:
    """``{{ "value" }}``: Jinja renders it to ``value``; braces are written as \\u escapes, so the
    expression holds no ``}}`` or ``{%`` that a template reader or Jinja's lexer could take for its end."""
    quoted = json.dumps(value, ensure_ascii=False).replace("{", "\\u007b").replace("}", "\\u007d")
    return "{{ " + quoted + " }}"


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason})", file=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"YAML syntax error: {problem}", file=where) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, found {type(data).__name__}", file=str(path))
    return data


def config_files(project_path: Path, env: str | None, conf_source: str = "conf",
                 base_env: str = "base") -> list[Path]:
    root = project_path / conf_source
    found = []
    for env_name in dict.fromkeys([base_env, env or "local"]):
        for filename in CONFIG_FILENAMES:
            candidate = root / env_name / filename
            if candidate.is_file():
                found.append(candidate)
                break
    return found


def _field_names(model: type[BaseModel], loc: tuple) -> list[str]:
    """Known keys at the location of an unknown key, for "did you mean"."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields:
            return []
        if part not in fields:
            # a dict value (e.g. resources.<name>): take the dict's value model
            continue
        annotation = fields[part].annotation
        current = _model_of(annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}) or [])


def _model_of(annotation: Any) -> Any:
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _format_error(err: dict) -> tuple[str, str]:
    """(dotted key, message) of one pydantic error."""
    loc = tuple(part for part in err["loc"] if not (isinstance(part, str) and part.startswith("function-")))
    # pydantic reports discriminated unions and Literal/None unions with extra loc parts; drop them
    loc = tuple(p for p in loc if p not in ("slack", "str", "datetime", "none", "list[...]", "[key]"))
    key = ".".join(str(p) for p in loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _field_names(PluginConfig, loc)
        hint = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        message = f"unknown key {loc[-1]!r}"
        message += f" (did you mean {hint[0]!r}?)" if hint else (
            f" (expected one of: {', '.join(sorted(known))})" if known else "")
    elif kind == "missing":
        message = "required key is missing"
    else:
        msg = err["msg"]
        msg = msg.removeprefix("Value error, ")
        shown = err.get("input")
        if kind.startswith(("literal_error", "int_", "bool_", "string_", "dict_", "list_", "model_",
                            "greater", "less", "too_short", "union_tag")):
            msg = f"{msg}, got {shown!r}" if not isinstance(shown, dict) else msg
        message = msg
    return key, message


def _check_env_folder(conf: Path, env: str | None) -> None:
    """An environment asked for by name must exist: Kedro would otherwise run (and this tool compile)
    from base alone. Kedro's default environment, ``local``, is usually not committed."""
    if env and env != "local" and conf.is_dir() and not (conf / env).is_dir():
        found = sorted(p.name for p in conf.iterdir() if p.is_dir())
        raise ConfigError(f"Kedro environment {env!r} has no folder {conf.name}/{env} (found: {', '.join(found)}); "
                          "create it or pass one of these with -e/--env", file=str(conf))


def load_config(
    project_path: str | Path,
    env: str | None = None,
    *,
    conf_source: str = "conf",
    environ: Mapping[str, str] | None = None,
    git_info: GitInfo | None = None,
    overrides: dict[str, Any] | None = None,
) -> PluginConfig:
    """Read, merge (env over base), substitute and validate the plugin config of a project."""
    project_path = Path(project_path)
    environ = os.environ if environ is None else environ
    _check_env_folder(project_path / conf_source, env)
    files = config_files(project_path, env, conf_source)
    if not files:
        if not (project_path / "pyproject.toml").is_file():
            raise ConfigError(f"{project_path.resolve()} is not a Kedro project (no pyproject.toml): run from the "
                              "project's folder or pass --project-path")
        folders = f"{conf_source}/base" + (f" or {conf_source}/{env}" if env else "")
        raise ConfigError(f"no {CONFIG_FILENAMES[0]} in {folders}: create one with `kedro airflow-k8s init HOST`",
                          file=str(project_path / conf_source))
    raw_layers = [(path, _read_yaml(path)) for path in files]
    merged: dict = {}
    for _, layer in raw_layers:
        merged = _deep_merge(merged, layer)
    if overrides:
        merged = _deep_merge(merged, overrides)

    cached: list[GitInfo] = [git_info] if git_info else []

    def git() -> GitInfo:
        if not cached:
            cached.append(read_git_info(project_path, environ))
        return cached[0]

    def origin(key: str) -> str:
        parts = key.split(".") if key else []
        for path, layer in reversed(raw_layers):
            node: Any = layer
            for part in parts:
                if isinstance(node, dict) and part in node:
                    node = node[part]
                elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                else:
                    break
            else:
                return str(path)
        return str(raw_layers[-1][0])

    try:
        resolved = Substitution(environ, git).walk(merged)
    except ConfigError as exc:
        raise ConfigError(exc.message, file=origin(exc.key or ""), key=exc.key) from None
    try:
        return PluginConfig.model_validate(resolved)
    except ValidationError as exc:
        # every problem in one run; a misspelled key first: the "missing" key it causes is its echo
        problems = sorted((_format_error(err) for err in exc.errors()),
                          key=lambda p: 0 if p[1].startswith("unknown key") else 2 if p[1].endswith("missing") else 1)
        key, message = problems[0]
        if len(problems) > 1:
            rest = "; ".join(f"{k}: {m}" for k, m in problems[1:])
            message += f" (and {len(problems) - 1} more: {rest})"
        raise ConfigError(message, file=origin(key), key=key or None) from None
