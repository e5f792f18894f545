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
    assert [c.split()[:3] for c in commands] == [["kedro", "airflow-k8s", step] for step in
                                                 ("init", "up", "compile", "run-once")]
    project = new_project(tmp_path)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "AIRFLOW_URL": airflow_server.url, "DAGS_FOLDER": str(airflow_server.dags_folder),
           "IMAGE": "registry.example.com/ml/rocket-prices", "AIRFLOW_API_TOKEN": airflow_token(airflow_server)}

    init = run(commands[0], project, env)
    assert init.returncode == 0, init.stderr[-3000:]
    assert "Left to configure before the first push" in init.stdout and "KAF_DAGS_OUTPUT" in init.stdout
    git(project, "add", "-A")
    git(project, "commit", "-qm", "kedro airflow-k8s init")

    try:  # step 3: an Airflow of its own, the whole pipeline run in its worker, then stopped
        local = run(commands[1], project, env)
    finally:
        subprocess.run([str(Path(sys.executable).with_name("kedro-af-ci")), "--project-path", str(project), "down"],
                       capture_output=True, timeout=120)
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]
    assert "Airflow 3 is up at http://127.0.0.1:" in local.stdout and ": success —" in local.stdout
    assert "deploying to the Airflow `up` started at" in local.stderr and "Stopped the Airflow of up" in local.stdout
    assert (project / "data" / "06_models" / "model.pkl").is_file()  # the last node ran, in the project
    assert "/.kaf/" in (project / ".gitignore").read_text()
    git(project, "add", "-A")
    git(project, "commit", "-qm", "the local Airflow's state stays out of git")

    compile_ = run(commands[2], project, env)
    assert compile_.returncode == 0, compile_.stderr[-3000:]
    assert "pre-flight: loaded in Airflow's DagBag" in compile_.stdout
    [dag_file] = (project / "dag").glob("*.py")
    dag = load_dag(dag_file.read_text(), dag_file.stem, tmp_path)
    assert dag.dag_id == "rocket_prices-main" and len(dag.tasks) >= 4

    run_once = run(commands[3], project, env)
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
    init, local, compile_, _ = guide_commands()
    assert run(init, project, env).returncode == 0
    result = run(compile_, project, env)
    assert result.returncode == 5, result.stderr[-3000:]
    assert "pip install 'kedro-airflow-k8s-action[airflow]'" in result.stderr
    assert not (project / "dag").exists()
    up = run(local, project, env)  # step 3 needs Airflow too, and says how to get it
    assert up.returncode == 3, up.stderr[-3000:]
    assert "up runs Airflow 3 from this environment, which has no Airflow: pip install " \
           "'kedro-airflow-k8s-action[airflow]'" in up.stderr
    assert not (project / ".kaf" / "airflow" / "up.json").exists()
