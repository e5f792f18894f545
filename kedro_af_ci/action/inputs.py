"""The action's inputs, read from ``INPUT_*`` variables exactly as GitHub passes them.

GitHub upper-cases an input's name and keeps its hyphens (``INPUT_PROJECT-PATH``), which a shell
cannot even read; GitLab jobs and ``docker run -e`` users write underscores. Both spellings are
accepted, and the names and defaults come from ``action.yml`` itself so the two cannot drift.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import ConfigError

ACTION_YML = Path(__file__).with_name("action.yml")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off", ""}


def action_metadata() -> dict:
    return yaml.safe_load(ACTION_YML.read_text(encoding="utf-8"))


def _raw(environ: Mapping[str, str], name: str, default: str) -> str:
    for key in (f"INPUT_{name.upper()}", f"INPUT_{name.upper().replace('-', '_')}"):
        if key in environ:
            return environ[key].strip()
    return default


def _bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"expected true or false, got {value!r}", key=f"input {name}")


def _number(name: str, value: str, minimum: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"expected a number of seconds, got {value!r}", key=f"input {name}") from None
    if number < minimum:
        raise ConfigError(f"expected at least {minimum:g}, got {value!r}", key=f"input {name}")
    return number


def _build_args(value: str) -> list[str]:
    """One ``KEY=VALUE`` per line (blank lines and ``#`` comments skipped)."""
    args = []
    for line in value.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, _ = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ConfigError(f"expected KEY=VALUE lines, got {line[:60]!r}", key="input build-args")
        args.append(line)
    return args


def _network(value: str) -> str:
    if value and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]*", value):
        raise ConfigError(f"expected a Docker network name (host, none, default or a network), got {value[:60]!r}",
                          key="input build-network")
    return value


def _env(value: str) -> str | None:
    """A Kedro environment names a folder of conf/: never a path out of it."""
    if value and (any(c in value for c in "/\\") or value.startswith(".")):
        raise ConfigError(f"{value!r} is not a Kedro environment name", key="input env")
    return value or None


def _group_by(value: str) -> str | None:
    from ..vocabulary.modes import GROUPINGS

    if value and value not in GROUPINGS:
        raise ConfigError(f"expected one of {', '.join(GROUPINGS)}, got {value!r}", key="input group-by")
    return value or None


def _record_key(value: str) -> str:
    """A key an attacker cannot guess: at least 32 characters (a random 256-bit key, hex or base64)."""
    if value and len(value) < 32:
        raise ConfigError("the record key must be at least 32 characters (a random secret, e.g. openssl rand -hex "
                          "32), kept in the production environment only", key="input record-key")
    return value


def _relative(name: str, value: str) -> str:
    """A folder of the workspace, never a path out of it."""
    parts = Path(value).parts
    if value and (Path(value).is_absolute() or ".." in parts):
        raise ConfigError(f"{value[:80]!r} is not a folder inside the workspace", key=f"input {name}")
    return value


def _commit(value: str) -> str:
    if value and not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", value):
        raise ConfigError(f"{value[:80]!r} is not a full commit id", key="input commit")
    return value


def _gitlab_project(value: str) -> str:
    if value and not re.fullmatch(r"[A-Za-z0-9_.-]{1,255}(/[A-Za-z0-9_.-]{1,255}){1,20}|[0-9]{1,20}", value):
        raise ConfigError(f"{value[:80]!r} is not a GitLab project's path (group/name) or id",
                          key="input gitlab-packages-from")
    return value


def _job_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_. :/-]{1,255}", value):
        raise ConfigError(f"{value[:80]!r} is not a GitLab job's name", key="input package-job")
    return value


def _dag_id(value: str) -> str:
    if value and not re.fullmatch(r"[A-Za-z0-9_.-]{1,250}", value):
        raise ConfigError(f"{value[:60]!r} is not an Airflow DAG id", key="input dag-id")
    return value


@dataclass(frozen=True)
class ActionInputs:
    project_path: str
    env: str | None
    pipeline: str
    image: str
    build: bool
    push: bool
    dockerfile: str
    build_context: str
    build_args: list[str]
    build_network: str
    registry: str
    registry_username: str
    registry_password: str
    record_key: str  # production's key for its code-only records (action/records.py)
    output: str
    deployment: str  # YAML of the deployment's settings (kedro_af_ci.policy.model)
    airflow_host: str
    airflow_token: str
    run_name: str
    group_by: str | None
    delete: bool
    branch: str  # delete: the branch whose DAG goes ("": the checkout's)
    dag_id: str  # delete: the DAG, when the project's files are not at hand
    package: bool  # trusted deployer: the branch's half (action/deployer.py)
    deploy_package: str  # trusted deployer: the package folder the trusted half deploys
    commit: str  # deploy-package: the commit of the triggering event
    gitlab_packages_from: str  # trusted deployer on GitLab: the source project (action/gitlab_deployer.py)
    package_job: str
    gitlab_api: str
    run_once: bool
    wait: bool
    wait_timeout: float
    version_timeout: float | None  # None: the default wait, cut short after a rescan (deliver/deploy.py)
    poll_interval: float
    schedule: str
    dry_run: bool
    extract_without_docker: bool
    verify: bool
    insecure: bool
    dotenv: str

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.registry_password, self.airflow_token, self.record_key) if s]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ActionInputs:
        declared = action_metadata()["inputs"]
        raw = {name: _raw(environ, name, str(spec.get("default", ""))) for name, spec in declared.items()}
        return cls(
            project_path=raw["project-path"] or ".",
            env=_env(raw["env"]),
            pipeline=raw["pipeline"] or "__default__",
            image=raw["image"],
            build=_bool("build", raw["build"]),
            push=_bool("push", raw["push"]),
            dockerfile=raw["dockerfile"],
            build_context=raw["build-context"],
            build_args=_build_args(raw["build-args"]),
            build_network=_network(raw["build-network"]),
            registry=raw["registry"],
            registry_username=raw["registry-username"],
            registry_password=raw["registry-password"],
            record_key=_record_key(raw["record-key"]),
            output=raw["output"],
            deployment=raw["deployment"],
            airflow_host=raw["airflow-host"],
            airflow_token=raw["airflow-token"] or environ.get("AIRFLOW_API_TOKEN", ""),
            run_name=raw["run-name"],
            group_by=_group_by(raw["group-by"]),
            delete=_bool("delete", raw["delete"]),
            branch=raw["branch"],
            dag_id=_dag_id(raw["dag-id"]),
            package=_bool("package", raw["package"]),
            deploy_package=_relative("deploy-package", raw["deploy-package"]),
            commit=_commit(raw["commit"]),
            gitlab_packages_from=_gitlab_project(raw["gitlab-packages-from"]),
            package_job=_job_name(raw["package-job"]),
            gitlab_api=raw["gitlab-api"],
            run_once=_bool("run-once", raw["run-once"]),
            wait=_bool("wait", raw["wait"]),
            wait_timeout=_number("wait-timeout", raw["wait-timeout"], 1),
            version_timeout=_number("version-timeout", raw["version-timeout"], 1) if raw["version-timeout"] else None,
            poll_interval=_number("poll-interval", raw["poll-interval"], 0.1),
            schedule=raw["schedule"],
            dry_run=_bool("dry-run", raw["dry-run"]),
            extract_without_docker=_bool("extract-without-docker", raw["extract-without-docker"]),
            verify=_bool("verify", raw["verify"]),
            insecure=_bool("insecure", raw["insecure"]),
            dotenv=raw["dotenv"],
        )
