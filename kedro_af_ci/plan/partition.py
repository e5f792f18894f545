"""Graph helpers for putting Kedro nodes into tasks: a union-find whose representative is always
the earliest node (so names are stable), reachability, and a contractible cluster graph that
refuses a merge which would make the task graph cyclic.

Written by hand on purpose: networkx has no incremental "merge unless it makes a cycle", and its
contraction recomputes reachability from scratch per merge (quadratic at 5000 nodes).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping


class UnionFind:
    """Disjoint sets of names; ``order`` ranks names, and a set's representative is its earliest."""

    def __init__(self, order: Mapping[str, int], names: Iterable[str] = ()):
        self.order = order
        self.parent = {name: name for name in names}

    def add(self, name: str) -> None:
        self.parent.setdefault(name, name)

    def find(self, name: str) -> str:
        parent = self.parent
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            ra, rb = sorted((ra, rb), key=self.order.__getitem__)
            self.parent[rb] = ra

    def members(self) -> dict[str, list[str]]:
        """Representative → its names, both in ``order``."""
        groups: dict[str, list[str]] = {}
        for name in sorted(self.parent, key=self.order.__getitem__):
            groups.setdefault(self.find(name), []).append(name)
        return groups


def reachable(starts: Iterable[str], step: Mapping[str, Iterable[str]]) -> set[str]:
    """Names reached from ``starts`` by one or more steps (``starts`` only if on a cycle back)."""
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        for nxt in step[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


class ClusterGraph:
    """Clusters of nodes and the edges between them, contracted one merge at a time."""

    def __init__(self, names: list[str], dependencies: Mapping[str, Iterable[str]]):
        self.cluster_of = {name: i for i, name in enumerate(names)}
        self.members: dict[int, list[str]] = {i: [name] for i, name in enumerate(names)}
        self.succ: dict[int, set[int]] = {i: set() for i in self.members}
        self.pred: dict[int, set[int]] = {i: set() for i in self.members}
        for child, parents in dependencies.items():
            for parent in parents:
                a, b = self.cluster_of[parent], self.cluster_of[child]
                self.succ[a].add(b)
                self.pred[b].add(a)

    def _reaches(self, start: set[int], target: int, skip: int) -> bool:
        seen, queue = set(start), deque(start)
        while queue:
            current = queue.popleft()
            if current == target:
                return True
            for nxt in self.succ[current]:
                if nxt not in seen and nxt != skip:
                    seen.add(nxt)
                    queue.append(nxt)
        return False

    def can_merge(self, a: int, b: int) -> bool:
        """False when a path leaves one cluster through another node and comes back: a cycle."""
        return not (self._reaches(self.succ[a] - {b}, b, a) or self._reaches(self.succ[b] - {a}, a, b))

    def merge(self, a: int, b: int) -> None:
        """Cluster ``b`` into ``a``."""
        for name in self.members.pop(b):
            self.cluster_of[name] = a
            self.members[a].append(name)
        self._move_edges(self.succ, self.pred, a, b)
        self._move_edges(self.pred, self.succ, a, b)

    @staticmethod
    def _move_edges(out: dict[int, set[int]], back: dict[int, set[int]], a: int, b: int) -> None:
        for other in out.pop(b):
            back[other].discard(b)
            if other != a:
                out[a].add(other)
                back[other].add(a)
        out[a].discard(a)
