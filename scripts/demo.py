"""`make demo`: the main job on the bundled example, end to end, on this machine.

Starts an embedded Airflow 3 (standalone, SQLite, loopback only), compiles the example project in
local execution mode, uploads it to the embedded DAGs folder, runs it once, waits for success and
prints the run's tasks. Then it stops Airflow and removes its folder, whatever happened; with
DEMO_KEEP=1 Airflow stays up (address and login printed) until Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from servers import start_airflow, stop  # noqa: E402 - shared with the test suite


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="kaf-demo-") as folder:
        return demo(Path(folder), keep=os.environ.get("DEMO_KEEP") == "1")


def demo(work: Path, keep: bool) -> int:
    started = time.monotonic()
    project = work / "spaceflights"
    shutil.copytree(ROOT / "examples" / "spaceflights", project,
                    ignore=shutil.ignore_patterns("__pycache__", "dag", "0[2-8]_*"))
    git_env = {**os.environ, "GIT_AUTHOR_NAME": "demo", "GIT_AUTHOR_EMAIL": "demo@example.com",
               "GIT_COMMITTER_NAME": "demo", "GIT_COMMITTER_EMAIL": "demo@example.com"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "demo"]):
        subprocess.run(["git", *args], cwd=project, check=True, env=git_env)
    print(f"demo: starting an embedded Airflow 3 in {work / 'airflow'} (about a minute)...", flush=True)
    server = start_airflow(work / "airflow")
    try:
        print(f"demo: Airflow is up at {server.url}", flush=True)
        env = {
            **os.environ, **server.env(),
            "KEDRO_CONFIG_AIRFLOW_HOST": server.url,
            "KEDRO_CONFIG_DAGS_FOLDER": str(server.dags_folder),
            "KEDRO_CONFIG_PROJECT_PATH": str(project),
            "KEDRO_DISABLE_TELEMETRY": "true",
        }
        cli = Path(sys.executable).with_name("kedro-af-ci")
        result = subprocess.run([str(cli), "--project-path", str(project), "-e", "demo", "run-once",
                                 "--wait-for-completion", "--poll-interval", "2", "--timeout", "900"],
                                env=env, timeout=1200)
        outputs = project / "data" / "08_reporting" / "model_comparison.csv"
        if result.returncode == 0 and outputs.exists():
            print(f"demo: Kedro outputs written by the DAG run:\n{outputs.read_text()}")
        print(f"demo: finished in {time.monotonic() - started:.0f}s with exit code {result.returncode}")
        if keep:
            wait_for_interrupt(server)
        return result.returncode
    finally:
        stop(server.proc)
        print("demo: embedded Airflow stopped and its folder removed (DEMO_KEEP=1 make demo keeps it up)",
              flush=True)


def wait_for_interrupt(server) -> None:
    print(f"demo: Airflow stays up at {server.url} (login {server.username} / {server.password}); Ctrl-C stops it",
          flush=True)
    try:
        while server.proc.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
