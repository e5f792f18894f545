"""README's "Your own project in 10 minutes", timed step by step (issue "Your own project, on your own
machine"): `make bench-own-project`.

From nothing but this checkout and a warm package cache: a new virtualenv with the tool, Kedro and
Airflow (README's install-from-checkout extras, by uv as `make` installs); a project from `kedro new`
(the starter packaged with the tests, shaped like Kedro's spaceflights-pandas) and its requirements;
README's commands as written: `init`, `up`, `run-once --wait-for-completion`, `down`. Prints one row per
step and the total against the 10-minute target.
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
TARGET = 600.0


def step(rows: list[tuple[str, float]], name: str, cmd: list[str], **kwargs) -> None:
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    rows.append((name, time.perf_counter() - start))
    if result.returncode != 0:
        raise SystemExit(f"{name} failed (exit {result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def main() -> None:
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    folder = Path(tempfile.mkdtemp(prefix="kaf-bench-own-"))
    venv = folder / "venv"
    bin_dir = venv / "bin"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "VIRTUAL_ENV": str(venv),
           "KEDRO_DISABLE_TELEMETRY": "true", "UV_NATIVE_TLS": "1", "GIT_AUTHOR_NAME": "b",
           "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}
    for name in ("AIRFLOW_API_TOKEN", "AIRFLOW_USERNAME", "AIRFLOW_PASSWORD", "KUBECONFIG", "CI"):
        env.pop(name, None)
    rows: list[tuple[str, float]] = []
    project = folder / "rocket-prices"
    try:
        step(rows, "virtualenv + the tool, Kedro and Airflow (uv, warm cache)",
             [uv, "venv", "-q", "--python", sys.executable, str(venv)], env=env)
        step(rows, "virtualenv + the tool, Kedro and Airflow (uv, warm cache)",
             [uv, "pip", "install", "-q", "--python", str(bin_dir / "python"), f"{ROOT}[kedro,airflow]"], env=env)
        (folder / "answers.yml").write_text(f"project_name: Rocket Prices\noutput_dir: {folder}\n")
        step(rows, "kedro new (the starter)", [str(bin_dir / "kedro"), "new", "--starter",
                                               str(ROOT / "tests" / "fixtures" / "starter"), "--config",
                                               str(folder / "answers.yml")], cwd=folder, env=env)
        step(rows, "the project's requirements", [uv, "pip", "install", "-q", "--python", str(bin_dir / "python"),
                                                  "-r", str(project / "requirements.txt")], env=env)
        for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "kedro new"]):
            subprocess.run(["git", *args], cwd=project, env=env, check=True, capture_output=True)
        kedro = [str(bin_dir / "kedro"), "airflow-k8s"]
        step(rows, "kedro airflow-k8s init", [*kedro, "init", "https://airflow.example.com", "--output",
                                              "gs://my-bucket/dags", "--image", "registry.example.com/rocket"],
             cwd=project, env=env)
        step(rows, "kedro airflow-k8s up", [*kedro, "up"], cwd=project, env=env, timeout=900)
        step(rows, "kedro airflow-k8s run-once --wait-for-completion", [*kedro, "run-once", "--wait-for-completion"],
             cwd=project, env=env, timeout=1800)
    finally:
        if project.exists():
            step(rows, "kedro airflow-k8s down", [str(bin_dir / "kedro"), "airflow-k8s", "down"], cwd=project,
                 env=env, timeout=300)
        shutil.rmtree(folder, ignore_errors=True)
    pip_venv = Path(tempfile.mkdtemp(prefix="kaf-bench-pip-")) / "venv"
    try:  # README's own command: pip, whose cache is warm after a first install
        pip_rows: list[tuple[str, float]] = []
        step(pip_rows, "the same install with pip (README's command, warm cache)",
             [sys.executable, "-m", "venv", str(pip_venv)], env=env)
        step(pip_rows, "the same install with pip (README's command, warm cache)",
             [str(pip_venv / "bin" / "pip"), "install", "-q", f"{ROOT}[kedro,airflow]"], env=env, timeout=1800)
    finally:
        shutil.rmtree(pip_venv.parent, ignore_errors=True)
    merged: dict[str, float] = {}
    for name, seconds in rows:
        merged[name] = merged.get(name, 0.0) + seconds
    print("| step | seconds |\n|---|---|")
    for name, seconds in merged.items():
        print(f"| {name} | {seconds:.1f} |")
    total = sum(merged.values())
    print(f"| total (target ≤ {TARGET:.0f} s) | {total:.1f} {'ok' if total <= TARGET else 'MISS'} |")
    with_pip = total - merged[rows[0][0]] + sum(seconds for _, seconds in pip_rows)
    print(f"| {pip_rows[0][0]} | {sum(seconds for _, seconds in pip_rows):.1f} (total with it: {with_pip:.1f}) |")


if __name__ == "__main__":
    main()
