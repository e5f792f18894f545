"""How CI runners read a line of a job's log, ported from their code, for tests of what the tool prints.

GitHub's runner (actions/runner, src/Runner.Common/ActionCommand.cs): ``TryParseV2`` trims the line's
leading whitespace and takes a line starting with ``::`` as a command; ``TryParse``, the older form,
finds ``##[`` *anywhere* in the line and takes ``##[name ...]data`` as the command ``name`` when it is
registered. A job's output is split into lines at ``\\r`` and ``\\n``.
"""

from __future__ import annotations

REGISTERED = {"add-mask", "add-matcher", "remove-matcher", "add-path", "debug", "error", "warning", "notice",
              "group", "endgroup", "echo", "set-output", "set-env", "save-state", "stop-commands"}


def github_command(line: str) -> str | None:
    """The command GitHub would act on in ``line`` (normalised to the ``::name...`` form), or None."""
    stripped = line.lstrip()
    if stripped.startswith("::") and stripped.find("::", 2) > 2:
        return stripped
    start = line.find("##[")
    if start >= 0:
        end = line.find("]", start)
        if end > 0:
            name = line[start + 3:end].split(" ", 1)[0]
            if name in REGISTERED:
                return f"::{name}::{line[end + 1:]}"
    return None


def commands(text: str) -> list[str]:
    """Every command a runner would act on in ``text`` (no stop-commands handling)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [command for line in lines if (command := github_command(line))]
