"""Command line: ``kedro airflow-k8s …`` (Kedro plugin) and ``kedro-af-ci …`` (console script).

Thin on purpose: options are parsed here, the work happens in compiler/ and deliver/. One module per
group of commands, as Kedro's own CLI splits them: deploy (compile, upload-pipeline, schedule, run-once,
export-graph), dags (list-pipelines, ui, delete-pipeline, prune), local (up, down), init; common.py holds
what they share. User errors print one line and exit with the error's code; ``--verbose`` adds the
traceback.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from ..guards.logsafe import setup_logging
from . import dags, deploy, init, local  # noqa: F401 (each registers its commands on the group)
from .common import Options, airflow_k8s, echo

__all__ = ["airflow_k8s", "kedro_commands", "kedro_global_commands", "main"]


def _verbose_here(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """`-v` after the command too (`compile -v`), as before it."""
    if value and isinstance(ctx.obj, Options):
        setup_logging(True)
        ctx.obj = dataclasses.replace(ctx.obj, verbose=True)


for _command in airflow_k8s.commands.values():
    _command.params.append(click.Option(["-v", "--verbose"], is_flag=True, expose_value=False,
                                        callback=_verbose_here, help="Show debug logs and tracebacks."))


@click.group(name="kedro-af-ci-plugin")
def kedro_commands() -> None:
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
        from ..verify.preflight import PreflightWorker

        PreflightWorker.prestart()
    airflow_k8s.main(prog_name="kedro-af-ci")



