from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_config, make_graph

from kedro_af_ci.errors import ConfigError
from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.plan.build import build_plan

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

GIT = GitInfo("a" * 40, "main")


def test_ids_are_sanitised_and_collisions_resolved_deterministically(tmp_path):
    config = make_config(tmp_path, {"image": "a:1"})
    graph = make_graph([("créer", [], ["x"], []), ("cr_er", [], ["y"], []), ("data.load", ["x"], ["z"], [])])
    ids = {t.nodes[0]: t.task_id for t in build_plan(graph, config, GIT).tasks}
    assert ids["cr_er"] == "cr_er"
    assert ids["créer"].startswith("cr_er__") and ids["créer"] != ids["cr_er"]
    assert ids["data.load"] == "data.load"
    again = {t.nodes[0]: t.task_id for t in build_plan(graph, config, GIT).tasks}
    assert again == ids


def test_pod_names_are_dns_labels(tmp_path):
    config = make_config(tmp_path, {"image": "a:1"})
    graph = make_graph([("Node_With.Dots_" + "x" * 80, [], ["a"], []), ("node-with-dots-" + "x" * 80, [], ["b"], [])])
    pods = [t.pod_name for t in build_plan(graph, config, GIT).tasks]
    assert len(set(pods)) == 2
    for pod in pods:
        assert len(pod) <= 63 and pod == pod.lower() and pod[0].isalnum() and pod[-1].isalnum()


def test_resource_profile_choice_and_warnings(tmp_path):
    config = make_config(tmp_path, {"image": "a:1", "resources": {
        "__default__": {"requests": {"cpu": "1"}}, "big": {"requests": {"cpu": "8"}}}})
    graph = make_graph([("a", [], ["x"], ["resources:big"]), ("b", ["x"], ["y"], []),
                        ("c", ["y"], [], ["resources.missing"])])
    plan = build_plan(graph, config, GIT)
    profiles = {t.task_id: t.profile for t in plan.tasks}
    assert profiles == {"a": "big", "b": "__default__", "c": "__default__"}
    assert plan.profiles["big"].requests == {"cpu": "8"}
    [unknown] = [w for w in plan.warnings if w.code == "resources-tag-unknown"]
    assert unknown.key == "run_config.resources" and "'missing'" in unknown


def test_no_resources_config_means_cluster_defaults(tmp_path):
    plan = build_plan(make_graph([("a", [], [], [])]), make_config(tmp_path, {"image": "a:1"}), GIT)
    assert plan.tasks[0].profile is None and plan.profiles == {}


def test_memory_datasets_between_tasks_warn(tmp_path):
    graph = make_graph([("a", [], ["mid"], []), ("b", ["mid"], [], [])],
                       datasets={"mid": {"type": "kedro.io.MemoryDataset", "memory": True}})
    plan = build_plan(graph, make_config(tmp_path, {"image": "a:1", "grouping": "none"}), GIT)
    assert any(w.code == "memory-crossing" and "mid" in w for w in plan.warnings)
    assert not any("pod" in w for w in plan.warnings)  # whatever the execution mode


def test_grouping_auto_keeps_in_memory_datasets_in_one_task(tmp_path):
    graph = make_graph([("a", [], ["mid"], []), ("b", ["mid"], ["out"], []), ("c", ["out"], [], [])],
                       datasets={"mid": {"type": "kedro.io.MemoryDataset", "memory": True},
                                 "out": {"type": "pandas.CSVDataset"}})
    plan = build_plan(graph, make_config(tmp_path, {"image": "a:1"}), GIT)  # the default: auto
    assert [t.nodes for t in plan.tasks] == [("a", "b"), ("c",)]
    assert [w.code for w in plan.warnings] == ["auto-grouping-merged"] and "(mid)" in plan.warnings[0]
    persisted = make_graph([("a", [], ["out"], []), ("c", ["out"], [], [])],
                           datasets={"out": {"type": "pandas.CSVDataset"}})
    plan = build_plan(persisted, make_config(tmp_path / "p", {"image": "a:1"}), GIT)
    assert [t.nodes for t in plan.tasks] == [("a",), ("c",)] and plan.warnings == ()


def test_params_template_and_airflow3_removed_macros(tmp_path):
    config = make_config(tmp_path, {"image": "a:1", "macro_params": ["ds", "prev_ds"],
                                    "variables_params": ["env"]})
    plan = build_plan(make_graph([("a", [], [], [])]), config, GIT)
    assert plan.run.params == "ds={{ ds }},prev_ds={{ prev_ds }},env={{ var.value.get('env') }}"
    assert any("prev_ds no longer exist in Airflow 3; tasks using them fail to render there (prev_ds: use "
               "prev_data_interval_start_success)" in w for w in plan.warnings)
    # checked against Airflow 3 (the pre-flight's), as the predecessor's sample config has it: read, and said
    on3 = build_plan(make_graph([("a", [], [], [])]), config, GIT, airflow_major=3)
    assert on3.run.params == ("ds={{ ds }},prev_ds={{ prev_data_interval_start_success | ds }},"
                              "env={{ var.value.get('env') }}")
    [read] = [w for w in on3.warnings if w.code == "macro-read-for-airflow3"]
    assert "the parameter prev_ds is {{ prev_data_interval_start_success | ds }} there" in read
    assert "use prev_data_interval_start_success" in read
    conf = make_config(tmp_path / "conf", {"image": "a:1", "macro_params": ["conf"]})
    with pytest.raises(ConfigError, match=r"conf no longer exist in Airflow 3 \(use a variables_params entry\)") \
            as info:
        build_plan(make_graph([("a", [], [], [])]), conf, GIT, airflow_major=3)
    assert info.value.key == "run_config.macro_params"


def test_a_removed_macro_read_for_airflow_3_renders_there(tmp_path):
    """The pod's --params, as Airflow 3 renders them: the date of the previous successful run, or None."""
    from datetime import datetime, timezone

    from conftest import build_pod, load_dag

    from kedro_af_ci.render.dag import render_dag

    config = make_config(tmp_path, {"image": "a:1", "macro_params": ["prev_ds", "prev_ds_nodash"]})
    plan = build_plan(make_graph([("a", [], [], [])]), config, GIT, airflow_major=3)
    dag = load_dag(render_dag(plan).source, plan.dag.dag_id, tmp_path)
    pod = build_pod(dag.get_task("a"), prev_data_interval_start_success=datetime(2026, 11, 21, 6, tzinfo=timezone.utc))
    assert pod.spec.containers[0].args[-2:] == ["--params", "prev_ds=2026-11-21,prev_ds_nodash=20261121"]


def test_schedule_override_and_none(tmp_path):
    config = make_config(tmp_path, {"image": "a:1", "cron_expression": "@daily"})
    graph = make_graph([("a", [], [], [])])
    assert build_plan(graph, config, GIT).dag.schedule == "@daily"
    assert build_plan(graph, config, GIT, schedule=None).dag.schedule is None
    assert build_plan(graph, config, GIT, schedule="0 1 * * *").dag.schedule == "0 1 * * *"


def test_edges_follow_datasets(tmp_path):
    graph = make_graph([("a", ["raw"], ["x"], []), ("b", ["x"], ["y"], []), ("c", ["x", "y"], [], [])])
    plan = build_plan(graph, make_config(tmp_path, {"image": "a:1"}), GIT)
    assert sorted(plan.edges) == [("a", "b"), ("a", "c"), ("b", "c")]


def test_node_names_kedro_cannot_read_back_are_refused(tmp_path):
    import pytest

    from kedro_af_ci.errors import GraphError
    from kedro_af_ci.plan.tasks import kedro_split_nodes
    config = make_config(tmp_path, {"image": "a:1"})
    # Kedro's own default-name shape keeps its commas inside brackets: accepted, read back whole
    odd = "f([a,b]) -> [c,d]"
    assert kedro_split_nodes(",".join([odd, "x"])) == [odd, "x"]
    assert build_plan(make_graph([(odd, [], ["o"], [])]), config, GIT).tasks[0].nodes == (odd,)
    for name in ("a,b", " padded", "open[bracket"):
        with pytest.raises(GraphError, match="cannot be passed to `kedro run --nodes`"):
            build_plan(make_graph([(name, [], [], [])]), config, GIT)


def test_settings_that_would_do_nothing_are_said(tmp_path):
    config = make_config(tmp_path, {"image": "a:1", "authentication": {"type": "GoogleOAuth2"},
                                    "kubernetes_pod_templates": {"__default__": {"template": "type: Pod\nspec: {}\n"}}})
    plan = build_plan(make_graph([("a", [], [], [])]), config, GIT)
    assert any(w.startswith("run_config.authentication GoogleOAuth2 applies to the MLflow tasks, and MLflow is off")
               for w in plan.warnings)
    assert any("`type: Pod` (the seed's samples) is read as `kind: Pod`" in w for w in plan.warnings)
    assert plan.templates.pods["__default__"]["kind"] == "Pod"


def test_every_plan_warning_has_a_code_and_the_key_it_concerns():
    """Warnings are values: code (what tests and tools match), key (where to look), text (what users read)."""
    import pickle

    from kedro_af_ci.plan.warnings import PlanWarning

    warning = PlanWarning("memory-crossing", "run_config.grouping", "2 in-memory dataset(s) pass between tasks")
    assert warning == "2 in-memory dataset(s) pass between tasks" and f"{warning}" == str(warning)
    copied = pickle.loads(pickle.dumps(warning))
    assert (copied.code, copied.key, str(copied)) == (warning.code, warning.key, str(warning))
    source = "\n".join(p.read_text() for p in (Path(__file__).parents[2] / "kedro_af_ci" / "plan").glob("*.py"))
    assert "warnings.append(f" not in source and 'warnings.append("' not in source  # every one is a PlanWarning
