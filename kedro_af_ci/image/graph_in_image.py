"""Extract the pipeline graph where the project's code may run (docs/action.md, "What a run does", step 3): inside the
freshly built project image, or on the ``extract-without-docker`` opt-in in a cleaned child process.

The action's container lacks the user's dependencies and holds the secrets; the project image has
the dependencies but not this tool, so the extraction modules travel to it (action/isolated.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import GraphError
from ..graph.model import PipelineGraph
from .isolated import ImageRunner, Runner, run_job

if TYPE_CHECKING:
    from .docker import Docker


def extract_with(runner: Runner, pipeline: str, env: str | None) -> PipelineGraph:
    data = run_job(runner, "graph", {"pipeline": pipeline, "env": env}, GraphError)
    try:
        return PipelineGraph.from_dict(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise GraphError(f"graph extraction in {runner.where} printed no valid graph: {exc}") from None


def extract_traced(runner: Runner, pipeline: str, env: str | None) -> tuple[PipelineGraph, object]:
    """The graph and the extraction's trace (graph/trace.py), an untrusted value the caller checks."""
    data = run_job(runner, "graph", {"pipeline": pipeline, "env": env, "trace": True}, GraphError)
    try:
        return PipelineGraph.from_dict(data["graph"]), data.get("trace")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GraphError(f"graph extraction in {runner.where} printed no valid graph: {exc}") from None


def extract_in_image(docker: Docker, image: str, *, project_path: str, pipeline: str, env: str | None) -> PipelineGraph:
    return extract_with(ImageRunner(docker, image, project_path), pipeline, env)

