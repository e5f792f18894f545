"""compile → upload → wait for this version → unpause → trigger → wait: shared by CLI and action.

"This version" is recognised by the DAG's content-hash tag, so run-once never triggers the DAG
Airflow had before the upload.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import AirflowApiError, ConfigError, RunFailed
from ..guards.logsafe import safe_line
from ..plan.model import TAG_PREFIX
from .answers import DagInfo, ImportErrorInfo, TaskInstanceInfo
from .client import TERMINAL_RUN_STATES, AirflowClient
from .ownership import check_replace, tags_in_source

if TYPE_CHECKING:
    from ..render.artifacts import Artifacts

log = logging.getLogger(__name__)
MAX_LOGS = 3  # failed tasks whose log tail is shown
COMMAND_GRACE = 300.0  # seconds for the calls around the two waits: checks, upload, trigger, the run's tasks


@dataclass
class RunOutcome:
    dag_id: str
    run_id: str
    state: str
    run_url: str
    tasks: list[TaskInstanceInfo] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (task_id, log url)
    logs: dict[str, list[str]] = field(default_factory=dict)  # failed task -> the last lines of its log


# run-once's wait for the uploaded version: the dag-processor's folder scan (300 s by default) twice, plus
# time to parse; and how long after Airflow 3 took a rescan a file it still has not found means the output
# is not its DAGs folder (a rescan finds a new file in seconds: docs/benchmarks.md)
VERSION_TIMEOUT = 660.0
RESCAN_GRACE = 120.0


def make_run_id(content_tag: str, now: datetime | None = None) -> str:
    """Deterministic per invocation: the DAG version plus the invocation time."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S")
    digest = content_tag.split(":")[-1][:12]
    return f"kaf_run_once__{digest}__{stamp}"


class Progress:
    """One line per change; a live spinner on a terminal, plain lines in CI logs."""

    def __init__(self, enabled_tty: bool | None = None):
        self.tty = sys.stderr.isatty() if enabled_tty is None else enabled_tty
        self._last: str | None = None
        self._status: Any = None  # rich's Status, on a terminal
        if self.tty:
            from rich.console import Console

            self._console = Console(stderr=True)

    def update(self, message: str) -> None:
        if message == self._last:
            return
        self._last = message
        if self.tty:
            if self._status is None:
                self._status = self._console.status(message)
                self._status.start()
            else:
                self._status.update(message)
        else:
            print(safe_line(message), file=sys.stderr, flush=True)

    def done(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def wait_for_version(client: AirflowClient, dag_id: str, content_tag: str, *, filename: str,
                     uploaded_at: float, timeout: float, poll: float, progress: Progress,
                     rescan_grace: float | None = None, clock: Callable[[], float] = time.monotonic) -> DagInfo:
    """Poll until Airflow serves the DAG with ``content_tag``; fail fast on its import error, and
    ``rescan_grace`` seconds after Airflow 3 took a rescan (docs/architecture.md, "Run")."""
    deadline = clock() + timeout
    reparse_asked, rescanned_at = False, None
    while True:
        details = client.dag_details(dag_id)
        if details and content_tag in details.tags:
            return details
        progress.update(_waiting_for(details, dag_id, content_tag, filename))
        if not reparse_asked:
            answer = _ask_reparse(client, details) or _ask_rescan(client, details)
            reparse_asked, rescanned_at = answer is not False, clock() if answer is True else None
        _raise_import_error(client, filename, uploaded_at)
        if rescan_grace is not None and rescanned_at is not None and clock() - rescanned_at >= rescan_grace:
            raise RunFailed(_not_found_after_rescan(details, dag_id, content_tag, filename, rescan_grace))
        if clock() >= deadline:
            raise RunFailed(f"Airflow did not load version {content_tag} of DAG {dag_id!r} within {timeout:.0f}s; "
                            "is the output location Airflow's DAGs folder?")
        time.sleep(poll)


def _not_found_after_rescan(details: DagInfo | None, dag_id: str, content_tag: str, filename: str,
                            grace: float) -> str:
    kind = content_tag.split(":")[0] + ":"
    versions = ", ".join(tag for tag in details.tags if tag.startswith(kind)) if details else ""
    seen = f"still serves another version of {dag_id!r} ({versions or 'untagged'})" if details else \
        f"has not found {filename}"
    return (f"Airflow parsed its DAGs folder at this command's request {grace:.0f}s ago and {seen}: is the output "
            "location the folder Airflow reads (its [core] dags_folder, or the bucket it syncs from)? If Airflow "
            "is only slow to parse, pass --version-timeout (the version-timeout input): it is then waited in full.")


def _waiting_for(details: DagInfo | None, dag_id: str, content_tag: str, filename: str) -> str:
    if details is None:
        return (f"waiting for Airflow to discover the new file {filename} (a rescan was asked where Airflow 3 "
                "allows it; else the dag-processor scans the DAGs folder every [dag_processor] refresh_interval, "
                "300 s by default)")
    return f"waiting for Airflow to parse the uploaded version ({content_tag}) of {dag_id}"


def _ask_reparse(client: AirflowClient, details: DagInfo | None) -> bool:
    """A file Airflow already knows can be parsed now instead of at its next scan (Airflow 3)."""
    token = details.file_token if details else None
    return client.reparse(token) if token else False


def _ask_rescan(client: AirflowClient, details: DagInfo | None) -> bool | None:
    """A new DAG file: ask Airflow 3 to parse a file it knows, which rescans the folder (docs/architecture.md,
    "Run"). Best effort: without a known file or the right to parse it, the folder scan still comes.
    True: Airflow took it; False: nothing to ask with yet; None: refused (not asked again)."""
    if details is not None:
        return False
    try:
        token = client.known_file_token(TAG_PREFIX)
        return token is not None and client.reparse(token)
    except AirflowApiError as exc:
        log.debug("no rescan asked: %s", exc)
        return None  # asked once is enough: the answer would not change


def _raise_import_error(client: AirflowClient, filename: str, uploaded_at: float) -> None:
    """Airflow reports an import error of the uploaded file (not an older one): stop waiting."""
    try:
        errors = client.import_errors()
    except AirflowApiError:
        return  # listing import errors needs extra permissions on some deployments
    for error in errors:
        if (error.filename or "").rsplit("/", 1)[-1] == filename and _error_time(error, uploaded_at) >= uploaded_at - 1:
            trace = (error.stack_trace or "").strip().splitlines()
            raise RunFailed(f"Airflow cannot import {filename}: {trace[-1] if trace else 'unknown error'}")


def _error_time(error: ImportErrorInfo, default: float) -> float:
    """When Airflow recorded the import error; ``default`` (counted as new) when it does not say."""
    try:
        return datetime.fromisoformat(str(error.timestamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default


def trigger_and_wait(client: AirflowClient, dag_id: str, run_id: str, *, wait: bool, timeout: float,
                     poll: float, progress: Progress, clock: Callable[[], float] = time.monotonic) -> RunOutcome:
    """Unpause, trigger the run ``run_id`` (fixed, so a retried trigger never starts a second run) and,
    with ``wait``, follow it to its end and collect its tasks and the log tails of failed ones."""
    outcome = _start_run(client, dag_id, run_id)
    if wait:
        _follow_run(client, outcome, timeout=timeout, poll=poll, progress=progress, clock=clock)
        _collect_tasks(client, outcome)
    return outcome


def _start_run(client: AirflowClient, dag_id: str, run_id: str) -> RunOutcome:
    details = client.get_dag(dag_id)
    if details and details.is_paused:
        client.set_paused(dag_id, False)
    run = client.trigger(dag_id, run_id, datetime.now(timezone.utc).isoformat())
    return RunOutcome(dag_id=dag_id, run_id=run_id, state=run.state or "queued",
                      run_url=client.run_url(dag_id, run_id))


def _follow_run(client: AirflowClient, outcome: RunOutcome, *, timeout: float, poll: float, progress: Progress,
                clock: Callable[[], float]) -> None:
    """Poll the run's state into ``outcome`` until it is terminal; RunFailed after ``timeout``."""
    deadline = clock() + timeout
    polls, requests_before = 0, client.requests_made
    try:
        while outcome.state not in TERMINAL_RUN_STATES:
            progress.update(f"run {outcome.run_id} of {outcome.dag_id}: {outcome.state}")
            if clock() >= deadline:
                raise RunFailed(f"run {outcome.run_id} of {outcome.dag_id!r} did not finish within {timeout:.0f}s "
                                f"(last state: {outcome.state}); see {outcome.run_url}")
            time.sleep(poll)
            polls += 1
            outcome.state = client.get_run(outcome.dag_id, outcome.run_id).state or outcome.state
    finally:
        progress.done()
    if polls:  # benchmarks/run.py reads this line (with --verbose)
        requests = client.requests_made - requests_before
        log.debug("kaf-requests:%s", json.dumps({"polls": polls, "requests": requests, "per_poll": requests / polls}))


def _collect_tasks(client: AirflowClient, outcome: RunOutcome) -> None:
    """The run's tasks, its failed ones with links, and the log tails of the first MAX_LOGS of them."""
    outcome.tasks = client.task_instances(outcome.dag_id, outcome.run_id)
    failed = [ti for ti in outcome.tasks if ti.state == "failed"]
    outcome.failed = [(ti.task_id, client.task_log_url(outcome.dag_id, outcome.run_id, ti.task_id)) for ti in failed]
    for ti in failed[:MAX_LOGS]:
        try:  # the failure is reported whatever happens here: the log is extra
            outcome.logs[ti.task_id] = client.task_log_tail(outcome.dag_id, outcome.run_id, ti.task_id,
                                                            ti.try_number or 1)
        except AirflowApiError as exc:
            log.debug("no log of %s: %s", ti.task_id, exc)


@dataclass(frozen=True)
class DeployRequest:
    """What run-once deploys, once compiled: the DAG, where it goes, and how long to wait for what."""

    source: str  # the DAG file's text
    dag_id: str
    content_tag: str  # the DAG's version tag: how the uploaded version is recognised in Airflow
    destination: str  # Airflow's DAGs folder: a path or an fsspec URL
    wait: bool  # follow the run to its end
    timeout: float  # for the run, with wait
    version_timeout: float  # for Airflow to load the uploaded version
    poll: float
    run_id: str | None = None  # default: make_run_id(content_tag)
    rescan_grace: float | None = None  # fail this long after Airflow 3 took a rescan; None: wait version_timeout
    artifacts: Artifacts | None = None  # Spark artifacts, uploaded before the DAG


def deploy(client: AirflowClient, request: DeployRequest, *, progress: Progress | None = None,
           on_uploaded: Callable[[str], None] | None = None) -> RunOutcome:
    """run-once after compiling: check the API, upload, wait for this version, trigger, maybe wait.

    The API is reached before the upload so a wrong host or credentials fail before anything is
    written; ``on_uploaded`` receives the DAG file's location (the action reports it even when the
    run then fails). Spark artifacts go up first: the DAG never points at missing files.
    """
    from .upload import upload_artifacts, upload_dag

    progress = progress or Progress()
    # every call and wait of the command ends by then: the user's two timeouts, and the calls around them
    client.deadline = time.monotonic() + request.version_timeout + (request.timeout if request.wait else 0) \
        + COMMAND_GRACE
    client.api  # noqa: B018 - detect the API version (and fail on a wrong host) before uploading
    _refuse_replacing(client, request)
    upload_artifacts(request.artifacts)
    uploaded_at = time.time()
    filename = f"{request.dag_id}.py"
    uploaded = upload_dag(request.source, request.destination, filename)
    log.debug("uploaded DAG %r (%s) to %s", request.dag_id, request.content_tag, uploaded.location)
    if on_uploaded:
        on_uploaded(uploaded.location)
    wait_for_version(client, request.dag_id, request.content_tag, filename=filename, uploaded_at=uploaded_at,
                     timeout=request.version_timeout, poll=min(request.poll, 5), progress=progress,
                     rescan_grace=request.rescan_grace)
    progress.done()
    return trigger_and_wait(client, request.dag_id, request.run_id or make_run_id(request.content_tag),
                            wait=request.wait, timeout=request.timeout, poll=request.poll, progress=progress)


def deploy_and_run(client: AirflowClient, source: str, dag_id: str, content_tag: str, destination: str, *,
                   run_id: str | None = None, wait: bool, timeout: float, version_timeout: float | None,
                   poll: float, progress: Progress | None = None,
                   on_uploaded: Callable[[str], None] | None = None, artifacts=None) -> RunOutcome:
    """The former call form of :func:`deploy`, kept while the CLI and the action move to DeployRequest.
    ``version_timeout`` None: the default wait, cut short RESCAN_GRACE after Airflow took a rescan."""
    request = DeployRequest(source=source, dag_id=dag_id, content_tag=content_tag, destination=destination,
                            wait=wait, timeout=timeout, version_timeout=version_timeout or VERSION_TIMEOUT, poll=poll,
                            run_id=run_id, artifacts=artifacts,
                            rescan_grace=RESCAN_GRACE if version_timeout is None else None)
    return deploy(client, request, progress=progress, on_uploaded=on_uploaded)


def _refuse_replacing(client: AirflowClient, request: DeployRequest) -> None:
    """The DAG Airflow serves under this id, whatever file it came from, is replaced only by its own
    branch (deliver/ownership.py); and a run-once DAG has no schedule, so uploading it under a
    scheduled DAG's id would silently stop that schedule (a run-once of the default branch over
    production)."""
    dag_id = request.dag_id
    existing = client.get_dag(dag_id)
    if existing:
        check_replace(existing.tags, tags_in_source(request.source) or [], f"DAG {dag_id!r} in Airflow")
    schedule = existing.schedule if existing else None
    if schedule:
        raise ConfigError(f"run-once would replace the scheduled DAG {dag_id!r} ({schedule}) with an unscheduled "
                          "one: give run-once its own DAG id (run_config.run_name with ${branch_name}, or the "
                          "run-name input)", key="run_config.run_name")


def failure_message(outcome: RunOutcome) -> str:
    lines = [f"  {task}: {url}" for task, url in outcome.failed]
    for task, tail in outcome.logs.items():
        lines += [f"  last lines of {task}'s log:", *(f"    {line}" for line in tail)]
    return (f"run {outcome.run_id} of {outcome.dag_id!r} ended {outcome.state}; failed task(s): "
            + (", ".join(t for t, _ in outcome.failed) or "none reported")
            + ("\n" + "\n".join(lines) if lines else ""))
