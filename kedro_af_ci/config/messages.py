"""Pydantic's validation errors as one line: the dotted key and what is expected there."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

# loc parts pydantic adds for unions, Literal/None, dict keys and validator functions
_NOISE = ("slack", "str", "datetime", "none", "list[...]", "[key]")
# error kinds whose message gains the offending value
_SHOW_INPUT = ("literal_error", "enum", "int_", "bool_", "string_", "dict_", "list_", "model_", "greater", "less",
               "too_short", "union_tag")


def _model_of(annotation: Any) -> Any:
    """The model class in an annotation (``X | None``, ``list[X]``, ``dict[str, X]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def known_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Known keys at the location of an unknown key, for "did you mean"."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if isinstance(part, int) or (fields and part not in fields):
            continue  # a list index, or a dict key (e.g. resources.<name>): the value model is the next
        if not fields:
            return []
        current = _model_of(fields[part].annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}) or [])


def error_loc(err: Mapping[str, Any]) -> tuple:
    """The user's key path of one error, without pydantic's own parts."""
    return tuple(part for part in err["loc"]
                 if not (isinstance(part, str) and part.startswith("function-")) and part not in _NOISE)


def _unknown_key(model: type[BaseModel], loc: tuple) -> str:
    known = known_keys(model, loc)
    hint = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    if hint:
        return f"unknown key {loc[-1]!r} (did you mean {hint[0]!r}?)"
    return f"unknown key {loc[-1]!r}" + (f" (expected one of: {', '.join(sorted(known))})" if known else "")


def _bad_value(err: Mapping[str, Any]) -> str:
    message = err["msg"].removeprefix("Value error, ")
    shown = err.get("input")
    if err["type"].startswith(_SHOW_INPUT) and not isinstance(shown, dict):
        message = f"{message}, got {shown!r}"
    return message


def format_error(model: type[BaseModel], err: Mapping[str, Any]) -> tuple[str, str]:
    """(dotted key, message) of one pydantic error of validating ``model``."""
    loc = error_loc(err)
    if err["type"] == "extra_forbidden":
        message = _unknown_key(model, loc)
    elif err["type"] == "missing":
        message = "required key is missing"
    else:
        message = _bad_value(err)
    return ".".join(str(p) for p in loc), message


def _rank(problem: tuple[str, str]) -> int:
    """A misspelled key first: the "missing" key it causes is its echo."""
    message = problem[1]
    return 0 if message.startswith("unknown key") else 2 if message.endswith("missing") else 1


def summarize(model: type[BaseModel], exc: ValidationError) -> tuple[str, str]:
    """(dotted key, message) of the first problem, the message naming every other one too."""
    problems = sorted((format_error(model, err) for err in exc.errors()), key=_rank)
    key, message = problems[0]
    if len(problems) > 1:
        rest = "; ".join(f"{k}: {m}" for k, m in problems[1:])
        message += f" (and {len(problems) - 1} more: {rest})"
    return key, message
