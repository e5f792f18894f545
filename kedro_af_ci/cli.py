"""Command line: ``kedro airflow-k8s …`` (Kedro plugin) and ``kedro-af-ci …`` (console script).

Thin on purpose: options are parsed here, the work happens in compiler/upload/deploy. User errors
print one line and exit with the error's code; ``--verbose`` adds the traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import __version__
from .compiler.project import project_identity
from .errors import ConfigError, KafError
from .guards.logsafe import safe_line, safe_text, setup_logging
from .vocabulary.modes import GROUPINGS

if TYPE_CHECKING:
    from .deliver.answers import TaskInstanceInfo

log = logging.getLogger("kedro_af_ci")


@dataclass(frozen=True)
class Options:
    env: str | None
    pipeline: str
    project_path: Path
    conf_source: str
    graph_file: Path | None
    verbose: bool
    grouping: str | None = None
    local: dict | None = None  # config overrides while `up`'s Airflow runs (outside CI): see _local_target


# `up`'s Airflow by URL: its own login, used for it instead of the credentials the environment holds for
# another Airflow (which never go there)
_UP_LOGINS: dict[str, dict[str, str]] = {}


def _local_target(project_path: Path) -> dict | None:
    """Outside CI, while the Airflow `up` started for this project runs, commands deploy there: its host and
    DAGs folder, the nodes run in its worker (`execution: local`), its login unless one is set; said on every
    command. In CI never: where a DAG goes is the deployment's (docs/architecture.md, "Trust")."""
    from .deliver.local_airflow import running
    from .guards.trust import in_ci

    local = None if in_ci() else running(project_path)
    if local is None:
        return None
    _UP_LOGINS[local.url] = local.credentials_env()
    log.warning("deploying to the Airflow `up` started at %s (execution local); `down` stops it", local.url)
    return {"host": local.url, "output": local.dags_folder,
            "run_config": {"execution": "local", "project_path": str(project_path.resolve()),
                           "volume": {"disabled": True}}}


def echo(text: str, err: bool = False) -> None:
    """Every line the CLI prints: values in it may come from a branch (docs/architecture.md, "Trust")."""
    click.echo(safe_text(text), err=err)


def handle_errors(func):
    """Turn KafError into one line on stderr and its exit code; tracebacks only with --verbose."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        verbose = bool(getattr(ctx.find_object(Options), "verbose", False))
        try:
            return func(*args, **kwargs)
        except KafError as exc:
            if verbose:
                traceback.print_exc(file=sys.stderr)
            echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            echo("Interrupted", err=True)
            ctx.exit(130)

    return wrapper


def _check_env_name(ctx, param, value):
    if value is not None and (not value or any(c in value for c in "/\\") or value.startswith(".")):
        raise click.BadParameter(f"{value!r} is not a Kedro environment name")
    return value or None


@click.group(name="airflow-k8s", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-e", "--env", envvar="KEDRO_ENV", callback=_check_env_name,
              help="Kedro environment (conf/<env>); defaults to $KEDRO_ENV, then Kedro's default.")
@click.option("-p", "--pipeline", default="__default__", show_default=True, help="Pipeline name to pick.")
@click.option("--project-path", type=click.Path(file_okay=False, path_type=Path), default=".",
              show_default=True, help="Root of the Kedro project.")
@click.option("--conf-source", default="conf", show_default=True, help="Configuration folder of the project.")
@click.option("--graph", "graph_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Pipeline graph JSON (from export-graph) to use instead of importing the project.")
@click.option("--group-by", "grouping", type=click.Choice(GROUPINGS),
              help="Group nodes into tasks (default: run_config.grouping, else auto).")
@click.option("-v", "--verbose", is_flag=True, help="Show debug logs and tracebacks.")
@click.version_option(__version__, prog_name="kedro-airflow-k8s-action")
@click.pass_context
def airflow_k8s(ctx, env, pipeline, project_path, conf_source, graph_file, grouping, verbose):
    """Compile Kedro pipelines to Airflow DAGs on Kubernetes, upload and run them."""
    setup_logging(verbose)
    command = ctx.invoked_subcommand
    local = _local_target(project_path) if command not in (None, "init", "up", "down", "export-graph") else None
    ctx.obj = Options(env=env, pipeline=pipeline, project_path=project_path, conf_source=conf_source,
                      graph_file=graph_file, verbose=verbose, grouping=grouping, local=local)


def _request(opts: Options, **kwargs):
    from .compiler.pipeline import CompileRequest
    from .policy.model import policy_for

    if opts.local:
        kwargs["overrides"] = _deep_merged(opts.local, kwargs.get("overrides") or {})
    return CompileRequest(project_path=opts.project_path, env=opts.env, pipeline=opts.pipeline,
                          conf_source=opts.conf_source, graph_file=opts.graph_file, grouping=opts.grouping,
                          policy=policy_for(), **kwargs)


def _deep_merged(base: dict, over: dict) -> dict:
    return {**base, **{k: _deep_merged(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
                       for k, v in over.items()}}


def _load_config(opts: Options, **kwargs):
    """The project's config as the command sees it (with `up`'s target while it runs)."""
    from .config import load_config

    return load_config(opts.project_path, opts.env, conf_source=opts.conf_source, overrides=opts.local, **kwargs)


def _report_warnings(warnings) -> None:
    for warning in warnings:
        log.warning("%s", warning)


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
    from .compiler.pipeline import compile_dag, default_output
    from .deliver.fileio import atomic_write_text

    overrides = {"run_config": {k: v for k, v in (("image", image), ("cron_expression", cron)) if v}}
    result = compile_dag(_request(opts, verify=not no_verify, overrides=overrides))
    _report_warnings(result.dag.warnings)
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


def _airflow_options(func):
    func = click.option("--host", help="Airflow base URL (default: host from the config).")(func)
    func = click.option("--insecure", is_flag=True,
                        help="Do not verify the server's TLS certificate (AIRFLOW_CA_BUNDLE sets a CA file), and "
                             "allow the credentials over plain http to a host other than this machine.")(func)
    return func


def _client(option: str | None, config_host: str | None, insecure: bool, **options):
    """The host of --host, else the config's. In CI the config is a branch's, so the credentials go only
    to a host the job names: --host or AIRFLOW_HOST (docs/architecture.md, "Trust")."""
    import os

    from .guards.trust import in_ci

    host = option or config_host
    if in_ci():
        host = option or os.environ.get("AIRFLOW_HOST", "").strip() or None
        if not host and config_host:
            raise ConfigError("in CI the Airflow credentials go only to a host the job names, never to the one in "
                              "airflow-k8s.yaml (a branch's to change): pass --host or set AIRFLOW_HOST from a "
                              "protected variable", key="host")
    if not host:
        raise ConfigError("no Airflow host: set host in airflow-k8s.yaml or pass --host", key="host")
    from .deliver.client import airflow_client

    if host in _UP_LOGINS:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_")} | _UP_LOGINS[host]
        return airflow_client(host, insecure, environ=environ, **options)
    return airflow_client(host, insecure, **options)


def _destination(result, output: str | None) -> str:
    return _destination_of(result.config, output)


def _upload(result, output: str | None):
    from .deliver.upload import upload_artifacts, upload_dag

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
    from .compiler.pipeline import compile_dag

    overrides = {"run_config": {"image": image}} if image else None
    result = compile_dag(_request(opts, verify=not no_verify, overrides=overrides))
    _report_warnings(result.dag.warnings)
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
    from .compiler.pipeline import compile_dag

    overrides = {"run_config": {k: v for k, v in (("image", image), ("cron_expression", cron)) if v}}
    result = compile_dag(_request(opts, overrides=overrides))
    _report_warnings(result.dag.warnings)
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
@_airflow_options
@click.pass_obj
@handle_errors
def run_once(opts: Options, output, image, wait, timeout, version_timeout, poll_interval, run_id, host, insecure):
    """Uploads pipeline to Airflow and runs once."""
    from .compiler.pipeline import compile_dag
    from .deliver.deploy import deploy_and_run, failure_message
    from .errors import RunFailed

    overrides = {"run_config": {"image": image}} if image else None
    result = compile_dag(_request(opts, schedule=None, run_once=True, overrides=overrides))
    _report_warnings(result.dag.warnings)
    _report_assets(result.plan)
    client = _client(host, result.config.host, insecure)
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


@airflow_k8s.command("list-pipelines")
@_airflow_options
@click.pass_obj
@handle_errors
def list_pipelines(opts: Options, host, insecure):
    """List pipelines generated by this plugin."""
    from rich.console import Console
    from rich.table import Table

    from .plan.model import EXPERIMENT_TAGS, TAG_PREFIX
    client = _client(host, None if host else _config_host(opts), insecure)
    dags = [d for d in client.list_dags() if any(t.startswith(TAG_PREFIX + ":") for t in d.tags)]
    table = Table("Name", "ID", "Experiment", "Paused", "Last run")
    for dag in sorted(dags, key=lambda d: d.dag_id):
        runs = client.latest_runs(dag.dag_id)
        last = f"{runs[0].state} ({runs[0].run_id})" if runs else "-"
        experiment = next((t.split(":", 1)[1] for t in dag.tags if t.startswith(EXPERIMENT_TAGS)), "-")
        cells = (dag.display_name or dag.dag_id, dag.dag_id, experiment, dag.is_paused, last)
        table.add_row(*(safe_line(str(cell)) for cell in cells))
    Console(width=max(120, Console().width)).print(table)


def _config_host(opts: Options) -> str | None:
    return _load_config(opts).host


@airflow_k8s.command()
@click.option("--dag/--no-dag", "open_dag", default=True, help="Open this project's DAG (default) or the home page.")
@_airflow_options
@click.pass_obj
@handle_errors
def ui(opts: Options, open_dag, host, insecure):
    """Open Apache Airflow UI in new browser tab."""
    import webbrowser

    from .compiler.project import project_dag_id
    from .errors import AirflowApiError

    config = _load_config(opts)
    client = _client(host, config.host, insecure, retries=0, timeout=10)  # a page to open: no retrying
    try:
        client.api  # noqa: B018 - the URL layout depends on the Airflow version
    except AirflowApiError as exc:
        raise AirflowApiError(f"{exc}; nothing to open") from None
    url = client.host
    if open_dag:
        url = client.dag_url(project_dag_id(config, opts.project_path))
    echo(url)
    with contextlib.suppress(webbrowser.Error):
        webbrowser.open_new_tab(url)


def _default_branch_option(func):
    import os

    return click.option("--default-branch", default=lambda: os.environ.get("CI_DEFAULT_BRANCH") or "main",
                        show_default="$CI_DEFAULT_BRANCH, else main",
                        help="The branch whose DAG is the scheduled one: never deleted without --force.")(func)


@airflow_k8s.command("delete-pipeline")
@click.option("-o", "--output", help="DAG folder or bucket (default: output from the config).")
@click.option("--branch", help="Branch whose DAG to delete (default: the checkout's).")
@click.option("--force", is_flag=True, help="Also delete a scheduled DAG, or the default branch's.")
@_default_branch_option
@_airflow_options
@click.pass_obj
@handle_errors
def delete_pipeline(opts: Options, output, branch, force, default_branch, host, insecure):
    """Delete a branch's DAG: its file from the DAGs folder, then the DAG from Airflow."""
    from .deliver.delete import DeleteRequest, delete_pipeline
    from .plan.model import BRANCH_TAG, owner_tag, owner_tags

    config, git, dag_id = _dag_of(opts, branch)
    client = _client(host, config.host, insecure) if host or config.host else None
    request = DeleteRequest(dag_id=dag_id, destination=_destination_of(config, output),
                            owner_tags=owner_tags(git.branch_name, git.repository),
                            default_branch_tag=owner_tag(BRANCH_TAG, default_branch), force=force)
    outcome = delete_pipeline(client, request)
    if not outcome.found:
        echo(f"DAG {dag_id!r} is not there (no file at {request.destination}, nor in Airflow): nothing to delete")
        return
    echo(f"Deleted DAG {dag_id!r}: " + "; ".join(part for part in (
        f"removed {outcome.file}" if outcome.file else "", "removed from Airflow" if outcome.in_airflow else "")
        if part))
    if client is None:
        echo("No Airflow host given: Airflow marks the DAG stale once it notices the file is gone")


@airflow_k8s.command()
@click.option("--branches", "branches_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="File of the branches that exist, one per line (default: the remote's, by git ls-remote).")
@click.option("--remote", default="origin", show_default=True, help="Git remote whose branches exist.")
@click.option("--older-than", type=click.IntRange(min=1), metavar="DAYS",
              help="Also DAGs of existing branches whose last run is older than DAYS days.")
@click.option("--yes", is_flag=True, help="Delete them; without it, only list them.")
@click.option("-o", "--output", help="DAG folder or bucket (default: output from the config).")
@click.option("--force", is_flag=True, help="Also delete scheduled DAGs, and the default branch's.")
@_default_branch_option
@_airflow_options
@click.pass_obj
@handle_errors
def prune(opts: Options, branches_file, remote, older_than, yes, output, force, default_branch, host, insecure):
    """List (and with --yes delete) the DAGs of branches that are gone, or idle."""
    from rich.console import Console
    from rich.table import Table

    from .deliver.delete import DeleteRequest, delete_pipeline
    from .deliver.prune import stale_dags
    from .plan.model import BRANCH_TAG, owner_tag

    config, git, _ = _dag_of(opts, None)
    if git.repository is None:
        raise ConfigError("prune keeps to this repository's DAGs, and nothing names this repository: add its "
                          "remote (git remote add origin URL), or set GITHUB_REPOSITORY or CI_PROJECT_PATH",
                          key="repository")
    client = _client(host, config.host, insecure)
    existing = _existing_branches(opts.project_path, branches_file, remote)
    found = stale_dags(client, existing, repository=git.repository, older_than_days=older_than)
    table = Table("DAG", "branch", "last run", "why")
    for stale in found:
        table.add_row(*(safe_line(cell) for cell in (stale.dag_id, stale.branch, stale.last_run, stale.reason)))
    Console(width=max(120, Console().width)).print(table)
    if not found or not yes:
        echo(f"{len(found)} DAG(s) to prune" + ("; --yes deletes them" if found else ""))
        return
    destination, failed = _destination_of(config, output), []
    for stale in found:
        request = DeleteRequest(dag_id=stale.dag_id, destination=destination, owner_tags=(),
                                default_branch_tag=owner_tag(BRANCH_TAG, default_branch), force=force,
                                any_branch=True)
        try:
            delete_pipeline(client, request)
            echo(f"Deleted DAG {stale.dag_id!r}")
        except KafError as exc:
            failed.append(exc)
            echo(f"Not deleted: {exc}", err=True)
    if failed:
        raise type(failed[0])(f"{len(failed)} of {len(found)} DAG(s) not deleted (see above)")


def _existing_branches(project_path: Path, branches_file: Path | None, remote: str) -> set[str]:
    """The branches that exist: a file's lines, else the remote's heads (through the hardened git)."""
    import subprocess

    from .gitinfo.commit import git

    if branches_file is not None:
        return {line.strip() for line in branches_file.read_text().splitlines() if line.strip()}
    try:
        listed = git(project_path, "ls-remote", "--heads", remote, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError(f"cannot list the branches of the remote {remote!r} ({type(exc).__name__}): pass "
                          "--branches FILE with the branches that exist", key="--remote") from None
    return {ref.split("\t", 1)[1].removeprefix("refs/heads/") for ref in listed.splitlines() if "\t" in ref}


def _dag_of(opts: Options, branch: str | None):
    """The config, git facts and DAG id of this project, for ``branch`` when given (its run name)."""
    from .compiler.project import project_dag_id
    from .gitinfo.commit import read_git_info
    from .policy.model import policy_for
    from .policy.settings import narrow

    git = read_git_info(opts.project_path)
    if branch:
        git = dataclasses.replace(git, branch_name=branch)
    config = _load_config(opts, git_info=git)
    policy = policy_for()
    if policy is not None:
        config, _ = narrow(config, policy)
    return config, git, project_dag_id(config, opts.project_path)


def _destination_of(config, output: str | None) -> str:
    """-o, else the config's location (in CI: the deployment's, policy/settings.py)."""
    from .policy.model import policy_for
    from .policy.settings import destination

    chosen, notes = (output, []) if output else destination(config.output, policy_for())
    for note in notes:
        log.warning("%s", note)
    if not chosen:
        raise ConfigError("no DAG location: set output in airflow-k8s.yaml or pass -o/--output", key="output")
    return chosen


@airflow_k8s.command("up")
@click.option("--timeout", type=click.FloatRange(min=10), default=300, show_default=True,
              help="Seconds to wait for Airflow to answer.")
@click.pass_obj
@handle_errors
def up(opts: Options, timeout):
    """Start an Airflow 3 on this machine for this project; run-once then deploys there."""
    from .deliver.local_airflow import PASSWORDS_FILE, STATE_FOLDER, STATE_IGNORE, start
    from .guards.trust import in_ci
    from .scaffold import ignore_in_git

    if in_ci():
        raise ConfigError("up starts an Airflow on your own machine; in CI the deployment names the Airflow",
                          key="up")
    local = start(opts.project_path, timeout)
    ignore_in_git(opts.project_path, STATE_IGNORE, "the Airflow of `kedro airflow-k8s up` (its home, DAGs, logs)")
    echo(f"Airflow 3 is up at {local.url}: user {local.username}, password in "
         f"{opts.project_path / STATE_FOLDER / PASSWORDS_FILE}")
    echo("Until `kedro airflow-k8s down`, compile, run-once and the other commands deploy there (not to the "
         "config's host), with execution local: the nodes run in its worker, in this Python environment")


@airflow_k8s.command("down")
@click.pass_obj
@handle_errors
def down(opts: Options):
    """Stop the Airflow `up` started for this project (every process of it)."""
    from .deliver.local_airflow import stop

    echo("Stopped the Airflow of up" if stop(opts.project_path) else "No Airflow of up runs for this project")


@airflow_k8s.command("export-graph")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output).")
@click.pass_obj
@handle_errors
def export_graph(opts: Options, output):
    """Write the pipeline graph as JSON (run it where the project's dependencies are installed)."""
    from .deliver.fileio import atomic_write_text
    from .graph.extract import extract_graph

    graph = extract_graph(opts.project_path, opts.pipeline, opts.env)
    text = graph.to_json() + "\n"
    if output:
        atomic_write_text(output, text)
        echo(f"Wrote the graph of pipeline {opts.pipeline!r} ({len(graph.nodes)} nodes) to {output}",
                   err=True)
    else:
        click.echo(text, nl=False)  # the graph's JSON, for a file or a pipe: JSON escapes every control


@airflow_k8s.command()
@click.argument("host")
@click.option("--output", "dag_output", default="${output|dags}", show_default=True,
              help="Location Airflow reads DAGs from (folder, gs://, s3://).")
@click.option("--image", help="Image repository for the nodes (default: the package name); production's in CI.")
@click.option("--preview-image", help="The branches' image repository in CI, one production never pulls from "
                                      "(default: the preview environment's KAF_IMAGE; GitLab: "
                                      "$CI_REGISTRY_IMAGE/preview).")
@click.option("--with-github-actions", "github", is_flag=True,
              help="Also write .github/workflows: run-once on branch pushes, schedule on the default branch.")
@click.option("--with-gitlab-ci", "gitlab", is_flag=True, help="Also write the GitLab CI template (.gitlab/).")
@click.option("--cloud", type=click.Choice(["gcp", "aws", "none"]), default=None,
              help="Registry and bucket authentication of the GitHub workflows: OIDC to GCP or AWS, or secrets "
                   "(default: the cloud of --image and --output, else none).")
@click.option("--default-branch", help="Branch whose pushes schedule the DAG (default: the remote's HEAD, the only "
                                       "branch, git's init.defaultBranch, else main).")
@click.option("--topology", type=click.Choice(["isolated", "trusted-deployer"]), default="isolated",
              show_default=True, help="How branches deploy (README, \"Security model\"): from their own job to preview "
                                      "targets, or as data the default branch's workflow (GitHub) or a deployer "
                                      "project (GitLab) deploys.")
@click.option("--action-sha", callback=lambda ctx, param, value: _check_sha(value),
              help="Commit of this action's release the workflows pin (default: asked of GitHub).")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.pass_obj
@handle_errors
def init(opts: Options, host, dag_output, image, preview_image, github, gitlab, cloud, default_branch, topology,
         action_sha, force):
    """Initializes configuration for the plugin (and optionally CI workflows)."""
    from .config import check_host
    from .scaffold import (
        Targets,
        action_commit,
        cloud_of,
        default_branch_of,
        git_root,
        left_to_configure,
        plan_config,
        plan_project_image,
        plan_workflows,
        write_all,
    )

    try:
        host = check_host(host)
    except ValueError as exc:
        raise ConfigError(str(exc), key="host") from None
    if (github or gitlab) and default_branch is None:
        default_branch, why = default_branch_of(git_root(opts.project_path))
        echo(f"Default branch: {default_branch} ({why}; --default-branch changes it): its pushes deploy production")
    default_branch = default_branch or "main"
    if github and cloud is None:
        cloud, why = cloud_of(image, dag_output)
        echo(f"Cloud login in the workflows: {cloud} ({why}; --cloud changes it)")
    cloud = cloud or "none"
    project = project_identity(opts.project_path)
    config = plan_config(opts.project_path, opts.conf_source, opts.env, host=host, output=dag_output, image=image,
                         project=project)
    extra = plan_project_image(opts.project_path, project)
    if github and not action_sha:
        action_sha = action_commit()
        if not action_sha:
            echo("Warning: GitHub could not be asked for the commit of this action's release: the workflows "
                       f"name it by tag (v{__version__}); pin it with --action-sha", err=True)
    if github or gitlab:
        extra += plan_workflows(opts.project_path, github=github, gitlab=gitlab, env=opts.env,
                                pipeline=opts.pipeline, image=image, cloud=cloud, default_branch=default_branch,
                                project=project, action_sha=action_sha, preview_image=preview_image,
                                topology=topology)
    written, kept = write_all([config, *extra], force=force)
    for path in written:
        echo(f"Wrote {path}")
    for path in kept:
        echo(f"Kept {path} (it exists; --force replaces it)")
    _after_init(opts.project_path, written)
    steps = left_to_configure(github=github, gitlab=gitlab, cloud=cloud, image=image, preview_image=preview_image,
                              production=Targets(host, dag_output, image), topology=topology)
    if steps:
        echo("Left to configure before the first push:\n" + "\n".join(f"  - {step}" for step in steps))


def _after_init(project_path: Path, written: list[Path]) -> None:
    """What init's files leave to the project: Java for Spark in the image, compiled DAGs out of git."""
    from .scaffold import COMPILED_DAGS_IGNORE, ignore_compiled_dags, spark_evidence

    if project_path / "Dockerfile" in written and (spark := spark_evidence(project_path)):
        echo(f"Warning: this project runs Spark ({spark}), and the Dockerfile init wrote has no Java runtime, "
             "which Spark needs in the image: install one (Debian: apt-get install -y --no-install-recommends "
             "openjdk-17-jre-headless) or start FROM an image with Spark, unless run_config.spark runs the Spark "
             "nodes elsewhere (Dataproc)", err=True)
    if ignored := ignore_compiled_dags(project_path):
        echo(f"Added {COMPILED_DAGS_IGNORE} to {ignored}: compiled DAGs stay out of the repository")


def _check_cron_option(value: str | None) -> str | None:
    """The option is what is wrong, not the config file: said as click says it of any option."""
    from .config import check_cron

    if value is None:
        return None
    try:
        return check_cron(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _check_sha(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[0-9a-f]{40}", value):
        raise click.BadParameter(f"{value!r} is not a full commit SHA (40 hexadecimal characters)")
    return value


def _verbose_here(ctx: click.Context, param, value: bool) -> None:
    """`-v` after the command too (`compile -v`), as before it."""
    if value and isinstance(ctx.obj, Options):
        setup_logging(True)
        ctx.obj = dataclasses.replace(ctx.obj, verbose=True)


for _command in airflow_k8s.commands.values():
    _command.params.append(click.Option(["-v", "--verbose"], is_flag=True, expose_value=False,
                                        callback=_verbose_here, help="Show debug logs and tracebacks."))


@click.group(name="kedro-af-ci-plugin")
def kedro_commands():
    """Entry point group for kedro.project_commands."""


kedro_commands.add_command(airflow_k8s)


class _OutsideAProject(click.Group):
    """Kedro's global commands (entry point kedro.global_commands): `airflow-k8s` only where Kedro finds no
    project, to say where to run it; in a project the project command of the same name answers."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from kedro.utils import find_kedro_project

        return [] if find_kedro_project(Path.cwd()) else ["airflow-k8s"]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return _not_in_a_project if cmd_name in self.list_commands(ctx) else None


@click.command(name="airflow-k8s", context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                                     "help_option_names": []})
@click.pass_context
def _not_in_a_project(ctx: click.Context) -> None:
    """Says where `kedro airflow-k8s` runs."""
    args = " ".join(ctx.args) or "COMMAND"
    echo(f"Error: kedro airflow-k8s runs in a Kedro project, and {Path.cwd()} is not in one (no pyproject.toml "
         f"with [tool.kedro] here or above). cd into your project, or from anywhere: "
         f"kedro-af-ci --project-path PATH {args}", err=True)
    ctx.exit(2)


kedro_global_commands = _OutsideAProject(name="kedro-af-ci-global")


_VERIFYING = {"compile", "upload-pipeline", "run-once", "schedule"}


def main() -> None:
    if _VERIFYING & set(sys.argv[1:]) and "--no-verify" not in sys.argv:  # docs/architecture.md, "Verify"
        from .verify.preflight import PreflightWorker

        PreflightWorker.prestart()
    airflow_k8s.main(prog_name="kedro-af-ci")


if __name__ == "__main__":
    main()
