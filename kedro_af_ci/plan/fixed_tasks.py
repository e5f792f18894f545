"""The task ids the DAG template creates itself, around the Kedro tasks.

One definition for both sides: the template names these tasks through ``FIXED_TASKS``, and the
planner keeps Kedro task ids off ``RESERVED_TASK_IDS``, so a node called ``end`` cannot collide.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass


@dataclass(frozen=True)
class FixedTaskIds:
    create_volume: str = "create_volume"
    data_volume_init: str = "data_volume_init"
    delete_volume: str = "delete_volume"
    end: str = "end"  # fails the run when a node failed (cleanup tasks always succeed)
    external_dependencies: str = "external_dependencies"  # the sensors' task group
    start_mlflow_run: str = "start_mlflow_run"
    end_mlflow_run: str = "end_mlflow_run"
    create_spark_cluster: str = "create_spark_cluster"
    delete_spark_cluster: str = "delete_spark_cluster"


FIXED_TASKS = FixedTaskIds()
RESERVED_TASK_IDS: tuple[str, ...] = astuple(FIXED_TASKS)
