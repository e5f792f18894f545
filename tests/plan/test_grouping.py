"""Grouping strategies: groups, acyclic splits, and the grouped DAG in real Airflow."""

from __future__ import annotations

import pytest
from conftest import build_pod, load_dag, make_config, make_graph

from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.graph.model import DatasetInfo, GraphNode, PipelineGraph, ProjectInfo
from kedro_af_ci.plan.build import build_plan
from kedro_af_ci.plan.grouping import group_nodes
from kedro_af_ci.render.dag import render_dag

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

GIT = GitInfo("a" * 40, "main")
MEM = {"type": "kedro.io.MemoryDataset", "memory": True}
FILE = {"type": "pandas.CSVDataset", "memory": False}


def groups_of(graph, strategy):
    groups, warnings = group_nodes(graph, strategy)
    return {g.name: g.nodes for g in groups}, warnings


def is_acyclic(plan) -> bool:
    indeg = {t.task_id: len(t.upstream) for t in plan.tasks}
    down = {t.task_id: [] for t in plan.tasks}
    for t in plan.tasks:
        for u in t.upstream:
            down[u].append(t.task_id)
    ready = [t for t, d in indeg.items() if d == 0]
    seen = 0
    while ready:
        current = ready.pop()
        seen += 1
        for nxt in down[current]:
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                ready.append(nxt)
    return seen == len(plan.tasks)


def test_memory_groups_connected_by_memory_datasets():
    graph = make_graph([("load", ["raw"], ["m1"], []), ("clean", ["m1"], ["m2"], []), ("save", ["m2"], ["out"], []),
                        ("report", ["out"], [], [])], datasets={"m1": MEM, "m2": MEM, "out": FILE, "raw": FILE})
    groups, warnings = groups_of(graph, "memory")
    assert groups == {"load": ("load", "clean", "save"), "report": ("report",)}
    assert warnings == []


def test_memory_group_that_would_be_cyclic_is_split_deterministically():
    # a -(mem)-> c, but a -> b -> c through a persisted dataset and b is not in the group:
    # one task {a, c} would need b both before and after it.
    graph = make_graph([("a", [], ["m", "f"], []), ("b", ["f"], ["g"], []), ("c", ["m", "g"], [], [])],
                       datasets={"m": MEM, "f": FILE, "g": FILE})
    groups, warnings = groups_of(graph, "memory")
    assert groups == {"a": ("a",), "b": ("b",), "a_2": ("c",)}
    assert [(w.code, w.key) for w in warnings] == [("group-split-acyclic", "run_config.grouping")]
    assert "split at node 'c'" in warnings[0]
    assert groups_of(graph, "memory") == (groups, warnings)


def test_cross_group_cycle_is_avoided(tmp_path):
    # s1 -> t1 and t2 -> s2 with s*, t* tagged into two groups: merging both would make S <-> T.
    graph = make_graph([("s1", [], ["x"], ["group.S"]), ("t1", ["x"], [], ["group.T"]),
                        ("t2", [], ["y"], ["group.T"]), ("s2", ["y"], [], ["group.S"])])
    groups, warnings = groups_of(graph, "tag")
    # T merges first (topological order); S then keeps s1 and splits s2 off into a task of its own
    assert groups == {"S": ("s1",), "T": ("t1", "t2"), "S_2": ("s2",)}
    assert warnings == ["group 'S' split at node 's2': keeping it in one task would make the task graph cyclic"]
    assert is_acyclic(build_plan(graph, make_config(tmp_path, {"image": "a:1"}), GIT, grouping="tag"))


def test_namespace_grouping_of_the_example(example_graph, tmp_path):
    groups, _ = groups_of(example_graph, "namespace")
    assert groups["active_modelling_pipeline"] == ("active_modelling_pipeline.split_data_node",
                                                   "active_modelling_pipeline.train_model_node",
                                                   "active_modelling_pipeline.evaluate_model_node")
    assert groups["preprocess_companies_node"] == ("preprocess_companies_node",)
    assert len(groups) == 6


@pytest.mark.airflow
def test_grouped_dag_loads_with_collapsed_edges_and_node_lists(example_graph, tmp_path):
    config = make_config(tmp_path, {"image": "a:1", "volume": {"disabled": True},
                                    "resources": {"__default__": {"requests": {"cpu": "1"}},
                                                  "huge_machines": {"requests": {"cpu": "8"}}}})
    plan = build_plan(example_graph, config, GIT, grouping="namespace")
    assert is_acyclic(plan)
    dag = load_dag(render_dag(plan).source, plan.dag.dag_id, tmp_path)
    task = dag.task_dict["candidate_modelling_pipeline"]
    assert task.upstream_task_ids == {"create_model_input_table_node"}
    assert dag.task_dict["compare_models_node"].upstream_task_ids == {"active_modelling_pipeline",
                                                                      "candidate_modelling_pipeline"}
    container = build_pod(task).spec.containers[0]
    assert container.args[container.args.index("--nodes") + 1] == (
        "candidate_modelling_pipeline.split_data_node,candidate_modelling_pipeline.train_model_node,"
        "candidate_modelling_pipeline.evaluate_model_node")
    assert container.resources.requests == {"cpu": "8"}  # the group holds a resources.huge_machines node


def test_random_graphs_stay_acyclic_and_cover_every_node(tmp_path):
    import random

    config = make_config(tmp_path, {"image": "a:1"})
    rng = random.Random(7)
    for trial in range(30):
        n = 40
        nodes, datasets = [], {}
        for i in range(n):
            inputs = [f"d{j}" for j in rng.sample(range(i), min(i, rng.randint(0, 3)))]
            nodes.append(GraphNode(name=f"n{i}", inputs=tuple(inputs), outputs=(f"d{i}",),
                                   tags=(f"group.g{rng.randint(0, 4)}",), namespace=f"ns{rng.randint(0, 3)}"))
            datasets[f"d{i}"] = DatasetInfo(type=None, memory=rng.random() < 0.5)
        graph = PipelineGraph(ProjectInfo("p", "P"), "__default__", tuple(nodes), datasets)
        for strategy in ("memory", "namespace", "tag"):
            plan = build_plan(graph, config, GIT, grouping=strategy)
            assert is_acyclic(plan), (trial, strategy)
            covered = sorted(n for t in plan.tasks for n in t.nodes)
            assert covered == sorted(f"n{i}" for i in range(n))


@pytest.mark.slow
def test_default_grouping_runs_the_example_with_datasets_left_in_memory(airflow_server, tmp_path):
    """Local execution on the real Airflow: the modelling datasets are MemoryDatasets (demo env
    override), so the run only succeeds if each group runs its nodes in one `kedro run`."""
    import csv

    from conftest import copy_example, make_repo, run_cli

    project = copy_example(tmp_path / "spaceflights")
    (project / "conf" / "demo" / "catalog.yml").write_text('"{namespace}.{name}":\n  type: kedro.io.MemoryDataset\n')
    make_repo(project)
    dag_id = "kaf-e2e-memory"
    env = {"KEDRO_CONFIG_AIRFLOW_HOST": airflow_server.url, "KEDRO_CONFIG_DAGS_FOLDER": str(airflow_server.dags_folder),
           "KEDRO_CONFIG_PROJECT_PATH": str(project), "KEDRO_CONFIG_RUN_NAME": dag_id, **airflow_server.env()}
    # README's defaults (grouping auto): the in-memory datasets make their nodes share a task
    compiled = run_cli("--project-path", str(project), "-e", "demo", "compile",
                       "--no-verify", "-o", str(tmp_path / "dag.py"), env=env, check=True)
    assert "in-memory dataset(s) pass between tasks" not in compiled.stderr
    assert "grouping auto: nodes that pass in-memory datasets" in compiled.stderr
    assert "('active_modelling_pipeline.split_data_node'," in (tmp_path / "dag.py").read_text()
    result = run_cli("--project-path", str(project), "-e", "demo", "run-once",
                     "--wait-for-completion", "--poll-interval", "1", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader((project / "data" / "08_reporting" / "model_comparison.csv").open()))
    assert [r["model"] for r in rows] == ["active", "candidate"]
    assert not list((project / "data").glob("05_model_input/*/*.pkl"))  # nothing of the modelling was persisted
