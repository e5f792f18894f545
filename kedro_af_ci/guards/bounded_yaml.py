"""YAML a branch wrote, read with bounds: size, nesting and what its aliases expand to.

``yaml.safe_load`` builds a document of nine aliases of nine aliases ("billion laughs") in
microseconds, because the repeated parts are shared objects; it is every later walk over the data
(merging env over base, substitution, validation) that then takes hours and gigabytes. So the
expanded size is counted on the composed node graph, where an alias is the very node it names,
before anything is built (docs/architecture.md, "Trust").
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 1_000_000  # a config, a pod template: kilobytes; a megabyte is a mistake or an attack
MAX_NODES = 100_000  # scalars, sequences and mappings, each alias counted as what it expands to


class YamlLimitError(ValueError):
    """The text is over a bound; the message says which."""


def load_bounded(text: str) -> Any:
    """Like ``yaml.safe_load``, or :class:`YamlLimitError` (``yaml.YAMLError`` for bad syntax)."""
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_BYTES:
        raise YamlLimitError(f"{size} bytes of YAML, over the limit of {MAX_BYTES}")
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_expansion(node)
        except RecursionError:
            raise YamlLimitError("YAML nested too deeply") from None
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node) -> None:
    """Count nodes as the built document will hold them; an alias node is shared, so its size is
    computed once and counted at every use."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a recursive alias (an anchor inside itself) counts once, as yaml builds it
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(key) + size(value) for key, value in node.value)
        if total > MAX_NODES:
            raise YamlLimitError(f"YAML aliases expand to more than {MAX_NODES} values")
        sizes[id(node)] = total
        return total

    size(root)
