"""The DAG's schedule: cron expression (checked as Airflow's cron timetables parse it) and start date."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

# Airflow's presets: @once and @continuous are timetables of their own, the others croniter's aliases
PRESETS = ("@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly",
           "@annually", "@midnight")
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))


def cron_error(expression: str) -> str | None:
    """croniter's objection to ``expression`` (None: Airflow accepts it), as Airflow's timetable validates it."""
    try:
        from croniter import croniter
    except ImportError:  # a dependency of apache-airflow-core
        raise ValueError("checking a cron expression needs croniter, Airflow's cron parser: "
                         "pip install croniter") from None
    try:
        croniter(expression)
    except ValueError as exc:  # CroniterError and its subclasses
        return str(exc)
    return None


def _field_problem(value: str, fields: list[str]) -> str:
    """The first field croniter rejects on its own (others set to ``*``), named with its range."""
    for index, (label, low, high) in enumerate(FIELDS):
        alone = " ".join(fields[index] if i == index else "*" for i in range(len(FIELDS)))
        if cron_error(alone) is not None:
            return (f"{value!r} is not a cron expression: invalid {label} field {fields[index]!r} "
                    f"(allowed {low}-{high}, '*', ranges, lists and steps)")
    return f"{value!r} is not a cron expression: {cron_error(' '.join(fields))}"


def check_cron(value: str) -> str:
    """An Airflow schedule: a preset such as ``@daily``, or a 5-field cron expression (normalized)."""
    text = value.strip()
    if text.lower() in PRESETS:
        return text.lower()
    fields = text.split()
    if len(fields) != len(FIELDS):
        raise ValueError(
            f"{value!r} is not a cron expression: expected 5 fields (minute hour day-of-month month "
            "day-of-week) or a preset such as @daily"
        )
    if cron_error(" ".join(fields)) is not None:
        raise ValueError(_field_problem(value, fields))
    return " ".join(fields)


def parse_start_date(value: Any) -> Any:
    """YYYYMMDD, YYYY-MM-DD or ISO 8601 as an aware datetime (UTC unless the text says otherwise)."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    text = str(value).strip()
    for fmt in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date: use YYYYMMDD, YYYY-MM-DD or an ISO 8601 datetime"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


CronExpression = Annotated[str, AfterValidator(check_cron)]
StartDate = Annotated[datetime | None, BeforeValidator(parse_start_date)]
