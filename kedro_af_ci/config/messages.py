"""Pydantic's validation errors as one line: the dotted key and what is expected there."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .tagged import Tagged, is_union, tagged_union

# loc parts pydantic adds for unions, Literal/None, dict keys and validator functions (the tag of a
# tagged union is dropped where the path goes through one: _walk)
_NOISE = ("str", "datetime", "none", "list[...]", "[key]")
# error kinds whose message gains the offending value
_SHOW_INPUT = ("literal_error", "enum", "int_", "bool_", "string_", "dict_", "list_", "model_", "greater", "less",
               "too_short")
_TAG_ERRORS = ("union_tag_invalid", "union_tag_not_found")


@dataclass(frozen=True)
class _Where:
    """Where an error is: the user's key path; the model holding its last key; the annotation of the
    value there; and the last tagged union on the way (the union's key path, the tag given, the union)."""

    loc: tuple
    holder: type[BaseModel] | None
    annotation: Any
    union: tuple[tuple, str, Tagged] | None

    def in_union(self) -> tuple[tuple, str, Tagged] | None:
        """The tagged union whose section holds the last key directly, if any."""
        return self.union if self.union is not None and len(self.union[0]) == len(self.loc) - 1 else None


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _model(annotation: Any) -> type[BaseModel] | None:
    """The model class in an annotation (``X | None``, a union of models: the first), if any."""
    annotation = _unwrap(annotation)
    if is_union(annotation):
        return next((found for arg in get_args(annotation) if (found := _model(arg)) is not None), None)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _step(annotation: Any, part: Any) -> Any:
    """The annotation of ``part`` (a field, a list index, a dict key) inside ``annotation``; None if unknown."""
    annotation = _unwrap(annotation)
    if is_union(annotation):
        return next((found for arg in get_args(annotation) if arg is not type(None)
                     if (found := _step(arg, part)) is not None), None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(part) if isinstance(part, str) else None
        return field.annotation if field is not None else None
    if get_origin(annotation) is list and isinstance(part, int):
        return get_args(annotation)[0]
    if get_origin(annotation) is dict:
        return get_args(annotation)[1]
    return None


def _walk(model: type[BaseModel], raw: tuple) -> _Where:
    """Follow pydantic's path of one error through the models, dropping its own parts and the tags."""
    loc: list = []
    current: Any = model
    holder: type[BaseModel] | None = None
    union = None
    for part in raw:
        if isinstance(part, str) and part.startswith("function-"):
            continue
        tagged = tagged_union(current)
        if tagged is not None and part in tagged.members:  # pydantic's path names the tag: spark.kubernetes.x
            union, current = (tuple(loc), part, tagged), tagged.members[part]
            continue
        if part in _NOISE:
            continue
        loc.append(part)
        holder, current = _model(current), _step(current, part)
    return _Where(tuple(loc), holder, current, union)


def _alternatives(names: list[str], word: str = "or") -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {word} {names[-1]}"


def _unknown_key(where: _Where) -> str:
    name = where.loc[-1]
    union = where.in_union()
    if union is not None and (elsewhere := union[2].tags_of(str(name))):
        section, tag, tagged = union  # a key of another type of this section
        kinds = f"{tagged.key}s {_alternatives(elsewhere, 'and')}" if len(elsewhere) > 1 else \
            f"{tagged.key} {elsewhere[0]}"
        return f"applies to {section[-1]} {kinds}, not {tag}"
    known = list(where.holder.model_fields) if where.holder is not None else []
    hint = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    if hint:
        return f"unknown key {name!r} (did you mean {hint[0]!r}?)"
    return f"unknown key {name!r}" + (f" (expected one of: {', '.join(sorted(known))})" if known else "")


def _needs(name: str, section: tuple, tag: str, tagged: Tagged) -> str:
    """Who needs a missing key of a tagged section: every type that has it (``spark needs artifacts_path
    (types dataproc and custom)``), or this type, with the other keys only it requires (``spark type
    dataproc needs region and project_id``)."""
    def required(member: str, key: str) -> bool:
        field = tagged.members[member].model_fields.get(key)
        return field is not None and field.is_required()

    having = tagged.tags_of(name)
    if all(required(other, name) for other in having):
        types = f"{tagged.key}s {_alternatives(having, 'and')}" if len(having) > 1 else f"{tagged.key} {tag}"
        return f"{section[-1]} needs {name} ({types})"
    own = [key for key in tagged.members[tag].model_fields if key != tagged.key and required(tag, key)
           and not all(required(other, key) for other in tagged.tags_of(key))]
    return f"{section[-1]} {tagged.key} {tag} needs {_alternatives(own, 'and')}"


def _tag_error(where: _Where, err: Mapping[str, Any]) -> tuple[tuple, str]:
    """A tagged union's tag missing or unknown: the key is the tag's (``spark.type``), the message lists
    the tags."""
    tagged = tagged_union(where.annotation)
    ctx = err.get("ctx") or {}
    key = tagged.key if tagged is not None else str(ctx.get("discriminator", "type")).strip("'")
    expected = _alternatives([repr(tag) for tag in tagged.members]) if tagged is not None else \
        str(ctx.get("expected_tags", ""))
    if err["type"] == "union_tag_not_found":
        return (*where.loc, key), f"required key is missing (expected {expected})"
    given = err["input"].get(key) if isinstance(err.get("input"), dict) else ctx.get("tag")
    return (*where.loc, key), f"Input should be {expected}, got {given!r}"


def _bad_value(err: Mapping[str, Any]) -> str:
    message = err["msg"].removeprefix("Value error, ")
    shown = err.get("input")
    if err["type"].startswith(_SHOW_INPUT) and not isinstance(shown, dict):
        message = f"{message}, got {shown!r}"
    return message


def _problem(model: type[BaseModel], err: Mapping[str, Any]) -> tuple[int, str, str]:
    """(rank, dotted key, message) of one error: a misspelled or misplaced key ranks first, as the
    "missing" key it causes is its echo."""
    where = _walk(model, tuple(err["loc"]))
    loc, rank = where.loc, 1
    if err["type"] in _TAG_ERRORS:
        loc, message = _tag_error(where, err)
        rank = 2 if err["type"] == "union_tag_not_found" else 1
    elif err["type"] == "extra_forbidden":
        message, rank = _unknown_key(where), 0
    elif err["type"] == "missing":
        message, rank = "required key is missing", 2
        if (union := where.in_union()) is not None:
            message += f": {_needs(str(loc[-1]), *union)}"
    else:
        message = _bad_value(err)
    return rank, ".".join(str(p) for p in loc), message


def format_error(model: type[BaseModel], err: Mapping[str, Any]) -> tuple[str, str]:
    """(dotted key, message) of one pydantic error of validating ``model``."""
    return _problem(model, err)[1:]


def summarize(model: type[BaseModel], exc: ValidationError) -> tuple[str, str]:
    """(dotted key, message) of the first problem, the message naming every other one too."""
    problems = sorted((_problem(model, err) for err in exc.errors()), key=lambda problem: problem[0])
    _, key, message = problems[0]
    if len(problems) > 1:
        rest = "; ".join(f"{k}: {m}" for _, k, m in problems[1:])
        message += f" (and {len(problems) - 1} more: {rest})"
    return key, message
