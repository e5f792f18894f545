"""The container action's figures, measured with a real Docker engine and registry (tests/containers.py
starts them when none runs): `make bench-container`.

- action image: size and its largest layers (`docker history`);
- project image of the example: a cold build (no cache), a rebuild after a code change (the
  requirements layer cached), and the push to a registry with password auth;
- cold start: the action run with `docker run` (build off, the graph read in the project image,
  compile, pre-flight, upload to a folder) minus the same compile + upload run directly with the
  CLI in this machine's environment (the graph read in-process). Best of --repeat runs each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from containers import docker, start_stack  # noqa: E402

BIN = Path(sys.executable).parent


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def example_repo(folder: Path) -> tuple[Path, str]:
    project = folder / "spaceflights"
    shutil.copytree(ROOT / "examples" / "spaceflights", project,
                    ignore=shutil.ignore_patterns("__pycache__", "dag", "0[2-8]_*"))
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "example")
    return project, git(project, "rev-parse", "HEAD")


def seconds(cmd: list[str], **kwargs) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return elapsed


def image_figures(image: str) -> list[tuple[str, str]]:
    size = int(docker("image", "inspect", "--format", "{{.Size}}", image).stdout)
    rows = [("action image size", f"{size / 1e6:.0f} MB ({image})")]
    layers = []
    for line in docker("history", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}", image).stdout.splitlines():
        layer_size, created = line.split("\t", 1)
        layers.append((layer_size, " ".join(created.split())[:90]))
    for layer_size, created in sorted(layers, key=lambda r: _bytes(r[0]), reverse=True)[:4]:
        rows.append(("  layer", f"{layer_size}: {created}"))
    return rows


def _bytes(text: str) -> float:
    units = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    return 0.0


def project_figures(stack, project: Path, commit: str) -> list[tuple[str, str]]:
    image = f"{stack.registry.host}/bench/spaceflights:{commit}"
    build = ["docker", "build", "--network", "host", "--build-arg", f"BASE_IMAGE={stack.base['BASE_IMAGE']}",
             "--tag", image, str(project)]
    cold = seconds([*build[:2], "--no-cache", *build[2:]])
    (project / "src" / "spaceflights" / "__init__.py").write_text('"""Spaceflights."""\n__version__ = "0.1.1"\n')
    warm = seconds(build)
    stack.login()
    push = seconds(["docker", "push", image])
    size = int(docker("image", "inspect", "--format", "{{.Size}}", image).stdout)
    return [("project image build, no cache", f"{cold:.1f} s"),
            ("project image rebuild after a code change", f"{warm:.1f} s"),
            ("project image push (first)", f"{push:.1f} s"),
            ("project image size", f"{size / 1e6:.0f} MB")]


def cold_start(stack, project: Path, commit: str, repeat: int) -> list[tuple[str, str]]:
    image = f"bench/spaceflights:{commit}"
    docker("build", "--network", "host", "--build-arg", f"BASE_IMAGE={stack.base['BASE_IMAGE']}", "--tag", image,
           str(project))
    out = Path(tempfile.mkdtemp(prefix="kaf-bench-dags-"))
    action = ["docker", "run", "--rm", "--network", "host", "-v", f"{project}:/workspace", "-w", "/workspace",
              "-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", f"{out}:{out}",
              "-e", "INPUT_ENV=docker", "-e", "INPUT_IMAGE=bench/spaceflights", "-e", "INPUT_BUILD=false",
              "-e", "INPUT_PUSH=false", "-e", f"INPUT_OUTPUT={out}", "-e", "INPUT_AIRFLOW_HOST=http://127.0.0.1:9",
              stack.action_image]
    direct = [str(BIN / "kedro-af-ci"), "--project-path", str(project), "-e", "docker", "upload-pipeline",
              "--image", image, "-o", str(out)]
    env = {**os.environ, "KEDRO_CONFIG_AIRFLOW_HOST": "http://127.0.0.1:9"}
    action_best = min(seconds(action) for _ in range(repeat))
    direct_best = min(seconds(direct, env=env) for _ in range(repeat))
    return [("action run (docker run, graph in the project image)", f"{action_best:.1f} s"),
            ("the same compile + upload with the CLI directly", f"{direct_best:.1f} s"),
            ("cold-start overhead of the action (target <= 10 s)",
             f"{action_best - direct_best:.1f} s {'ok' if action_best - direct_best <= 10 else 'MISS'}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kaf-bench-container-"))
    stack = start_stack(folder)
    if stack is None:
        raise SystemExit("no Docker engine reachable, and none can be started here")
    try:
        rows = [("action image build (cached base)", f"{stack.build_seconds:.1f} s")]
        rows += image_figures(stack.action_image)
        project, commit = example_repo(folder / "project")
        rows += project_figures(stack, project, commit)
        project, commit = example_repo(folder / "cold-start")
        rows += cold_start(stack, project, commit, args.repeat)
    finally:
        stack.stop()
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
