"""Node tags that carry a value (``resources:big``, ``k8s_template:spark``, ``group:features``)."""

from __future__ import annotations


def tagged_values(tags: list[str] | tuple[str, ...], prefix: str) -> list[str]:
    """Values of ``prefix:value`` tags; ``prefix.value`` too, since Kedro 1.x forbids ':' in tags."""
    found = []
    for tag in tags:
        for sep in (":", "."):
            if tag.startswith(prefix + sep) and len(tag) > len(prefix) + 1:
                found.append(tag[len(prefix) + 1:])
    return sorted(found)

