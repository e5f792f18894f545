"""The commands that compile and deploy a DAG: compile, upload-pipeline, schedule, run-once, export-graph."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..guards.logsafe import safe_line

if TYPE_CHECKING:
    from ..deliver.answers import TaskInstanceInfo



from .common import (
    Options,
    airflow_client_for,
    airflow_k8s,
    airflow_options,
    compile_request,
    destination_of,
    echo,
    handle_errors,
    log,
    report_warnings,
)


@airflow_k8s.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="DAG file to write (default: dag/<dag_id>.py in the project).")
@click.option("--image", help="Override run_config.image (e.g. the image just built).")
@click.option("--cron-expression", "cron", callback=lambda ctx, param, value: _check_cron_option(value),
              help="Override run_config.cron_expression.")
@click.option("--no-verify", is_flag=True, help="Skip the pre-flight load in Airflow's DagBag.")
@click.pass_obj
@handle_errors
def compile(opts: Options, output, image, cron, no_verify):
    """Create an Airflow DAG for a project."""
    from ..compiler.pipeline import compile_dag, default_output
    from ..deliver.fileio import atomic_write_text

    overrides = {"run_config": {k: v for k, v in (("image", image), ("cron_expression", cron)) if v}}
    result = compile_dag(compile_request(opts, verify=not no_verify, overrides=overrides))
    report_warnings(result.dag.warnings)
    _report_assets(result.plan)
    target = output or default_output(opts.project_path, result.dag.dag_id)
    atomic_write_text(target, result.dag.source)
    verification = result.verification
    checked = "loaded in Airflow's DagBag" if verification.checked else f"skipped ({verification.skipped_because})"
    echo(f"Compiled pipeline {result.graph.pipeline!r} into {target}: DAG {result.dag.dag_id!r}, "
               f"{len(result.plan.tasks)} node task(s), {len(result.plan.edges)} edge(s), {result.dag.content_tag}; "
               f"pre-flight: {checked}")


def _report_assets(plan) -> None:
    """How many datasets became Assets; with --verbose, the persistent ones that did not, and why."""
    uris = {uri for entry in plan.assets.by_task.values() for side in entry.values() for uri in side}
    if uris or plan.assets.skipped:
        log.info("Assets: %d catalog dataset(s) as Assets; %d persistent dataset(s) without one%s", len(uris),
                 len(plan.assets.skipped), "" if log.isEnabledFor(logging.DEBUG) else " (--verbose lists them)")
    for line in plan.assets.skipped:
        log.debug("no Asset: %s", line)




def _destination(result, output: str | None) -> str:
    return destination_of(result.config, output)


def _upload(result, output: str | None):
    from ..deliver.upload import upload_artifacts, upload_dag

    destination = _destination(result, output)
    for artifact in upload_artifacts(result.artifacts):
        echo(f"Uploaded Spark artifact {artifact.location}")
    uploaded = upload_dag(result.dag.source, destination, f"{result.dag.dag_id}.py")
    echo(f"Uploaded DAG {result.dag.dag_id!r} ({result.dag.content_tag}) to {uploaded.location}")
    return uploaded




@airflow_k8s.command("upload-pipeline")
@click.option("-o", "--output", help="DAG folder or file: path, gs://, s3://, any fsspec URL (default: output).")
@click.option("--image", help="Override run_config.image.")
@click.option("--no-verify", is_flag=True, help="Skip the pre-flight load in Airflow's DagBag.")
@click.pass_obj
@handle_errors
def upload_pipeline(opts: Options, output, image, no_verify):
    """Uploads pipeline to Airflow DAG location."""
    from ..compiler.pipeline import compile_dag

    overrides = {"run_config": {"image": image}} if image else None
    result = compile_dag(compile_request(opts, verify=not no_verify, overrides=overrides))
    report_warnings(result.dag.warnings)
    _report_assets(result.plan)
    _upload(result, output)


@airflow_k8s.command()
@click.option("-c", "--cron-expression", "cron", required=True,
              callback=lambda ctx, param, value: _check_cron_option(value),
              help="Schedule (cron or preset such as @daily).")
@click.option("-o", "--output", help="DAG folder or file (default: output from the config).")
@click.option("--image", help="Override run_config.image.")
@click.pass_obj
@handle_errors
def schedule(opts: Options, cron, output, image):
    """Uploads pipeline to Airflow with given schedule."""
    from ..compiler.pipeline import compile_dag

    overrides = {"run_config": {k: v for k, v in (("image", image), ("cron_expression", cron)) if v}}
    result = compile_dag(compile_request(opts, overrides=overrides))
    report_warnings(result.dag.warnings)
    _report_assets(result.plan)
    _upload(result, output)
    echo(f"Scheduled {result.dag.dag_id!r} with {result.plan.dag.schedule!r}")


@airflow_k8s.command("run-once")
@click.option("-o", "--output", help="DAG folder or file (default: output from the config).")
@click.option("--image", help="Override run_config.image.")
@click.option("--wait-for-completion", "wait", is_flag=True, help="Wait for the run to end; exit 8 unless it succeeds.")
@click.option("--timeout", type=click.FloatRange(min=1), default=3600, show_default=True,
              help="Seconds to wait for the run to end.")
@click.option("--version-timeout", type=click.FloatRange(min=1), default=None,
              help="Seconds to wait for Airflow to load the uploaded version, in full. Default: 660 (the 300 s "
                   "folder scan, twice), or 120 s after Airflow 3 took a rescan and still lacks the file.")
@click.option("--poll-interval", type=click.FloatRange(min=0.1), default=10, show_default=True)
@click.option("--run-id", help="Run id to use (default: derived from the DAG version and the time).")
@airflow_options
@click.pass_obj
@handle_errors
def run_once(opts: Options, output, image, wait, timeout, version_timeout, poll_interval, run_id, host, insecure):
    """Uploads pipeline to Airflow and runs once."""
    from ..compiler.pipeline import compile_dag
    from ..deliver.deploy import deploy_and_run, failure_message
    from ..errors import RunFailed

    overrides = {"run_config": {"image": image}} if image else None
    result = compile_dag(compile_request(opts, schedule=None, run_once=True, overrides=overrides))
    report_warnings(result.dag.warnings)
    _report_assets(result.plan)
    client = airflow_client_for(host, result.config.host, insecure)
    destination = _destination(result, output)
    dag_id = result.dag.dag_id
    outcome = deploy_and_run(client, result.dag.source, dag_id, result.dag.content_tag, destination, run_id=run_id,
                             artifacts=result.artifacts, wait=wait, timeout=timeout,
                             version_timeout=version_timeout, poll=poll_interval,
                             on_uploaded=lambda where: echo(
                                 f"Uploaded DAG {dag_id!r} ({result.dag.content_tag}) to {where}"))
    echo(f"DAG {dag_id!r}: {client.dag_url(dag_id)}")
    echo(f"Run {outcome.run_id} of {dag_id!r}: {outcome.state} — {outcome.run_url}")
    if outcome.tasks:
        _task_table(outcome.tasks)
    if wait and outcome.state != "success":
        raise RunFailed(failure_message(outcome))


def _task_table(tasks: list[TaskInstanceInfo]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("task", "state", "duration (s)", "try")
    for ti in sorted(tasks, key=lambda t: (t.start_date or "", t.task_id)):
        cells = (ti.task_id, ti.state, f"{ti.duration:.1f}" if ti.duration else "-",
                 "" if ti.try_number is None else ti.try_number)
        table.add_row(*(safe_line(str(cell)) for cell in cells))
    Console(width=max(100, Console().width)).print(table)




@airflow_k8s.command("export-graph")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output).")
@click.pass_obj
@handle_errors
def export_graph(opts: Options, output):
    """Write the pipeline graph as JSON (run it where the project's dependencies are installed)."""
    from ..deliver.fileio import atomic_write_text
    from ..graph.extract import extract_graph

    graph = extract_graph(opts.project_path, opts.pipeline, opts.env)
    text = graph.to_json() + "\n"
    if output:
        atomic_write_text(output, text)
        echo(f"Wrote the graph of pipeline {opts.pipeline!r} ({len(graph.nodes)} nodes) to {output}",
                   err=True)
    else:
        click.echo(text, nl=False)  # the graph's JSON, for a file or a pipe: JSON escapes every control




def _check_cron_option(value: str | None) -> str | None:
    """The option is what is wrong, not the config file: said as click says it of any option."""
    from ..config import check_cron

    if value is None:
        return None
    try:
        return check_cron(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None




