"""Pre-flight: load the generated DAG in Airflow's own DagBag before it goes anywhere.

A DAG that fails to import in the scheduler is worse than no upload at all (the previous
version disappears from the UI), so compile refuses to hand over a file Airflow cannot load.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib
import importlib.util
import io
import json
import logging
import os
import re
import select
import stat
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from ..errors import PreflightError
from ..guards.trust import in_ci

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifyResult:
    checked: bool  # False when skipped or Airflow is not importable here
    skipped_because: str = ""
    dag_ids: tuple[str, ...] = ()
    task_count: int = 0


# What a compile says when it cannot run the pre-flight: nothing leaves unchecked by accident
NO_AIRFLOW = ("Airflow is not installed here, so the DAG cannot be loaded in Airflow's DagBag before it leaves "
              "(the pre-flight): install it with  pip install 'kedro-airflow-k8s-action[airflow]'  (the Airflow "
              "and providers of the action image), or pass --no-verify to skip the check")


def airflow_available() -> bool:
    return importlib.util.find_spec("airflow") is not None


def airflow_major() -> int | None:
    """The major version of the Airflow installed here (the pre-flight's), None without one."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("apache-airflow").split(".", 1)[0])
    except (PackageNotFoundError, ValueError):
        return None


def _dagbag_class():
    try:  # Airflow 3
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag
    return DagBag


def _summary(error: str) -> str:
    """The line that says what went wrong: the first line of the exception after a traceback
    (messages can span lines, such as an import timeout followed by links), else the first line."""
    lines = [line for line in error.splitlines() if line.strip()] or ["unknown error"]
    frames = [i for i, line in enumerate(lines) if line.startswith("  File ")]
    after = lines[frames[-1] + 1:] if frames else lines
    return next((line.strip() for line in after if not line.startswith(" ")), lines[-1].strip())


_PROVIDER_MODULE = re.compile(r"airflow\.providers\.([a-z_.]+?)\.(?:operators|sensors|hooks|notifications|triggers|"
                              r"transfers|secrets|utils|decorators)\b")


def _hint(error: str, source: str = "") -> str:
    """The provider distribution to install for a missing ``airflow.providers.*`` module. Its name is
    the module path up to the operators/hooks/... part (``apache.spark`` → ``…-apache-spark``); when
    the error names only a namespace (``airflow.providers.apache``), the DAG's own import says which."""
    missing = re.search(r"No module named '(airflow\.providers\.[a-z_.]+)'", error)
    if not missing:
        return ""
    found = _PROVIDER_MODULE.search(missing.group(1))
    if found is None:
        found = next((m for m in _PROVIDER_MODULE.finditer(source)
                      if f"airflow.providers.{m.group(1)}".startswith(missing.group(1))), None)
    if found is None:
        return ""
    package = "apache-airflow-providers-" + found.group(1).replace(".", "-").replace("_", "-")
    variant = " (the action image's -google variant has it)" if package.endswith("-google") else ""
    return f"; install {package} where the pre-flight runs{variant}"


def verify_source(source: str, dag_id: str, filename: str | None = None) -> VerifyResult:
    """Import ``source`` in a DagBag; raise :class:`PreflightError` with Airflow's import error."""
    if not airflow_available():
        raise PreflightError(NO_AIRFLOW)
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    with tempfile.TemporaryDirectory(prefix="kaf-preflight-") as folder:
        path = Path(folder) / (filename or f"{dag_id}.py")
        path.write_text(source, encoding="utf-8")
        noise = io.StringIO()
        with contextlib.redirect_stdout(noise):
            dagbag = _dagbag_class()(dag_folder=str(path), safe_mode=False)
        if dagbag.import_errors:
            error = next(iter(dagbag.import_errors.values())).strip().replace(str(path), path.name)
            raise PreflightError(f"the generated DAG does not load in Airflow: {_summary(error)}"
                                 f"{_hint(error, source)}")
        if dag_id not in dagbag.dags:
            raise PreflightError(f"the generated file loads but defines no DAG {dag_id!r} "
                                 f"(found: {', '.join(sorted(dagbag.dags)) or 'none'})")
        dag = dagbag.dags[dag_id]
        return VerifyResult(checked=True, dag_ids=tuple(sorted(dagbag.dags)), task_count=len(dag.tasks))


# ---------------------------------------------------------------------------------------------
# The pre-flight in its own process (docs/architecture.md, "Verify"): Airflow is imported there
# while the compiling process loads Kedro, so the two costs overlap and neither process holds both.

_WARM_IMPORTS = (  # what Kubernetes DAGs import: loaded while the worker waits for one, never after one came
    "airflow.providers.cncf.kubernetes.operators.pod", "kubernetes.client.models",
)


def _airflow_versions() -> str:
    """Airflow and its providers, as installed here (read from metadata: nothing is imported)."""
    found = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()
                   if (d.metadata["Name"] or "").lower().startswith("apache-airflow"))
    return ",".join(found)


def _verified_marker(source: str) -> Path | None:
    """Where a successful pre-flight of exactly this source with exactly this Airflow is remembered;
    None without a private cache folder (never trust one another user can write), and in CI, where
    a branch's code ran before this as the same user (docs/architecture.md, "Trust")."""
    if in_ci():
        return None
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kedro-af-ci" / "verified"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = folder.stat()
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & 0o022 or not stat.S_ISDIR(info.st_mode):
        return None
    key = hashlib.sha256(f"{_airflow_versions()}\n{source}".encode()).hexdigest()
    return folder / key


class PreflightWorker:
    """A Python process that imports Airflow at once and then loads DAG sources it is sent."""

    _prestarted: PreflightWorker | None = None

    @classmethod
    def prestart(cls) -> None:
        """Start the worker as the CLI starts, before its own imports: the earliest overlap."""
        if cls._prestarted is None and airflow_available():
            cls._prestarted = cls()
            atexit.register(cls._prestarted.close)

    @classmethod
    def take_prestarted(cls) -> PreflightWorker | None:
        worker, cls._prestarted = cls._prestarted, None
        return worker

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-P", "-m", "kedro_af_ci.verify.preflight"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=None if log.isEnabledFor(logging.DEBUG) else subprocess.DEVNULL,  # Airflow's own logging
            text=True, env={**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})

    def verify(self, source: str, dag_id: str, filename: str | None = None) -> VerifyResult:
        marker = _verified_marker(source)
        if marker is not None and marker.is_file():
            cached = json.loads(marker.read_text(encoding="utf-8"))
            return VerifyResult(checked=True, dag_ids=tuple(cached["dag_ids"]), task_count=cached["task_count"])
        answer = self._ask({"source": source, "dag_id": dag_id, "filename": filename})
        if "error" in answer:
            raise PreflightError(answer["error"])
        result = VerifyResult(**{**answer, "dag_ids": tuple(answer["dag_ids"])})
        if marker is not None:
            marker.write_text(json.dumps({"dag_ids": list(result.dag_ids), "task_count": result.task_count}))
        return result

    def _ask(self, request: dict) -> dict:
        assert self._process.stdin is not None and self._process.stdout is not None
        try:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        except (OSError, ValueError):  # the worker (or our end of the pipe) is gone
            line = ""
        return json.loads(line or '{"error": "the pre-flight process ended"}')

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()

    def __enter__(self) -> PreflightWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve() -> None:
    """Answers go to the original stdout; whatever Airflow prints goes to stderr."""
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _dagbag_class()
    for module in _WARM_IMPORTS:
        if select.select([sys.stdin], [], [], 0)[0]:  # a DAG is waiting: it imports what it needs itself
            break
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = asdict(verify_source(request["source"], request["dag_id"], request.get("filename")))
        except PreflightError as exc:
            answer = {"error": str(exc)}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
    # Tearing Airflow's modules down takes longer than the parse (0.8 s here) and the compile waits for this
    # process to end; every answer is flushed and the DagBag's folder removed, so nothing is left to do.
    os._exit(0)


if __name__ == "__main__":
    _serve()
