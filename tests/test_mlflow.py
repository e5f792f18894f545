"""MLflow: detection from kedro-mlflow config, the start/end tasks and MLFLOW_RUN_ID in real Airflow
operators, authentication, the helper script against a real MLflow server, and a run end to end in
local execution mode on the real Airflow."""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
import time
import types
from pathlib import Path

import pytest
import yaml
from conftest import (
    RUN_ID,
    FakeVariables,
    build_pod,
    copy_example,
    load_dag,
    make_config,
    make_graph,
    make_repo,
    run_cli,
)

from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.graph.model import MlflowInfo, PipelineGraph
from kedro_af_ci.plan.build import build_plan
from kedro_af_ci.render.dag import render_dag

GIT = GitInfo("c0ffee" + "0" * 34, "feature/x")
HOSTILE = "exp {{ ds }} 'q' \"dq\" $(id)\n"


class TI:
    """The template context's task instance: xcom_pull answers what start_mlflow_run pushed."""

    task_id = "n1"

    def __init__(self, run_id="0123abcd"):
        self.run_id = run_id
        self.pulled = []

    def xcom_pull(self, task_ids=None, key="return_value"):
        self.pulled.append((task_ids, key))
        return self.run_id


def compile_mlflow(tmp_path, run_config=None, mlflow=MlflowInfo("http://mlflow.example:5000", "from-yaml"),
                   nodes=None):
    config = make_config(tmp_path, {"image": "repo/p:1", **(run_config or {})}, git_info=GIT)
    graph = make_graph(nodes or [("n1", ["raw"], ["x"], []), ("n2", ["x"], ["y"], []), ("n3", ["x"], ["z"], [])])
    graph = dataclasses.replace(graph, mlflow=mlflow)
    plan = build_plan(graph, config, GIT)
    rendered = render_dag(plan)
    return plan, rendered, load_dag(rendered.source, plan.dag.dag_id, tmp_path)


def env_of(pod):
    return {e.name: e.value for e in pod.spec.containers[0].env or []}


@pytest.mark.airflow
def test_start_and_end_tasks_wrap_the_pipeline(tmp_path):
    plan, _, dag = compile_mlflow(tmp_path, {"volume": {"disabled": True}})
    t = dag.task_dict
    assert {"start_mlflow_run", "end_mlflow_run", "end"} <= set(t)
    assert t["n1"].upstream_task_ids == {"start_mlflow_run"}
    assert t["end_mlflow_run"].upstream_task_ids == {"n2", "n3"} and t["end_mlflow_run"].trigger_rule == "all_done"
    assert t["end"].upstream_task_ids == {"n2", "n3"} and t["end"].trigger_rule == "all_success"
    assert t["start_mlflow_run"].do_xcom_push is True
    assert plan.mlflow.experiment_name == "from-yaml"


@pytest.mark.airflow
def test_pods_run_the_helper_and_nodes_get_the_run_id(tmp_path):
    from kedro_af_ci.render import mlflow_run

    _, _, dag = compile_mlflow(tmp_path, {"experiment_name": HOSTILE})
    dag_run = types.SimpleNamespace(dag_id=dag.dag_id, run_id=RUN_ID)
    start = build_pod(dag.task_dict["start_mlflow_run"], ti=TI(), dag_run=dag_run)
    container = start.spec.containers[0]
    assert container.command[:2] == ["python", "-c"]
    assert container.command[2] == Path(mlflow_run.__file__).read_text(encoding="utf-8")  # byte for byte
    args = container.args
    assert args[:3] == ["start", "--experiment", HOSTILE]  # config wins over mlflow.yml, verbatim
    assert args[args.index("--tracking-uri") + 1] == "http://mlflow.example:5000"
    assert args[args.index("--run-name") + 1] == RUN_ID
    assert args[args.index("--key") + 1] == f"{dag.dag_id}/{RUN_ID}"
    assert f"mlflow.source.git.commit={GIT.commit_id}" in args and "git.branch=feature/x" in args
    assert f"docker.image={container.image}" in args  # the run records the image it ran
    assert args[-1] == "--xcom"
    assert "MLFLOW_RUN_ID" not in env_of(start)
    ti = TI("run-42")
    node = build_pod(dag.task_dict["n2"], ti=ti)
    assert env_of(node)["MLFLOW_RUN_ID"] == "run-42"
    assert ti.pulled == [("start_mlflow_run", "return_value")]
    init = build_pod(dag.task_dict["data_volume_init"], ti=TI())
    assert "MLFLOW_RUN_ID" not in env_of(init)


@pytest.mark.airflow
def test_vars_authentication_renders_variables_into_the_mlflow_pods_only(tmp_path):
    _, _, dag = compile_mlflow(tmp_path, {"authentication": {
        "type": "Vars", "params": ["MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"]}})
    variables = FakeVariables({"MLFLOW_TRACKING_USERNAME": "kedro-bot", "MLFLOW_TRACKING_PASSWORD": "pa55-{{x}}"})
    dag_run = types.SimpleNamespace(dag_id=dag.dag_id, run_id=RUN_ID)
    start = env_of(build_pod(dag.task_dict["start_mlflow_run"], ti=TI(), var=variables, dag_run=dag_run))
    assert start["MLFLOW_TRACKING_USERNAME"] == "kedro-bot"
    assert start["MLFLOW_TRACKING_PASSWORD"] == "pa55-{{x}}"  # a Variable's value is not rendered again
    node = env_of(build_pod(dag.task_dict["n1"], ti=TI(), var=variables))
    assert "MLFLOW_TRACKING_PASSWORD" not in node  # the seed: authentication is for starting the run


def test_google_oauth2_token_comes_from_the_service_account(tmp_path, monkeypatch):
    """The generated DAG's token function, run for real through google-auth against a local token endpoint."""
    pytest.importorskip("google.oauth2.id_token")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from kedro_af_ci.plan.build import build_plan as plan_of
    config = make_config(tmp_path, {"image": "repo/p:1", "authentication": {"type": "GoogleOAuth2"}}, git_info=GIT)
    graph = dataclasses.replace(make_graph([("n1", [], [], [])]), mlflow=MlflowInfo("https://mlflow.example"))
    source = render_dag(plan_of(graph, config, GIT)).source
    assert "GOOGLE_APPLICATION_CREDENTIALS" in source and "kaf_google_id_token() }}" in source

    seen = {}
    payload = json.dumps({"exp": int(time.time()) + 3600, "aud": "mlflow-aud"}).encode()
    import base64

    jwt = ".".join(base64.urlsafe_b64encode(p).decode().rstrip("=") for p in (b'{"alg":"RS256"}', payload, b"sig"))

    class TokenEndpoint(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen["body"] = self.rfile.read(int(self.headers["Content-Length"])).decode()
            body = json.dumps({"id_token": jwt}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    account = tmp_path / "sa.json"
    account.write_text(json.dumps({
        "type": "service_account", "project_id": "p", "private_key_id": "k1", "private_key": pem,
        "client_email": "runner@p.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": f"http://127.0.0.1:{server.server_address[1]}/token"}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(account))
    monkeypatch.setenv("GOOGLE_AUDIENCE", "mlflow-aud")
    namespace: dict = {}
    exec(compile(source, "dag.py", "exec"), namespace)  # the generated module, as Airflow imports it
    try:
        assert namespace["_google_id_token"]() == jwt
    finally:
        server.shutdown()
    assert "assertion=" in seen["body"]  # a signed JWT grant for the audience, made by google-auth
    monkeypatch.delenv("GOOGLE_AUDIENCE")
    with pytest.raises(RuntimeError, match="GOOGLE_AUDIENCE"):
        namespace["_google_id_token"]()


@pytest.mark.airflow
def test_pod_template_that_sets_the_run_id_is_respected(tmp_path):
    template = ("kind: Pod\nspec:\n  containers:\n    - name: base\n      env:\n"
                "        - name: MLFLOW_RUN_ID\n          value: \"{{ ti.xcom_pull(task_ids='start_mlflow_run') }}\"\n")
    _, _, dag = compile_mlflow(tmp_path, {"kubernetes_pod_templates": {"own": {"template": template}}},
                               nodes=[("n1", [], ["x"], ["k8s_template:own"]), ("n2", ["x"], [], [])])
    own = build_pod(dag.task_dict["n1"], ti=TI("r1"))
    names = [e.name for e in own.spec.containers[0].env]
    assert names.count("MLFLOW_RUN_ID") == 1
    assert env_of(build_pod(dag.task_dict["n2"], ti=TI("r1")))["MLFLOW_RUN_ID"] == "r1"


@pytest.mark.airflow
def test_sensors_come_before_the_mlflow_run(tmp_path):
    _, _, dag = compile_mlflow(tmp_path, {"external_dependencies": [{"dag_id": "upstream"}]})
    assert "external_dependencies.wait_for_upstream" in dag.task_dict["start_mlflow_run"].upstream_task_ids


def test_enabled_key_overrides_detection(tmp_path):
    graph = make_graph([("n1", [], [], [])], package="pkg")
    on = build_plan(graph, make_config(tmp_path, {"image": "a:1", "mlflow": {"enabled": True}}), GIT)
    assert on.mlflow.experiment_name == "pkg" and on.mlflow.tracking_uri is None
    detected = dataclasses.replace(graph, mlflow=MlflowInfo("mlruns", None, installed=False))
    off = build_plan(detected, make_config(tmp_path, {"image": "a:1", "mlflow": {"enabled": False}}), GIT)
    assert off.mlflow is None
    local = build_plan(detected, make_config(tmp_path, {"image": "a:1"}), GIT)
    assert local.mlflow.tracking_uri == "file:///home/kedro/mlruns"  # relative to the project, as kedro-mlflow
    assert {"mlflow-not-installed", "mlflow-uri-in-pod"} <= {w.code for w in local.warnings}


def test_no_mlflow_config_no_tasks(tmp_path):
    plan = build_plan(make_graph([("n1", [], [], [])]), make_config(tmp_path, {"image": "a:1"}), GIT)
    assert plan.mlflow is None and "MLFLOW" not in render_dag(plan).source


def test_tracking_uri_with_credentials_is_refused(tmp_path):
    from kedro_af_ci.errors import ConfigError

    with pytest.raises(ConfigError, match=r"run_config\.mlflow\.tracking_uri: the tracking URI carries credentials"):
        make_config(tmp_path, {"image": "a:1", "mlflow": {"tracking_uri": "https://u:s3cret@mlflow.example"}})


def test_graph_reads_kedro_mlflow_config_and_survives_json(tmp_path):
    from kedro_af_ci.graph.extract import extract_graph

    project = copy_example(tmp_path / "p")
    assert extract_graph(project, "data_processing").mlflow is None
    (project / "conf" / "base" / "mlflow.yml").write_text(yaml.safe_dump({
        "server": {"mlflow_tracking_uri": "http://tracking:5000"},
        "tracking": {"experiment": {"name": "shuttles"}}}))
    graph = extract_graph(project, "data_processing")
    assert graph.mlflow == MlflowInfo("http://tracking:5000", "shuttles", installed=True)
    assert PipelineGraph.from_dict(json.loads(graph.to_json())) == graph


@pytest.mark.slow
def test_helper_script_against_a_real_tracking_server(mlflow_server, tmp_path):
    import subprocess
    import sys

    from mlflow import MlflowClient

    from kedro_af_ci.render import mlflow_run

    def helper(*args):
        out = subprocess.run([sys.executable, mlflow_run.__file__, *args, "--tracking-uri", mlflow_server],
                             capture_output=True, text=True, check=True, cwd=tmp_path).stdout
        return json.loads(out.strip().splitlines()[-1])

    key = "dag/manual__2026-11-22T10:00:00+00:00 'quoted' \"twice\""
    first = helper("start", "--experiment", "helper test", "--run-name", "r", "--key", key, "--tag", "a=b=c")
    again = helper("start", "--experiment", "helper test", "--run-name", "r", "--key", key)
    other = helper("start", "--experiment", "helper test", "--run-name", "r", "--key", key + "2")
    assert not first["reused"] and again == {**first, "reused": True} and other["run_id"] != first["run_id"]
    client = MlflowClient(mlflow_server)
    run = client.get_run(first["run_id"])
    assert run.data.tags["a"] == "b=c" and run.data.tags["airflow.run"] == key and run.info.status == "RUNNING"
    assert helper("end", "--run-id", first["run_id"], "--status", "FAILED")["status"] == "FAILED"
    assert client.get_run(first["run_id"]).info.status == "FAILED"
    helper("start", "--experiment", "helper test", "--run-name", "r", "--key", key)  # the DAG run is cleared
    assert client.get_run(first["run_id"]).info.status == "RUNNING"
    assert helper("end", "--run-id", "None", "--status", "FAILED")["skipped"]  # start failed: nothing to close
    # a deleted experiment stays deleted: the start fails and says why
    client.delete_experiment(client.get_experiment_by_name("helper test").experiment_id)
    deleted = subprocess.run([sys.executable, mlflow_run.__file__, "start", "--experiment", "helper test",
                              "--run-name", "r", "--key", "k", "--tracking-uri", mlflow_server], capture_output=True,
                             text=True, cwd=tmp_path)
    assert deleted.returncode != 0 and "MLflow experiment 'helper test' is deleted" in deleted.stderr
    assert client.get_experiment_by_name("helper test").lifecycle_stage == "deleted"


@pytest.mark.slow
@pytest.mark.parametrize("outcome", ["success", "failed"])
def test_run_once_in_local_mode_tracks_one_mlflow_run(outcome, airflow_server, mlflow_server, tmp_path):
    from mlflow import MlflowClient

    project = copy_example(tmp_path / "spaceflights")
    (project / "conf" / "demo" / "mlflow.yml").write_text(yaml.safe_dump({
        "server": {"mlflow_tracking_uri": mlflow_server}}))
    if outcome == "failed":
        (project / "data" / "01_raw" / "companies.csv").unlink()
    make_repo(project)
    dag_id = f"kaf-e2e-mlflow-{outcome}"
    result = run_cli("--project-path", str(project), "-e", "demo", "-p", "data_processing", "run-once",
                     "--wait-for-completion", "--poll-interval", "1", env={
                         "KEDRO_CONFIG_AIRFLOW_HOST": airflow_server.url,
                         "KEDRO_CONFIG_DAGS_FOLDER": str(airflow_server.dags_folder),
                         "KEDRO_CONFIG_PROJECT_PATH": str(project),
                         "KEDRO_CONFIG_RUN_NAME": dag_id, **airflow_server.env()})
    assert result.returncode == (0 if outcome == "success" else 8), result.stderr[-3000:]

    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("Spaceflights")  # run_config.experiment_name of the example
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.`airflow.run` LIKE '{dag_id}/%'")
    assert len(runs) == 1  # one DAG run, one MLflow run
    run = runs[0]
    assert run.info.status == ("FINISHED" if outcome == "success" else "FAILED")
    assert run.data.tags["kedro.pipeline"] == "data_processing"
    nodes = {k.removeprefix("kedro.node.") for k in run.data.tags if k.startswith("kedro.node.")}
    if outcome == "success":  # every node task received MLFLOW_RUN_ID and logged into this run
        assert nodes == {"preprocess_companies_node", "preprocess_shuttles_node", "create_model_input_table_node"}
    else:
        assert "preprocess_companies_node" not in nodes
