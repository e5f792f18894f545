"""run-once, schedule and list-pipelines against a real Airflow 3 standalone (local execution mode)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import copy_example, git, make_repo, run_cli
from faultproxy import FaultProxy, Rule

from kedro_af_ci.deliver.client import AirflowClient, Credentials
from kedro_af_ci.deliver.deploy import Progress, trigger_and_wait

pytestmark = pytest.mark.slow


def deploy_env(server, project, run_name):
    return {
        "KEDRO_CONFIG_AIRFLOW_HOST": server.url,
        "KEDRO_CONFIG_DAGS_FOLDER": str(server.dags_folder),
        "KEDRO_CONFIG_PROJECT_PATH": str(project),
        "KEDRO_CONFIG_RUN_NAME": run_name,
        **server.env(),
    }


@pytest.fixture(scope="module")
def small_dag(airflow_server, tmp_path_factory):
    """The 3-node data_processing pipeline deployed once (and run once) under dag id kaf-e2e-small."""
    project = copy_example(tmp_path_factory.mktemp("small") / "spaceflights")
    make_repo(project)
    env = deploy_env(airflow_server, project, "kaf-e2e-small")
    result = run_cli("--project-path", str(project), "-e", "demo", "-p", "data_processing", "run-once",
                     "--wait-for-completion", "--poll-interval", "1", env=env)
    return project, env, result


def test_run_once_example_end_to_end(airflow_server, tmp_path):
    project = copy_example(tmp_path / "spaceflights")
    make_repo(project)
    result = run_cli("--project-path", str(project), "-e", "demo", "run-once", "--wait-for-completion",
                     "--poll-interval", "1", env=deploy_env(airflow_server, project, "kaf-e2e-full"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Run kaf_run_once__" in result.stdout and ": success —" in result.stdout
    assert "compare_models_node" in result.stdout  # the task table
    rows = list(csv.DictReader((project / "data" / "08_reporting" / "model_comparison.csv").open()))
    assert [r["model"] for r in rows] == ["active", "candidate"]
    assert rows[0]["run_date"] == datetime.now(timezone.utc).strftime("%Y-%m-%d")  # macro_params: ds
    for secret in (airflow_server.password,):
        assert secret not in result.stdout and secret not in result.stderr


def test_small_dag_succeeds_and_waits_for_new_file(small_dag):
    _, _, result = small_dag
    assert result.returncode == 0, result.stderr[-3000:]
    assert "waiting for Airflow to discover the new file kaf-e2e-small.py" in result.stderr


def test_failing_node_gives_exit_8_naming_the_task(airflow_server, tmp_path):
    project = copy_example(tmp_path / "spaceflights")
    (project / "data" / "01_raw" / "companies.csv").unlink()
    make_repo(project)
    result = run_cli("--project-path", str(project), "-e", "demo", "-p", "data_processing", "run-once",
                     "--wait-for-completion", "--poll-interval", "1",
                     env=deploy_env(airflow_server, project, "kaf-e2e-failing"))
    assert result.returncode == 8
    assert "failed task(s): preprocess_companies_node" in result.stderr
    assert f"{airflow_server.url}/dags/kaf-e2e-failing/runs/" in result.stderr
    assert "/tasks/preprocess_companies_node" in result.stderr
    # the reason, from the task's own log through the API: the missing input file
    tail = result.stderr.split("last lines of preprocess_companies_node's log:", 1)[1]
    assert "companies.csv" in tail, result.stderr[-3000:]


def test_redeploy_waits_for_the_new_version(small_dag, airflow_server):
    project, env, _ = small_dag
    (project / "conf" / "demo" / "airflow-k8s.yaml").write_text(
        (project / "conf" / "demo" / "airflow-k8s.yaml").read_text().replace("\n  execution: local\n",
                                                                               "\n  execution: local\n  retries: 1\n"))
    git(project, "commit", "-qam", "retries")
    result = run_cli("--project-path", str(project), "-e", "demo", "-p", "data_processing", "run-once",
                     "--poll-interval", "1", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "waiting for Airflow to parse the uploaded version" in result.stderr


def test_list_pipelines_and_schedule(small_dag, airflow_server):
    project, env, _ = small_dag
    listed = run_cli("--project-path", str(project), "-e", "demo", "list-pipelines", env=env, check=True)
    assert "kaf-e2e-small" in listed.stdout
    scheduled = run_cli("--project-path", str(project), "-e", "demo", "-p", "data_processing", "schedule",
                        "-c", "0 5 * * *", env=env, check=True)
    assert "Scheduled 'kaf-e2e-small' with '0 5 * * *'" in scheduled.stdout
    assert "schedule='0 5 * * *'" in (airflow_server.dags_folder / "kaf-e2e-small.py").read_text()
    ui = run_cli("--project-path", str(project), "-e", "demo", "ui", env={**env, "BROWSER": "true"}, check=True)
    assert ui.stdout.strip() == f"{airflow_server.url}/dags/kaf-e2e-small"


def test_run_once_never_replaces_a_scheduled_dag(small_dag, airflow_server):
    """After the schedule above, a run-once under the same DAG id (a run-once of the default branch)
    would upload an unscheduled DAG over the scheduled one: refused before anything is written."""
    project, env, _ = small_dag
    dag_file = airflow_server.dags_folder / "kaf-e2e-small.py"
    before = dag_file.read_text()
    assert "schedule='0 5 * * *'" in before
    result = run_cli("--project-path", str(project), "-e", "demo", "-p", "data_processing", "run-once", env=env)
    assert result.returncode == 3, result.stderr[-2000:]
    assert "run-once would replace the scheduled DAG 'kaf-e2e-small' (0 5 * * *)" in result.stderr
    assert dag_file.read_text() == before


def test_faults_never_trigger_twice(small_dag, airflow_server):
    upstream = AirflowClient(airflow_server.url, Credentials(username="admin", password=airflow_server.password))
    # count manual runs only: the schedule test above may let the scheduler add a scheduled run meanwhile
    before = [r for r in upstream.latest_runs("kaf-e2e-small", limit=100) if r.run_type == "manual"]
    proxy = FaultProxy(airflow_server.url, rules=[
        Rule("GET", "/api/v2/version", "status:503"),
        Rule("POST", "/auth/token", "reset"),
        Rule("GET", "/api/v2/dags/kaf-e2e-small", "status:500", times=2),
        Rule("POST", "/dagRuns", "lose-answer"),  # the run is created, the client sees 502
        Rule("GET", "/dagRuns/", "status:429", times=2),
        Rule("GET", "/dagRuns/", "reset"),
        Rule("GET", "/taskInstances", "status:502"),
    ])
    url = proxy.start()
    try:
        client = AirflowClient(url, Credentials(username="admin", password=airflow_server.password),
                               backoff=0.05, retries=6)
        outcome = trigger_and_wait(client, "kaf-e2e-small", "kaf_fault_test_run", wait=True, timeout=600, poll=1,
                                   progress=Progress(enabled_tty=False))
    finally:
        proxy.stop()
    assert outcome.state == "success"
    after = [r for r in upstream.latest_runs("kaf-e2e-small", limit=100) if r.run_type == "manual"]
    assert len(after) == len(before) + 1
    assert sum(r.run_id == "kaf_fault_test_run" for r in after) == 1
    assert ("POST", "/api/v2/dags/kaf-e2e-small/dagRuns", "lose-answer") in proxy.log
    assert all(rule.used == rule.times for rule in proxy.rules)


def test_bearer_token_is_used_and_never_printed(small_dag, airflow_server):
    project, env, _ = small_dag
    token = AirflowClient(airflow_server.url, Credentials(username="admin", password=airflow_server.password))
    jwt = token._exchange_token()
    token_env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW_")}
    result = run_cli("--project-path", str(project), "-e", "demo", "--verbose", "list-pipelines",
                     env={**token_env, "AIRFLOW_API_TOKEN": jwt, "AIRFLOW_USERNAME": "", "AIRFLOW_PASSWORD": ""})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "kaf-e2e-small" in result.stdout
    assert jwt not in result.stdout + result.stderr
    bad = run_cli("--project-path", str(project), "-e", "demo", "--verbose", "list-pipelines",
                  env={**token_env, "AIRFLOW_API_TOKEN": "not-a-valid-token-s3cr3t", "AIRFLOW_USERNAME": ""})
    assert bad.returncode == 7 and "HTTP 403: Invalid JWT token" in bad.stderr  # Airflow 3 answers 403
    assert "check AIRFLOW_API_TOKEN" in bad.stderr
    assert "s3cr3t" not in bad.stdout + bad.stderr


def test_listing_paginates(small_dag, airflow_server):
    client = AirflowClient(airflow_server.url, Credentials(username="admin", password=airflow_server.password))
    everything = client.list_dags()
    assert len(everything) >= 2
    paged = list(client._paginate("/api/v2/dags", "dags", page=1))
    assert [d["dag_id"] for d in paged] == [d.dag_id for d in everything]


def _last_bundle_refresh(server) -> datetime:
    """When the dag-processor last scanned the DAGs folder (its dag_bundle row)."""
    import sqlite3

    with sqlite3.connect(server.home / "airflow.db") as db:
        (value,) = db.execute("SELECT last_refreshed FROM dag_bundle WHERE name = 'dags-folder'").fetchone()
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


def _fresh_scan(client: AirflowClient, server) -> datetime:
    """A folder scan now, so the next periodic one is a whole refresh_interval away."""
    before = _last_bundle_refresh(server)
    client.reparse(client.known_file_token("kaf"))
    deadline = time.monotonic() + 60
    while (scanned := _last_bundle_refresh(server)) == before:
        assert time.monotonic() < deadline, "Airflow did not rescan its DAGs folder when asked"
        time.sleep(0.5)
    return scanned


def test_a_new_branch_runs_before_the_folder_scan_could_find_it(airflow_server, tmp_path):
    """Airflow runs with the default refresh_interval (300 s): a brand-new DAG file is found by the
    rescan that run-once asks for, long before the next periodic scan was due."""
    refresh = subprocess.run([str(Path(sys.executable).with_name("airflow")), "config", "get-value", "dag_processor",
                              "refresh_interval"], env={**os.environ, "AIRFLOW_HOME": str(airflow_server.home)},
                             capture_output=True, text=True, check=True).stdout.strip()
    assert refresh == "300"
    project = copy_example(tmp_path / "spaceflights")
    make_repo(project, branch="feature/brand-new")
    client = AirflowClient(airflow_server.url, Credentials(username="admin", password=airflow_server.password))
    scanned_before = _fresh_scan(client, airflow_server)
    result = run_cli("--project-path", str(project), "-e", "demo", "-p", "data_processing", "run-once",
                     env=deploy_env(airflow_server, project, "kaf-e2e-new-branch"))
    assert result.returncode == 0, result.stderr[-3000:]
    uploaded = datetime.fromtimestamp((airflow_server.dags_folder / "kaf-e2e-new-branch.py").stat().st_mtime,
                                      timezone.utc)
    (run,) = client.latest_runs("kaf-e2e-new-branch", limit=1)
    triggered = datetime.fromisoformat(str(run.queued_at).replace("Z", "+00:00"))
    assert (triggered - uploaded).total_seconds() <= 30, (uploaded, triggered)
    assert (triggered - scanned_before).total_seconds() < int(refresh), "the periodic scan could have found it"


def test_a_wrong_dags_folder_fails_soon_after_airflow_rescanned(airflow_server, tmp_path, monkeypatch):
    """Issue "Your own project", item 7: the DAG written where Airflow does not look. Airflow 3 took the
    rescan run-once asked for and still lacks the file: run-once says so RESCAN_GRACE later, not after the
    full version-timeout; with --version-timeout given, that wait is taken in full (the former behaviour)."""
    from kedro_af_ci.deliver import deploy as deploy_module
    from kedro_af_ci.deliver.deploy import DeployRequest, deploy
    from kedro_af_ci.errors import RunFailed

    client = AirflowClient(airflow_server.url, Credentials(username="admin", password=airflow_server.password))
    source = (airflow_server.dags_folder / "kaf_already_known.py").read_text().replace(
        '"kaf_already_known"', '"kaf-wrong-folder"').replace('tags=["seeded"]', 'tags=["kaf_version:abc"]')
    request = DeployRequest(source=source, dag_id="kaf-wrong-folder", content_tag="kaf_version:abc",
                            destination=str(tmp_path), wait=False, timeout=60,
                            version_timeout=25, poll=1, rescan_grace=5)
    started = time.monotonic()
    with pytest.raises(RunFailed) as failed:
        deploy(client, request, progress=Progress(enabled_tty=False))
    early = time.monotonic() - started
    assert "parsed its DAGs folder at this command's request 5s ago and has not found kaf-wrong-folder.py" \
        in str(failed.value)
    assert early < 20, early

    started = time.monotonic()
    with pytest.raises(RunFailed, match="did not load version kaf_version:abc of DAG 'kaf-wrong-folder' within 25s"):
        deploy(client, replace(request, rescan_grace=None), progress=Progress(enabled_tty=False))
    assert time.monotonic() - started >= 25

    # the CLI's and the action's default (no --version-timeout) is the one with the grace
    seen = {}
    monkeypatch.setattr(deploy_module, "deploy", lambda client, request, **kwargs: seen.setdefault("request", request))
    deploy_module.deploy_and_run(client, source, "d", "kaf_version:abc", "x", wait=False, timeout=1,
                                 version_timeout=None, poll=1)
    assert (seen["request"].version_timeout, seen["request"].rescan_grace) == (660, 120)
