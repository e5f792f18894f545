"""This tool beside the official kedro-airflow plugin in one project: both commands succeed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import copy_example, make_repo, run_cli

KEDRO = Path(sys.executable).with_name("kedro")


def kedro_airflow_create(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(KEDRO), "airflow", "create", "-e", "local"], cwd=project, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"})


def test_kedro_airflow_create_and_compile_in_one_project(tmp_path):
    project = copy_example(tmp_path / "spaceflights")
    (project / "conf" / "local").mkdir(exist_ok=True)
    make_repo(project)
    created = kedro_airflow_create(project)
    assert created.returncode == 0, created.stderr[-2000:]
    assert (project / "airflow_dags" / "spaceflights_dag.py").is_file()
    compiled = run_cli("--project-path", str(project), "compile", "--no-verify", "-o", str(tmp_path / "dag.py"))
    assert compiled.returncode == 0, compiled.stderr

    # without this plugin's hook, kedro-airflow reads airflow-k8s.yaml and fails on its ${name|default}
    settings = project / "src" / "spaceflights" / "settings.py"
    settings.write_text(settings.read_text() + '\nDISABLE_HOOKS_FOR_PLUGINS = ("kedro-airflow-k8s-action",)\n')
    broken = kedro_airflow_create(project)
    assert broken.returncode != 0 and "full_key: host" in broken.stderr  # OmegaConf on ${airflow_host|...}
