"""The container action: git → image → graph → compile + pre-flight → upload → run-once → report.

Runs the same functions as the CLI (compile_dag, upload_dag, deploy_and_run); what it adds is the
image build, extracting the graph inside that image, and reporting to the CI it runs on. The steps
are in action/steps/; this module runs them and reports the outcome, whatever it is. Exit codes
are the CLI's (config 3, graph 4, pre-flight 5, upload 6, Airflow API 7, run 8) plus 9 for docker
build/push failures.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path

from ..errors import ConfigError, KafError
from ..guards.logsafe import safe_line
from .ci import Reporter, detect
from .steps import DELETE_STEPS, STEPS, Step, read_inputs, workspace_of
from .summary import SummaryData, render_summary


class OneLineFormatter(logging.Formatter):
    """Log records whose values cannot begin a line (a line beginning with :: is a workflow command)."""

    def format(self, record: logging.LogRecord) -> str:
        return safe_line(super().format(record))


class ActionRun:
    """One run of the action: the steps, then the job summary and outputs, on success or failure."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = dict(environ)
        self.reporter: Reporter = detect(self.environ, _raw_dotenv(self.environ))
        self.summary = SummaryData(ok=False)

    def run(self) -> int:
        try:
            run_steps(self.environ, self.reporter, self.summary)
            self.summary.ok = True
            return 0
        except KafError as exc:
            self._report_error(exc)
            return exc.exit_code
        except KeyboardInterrupt:
            return 130
        except Exception as exc:  # a bug: say so, with the traceback in the log (never in the summary)
            traceback.print_exc()
            self.summary.error, self.summary.exit_code = f"internal error: {type(exc).__name__}: {exc}", 1
            self.reporter.error(f"internal error: {type(exc).__name__}: {exc}", title="kedro-airflow-k8s")
            return 1
        finally:
            self.reporter.summary(render_summary(self.summary))
            self.reporter.finish()

    def _report_error(self, exc: KafError) -> None:
        """An annotation at the config file and line of the bad key when there is one."""
        self.summary.error, self.summary.exit_code = str(exc), exc.exit_code
        file = getattr(exc, "file", None)
        if not (isinstance(exc, ConfigError) and file and not file.startswith("input ")):
            self.reporter.error(str(exc), title=f"kedro-airflow-k8s: {type(exc).__name__}")
            return
        file, line = _line_of(file, exc.key)
        workspace = workspace_of(self.environ)
        if Path(file).is_absolute() and Path(file).is_relative_to(workspace):
            file = str(Path(file).relative_to(workspace))
        title = f"kedro-airflow-k8s: {exc.key}" if exc.key else "kedro-airflow-k8s config"
        self.reporter.error(f"{exc.key + ': ' if exc.key else ''}{exc.message}", file=file, line=line, title=title)


def _line_of(file: str, key: str | None) -> tuple[str, int | None]:
    """``file`` may be ``path:line:col`` (YAML syntax errors); otherwise find ``key``'s line."""
    parts = file.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return parts[0], int(parts[1])
    if not key:
        return file, None
    try:
        return file, _key_line(Path(file).read_text(encoding="utf-8"), key)
    except Exception:  # the annotation still names the file
        return file, None


def _key_line(text: str, key: str) -> int | None:
    """The line of the deepest part of the dotted ``key`` that the YAML ``text`` holds."""
    import yaml

    node, line = yaml.compose(text), None
    for part in key.split("."):
        found = _child(node, part)
        if found is None:
            break
        line, node = found
    return line


def _child(node, part: str):
    """(line, node) of a mapping's key or a sequence's index ``part``, or None."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        return next(((k.start_mark.line + 1, v) for k, v in node.value if getattr(k, "value", None) == part), None)
    if isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
        item = node.value[int(part)]
        return item.start_mark.line + 1, item
    return None


def run_steps(environ: Mapping[str, str], reporter: Reporter, summary: SummaryData) -> None:
    """Every step in flow order (the delete steps with delete: true, a trusted deployer's with package or
    deploy-package); the first failure stops the run (the caller reports it)."""
    ctx = read_inputs(environ, reporter, summary)
    inputs = ctx.inputs
    if inputs.gitlab_packages_from:  # a deployer project's schedule: each new package, through the steps below
        from .gitlab_deployer import deploy_new_packages

        _steps_for(inputs.delete, inputs.package, bool(inputs.deploy_package), gitlab=True)
        deploy_new_packages(ctx, run_steps)
        return
    if inputs.verify and not (inputs.delete or inputs.package):  # docs/architecture.md, "Verify": Airflow imports
        from ..verify.preflight import PreflightWorker

        PreflightWorker.prestart()
    for step in _steps_for(inputs.delete, inputs.package, bool(inputs.deploy_package)):
        step(ctx)


def _steps_for(delete: bool, package: bool, deploy_package: bool, gitlab: bool = False) -> tuple[Step, ...]:
    from .deployer import DEPLOY_STEPS, PACKAGE_STEPS

    if sum((delete, package, deploy_package, gitlab)) > 1:
        raise ConfigError("delete, package, deploy-package and gitlab-packages-from are different runs: set one",
                          key="input delete")
    return DELETE_STEPS if delete else PACKAGE_STEPS if package else DEPLOY_STEPS if deploy_package else STEPS


def _raw_dotenv(environ: Mapping[str, str]) -> str:
    """The reporter exists before the inputs are parsed (their errors are reported through it)."""
    return (environ.get("INPUT_DOTENV") or "").strip()


def main() -> None:
    from ..guards.logsafe import setup_logging

    setup_logging(os.environ.get("RUNNER_DEBUG") == "1", OneLineFormatter)
    sys.exit(ActionRun(os.environ).run())


if __name__ == "__main__":
    main()
