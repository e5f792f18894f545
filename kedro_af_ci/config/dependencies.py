"""External dependencies: other DAGs (or tasks) a run waits for."""

from __future__ import annotations

from pydantic import Field, field_validator

from .common import StrictModel, check_airflow_id


class ExternalDependency(StrictModel):
    """One ``ExternalTaskSensor`` (mode reschedule), ahead of everything the run allocates."""

    dag_id: str = Field(description="DAG to wait for.")
    task_id: str | None = Field(default=None, description="Task of that DAG to wait for; empty: the whole DAG run.")
    timeout: int = Field(default=1440, gt=0, description="Minutes to wait before this run fails (1440: a day).")
    check_existence: bool = Field(
        default=True, description="Fail at once when the awaited DAG or task does not exist.")
    execution_delta: int = Field(
        default=0, ge=0, description="Minutes between this run's logical date and the awaited run's (0: the same).")

    @field_validator("dag_id", "task_id")
    @classmethod
    def _airflow_key(cls, value: str | None) -> str | None:
        return check_airflow_id(value)
