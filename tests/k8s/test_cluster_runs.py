"""The k8s tier: generated DAGs run by a real Airflow on a real Kubernetes (tests/kube.py). The namespace
and accounts are docs/kubernetes.md's manifest as written; Airflow's workers hold only the token of the
account that manifest gives them; the pods pull the project image from the session's registry through
the example's pull secret, and write the run's volume, a `local` volume whose files the test reads back
on this machine after the run."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, copy_example, log_outputs, make_repo, run_cli, secret
from containers import docker
from kube import CLUSTER_ENV, NODE_POOL, Cluster, PodWatch, manifest, namespace_secrets, same_access_in

pytestmark = [pytest.mark.slow, pytest.mark.k8s]

IMAGE_USER, VOLUME_GROUP = 999, 0  # the example Dockerfile's KEDRO_UID, and run_config.volume.owner


@dataclass
class Setup:
    cluster: Cluster
    airflow: object
    registry: str
    project: Path
    commit: str
    image_repo: str
    worker_kubeconfig: Path

    def env(self, run_name: str, **config: str) -> dict[str, str]:
        return {"KEDRO_CONFIG_AIRFLOW_HOST": self.airflow.url,
                "KEDRO_CONFIG_DAGS_FOLDER": str(self.airflow.dags_folder),
                "KEDRO_CONFIG_IMAGE_REPOSITORY": self.image_repo, "KEDRO_CONFIG_RUN_NAME": run_name,
                **{f"KEDRO_CONFIG_{k.upper()}": v for k, v in config.items()}, **self.airflow.env()}


@pytest.fixture(scope="module")
def setup(k8s_cluster, docker_stack, tmp_path_factory):
    from servers import start_airflow, stop

    cluster = k8s_cluster
    cluster.label_node(NODE_POOL)
    cluster.apply(manifest("kubernetes-access"))
    cluster.apply(same_access_in("airflow-restricted", "restricted"))
    for namespace in ("airflow", "airflow-restricted"):
        namespace_secrets(cluster, namespace, docker_stack.registry)
    base = tmp_path_factory.mktemp("k8s-runs")
    project = copy_example(base / "spaceflights")
    (project / "conf" / "k8s").mkdir()
    (project / "conf" / "k8s" / "airflow-k8s.yaml").write_text(CLUSTER_ENV)
    commit = make_repo(project)
    image_repo = f"{docker_stack.registry.host}/spaceflights-k8s"
    docker("build", "--network", "host", *docker_stack.build_args("BASE_IMAGE"), "--tag", f"{image_repo}:{commit}",
           str(project))
    docker_stack.login()
    docker("push", f"{image_repo}:{commit}")
    worker = cluster.token_kubeconfig("airflow", "airflow-worker", base / "worker.kubeconfig")
    airflow = start_airflow(base / "airflow", extra_env={"KUBECONFIG": str(worker)})
    secret(airflow.password)
    yield Setup(cluster, airflow, docker_stack.registry.host, project, commit, image_repo, worker)
    stop(airflow.proc)


def run_once(setup: Setup, namespace: str, run_name: str, pipeline: str | None = None, **config: str):
    watch = PodWatch(setup.cluster, namespace)
    args = ["--project-path", str(setup.project), "-e", "k8s", *(["-p", pipeline] if pipeline else []), "run-once",
            "--wait-for-completion", "--poll-interval", "1", "--timeout", "1200"]
    try:
        result = run_cli(*args, env=setup.env(run_name, namespace=namespace, **config))
    finally:
        pods = watch.stop()
    log_outputs("k8s-run-once", result.stdout, result.stderr)
    return result, pods


def run_id_of(stdout: str, dag_id: str) -> str:
    from urllib.parse import unquote

    [run_id] = set(re.findall(rf"/dags/{re.escape(dag_id)}/runs/([^\s/?]+)", stdout))
    return unquote(run_id)


def volume_of(setup: Setup, claim_prefix: str) -> Path:
    """The `local` volume a run's claim was bound to: its claim is gone, its files stay (Retain)."""
    [volume] = [pv for pv in setup.cluster.json("pv")["items"]
                if (pv["spec"].get("claimRef") or {}).get("name", "").startswith(claim_prefix)]
    assert volume["status"]["phase"] == "Released", volume["status"]  # the run's delete task removed the claim
    return Path(volume["spec"]["local"]["path"])


def test_example_runs_one_pod_per_node_through_the_runs_volume(setup):
    from kedro_af_ci.deliver.client import AirflowClient, Credentials

    result, pods = run_once(setup, "airflow", "k8s-spaceflights")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    nodes = [t for t in pods if t.endswith("_node")]
    assert len(nodes) == 10 and "data_volume_init" in pods, pods
    for task, pod in pods.items():  # every pod ran to the end, with the volume's group
        assert pod["phase"] == "Succeeded", (task, pod)
        assert pod["fs_group"] == str(VOLUME_GROUP), (task, pod)
        assert pod["image_id"].startswith(f"{setup.image_repo}@sha256:"), pod  # pulled from the registry
    pulled = setup.cluster.json("events", "-n", "airflow", "--field-selector", "reason=Pulled")["items"]
    assert any(setup.commit in e["message"] for e in pulled), [e["message"] for e in pulled]

    volume = volume_of(setup, "k8s-spaceflights-")
    written = {p.relative_to(volume).as_posix(): p.stat() for p in volume.rglob("*") if p.is_file()}
    outputs = ("02_intermediate/preprocessed_companies.pkl", "03_primary/model_input_table.csv",
               "08_reporting/model_comparison.csv")
    assert set(outputs) <= set(written), sorted(written)
    assert "01_raw/companies.csv" in written  # data_volume_init copied the image's inputs in first
    for path in outputs:
        assert (written[path].st_uid, written[path].st_gid) == (IMAGE_USER, VOLUME_GROUP), path

    client = AirflowClient(setup.airflow.url, Credentials(username=setup.airflow.username,
                                                          password=setup.airflow.password))
    run_id = run_id_of(result.stdout, "k8s-spaceflights")
    log = "\n".join(client.task_log_tail("k8s-spaceflights", run_id, "preprocess_companies_node", 1, lines=400))
    assert "Running node: preprocess_companies_node" in log, log[-3000:]  # the pod's own output, in the task's log


# --- admission: the tool's Pod Security check against the API server's -------------------------------


def dry_run(setup: Setup, namespace: str, pod: dict) -> subprocess.CompletedProcess:
    """The pod created with server-side dry run: admission (Pod Security) decides, nothing runs."""
    import json

    pod = {**pod, "metadata": {**pod.get("metadata", {}), "namespace": namespace}}
    return setup.cluster.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)


def generated_pods(setup: Setup, tmp_path: Path, **run_config) -> dict[str, dict]:
    """Every pod the example's DAG (env k8s) submits, built by the real operator, as API objects."""
    from conftest import build_pod, load_dag
    from kubernetes.client import ApiClient

    from kedro_af_ci.compiler.pipeline import CompileRequest, compile_dag

    result = compile_dag(CompileRequest(project_path=setup.project, env="k8s", verify=False,
                                        overrides={"run_config": {"image": f"{setup.image_repo}:{setup.commit}",
                                                                  **run_config}}))
    tmp_path.mkdir(exist_ok=True)
    dag = load_dag(result.dag.source, result.dag.dag_id, tmp_path)
    return {task.task_id: ApiClient().sanitize_for_serialization(build_pod(task))
            for task in dag.tasks if hasattr(task, "build_pod_request_obj")}


@pytest.mark.parametrize(("namespace", "level"), [("airflow", "baseline"), ("airflow-restricted", "restricted")])
def test_every_generated_pod_is_admitted_at_its_level(setup, tmp_path, namespace, level):
    pods = generated_pods(setup, tmp_path, pod_security=level, namespace=namespace)
    assert len(pods) == 11  # the data volume's init and the ten nodes
    refused = {task: r.stderr for task, pod in pods.items() if (r := dry_run(setup, namespace, pod)).returncode}
    assert refused == {}
    if level == "baseline":  # the restricted namespace refuses what baseline lets through: the check is real
        answer = dry_run(setup, "airflow-restricted", pods["data_volume_init"])
        assert answer.returncode != 0 and "violates PodSecurity \"restricted:latest\"" in answer.stderr


HOST_NETWORK_TEMPLATE = """kind: Pod
spec:
  hostNetwork: true
  containers: [{name: base}]
"""


def test_a_template_outside_the_level_is_refused_by_the_tool_as_kubernetes_would(setup, tmp_path):
    templates = {"kubernetes_pod_templates": {"__default__": {"template": HOST_NETWORK_TEMPLATE}}}
    project = copy_example(tmp_path / "spaceflights")
    (project / "conf" / "k8s").mkdir()
    config = yaml.safe_load(CLUSTER_ENV)
    config["run_config"].update(templates)
    (project / "conf" / "k8s" / "airflow-k8s.yaml").write_text(yaml.safe_dump(config))
    make_repo(project)
    refused = run_cli("--project-path", str(project), "-e", "k8s", "compile", env=setup.env("k8s-host-network"))
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "spec.hostNetwork is true" in refused.stderr and "baseline" in refused.stderr

    # the same pods, let through by the tool at `privileged`: the namespace refuses them
    pods = generated_pods(setup, tmp_path / "dags", pod_security="privileged", **templates)
    assert pods["preprocess_companies_node"]["spec"]["hostNetwork"] is True
    answer = dry_run(setup, "airflow", pods["preprocess_companies_node"])
    assert answer.returncode != 0, answer.stdout
    assert "violates PodSecurity \"baseline:latest\": host namespaces (hostNetwork=true)" in answer.stderr


def test_the_workers_account_can_do_what_the_operator_does(setup):
    """docs/kubernetes.md's `kubectl auth can-i` list, for the account the manifest gives the workers; and
    nothing beyond its namespace."""
    doc = (ROOT / "docs" / "kubernetes.md").read_text()
    checks = re.search(r'for check in (.*?); do', doc, flags=re.S).group(1)
    verbs = re.findall(r'"([^"]+)"', checks)
    assert len(verbs) >= 9
    for check in verbs:
        answer = setup.cluster.kubectl("auth", "can-i", *check.split(), "-n", "airflow",
                                       "--as=system:serviceaccount:airflow:airflow-worker", check=False)
        assert answer.stdout.strip() == "yes", check
    for outside in (["create", "pods", "-n", "default"], ["list", "secrets", "-n", "airflow"],
                    ["create", "persistentvolumes"]):
        answer = setup.cluster.kubectl("auth", "can-i", *outside, "--kubeconfig", str(setup.worker_kubeconfig),
                                       check=False)
        assert answer.stdout.strip() == "no", outside


# --- more runs: deferrable at restricted, a failing node -----------------------------------------------


def test_deferrable_run_at_restricted_waits_in_the_triggerer(setup):
    """run_config.deferrable: the tasks hand their pod's wait to the triggerer (standalone runs one), in a
    namespace enforcing `restricted`, which the pods of `pod_security: restricted` pass. No retry: every
    task succeeds on its first try although its pod ends within seconds, the case in which Airflow's race
    between the trigger's event and the deferring worker's exit failed the try before the generated
    tasks polled at DEFERRED_POLL_SECONDS (docs/kubernetes.md, "Deferrable pods")."""
    from kedro_af_ci.deliver.client import AirflowClient, Credentials

    result, pods = run_once(setup, "airflow-restricted", "k8s-deferrable", "data_processing",
                            deferrable="true", pod_security="restricted")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert set(pods) == {"data_volume_init", "preprocess_companies_node", "preprocess_shuttles_node",
                         "create_model_input_table_node"}, pods
    assert {pod["phase"] for pod in pods.values()} == {"Succeeded"}, pods
    run_id = run_id_of(result.stdout, "k8s-deferrable")
    run = setup.airflow.home / "logs" / "dag_id=k8s-deferrable" / f"run_id={run_id}"
    for task in pods:  # each task's wait for its pod ran in the triggerer, which logs beside the task's log
        trigger_logs = [p.read_text() for p in (run / f"task_id={task}").glob("attempt=*.log.trigger.*.log")]
        assert any("Trigger fired event" in text for text in trigger_logs), task
    client = AirflowClient(setup.airflow.url, Credentials(username=setup.airflow.username,
                                                          password=setup.airflow.password))
    tries = {ti.task_id: ti.try_number for ti in client.task_instances("k8s-deferrable", run_id)}
    assert {tries[task] for task in pods} == {1}, tries
    volume = volume_of(setup, "k8s-deferrable-")
    table = volume / "03_primary" / "model_input_table.csv"
    assert table.stat().st_uid == IMAGE_USER and table.read_text().count("\n") > 100


def test_a_failing_node_fails_the_run_and_run_once_shows_its_pods_log(setup, docker_stack, tmp_path):
    project = copy_example(tmp_path / "spaceflights")
    (project / "conf" / "k8s").mkdir()
    (project / "conf" / "k8s" / "airflow-k8s.yaml").write_text(CLUSTER_ENV)
    nodes = project / "src" / "spaceflights" / "pipelines" / "data_processing" / "nodes.py"
    nodes.write_text(nodes.read_text().replace(
        'shuttles["d_check_complete"] = ', 'raise ValueError("kaf-k8s: shuttles.csv has no price column")\n'
        '    shuttles["d_check_complete"] = ', 1))
    commit = make_repo(project)
    docker("build", "--network", "host", *docker_stack.build_args("BASE_IMAGE"), "--tag",
           f"{setup.image_repo}:{commit}", str(project))
    docker("push", f"{setup.image_repo}:{commit}")
    failing = Setup(setup.cluster, setup.airflow, setup.registry, project, commit, setup.image_repo,
                    setup.worker_kubeconfig)
    result, pods = run_once(failing, "airflow", "k8s-failing", "data_processing")
    assert result.returncode == 8, result.stdout[-4000:] + result.stderr[-4000:]
    assert pods["preprocess_shuttles_node"]["phase"] == "Failed", pods
    assert "create_model_input_table_node" not in pods  # nothing ran after the failure
    output = result.stdout + result.stderr
    assert "preprocess_shuttles_node" in output
    assert "ValueError: kaf-k8s: shuttles.csv has no price column" in output, output[-4000:]
    claims = [c["metadata"]["name"] for c in setup.cluster.json("pvc", "-n", "airflow")["items"]]
    assert not [c for c in claims if c.startswith("k8s-failing-")]  # the delete task ran all the same


def test_airflow_2_runs_the_same_pods(setup, tmp_path):
    """Airflow 2.11 (API v1, its own KubernetesPodOperator) with the same worker token and namespace."""
    import os

    from servers import start_airflow2, stop

    python = os.environ.get("KAF_AIRFLOW2_PYTHON")
    if not python:
        pytest.fail("KAF_AIRFLOW2_PYTHON is not set: `make test` builds the Airflow 2 virtualenv and sets it")
    airflow2 = start_airflow2(Path(python), tmp_path / "airflow2",
                              extra_env={"KUBECONFIG": str(setup.worker_kubeconfig)})
    secret(airflow2.password)
    try:
        on_airflow2 = Setup(setup.cluster, airflow2, setup.registry, setup.project, setup.commit, setup.image_repo,
                            setup.worker_kubeconfig)
        result, pods = run_once(on_airflow2, "airflow", "k8s-airflow2", "data_processing")
    finally:
        stop(airflow2.proc)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert {pod["phase"] for pod in pods.values()} == {"Succeeded"} and len(pods) == 4, pods
    assert (volume_of(setup, "k8s-airflow2-") / "03_primary" / "model_input_table.csv").is_file()


def test_the_actions_docker_run_form_deploys_and_runs_on_the_cluster(setup, docker_stack, tmp_path):
    """README's `docker run` of the action: it builds and pushes the project image, writes the DAG, runs it
    once and waits; the pods pull what it pushed."""
    from container_scenario import UserRepo
    from test_docker_run import action_env, run_readme

    repo = UserRepo(tmp_path, docker_stack, setup.airflow, "k8s-action")
    (repo.project / "conf" / "k8s").mkdir()
    (repo.project / "conf" / "k8s" / "airflow-k8s.yaml").write_text(CLUSTER_ENV)
    repo.commit_all("the cluster's settings")
    env = {**action_env(repo, docker_stack.registry.password), "INPUT_ENV": "k8s",
           # several lines, as a protected variable holds it: README's command passes each variable by name
           "INPUT_DEPLOYMENT": "executions: [kubernetes]\nnamespaces: [airflow]\nservice_accounts: [kedro-runner]\n"}
    watch = PodWatch(setup.cluster, "airflow")
    try:
        result = run_readme("docker-run-action", repo, env)
    finally:
        pods = watch.stop()
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    outputs = dict(re.findall(r"^([a-z-]+) +(\S+)$", result.stdout, flags=re.M))
    assert outputs["run-state"] == "success" and outputs["image"] == f"{repo.image_repo}:{repo.commit}"
    repo.assert_image_pushed()
    assert len(pods) == 4 and {pod["phase"] for pod in pods.values()} == {"Succeeded"}, pods
    assert {pod["image_id"].split("@")[0] for pod in pods.values()} == {repo.image_repo}
