"""What every command shares: the options, the group, the error handling, the config and the Airflow client
as a command sees them (docs/architecture.md, "Layout")."""

from __future__ import annotations

import dataclasses
import functools
import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from .. import __version__
from ..errors import ConfigError, KafError
from ..guards.logsafe import safe_text, setup_logging
from ..vocabulary.modes import GROUPINGS

log = logging.getLogger("kedro_af_ci")
P = ParamSpec("P")
R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class Options:
    env: str | None
    pipeline: str
    project_path: Path
    conf_source: str
    graph_file: Path | None
    verbose: bool
    grouping: str | None = None
    local: dict | None = None  # config overrides while `up`'s Airflow runs (outside CI): see local_target


# `up`'s Airflow by URL: its own login, used for it instead of the credentials the environment holds for
# another Airflow (which never go there)
_UP_LOGINS: dict[str, dict[str, str]] = {}


def local_target(project_path: Path) -> dict | None:
    """Outside CI, while the Airflow `up` started for this project runs, commands deploy there: its host and
    DAGs folder, the nodes run in its worker (`execution: local`), its login unless one is set; said on every
    command. In CI never: where a DAG goes is the deployment's (docs/architecture.md, "Trust")."""
    from ..deliver.local_airflow import running
    from ..guards.trust import in_ci

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


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn KafError into one line on stderr and its exit code; tracebacks only with --verbose."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
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
        raise AssertionError("ctx.exit raises")  # pragma: no cover

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
    local = local_target(project_path) if command not in (None, "init", "up", "down", "export-graph") else None
    ctx.obj = Options(env=env, pipeline=pipeline, project_path=project_path, conf_source=conf_source,
                      graph_file=graph_file, verbose=verbose, grouping=grouping, local=local)


def compile_request(opts: Options, **kwargs):
    from ..compiler.pipeline import CompileRequest
    from ..policy.model import policy_for

    if opts.local:
        kwargs["overrides"] = _deep_merged(opts.local, kwargs.get("overrides") or {})
    return CompileRequest(project_path=opts.project_path, env=opts.env, pipeline=opts.pipeline,
                          conf_source=opts.conf_source, graph_file=opts.graph_file, grouping=opts.grouping,
                          policy=policy_for(), **kwargs)


def _deep_merged(base: dict, over: dict) -> dict:
    return {**base, **{k: _deep_merged(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
                       for k, v in over.items()}}


def load_project_config(opts: Options, **kwargs):
    """The project's config as the command sees it (with `up`'s target while it runs)."""
    from ..config import load_config

    return load_config(opts.project_path, opts.env, conf_source=opts.conf_source, overrides=opts.local, **kwargs)


def report_warnings(warnings) -> None:
    for warning in warnings:
        log.warning("%s", warning)




def airflow_options(func):
    func = click.option("--host", help="Airflow base URL (default: host from the config).")(func)
    func = click.option("--insecure", is_flag=True,
                        help="Do not verify the server's TLS certificate (AIRFLOW_CA_BUNDLE sets a CA file), and "
                             "allow the credentials over plain http to a host other than this machine.")(func)
    return func


def airflow_client_for(option: str | None, config_host: str | None, insecure: bool, **options):
    """The host of --host, else the config's. In CI the config is a branch's, so the credentials go only
    to a host the job names: --host or AIRFLOW_HOST (docs/architecture.md, "Trust")."""
    import os

    from ..guards.trust import in_ci

    host = option or config_host
    if in_ci():
        host = option or os.environ.get("AIRFLOW_HOST", "").strip() or None
        if not host and config_host:
            raise ConfigError("in CI the Airflow credentials go only to a host the job names, never to the one in "
                              "airflow-k8s.yaml (a branch's to change): pass --host or set AIRFLOW_HOST from a "
                              "protected variable", key="host")
    if not host:
        raise ConfigError("no Airflow host: set host in airflow-k8s.yaml or pass --host", key="host")
    from ..deliver.client import airflow_client

    if host in _UP_LOGINS:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_")} | _UP_LOGINS[host]
        return airflow_client(host, insecure, environ=environ, **options)
    return airflow_client(host, insecure, **options)




def default_branch_option(func):
    import os

    return click.option("--default-branch", default=lambda: os.environ.get("CI_DEFAULT_BRANCH") or "main",
                        show_default="$CI_DEFAULT_BRANCH, else main",
                        help="The branch whose DAG is the scheduled one: never deleted without --force.")(func)




def dag_of(opts: Options, branch: str | None):
    """The config, git facts and DAG id of this project, for ``branch`` when given (its run name)."""
    from ..compiler.project import project_dag_id
    from ..gitinfo.commit import read_git_info
    from ..policy.model import policy_for
    from ..policy.settings import narrow

    git = read_git_info(opts.project_path)
    if branch:
        git = dataclasses.replace(git, branch_name=branch)
    config = load_project_config(opts, git_info=git)
    policy = policy_for()
    if policy is not None:
        config, _ = narrow(config, policy)
    return config, git, project_dag_id(config, opts.project_path)


def destination_of(config, output: str | None) -> str:
    """-o, else the config's location (in CI: the deployment's, policy/settings.py)."""
    from ..policy.model import policy_for
    from ..policy.settings import destination

    chosen, notes = (output, []) if output else destination(config.output, policy_for())
    for note in notes:
        log.warning("%s", note)
    if not chosen:
        raise ConfigError("no DAG location: set output in airflow-k8s.yaml or pass -o/--output", key="output")
    return chosen




