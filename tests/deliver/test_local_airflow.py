"""`up` and `down` (kedro_af_ci/deliver/local_airflow.py) with a real Airflow 3: one per project, found
again by later commands, never used in CI, and stopped with every process it started. README's guide
(tests/test_readme_guide.py) runs the pipeline on it."""

from __future__ import annotations

import json
import os

import pytest
from conftest import copy_example, make_repo, run_cli

pytestmark = pytest.mark.slow


def test_up_is_found_again_ignored_in_ci_and_stopped_whole(tmp_path):
    project = copy_example(tmp_path / "spaceflights")
    make_repo(project)
    state = project / ".kaf" / "airflow" / "up.json"
    try:
        first = run_cli("--project-path", str(project), "up", check=True)
        pid = json.loads(state.read_text())["pid"]
        again = run_cli("--project-path", str(project), "up", check=True)  # the same Airflow, not a second one
        assert json.loads(state.read_text())["pid"] == pid
        assert first.stdout.splitlines()[0] == again.stdout.splitlines()[0]
        assert oct(state.stat().st_mode & 0o777) == "0o600"  # it holds the login

        listed = run_cli("--project-path", str(project), "-e", "demo", "list-pipelines",
                         env={"AIRFLOW_API_TOKEN": "a-token-for-another-airflow"}, check=True)
        assert "deploying to the Airflow `up` started at http://127.0.0.1:" in listed.stderr

        in_ci = {"CI": "true", "KAF_DEPLOYMENT": "{executions: [local]}"}
        refused = run_cli("--project-path", str(project), "up", env=in_ci)
        assert refused.returncode == 3 and "in CI the deployment names the Airflow" in refused.stderr
        compiled = run_cli("--project-path", str(project), "-e", "demo", "compile", "--no-verify", env=in_ci,
                           check=True)
        assert "deploying to the Airflow `up`" not in compiled.stderr  # CI never deploys to a laptop's Airflow
        source = (project / "dag" / "spaceflights-demo.py").read_text()
        assert "/usr/local/airflow/spaceflights" in source and str(project) not in source  # the config's own
    finally:
        down = run_cli("--project-path", str(project), "down")
    assert down.returncode == 0 and "Stopped the Airflow of up" in down.stdout
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # scheduler, API server, triggerer, workers: the whole group is gone
    assert not state.exists()
    assert "No Airflow of up runs" in run_cli("--project-path", str(project), "down", check=True).stdout
