"""Tagged unions of config sections: one key (``type``) names the model the rest of the section is
validated by (``spark``: :mod:`.spark`). The key reference lists each key with the tags it applies to,
and the error messages name a key of another tag as such (:mod:`.messages`); both read the union here.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Discriminator
from pydantic.fields import FieldInfo


@dataclass(frozen=True)
class Tagged:
    """A tagged union: ``key`` (e.g. ``type``) and, in the union's order, each tag's model."""

    key: str
    members: dict[str, type[BaseModel]]

    def tags_of(self, name: str) -> list[str]:
        """The tags whose model has the key ``name``, in the union's order."""
        return [tag for tag, model in self.members.items() if name in model.model_fields]


def is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _without_none(annotation: Any) -> Any:
    """``X | None`` → ``X`` (other unions as they are)."""
    if is_union(annotation):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _discriminator(metadata: tuple) -> str | None:
    """The key a union's ``Field(discriminator=...)`` (or ``Discriminator``) names; None for a callable one."""
    for item in metadata:
        found: Any = item.discriminator if isinstance(item, FieldInfo) else item if isinstance(
            item, Discriminator) else None
        if isinstance(found, Discriminator):
            found = found.discriminator
        if isinstance(found, str):
            return found
    return None


def _tags(model: type[BaseModel], key: str) -> list[str]:
    field = model.model_fields.get(key)
    annotation = field.annotation if field is not None else None
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) is not Literal:
        return []
    return [str(value.value if isinstance(value, Enum) else value) for value in get_args(annotation)]


def tagged_union(annotation: Any) -> Tagged | None:
    """The tagged union a field's annotation holds (``Annotated[A | B, Field(discriminator="type")]``,
    optionally ``| None``), else None."""
    annotation = _without_none(annotation)
    if get_origin(annotation) is not Annotated:
        return None
    inner, *metadata = get_args(annotation)
    key = _discriminator(tuple(metadata))
    if key is None:
        return None
    models = get_args(inner) if is_union(inner) else (inner,)
    members = {tag: model for model in models if isinstance(model, type) and issubclass(model, BaseModel)
               for tag in _tags(model, key)}
    return Tagged(key, members) if members else None
