"""The console script and the Kedro plugin, run as users run them (subprocesses)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import copy_example, make_repo, run_cli, secret

from kedro_af_ci.config import load_config
from kedro_af_ci.errors import PreflightError
from kedro_af_ci.verify.preflight import verify_source


@pytest.fixture
def project(tmp_path):
    path = copy_example(tmp_path / "spaceflights")
    make_repo(path, branch="main")
    return path


def test_compile_writes_dag_and_reports(project):
    result = run_cli("--project-path", str(project), "compile", check=True)
    dag_file = project / "dag" / "spaceflights.py"
    assert dag_file.is_file()
    assert "pre-flight: loaded in Airflow's DagBag" in result.stdout
    assert "10 node task(s)" in result.stdout


def test_graph_json_path_gives_identical_dag(project, tmp_path):
    graph = tmp_path / "graph.json"
    run_cli("--project-path", str(project), "export-graph", "-o", str(graph), check=True)
    direct, via_json = tmp_path / "direct.py", tmp_path / "json.py"
    run_cli("--project-path", str(project), "compile", "--no-verify", "-o", str(direct), check=True)
    # the JSON path must not need Kedro: hide the project's source to prove nothing is imported
    shutil.rmtree(project / "src")
    run_cli("--project-path", str(project), "--graph", str(graph), "compile", "--no-verify", "-o",
            str(via_json), check=True)
    assert direct.read_text() == via_json.read_text()


def test_malformed_config_one_line_no_traceback_nothing_written(project):
    config = project / "conf" / "base" / "airflow-k8s.yaml"
    data = yaml.safe_load(config.read_text())
    data["run_config"]["resources"]["huge_machines"]["requests"]["cpu"] = "lots"
    config.write_text(yaml.safe_dump(data))
    out = project / "dag" / "spaceflights.py"
    result = run_cli("--project-path", str(project), "compile")
    assert result.returncode == 3
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("WARNING:")]
    assert "uncommitted changes" in result.stderr  # the edited config makes the tree dirty
    assert lines == [f"Error: {config}: run_config.resources.huge_machines.requests.cpu: 'lots' is not a "
                     "Kubernetes quantity (examples: '500m', '2', '1.5', '512Mi', '4Gi')"]
    assert "Traceback" not in result.stderr and not out.exists()
    verbose = run_cli("--project-path", str(project), "--verbose", "compile")
    assert verbose.returncode == 3 and "Traceback" in verbose.stderr


def test_failed_compile_keeps_previous_dag(project):
    run_cli("--project-path", str(project), "compile", "--no-verify", check=True)
    out = project / "dag" / "spaceflights.py"
    before = out.read_text()
    (project / "conf" / "base" / "airflow-k8s.yaml").write_text("run_config: {image: 'BAD IMAGE'}\n")
    assert run_cli("--project-path", str(project), "compile").returncode == 3
    assert out.read_text() == before


def test_kedro_env_selects_config_and_is_passed_to_kedro_run(project):
    staging = project / "conf" / "staging"
    staging.mkdir()
    (staging / "airflow-k8s.yaml").write_text("run_config:\n  namespace: staging\n")
    run_cli("--project-path", str(project), "compile", "--no-verify", env={"KEDRO_ENV": "staging"}, check=True)
    source = (project / "dag" / "spaceflights.py").read_text()
    assert "namespace='staging'" in source
    assert "KEDRO_RUN = ['run', '--env', 'staging', '--pipeline', '__default__']" in source


def test_unknown_pipeline_is_a_clear_error(project):
    result = run_cli("--project-path", str(project), "-p", "nope", "compile")
    assert result.returncode == 4
    assert "pipeline 'nope' is not registered" in result.stderr and "Traceback" not in result.stderr


def test_init_writes_valid_config_and_keeps_it_after(project):
    shutil.rmtree(project / "conf" / "base" / "airflow-k8s.yaml", ignore_errors=True)
    (project / "conf" / "base" / "airflow-k8s.yaml").unlink(missing_ok=True)
    run_cli("--project-path", str(project), "init", "https://airflow.example.com", check=True)
    config = load_config(project, environ={})
    assert config.host == "https://airflow.example.com"
    assert config.run_config.image.startswith("spaceflights:")
    # the commented optional features are valid config once uncommented
    path = project / "conf" / "base" / "airflow-k8s.yaml"
    text = path.read_text()
    optional = text[text.index("  # Optional features"):]
    lines = [line.replace("  # ", "  ", 1) if not line.strip().startswith(("# Optional", "# MLflow is on"))
             else line for line in optional.splitlines()]
    path.write_text(text[:text.index("  # Optional features")] + "\n".join(lines) + "\n")
    features = load_config(project, environ={}).run_config
    assert features.grouping == "memory" and features.spark.type == "dataproc" and features.mlflow.enabled
    assert features.authentication.type == "Vars" and features.external_dependencies[0].dag_id == "upstream-dag"
    path.write_text(text)
    again = run_cli("--project-path", str(project), "init", "https://other.example.com")
    assert again.returncode == 0 and f"Kept {path} (it exists; --force replaces it)" in again.stdout
    assert path.read_text() == text
    bad = run_cli("--project-path", str(project), "init", "--force", "ftp://airflow.example.com")
    assert bad.returncode == 3 and "http(s) URL" in bad.stderr
    bare = run_cli("--project-path", str(project), "init", "--force", "airflow.example.com", check=True)
    assert "has no scheme: read as https://airflow.example.com" in bare.stderr
    assert load_config(project, environ={}).host == "https://airflow.example.com"
    path.write_text(text)


def test_init_keeps_compiled_dags_out_of_git(project):
    """Issue "Your own project", item 9: committing what init wrote must not commit dag/."""
    import subprocess as sp

    ignore = project / ".gitignore"
    ignore.write_text(ignore.read_text().replace("dag/\n", ""))  # as a fresh `kedro new` project has it
    before = ignore.read_text()
    run_cli("--project-path", str(project), "compile", "--no-verify", check=True)
    result = run_cli("--project-path", str(project), "init", "https://airflow.example.com", check=True)
    assert f"Added /dag/ to {ignore}" in result.stdout
    assert ignore.read_text().startswith(before) and ignore.read_text().endswith("/dag/\n")
    ignored = sp.run(["git", "check-ignore", "-q", "dag/spaceflights.py"], cwd=project)
    assert ignored.returncode == 0  # git itself ignores the compiled DAG
    again = run_cli("--project-path", str(project), "init", "https://airflow.example.com", check=True)
    assert "Added /dag/" not in again.stdout and ignore.read_text().count("/dag/") == 1


def test_kedro_airflow_k8s_outside_a_project_says_where_to_run_it(tmp_path):
    """Issue "Your own project", item 9: not Kedro's bare "No such command"."""
    kedro = Path(sys.executable).with_name("kedro")
    result = subprocess.run([str(kedro), "airflow-k8s", "compile", "-e", "prod"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"kedro airflow-k8s runs in a Kedro project, and {tmp_path} is not in one" in result.stderr
    assert "kedro-af-ci --project-path PATH compile -e prod" in result.stderr
    assert "No such command" not in result.stdout + result.stderr


def test_kedro_plugin_entry_point(project):
    kedro = Path(sys.executable).with_name("kedro")
    result = subprocess.run([str(kedro), "airflow-k8s", "-p", "data_processing", "compile", "--no-verify"],
                            cwd=project, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    source = (project / "dag" / "spaceflights.py").read_text()
    assert "'--pipeline', 'data_processing'" in source
    assert "compare_models_node" not in source


def test_preflight_reports_airflow_import_error():
    with pytest.raises(PreflightError, match=r"does not load in Airflow: .*NameError"):
        verify_source("from airflow.sdk import DAG\nundefined_name\n", "x")
    with pytest.raises(PreflightError, match="defines no DAG 'x'"):
        verify_source("A = 1\n", "x")


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(("case", "args", "code", "message"), [
    ("outside a project", ["compile"], 3,
     "Error: {root} is not a Kedro project (no pyproject.toml): run from the project's folder or pass --project-path"),
    ("no config", ["--project-path", "{project}", "compile"], 3,
     "Error: {project}/conf: no airflow-k8s.yaml in conf/base: create one with `kedro airflow-k8s init HOST`"),
    ("unknown env", ["--project-path", "{project}", "-e", "prod", "compile"], 3,
     "Error: {project}/conf: Kedro environment 'prod' has no folder conf/prod (found: base, demo, docker, local); "
     "create it or pass one of these with -e/--env"),
    ("bad cron option", ["--project-path", "{project}", "compile", "--cron-expression", "61 * * * *"], 2,
     "Error: Invalid value for '--cron-expression': '61 * * * *' is not a cron expression: invalid minute field "
     "'61' (allowed 0-59, '*', ranges, lists and steps)"),
])
def test_first_hour_messages(tmp_path, project, case, args, code, message):
    if case == "no config":
        (project / "conf" / "base" / "airflow-k8s.yaml").unlink()
    (project / "conf" / "local").mkdir(exist_ok=True)
    values = {"root": tmp_path, "project": project}
    result = run_cli(*(a.format(**values) for a in args), cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert message.format(**values) in result.stderr
    assert "Traceback" not in result.stderr


def test_a_misspelled_top_level_key_is_reported_before_what_it_leaves_missing(project):
    config = project / "conf" / "base" / "airflow-k8s.yaml"
    config.write_text(config.read_text().replace("run_config:", "run_cofig:"))
    result = run_cli("--project-path", str(project), "compile")
    assert result.returncode == 3
    first = result.stderr.split("Error: ", 1)[1]
    assert first.startswith(f"{project}/conf/base/airflow-k8s.yaml: run_cofig: unknown key 'run_cofig' "
                            "(did you mean 'run_config'?) (and 1 more: run_config")


def test_ui_with_an_unreachable_airflow_fails_at_once(project):
    host = f"http://127.0.0.1:{_closed_port()}"
    result = run_cli("--project-path", str(project), "ui", env={"KEDRO_CONFIG_AIRFLOW_HOST": host, "BROWSER": "true"})
    assert result.returncode == 7
    assert f"cannot reach Airflow at {host}" in result.stderr and "nothing to open" in result.stderr
    assert result.stdout == ""  # no URL printed, no page opened


def test_a_missing_project_dependency_is_named_without_verbose(project):
    nodes = project / "src" / "spaceflights" / "pipelines" / "reporting" / "nodes.py"
    nodes.write_text("import not_installed_dependency_xyz  # noqa\n" + nodes.read_text())
    result = run_cli("--project-path", str(project), "compile")
    assert result.returncode == 4
    assert ("(caused by ModuleNotFoundError: No module named 'not_installed_dependency_xyz'); install the project's "
            "requirements where the graph is read") in result.stderr
    assert "Traceback" not in result.stderr
    verbose = run_cli("--project-path", str(project), "compile", "-v")  # -v after the command, too
    assert verbose.returncode == 4 and "Traceback" in verbose.stderr


def test_list_pipelines_shows_the_predecessors_experiment_tags(tmp_path):
    """kedro-airflow-k8s tagged its DAGs experiment_name:<name>; this tool tags experiment:<name>."""
    import json

    from attacks import RecordingServer

    dags = {"dags": [{"dag_id": "legacy", "is_paused": False, "tags": [
        {"name": "generated_with_kedro_airflow_k8s:0.8.2"}, {"name": "experiment_name:Old Spaceflights"}]}],
        "total_entries": 1}

    def answer(method, path):
        body = {"/api/v2/version": {"version": "3.3.2"}, "/api/v2/dags": dags}.get(path.split("?")[0],
                                                                                   {"dag_runs": []})
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    airflow = RecordingServer(answer)
    try:
        result = run_cli("--project-path", str(tmp_path), "list-pipelines", "--host", airflow.url,
                         env={"COLUMNS": "200"})
    finally:
        airflow.close()
    assert result.returncode == 0, result.stderr
    assert "Old Spaceflights" in result.stdout


def test_a_malformed_airflow_answer_is_one_line_and_exit_7(tmp_path):
    """An answer without a key the tool reads (a proxy's page, another API) is named, not a traceback."""
    import json

    from attacks import RecordingServer

    def answer(method, path):
        body = {"version": "3.3.2"} if path == "/api/v2/version" else {"dags": [{"dag_display_name": "x"}]}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    airflow = RecordingServer(answer)
    try:
        result = run_cli("--project-path", str(tmp_path), "list-pipelines", "--host", airflow.url)
    finally:
        airflow.close()
    assert result.returncode == 7, result.stderr
    assert "GET /api/v2/dags: the DAG has no 'dag_id' (expected a string)" in result.stderr
    assert "Traceback" not in result.stderr


def test_readme_command_table_names_every_option_of_every_command():
    """README's command reference is hand-written: this keeps it the CLI's own (a new option, a renamed
    one or a removed command fails here)."""
    import re

    from conftest import ROOT

    from kedro_af_ci.cli import airflow_k8s

    readme = (ROOT / "README.md").read_text()
    table = readme.split("| command | what it does |", 1)[1].split("\n\n", 1)[0]
    documented = {}
    for usage in re.findall(r"^\| `([^`]+)` \|", table, flags=re.M):
        name, *rest = usage.split()
        documented[name] = set(re.findall(r"--[a-z-]+", " ".join(rest)))
    actual = {name: {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)
                     if opt.startswith("--") and opt != "--verbose"}
              for name, command in airflow_k8s.commands.items()}
    assert documented == actual


def test_no_command_leaves_a_temporary_folder_behind(example_repo, tmp_path):
    """Each command, on success and on failure, with TMPDIR a fresh folder that must stay empty (the
    pre-flight's folder, the graph child's modules, the build context are all removed)."""
    from conftest import run_cli

    project = example_repo[0]
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"TMPDIR": str(scratch), "KEDRO_CONFIG_DAGS_FOLDER": str(tmp_path / "dags")}
    runs = {
        "compile": ("compile", "-o", str(tmp_path / "dag.py")),
        "export-graph": ("export-graph", "-o", str(tmp_path / "graph.json")),
        "upload-pipeline": ("upload-pipeline", "-o", str(tmp_path / "dags")),
        "compile of a pipeline that is not there": ("-p", "nope", "compile", "-o", str(tmp_path / "x.py")),
    }
    for name, args in runs.items():
        result = run_cli("--project-path", str(project), *args, env=env)
        assert (result.returncode == 0) == ("not there" not in name), (name, result.stderr[-2000:])
        assert sorted(p.name for p in scratch.iterdir()) == [], name


def test_the_cli_sends_no_credential_over_plain_http_to_another_machine(project):
    """The action's rule, now the CLI's too (kedro_af_ci/deliver/client.py, check_transport)."""
    env = {"AIRFLOW_API_TOKEN": secret("tok-never-in-clear")}
    refused = run_cli("--project-path", str(project), "list-pipelines", "--host", "http://airflow.example.com",
                      env=env)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "plain http to airflow.example.com would send the Airflow credentials in clear" in refused.stderr
