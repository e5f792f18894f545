"""Which nodes run on a Spark cluster, and how they are grouped (a plan step, docs/architecture.md, "Plan").

Detection follows the original plugin's rules (seed 3.6.3): the ``kedro-airflow-k8s:group:pyspark``
tag (``kedro-airflow-k8s.group.pyspark`` in Kedro 1.x, which forbids ``:``), a ``pyspark.sql``
DataFrame in the node function's type hints, a Spark dataset among its inputs or outputs, and
default nodes sandwiched between parts of one Spark group. Groups are closed under "lies on a path
from the group back to the group", so collapsing each group into one task can never make a cycle.
"""

from __future__ import annotations

import re

from ..graph.model import PipelineGraph
from .partition import UnionFind, reachable

SPARK_TAGS = ("kedro-airflow-k8s:group:pyspark", "kedro-airflow-k8s.group.pyspark")
_SPARK_HINT = re.compile(r"\bpyspark\.sql(\.[A-Za-z_.]+)?\.DataFrame\b")
SPARK_DATASETS = {"SparkDataset", "SparkHiveDataset", "SparkJDBCDataset",
                  "SparkDataSet", "SparkHiveDataSet", "SparkJDBCDataSet"}


def is_spark_dataset(ds_type: str | None, known: bool | None = None) -> bool:
    """``known``: what the class hierarchy said at graph extraction; else the kedro-datasets spark
    family by name (``spark.*``, ``kedro_datasets.spark.*``, any ``Spark…Dataset``)."""
    if known is not None:
        return known
    if not ds_type:
        return False
    module, _, name = ds_type.rpartition(".")
    return (module in ("spark", "kedro_datasets.spark") or module.startswith("kedro_datasets.spark.")
            or name in SPARK_DATASETS or bool(re.fullmatch(r"Spark\w*Data[sS]et(V\d+)?", name)))


def spark_reasons(graph: PipelineGraph) -> dict[str, str]:
    """Nodes that are Spark nodes by tag, type hint or dataset class (before the sandwich rule), and why."""
    found: dict[str, str] = {}
    for node in graph.nodes:
        tag = next((t for t in node.tags if t in SPARK_TAGS), None)
        hint = next((f"{arg}: {h}" for arg, h in node.type_hints.items() if _SPARK_HINT.search(h)), None)
        dataset = next((f"{name} ({info.type})" for name in (*node.inputs, *node.outputs)
                        if (info := graph.datasets.get(name)) is not None and is_spark_dataset(info.type, info.spark)),
                       None)
        if tag or hint or dataset:
            found[node.name] = (f"tag {tag}" if tag else f"type hint {hint}" if hint else f"Spark dataset {dataset}")
    return found


def spark_nodes(graph: PipelineGraph) -> set[str]:
    return set(spark_reasons(graph))


def spark_groups(graph: PipelineGraph) -> list[tuple[str, ...]]:
    """Spark groups in topological order of their first node, each in topological order.

    Adjacent Spark nodes share a group; then each group takes in every node on a path that leaves
    it and comes back (the sandwich rule), merging with any other group met on the way, until
    nothing changes. The result is convex, so the collapsed task graph stays acyclic.
    """
    marked = spark_nodes(graph)
    if not marked:
        return []
    order = {n.name: i for i, n in enumerate(graph.nodes)}
    deps = graph.node_dependencies()
    children: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    for child, parents in deps.items():
        for parent in parents:
            children[parent].append(child)
    sets = UnionFind(order, marked)
    for name in marked:
        for child in children[name]:
            if child in marked:
                sets.union(name, child)
    while _absorb_sandwiched(sets, children, deps):
        pass
    return sorted((tuple(g) for g in sets.members().values()), key=lambda g: order[g[0]])


def _absorb_sandwiched(sets: UnionFind, children: dict[str, list[str]], deps: dict[str, list[str]]) -> bool:
    """Into the earliest group with any, the nodes on a path leaving it and coming back; False if none."""
    for root, names in sets.members().items():
        group = set(names)
        between = reachable(group, children) & reachable(group, deps) - group
        for name in sorted(between, key=sets.order.__getitem__):
            sets.add(name)
            sets.union(root, name)
        if between:
            return True
    return False
