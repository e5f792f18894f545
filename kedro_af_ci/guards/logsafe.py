"""What the tool prints, made inert for the CI logs that read it (README, "Security model").

A value printed by this tool may come from a branch (a branch name, a node name, what a task logged):
it must never act on the log it lands in. CI runners act on three things in a line of output:

- GitHub's workflow commands ``::name::`` at the start of a line, after any leading whitespace
  (the runner's ``ActionCommand.TryParseV2`` trims the line first);
- GitHub's older form ``##[name]`` *anywhere* in a line (``ActionCommand.TryParse`` searches for it);
- control sequences: line breaks start a new line (where the two forms above apply again), and
  escape sequences drive the terminal and GitLab's collapsible sections (``\\x1b[0Ksection_start:``).

:func:`safe_line` writes each of them out as visible escapes, so the text still reads the same and
nothing in it is obeyed. Every path that prints goes through it: the action's reporter, the CLI's
messages and its log handler (docs/architecture.md, "Trust").
"""

from __future__ import annotations

import logging
import re
import sys

# C0 controls but tab, DEL, C1 controls, and the line and paragraph separators some readers split on
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_LEADING_COMMAND = re.compile(r"^(\s*):")  # the first ':' of a leading '::' (any leading whitespace)
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def safe_line(text: str) -> str:
    """``text`` as one printable line that no CI reads as a command."""
    line = _CONTROL.sub(_escape, str(text)).replace("##[", "#\\x23[")
    if line.lstrip().startswith("::"):
        line = _LEADING_COMMAND.sub(r"\1\\x3a", line, count=1)
    return line


def safe_text(text: str) -> str:
    """A message of several lines (a failure with its log tail): each line made safe on its own."""
    return "\n".join(safe_line(line) for line in str(text).split("\n"))


class SafeFormatter(logging.Formatter):
    """Log records printed as :func:`safe_text`: a record's own line breaks stay, nothing else acts."""

    def format(self, record: logging.LogRecord) -> str:
        return safe_text(super().format(record))


def setup_logging(debug: bool, formatter: type[logging.Formatter] = SafeFormatter) -> None:
    """The package's log on stderr, one handler, shared by the CLI and the container action."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("kedro_af_ci")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
