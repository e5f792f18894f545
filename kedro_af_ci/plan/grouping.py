"""Node grouping: which Kedro nodes share one Airflow task.

Strategies: ``none`` (a task per node), ``memory`` (nodes linked by in-memory datasets, which cannot
cross pods), ``namespace`` (top-level namespace) and ``tag`` (``group:<name>`` / ``group.<name>``).
Groups are built by merging nodes into clusters one at a time, in Kedro's topological order, and a
merge that would make the task graph cyclic starts a new part of the group instead; so the result
is always acyclic and the same for the same pipeline, on any machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..graph.model import PipelineGraph, strip_transcoding
from .partition import ClusterGraph, UnionFind
from .tags import tagged_values
from .warnings import PlanWarning

STRATEGIES = ("none", "memory", "namespace", "tag")


@dataclass(frozen=True)
class NodeGroup:
    name: str  # deterministic; the task id is derived from it
    nodes: tuple[str, ...]  # in topological order


def _no_keys(graph: PipelineGraph) -> dict[str, str | None]:
    return {n.name: None for n in graph.nodes}


def _namespace_keys(graph: PipelineGraph) -> dict[str, str | None]:
    return {n.name: (n.namespace.split(".")[0] if n.namespace else None) for n in graph.nodes}


def _tag_keys(graph: PipelineGraph) -> dict[str, str | None]:
    return {n.name: next(iter(tagged_values(n.tags, "group")), None) for n in graph.nodes}


def _memory_keys(graph: PipelineGraph) -> dict[str, str | None]:
    """Nodes joined by in-memory datasets share the key of their earliest node; a node alone has none."""
    sets = UnionFind({n.name: i for i, n in enumerate(graph.nodes)}, (n.name for n in graph.nodes))
    producer = graph.producers()
    for node in graph.nodes:
        for dataset in node.inputs:
            info, source = graph.datasets.get(dataset), producer.get(strip_transcoding(dataset))
            if info is not None and info.memory and source is not None:
                sets.union(source, node.name)
    keys: dict[str, str | None] = {}
    for root, names in sets.members().items():
        keys.update(dict.fromkeys(names, root if len(names) > 1 else None))
    return keys


_KEYS: dict[str, Callable[[PipelineGraph], dict[str, str | None]]] = {
    "none": _no_keys, "memory": _memory_keys, "namespace": _namespace_keys, "tag": _tag_keys,
}


def _group_keys(graph: PipelineGraph, strategy: str) -> dict[str, str | None]:
    """Node name → group key (None: the node stays alone)."""
    if strategy not in _KEYS:
        raise ValueError(f"unknown grouping strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    return _KEYS[strategy](graph)


def _merge_by_key(graph: PipelineGraph, keys: dict[str, str | None], fixed: dict[str, str],
                  clusters: ClusterGraph) -> tuple[dict[str, list[int]], list[PlanWarning]]:
    """Each node joins the first cluster of its key it can join without a cycle, else starts a part.
    Fixed groups go first: each is convex, so it is whole before any strategy merge could put a path
    between its parts; strategy groups then split around it where they must."""
    parts: dict[str, list[int]] = {}  # group key -> its clusters, in creation order
    warnings: list[PlanWarning] = []
    ordered = [n for n in graph.nodes if n.name in fixed] + [n for n in graph.nodes if n.name not in fixed]
    for node in ordered:
        key = keys[node.name]
        if key is None:
            continue
        mine = clusters.cluster_of[node.name]
        target = next((c for c in parts.get(key, []) if c in clusters.members and clusters.can_merge(c, mine)), None)
        if target is not None:
            clusters.merge(target, mine)
            continue
        if parts.get(key):
            warnings.append(PlanWarning("group-split-acyclic", "run_config.grouping",
                f"group {key!r} split at node {node.name!r}: keeping it in one task would make "
                            "the task graph cyclic"))
        parts.setdefault(key, []).append(mine)
    return parts, warnings


def _named_groups(graph: PipelineGraph, clusters: ClusterGraph, parts: dict[str, list[int]]) -> list[NodeGroup]:
    """Groups in topological order of their first node: a group is named by its key (numbered
    parts after the first), a node alone by its own name unless a group took it."""
    position = {n.name: i for i, n in enumerate(graph.nodes)}
    names = {cluster: str(key) if index == 1 else f"{key}_{index}"
             for key, found in parts.items() for index, cluster in enumerate(found, start=1)}
    taken = set(names.values())
    groups = []
    for cluster, nodes in sorted(clusters.members.items(), key=lambda item: min(position[n] for n in item[1])):
        ordered = tuple(sorted(nodes, key=position.__getitem__))
        name = names.get(cluster)
        if name is None:
            name, n = ordered[0], 2
            while name in taken:
                name, n = f"{ordered[0]}_{n}", n + 1
            taken.add(name)
        groups.append(NodeGroup(name=name, nodes=ordered))
    return groups


def group_nodes(graph: PipelineGraph, strategy: str,
                fixed: dict[str, str] | None = None) -> tuple[list[NodeGroup], list[PlanWarning]]:
    """Groups in topological order of their first node, and warnings about splits. ``fixed`` gives
    nodes a group regardless of the strategy (the Spark groups)."""
    fixed = fixed or {}
    keys = {**_group_keys(graph, strategy), **fixed}
    clusters = ClusterGraph([n.name for n in graph.nodes], graph.node_dependencies())
    parts, warnings = _merge_by_key(graph, keys, fixed, clusters)
    return _named_groups(graph, clusters, parts), warnings
