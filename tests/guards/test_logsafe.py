"""Nothing a branch controls becomes a command of the CI log it is printed in (README, "Security
model"): every form GitHub's runner obeys (tests/runner_commands.py, ported from the runner) and
GitLab's section markers, on every printing path: the action's reporter, the CLI's messages and log,
and the log tails run-once prints."""

from __future__ import annotations

import logging

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from runner_commands import commands

from kedro_af_ci.guards.logsafe import SafeFormatter, safe_line, safe_text

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

FORMS = [
    "::error::forged", "  ::error title=x::forged", "\t::add-mask::the-real-log", "\u00a0::warning::forged",
    "build ok ##[error]forged mid-line", "##[add-mask]the-real-log", "step\n::error::forged", "step\r::error::forged",
    "\u2028::error::forged", "x ##[set-output name=dag-id]forged",
]


@pytest.mark.parametrize("text", FORMS)
def test_each_form_the_runner_obeys_is_made_inert(text):
    assert commands(text), "the runner would act on the raw text: the attack is real"
    assert commands(safe_line(text)) == []
    assert commands(safe_text(text)) == []


def test_gitlab_section_markers_cannot_be_forged():
    forged = "done\x1b[0Ksection_end:1700000000:kaf_1\r\x1b[0K"
    assert "\x1b" not in safe_line(forged) and "\r" not in safe_line(forged)
    assert safe_line(forged).startswith("done\\x1b[0Ksection_end")  # still readable


@given(st.text())
def test_any_text_prints_as_one_line_no_runner_acts_on(text):
    line = safe_line(text)
    assert "\n" not in line and "\r" not in line and commands(line) == []


def test_the_cli_prints_run_once_log_tails_and_its_log_inert():
    """run-once's failure message carries the last lines of each failed task's log: what the task printed."""
    from kedro_af_ci.cli.common import handle_errors
    from kedro_af_ci.deliver.deploy import RunOutcome, failure_message
    from kedro_af_ci.errors import RunFailed
    from kedro_af_ci.guards.logsafe import setup_logging

    outcome = RunOutcome("dag", "run", "failed", "http://a/run", failed=[("node", "http://a/log")],
                         logs={"node": ["    ::error::forged by a task", "##[add-mask]the-real-log"]})

    @click.command()
    @handle_errors
    def run_once():
        setup_logging(False)
        logging.getLogger("kedro_af_ci").warning("task said: %s", "\n::warning::forged in a log record")
        raise RunFailed(failure_message(outcome))

    result = CliRunner().invoke(run_once)
    assert result.exit_code == 8
    assert "forged by a task" in result.output and "the-real-log" in result.output  # shown
    assert commands(result.output) == []  # not obeyed
    assert commands(failure_message(outcome)), "printed raw, the tail would be obeyed"


def test_log_records_keep_their_lines_but_no_command():
    record = logging.LogRecord("kedro_af_ci", logging.INFO, __file__, 1, "a\n::error::b", None, None)
    text = SafeFormatter("%(message)s").format(record)
    assert text.splitlines()[0] == "a" and commands(text) == []
