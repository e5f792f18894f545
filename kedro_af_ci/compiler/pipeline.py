"""The compile step end to end: config + graph → plan → source → pre-flight, as one call.

Used by the CLI's compile, upload-pipeline, run-once and schedule, and by the container action,
so every entry point produces byte-identical DAGs for the same inputs.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import PluginConfig, load_config
from ..errors import GraphError, PreflightError
from ..gitinfo.commit import GitInfo, read_git_info
from ..graph.model import PipelineGraph
from ..plan.build import build_plan
from ..plan.model import DagPlan
from ..policy.model import DeploymentPolicy
from ..policy.plan_check import check_plan
from ..policy.settings import narrow
from ..render.dag import RenderedDag, render_dag
from ..spark_factory.apply import SparkFactoryRunner, apply_factory
from ..verify.preflight import (
    NO_AIRFLOW,
    PreflightWorker,
    VerifyResult,
    airflow_available,
    airflow_major,
    verify_source,
)

if TYPE_CHECKING:
    from ..render.artifacts import Artifacts


@dataclass(frozen=True)
class CompileRequest:
    project_path: Path
    env: str | None = None
    pipeline: str = "__default__"
    conf_source: str = "conf"
    graph_file: Path | None = None
    graph: PipelineGraph | None = None  # already extracted (the action reads it in the project image)
    schedule: str | bool | None = True  # True: the config's cron_expression
    run_once: bool = False  # a manual run now: no waiting for other DAGs (external dependencies)
    verify: bool = True
    grouping: str | None = None  # None: run_config.grouping
    overrides: dict[str, Any] | None = None
    git: GitInfo | None = None  # already read (the action reads its checkout once); None: read here
    config: PluginConfig | None = None  # already loaded, overrides included; None: load it here
    spark_factory: SparkFactoryRunner | None = None  # None: a custom Spark factory is imported here
    policy: DeploymentPolicy | None = None  # CI: the deployment's settings; None: the config is trusted


@dataclass(frozen=True)
class CompileResult:
    config: PluginConfig
    graph: PipelineGraph
    plan: DagPlan
    dag: RenderedDag
    git: GitInfo
    verification: VerifyResult
    artifacts: Artifacts | None = None  # Spark: uploaded to artifacts_path before the DAG


log = logging.getLogger(__name__)


def load_graph(request: CompileRequest, config: PluginConfig) -> PipelineGraph:
    """The pipeline graph, from the first source that exists: one already extracted, a graph file, this
    environment's Kedro, or the project image through a Docker engine (README, "Deploy from CI": the CLI form)."""
    if request.graph is not None:
        return request.graph
    if request.graph_file is not None:
        return PipelineGraph.read(request.graph_file)
    if importlib.util.find_spec("kedro") is not None:
        from ..graph.extract import extract_graph  # imports Kedro: only when there is no graph file

        return extract_graph(request.project_path, request.pipeline, request.env)
    return _graph_in_image(request, config)


def _graph_in_image(request: CompileRequest, config: PluginConfig) -> PipelineGraph:
    from ..image.docker import Docker
    from ..image.graph_in_image import extract_in_image

    image = config.run_config.image if config.run_config.execution != "local" else None
    docker = Docker.find()
    if not image or docker is None or not docker.available():
        raise GraphError("Kedro is not installed here, so the pipeline graph cannot be read: install the project "
                         "(pip install -e .), pass --graph with a graph made by `export-graph`, or give a Docker "
                         "engine (mount /var/run/docker.sock) so the graph is read inside run_config.image")
    log.info("Kedro is not installed here: reading the pipeline graph inside %s", image)
    return extract_in_image(docker, image, project_path=config.run_config.project_path, pipeline=request.pipeline,
                            env=request.env)


def compile_dag(request: CompileRequest) -> CompileResult:
    """Compile with the cyclic garbage collector paused: the run allocates hundreds of thousands of
    objects and creates almost no cycles, and collections of Kedro's large heap were a fifth of
    a compile at 5000 nodes (benchmarks/run.py)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _compile(request)
    finally:
        if paused:
            gc.enable()


def _compile(request: CompileRequest) -> CompileResult:
    with _preflight(request) as check:  # Airflow loads there while Kedro loads here
        git = request.git or read_git_info(request.project_path)
        config = request.config if request.config is not None else load_config(
            request.project_path, request.env, conf_source=request.conf_source, git_info=git,
            overrides=request.overrides)
        if request.policy is not None:  # docs/architecture.md, "Trust"
            config, notes = narrow(config, request.policy)
            for note in notes:
                log.warning("%s", note)
        graph = load_graph(request, config)
        planned = build_plan(graph, config, git, kedro_env=request.env, schedule=request.schedule,
                             grouping=request.grouping, run_once=request.run_once,
                             airflow_major=airflow_major() if request.verify else None,
                             outlet_prefixes=None if request.policy is None else tuple(request.policy.asset_outlets))
        plan = apply_factory(planned, request.project_path, request.spark_factory)
        check_plan(plan, request.policy, before_factory=planned)  # pod templates always; the rest in CI
        dag = render_dag(plan, preflight=request.verify)
        verification = check(dag.source, dag.dag_id)
    artifacts = _spark_artifacts(plan, request.project_path) if plan.spark else None
    return CompileResult(config, graph, plan, dag, git, verification, artifacts)



def _spark_artifacts(plan: DagPlan, project_path: Path) -> Artifacts | None:
    from ..render.artifacts import build_artifacts  # pathspec and the archive code: Spark projects only

    return build_artifacts(plan, project_path)


@contextlib.contextmanager
def _preflight(request: CompileRequest) -> Iterator[Callable[[str, str], VerifyResult]]:
    """The pre-flight check: in a worker process started now, so that importing Airflow overlaps with
    loading the project (docs/architecture.md, "Verify"); in this process when Airflow is already
    imported here (nothing to overlap), skipped with --no-verify."""
    if not request.verify:
        yield lambda source, dag_id: VerifyResult(checked=False, skipped_because="--no-verify")
    elif not airflow_available():
        raise PreflightError(NO_AIRFLOW)
    elif "airflow" in sys.modules:
        yield verify_source
    else:
        with PreflightWorker.take_prestarted() or PreflightWorker() as worker:
            yield worker.verify


def default_output(project_path: Path, dag_id: str) -> Path:
    return project_path / "dag" / f"{dag_id}.py"
