"""User-facing errors: each carries one clear line and the process exit code it maps to.

The CLI prints ``str(error)`` without a traceback (``--verbose`` shows it); the exit codes are
distinct so CI scripts and the container action can tell a config error from a failed run.
"""

from __future__ import annotations


class KafError(Exception):
    """Base of every error that is the user's to fix (bad input, failed run), not a bug."""

    exit_code = 1


class ConfigError(KafError):
    """Invalid plugin configuration; ``file`` and ``key`` point at the culprit."""

    exit_code = 3

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.file = file
        self.key = key
        self.message = message
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class GraphError(KafError):
    """The Kedro project or graph JSON cannot be turned into a pipeline graph."""

    exit_code = 4


class PreflightError(KafError):
    """The generated DAG does not load in Airflow."""

    exit_code = 5


class UploadError(KafError):
    """The DAG could not be written to (or verified at) its destination."""

    exit_code = 6


class AirflowApiError(KafError):
    """The Airflow REST API refused or failed a request."""

    exit_code = 7


class RunFailed(KafError):
    """The triggered DAG run ended in a state other than success, or timed out."""

    exit_code = 8


class BuildError(KafError):
    """Building, pushing or running the project image failed (docker said no)."""

    exit_code = 9
