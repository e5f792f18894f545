"""Per-profile task settings and the DAG-level knobs, as Airflow loads them, in every execution mode."""

from __future__ import annotations

import ast
from datetime import timedelta

import pytest
from conftest import load_dag, make_config, make_graph

from kedro_af_ci.errors import ConfigError
from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.plan.build import build_plan
from kedro_af_ci.render.dag import render_dag

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

GIT = GitInfo("0123456789abcdef0123456789abcdef01234567", "feature/x")
NODES = [("train", ["raw"], ["model"], ["resources.gpu"]), ("report", ["model"], [], []),
         ("tidy", ["raw"], [], ["resources.small"])]
RESOURCES = {
    "__default__": {"execution_timeout": 3600, "requests": {"cpu": "1"}},
    "gpu": {"retries": 4, "retry_delay": "PT2M", "retry_exponential_backoff": True, "pool": "gpu",
            "pool_slots": 2, "priority_weight": 10, "queue": "gpu", "execution_timeout": "P1DT2H"},
    "small": {"requests": {"cpu": "100m"}},
}
DAG_KNOBS = {"retries": 2, "max_active_tasks": 3, "dagrun_timeout": "PT6H", "owner": "ml-team",
             "tags": ["team:ml", "nightly"]}
EXECUTIONS = [{"execution": "kubernetes"}, {"execution": "docker"}, {"execution": "local", "image": None}]


def dag_of(tmp_path, run_config):
    config = make_config(tmp_path, {"image": "a:1", **run_config}, git_info=GIT)
    plan = build_plan(make_graph(NODES), config, GIT, schedule=None)
    return load_dag(render_dag(plan, preflight=False).source, plan.dag.dag_id, tmp_path)


@pytest.mark.parametrize("mode", EXECUTIONS, ids=lambda m: m["execution"])
def test_each_profile_sets_its_tasks_airflow_settings(tmp_path, mode):
    dag = dag_of(tmp_path, {**mode, **DAG_KNOBS, "resources": RESOURCES})
    train, report, tidy = (dag.task_dict[name] for name in ("train", "report", "tidy"))
    assert (train.retries, train.retry_delay, train.retry_exponential_backoff) == (4, timedelta(minutes=2), True)
    assert (train.pool, train.pool_slots, train.priority_weight, train.queue) == ("gpu", 2, 10, "gpu")
    assert train.execution_timeout == timedelta(days=1, hours=2)
    # a profile sets only what it names: the rest is __default__'s, then run_config.retries
    for task in (report, tidy):
        assert (task.retries, task.execution_timeout, task.pool) == (2, timedelta(hours=1), "default_pool")
    assert (dag.max_active_tasks, dag.dagrun_timeout) == (3, timedelta(hours=6))
    assert {task.owner for task in dag.tasks} == {"ml-team"}
    assert {"team:ml", "nightly", "branch:feature/x"} <= set(dag.tags)


def test_without_settings_tasks_keep_airflows_defaults(tmp_path):
    dag = dag_of(tmp_path, {})
    task = dag.task_dict["train"]
    assert (task.retries, task.execution_timeout, task.pool, task.owner) == (0, None, "default_pool", "airflow")
    assert "TASK_SETTINGS" not in render_dag(build_plan(make_graph(NODES), make_config(
        tmp_path / "c", {"image": "a:1"}, git_info=GIT), GIT), preflight=False).source


@pytest.mark.parametrize(("run_config", "expected"), [
    ({"resources": {"gpu": {"retry_delay": "soon"}}}, "run_config.resources.gpu.retry_delay"),
    ({"resources": {"gpu": {"execution_timeout": -5}}}, "a duration must be positive"),
    ({"dagrun_timeout": 0}, "a duration must be positive"),
    ({"resources": {"gpu": {"pool": "gpu pool"}}}, "is not a valid Airflow id"),
    ({"resources": {"gpu": {"pool_slots": 0}}}, "run_config.resources.gpu.pool_slots"),
    ({"max_active_tasks": 0}, "run_config.max_active_tasks"),
])
def test_bad_settings_name_the_key(tmp_path, run_config, expected):
    with pytest.raises(ConfigError) as info:
        make_config(tmp_path, {"image": "a:1", **run_config}, git_info=GIT)
    assert expected in str(info.value)


@pytest.mark.parametrize("tag", ["branch:main", "Repository:acme/prod", "commit:0000", "dag_hash:0",
                                 "generated_with_kedro_airflow_k8s:9"])
def test_a_branch_cannot_tag_its_dag_as_someone_elses(tmp_path, tag):
    """Delete, prune and the replace check read who owns a DAG from its tags: an extra `branch:main` tag
    would let a branch's DAG pass for the default branch's."""
    from kedro_af_ci.deliver.ownership import owner_of

    with pytest.raises(ConfigError) as info:
        make_config(tmp_path, {"image": "a:1", "tags": [tag]}, git_info=GIT)
    assert "are the tool's own" in str(info.value) and "run_config.tags" in str(info.value)
    # without the check: the tag lands beside the tool's own, and Airflow's API lists tags sorted by
    # name, so the DAG of branch zz-feature reads back as main's
    if tag == "branch:main":
        from kedro_af_ci.plan.model import owner_tags

        assert owner_of(sorted([*owner_tags("zz-feature", None), tag])).branch == "branch:main"


def test_deferrable_pods_wait_in_the_triggerer(tmp_path):
    config = make_config(tmp_path, {"image": "a:1", "deferrable": True,
                                    "mlflow": {"enabled": True, "tracking_uri": "http://mlflow:5000"}}, git_info=GIT)
    plan = build_plan(make_graph(NODES), config, GIT, schedule=None)
    rendered = render_dag(plan)  # the pre-flight: loaded in Airflow's DagBag
    dag = load_dag(rendered.source, plan.dag.dag_id, tmp_path)
    pods = [t for t in dag.tasks if type(t).__name__ == "KubernetesPodOperator"]
    assert {"train", "start_mlflow_run"} <= {t.task_id for t in pods}
    assert all(t.deferrable for t in pods)
    assert {(t.poll_interval, t.startup_check_interval_seconds) for t in pods} == {(10, 10)}  # see DEFERRED_POLL
    assert "Deferrable: each pod's task hands its wait to Airflow's triggerer" in ast.get_docstring(
        ast.parse(rendered.source))
    plain = dag_of(tmp_path / "plain", {})
    assert not any(getattr(t, "deferrable", False) for t in plain.tasks)


@pytest.mark.parametrize("execution", ["docker", "local"])
def test_deferrable_says_it_does_not_apply_without_pods(tmp_path, execution):
    config = make_config(tmp_path, {"image": "a:1", "execution": execution, "deferrable": True}, git_info=GIT)
    plan = build_plan(make_graph(NODES), config, GIT, schedule=None)
    assert ("deferrable-not-applied", "run_config.deferrable") in [(w.code, w.key) for w in plan.warnings]
    assert "deferrable" not in render_dag(plan, preflight=False).source.lower()
