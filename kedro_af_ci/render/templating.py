"""The package's one Jinja environment factory, and the encoders every generated file goes through.

Values never reach generated text raw: ``py`` writes a Python literal (``repr``), ``tpl`` does the
same for values that land in Airflow's templated operator fields, wrapping any string that Airflow's
Jinja would change (braces, newlines, template-file suffixes) in ``literal()``, ``sh`` quotes for a
shell and ``identifier`` lets through only Python names. Callers add the filters of their own format
(YAML, Markdown cells).
"""

from __future__ import annotations

import contextlib
import keyword
import os
import re
import shlex
import stat
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import jinja2

from .. import __version__
from ..guards.trust import in_ci
from ..vocabulary.airflow_template import AirflowTemplate

# What Airflow does to a string in a templated field depends on only two things: Jinja, which needs a
# '{', and the operator's template_ext, file suffixes (".sh", ".yaml", ... each begins with a dot) that
# make Airflow load the string as a template file. A string with neither, and no line break (Jinja
# drops a final one), is inert under every operator of every provider; every other string is wrapped
# in literal(). No list of suffixes to keep up with the providers (docs/architecture.md, "Trust").
_INERT = re.compile(r"[^{.\r\n]*")
# GitHub's ${{ }} and GitLab's $[[ ]] must stay text in CI files: their templates use << >> and <% %>
_CI_DELIMITERS: dict[str, Any] = {
    "variable_start_string": "<<", "variable_end_string": ">>", "block_start_string": "<%",
    "block_end_string": "%>", "comment_start_string": "<#", "comment_end_string": "#>"}
Filters = tuple[tuple[str, Callable[..., str]], ...]


class Raw(str):
    """Source text that the encoders pass through unchanged (already-encoded expressions)."""


def py(value: Any, quote: str = "'") -> str:
    """Python literal for ``value`` (str, numbers, bools, None, datetimes, lists, tuples, dicts);
    ``quote='"'`` matches the hand-written code around a string the template names itself."""
    if isinstance(value, str):  # first: most values are, 40000 of them in a DAG of 5000 nodes
        if isinstance(value, Raw):
            return str.__str__(value)
        # the str's own repr: a subclass may redefine __repr__
        return str.__repr__(value) if quote == "'" else _double_quoted(value)
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, datetime):
        return _datetime_literal(value)
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        return f"datetime.timedelta(seconds={int(seconds) if seconds.is_integer() else seconds!r})"
    return _collection_literal(value, quote)


def _double_quoted(text: str) -> str:
    """In double quotes when the text holds no quote at all (so nothing inside needs escaping)."""
    literal = str.__repr__(text)
    return '"' + literal[1:-1] + '"' if literal.startswith("'") and '"' not in text else literal


def _datetime_literal(value: datetime) -> str:
    if value.utcoffset():
        raise ValueError("only UTC datetimes are rendered")
    return (f"datetime.datetime({value.year}, {value.month}, {value.day}, {value.hour}, {value.minute}, "
            f"{value.second}, tzinfo=datetime.timezone.utc)")


def _collection_literal(value: Any, quote: str = "'") -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py(k, quote)}: {py(v, quote)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        inner = ", ".join(py(v, quote) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(py(v, quote) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as a Python literal")


def needs_literal(text: str) -> bool:
    return not _INERT.fullmatch(text)


def tpl(value: Any) -> str:
    """Like :func:`py`, for values of templated fields: Jinja-active strings become ``literal()``."""
    if isinstance(value, AirflowTemplate):  # our own Jinja for Airflow to render (e.g. the run id)
        return py(str(value))
    if isinstance(value, str) and not isinstance(value, Raw):
        return f"literal({py(value)})" if needs_literal(value) else py(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py(k)}: {tpl(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return py(type(value)(Raw(tpl(v)) for v in value))
    return py(value)


def identifier(name: str) -> str:
    """A (dotted) Python name written as code, e.g. an operator class to import: refused unless it
    is one, so a configured class path cannot carry code into the DAG."""
    parts = str(name).split(".")
    if not all(part.isidentifier() and not keyword.iskeyword(part) for part in parts):
        raise ValueError(f"{name!r} is not a Python name")
    return str.__str__(name)


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between runs (template compilation is a fifth of a compile at 1000
    nodes); a cache that cannot be read or written is simply not used. Environments that compile
    the same file differently (delimiters, whitespace) get different keys."""

    def __init__(self, directory: str, flavour: str):
        super().__init__(directory)
        self.flavour = flavour

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        return super().get_cache_key(name if not self.flavour else f"{self.flavour}:{name}", filename)

    def load_bytecode(self, bucket):
        with contextlib.suppress(OSError, ValueError, EOFError):
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket):
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def bytecode_cache(flavour: str = "") -> jinja2.BytecodeCache | None:
    """Jinja unpickles what it finds in the cache, so only a folder this user owns and nobody else
    may write is used; anything else (a shared or planted folder) means no cache. In CI there is
    none: the steps before this one ran a branch's code as the same user, in the same home, so
    owning the folder proves nothing (docs/architecture.md, "Trust")."""
    if in_ci():
        return None
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(root, "kedro-af-ci", __version__)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.stat(folder, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        return None
    return _BytecodeCache(folder, flavour)


@cache
def environment(folder: str = "templates", *, trim: bool = True, ci_syntax: bool = False,
                filters: Filters = ()) -> jinja2.Environment:
    """The environment for the templates of ``kedro_af_ci/<folder>``: undefined names fail, trailing
    newlines stay, and only the encoders above (plus ``filters``) write values. ``trim``: block tags
    leave no blank lines; ``ci_syntax``: << >> / <% %> delimiters. One per set of arguments."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("kedro_af_ci", folder),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - writes code and YAML, never HTML: every value goes through an encoder
        keep_trailing_newline=True,
        trim_blocks=trim,
        lstrip_blocks=trim,
        bytecode_cache=bytecode_cache("" if trim and not ci_syntax else f"trim={trim},ci={ci_syntax}"),
        **(_CI_DELIMITERS if ci_syntax else {}),
    )
    env.filters.update(py=py, tpl=tpl, sh=shlex.quote, identifier=identifier, **dict(filters))
    return env
