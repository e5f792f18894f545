"""up and down: an Airflow 3 on this machine for one's own project (deliver/local_airflow.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..errors import ConfigError

if TYPE_CHECKING:
    pass



from .common import Options, airflow_k8s, echo, handle_errors


@airflow_k8s.command("up")
@click.option("--timeout", type=click.FloatRange(min=10), default=300, show_default=True,
              help="Seconds to wait for Airflow to answer.")
@click.pass_obj
@handle_errors
def up(opts: Options, timeout: float) -> None:
    """Start an Airflow 3 on this machine for this project; run-once then deploys there."""
    from ..deliver.local_airflow import PASSWORDS_FILE, STATE_FOLDER, STATE_IGNORE, start
    from ..guards.trust import in_ci
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
def down(opts: Options) -> None:
    """Stop the Airflow `up` started for this project (every process of it)."""
    from ..deliver.local_airflow import stop

    echo("Stopped the Airflow of up" if stop(opts.project_path) else "No Airflow of up runs for this project")




