"""Kedro namespaces drawn as nested Airflow task groups, with the task ids unchanged."""

from __future__ import annotations

import pytest
from conftest import load_dag, make_config, make_graph

from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.graph.model import GraphNode
from kedro_af_ci.plan.build import build_plan
from kedro_af_ci.plan.task_groups import shared_namespace
from kedro_af_ci.render.dag import render_dag

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

GIT = GitInfo("0123456789abcdef0123456789abcdef01234567", "feature/x")
# (name, inputs, outputs, namespace): a modular pipeline "ingest" with a nested "ingest.cleaning", and a
# node whose name is also a namespace's
NODES = [("ingest.load", ["raw"], ["ingest.df"], "ingest"),
         ("ingest.cleaning.drop", ["ingest.df"], ["clean"], "ingest.cleaning"),
         ("ingest.cleaning.fill", ["clean"], ["filled"], "ingest.cleaning"),
         ("model.train", ["filled"], ["model"], "model"),
         ("report", ["model"], [], None),
         ("model", ["model"], [], None)]


def graph(datasets=None):
    base = make_graph([(n, i, o, []) for n, i, o, _ in NODES], datasets=datasets)
    nodes = tuple(GraphNode(name=n, inputs=tuple(i), outputs=tuple(o), namespace=ns) for n, i, o, ns in NODES)
    return type(base)(project=base.project, pipeline=base.pipeline, nodes=nodes, datasets=base.datasets)


def compiled(tmp_path, grouping="none", execution="kubernetes", datasets=None, **run_config):
    config = make_config(tmp_path, {"image": "a:1", "execution": execution, **run_config}, git_info=GIT)
    plan = build_plan(graph(datasets), config, GIT, grouping=grouping)
    return plan, load_dag(render_dag(plan, preflight=False).source, plan.dag.dag_id, tmp_path)


def group_of(dag, task_id):
    group = dag.task_dict[task_id].task_group
    return None if group is None or group.is_root else group.group_id


@pytest.mark.parametrize("execution", ["kubernetes", "docker", "local"])
def test_namespaces_become_nested_task_groups(tmp_path, execution):
    _, dag = compiled(tmp_path, execution=execution)
    assert set(dag.task_dict) >= {n for n, *_ in NODES}  # ids unchanged
    assert group_of(dag, "ingest.load") == "ingest"
    assert group_of(dag, "ingest.cleaning.drop") == group_of(dag, "ingest.cleaning.fill") == "ingest__cleaning"
    nested = dag.task_group_dict["ingest__cleaning"]
    assert nested.parent_group.group_id == "ingest" and nested.group_display_name == "cleaning"
    assert group_of(dag, "report") is None
    # the namespace "model" and the task "model": the group's id moves aside, its label stays
    model_group = dag.task_dict["model.train"].task_group
    assert model_group.group_id.startswith("model__") and model_group.group_display_name == "model"
    assert group_of(dag, "model") is None


def test_a_task_of_merged_nodes_sits_in_the_deepest_namespace_they_share(tmp_path):
    """ingest.load hands ingest.df in memory to ingest.cleaning.drop: one task, in "ingest"."""
    plan, dag = compiled(tmp_path, grouping="memory", datasets={"ingest.df": {"type": "MemoryDataset", "memory": True}})
    [merged] = [t for t in plan.tasks if "ingest.load" in t.nodes]
    assert set(merged.nodes) == {"ingest.load", "ingest.cleaning.drop"}
    assert group_of(dag, merged.task_id) == "ingest"
    assert group_of(dag, "ingest.cleaning.fill") == "ingest__cleaning"
    assert shared_namespace(["ingest", "model"]) == "" and shared_namespace([]) == ""
    assert shared_namespace(["a.b.c", "a.b.d"]) == "a.b" and shared_namespace(["a.b", "a.bc"]) == "a"


def test_off_and_with_namespace_grouping_the_dag_is_flat(tmp_path):
    plan, dag = compiled(tmp_path / "off", task_groups="none")
    assert not plan.task_groups.groups and "TaskGroup" not in render_dag(plan, preflight=False).source
    plan, dag = compiled(tmp_path / "ns", grouping="namespace")
    assert not plan.task_groups.groups and all(t.task_group.is_root for t in dag.tasks)
