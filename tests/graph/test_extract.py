from __future__ import annotations

import json

import pytest

from kedro_af_ci.errors import GraphError
from kedro_af_ci.graph.model import PipelineGraph


def test_example_graph_nodes_namespaces_tags(example_graph):
    names = [n.name for n in example_graph.nodes]
    assert len(names) == 10
    assert "active_modelling_pipeline.train_model_node" in names
    train = next(n for n in example_graph.nodes if n.name == "candidate_modelling_pipeline.train_model_node")
    assert train.namespace == "candidate_modelling_pipeline"
    assert train.tags == ("resources.huge_machines",)
    assert train.inputs == ("candidate_modelling_pipeline.X_train", "candidate_modelling_pipeline.y_train")
    assert train.func == "spaceflights.pipelines.data_science.nodes.train_model"
    assert train.type_hints["return"] == "numpy.ndarray"
    assert example_graph.project.package_name == "spaceflights"


def test_dataset_types_patterns_and_memory(example_graph):
    ds = example_graph.datasets
    assert ds["companies"].type == "pandas.CSVDataset" and not ds["companies"].memory
    assert ds["active_modelling_pipeline.regressor"].type == "pickle.PickleDataset"
    assert ds["active_modelling_pipeline.regressor"].pattern == "{namespace}.{name}"
    assert ds["params:active_modelling_pipeline.model_options"].parameters


def test_dependencies_equal_kedros(example_repo, example_graph):
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(example_repo[0])  # Kedro's registry is global: another test may have loaded another project

    kedro_deps = pipelines["__default__"].node_dependencies
    expected = {n.name: sorted(p.name for p in parents) for n, parents in kedro_deps.items()}
    assert example_graph.node_dependencies() == expected


def test_json_round_trip(example_graph, tmp_path):
    path = tmp_path / "graph.json"
    path.write_text(example_graph.to_json())
    assert PipelineGraph.read(path) == example_graph


def test_memory_datasets_detected(tmp_path):
    data = json.loads(_tiny_graph_json())
    data["datasets"]["mid"] = {"type": "kedro.io.MemoryDataset", "memory": True, "pattern": None,
                               "parameters": False}
    graph = PipelineGraph.from_dict(data)
    assert graph.datasets["mid"].memory


def test_malformed_graph_json(tmp_path):
    bad = tmp_path / "g.json"
    bad.write_text('{"schema": 1, "nodes": []}')
    with pytest.raises(GraphError, match="malformed"):
        PipelineGraph.read(bad)
    bad.write_text("not json")
    with pytest.raises(GraphError, match="cannot read graph JSON"):
        PipelineGraph.read(bad)


def test_unknown_pipeline_lists_registered(example_repo):
    from kedro_af_ci.graph.extract import extract_graph

    with pytest.raises(GraphError, match="not registered; registered: __default__, data_processing"):
        extract_graph(example_repo[0], "nope")


def _tiny_graph_json() -> str:
    return json.dumps({
        "schema": 1,
        "project": {"package_name": "tiny", "project_name": "Tiny", "kedro_version": "1.7.0"},
        "pipeline": "__default__", "env": None,
        "nodes": [
            {"name": "a", "inputs": ["raw"], "outputs": ["mid"], "tags": [], "namespace": None},
            {"name": "b", "inputs": ["mid"], "outputs": ["out"], "tags": [], "namespace": None},
        ],
        "datasets": {},
    })


KEDRO_DEPS = """
import json, sys
from pathlib import Path
from kedro.framework.startup import bootstrap_project
bootstrap_project(Path(sys.argv[1]))
from kedro.framework.project import pipelines
deps = pipelines["__default__"].node_dependencies
print(json.dumps({n.name: sorted(p.name for p in parents) for n, parents in deps.items()}))
"""


def test_transcoded_datasets_keep_their_edges(tmp_path):
    """`name@spark` written by one node and `name@pandas` read by another are one dataset, as in
    Kedro's Pipeline: the dependency (and the DAG's edge) stays."""
    import subprocess
    import sys

    from conftest import copy_example, run_cli

    project = copy_example(tmp_path / "spaceflights")
    pipeline = project / "src" / "spaceflights" / "pipelines" / "data_processing" / "pipeline.py"
    text = pipeline.read_text()
    text = text.replace('"shuttles", "preprocessed_shuttles",', '"shuttles", "preprocessed_shuttles@spark",')
    text = text.replace('["preprocessed_shuttles", "preprocessed_companies"', '["preprocessed_shuttles@pandas", '
                        '"preprocessed_companies"')
    assert text.count("@") == 2
    pipeline.write_text(text)
    catalog = project / "conf" / "base" / "catalog.yml"
    parquet = "  filepath: data/02_intermediate/shuttles.parquet"
    catalog.write_text(catalog.read_text().replace(
        "preprocessed_shuttles:\n  type: pickle.PickleDataset\n"
        "  filepath: data/02_intermediate/preprocessed_shuttles.pkl",
        f"preprocessed_shuttles@spark:\n  type: spark.SparkDataset\n{parquet}\n"
        f"preprocessed_shuttles@pandas:\n  type: pandas.ParquetDataset\n{parquet}"))
    kedro = json.loads(subprocess.run([sys.executable, "-c", KEDRO_DEPS, str(project)], capture_output=True,
                                      text=True, check=True).stdout.strip().splitlines()[-1])
    assert kedro["create_model_input_table_node"] == ["preprocess_companies_node", "preprocess_shuttles_node"]
    graph_file = tmp_path / "graph.json"
    run_cli("--project-path", str(project), "export-graph", "-o", str(graph_file), check=True)
    graph = PipelineGraph.read(graph_file)
    assert graph.node_dependencies() == kedro
    assert graph.datasets["preprocessed_shuttles@spark"].type == "spark.SparkDataset"
    dag = run_cli("--project-path", str(project), "--graph", str(graph_file), "compile", "--no-verify", "-o",
                  str(tmp_path / "dag.py"), check=True)
    assert "edge(s)" in dag.stdout
    source = (tmp_path / "dag.py").read_text()
    assert ("'create_model_input_table_node', 'create-model-input-table-node', 'create_model_input_table_node', "
            "'__default__', None, ('preprocess_companies_node', 'preprocess_shuttles_node'))") in source


def test_two_projects_with_one_package_name_in_one_process_each_get_their_own_graph(tmp_path):
    """Python's module cache would hand the second project the first one's pipeline."""
    from conftest import copy_example

    from kedro_af_ci.graph.extract import extract_graph

    first, second = copy_example(tmp_path / "a"), copy_example(tmp_path / "b")
    for project in (first, second):
        (project / "conf" / "local").mkdir(exist_ok=True)
    registry = second / "src" / "spaceflights" / "pipelines" / "data_processing" / "pipeline.py"
    registry.write_text(registry.read_text().replace('name="preprocess_companies_node"',
                                                     'name="renamed_in_the_second_project"'))
    names = [{n.name for n in extract_graph(p).nodes} for p in (first, second, first)]
    assert "preprocess_companies_node" in names[0] and "renamed_in_the_second_project" not in names[0]
    assert "renamed_in_the_second_project" in names[1] and "preprocess_companies_node" not in names[1]
    assert names[2] == names[0]  # and back: the first project's src is found first again


def test_locations_come_from_the_catalog_as_kedro_resolves_it(tmp_path):
    """Explicit entries, factory patterns with a storage scheme (resolved per dataset), globals
    interpolation; a password in a URL never reaches the graph."""
    from conftest import copy_example

    from kedro_af_ci.graph.extract import extract_graph

    project = copy_example(tmp_path / "spaceflights")
    catalog = project / "conf" / "base" / "catalog.yml"
    text = catalog.read_text()
    text = text.replace("filepath: data/01_raw/companies.csv", "filepath: s3://${globals:bucket}/raw/companies.csv")
    text = text.replace("filepath: data/01_raw/shuttles.csv", "filepath: s3://key:secret@landing/shuttles.csv")
    text = text.replace("filepath: data/05_model_input/{namespace}/{name}.pkl",
                        "filepath: gs://models/{namespace}/{name}.pkl")
    catalog.write_text(text)
    (project / "conf" / "base" / "globals.yml").write_text("bucket: lake\n")
    graph = extract_graph(project)
    assert graph.datasets["companies"].location == "s3://lake/raw/companies.csv"
    assert graph.datasets["shuttles"].location == "s3://landing/shuttles.csv"
    assert graph.datasets["reviews"].location == "data/01_raw/reviews.csv"
    assert graph.datasets["active_modelling_pipeline.regressor"].location == \
        "gs://models/active_modelling_pipeline/regressor.pkl"
    assert "secret" not in graph.to_json()
