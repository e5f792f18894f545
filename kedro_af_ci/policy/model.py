"""The deployment's settings in CI (README, "Security model"): where and as whom a branch's pipeline
runs, what it may read, and where its results go.

They come from the workflow (the action's ``deployment`` input, fed from a protected variable), never
from the commit; a setting the workflow leaves out has the safe default below. A branch's
airflow-k8s.yaml may pick among the allowed values, never add one (:mod:`.settings`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated

import yaml
from pydantic import AfterValidator, Field, ValidationError

from ..config.common import AirflowKey, DnsLabel, DnsSubdomain, StrictModel, VariableName
from ..config.docker import DockerName, check_docker_url
from ..config.messages import summarize
from ..config.run import Execution, PodSecurity
from ..config.spark import CLASS_PATH
from ..errors import ConfigError
from ..guards.bounded_yaml import YamlLimitError, load_bounded
from ..guards.trust import in_ci

ENV_VARIABLE = "KAF_DEPLOYMENT"  # the CLI's source in CI; the action reads its `deployment` input
INPUT = "input deployment"
# the built-in Spark factory's operators (spark.type dataproc); custom factories may use these too
DATAPROC_OPERATORS = tuple(f"airflow.providers.google.cloud.operators.dataproc.Dataproc{name}Operator"
                           for name in ("CreateCluster", "SubmitJob", "DeleteCluster"))


def _class_path(value: str) -> str:
    if not CLASS_PATH.match(value):
        raise ValueError(f"{value!r} is not a dotted class path (package.module.Class)")
    return value


ClassPath = Annotated[str, AfterValidator(_class_path)]
DockerUrl = Annotated[str, AfterValidator(check_docker_url)]


class ProductionTargets(StrictModel):
    """What only the default branch's deploy may write to (policy/targets.py)."""

    outputs: list[str] = Field(default_factory=list, description="Production's DAGs folders or buckets.")
    airflow_hosts: list[str] = Field(default_factory=list, description="Production's Airflow addresses.")
    images: list[str] = Field(default_factory=list, description="Production's image repositories.")


class DeploymentPolicy(StrictModel):
    """Every field is a deployment setting; its description is README's table of deployment settings."""

    output: str | None = Field(
        default=None, description="Where DAG files go (folder, `gs://`, `s3://`); the `output` input sets it too. "
                                  "Used whatever the branch's `output` says; unset, a branch may not name one.")
    executions: list[Execution] = Field(
        default_factory=lambda: [Execution.KUBERNETES],
        description="Execution modes a branch may choose. `local` runs the branch's code in the Airflow worker "
                    "itself, outside any image: only for projects whose every branch you trust.")
    namespaces: list[DnsLabel] = Field(
        default_factory=lambda: ["airflow"],
        description="Kubernetes namespaces the pods may run in; the first is the default. The namespace "
                    "decides which Kubernetes Secrets and claims a branch's pods can mount.")
    service_accounts: list[DnsSubdomain] = Field(
        default_factory=list, description="Service accounts the pods may run as (pod templates included); "
                                          "none: the namespace's default account. `default` (that account, "
                                          "which every namespace has) is always allowed.")
    pod_security: PodSecurity = Field(
        default=PodSecurity.BASELINE, validate_default=True,
        description="The lowest Pod Security Standard a branch's pods are held to: a lower "
                    "`run_config.pod_security` is raised to it (pod templates are checked against the result); "
                    "a stricter one stays.")
    airflow_variables: list[VariableName] = Field(
        default_factory=list, description="Airflow Variables the DAG may read: `env_vars`, `variables_params`, "
                                          "`authentication.params` and `var.` in config Jinja.")
    airflow_connections: list[AirflowKey] = Field(
        default_factory=list, description="Airflow Connections the DAG may use: failure handlers, `conn.` in config "
                                          "Jinja. The Docker and Spark connections are set below.")
    queues: list[AirflowKey] = Field(
        default_factory=list, description="Executor queues a branch's tasks may go to (`resources.<name>.queue`): "
                                          "a queue decides which workers run them; none: the default queue.")
    pools: list[AirflowKey] = Field(
        default_factory=list, description="Airflow pools a branch's tasks may take slots of "
                                          "(`resources.<name>.pool`); none: the default pool.")
    asset_outlets: list[str] = Field(
        default_factory=list, description="Asset URI prefixes (`s3://prod-data/`) whose events a scheduled DAG "
                                          "may emit, starting the DAGs scheduled on them; none: no outlets (a "
                                          "run-once DAG never emits any).")
    docker_url: DockerUrl | None = Field(
        default=None, description="`execution: docker`: the engine the worker runs containers on; default the "
                                  "worker's own (`DOCKER_HOST` or its socket).")
    docker_conn_id: AirflowKey | None = Field(
        default=None, description="`execution: docker`: the connection with the registry credentials the engine "
                                  "pulls with; none by default.")
    docker_network_modes: list[DockerName] = Field(
        default_factory=lambda: ["none", "bridge"],
        description="`execution: docker`: networks a branch may put its containers on (`host` would put them "
                    "on the worker's own network).")
    spark_conn_id: AirflowKey = Field(
        default="spark_default", description="`spark.type: kubernetes`: the connection whose host is the Spark "
                                             "master, and the only one spark-submit uses.")
    spark_artifacts_path: str | None = Field(
        default=None, description="`spark.type: dataproc`/`custom`: where the cluster's scripts and the project "
                                  "archive go, whatever the branch's `artifacts_path` says.")
    production: ProductionTargets = Field(
        default_factory=ProductionTargets,
        description="Production's targets (`outputs`, `airflow_hosts`, `images`: lists), which only the default "
                    "branch's deploy may use: a branch's run aimed at one stops (exit 3), so a variable set at "
                    "the wrong level cannot hand a branch production's DAGs folder, Airflow or image repository.")
    operators: list[ClassPath] = Field(
        default_factory=lambda: list(DATAPROC_OPERATORS),
        description="Operator classes a custom Spark factory may use (default: the Dataproc operators of the "
                    "built-in factory).")


def load_policy(text: str, source: str = INPUT) -> DeploymentPolicy:
    """The deployment settings from YAML (empty: every safe default)."""
    try:
        data = load_bounded(text) if text.strip() else {}
    except YamlLimitError as exc:
        raise ConfigError(str(exc), key=source) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {str(exc).splitlines()[0]}", key=source) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a YAML mapping of deployment settings (e.g. namespaces: [ml])", key=source)
    try:
        return DeploymentPolicy.model_validate(data)
    except ValidationError as exc:
        key, message = summarize(DeploymentPolicy, exc)
        raise ConfigError(message, key=f"{source}: {key}" if key else source) from None


def policy_for(environ: Mapping[str, str] | None = None) -> DeploymentPolicy | None:
    """The CLI's policy: none outside CI (the user's config is trusted as it is), else the settings of
    ``KAF_DEPLOYMENT``, or the safe defaults."""
    environ = os.environ if environ is None else environ
    if not in_ci(environ):
        return None
    return load_policy(environ.get(ENV_VARIABLE, ""), source=ENV_VARIABLE)


NAMESPACE_DEFAULT_ACCOUNT = "default"  # what pods run as when no account is named: naming it changes nothing


def account_allowed(account: str, policy: DeploymentPolicy) -> bool:
    """The pods may run as ``account`` (a config's service_account_name, or a pod template's)."""
    return account == NAMESPACE_DEFAULT_ACCOUNT or account in policy.service_accounts
