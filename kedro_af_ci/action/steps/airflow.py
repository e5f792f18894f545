"""The steps after the image: compile with the pre-flight, then Airflow: link, dry-run file, upload, run once."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from ...errors import BuildError, ConfigError, KafError, RunFailed

if TYPE_CHECKING:
    from ...deliver.client import AirflowClient
    from ...deliver.deploy import RunOutcome
    from ...image.isolated import Runner
    from ...spark import FactoryOutput, SparkJob, SparkSettings
    from ...spark_factory.apply import SparkFactoryRunner


from .context import RunContext


def compile_and_verify(ctx: RunContext) -> None:
    """Compile the graph and config already in hand into the DAG, and pre-flight it in Airflow's
    DagBag: the same compile_dag as the CLI, so both produce the same DAG."""
    from ...compiler.pipeline import CompileRequest, compile_dag

    inputs = ctx.inputs
    with ctx.reporter.section("Compile and pre-flight"):
        ctx.result = result = compile_dag(CompileRequest(
            project_path=ctx.project, env=inputs.env, pipeline=inputs.pipeline, graph=ctx.graph, config=ctx.config,
            schedule=None if inputs.run_once else True,  # True: the cron expression of the config (or input)
            run_once=inputs.run_once, verify=inputs.verify, grouping=inputs.group_by, git=ctx.git,
            spark_factory=_factory_in(ctx.runner), policy=ctx.policy))
        for warning in result.dag.warnings:
            ctx.reporter.warning(warning)
        summary = ctx.summary
        summary.dag_id = ctx.dag_id
        summary.tasks = [t.task_id for t in result.plan.tasks]
        summary.edges = list(result.plan.edges)
        if result.artifacts is not None:
            summary.archive_files = list(result.artifacts.packed)
        ctx.output("dag-id", ctx.dag_id)
        checked = "loaded in Airflow's DagBag" if result.verification.checked \
            else "skipped (verify: false): the DAG was not checked in Airflow before it left"
        summary.preflight = checked
        ctx.reporter.line(f"DAG {ctx.dag_id!r}: {len(result.plan.tasks)} task(s), {result.dag.content_tag}; "
                          f"pre-flight: {checked}")




def _factory_in(runner: Runner | None) -> SparkFactoryRunner:
    """A custom Spark operator factory is project code: it runs where the graph was read (never on a
    code-only deploy, action/code_only.py)."""
    from ...image.isolated import run_job
    from ...spark_factory.wire import factory_output, factory_request

    def run(class_path: str, settings: SparkSettings, jobs: list[SparkJob]) -> FactoryOutput:
        if runner is None:
            raise BuildError("the Spark operator factory needs the project image, which this run did not build")
        def error(message: str) -> ConfigError:
            return ConfigError(f"the Spark operator factory {class_path!r} failed {message}",
                               key="run_config.spark.operator_factory")

        return factory_output(run_job(runner, "spark-factory", factory_request(class_path, settings, jobs), error))

    return run


def connect_airflow(ctx: RunContext) -> None:
    """A client of the config's Airflow host. Run-once sends the credentials, so its host must be one
    the workflow named; a host only airflow-k8s.yaml names gets no credential."""
    host = ctx.config.host
    if host:
        ctx.summary.airflow_host = f"{host} ({ctx.host_source or 'airflow-k8s.yaml: no credential is sent to it'})"
    if ctx.inputs.run_once and host and not ctx.trusted_host:
        raise ConfigError("run-once sends the Airflow credentials, so the host must come from the workflow: set "
                          "the airflow-host input (or AIRFLOW_HOST) from a protected setting such as a "
                          "repository variable; airflow-k8s.yaml's host is a branch's to change",
                          key="input airflow-host")
    ctx.client = _client(ctx, host, credentials=bool(ctx.trusted_host))


def link_dag(ctx: RunContext) -> None:
    """The DAG's URL for the outputs and the summary. Only run-once needs Airflow: otherwise one quick
    try (no retries, no credential) is enough, and a failure is a warning."""
    if ctx.client is None or ctx.inputs.dry_run:
        return
    run_once = ctx.inputs.run_once
    linker = ctx.client if run_once else _client(ctx, ctx.config.host, credentials=False, retries=0, timeout=5)
    assert linker is not None  # ctx.client exists: the config names a host
    try:
        ctx.summary.dag_url = linker.dag_url(ctx.dag_id)
        ctx.output("dag-url", ctx.summary.dag_url)
    except KafError as exc:
        if run_once:
            raise
        ctx.reporter.warning(f"cannot reach Airflow for the DAG's URL: {exc}")


def _client(ctx: RunContext, host: str | None, *, credentials: bool, **options: Any) -> AirflowClient | None:
    """A client of ``host``; it holds the credentials only for a host the workflow named."""
    if not host:
        return None
    from ...deliver.client import airflow_client

    environ = {**ctx.environ, "AIRFLOW_API_TOKEN": ctx.inputs.airflow_token}
    return airflow_client(host, ctx.inputs.insecure, environ=environ, credentials=credentials,
                          host_key="input airflow-host", **options)


def write_dry_run(ctx: RunContext) -> None:
    """A dry run ends with the DAG file in the project: nothing pushed, uploaded or triggered."""
    if not ctx.inputs.dry_run:
        return
    from ...compiler.pipeline import default_output
    from ...deliver.fileio import atomic_write_text

    target = default_output(ctx.project, ctx.dag_id)
    atomic_write_text(target, ctx.result.dag.source)
    ctx.summary.dag_file = str(target)
    ctx.output("dag-file", str(target))
    ctx.reporter.line(f"Dry run: wrote {target}; nothing pushed, uploaded or triggered")


def upload(ctx: RunContext) -> None:
    """Without run-once: the Spark artifacts, then the DAG, where Airflow reads DAGs (its schedule runs it)."""
    if ctx.inputs.dry_run or ctx.inputs.run_once:
        return
    from ...deliver.upload import upload_artifacts, upload_dag

    destination = _destination(ctx)
    with ctx.reporter.section("Upload"):
        upload_artifacts(ctx.result.artifacts)
        uploaded = upload_dag(ctx.result.dag.source, destination, f"{ctx.dag_id}.py")
    _uploaded(ctx, uploaded.location)


def run_once(ctx: RunContext) -> None:
    """Upload, wait until Airflow serves this version, trigger it, and (with wait) fail unless it succeeds."""
    if ctx.inputs.dry_run or not ctx.inputs.run_once:
        return
    from ...deliver.deploy import deploy_and_run, failure_message

    inputs, result = ctx.inputs, ctx.result
    destination = _destination(ctx)
    if ctx.client is None:
        raise ConfigError("run-once needs the Airflow host: set host in airflow-k8s.yaml or the airflow-host "
                          "input", key="host")
    with ctx.reporter.section("Upload and run once"):
        outcome = deploy_and_run(ctx.client, result.dag.source, ctx.dag_id, result.dag.content_tag, destination,
                                 wait=inputs.wait, timeout=inputs.wait_timeout,
                                 version_timeout=inputs.version_timeout, poll=inputs.poll_interval,
                                 on_uploaded=partial(_uploaded, ctx), artifacts=result.artifacts)
    _record_run(ctx, outcome)
    if inputs.wait and outcome.state != "success":
        raise RunFailed(failure_message(outcome))


def _destination(ctx: RunContext) -> str:
    """The DAG location is the deployment's: the output input (policy/settings.py, destination)."""
    from ...policy.settings import destination

    chosen, notes = destination(ctx.config.output, ctx.policy)
    for note in notes:
        ctx.reporter.warning(note)
    if not chosen:
        raise ConfigError("no DAG location: set the output input (from a repository or environment variable) to "
                          "Airflow's DAGs folder or bucket", key="input output")
    return chosen


def _uploaded(ctx: RunContext, location: str) -> None:
    ctx.summary.dag_file = location
    ctx.output("dag-file", location)
    ctx.reporter.line(f"Uploaded the DAG to {location}")


def _record_run(ctx: RunContext, outcome: RunOutcome) -> None:
    summary = ctx.summary
    summary.run_id, summary.run_state, summary.run_url = outcome.run_id, outcome.state, outcome.run_url
    summary.task_states = outcome.tasks
    ctx.output("run-id", outcome.run_id)
    ctx.output("run-state", outcome.state)
    ctx.reporter.line(f"Run {outcome.run_id} of {ctx.dag_id!r}: {outcome.state} — {outcome.run_url}")




