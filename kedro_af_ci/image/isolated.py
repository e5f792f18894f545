"""Run the project's code away from the action's secrets (README, "Security model").

Two steps import the project: reading the pipeline graph, and a custom Spark operator factory.
Both run a small Python program elsewhere: in the built project image (``docker run --network
none``, nothing mounted, no secret in its environment), or, on the ``extract-without-docker``
opt-in, in a child process with a cleaned environment. The program travels as a zip of the few
modules it needs on ``python -``'s stdin, so nothing is installed in the image; its answer comes
back on stdout after a marker line, so whatever the project prints cannot corrupt it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import BuildError

if TYPE_CHECKING:
    from .docker import Docker

RESULT_MARKER = "@@kedro-af-ci-result@@"
ERROR_MARKER = "@@kedro-af-ci-error@@"
_PACKAGE = Path(__file__).resolve().parent.parent
_MODULES = ("__init__.py", "errors.py", "graph/__init__.py", "graph/model.py", "graph/extract.py", "graph/trace.py",
            "vocabulary/__init__.py", "vocabulary/airflow_template.py", "spark.py", "spark_factory/__init__.py",
            "spark_factory/wire.py", "templates/kedro_logging.yml")

_BOOTSTRAP = '''\
import base64, io, shutil, sys, tempfile, zipfile
folder = tempfile.mkdtemp(prefix="kedro-af-ci-")
try:  # the modules are gone when the job ends, whatever its outcome
    zipfile.ZipFile(io.BytesIO(base64.b64decode(PAYLOAD))).extractall(folder)
    sys.path.insert(0, folder)
    from kedro_af_ci.image.isolated_main import main
    code = main(sys.argv[1:])
finally:
    shutil.rmtree(folder, ignore_errors=True)
sys.exit(code)
'''

_MAIN = '''\
"""Runs where the project's code may run: one job, its answer (or one error line) after a marker."""
import json, sys, traceback


def main(argv):
    job, request = argv[0], json.loads(argv[1])
    real_stdout, sys.stdout = sys.stdout, sys.stderr  # the project's prints go to stderr
    from kedro_af_ci.errors import KafError
    try:
        if job == "graph":
            from pathlib import Path
            from kedro_af_ci.graph.extract import extract_graph
            if request.get("trace"):
                from kedro_af_ci.graph.trace import recording
                with recording(Path.cwd()) as trace:
                    graph = extract_graph(Path.cwd(), request["pipeline"], request["env"])
                answer = {"graph": json.loads(graph.to_json()), "trace": trace.to_dict()}
            else:
                answer = json.loads(extract_graph(Path.cwd(), request["pipeline"], request["env"]).to_json())
        else:
            from kedro_af_ci.spark_factory.wire import run_factory_request
            answer = run_factory_request(request)
    except KafError as exc:
        real_stdout.write("\\n%s %s\\n" % (ERROR_MARKER, " ".join(str(exc).split())))
        return 4
    except Exception as exc:  # the project's own failure: say which
        traceback.print_exc()
        real_stdout.write("\\n%s %s: %s\\n" % (ERROR_MARKER, type(exc).__name__, " ".join(str(exc).split())))
        return 4
    real_stdout.write("\\n" + RESULT_MARKER + "\\n" + json.dumps(answer) + "\\n")
    return 0
'''.replace("ERROR_MARKER", repr(ERROR_MARKER)).replace("RESULT_MARKER", repr(RESULT_MARKER))


def bootstrap_script() -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in _MODULES:
            archive.write(_PACKAGE / relative, f"kedro_af_ci/{relative}")
        archive.writestr("kedro_af_ci/image/__init__.py", "")
        archive.writestr("kedro_af_ci/image/isolated_main.py", _MAIN)
    payload = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"PAYLOAD = {payload!r}\n" + _BOOTSTRAP


class Runner(Protocol):
    @property
    def where(self) -> str: ...  # for messages: "image X", "a child process"

    def run(self, script: str, args: list[str]) -> subprocess.CompletedProcess[str]: ...


_QUIET = {"KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", "PYTHONDONTWRITEBYTECODE": "1"}


@dataclass
class ImageRunner:
    """``python -`` in the project image: no network, no mount, only the variables below."""

    docker: Docker
    image: str
    workdir: str

    @property
    def where(self) -> str:
        return f"image {self.image}"

    def run(self, script: str, args: list[str]) -> subprocess.CompletedProcess[str]:
        return self.docker.run_python(self.image, script, args, workdir=self.workdir, env=_QUIET)


# what Kedro and Python need to start in a child process; nothing else of the action's environment
_KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "VIRTUAL_ENV")


def child_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    environ = dict(os.environ if environ is None else environ)
    env = {key: value for key, value in environ.items() if key in _KEPT or key.startswith("KEDRO_")}
    return {**env, **_QUIET}


@dataclass
class ChildRunner:
    """``python -P -`` in a child process whose environment holds no secret (an explicit opt-in:
    it is still the same user on the same machine as the process that holds them)."""

    project: Path
    timeout: float = 900
    where: str = "a child process"

    def run(self, script: str, args: list[str]) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([sys.executable, "-P", "-", *args], input=script, text=True, capture_output=True,
                                  env=child_environment(), cwd=self.project, timeout=self.timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BuildError(f"running the project's code in {self.where} failed: {exc}") from None


def run_job(runner: Runner, job: str, request: dict[str, Any], error: Callable[[str], Exception]) -> Any:
    """Run ``job`` ("graph" or "spark-factory") and return its JSON answer; ``error(message)`` makes
    the exception to raise (a GraphError or a ConfigError, as the caller's step)."""
    proc = runner.run(bootstrap_script(), [job, json.dumps(request)])
    stdout = proc.stdout or ""
    for line in stdout.splitlines():
        if line.startswith(ERROR_MARKER):
            raise error(f"in {runner.where}: {line[len(ERROR_MARKER):].strip()}")
    _, found, text = stdout.partition(f"\n{RESULT_MARKER}\n")
    if proc.returncode != 0 or not found:
        tail = "\n".join((proc.stderr or "").strip().splitlines()[-10:])
        raise error(f"{job} in {runner.where} failed (exit code {proc.returncode})" + (f":\n{tail}" if tail else ""))
    try:
        return json.loads(text)
    except ValueError as exc:
        raise error(f"{job} in {runner.where} printed no valid answer: {exc}") from None
