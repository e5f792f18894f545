"""`make demo`, README's first command, as it runs: it succeeds, says Airflow stopped, and leaves no
folder or process behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT, log_outputs

pytestmark = pytest.mark.slow


def test_make_demo_runs_the_example_and_leaves_nothing_behind(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "AIRFLOW_HOME": str(tmp_path / "unused-airflow-home")}
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py")], capture_output=True, text=True,
                            timeout=1500, env=env, cwd=ROOT)
    log_outputs("demo", result.stdout, result.stderr)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "with exit code 0" in result.stdout and "success" in result.stdout
    assert "embedded Airflow stopped and its folder removed" in result.stdout
    assert list(scratch.iterdir()) == []  # the demo's folder (Airflow's home, the project copy) is gone
    alive = subprocess.run(["pgrep", "-f", str(scratch)], capture_output=True, text=True)
    assert alive.stdout.strip() == ""  # no process of that Airflow left


def test_stopping_a_server_stops_its_whole_group_even_after_its_parent_exited(tmp_path):
    """`airflow standalone` exiting on its own left its scheduler, API server, triggerer and workers
    running: the stop now ends the process group whatever the parent's state."""
    import os
    import time

    from servers import start, stop

    proc = start(["bash", "-c", "sleep 300 & echo $! > child.pid; exit 0"], tmp_path / "log", cwd=tmp_path)
    proc.wait(timeout=10)  # the parent is gone, its child is not
    child = int((tmp_path / "child.pid").read_text())
    os.kill(child, 0)
    stop(proc)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the parent's child {child} outlived the stop")
