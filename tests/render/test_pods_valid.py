"""Every pod a generated DAG can build is valid Kubernetes: each KubernetesPodOperator's pod (after its
templated fields are rendered as the worker renders them) and each resource the DAG creates (the run's
claim), validated in strict mode (no unknown field) against the official OpenAPI schema that
kubernetes-validate ships. No cluster is reachable here: this and the Docker-run command contract are
the proof of the pod side."""

from __future__ import annotations

import pytest
import yaml
from conftest import FakeDagRun, FakeTaskInstance, FakeVariables, load_dag, make_config, make_graph, render

from kedro_af_ci.compiler.pipeline import CompileRequest, compile_dag
from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.plan.build import build_plan
from kedro_af_ci.render.dag import render_dag

kubernetes_validate = pytest.importorskip("kubernetes_validate")
GIT = GitInfo("0123456789abcdef0123456789abcdef01234567", "feature/every-key")
TEMPLATE = """kind: Pod
metadata:
  labels: {from-template: "yes"}
spec:
  priorityClassName: batch
  containers:
    - name: base
      env: [{name: FROM_TEMPLATE, value: "yes"}]
      securityContext: {allowPrivilegeEscalation: false}
"""
# every key that reaches a pod
EVERY_KEY = {
    "image": "europe-docker.pkg.dev/acme/ml/spaceflights:1", "namespace": "ml", "image_pull_policy": "Always",
    "service_account_name": "kedro-runner", "image_pull_secrets": ["regcred"], "startup_time": 300,
    "env_vars": {"RUN_DATE": "{{ ds }}", "BRACES": "{not jinja}", "MULTI": "line\nbreak"},
    "secrets": [{"secret": "all"}, {"deploy_type": "env", "deploy_target": "TOKEN", "secret": "s", "key": "k"},
                {"deploy_type": "volume", "deploy_target": "/etc/creds", "secret": "v", "key": "key.json"}],
    "volume": {"size": "5Gi", "access_modes": ["ReadWriteMany"], "storageclass": "standard", "owner": 1000},
    "resources": {
        "__default__": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"},
                        "labels": {"team": "ds"}, "annotations": {"a.io/note": "line\nbreak"},
                        "node_selectors": {"cloud.google.com/gke-nodepool": "cpu"},
                        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"},
                                        {"key": "x", "value": "y", "effect": "NoExecute", "toleration_seconds": 60}],
                        "retries": 2, "execution_timeout": "PT1H"},
        "gpu": {"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}, "pool": "gpu"},
    },
    "kubernetes_pod_templates": {"templated": {"template": TEMPLATE}},
    "mlflow": {"enabled": True, "tracking_uri": "http://mlflow:5000"},
    "authentication": {"type": "Vars", "params": ["MLFLOW_TRACKING_TOKEN"]},
    "macro_params": ["ds"], "variables_params": ["env"], "deferrable": True,
}
NODES = [("a", ["raw"], ["x"], ["resources.gpu"]), ("b", ["x"], ["y"], ["k8s_template.templated"]),
         ("c", ["y"], [], [])]



CONTEXT = {"var": FakeVariables({"env": "prod", "MLFLOW_TRACKING_TOKEN": "t"}), "ti": FakeTaskInstance(),
           "dag_run": FakeDagRun()}


def dags(tmp_path_factory, example_repo):
    folder = tmp_path_factory.mktemp("valid")
    config = make_config(folder / "every-key", EVERY_KEY, git_info=GIT)
    plan = build_plan(make_graph(NODES), config, GIT, grouping="none")
    yield "every key", load_dag(render_dag(plan).source, plan.dag.dag_id, folder)
    for env in ("base", "demo", "docker", "local"):  # the example's environments (demo and docker: no pods)
        result = compile_dag(CompileRequest(project_path=example_repo[0], env=env, verify=False))
        yield f"example {env}", load_dag(result.dag.source, result.dag.dag_id, folder)


def manifests(dag):
    """Every Kubernetes object the DAG's tasks would send: pods, and the resources they create."""
    from kubernetes.client import ApiClient

    client = ApiClient()
    for task in dag.tasks:
        if hasattr(task, "build_pod_request_obj"):
            pod = render(task, **CONTEXT).build_pod_request_obj()
            yield task.task_id, {"apiVersion": "v1", "kind": "Pod", **client.sanitize_for_serialization(pod)}
        elif hasattr(task, "yaml_conf") and task.yaml_conf:
            yield task.task_id, yaml.safe_load(render(task, **CONTEXT).yaml_conf)


def test_every_pod_and_claim_is_valid_kubernetes_in_strict_mode(tmp_path_factory, example_repo):
    version = kubernetes_validate.latest_version()
    checked = {}
    for label, dag in dags(tmp_path_factory, example_repo):
        for task_id, manifest in manifests(dag):
            try:
                kubernetes_validate.validate(manifest, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{label}: {task_id}: {exc.message} at {list(exc.path)}")
            checked.setdefault(label, []).append(manifest["kind"])
    assert checked["every key"].count("Pod") == 3 + 2 + 1  # nodes, start/end_mlflow_run, data_volume_init
    assert "PersistentVolumeClaim" in checked["every key"]
    assert checked["example base"].count("Pod") >= 10
    assert "example docker" not in checked and "example demo" not in checked  # no pods there


def test_the_check_catches_an_invalid_pod():
    """The validator is strict: a pod with an unknown field or a bad value is refused."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
           "spec": {"containers": [{"name": "base", "image": "a:1", "imagePullPolcy": "Always"}]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, kubernetes_validate.latest_version(), strict=True)
    pod["spec"]["containers"][0] = {"name": "base", "image": "a:1", "resources": {"requests": {"cpu": []}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, kubernetes_validate.latest_version(), strict=True)
