"""Catalog datasets as Airflow Assets (Datasets on Airflow 2) (docs/architecture.md, "Plan").

A persistent dataset stored at a URI (``s3://``, ``gs://``, ``abfs://``, ``file://``, a BigQuery table)
is an outlet of the task that writes it and an inlet of the tasks that read it, so DAGs of other
projects can be scheduled on it. The location comes from the graph, which the branch's code wrote:
only a clean URI of a known scheme becomes an Asset, without credentials, query or fragment. Memory
datasets, parameters and paths with no fixed location (relative, templated) are left out and listed.
"""

from __future__ import annotations

from ..graph.model import PipelineGraph, strip_transcoding
from ..vocabulary.asset_uris import asset_uri
from .model import AssetPlan, PlannedTask


def plan_assets(graph: PipelineGraph, tasks: list[PlannedTask], outlet_prefixes: tuple[str, ...] | None
                ) -> AssetPlan:
    """Each task's inlets (what it reads that others write or that exists already) and outlets (what
    it writes); ``outlet_prefixes``: the URIs whose events the DAG may emit (None: all, () : none)."""
    uris, skipped = _uris(graph)
    nodes = {node.name: node for node in graph.nodes}
    by_task: dict[str, dict[str, tuple[str, ...]]] = {}
    for task in tasks:
        writes = {uris[d] for n in task.nodes for d in map(strip_transcoding, nodes[n].outputs) if d in uris}
        reads = {uris[d] for n in task.nodes for d in map(strip_transcoding, nodes[n].inputs) if d in uris}
        outlets = {u for u in writes if outlet_prefixes is None or u.startswith(outlet_prefixes)}
        if reads - writes or outlets:
            by_task[task.task_id] = {"inlets": tuple(sorted(reads - writes)), "outlets": tuple(sorted(outlets))}
    return AssetPlan(by_task, skipped)


def _uris(graph: PipelineGraph) -> tuple[dict[str, str], tuple[str, ...]]:
    uris, skipped = {}, []
    for name, info in sorted(graph.datasets.items()):
        if info.memory or info.parameters:
            continue
        uri = asset_uri(info.location)
        if uri is None:
            skipped.append(f"{name}: {'no fixed location' if info.location else 'no location'} "
                           f"({info.location or info.type})")
        else:
            uris[strip_transcoding(name)] = uri
    return uris, tuple(skipped)
