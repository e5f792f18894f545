"""Pre-flight: load the generated DAG in Airflow's own DagBag before it goes anywhere.

A DAG that fails to import in the scheduler is worse than no upload at all (the previous
version disappears from the UI), so compile refuses to hand over a file Airflow cannot load.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import PreflightError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifyResult:
    checked: bool  # False when skipped or Airflow is not importable here
    skipped_because: str = ""
    dag_ids: tuple[str, ...] = ()
    task_count: int = 0


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


def _hint(error: str) -> str:
    missing = re.search(r"No module named '(airflow\.providers\.[a-z_]+)", error)
    if not missing:
        return ""
    package = "apache-airflow-providers-" + missing.group(1).rsplit(".", 1)[-1].replace("_", "-")
    variant = " (the action image's -google variant has it)" if package.endswith("-google") else ""
    return f"; install {package} where the pre-flight runs{variant}"


def verify_source(source: str, dag_id: str, filename: str | None = None) -> VerifyResult:
    """Import ``source`` in a DagBag; raise :class:`PreflightError` with Airflow's import error."""
    if not airflow_available():
        log.warning("Airflow is not installed here: skipping the pre-flight DagBag check")
        return VerifyResult(checked=False, skipped_because="Airflow is not installed here")
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    with tempfile.TemporaryDirectory(prefix="kaf-preflight-") as folder:
        path = Path(folder) / (filename or f"{dag_id}.py")
        path.write_text(source, encoding="utf-8")
        noise = io.StringIO()
        with contextlib.redirect_stdout(noise):
            dagbag = _dagbag_class()(dag_folder=str(path), safe_mode=False)
        if dagbag.import_errors:
            error = next(iter(dagbag.import_errors.values())).strip().replace(str(path), path.name)
            raise PreflightError(f"the generated DAG does not load in Airflow: {_summary(error)}{_hint(error)}")
        if dag_id not in dagbag.dags:
            raise PreflightError(f"the generated file loads but defines no DAG {dag_id!r} "
                                 f"(found: {', '.join(sorted(dagbag.dags)) or 'none'})")
        dag = dagbag.dags[dag_id]
        return VerifyResult(checked=True, dag_ids=tuple(sorted(dagbag.dags)), task_count=len(dag.tasks))
