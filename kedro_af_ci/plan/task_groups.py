"""Kedro namespaces as Airflow task groups (docs/architecture.md, "Plan"): a task sits in the deepest
namespace all its nodes share, and groups nest as the namespaces do, so the Airflow UI draws the
project as Kedro-Viz does. Task ids do not change (the groups do not prefix them)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..graph.model import PipelineGraph
from ..vocabulary.k8s_names import short_hash
from .fixed_tasks import RESERVED_TASK_IDS
from .model import PlannedTask


@dataclass(frozen=True)
class TaskGroupPlan:
    group_id: str  # Airflow's group key charset; unique among the DAG's groups and task ids
    label: str  # the namespace's last part, as the UI shows it
    parent: str | None  # the enclosing group's id; None: the DAG's root


def plan_task_groups(graph: PipelineGraph, tasks: list[PlannedTask]
                     ) -> tuple[tuple[TaskGroupPlan, ...], dict[str, str]]:
    """The groups, parents first, and each grouped task's group id."""
    namespace_of = {node.name: node.namespace or "" for node in graph.nodes}
    placed = {task.task_id: shared_namespace([namespace_of.get(n, "") for n in task.nodes]) for task in tasks}
    placed = {task_id: ns for task_id, ns in placed.items() if ns}
    paths = sorted({".".join(ns.split(".")[:depth]) for ns in placed.values()
                    for depth in range(1, ns.count(".") + 2)}, key=lambda p: (p.count("."), p))
    taken = {task.task_id for task in tasks} | set(RESERVED_TASK_IDS)
    ids: dict[str, str] = {}
    for path in paths:
        ids[path] = _group_id(path, taken)
        taken.add(ids[path])
    groups = tuple(TaskGroupPlan(ids[p], p.rsplit(".", 1)[-1], ids.get(p.rsplit(".", 1)[0]) if "." in p else None)
                   for p in paths)
    return groups, {task_id: ids[ns] for task_id, ns in placed.items()}


def shared_namespace(namespaces: list[str]) -> str:
    """The deepest namespace that contains all of ``namespaces`` ("" when none does)."""
    parts = [ns.split(".") if ns else [] for ns in namespaces]
    shared: list[str] = []
    for level in zip(*parts, strict=False):  # as deep as the shallowest
        if len(set(level)) != 1:
            break
        shared.append(level[0])
    return ".".join(shared)


def _group_id(path: str, taken: set[str]) -> str:
    """``a.b`` → ``a__b`` in Airflow's group key charset (letters, digits, _ and -); a name that is
    already a task's or group's id, or that lost characters, gets a hash of the namespace."""
    clean = re.sub(r"[^A-Za-z0-9_-]+", "_", path.replace(".", "__"))[:200]
    if clean in taken or clean != path.replace(".", "__"):
        clean = f"{clean[:180]}__{short_hash(path, 12)}"
    return clean
