"""Nodes into tasks: Spark groups, the grouping strategy, ids, resource profiles and pod templates."""

from __future__ import annotations

import logging

from ..config import (
    PluginConfig,
    ResourceConfig,
    RunConfig,
)
from ..errors import GraphError
from ..graph.model import PipelineGraph, strip_transcoding
from ..vocabulary.k8s_names import dns_name, sanitize_id
from .fixed_tasks import RESERVED_TASK_IDS
from .grouping import NodeGroup, group_nodes
from .model import PlannedTask
from .spark_detect import spark_groups, spark_reasons
from .tags import tagged_values
from .warnings import PlanWarning

log = logging.getLogger(__name__)


def unique_ids(names: list[str], make, sep: str) -> dict[str, str]:
    """Deterministic ids: sanitised, then numbered in sorted order of the originals on collision."""
    taken: set[str] = set(RESERVED_TASK_IDS)
    result: dict[str, str] = {}
    for name in sorted(names):
        candidate = make(name)
        base, n = candidate, 2
        while candidate in taken:
            candidate = f"{base}{sep}{n}"
            n += 1
        taken.add(candidate)
        result[name] = candidate
    return result


def kedro_split_nodes(text: str) -> list[str]:
    """How ``kedro run --nodes`` reads its value (kedro.framework.cli.utils.split_node_names):
    commas split unless inside square brackets, and each name is stripped."""
    result, argument, depth = [], "", 0
    for char in text + ",":
        depth += (char == "[") - (char == "]")
        if char == "," and depth == 0 and argument:
            result.append(argument.strip())
            argument = ""
        else:
            argument += char
    return result


def _check_node_names(groups) -> None:
    """A task passes its nodes as one ``--nodes a,b,c`` value; a name Kedro would read back
    differently would run the wrong nodes, so it is refused here."""
    for group in groups:
        if kedro_split_nodes(",".join(group.nodes)) != list(group.nodes):
            bad = next((n for n in group.nodes if kedro_split_nodes(n) != [n]), group.nodes[0])
            raise GraphError(f"node name {bad!r} cannot be passed to `kedro run --nodes` (Kedro splits the value "
                             "on commas outside square brackets and strips spaces); rename the node")


def classify_spark(graph: PipelineGraph, rc: RunConfig) -> dict[str, str]:
    """Spark node → its group name (``pyspark_<n>``); empty without a spark section."""
    if rc.spark is None:
        return {}
    reasons = spark_reasons(graph)
    for node, reason in reasons.items():
        log.debug("Spark node %s: %s", node, reason)
    groups = spark_groups(graph) if rc.group_spark_nodes else \
        [(n.name,) for n in graph.nodes if n.name in reasons]  # one task per Spark node
    spark_of = {}
    for index, members in enumerate(groups, start=1):
        spark_of.update(dict.fromkeys(members, f"pyspark_{index}"))
        log.debug("Spark group pyspark_%d: %s", index, ", ".join(members))
    return spark_of


def group_tasks(graph: PipelineGraph, strategy: str, spark_of: dict[str, str],
                warnings: list[PlanWarning]) -> list[NodeGroup]:
    """The node groups of the tasks; ``auto`` groups by memory only where in-memory datasets cross."""
    if strategy == "auto":
        lost = memory_crossings(graph, {n.name: n.name for n in graph.nodes})
        strategy = "memory" if lost else "none"
        if lost:
            warnings.append(PlanWarning("auto-grouping-merged", "run_config.grouping",
                f"grouping auto: nodes that pass in-memory datasets ({shown(lost)}) share a task, "
                            "since each task is a separate process; set run_config.grouping to choose"))
    groups, group_warnings = group_nodes(graph, strategy, fixed=spark_of)
    _check_node_names(groups)
    warnings += group_warnings
    return groups


def plan_tasks(graph: PipelineGraph, config: PluginConfig, groups: list[NodeGroup],
               warnings: list[PlanWarning]) -> tuple[list[PlannedTask], dict[str, ResourceConfig]]:
    """One task per group: its ids, resource profile, pod template and upstream tasks."""
    rc = config.run_config
    names = [g.name for g in groups]
    task_ids = unique_ids(names, sanitize_id, "_")
    pod_names = unique_ids(names, lambda n: dns_name(n, max_len=50, hash_lossy=False), "-")
    group_of = {node: g.name for g in groups for node in g.nodes}
    nodes_by_name = {n.name: n for n in graph.nodes}
    deps = graph.node_dependencies()
    profiles: dict[str, ResourceConfig] = {}
    tasks = []
    for group in groups:
        tags = list(dict.fromkeys(t for name in group.nodes for t in nodes_by_name[name].tags))
        key = _profile_key(group, tags, rc, warnings)
        profile = resource_profile(rc.resources, (f"resources:{key}",)) if key is not None else None
        if key is not None and profile is not None and key not in profiles:  # one per name, however many tasks
            profiles[key] = profile
        upstream = {group_of[d] for name in group.nodes for d in deps[name]} - {group.name}
        tasks.append(PlannedTask(
            task_id=task_ids[group.name], pod_name=pod_names[group.name], nodes=group.nodes, profile=key,
            upstream=tuple(sorted(task_ids[u] for u in upstream)),
            template=_template_key(group, tags, rc, warnings), group=group.name,
        ))
    return tasks, profiles


def _profile_key(group: NodeGroup, tags: list[str], rc: RunConfig, warnings: list[PlanWarning]) -> str | None:
    """The group's ``resources:<name>`` profile (the first, with a warning on a mix), else __default__."""
    named = [n for n in tagged_values(tags, "resources") if n in rc.resources]
    for name in (n for n in tagged_values(tags, "resources") if n not in rc.resources):
        warnings.append(PlanWarning("resources-tag-unknown", "run_config.resources",
            f"node(s) {group.nodes[0]!r}: resources tag {name!r} is not in run_config.resources; "
                        + ("using '__default__'" if "__default__" in rc.resources else "using the cluster defaults")))
    if len(set(named)) > 1:
        warnings.append(PlanWarning("resources-tags-mixed", "run_config.resources",
            f"task {group.name!r} groups nodes with different resources tags {sorted(set(named))}; "
                        f"using {named[0]!r}"))
    return named[0] if named else ("__default__" if "__default__" in rc.resources else None)


def _template_key(group: NodeGroup, tags: list[str], rc: RunConfig, warnings: list[PlanWarning]) -> str | None:
    """The group's ``k8s_template:<name>`` pod template, else __default__ (Kubernetes only)."""
    if rc.execution != "kubernetes":
        return None
    wanted = tagged_values(tags, "k8s_template")
    known = [t for t in wanted if t in rc.kubernetes_pod_templates]
    for name in sorted(set(wanted) - set(known)):
        warnings.append(PlanWarning("pod-template-tag-unknown", "run_config.kubernetes_pod_templates",
            f"node(s) {group.nodes[0]!r}: k8s_template {name!r} is not in "
                        "run_config.kubernetes_pod_templates; using the default template"))
    return known[0] if known else ("__default__" if "__default__" in rc.kubernetes_pod_templates else None)


def warn_memory_crossings(graph: PipelineGraph, tasks: list[PlannedTask], warnings: list[PlanWarning]) -> None:
    crossing = memory_crossings(graph, {node: t.task_id for t in tasks for node in t.nodes})
    if crossing:
        warnings.append(PlanWarning("memory-crossing", "run_config.grouping",
            f"{len(crossing)} in-memory dataset(s) pass between tasks and are lost, since each task "
                        f"is a separate process: {shown(crossing)}; persist them in the catalog, or set "
                        "grouping to memory or auto"))


def memory_crossings(graph: PipelineGraph, group_of: dict[str, str]) -> list[str]:
    """In-memory datasets written in one task and read in another: lost between the two processes.
    One pass over the nodes' inputs (a pass per dataset over all nodes was quadratic)."""
    producer = graph.producers()
    crossing = set()
    for node in graph.nodes:
        for name in node.inputs:
            info, source = graph.datasets.get(name), producer.get(strip_transcoding(name))
            if info is not None and info.memory and source is not None and group_of[source] != group_of[node.name]:
                crossing.add(name)
    return sorted(crossing)


def shown(names: list[str]) -> str:
    return ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")


def resource_profile(resources: dict[str, ResourceConfig], tags: list[str] | tuple[str, ...]) -> ResourceConfig | None:
    """A node's resource profile: its ``resources:<name>`` tag layered on ``__default__``."""
    default = resources.get("__default__")
    for name in tagged_values(tags, "resources"):
        if name in resources:
            return resources[name].over(default) if default else resources[name]
    return default
