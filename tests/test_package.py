"""The built wheel, installed into a clean virtualenv as the Dockerfile installs it, runs: package
data (DAG/summary/config templates, workflow templates, action.yml) that the wheel forgot fails here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, copy_example, make_repo

pytestmark = pytest.mark.slow


def _uv() -> str:
    found = Path(sys.executable).with_name("uv")
    return str(found) if found.exists() else (shutil.which("uv") or pytest.fail("uv is missing"))


def test_wheel_in_a_clean_virtualenv(tmp_path, example_graph):
    uv = _uv()
    env = {**os.environ, "UV_NATIVE_TLS": "1", "VIRTUAL_ENV": ""}
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(ROOT)], check=True,
                   capture_output=True, env=env, timeout=600)
    wheel = next((tmp_path / "dist").glob("*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=env, timeout=300)
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(wheel)],
                   check=True, env=env, timeout=600)
    exe = venv / "bin" / "kedro-af-ci"

    project = copy_example(tmp_path / "spaceflights")
    (project / "conf" / "base" / "airflow-k8s.yaml").unlink()
    make_repo(project)
    graph = tmp_path / "graph.json"
    graph.write_text(example_graph.to_json())

    def run(*args):
        result = subprocess.run([str(exe), "--project-path", str(project), *args], capture_output=True, text=True,
                                env={**env, "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}, timeout=300)
        assert result.returncode == 0, result.stderr
        return result

    run("init", "https://airflow.example.com", "--with-github-actions", "--with-gitlab-ci")
    assert (project / ".github" / "workflows" / "kedro-airflow-k8s-push.yml").is_file()
    assert (project / ".gitlab" / "kedro-airflow-k8s.gitlab-ci.yml").is_file()
    out = run("--graph", str(graph), "compile", "--no-verify", "-o", str(tmp_path / "dag.py"))
    assert "Compiled pipeline" in out.stdout and "def " in (tmp_path / "dag.py").read_text()
    assert "Not checked in Airflow's DagBag before it was written" in (tmp_path / "dag.py").read_text()
    # no Airflow in this virtualenv: the pre-flight cannot run, and that is an error, not a skip
    unchecked = subprocess.run([str(exe), "--project-path", str(project), "--graph", str(graph), "compile", "-o",
                                str(tmp_path / "unchecked.py")], capture_output=True, text=True, timeout=300,
                               env={**env, "PATH": f"{venv / 'bin'}:/usr/bin:/bin"})
    assert unchecked.returncode == 5, unchecked.stderr
    assert "pip install 'kedro-airflow-k8s-action[airflow]'" in unchecked.stderr and "--no-verify" in unchecked.stderr
    assert not (tmp_path / "unchecked.py").exists()
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import json; from kedro_af_ci.action.inputs import ActionInputs; "
         "from kedro_af_ci.action.summary import SummaryData, render_summary; "
         "from kedro_af_ci.image.isolated import bootstrap_script; "
         "print(json.dumps([ActionInputs.from_environ({}).wait_timeout, "
         "'mermaid' in render_summary(SummaryData(ok=True, tasks=['a'])), len(bootstrap_script()) > 1000]))"],
        capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout) == [3600.0, True, True]


def test_readme_install_from_a_checkout_in_a_fresh_virtualenv(tmp_path):
    """README's from-checkout command, as written, in a new virtualenv on a copy of the repository."""
    import re

    command = re.search(r"<!-- command: install-from-checkout -->\n```bash\n(.*?)```",
                        (ROOT / "README.md").read_text(), flags=re.S).group(1)
    checkout = tmp_path / "kedro-airflow-k8s-action"
    checkout.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(checkout)], input=archive, check=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
    result = subprocess.run(["bash", "-c", command], cwd=checkout, env=env, capture_output=True, text=True,
                            timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    version = subprocess.run([str(venv / "bin" / "kedro-af-ci"), "--version"], capture_output=True, text=True)
    assert "kedro-airflow-k8s-action, version" in version.stdout
    imports = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import kedro, gcsfs, s3fs, airflow.providers.cncf.kubernetes.operators.pod"],
                             capture_output=True)
    assert imports.returncode == 0, imports.stderr  # the extras README names came along, the pre-flight's too
