"""The same generated DAGs in Airflow 2.11 and Airflow 3: zero import errors, identical pods.

`make test` builds a second virtualenv with Airflow 2 and passes its Python in KAF_AIRFLOW2_PYTHON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_config, make_graph

from kedro_af_ci.compiler.pipeline import CompileRequest, compile_dag
from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.plan.build import build_plan
from kedro_af_ci.render.dag import render_dag

pytestmark = pytest.mark.airflow
AIRFLOW2 = os.environ.get("KAF_AIRFLOW2_PYTHON")
SNAPSHOT = Path(__file__).with_name("pods_snapshot.py")


def snapshot(python: str, folder: Path, home: Path) -> dict:
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    if python != sys.executable:
        subprocess.run([python, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True,
                       timeout=600)
    output = home / "snapshot.json"
    result = subprocess.run([python, str(SNAPSHOT), str(folder), str(output)], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(output.read_text())


@pytest.mark.skipif(not AIRFLOW2 and os.environ.get("CI") != "true", reason="no Airflow 2 virtualenv")
def test_same_dags_load_and_build_equal_pods_in_airflow_2_and_3(example_repo, tmp_path):
    assert AIRFLOW2, "CI must provide KAF_AIRFLOW2_PYTHON (see Makefile)"
    folder = tmp_path / "dags"
    folder.mkdir()
    result = compile_dag(CompileRequest(project_path=example_repo[0], verify=False))
    (folder / "spaceflights.py").write_text(result.dag.source)
    local = compile_dag(CompileRequest(project_path=example_repo[0], env="demo", verify=False))
    (folder / "spaceflights_demo.py").write_text(local.dag.source)
    on_docker = compile_dag(CompileRequest(project_path=example_repo[0], env="docker", verify=False))
    (folder / "spaceflights_docker.py").write_text(on_docker.dag.source)
    config = make_config(tmp_path, {
        "image": "a:1", "run_name": "features", "external_dependencies": [{"dag_id": "up", "execution_delta": 5}],
        "failure_handlers": [{"type": "slack"}], "env_vars": {"RUN_DATE": "{{ ds }}", "BRACES": "{not jinja}"},
        "mlflow": {"enabled": True, "tracking_uri": "http://mlflow:5000"},
        "authentication": {"type": "Vars", "params": ["MLFLOW_TRACKING_TOKEN"]},
        "secrets": [{"secret": "all"}, {"deploy_type": "volume", "deploy_target": "/s", "secret": "v", "key": "k"}],
        "resources": {"__default__": {"annotations": {"a.io/x": "line\nbreak"}, "labels": {"team": "ds"},
                                      "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
                                      "requests": {"cpu": "1"}, "retries": 3, "retry_delay": "PT1M",
                                      "retry_exponential_backoff": True, "execution_timeout": 600, "pool": "p",
                                      "pool_slots": 2, "priority_weight": 7, "queue": "q"}},
        "max_active_tasks": 4, "dagrun_timeout": "PT2H", "owner": "ml-team", "tags": ["team:ml"],
    })
    graph = make_graph([("a", [], ["x"], []), ("b", ["x"], [], [])],
                       datasets={"x": {"type": "pandas.CSVDataset", "location": "s3://lake/x.csv"}})
    plan = build_plan(graph, config, GitInfo("a" * 40, "m"), grouping="none")
    (folder / "features.py").write_text(render_dag(plan).source)

    af3 = snapshot(sys.executable, folder, tmp_path / "home3")
    af2 = snapshot(AIRFLOW2, folder, tmp_path / "home2")
    assert af3["import_errors"] == {} and af2["import_errors"] == {}
    assert set(af3["tasks"]) == {"spaceflights", "spaceflights-demo", "spaceflights-docker", "features"}
    assert af2["tasks"] == af3["tasks"]
    # node pods + data_volume_init of both Kubernetes DAGs, + start/end_mlflow_run of "features"
    assert len(af3["pods"]) == (10 + 1) + (2 + 1 + 2)
    assert af3["pods"]["features.end_mlflow_run"]["spec"]["containers"][0]["args"][:5] == [
        "end", "--run-id", "mlflow-run-1", "--status", "FAILED"]
    start = af3["pods"]["features.start_mlflow_run"]["spec"]["containers"][0]
    start_env = {e["name"]: e["value"] for e in start["env"]}
    assert start_env["MLFLOW_TRACKING_TOKEN"] == "variable-MLFLOW_TRACKING_TOKEN"
    for key in af3["pods"]:
        assert af2["pods"][key] == af3["pods"][key], key
    # the task settings and DAG knobs mean the same to both
    assert af3["settings"]["features.a"] == {
        "retries": 3, "retry_delay": 60.0, "retry_exponential_backoff": True, "execution_timeout": 600.0,
        "pool": "p", "pool_slots": 2, "priority_weight": 7, "queue": "q", "owner": "ml-team", "group": None,
        "inlets": [], "outlets": ["s3://lake/x.csv"]}  # an Asset on Airflow 3, a Dataset on Airflow 2
    assert af3["settings"]["features.b"]["inlets"] == ["s3://lake/x.csv"]
    assert af3["dags"]["features"]["max_active_tasks"] == 4 and af3["dags"]["features"]["dagrun_timeout"] == 7200
    assert af2["settings"] == af3["settings"] and af2["dags"] == af3["dags"]
    # the example's modular pipelines as task groups in both
    assert af3["settings"]["spaceflights.active_modelling_pipeline.train_model_node"]["group"] == \
        "active_modelling_pipeline"
    # execution docker: 10 node containers + data_volume_init, rendered alike by both
    assert len(af3["containers"]) == 11 and af2["containers"] == af3["containers"]
    init = af3["containers"]["spaceflights-docker.data_volume_init"]
    assert init["user"] == "0" and init["mounts"][0]["target"] == "/mnt/kedro-data-volume"
    assert init["mounts"][0]["source"].startswith("spaceflights-docker-manual-2026-11-22t10-00-00-00-00-")


@pytest.fixture(scope="module")
def airflow2_server(tmp_path_factory):
    from servers import start_airflow2, stop

    if not AIRFLOW2:
        pytest.skip("no Airflow 2 virtualenv")
    server = start_airflow2(Path(AIRFLOW2), tmp_path_factory.mktemp("airflow2-server"))
    yield server
    stop(server.proc)


@pytest.mark.slow
@pytest.mark.skipif(not AIRFLOW2 and os.environ.get("CI") != "true", reason="no Airflow 2 virtualenv")
def test_run_once_with_wait_on_airflow_2(airflow2_server, tmp_path):
    """API v1 with basic auth: upload, wait for the version, unpause, trigger, wait, success."""
    from conftest import copy_example, make_repo, run_cli

    project = copy_example(tmp_path / "spaceflights")
    make_repo(project)
    env = {"KEDRO_CONFIG_AIRFLOW_HOST": airflow2_server.url,
           "KEDRO_CONFIG_DAGS_FOLDER": str(airflow2_server.dags_folder),
           "KEDRO_CONFIG_PROJECT_PATH": str(project), "KEDRO_CONFIG_RUN_NAME": "kaf-airflow2",
           **airflow2_server.env()}
    result = run_cli("--project-path", str(project), "-e", "demo", "-p", "data_processing", "run-once",
                     "--wait-for-completion", "--poll-interval", "1", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{airflow2_server.url}/dags/kaf-airflow2/grid?dag_run_id=kaf_run_once__" in result.stdout
    assert ": success —" in result.stdout
    assert (project / "data" / "03_primary" / "model_input_table.csv").is_file()
    assert airflow2_server.password not in result.stdout + result.stderr
    listed = run_cli("--project-path", str(project), "-e", "demo", "list-pipelines", env=env, check=True)
    assert "kaf-airflow2" in listed.stdout

    # the branch's DAG removed through API v1 (main is the default branch: --force)
    refused = run_cli("--project-path", str(project), "-e", "demo", "delete-pipeline", env=env)
    assert refused.returncode == 3 and "the default branch's" in refused.stderr
    deleted = run_cli("--project-path", str(project), "-e", "demo", "delete-pipeline", "--force", env=env)
    assert deleted.returncode == 0, deleted.stderr[-3000:]
    assert "removed from Airflow" in deleted.stdout and not (airflow2_server.dags_folder / "kaf-airflow2.py").exists()
    from kedro_af_ci.deliver.client import AirflowClient, Credentials

    client = AirflowClient(airflow2_server.url, Credentials(username=airflow2_server.username,
                                                            password=airflow2_server.password))
    assert client.api == "v1" and client.get_dag("kaf-airflow2") is None
