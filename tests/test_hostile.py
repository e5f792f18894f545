"""Hostile values through every free-text path: the DAG imports and values come back unchanged.

Each value enters as the branch name (as anyone who can push could choose it) through ${branch_name}
in run_name, description, env_vars and annotations, and directly as a Kedro pipeline name.
"""

from __future__ import annotations

import pytest
from conftest import build_pod, load_dag, make_config, make_graph
from hostile_corpus import corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.plan.build import build_plan
from kedro_af_ci.render.dag import render_dag

pytestmark = pytest.mark.airflow
RUN_CONFIG = {"image": "a:1", "run_name": "${branch_name}", "description": "${branch_name}",
              "env_vars": {"HOSTILE": "${branch_name}"},
              "resources": {"__default__": {"annotations": {"example.com/note": "${branch_name}"}}}}


def round_trip(tmp_path, value: str) -> list[str]:
    """Problems with ``value`` (empty when it round-trips exactly)."""
    git = GitInfo("0123456789abcdef0123456789abcdef01234567", value)
    config = make_config(tmp_path, RUN_CONFIG, git_info=git)
    plan = build_plan(make_graph([("a", ["raw"], ["x"], []), ("b", ["x"], [], [])], pipeline=value), config, git)
    dag = load_dag(render_dag(plan).source, plan.dag.dag_id, tmp_path)
    problems = []
    if dag.description != value:
        problems.append("description")
    if dag.dag_display_name != value:
        problems.append("display name")
    pod = build_pod(dag.task_dict["a"])
    container = pod.spec.containers[0]
    if pod.metadata.annotations.get("example.com/note") != value:
        problems.append("annotation")
    if {e.name: e.value for e in container.env}.get("HOSTILE") != value:
        problems.append("env")
    if container.args[:3] != ["run", "--pipeline", value]:
        problems.append("kedro args")
    return problems


def test_fixed_corpus_round_trips(tmp_path_factory, capsys):
    values = corpus(210)
    failures = {}
    for i, value in enumerate(values):
        problems = round_trip(tmp_path_factory.mktemp(f"h{i}"), value)
        if problems:
            failures[value] = problems
    with capsys.disabled():
        print(f"\nhostile: {len(values) - len(failures)}/{len(values)} ok")
    assert failures == {}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=80))
def test_generated_values_round_trip(tmp_path_factory, value):
    assert round_trip(tmp_path_factory.mktemp("hyp"), value) == []
