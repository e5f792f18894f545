"""Real servers on loopback for the tests: Airflow standalone, moto (S3), gcp-storage-emulator (GCS).

Each is started once per test session (see conftest fixtures) and stopped with its process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered:\n{tail}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def start(cmd: list[str], log: Path, env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
    handle = log.open("wb")
    return subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                            cwd=cwd, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    """The process and every process of its group (``start`` gives each its own), whatever the parent's
    state: when `airflow standalone` exits on its own, its scheduler, API server, triggerer and workers
    live on in its group."""
    for sig, patience in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        if _group_gone(proc, patience):
            return


def _group_gone(proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.poll()  # the parent is ours to reap: a zombie would keep its group alive
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@dataclass
class AirflowServer:
    url: str
    username: str
    password: str
    dags_folder: Path
    home: Path
    proc: subprocess.Popen

    def env(self) -> dict[str, str]:
        return {"AIRFLOW_USERNAME": self.username, "AIRFLOW_PASSWORD": self.password}


# A DAG the Airflow already has when the tests start, as any user's Airflow has one: the first scan
# finds it, and run-once of a new DAG then asks Airflow to parse it, which rescans the folder.
KNOWN_DAG = """import pendulum
from airflow.sdk import DAG

with DAG("kaf_already_known", schedule=None, start_date=pendulum.datetime(2024, 1, 1), tags=["seeded"]):
    pass
"""


def start_airflow(base: Path, timeout: float = 240, extra_env: dict[str, str] | None = None) -> AirflowServer:
    """`airflow db migrate` + `airflow standalone` (SQLite, LocalExecutor), loopback only, with Airflow's
    DEFAULT dag-processor settings: a new file is found by a folder scan every 300 s, or at once when
    run-once asks (docs/architecture.md, "Run")."""
    home, dags = base / "home", base / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    (dags / "kaf_already_known.py").write_text(KNOWN_DAG)
    port = free_port()
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "KEDRO_DISABLE_TELEMETRY": "true",
        **(extra_env or {}),
    }
    return _standalone(BIN, base, port, env, "/api/v2/monitor/health",
                       "simple_auth_manager_passwords.json.generated", lambda text: json.loads(text)["admin"],
                       timeout)


def _standalone(bin_dir: Path, base: Path, port: int, env: dict, health: str, password_file: str,
                read_password, timeout: float) -> AirflowServer:
    """`airflow db migrate`, then `airflow standalone` until healthy and its admin password is written."""
    home, dags = Path(env["AIRFLOW_HOME"]), Path(env["AIRFLOW__CORE__DAGS_FOLDER"])
    full_env = {k: v for k, v in {**os.environ, **env}.items() if k != "KUBECONFIG"}
    subprocess.run([str(bin_dir / "airflow"), "db", "migrate"], env=full_env, check=True, capture_output=True,
                   timeout=300)
    log = base / "standalone.log"
    proc = start([str(bin_dir / "airflow"), "standalone"], log, env=env, cwd=base)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + health, timeout, proc, log)
        passwords = home / password_file
        deadline = time.monotonic() + 60
        while not passwords.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        password = read_password(passwords.read_text())
    except BaseException:
        stop(proc)
        raise
    return AirflowServer(url=url, username="admin", password=password, dags_folder=dags, home=home, proc=proc)


def start_airflow2(python: Path, base: Path, timeout: float = 300,
                   extra_env: dict[str, str] | None = None) -> AirflowServer:
    """Airflow 2 `standalone` from another virtualenv (webserver + API v1 with basic auth)."""
    home, dags = base / "home", base / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    port = free_port()
    bin_dir = Path(python).parent
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(port),
        "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__API__AUTH_BACKENDS": "airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session",
        "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "2",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "2",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        "KEDRO_DISABLE_TELEMETRY": "true",
        **(extra_env or {}),
    }
    return _standalone(bin_dir, base, port, env, "/health", "standalone_admin_password.txt", str.strip, timeout)
