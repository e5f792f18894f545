"""The MLflow plan: one MLflow run per DAG run, when the project tracks with kedro-mlflow."""

from __future__ import annotations

from ..config import (
    PluginConfig,
    RunConfig,
)
from ..gitinfo.commit import GitInfo
from ..graph.model import MlflowInfo, PipelineGraph
from .model import MlflowPlan
from .warnings import PlanWarning


def mlflow_plan(graph: PipelineGraph, config: PluginConfig, git: GitInfo, warnings: list[PlanWarning],
                 pod_templates: dict[str, dict]) -> MlflowPlan | None:
    """One MLflow run per DAG run, when the project has kedro-mlflow config or the config asks for it."""
    rc = config.run_config
    info = graph.mlflow
    if not (rc.mlflow.enabled if rc.mlflow.enabled is not None else info is not None):
        if rc.authentication.type != "Null":
            warnings.append(PlanWarning("mlflow-auth-unused", "run_config.authentication",
                f"run_config.authentication {rc.authentication.type} applies to the MLflow tasks, and "
                            "MLflow is off here (no kedro-mlflow mlflow.yml, run_config.mlflow.enabled not true): "
                            "it has no effect"))
        return None
    if info is not None and not info.installed:
        warnings.append(PlanWarning("mlflow-not-installed", "run_config.mlflow",
            "the project has kedro-mlflow configuration but mlflow is not installed where the "
                        "graph was extracted; the start_mlflow_run task needs it in the project image"))
    experiment = rc.experiment_name or (info.experiment_name if info else None) or graph.project.package_name
    return MlflowPlan(experiment_name=experiment, tracking_uri=_tracking_uri(rc, info, warnings),
                      tags=_mlflow_tags(rc, graph, git), auth=rc.authentication.type,
                      auth_params=tuple(rc.authentication.params),
                      templates_with_run_id=_templates_with_run_id(pod_templates))


def _tracking_uri(rc: RunConfig, info: MlflowInfo | None, warnings: list[PlanWarning]) -> str | None:
    uri = rc.mlflow.tracking_uri or (info.tracking_uri if info else None)
    if uri and "://" not in uri and not uri.startswith(("databricks", "/")):
        # kedro-mlflow reads a relative URI from the project folder
        uri = f"file://{rc.project_path}/{uri}"
        if rc.execution == "kubernetes":
            warnings.append(PlanWarning("mlflow-uri-in-pod", "run_config.mlflow",
                f"MLflow tracking URI {uri!r} is a folder inside the pod and is lost when the pod "
                            "ends; point server.mlflow_tracking_uri (mlflow.yml) at a tracking server"))
    return uri


def _mlflow_tags(rc: RunConfig, graph: PipelineGraph, git: GitInfo) -> dict[str, str]:
    tags = {
        "mlflow.source.git.commit": git.commit_id,
        "git.branch": git.branch_name,
        "kedro.pipeline": graph.pipeline,
        "kedro.project": graph.project.package_name,
    }
    if rc.image and rc.execution != "local":
        tags["docker.image"] = rc.image  # what the run ran
    return tags


def _templates_with_run_id(pod_templates: dict[str, dict]) -> tuple[str, ...]:
    """Pod templates that set MLFLOW_RUN_ID themselves (theirs wins)."""
    def sets_run_id(pod: dict) -> bool:
        containers = (pod.get("spec") or {}).get("containers", []) or []
        return any(isinstance(e, dict) and e.get("name") == "MLFLOW_RUN_ID"
                   for c in containers for e in c.get("env", []) or [])

    return tuple(sorted(name for name, pod in pod_templates.items() if sets_run_id(pod)))
