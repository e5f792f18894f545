"""A key reference, generated from a model: every key (dotted, nested sections included) with its type,
default and description, as a Markdown table between marker comments. policy/reference.py writes the
config's and the deployment's into the documents (``make docs``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .run import PluginConfig
from .tagged import Tagged, is_union, tagged_union

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"
_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", datetime: "date",
          timedelta: "duration (seconds or ISO 8601)", Any: "any"}


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    description: str


def _unwrap(annotation: Any) -> Any:
    """The type inside ``Annotated[...]``."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _alternatives(names: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _choices(values: list[Any]) -> str:
    return _alternatives([f"`{value}`" for value in values])


def type_name(annotation: Any) -> str:
    """A reader's name for a field type: ``list of string``, ```a` or `b```, ``mapping``…"""
    annotation = _unwrap(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if is_union(annotation):
        return _alternatives(list(dict.fromkeys(type_name(arg) for arg in args if arg is not type(None))))
    if origin is Literal:
        return _choices(list(args))
    if origin is list:
        return f"list of {type_name(args[0])}"
    if origin is dict:
        return f"mapping of {type_name(args[0])} to {type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _choices([member.value for member in annotation])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return _NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _nested(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The section model a field holds and the key part between the field and its keys
    (``[]`` for a list item, ``.<name>`` for a mapping value)."""
    annotation = _unwrap(annotation)
    if is_union(annotation):
        models = [found for arg in get_args(annotation) if (found := _nested(arg))[0] is not None]
        return models[0] if models else (None, "")
    if get_origin(annotation) in (list, dict):
        model, suffix = _nested(get_args(annotation)[-1])
        return model, ("[]" if get_origin(annotation) is list else ".<name>") + suffix
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    return None, ""


def _literal(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str) and value and value.isprintable() and value.strip() == value:
        return value
    if isinstance(value, (list, dict)):
        plain = json.loads(json.dumps(value, default=lambda item: item.value))  # enums as their values
        return yaml.safe_dump(plain, default_flow_style=True, width=1 << 16).strip()
    return json.dumps(value, ensure_ascii=False)


def default_text(field: FieldInfo) -> str:
    """The default as YAML would spell it; empty for a section (its keys have theirs)."""
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return ""
    return f"`{_literal(value)}`"


def rows(model: type[BaseModel] = PluginConfig, prefix: str = "") -> list[Row]:
    """Every key of ``model``, depth first, in the models' field order."""
    found = []
    for name, field in model.model_fields.items():
        key = prefix + name
        found.append(Row(key, type_name(field.annotation), default_text(field), field.description or ""))
        tagged = tagged_union(field.annotation)
        if tagged is not None and len(tagged.members) > 1:
            found += tagged_rows(tagged, f"{key}.")
            continue
        child, suffix = _nested(field.annotation)
        if child is not None:
            found += rows(child, f"{key}{suffix}.")
    return found


def tagged_rows(tagged: Tagged, prefix: str) -> list[Row]:
    """The keys of a section whose models differ by a key (``type``): each key once, in the order the
    models have them, saying the types it applies to and those that require it."""
    tags = list(tagged.members)
    names = list(dict.fromkeys(name for model in tagged.members.values() for name in model.model_fields))
    found = []
    for name in names:
        having = tagged.tags_of(name)
        fields = [tagged.members[tag].model_fields[name] for tag in having]
        if name == tagged.key:
            found.append(Row(prefix + name, _choices(tags), "required", fields[0].description or ""))
            continue
        required = [tag for tag, field in zip(having, fields, strict=True) if field.is_required()]
        optional = next((field for field in fields if not field.is_required()), None)
        if optional is None:
            default = "required"
        else:
            default = default_text(optional)
            if required:
                default = f"required by {_choices(required)}, else {default}"
        applies = "" if len(having) == len(tags) else f"(type {_alternatives(having)}) "
        found.append(Row(prefix + name, type_name(fields[0].annotation), default,
                         applies + next((field.description for field in fields if field.description), "")))
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(model: type[BaseModel] = PluginConfig) -> str:
    lines = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    lines += [f"| `{_cell(r.key)}` | {_cell(r.type)} | {_cell(r.default)} | {_cell(r.description)} |"
              for r in rows(model)]
    return "\n".join(lines) + "\n"


def with_reference(text: str, table: str, start_marker: str = START, end_marker: str = END) -> str:
    """``text`` with the part between the markers replaced by ``table``."""
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(f"the markers {start_marker} and {end_marker} are missing (or out of order)")
    return f"{text[:start]}{start_marker}\n{table}{text[end:]}"
