"""A branch's config narrowed to the deployment's settings (docs/architecture.md, "Trust").

Each deployment setting is either one value (the DAG location, the Docker engine) or a list of allowed
values (namespaces, Variables) that the branch picks from. A single value the deployment sets is the
one used, whatever the branch's file says (a different one is named in a warning: the file may hold
it for the CLI outside CI); one the deployment leaves unset may not be set by the branch. What the
branch leaves out gets the deployment's value. Everything else in the config stays the branch's.
Every refused setting is named in one error, with the setting to change instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..config import Execution, KubernetesSpark, PluginConfig, RunConfig, SparkConfig
from ..errors import ConfigError
from ..plan.build import AIRFLOW3_READING
from .jinja import RUN_VALUES
from .model import DeploymentPolicy, account_allowed

# spark-submit settings that act where spark-submit runs (the Airflow worker, with its credentials and
# files) rather than in the driver's image: the master and the submission's credentials, files read
# or uploaded from the submitting host, client mode, classes run by the submission client, and host
# paths mounted into the pods. The namespace and service account are deployment settings of their own.
SUBMIT_SIDE = re.compile(
    r"spark\.(master|submit\..*|jars(\..*)?|files|archives|pyFiles|kerberos\..*|yarn\..*|redaction\..*"
    r"|kubernetes\.(context|namespace|driver\.master|trust\.certificates|file\.upload\..*|submission\..*"
    r"|authenticate\..*|kerberos\..*|hadoop\..*|(driver|executor)\.podTemplateFile"
    r"|(driver|executor)\.pod\.featureSteps|(driver|executor)\.volumes\.hostPath\..*))"
)


@dataclass(frozen=True)
class Refusal:
    key: str
    message: str


class _Narrowing:
    """Collects the refusals of one config, so that every one is reported at once."""

    def __init__(self, policy: DeploymentPolicy):
        self.policy = policy
        self.refusals: list[Refusal] = []
        self.notes: list[str] = []

    def refuse(self, key: str, message: str) -> None:
        self.refusals.append(Refusal(key, message))

    def single(self, key: str, value: Any, allowed: Any, setting: str) -> Any:
        """One deployment value: the deployment's is used; the branch may not set one the deployment left
        unset."""
        if value is not None and allowed is None:
            self.refuse(key, f"{value!r} is the deployment's to choose, and it sets none: set {setting}")
        elif value is not None and value != allowed:
            self.notes.append(f"{key}: {value!r} of airflow-k8s.yaml is not used; the deployment's "
                              f"{allowed!r} is ({setting})")
        return allowed

    def pick(self, key: str, value: Any, allowed: list[Any], setting: str) -> None:
        """One of a list of allowed values."""
        if value not in allowed:
            listed = ", ".join(str(a) for a in allowed) or "none"
            self.refuse(key, f"{value!r} is not allowed here (allowed: {listed}): add it to {setting}")

    def names(self, key: str, used: list[str], allowed: list[str], setting: str) -> None:
        for name in used:
            self.pick(key, name, allowed, setting)


def narrow(config: PluginConfig, policy: DeploymentPolicy) -> tuple[PluginConfig, list[str]]:
    """``config`` with the deployment's settings in place, and notes of the branch's values it replaced;
    or ConfigError naming every refused one."""
    run = _Narrowing(policy)
    rc = config.run_config
    updates: dict[str, Any] = {}
    run.pick("run_config.execution", rc.execution, [str(e) for e in policy.executions], "deployment.executions")
    if rc.execution == Execution.KUBERNETES or isinstance(rc.spark, KubernetesSpark):
        updates |= _kubernetes(run, rc)
    if rc.execution == Execution.DOCKER:
        updates["docker"] = _docker(run, rc)
    if rc.spark is not None:
        updates["spark"] = _spark(run, rc)
    _task_settings(run, rc)
    _reads(run, rc)
    updates |= _pod_security(run, rc)
    if run.refusals:
        lines = "\n".join(f"  {r.key}: {r.message}" for r in run.refusals)
        raise ConfigError(f"{len(run.refusals)} setting(s) of airflow-k8s.yaml are the deployment's to decide "
                          f"in CI (README, \"Security model\"):\n{lines}", key=run.refusals[0].key)
    return config.model_copy(update={"run_config": rc.model_copy(update=updates)}), run.notes


def destination(config_output: str | None, policy: DeploymentPolicy | None) -> tuple[str | None, list[str]]:
    """Where the DAG file goes, and a note when the config's location is not used: the config's
    (trusted, outside CI), else the deployment's; a branch may not name one the deployment did not."""
    if policy is None:
        return config_output, []
    run = _Narrowing(policy)
    chosen = run.single("output", config_output, policy.output,
                        "the output input (the CLI: -o, or output in KAF_DEPLOYMENT)")
    if run.refusals:
        raise ConfigError(run.refusals[0].message, key="output")
    return chosen, run.notes


def _kubernetes(run: _Narrowing, rc: RunConfig) -> dict[str, Any]:
    """Namespace and service account: where, and as whom, the pods run."""
    policy, updates = run.policy, {}
    if "namespace" in rc.model_fields_set:
        run.pick("run_config.namespace", rc.namespace, policy.namespaces, "deployment.namespaces")
    elif policy.namespaces:
        updates["namespace"] = policy.namespaces[0]
    if rc.service_account_name is not None and not account_allowed(rc.service_account_name, policy):
        run.pick("run_config.service_account_name", rc.service_account_name, policy.service_accounts,
                 "deployment.service_accounts")
    return updates


def _pod_security(run: _Narrowing, rc: RunConfig) -> dict[str, Any]:
    """The standard the pods are held to: the branch's, or the deployment's when that is stricter
    (a branch may tighten it, never loosen it)."""
    lowest = run.policy.pod_security
    if rc.pod_security.rank >= lowest.rank:
        return {}
    if "pod_security" in rc.model_fields_set:
        run.notes.append(f"run_config.pod_security: {rc.pod_security!r} of airflow-k8s.yaml is not used; the "
                         f"deployment's {lowest!r} is the lowest allowed (deployment.pod_security)")
    return {"pod_security": lowest}


def _task_settings(run: _Narrowing, rc: RunConfig) -> None:
    """The queue (which workers run a task) and the pool (whose slots it takes) of each profile."""
    for name, profile in rc.resources.items():
        if profile.queue is not None:
            run.pick(f"run_config.resources.{name}.queue", profile.queue, run.policy.queues, "deployment.queues")
        if profile.pool is not None:
            run.pick(f"run_config.resources.{name}.pool", profile.pool, run.policy.pools, "deployment.pools")


def _docker(run: _Narrowing, rc: RunConfig) -> Any:
    """The engine the worker drives, the credentials it pulls with, the network it puts containers on."""
    policy, docker = run.policy, rc.docker
    url = run.single("run_config.docker.url", docker.url, policy.docker_url, "deployment.docker_url")
    conn_id = run.single("run_config.docker.conn_id", docker.conn_id, policy.docker_conn_id,
                         "deployment.docker_conn_id")
    if docker.network_mode is not None:
        run.pick("run_config.docker.network_mode", docker.network_mode, policy.docker_network_modes,
                 "deployment.docker_network_modes")
    return docker.model_copy(update={"url": url, "conn_id": conn_id})


def _spark(run: _Narrowing, rc: RunConfig) -> SparkConfig:
    """The master spark-submit reaches, and what it runs and uploads from the worker."""
    policy, spark = run.policy, rc.spark
    assert spark is not None
    updates: dict[str, Any] = {}
    if isinstance(spark, KubernetesSpark):
        explicit = spark.conn_id if "conn_id" in spark.model_fields_set else None
        updates["conn_id"] = run.single("run_config.spark.conn_id", explicit, policy.spark_conn_id,
                                        "deployment.spark_conn_id")
        if spark.application is not None and not spark.application.startswith("local://"):
            run.refuse("run_config.spark.application", f"{spark.application!r} would be fetched by spark-submit on "
                                                       "the Airflow worker: use a local:// path in the image")
        for key in sorted(k for k in spark.conf if SUBMIT_SIDE.fullmatch(k)):
            run.refuse(f"run_config.spark.conf.{key}", "acts where spark-submit runs, the Airflow worker: such "
                                                       "settings belong to the Spark connection of the deployment")
    else:
        updates["artifacts_path"] = run.single("run_config.spark.artifacts_path", spark.artifacts_path,
                                               policy.spark_artifacts_path, "deployment.spark_artifacts_path")
    return spark.model_copy(update=updates)


def _reads(run: _Narrowing, rc: RunConfig) -> None:
    """Variables and Connections named by key (config Jinja is read in the plan: .plan_check)."""
    policy = run.policy
    run.names("run_config.variables_params", list(rc.variables_params), policy.airflow_variables,
              "deployment.airflow_variables")
    if rc.authentication.type == "Vars":
        run.names("run_config.authentication.params", list(rc.authentication.params), policy.airflow_variables,
                  "deployment.airflow_variables")
    for i, handler in enumerate(rc.failure_handlers):
        run.pick(f"run_config.failure_handlers.{i}.connection_id", handler.connection_id,
                 policy.airflow_connections, "deployment.airflow_connections")
    for name in rc.macro_params:  # Airflow 2's date macros too: read from their replacement on Airflow 3
        if name not in RUN_VALUES and name not in AIRFLOW3_READING:
            run.refuse("run_config.macro_params", f"{name!r} is not a run value a parameter may take (allowed: "
                                                  f"{', '.join(sorted(RUN_VALUES))})")
