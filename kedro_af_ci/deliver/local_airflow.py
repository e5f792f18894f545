"""`up` and `down`: an Airflow 3 on this machine for one's own project (README, "Your own project in 10
minutes"). It runs from the tool's own environment, which already holds the project's requirements for
compile, so its tasks can run the nodes in the worker (`execution: local`). Its state lives in the
project's `.kaf/airflow` (git-ignored); while it runs, commands outside CI deploy there unless told
otherwise (cli/common.py, `local_target`)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from ..errors import ConfigError, KafError

STATE_FOLDER = ".kaf/airflow"
STATE_IGNORE = "/.kaf/"
USERNAME = "admin"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"  # what Airflow 3's simple auth manager writes


@dataclass(frozen=True)
class LocalAirflow:
    url: str
    dags_folder: str
    username: str
    password: str
    pid: int  # `airflow standalone`, leader of its own process group

    def credentials_env(self) -> dict[str, str]:
        return {"AIRFLOW_USERNAME": self.username, "AIRFLOW_PASSWORD": self.password}


def _home(project: Path) -> Path:
    return project.resolve() / STATE_FOLDER


def running(project: Path) -> LocalAirflow | None:
    """The Airflow `up` started for ``project``, when its process still runs."""
    state = _home(project) / "up.json"
    try:
        local = LocalAirflow(**json.loads(state.read_text(encoding="utf-8")))
        os.killpg(local.pid, 0)
    except (OSError, ValueError, TypeError):
        return None
    return local


def start(project: Path, timeout: float = 300) -> LocalAirflow:
    """`airflow db migrate`, then `airflow standalone` in the background, until its API answers."""
    if (already := running(project)) is not None:
        return already
    airflow = _airflow_executable()
    home = _home(project)
    (home / "dags").mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {**os.environ, **_settings(home, port)}
    migrate = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=600)
    if migrate.returncode != 0:
        raise KafError(f"airflow db migrate failed:\n{migrate.stderr[-2000:]}")
    with (home / "standalone.log").open("ab") as log:
        proc = subprocess.Popen([airflow, "standalone"], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=home,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        password = _wait_until_up(proc, url, home, timeout)
    except BaseException:
        _stop_group(proc.pid)
        raise
    local = LocalAirflow(url=url, dags_folder=str(home / "dags"), username=USERNAME, password=password, pid=proc.pid)
    state = home / "up.json"
    state.write_text(json.dumps(asdict(local)), encoding="utf-8")
    state.chmod(0o600)  # the password
    return local


def stop(project: Path) -> bool:
    """Stop what `up` started (the whole process group: scheduler, API server, triggerer, workers)."""
    state = _home(project) / "up.json"
    local = running(project)
    if local is not None:
        _stop_group(local.pid)
    state.unlink(missing_ok=True)
    return local is not None


def _airflow_executable() -> str:
    airflow = Path(sys.executable).with_name("airflow")
    try:
        from airflow import __version__ as version
    except ImportError:
        version = ""
    if not airflow.exists() or not version.startswith("3."):
        raise ConfigError("up runs Airflow 3 from this environment, which has "
                          f"{'Airflow ' + version if version else 'no Airflow'}: pip install "
                          "'kedro-airflow-k8s-action[airflow]' (Airflow 3 and its Kubernetes provider)", key="up")
    return str(airflow)


def _settings(home: Path, port: int) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
        # a new DAG file is found within seconds: an empty Airflow knows no file whose parse would rescan
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "KEDRO_DISABLE_TELEMETRY": "true",
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, home: Path, timeout: float) -> str:
    """The admin password, once the API answers and Airflow has written it; bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    passwords = home / PASSWORDS_FILE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (home / "standalone.log").read_text(errors="replace")[-2000:]
            raise KafError(f"airflow standalone exited with {proc.returncode}:\n{tail}")
        with contextlib.suppress(requests.RequestException, OSError, ValueError, KeyError):
            if requests.get(f"{url}/api/v2/monitor/health", timeout=2).status_code < 500 and passwords.exists():
                return str(json.loads(passwords.read_text())[USERNAME])
        time.sleep(0.5)
    raise KafError(f"Airflow did not answer at {url} within {timeout:.0f}s (log: {home / 'standalone.log'})")


def _stop_group(pid: int) -> None:
    """SIGTERM to the group, then SIGKILL to what is left, each wait bounded."""
    for sig, patience in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
