"""The Spark factory stage: a custom ``spark.operator_factory`` is the project's code, so its operators
are made after planning, where project code may run (docs/architecture.md, "Plan").

The CLI imports the factory here; the action runs it inside the project image (``runner``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..errors import ConfigError
from ..plan.model import DagPlan
from ..spark import FactoryOutput, SparkJob, SparkSettings, load_factory, run_factory

# (factory class path, settings, jobs) -> the factory's operators, computed where project code may run
SparkFactoryRunner = Callable[[str, SparkSettings, list[SparkJob]], FactoryOutput]


def apply_factory(plan: DagPlan, project_path: Path, runner: SparkFactoryRunner | None = None) -> DagPlan:
    """The plan with the custom factory's operators; unchanged when there is none to run."""
    spark = plan.spark
    if spark is None or spark.settings is None:
        return plan
    jobs = list(spark.jobs)
    if runner is not None:
        output = runner(spark.factory, spark.settings, jobs)
    else:
        output = run_factory(load_factory("custom", spark.factory, project_path), spark.settings, jobs)
    expected = sorted(job.task_id for job in jobs)
    if sorted(output.submits) != expected:
        raise ConfigError(f"the Spark operator factory made submit operators for {sorted(output.submits)}; expected "
                          f"{expected}", key="run_config.spark.operator_factory")
    return replace(plan, spark=replace(spark, create=output.create, delete=output.delete, submits=output.submits,
                                       settings=None))
