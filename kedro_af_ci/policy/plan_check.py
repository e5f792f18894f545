"""The planned DAG against the deployment's settings (in CI) and the pods' Pod Security Standard
(always): what only the plan knows (docs/architecture.md, "Trust").

- every Jinja string of the config that Airflow will render (a :class:`ConfigTemplate`, wherever the
  plan put it), and every Jinja a custom Spark factory (project code) added to its operators, may read
  only the Variables and Connections the deployment allows (:mod:`.jinja`);
- a custom factory's operators are classes the deployment lists;
- pod templates run as an allowed service account, in an allowed namespace;
- and, in CI or not, pod templates stay within ``run_config.pod_security`` (:mod:`.pod_security`),
  which in CI is at least ``deployment.pod_security``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from ..errors import ConfigError
from ..plan.model import DagPlan, SparkPlan
from ..vocabulary.airflow_template import AirflowTemplate, ConfigTemplate
from .jinja import TemplateRefused, read_template
from .model import DeploymentPolicy, account_allowed
from .pod_security import laid_over, pod_security_problems

FACTORY_KEY = "run_config.spark.operator_factory"
TEMPLATES_KEY = "run_config.kubernetes_pod_templates"


def check_plan(plan: DagPlan, policy: DeploymentPolicy | None, *, before_factory: DagPlan | None = None) -> None:
    """ConfigError naming every problem. Pod templates are checked always (``run_config.pod_security``:
    a namespace that enforces it would refuse the pods); the rest only in CI, with the deployment's
    ``policy``. ``before_factory``: the plan a custom Spark factory was given (the Jinja it was handed
    is the tool's own, and may come back)."""
    problems = _ci_problems(plan, policy, before_factory) if policy is not None else []
    problems += _template_problems(plan, policy)
    if not problems:
        return
    lines = "\n".join(f"  {key}: {message}" for key, message in problems)
    if policy is None:
        raise ConfigError(f"{len(problems)} problem(s) with the pod templates (run_config.pod_security is "
                          f"{plan.container.pod_security!r}):\n{lines}", key=problems[0][0])
    raise ConfigError(f"{len(problems)} problem(s) with what the DAG would let a branch do in CI (README, "
                      f"\"Security model\"):\n{lines}", key=problems[0][0])


def _ci_problems(plan: DagPlan, policy: DeploymentPolicy, before_factory: DagPlan | None) -> list[tuple[str, str]]:
    """The config's Jinja and a custom factory's operators, against the deployment's settings."""
    problems: list[tuple[str, str]] = []
    for key, text in _config_templates(plan):
        problems += _jinja_problems(key, text, policy)
    before = before_factory.spark if before_factory is not None else None
    if before is not None and before.settings is not None and plan.spark is not None:
        problems += _factory_problems(plan.spark, before, policy)
    return problems


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every leaf of the plan's data with where it is (dataclasses, mappings, sequences)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _walk(getattr(value, f.name), f"{path}.{f.name}" if path else f.name)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}.{i}")
    else:
        yield path, value


def _config_templates(plan: DagPlan) -> Iterator[tuple[str, str]]:
    """The config's Jinja, wherever the plan carries it (env of pods, of spark-submit, pod templates)."""
    for path, value in _walk(plan, ""):
        if isinstance(value, ConfigTemplate):
            yield _config_key(path), str(value)


def _config_key(plan_path: str) -> str:
    """A plan location as the config key the user knows."""
    if plan_path.startswith("templates.pods."):
        return f"{TEMPLATES_KEY}.{plan_path.split('.')[2]}.template"
    name = plan_path.rsplit(".", 1)[-1]
    return f"run_config.env_vars.{name.removeprefix('spark.executorEnv.')}"


def _jinja_problems(key: str, text: str, policy: DeploymentPolicy) -> list[tuple[str, str]]:
    try:
        use = read_template(text)
    except TemplateRefused as exc:
        return [(key, f"Jinja for Airflow: {exc}")]
    problems = [(key, f"reads the Airflow Variable {name!r}: add it to deployment.airflow_variables")
                for name in sorted(use.variables - set(policy.airflow_variables))]
    problems += [(key, f"uses the Airflow Connection {name!r}: add it to deployment.airflow_connections")
                 for name in sorted(use.connections - set(policy.airflow_connections))]
    return problems


def _factory_problems(spark: SparkPlan, given: SparkPlan, policy: DeploymentPolicy) -> list[tuple[str, str]]:
    """Operators of the project's factory: allowed classes, and no Jinja but what it was handed."""
    handed = {str(value) for _, value in _walk([given.settings, given.jobs], "") if isinstance(value, AirflowTemplate)}
    specs = {"create_cluster": spark.create, "delete_cluster": spark.delete,
             **{f"submit {task}": spec for task, spec in spark.submits.items()}}
    problems = []
    for where, spec in specs.items():
        if spec is None:
            continue
        if spec.class_path not in policy.operators:
            problems.append((FACTORY_KEY, f"{where}: {spec.class_path} is not an operator the deployment allows: "
                                          "add it to deployment.operators"))
        for _, value in _walk(spec.arguments, ""):
            if isinstance(value, AirflowTemplate) and str(value) not in handed:
                problems += [(FACTORY_KEY, f"{where}: {message}") for _, message in
                             _jinja_problems(FACTORY_KEY, str(value), policy)]
    return problems


def _template_problems(plan: DagPlan, policy: DeploymentPolicy | None) -> list[tuple[str, str]]:
    """Each pod template as the pod Kubernetes receives (the DAG's own security contexts laid over it),
    within ``run_config.pod_security``; in CI, also where and as whom it runs."""
    container = plan.container
    problems = []
    for name, pod in plan.templates.pods.items():
        key = f"{TEMPLATES_KEY}.{name}.template"
        problems += [(key, p) for p in _placement_problems(pod, policy)]
        laid = laid_over(pod, container.security_context, container.container_security_context)
        problems += [(key, p) for p in pod_security_problems(laid, container.pod_security)]
    return problems


def _placement_problems(pod: dict[str, Any], policy: DeploymentPolicy | None) -> list[str]:
    """CI: the template's service account and namespace, among the deployment's."""
    if policy is None:
        return []
    spec = pod.get("spec") or {}
    metadata = pod.get("metadata") or {}
    problems = []
    account = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if account is not None and not account_allowed(account, policy):
        problems.append(f"service account {account!r} is not allowed here: add it to deployment.service_accounts")
    namespace = metadata.get("namespace")
    if namespace is not None and namespace not in policy.namespaces:
        problems.append(f"namespace {namespace!r} is not allowed here: add it to deployment.namespaces")
    return problems
