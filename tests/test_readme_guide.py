"""README's "Your own project in 10 minutes", followed as a new user would: on a project made with
`kedro new` from a starter packaged with the tests (tests/fixtures/starter, shaped like Kedro's
spaceflights-pandas starter), every command of the guide runs as written, against a real Airflow 3.
The values the guide asks the user to fill in (Airflow's address, the DAGs folder, the image, a
token) are the test's. Without Airflow installed, the same guide stops at the pre-flight."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, airflow_token, git, load_dag, log_outputs

pytestmark = pytest.mark.slow
MARKER = "<!-- guide: your-project -->"


def guide_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(re.escape(MARKER) + r"\n```bash\n(.*?)```", readme, flags=re.S)


def new_project(tmp_path: Path) -> Path:
    """`kedro new` from the packaged starter, committed in a new git repository, as users start."""
    (tmp_path / "answers.yml").write_text(f"project_name: Rocket Prices\noutput_dir: {tmp_path}\n")
    kedro = Path(sys.executable).with_name("kedro")
    made = subprocess.run([str(kedro), "new", "--starter", str(ROOT / "tests" / "fixtures" / "starter"),
                           "--config", str(tmp_path / "answers.yml")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert made.returncode == 0, made.stderr[-3000:]
    project = tmp_path / "rocket-prices"
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "kedro new")
    return project


def run(command: str, project: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(["bash", "-e", "-c", command], cwd=project, capture_output=True, text=True,
                            timeout=900, env=env)
    log_outputs("guide", result.stdout, result.stderr)
    return result


def test_the_guide_on_a_new_project(airflow_server, tmp_path):
    commands = guide_commands()
    assert [c.split()[:2] for c in commands] == [["kedro", "airflow-k8s"]] * 3  # init, compile, run-once
    project = new_project(tmp_path)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "AIRFLOW_URL": airflow_server.url, "DAGS_FOLDER": str(airflow_server.dags_folder),
           "IMAGE": "registry.example.com/ml/rocket-prices", "AIRFLOW_API_TOKEN": airflow_token(airflow_server)}

    init = run(commands[0], project, env)
    assert init.returncode == 0, init.stderr[-3000:]
    assert "Left to configure before the first push" in init.stdout and "KAF_DAGS_OUTPUT" in init.stdout
    git(project, "add", "-A")
    git(project, "commit", "-qm", "kedro airflow-k8s init")

    compile_ = run(commands[1], project, env)
    assert compile_.returncode == 0, compile_.stderr[-3000:]
    assert "pre-flight: loaded in Airflow's DagBag" in compile_.stdout
    [dag_file] = (project / "dag").glob("*.py")
    dag = load_dag(dag_file.read_text(), dag_file.stem, tmp_path)
    assert dag.dag_id == "rocket_prices-main" and len(dag.tasks) >= 4

    run_once = run(commands[2], project, env)
    assert run_once.returncode == 0, run_once.stderr[-3000:]
    assert (airflow_server.dags_folder / "rocket_prices-main.py").is_file()
    assert "Run kaf_run_once__" in run_once.stdout


def test_the_guide_without_airflow_stops_at_the_pre_flight(tmp_path):
    project = new_project(tmp_path)
    hide = tmp_path / "no-airflow"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['airflow'] = None  # as if not installed\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PYTHONPATH": str(hide),
           "AIRFLOW_URL": "https://airflow.example.com", "DAGS_FOLDER": str(tmp_path / "dags"),
           "IMAGE": "registry.example.com/ml/rocket-prices"}
    init, compile_ = guide_commands()[:2]
    assert run(init, project, env).returncode == 0
    result = run(compile_, project, env)
    assert result.returncode == 5, result.stderr[-3000:]
    assert "pip install 'kedro-airflow-k8s-action[airflow]'" in result.stderr
    assert not (project / "dag").exists()
