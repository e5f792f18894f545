"""Spark on Kubernetes (``spark.type: kubernetes``): each Spark group is one ``spark-submit`` in
cluster mode, through the Apache Spark provider's ``SparkSubmitOperator`` (docs/architecture.md,
"Spark on Kubernetes").

The project image is the driver and executor image, so nothing is uploaded: the application is the
project's own ``__main__.py`` in the image, run from the image's working directory with ``src`` on
``PYTHONPATH``, and its arguments are the same ``kedro run`` arguments a node pod gets. The task's
resource profile, labels, secrets and environment become Spark configuration, as the predecessor's
SparkSubmitK8SOperator did; the submit operator turns ``env_vars`` into driver environment itself.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..config import KubernetesSpark, ResourceConfig, SecretConfig
from ..spark import OperatorSpec, SparkJob

SUBMIT_OPERATOR = "airflow.providers.apache.spark.operators.spark_submit.SparkSubmitOperator"
ROLES = ("driver", "executor")
_BINARY = {"Ki": "k", "Mi": "m", "Gi": "g", "Ti": "t", "Pi": "p"}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


@dataclass(frozen=True)
class KubernetesSubmit:
    """What every submit of one DAG shares; ``env`` values may be :class:`AirflowTemplate`."""

    spark: KubernetesSpark
    image: str
    image_pull_policy: str
    namespace: str
    service_account_name: str | None
    application: str
    source_path: str  # the project's src folder in the image, for PYTHONPATH
    dag_id: str
    env: dict[str, str] = field(default_factory=dict)
    secrets: tuple[SecretConfig, ...] = ()


def default_application(project_path: str, package_name: str) -> str:
    return f"local://{project_path.rstrip('/')}/src/{package_name}/__main__.py"


def spark_memory(quantity: str) -> str:
    """A Kubernetes memory quantity as a JVM size (``4Gi`` → ``4g``; decimal units → whole MiB)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGTP]i|[kMGTPE]?)", quantity)
    if match is None:
        raise ValueError(f"{quantity!r} is not a memory quantity")
    number, unit = match.groups()
    if unit in _BINARY and number.isdigit():
        return number + _BINARY[unit]
    factor = 1024 ** (" KMGTP".index(unit[0])) if unit in _BINARY else _DECIMAL[unit]
    return f"{math.ceil(float(number) * factor / 2**20)}m"


def _base_conf(submit: KubernetesSubmit) -> dict[str, str]:
    conf = {
        "spark.submit.deployMode": "cluster",
        "spark.kubernetes.namespace": submit.namespace,
        "spark.kubernetes.container.image": submit.image,
        "spark.kubernetes.container.image.pullPolicy": submit.image_pull_policy,
        "spark.kubernetes.driverEnv.PYTHONPATH": submit.source_path,
        "spark.executorEnv.PYTHONPATH": submit.source_path,
    }
    if submit.service_account_name:
        conf["spark.kubernetes.authenticate.driver.serviceAccountName"] = submit.service_account_name
    sc = submit.spark
    if sc.driver_port:
        conf["spark.driver.port"] = str(sc.driver_port)
    if sc.block_manager_port:
        conf["spark.blockManager.port"] = str(sc.block_manager_port)
    return conf


def _storage_conf(sc: KubernetesSpark) -> dict[str, str]:
    """An on-demand claim per pod for Spark's local directory (spills, shuffles)."""
    if not (sc.local_storage_class_name and sc.local_storage_size):
        return {}
    conf = {}
    for role in ROLES:
        prefix = f"spark.kubernetes.{role}.volumes.persistentVolumeClaim.spark-local-dir-1"
        conf.update({
            f"{prefix}.options.claimName": "OnDemand",
            f"{prefix}.options.storageClass": sc.local_storage_class_name,
            f"{prefix}.options.sizeLimit": sc.local_storage_size,
            f"{prefix}.mount.path": "/storage",
            f"{prefix}.mount.readOnly": "false",
        })
    return conf


def _secret_conf(secrets: tuple[SecretConfig, ...]) -> tuple[dict[str, str], list[str]]:
    """Secrets as Spark mounts them: a volume at its path, or one key as an environment variable.
    A whole secret as environment (no key) has no Spark equivalent and is reported."""
    conf, skipped = {}, []
    for secret in secrets:
        for role in ROLES:
            if secret.deploy_type == "volume":
                conf[f"spark.kubernetes.{role}.secrets.{secret.secret}"] = str(secret.deploy_target)
            elif secret.key is not None:
                conf[f"spark.kubernetes.{role}.secretKeyRef.{secret.deploy_target}"] = f"{secret.secret}:{secret.key}"
        if secret.deploy_type == "env" and secret.key is None:
            skipped.append(secret.secret)
    return conf, skipped


def _resource_conf(profile: ResourceConfig | None) -> tuple[dict[str, str], list[str]]:
    """The task's profile for driver and executors: CPU requests and limits as pod cores, the memory
    limit as the JVM memory (Spark adds its overhead), labels, annotations and the node selector."""
    if profile is None:
        return {}, []
    conf: dict[str, str] = {}
    for role in ROLES:
        if "cpu" in profile.requests:
            conf[f"spark.kubernetes.{role}.request.cores"] = profile.requests["cpu"]
        if "cpu" in profile.limits:
            conf[f"spark.kubernetes.{role}.limit.cores"] = profile.limits["cpu"]
        if "memory" in profile.limits:
            conf[f"spark.{role}.memory"] = spark_memory(profile.limits["memory"])
        conf.update({f"spark.kubernetes.{role}.label.{k}": v for k, v in profile.labels.items()})
        conf.update({f"spark.kubernetes.{role}.annotation.{k}": v for k, v in profile.annotations.items()})
    conf.update({f"spark.kubernetes.node.selector.{k}": v for k, v in profile.node_selectors.items()})
    return conf, ["tolerations"] if profile.tolerations else []


def submit_spec(submit: KubernetesSubmit, job: SparkJob, kedro_args: tuple[str, ...],
                profile: ResourceConfig | None) -> tuple[OperatorSpec, list[str]]:
    """The submit operator of one Spark group, and the settings it cannot apply."""
    resources, unapplied = _resource_conf(profile)
    secrets, whole = _secret_conf(submit.secrets)
    conf: dict[str, str] = {**_base_conf(submit), **resources, **secrets, **_storage_conf(submit.spark)}
    conf.update({f"spark.executorEnv.{name}": value for name, value in submit.env.items()})
    conf.update({key: str(value).lower() if isinstance(value, bool) else str(value)
                 for key, value in submit.spark.conf.items()})
    arguments: dict = {
        "conn_id": submit.spark.conn_id,
        # cluster mode by the operator's own argument, which spark-submit's --deploy-mode takes over any
        # conf entry or connection extra: the driver runs in the image, never on the Airflow worker
        "deploy_mode": "cluster",
        "application": submit.application,
        "name": f"{submit.dag_id}-{job.task_id}",
        "conf": conf,
        # the project's __main__ is Kedro's run command itself: its options, without the word "run"
        "application_args": [*kedro_args[kedro_args[:1] == ("run",):], "--nodes", ",".join(job.nodes), *job.args],
        "env_vars": dict(submit.env),
    }
    if submit.spark.num_executors:
        arguments["num_executors"] = submit.spark.num_executors
    unapplied += [f"secret {name} (deploy_type env without key)" for name in whole]
    return OperatorSpec(SUBMIT_OPERATOR, arguments), unapplied

