"""Data-aware scheduling across Kedro projects on a real Airflow 3: a project whose DAG writes a
catalog dataset to a fixed URI, and another project's DAG scheduled on that URI, which runs when the
first one's run finishes."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from conftest import airflow_token, copy_example, make_repo, run_cli

pytestmark = pytest.mark.slow


def project(tmp_path, name: str, run_config_extra: str, catalog_path: str | None = None):
    path = copy_example(tmp_path / name)
    config = path / "conf" / "demo" / "airflow-k8s.yaml"
    config.write_text(config.read_text() + f"  cron_expression: null\n{run_config_extra}")
    if catalog_path:
        catalog = path / "conf" / "base" / "catalog.yml"
        catalog.write_text(catalog.read_text().replace("filepath: data/03_primary/model_input_table.csv",
                                                       f"filepath: {catalog_path}"))
    make_repo(path)
    return path


def wait_for(what: str, check, timeout: float = 240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(2)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def test_a_dag_scheduled_on_another_projects_output_runs_when_it_is_written(airflow_server, tmp_path):
    from kedro_af_ci.deliver.client import AirflowClient, Credentials

    uri = f"file://{tmp_path}/shared/model_input_table.csv"
    (tmp_path / "shared").mkdir()
    upstream = project(tmp_path, "upstream", "  run_name: kaf-assets-up\n", catalog_path=uri)
    downstream = project(tmp_path, "downstream", f"  run_name: kaf-assets-down\n  schedule_on_assets: [{uri!r}]\n"
                         "  macro_params: []\n")  # no logical date in a run an Asset starts
    client = AirflowClient(airflow_server.url, Credentials(token=airflow_token(airflow_server)))
    env = {"KEDRO_CONFIG_DAGS_FOLDER": str(airflow_server.dags_folder), **airflow_server.env()}

    def upload(path, dag_id):
        result = run_cli("--project-path", str(path), "-e", "demo", "-p", "data_processing", "upload-pipeline",
                         env={**env, "KEDRO_CONFIG_PROJECT_PATH": str(path)})
        assert result.returncode == 0, result.stderr[-3000:]
        token = client.known_file_token(prefer_tag_prefix="")
        if token:
            client.reparse(token)  # a rescan finds the new file now, not at the next folder scan
        wait_for(f"{dag_id} in Airflow", lambda: client.get_dag(dag_id))
        client.set_paused(dag_id, False)
        return result

    upload(downstream, "kaf-assets-down")
    up = upload(upstream, "kaf-assets-up")
    assert "1 catalog dataset(s) as Assets" in up.stderr
    assets = client._send("GET", "/api/v2/assets", params={"uri_pattern": "shared/model_input_table"}).json()
    assert [a["uri"] for a in assets["assets"]] == [uri]

    client.trigger("kaf-assets-up", "kaf-assets-test", datetime.now(timezone.utc).isoformat())
    state = wait_for("the upstream run's end", lambda: client.get_run("kaf-assets-up", "kaf-assets-test").state
                     in ("success", "failed") and client.get_run("kaf-assets-up", "kaf-assets-test").state)
    if state != "success":
        logs = [line for ti in client.task_instances("kaf-assets-up", "kaf-assets-test") if ti.state == "failed"
                for line in client.task_log_tail("kaf-assets-up", "kaf-assets-test", ti.task_id,
                                                 ti.try_number or 1, 40)]
        raise AssertionError("\n".join(logs))
    runs = wait_for("a run of the downstream DAG", lambda: client.latest_runs("kaf-assets-down"))
    assert runs[0].run_type == "asset_triggered"
    done = wait_for("the downstream run's end", lambda: client.get_run("kaf-assets-down", runs[0].run_id).state
                in ("success", "failed") and client.get_run("kaf-assets-down", runs[0].run_id).state)
    assert done == "success"


def test_the_ui_draws_the_modular_pipelines_as_task_groups(airflow_server, tmp_path):
    """The example's two modelling namespaces, as Airflow 3's UI gets the DAG's structure."""
    from kedro_af_ci.deliver.client import AirflowClient, Credentials

    path = project(tmp_path, "groups", "  run_name: kaf-task-groups\n")
    result = run_cli("--project-path", str(path), "-e", "demo", "upload-pipeline",
                     env={"KEDRO_CONFIG_DAGS_FOLDER": str(airflow_server.dags_folder), **airflow_server.env(),
                          "KEDRO_CONFIG_PROJECT_PATH": str(path)})
    assert result.returncode == 0, result.stderr[-3000:]
    client = AirflowClient(airflow_server.url, Credentials(token=airflow_token(airflow_server)))
    token = client.known_file_token(prefer_tag_prefix="")
    if token:
        client.reparse(token)
    wait_for("kaf-task-groups in Airflow", lambda: client.get_dag("kaf-task-groups"))
    structure = client._send("GET", "/ui/structure/structure_data", params={"dag_id": "kaf-task-groups"}).json()
    groups = {node["id"]: node for node in structure["nodes"] if node.get("children")}
    assert set(groups) == {"active_modelling_pipeline", "candidate_modelling_pipeline"}
    children = {child["id"] for child in groups["active_modelling_pipeline"]["children"]}
    assert "active_modelling_pipeline.train_model_node" in children
