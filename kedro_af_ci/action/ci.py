"""Where the action reports: GitHub Actions, GitLab CI, or a plain terminal.

Each CI has its own channels for step outputs, a job summary, error annotations, log sections and
secret masking; the action talks to one :class:`Reporter` and never checks which CI it is on.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..deliver.fileio import atomic_write_text
from ..guards.logsafe import safe_line, safe_text


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


class Reporter:
    """Plain terminal: outputs are printed at the end, nothing is masked (nothing secret is printed)."""

    name = "local"

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.outputs: dict[str, str] = {}

    def mask(self, secret: str) -> None:
        """Ask the CI to hide a value in its logs (the value is never printed by this tool)."""

    def set_output(self, name: str, value: str) -> None:
        self.outputs[name] = value

    def line(self, text: str) -> None:
        """One line of this tool's own log, whatever the values in it hold."""
        print(safe_line(text), flush=True)

    @contextlib.contextmanager
    def untrusted(self) -> Iterator[None]:
        """Output of other programs (docker build runs the branch's Dockerfile) goes to the log as is;
        on GitHub, nothing in it is taken as a workflow command."""
        yield

    @contextlib.contextmanager
    def section(self, title: str) -> Iterator[None]:
        print(f"==> {safe_line(title)}", flush=True)
        yield

    def error(self, message: str, *, file: str | None = None, line: int | None = None,
              title: str | None = None) -> None:
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        print(safe_text(f"Error: {where}{message}"), file=sys.stderr, flush=True)

    def warning(self, message: str) -> None:
        print(safe_text(f"Warning: {message}"), file=sys.stderr, flush=True)

    def summary(self, markdown: str) -> None:
        """Write the job summary (nothing to do in a terminal: the log already says it all)."""

    def finish(self) -> None:
        if self.outputs:
            width = max(len(k) for k in self.outputs)
            for key, value in self.outputs.items():
                print(safe_line(f"{key.ljust(width)}  {value}"))


class GitHubReporter(Reporter):
    """Workflow commands on stdout; outputs and summary in the files GitHub names."""

    name = "github"

    def mask(self, secret: str) -> None:
        for line in secret.splitlines() or [secret]:
            if line.strip():
                print(f"::add-mask::{_escape_data(line)}", flush=True)

    def set_output(self, name: str, value: str) -> None:
        super().set_output(name, value)
        path = self.environ.get("GITHUB_OUTPUT")
        if not path:
            print(safe_line(f"{name}={value}"))
            return
        delimiter = f"kaf_{secrets.token_hex(8)}"  # cannot occur in the value, whatever the value is
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    @contextlib.contextmanager
    def untrusted(self) -> Iterator[None]:
        token = secrets.token_hex(16)  # unguessable: the output cannot resume command processing
        print(f"::stop-commands::{token}", flush=True)
        try:
            yield
        finally:
            print(f"::{token}::", flush=True)

    @contextlib.contextmanager
    def section(self, title: str) -> Iterator[None]:
        print(f"::group::{_escape_data(title)}", flush=True)
        try:
            yield
        finally:
            print("::endgroup::", flush=True)

    def error(self, message: str, *, file: str | None = None, line: int | None = None,
              title: str | None = None) -> None:
        props = []
        if file:
            props.append(f"file={_escape_property(file)}")
            if line:
                props.append(f"line={line}")
        if title:
            props.append(f"title={_escape_property(title)}")
        print(f"::error {','.join(props)}::{_escape_data(message)}".replace("::error ::", "::error::"), flush=True)

    def warning(self, message: str) -> None:
        print(f"::warning::{_escape_data(message)}", flush=True)

    def summary(self, markdown: str) -> None:
        path = self.environ.get("GITHUB_STEP_SUMMARY")
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(markdown)

    def finish(self) -> None:
        """Outputs are already in $GITHUB_OUTPUT."""


class GitLabReporter(Reporter):
    """Collapsible log sections, and a dotenv report (``artifacts: reports: dotenv``) for outputs."""

    name = "gitlab"

    def __init__(self, environ: Mapping[str, str], dotenv: str = ""):
        super().__init__(environ)
        root = Path(environ.get("CI_PROJECT_DIR") or ".")
        self.dotenv = root / (dotenv or "kedro-airflow-k8s.env")  # an absolute dotenv replaces root
        self.summary_path = root / "kedro-airflow-k8s-summary.md"
        self._n = 0

    @contextlib.contextmanager
    def section(self, title: str) -> Iterator[None]:
        self._n += 1
        name = f"kaf_{self._n}"
        print(f"\x1b[0Ksection_start:{int(time.time())}:{name}[collapsed=false]\r\x1b[0K{safe_line(title)}",
              flush=True)
        try:
            yield
        finally:
            print(f"\x1b[0Ksection_end:{int(time.time())}:{name}\r\x1b[0K", flush=True)

    @staticmethod
    def dotenv_key(name: str) -> str:
        return "KAF_" + name.upper().replace("-", "_")

    def finish(self) -> None:
        # dotenv reports take one line per variable: values are single-line by construction
        lines = [f"{self.dotenv_key(k)}={' '.join(v.split())}" for k, v in self.outputs.items()]
        atomic_write_text(self.dotenv, "\n".join(lines) + "\n")
        super().finish()

    def summary(self, markdown: str) -> None:
        atomic_write_text(self.summary_path, markdown)


def detect(environ: Mapping[str, str], dotenv: str = "") -> Reporter:
    if environ.get("GITHUB_ACTIONS") == "true":
        return GitHubReporter(environ)
    # GitLab sets GITLAB_CI=true; gitlab-ci-local sets it to "false" but, like GitLab, names the job and its folder
    if environ.get("GITLAB_CI") == "true" or (environ.get("CI_JOB_ID") and environ.get("CI_PROJECT_DIR")):
        return GitLabReporter(environ, dotenv)
    return Reporter(environ)
