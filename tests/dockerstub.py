"""STUB of the docker CLI, for the fast entrypoint checks (the real engine, registry, act and
gitlab-ci-local run in test_github_act.py, test_gitlab_ci_local.py and test_docker_run.py).

It records every call (argv, and the size of stdin, never its content) as JSON lines in
$DOCKER_STUB_LOG; a ``build`` also records the files of its context and its Dockerfile.
``build``, ``push`` and ``login`` succeed unless $DOCKER_STUB_FAIL names them; a ``build`` also records
whether the action's pre-flight worker (``python -m kedro_af_ci.verify.preflight``) runs meanwhile.
``build`` prints $DOCKER_STUB_BUILD_OUTPUT (a Dockerfile's RUN output).
``run`` stands in for the project image: it runs the command with this machine's Python in
$DOCKER_STUB_IMAGE_ROOT (the image's working directory), with the ``--env`` values and stdin, so
the graph extraction that the action sends into the image runs for real.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

SCRIPT = '''#!{python}
import json, os, subprocess, sys
argv = sys.argv[1:]


def commands():
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            yield open(f"/proc/{{pid}}/cmdline", "rb").read().replace(b"\\0", b" ").decode(errors="replace")
        except OSError:  # ended meanwhile
            pass


command = argv[0] if argv else ""
stdin = sys.stdin.read() if command == "login" or (command == "run" and "-i" in argv) else ""
entry = {{"argv": argv, "stdin_bytes": len(stdin)}}
if command == "build":  # what the build would send to the engine: the context's files, the Dockerfile
    context = argv[-1]
    entry["context_files"] = sorted(os.path.relpath(os.path.join(folder, name), context)
                                    for folder, _, names in os.walk(context) for name in names)
    entry["dockerfile"] = open(argv[argv.index("--file") + 1]).read()
    entry["preflight_worker_running"] = any(  # the action's pre-flight worker, importing Airflow meanwhile
        "-m kedro_af_ci.verify.preflight" in cmdline for cmdline in commands())
with open(os.environ["DOCKER_STUB_LOG"], "a") as log:
    log.write(json.dumps(entry) + "\\n")
if command == "buildx":  # no buildx: the classic builder (DOCKER_STUB_BUILDX=1: BuildKit)
    sys.exit(0 if os.environ.get("DOCKER_STUB_BUILDX") else 1)
if command == "version" and os.environ.get("DOCKER_STUB_NO_ENGINE"):
    sys.stderr.write("Cannot connect to the Docker daemon at unix:///var/run/docker.sock\\n")
    sys.exit(1)
if command in os.environ.get("DOCKER_STUB_FAIL", "").split(","):
    sys.stderr.write("ERROR: failed to solve: process did not complete successfully: exit code: 2\\n")
    sys.exit(1)
if command == "build" and os.environ.get("DOCKER_STUB_BUILD_OUTPUT"):
    print(os.environ["DOCKER_STUB_BUILD_OUTPUT"], flush=True)  # what a Dockerfile's RUN may print
if command == "version":
    print("27.4.1")
elif command == "run":
    rest, env, workdir, entrypoint = argv[1:], dict(os.environ), None, None
    while rest and rest[0].startswith("-"):
        flag = rest.pop(0)
        if flag in ("--rm", "-i"):
            continue
        value = rest.pop(0)
        if flag == "--env":
            key, _, val = value.partition("=")
            env[key] = val
        elif flag == "--workdir":
            workdir = value
        elif flag == "--entrypoint":
            entrypoint = value
    image, command_args = rest[0], rest[1:]
    program = [sys.executable] if entrypoint == "python" else [entrypoint]
    proc = subprocess.run(program + command_args, input=stdin, text=True, env=env,
                          cwd=os.environ["DOCKER_STUB_IMAGE_ROOT"], capture_output=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    sys.exit(proc.returncode)
'''


def install(bin_dir: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "docker"
    path.write_text(SCRIPT.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def calls(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]

