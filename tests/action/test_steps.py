"""The action's steps: their order is what keeps an image and a DAG from leaving before the DAG
passed the pre-flight, and the compile takes the graph and config the earlier steps read."""

from __future__ import annotations

import pytest

from kedro_af_ci.action import steps
from kedro_af_ci.compiler import pipeline as compiler
from kedro_af_ci.compiler.pipeline import CompileRequest, compile_dag
from kedro_af_ci.graph.model import PipelineGraph


def test_nothing_leaves_before_the_preflight():
    order = list(steps.STEPS)
    position = {step: order.index(step) for step in order}
    assert position[steps.read_git] < position[steps.read_config] < position[steps.build_image] \
        < position[steps.extract_graph] < position[steps.compile_and_verify]
    for leaving in (steps.push_image, steps.link_dag, steps.write_dry_run, steps.upload, steps.run_once):
        assert position[leaving] > position[steps.compile_and_verify], leaving.__name__


def test_the_compile_reads_neither_the_config_nor_the_graph_again(example_repo, example_graph, tmp_path,
                                                                   monkeypatch):
    from kedro_af_ci.config import load_config
    from kedro_af_ci.gitinfo.commit import read_git_info

    project = example_repo[0]
    git = read_git_info(project)
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(example_graph.to_json() + "\n")
    from_file = compile_dag(CompileRequest(project_path=project, graph_file=graph_file, git=git, verify=False))

    config = load_config(project, git_info=git)

    def read_again(*args, **kwargs):
        pytest.fail("read again")

    monkeypatch.setattr(compiler, "load_config", read_again)
    monkeypatch.setattr(PipelineGraph, "read", read_again)
    in_hand = compile_dag(CompileRequest(project_path=project, graph=example_graph, config=config, git=git,
                                         verify=False))
    assert in_hand.config is config and in_hand.graph is example_graph
    assert in_hand.dag.source == from_file.dag.source
