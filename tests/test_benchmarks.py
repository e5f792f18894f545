"""The benchmark's synthetic projects are real Kedro projects whose graph is the one generated
(so the figures measure what they claim), and its floor DAG loads in Airflow with those edges."""

from __future__ import annotations

import sys

import pytest
from conftest import ROOT, load_dag

sys.path.insert(0, str(ROOT / "benchmarks"))
from synthetic import floor_dag, graph_edges, layered_edges, write_project

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project


def test_synthetic_project_has_the_generated_graph(tmp_path):
    from kedro_af_ci.graph.extract import extract_graph

    project = write_project(tmp_path / "bench", 60)
    graph = extract_graph(project)
    assert len(graph.nodes) == 60
    deps = graph.node_dependencies()
    by_index = {n.name.rsplit(".n", 1)[1]: n.name for n in graph.nodes}
    for i, inputs in enumerate(layered_edges(60)):
        assert sorted(deps[by_index[str(i)]]) == sorted(by_index[str(j)] for j in inputs)
    assert {n.name.split(".")[0] for n in graph.nodes} == {f"stage{k}" for k in range(8)}


def test_floor_dag_loads_with_the_same_edges(tmp_path):
    path = floor_dag(60, tmp_path / "floor.py")
    dag = load_dag(path.read_text(), "floor", tmp_path)
    assert len(dag.tasks) == 60
    assert sum(len(t.upstream_task_ids) for t in dag.tasks) == sum(len(x) for x in layered_edges(60))


def test_the_examples_floor_has_its_nodes_and_their_edges(tmp_path):
    from kedro_af_ci.graph.extract import extract_graph

    graph = extract_graph(ROOT / "examples" / "spaceflights")
    edges = graph_edges(graph)
    dag = load_dag(floor_dag(len(edges), tmp_path / "floor.py", edges).read_text(), "floor", tmp_path)
    names = [node.name for node in graph.nodes]
    upstream = {f"n{names.index(name)}": sorted(f"n{names.index(d)}" for d in deps)
                for name, deps in graph.node_dependencies().items()}
    assert {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks} == upstream
    assert sum(map(len, upstream.values())) >= len(names) - 3  # the example's pipelines are chains, not islands


# the dag-processor's own table, as Airflow 3.1's standalone prints it (one file mid-parse, one never done)
STATS = (ROOT / "tests" / "fixtures" / "dag_processor_stats.log").read_text()


def test_the_stale_folder_figure_reads_the_last_complete_stats_table():
    from stale_folder import parse_stats

    assert parse_stats(STATS) == {"drun-spaceflights.py": 0.21,
                                  "kaf-action-feature_price-model__aa60e1f192c507d9ef01.py": 0.06}
    first = STATS[:STATS.index("drun-spaceflights.py")]  # its only file mid-parse: no duration yet
    assert parse_stats(first) == {}
