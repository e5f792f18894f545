"""Secrets given by environment or input never show: not in stdout/stderr (even with --verbose
tracebacks), not in generated DAGs, not in the action's outputs or summary."""

from __future__ import annotations

import socket

import pytest
from conftest import copy_example, make_repo, run_cli, secret

TOKEN = secret("tok-9f3e1c-SECRET")
PASSWORD = secret("pw-77a1-SECRET")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    path = copy_example(tmp_path_factory.mktemp("secrets") / "spaceflights")
    make_repo(path)
    return path


def _assert_clean(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text and PASSWORD not in text


@pytest.mark.parametrize("command", [["run-once", "--wait-for-completion"], ["list-pipelines"]])
def test_unreachable_airflow_with_verbose_traceback(project, command, tmp_path):
    env = {"AIRFLOW_API_TOKEN": TOKEN, "AIRFLOW_USERNAME": "admin", "AIRFLOW_PASSWORD": PASSWORD,
           "KEDRO_CONFIG_AIRFLOW_HOST": f"http://127.0.0.1:{_closed_port()}",
           "KEDRO_CONFIG_DAGS_FOLDER": str(tmp_path / "dags"), "KEDRO_CONFIG_PROJECT_PATH": str(project)}
    result = run_cli("--verbose", "--project-path", str(project), "-e", "demo", *command, env=env)
    assert result.returncode == 7 and "Traceback" in result.stderr
    _assert_clean(result.stdout, result.stderr)
    for file in tmp_path.rglob("*"):
        if file.is_file():
            _assert_clean(file.read_text(errors="replace"))


def test_credentials_in_the_host_url_are_refused_without_echo(project):
    host = f"http://admin:{PASSWORD}@127.0.0.1:8080"
    for args, env in ((["list-pipelines", "--host", host], {}),
                      (["list-pipelines"], {"KEDRO_CONFIG_AIRFLOW_HOST": host})):
        result = run_cli("--verbose", "--project-path", str(project), "-e", "demo", *args, env=env)
        assert result.returncode == 3 and "carries credentials" in result.stderr
        _assert_clean(result.stdout, result.stderr)


@pytest.mark.slow
def test_wrong_password_against_real_airflow(project, airflow_server):
    result = run_cli("--verbose", "--project-path", str(project), "-e", "demo", "list-pipelines",
                     env={"KEDRO_CONFIG_AIRFLOW_HOST": airflow_server.url, "AIRFLOW_USERNAME": "admin",
                          "AIRFLOW_PASSWORD": PASSWORD})
    assert result.returncode == 7 and "AIRFLOW_PASSWORD" in result.stderr
    _assert_clean(result.stdout, result.stderr)


def test_compiled_dag_holds_no_environment_secret(project, tmp_path):
    out = tmp_path / "dag.py"
    result = run_cli("--verbose", "--project-path", str(project), "compile", "--no-verify", "-o", str(out),
                     env={"AIRFLOW_API_TOKEN": TOKEN, "AIRFLOW_PASSWORD": PASSWORD})
    assert result.returncode == 0, result.stderr
    _assert_clean(result.stdout, result.stderr, out.read_text())
