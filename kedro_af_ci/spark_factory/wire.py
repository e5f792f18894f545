"""The wire format of a custom Spark factory run in the project image (action/isolated.py): the request
the action sends, the child's answer, and the check of that answer, which is the project's code's."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..spark import FactoryOutput, OperatorSpec, SparkJob, SparkSettings, load_factory, run_factory
from ..vocabulary.airflow_template import AirflowTemplate

_TEMPLATE_KEY = "__airflow_template__"


def _encode(value: Any) -> Any:
    """JSON-ready, with AirflowTemplate strings marked so they come back as AirflowTemplate."""
    if isinstance(value, AirflowTemplate):
        return {_TEMPLATE_KEY: str(value)}
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_TEMPLATE_KEY} and isinstance(value[_TEMPLATE_KEY], str):
            return AirflowTemplate(value[_TEMPLATE_KEY])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def factory_request(class_path: str, settings: SparkSettings, jobs: list[SparkJob]) -> dict[str, Any]:
    return {"class_path": class_path, "settings": _encode(asdict(settings)), "jobs": [_encode(asdict(j)) for j in jobs]}


def run_factory_request(request: dict[str, Any]) -> dict[str, Any]:
    """Where the project's code may run: import the factory from the current project and answer."""
    settings = SparkSettings(**_decode(request["settings"]))
    jobs = []
    for job in request["jobs"]:
        data = _decode(job)
        jobs.append(SparkJob(task_id=data["task_id"], nodes=tuple(data["nodes"]), main_uri=data["main_uri"],
                             args=tuple(data["args"])))
    output = run_factory(load_factory("custom", request["class_path"], Path.cwd()), settings, jobs)

    def spec(value: OperatorSpec | None) -> Any:
        return None if value is None else {"class_path": value.class_path, "arguments": _encode(value.arguments)}

    return {"create": spec(output.create), "delete": spec(output.delete),
            "submits": {task_id: spec(value) for task_id, value in output.submits.items()}}


def factory_output(answer: dict[str, Any]) -> FactoryOutput:
    """The answer of :func:`run_factory_request`, checked again here: it comes from the project's code."""
    def spec(value: Any) -> OperatorSpec | None:
        if value is None:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("arguments"), dict):
            raise ConfigError("the Spark operator factory answered something else than operators",
                              key="run_config.spark.operator_factory")
        return OperatorSpec(str(value.get("class_path")), _decode(value["arguments"]))

    submits = answer.get("submits") if isinstance(answer, dict) else None
    if not isinstance(submits, dict):
        raise ConfigError("the Spark operator factory answered without submit operators",
                          key="run_config.spark.operator_factory")
    found = {str(task_id): spec(value) for task_id, value in submits.items()}
    if any(value is None for value in found.values()):
        raise ConfigError("the Spark operator factory answered a task without a submit operator",
                          key="run_config.spark.operator_factory")
    return FactoryOutput(create=spec(answer.get("create")), delete=spec(answer.get("delete")),
                         submits={task_id: value for task_id, value in found.items() if value is not None})
