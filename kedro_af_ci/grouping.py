"""Node grouping: which Kedro nodes share one Airflow task.

Strategies: ``none`` (a task per node), ``memory`` (nodes linked by in-memory datasets, which cannot
cross pods), ``namespace`` (top-level namespace) and ``tag`` (``group:<name>`` / ``group.<name>``).
Groups are built by merging nodes into clusters one at a time, in Kedro's topological order, and a
merge that would make the task graph cyclic starts a new part of the group instead; so the result
is always acyclic and the same for the same pipeline, on any machine.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .config import tagged_values
from .pipeline_graph import PipelineGraph, strip_transcoding

STRATEGIES = ("none", "memory", "namespace", "tag")


@dataclass(frozen=True)
class NodeGroup:
    name: str  # deterministic; the task id is derived from it
    nodes: tuple[str, ...]  # in topological order


def _group_keys(graph: PipelineGraph, strategy: str) -> dict[str, str | None]:
    """Node name → group key (None: the node stays alone)."""
    if strategy == "none":
        return {n.name: None for n in graph.nodes}
    if strategy == "namespace":
        return {n.name: (n.namespace.split(".")[0] if n.namespace else None) for n in graph.nodes}
    if strategy == "tag":
        keys = {}
        for node in graph.nodes:
            values = tagged_values(node.tags, "group")
            keys[node.name] = values[0] if values else None
        return keys
    if strategy == "memory":
        parent = {n.name: n.name for n in graph.nodes}

        def find(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        producer = graph.producers()
        order = {n.name: i for i, n in enumerate(graph.nodes)}
        for node in graph.nodes:
            for dataset in node.inputs:
                info = graph.datasets.get(dataset)
                if info is not None and info.memory and strip_transcoding(dataset) in producer:
                    a, b = find(producer[strip_transcoding(dataset)]), find(node.name)
                    if a != b:  # keep the earliest node as the representative: stable names
                        a, b = sorted((a, b), key=order.__getitem__)
                        parent[b] = a
        roots = {n.name: find(n.name) for n in graph.nodes}
        sizes: dict[str, int] = {}
        for root in roots.values():
            sizes[root] = sizes.get(root, 0) + 1
        return {name: (root if sizes[root] > 1 else None) for name, root in roots.items()}
    raise ValueError(f"unknown grouping strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")


def group_nodes(graph: PipelineGraph, strategy: str,
                fixed: dict[str, str] | None = None) -> tuple[list[NodeGroup], list[str]]:
    """Groups in topological order of their first node, and warnings about splits. ``fixed`` gives
    nodes a group regardless of the strategy (the Spark groups)."""
    keys = {**_group_keys(graph, strategy), **(fixed or {})}
    deps = graph.node_dependencies()
    cluster_of = {n.name: i for i, n in enumerate(graph.nodes)}
    members: dict[int, list[str]] = {i: [n.name] for i, n in enumerate(graph.nodes)}
    succ: dict[int, set[int]] = {i: set() for i in members}
    pred: dict[int, set[int]] = {i: set() for i in members}
    for child, parents in deps.items():
        for parent_name in parents:
            a, b = cluster_of[parent_name], cluster_of[child]
            succ[a].add(b)
            pred[b].add(a)

    def reaches(start: set[int], target: int, skip: int) -> bool:
        seen, queue = set(start), deque(start)
        while queue:
            current = queue.popleft()
            if current == target:
                return True
            for nxt in succ[current]:
                if nxt not in seen and nxt != skip:
                    seen.add(nxt)
                    queue.append(nxt)
        return False

    def can_merge(a: int, b: int) -> bool:
        return not (reaches(succ[a] - {b}, b, a) or reaches(succ[b] - {a}, a, b))

    def merge(a: int, b: int) -> None:  # b into a
        for name in members.pop(b):
            cluster_of[name] = a
            members[a].append(name)
        for nxt in succ.pop(b):
            pred[nxt].discard(b)
            if nxt != a:
                succ[a].add(nxt)
                pred[nxt].add(a)
        for prv in pred.pop(b):
            succ[prv].discard(b)
            if prv != a:
                pred[a].add(prv)
                succ[prv].add(a)
        succ[a].discard(a)
        pred[a].discard(a)

    parts: dict[str, list[int]] = {}  # group key -> its clusters, in creation order
    warnings: list[str] = []
    fixed = fixed or {}
    # fixed groups first: each is convex, so it is whole before any strategy merge could put a
    # path between its parts; strategy groups then split around it where they must
    ordered = [n for n in graph.nodes if n.name in fixed] + [n for n in graph.nodes if n.name not in fixed]
    for node in ordered:
        key = keys[node.name]
        if key is None:
            continue
        mine = cluster_of[node.name]
        placed = False
        for cluster in parts.get(key, []):
            if cluster in members and can_merge(cluster, mine):
                merge(cluster, mine)
                placed = True
                break
        if not placed:
            if parts.get(key):
                warnings.append(f"group {key!r} split at node {node.name!r}: keeping it in one task would make "
                                "the task graph cyclic")
            parts.setdefault(key, []).append(mine)

    position = {n.name: i for i, n in enumerate(graph.nodes)}
    names: dict[int, str] = {}
    for key, clusters in parts.items():
        for index, cluster in enumerate(clusters, start=1):
            names[cluster] = str(key) if index == 1 else f"{key}_{index}"
    groups = []
    taken = set(names.values())
    for cluster, nodes in sorted(members.items(), key=lambda item: min(position[n] for n in item[1])):
        ordered = tuple(sorted(nodes, key=position.__getitem__))
        name = names.get(cluster)
        if name is None:  # a node alone keeps its name, unless a group already took it
            name, n = ordered[0], 2
            while name in taken:
                name, n = f"{ordered[0]}_{n}", n + 1
            taken.add(name)
        groups.append(NodeGroup(name=name, nodes=ordered))
    return groups, warnings
