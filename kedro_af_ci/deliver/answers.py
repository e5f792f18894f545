"""The Airflow REST API's answers as the few fields this tool reads.

The one place that knows the API's key names and where API v1 (Airflow 2) and v2 (Airflow 3) differ,
so no consumer indexes a raw answer. A malformed answer (a key missing or of the wrong type) is one
AirflowApiError naming the call and the key, never a KeyError or TypeError deep in a consumer;
keys this tool does not read are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import AirflowApiError

ANY_CALL = "the Airflow API"  # ``where`` when the caller does not name the call


def kind(value: object) -> str:
    """A JSON value's type, as a message says it."""
    if value is None:
        return "null"
    for types, name in ((bool, "a boolean"), ((int, float), "a number"), (str, "a string"), (list, "a list"),
                        (dict, "an object")):
        if isinstance(value, types):
            return name
    return type(value).__name__


class _Fields:
    """Typed reads of one answer object; each failure names the call, the answer and the key."""

    def __init__(self, answer: object, what: str, where: str):
        if not isinstance(answer, dict):
            raise AirflowApiError(f"{where}: {what} is {kind(answer)}, expected a JSON object")
        self.answer, self.what, self.where = answer, what, where

    def _read(self, key: str, types: tuple[type, ...], expected: str, required: bool) -> Any:
        value = self.answer.get(key)
        if value is None:
            if required:
                raise AirflowApiError(f"{self.where}: {self.what} has no {key!r} (expected {expected})")
            return None
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise AirflowApiError(f"{self.where}: {self.what}'s {key!r} is {kind(value)}, expected {expected}")
        return value

    def text(self, key: str) -> str:
        return self._read(key, (str,), "a string", required=True)

    def optional_text(self, key: str) -> str | None:
        return self._read(key, (str,), "a string or null", required=False)

    def flag(self, key: str) -> bool | None:
        return self._read(key, (bool,), "true, false or null", required=False)

    def integer(self, key: str) -> int | None:
        return self._read(key, (int,), "an integer or null", required=False)

    def number(self, key: str) -> float | None:
        value = self._read(key, (int, float), "a number or null", required=False)
        return None if value is None else float(value)

    def mapping(self, key: str) -> dict | None:
        return self._read(key, (dict,), "an object or null", required=False)

    def tag_names(self, key: str) -> tuple[str, ...]:
        """Tags are ``{"name": …}`` objects (both APIs); plain strings are taken as names too."""
        names = []
        for tag in self._read(key, (list,), "a list of tags", required=False) or []:
            name = tag.get("name") if isinstance(tag, dict) else tag
            if not isinstance(name, str):
                raise AirflowApiError(f"{self.where}: {self.what}'s {key!r} holds {kind(tag)}, expected "
                                      '{"name": "…"} objects')
            names.append(name)
        return tuple(names)


@dataclass(frozen=True)
class DagInfo:
    """A DAG as GET /dags/{id}, /dags/{id}/details, /dags and PATCH /dags/{id} answer it."""

    dag_id: str
    tags: tuple[str, ...] = ()  # the tags' names
    is_paused: bool | None = None
    display_name: str | None = None
    schedule: str | None = None  # what Airflow shows as the schedule; None: unscheduled
    file_token: str | None = None  # Airflow 3: names the file in PUT /parseDagFile/{token}
    bundle_name: str | None = None  # Airflow 3
    is_stale: bool = False  # Airflow 3: its file is gone

    @classmethod
    def from_api(cls, answer: object, api: str, where: str = ANY_CALL) -> DagInfo:
        read = _Fields(answer, "the DAG", where)
        return cls(dag_id=read.text("dag_id"), tags=read.tag_names("tags"), is_paused=read.flag("is_paused"),
                   display_name=read.optional_text("dag_display_name"), schedule=_schedule(read, api),
                   file_token=read.optional_text("file_token"), bundle_name=read.optional_text("bundle_name"),
                   is_stale=bool(read.flag("is_stale")))


def _schedule(read: _Fields, api: str) -> str | None:
    """API v2 says ``timetable_summary``; v1 ``schedule_interval``: a cron expression's ``value``, or a
    ``TimeDelta``/``RelativeDelta`` object, said as its type and fields (scheduled all the same)."""
    if api == "v2":
        summary = read.optional_text("timetable_summary")
    else:
        interval = read.mapping("schedule_interval") or {}
        summary = _Fields(interval, "the DAG's schedule_interval", read.where).optional_text("value")
        if summary is None and interval.get("__type"):
            fields = ", ".join(f"{key}={value}" for key, value in sorted(interval.items())
                               if key != "__type" and value)
            summary = f"{interval['__type']}({fields})"
    return None if summary in (None, "", "None") else summary


@dataclass(frozen=True)
class DagRunInfo:
    """A DAG run as POST/GET /dags/{id}/dagRuns… answer it."""

    run_id: str
    state: str | None = None
    run_type: str | None = None
    logical_date: str | None = None  # ISO 8601, as Airflow wrote it
    run_after: str | None = None  # Airflow 3
    start_date: str | None = None
    end_date: str | None = None
    queued_at: str | None = None

    @classmethod
    def from_api(cls, answer: object, api: str, where: str = ANY_CALL) -> DagRunInfo:
        read = _Fields(answer, "the DAG run", where)
        # API v1 names the logical date execution_date before Airflow 2.2 (and both after)
        logical = read.optional_text("logical_date") or (read.optional_text("execution_date") if api == "v1"
                                                         else None)
        return cls(run_id=read.text("dag_run_id"), state=read.optional_text("state"),
                   run_type=read.optional_text("run_type"), logical_date=logical,
                   run_after=read.optional_text("run_after"), start_date=read.optional_text("start_date"),
                   end_date=read.optional_text("end_date"), queued_at=read.optional_text("queued_at"))


@dataclass(frozen=True)
class TaskInstanceInfo:
    """A task instance of a run (GET …/dagRuns/{run}/taskInstances); the same keys in both APIs."""

    task_id: str
    state: str | None = None
    try_number: int | None = None
    duration: float | None = None  # seconds
    start_date: str | None = None

    @classmethod
    def from_api(cls, answer: object, api: str, where: str = ANY_CALL) -> TaskInstanceInfo:
        read = _Fields(answer, "the task instance", where)
        return cls(task_id=read.text("task_id"), state=read.optional_text("state"),
                   try_number=read.integer("try_number"), duration=read.number("duration"),
                   start_date=read.optional_text("start_date"))


@dataclass(frozen=True)
class ImportErrorInfo:
    """A DAG file Airflow could not import (GET /importErrors); the same keys in both APIs."""

    filename: str | None = None
    stack_trace: str | None = None
    timestamp: str | None = None  # ISO 8601: when Airflow recorded it

    @classmethod
    def from_api(cls, answer: object, api: str, where: str = ANY_CALL) -> ImportErrorInfo:
        read = _Fields(answer, "the import error", where)
        return cls(filename=read.optional_text("filename"), stack_trace=read.optional_text("stack_trace"),
                   timestamp=read.optional_text("timestamp"))
