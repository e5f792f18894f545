"""Catalog datasets as Airflow Assets: which locations become Asset URIs, which task reads or writes
each, and what a branch may emit."""

from __future__ import annotations

import pytest
from conftest import load_dag, make_config, make_graph

from kedro_af_ci.errors import ConfigError
from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.plan.build import build_plan
from kedro_af_ci.render.dag import render_dag
from kedro_af_ci.vocabulary.asset_uris import asset_uri

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

GIT = GitInfo("0123456789abcdef0123456789abcdef01234567", "main")
NODES = [("prep", ["raw", "params:x"], ["features"], []), ("train", ["features"], ["model", "scratch"], []),
         ("score", ["model", "scratch"], ["scores@pandas"], [])]
DATASETS = {
    "raw": {"type": "pandas.CSVDataset", "location": "gs://landing/raw.csv"},
    "features": {"type": "pandas.ParquetDataset", "location": "s3://lake/features"},
    "model": {"type": "pickle.PickleDataset", "location": "data/06_models/model.pkl"},  # no fixed place
    "scratch": {"type": "MemoryDataset", "memory": True},
    "scores": {"type": "pandas.CSVDataset", "location": "abfs://c@acct.dfs.core.windows.net/scores.csv"},
    "params:x": {"type": None, "parameters": True},
}


@pytest.mark.parametrize(("location", "uri"), [
    ("s3://bucket/a/b.csv", "s3://bucket/a/b.csv"),
    ("gcs://bucket/x", "gs://bucket/x"),
    ("s3a://bucket/x", "s3://bucket/x"),
    ("file:///srv/data/x.csv", "file:///srv/data/x.csv"),
    ("bigquery://proj/ds/table", "bigquery://proj/ds/table"),
    ("data/01_raw/x.csv", None),  # relative: inside the pod's volume, not a shared place
    ("s3://key:secret@bucket/x", None),  # credentials never reach a URI
    ("abfs://container@account.dfs.core.windows.net/x/", "abfs://container@account.dfs.core.windows.net/x"),
    ("s3://bucket/{{ var.value.x }}", None),  # Jinja: never read as a template
    ("s3://bucket/x?versionId=1", None),
    ("http://example.com/x", None),
    ("s3://bucket", None),
    ("s3://bücket/x", None),
])
def test_only_clean_uris_of_known_schemes_become_assets(location, uri):
    assert asset_uri(location) == uri


def compiled(tmp_path, run_config=None, run_once=False, outlet_prefixes=None):
    config = make_config(tmp_path, {"image": "a:1", "task_groups": "none", **(run_config or {})}, git_info=GIT)
    graph = make_graph(NODES, datasets=DATASETS)
    plan = build_plan(graph, config, GIT, run_once=run_once, outlet_prefixes=outlet_prefixes,
                      schedule=not run_once, grouping="none")
    return plan, load_dag(render_dag(plan, preflight=False).source, plan.dag.dag_id, tmp_path)


def uris(assets):
    return sorted(a.uri for a in assets)


@pytest.mark.parametrize("execution", ["kubernetes", "docker", "local"])
def test_writers_emit_and_readers_consume_the_assets(tmp_path, execution):
    plan, dag = compiled(tmp_path, {"execution": execution})
    prep, train, score = (dag.task_dict[n] for n in ("prep", "train", "score"))
    assert (uris(prep.inlets), uris(prep.outlets)) == (["gs://landing/raw.csv"], ["s3://lake/features"])
    assert (uris(train.inlets), uris(train.outlets)) == (["s3://lake/features"], [])
    assert uris(score.outlets) == ["abfs://c@acct.dfs.core.windows.net/scores.csv"]  # transcoded: one dataset
    assert uris(score.inlets) == []  # the model has no fixed location; scratch is in memory
    assert plan.assets.skipped == ("model: no fixed location (data/06_models/model.pkl)",)


def test_a_preview_or_a_branch_the_deployment_does_not_allow_emits_no_events(tmp_path):
    """An outlet's event starts every DAG scheduled on it: a preview branch's run must not start the
    DAGs scheduled on production data."""
    _, trusted = compiled(tmp_path / "trusted")
    assert uris(trusted.task_dict["prep"].outlets) == ["s3://lake/features"]  # what a preview would emit
    _, preview = compiled(tmp_path / "preview", run_once=True)
    assert preview.task_dict["prep"].outlets == [] and uris(preview.task_dict["prep"].inlets) == [
        "gs://landing/raw.csv"]
    _, none_allowed = compiled(tmp_path / "ci", outlet_prefixes=())
    assert none_allowed.task_dict["prep"].outlets == []
    _, allowed = compiled(tmp_path / "allowed", outlet_prefixes=("s3://lake/",))
    assert uris(allowed.task_dict["prep"].outlets) == ["s3://lake/features"]


def test_a_dag_scheduled_on_another_projects_assets(tmp_path):
    plan, dag = compiled(tmp_path, {"schedule_on_assets": ["s3://lake/features", "gs://landing/raw.csv"],
                                    "cron_expression": None})
    assert plan.assets.schedule == ("s3://lake/features", "gs://landing/raw.csv")
    assert "s3://lake/features" in str(dag.timetable.asset_condition) or \
        "s3://lake/features" in repr(dag.timetable)


@pytest.mark.parametrize(("run_config", "expected"), [
    ({"schedule_on_assets": ["s3://k:s@b/x"]}, "is not an Asset URI this tool writes"),
    ({"schedule_on_assets": ["s3://b/x"], "cron_expression": "0 6 * * *"}, "not both"),
])
def test_bad_asset_schedules_are_refused(tmp_path, run_config, expected):
    with pytest.raises(ConfigError) as info:
        make_config(tmp_path, {"image": "a:1", **run_config}, git_info=GIT)
    assert expected in str(info.value)


def test_date_macros_cannot_render_in_a_run_an_asset_starts(tmp_path):
    run_config = {"image": "a:1", "schedule_on_assets": ["s3://lake/x"], "macro_params": ["ds", "run_id"]}
    config = make_config(tmp_path, run_config, git_info=GIT)
    with pytest.raises(ConfigError) as info:
        build_plan(make_graph(NODES, datasets=DATASETS), config, GIT, airflow_major=3)
    assert "ds: a run started by an Asset" in str(info.value) and "run_config.macro_params" in str(info.value)
    plan = build_plan(make_graph(NODES, datasets=DATASETS), config, GIT, airflow_major=None)
    assert "macro-without-logical-date" in {w.code for w in plan.warnings}


def test_the_dag_with_assets_and_groups_is_the_same_bytes_every_time(tmp_path):
    sources = set()
    for attempt in range(2):
        config = make_config(tmp_path / str(attempt), {"image": "a:1"}, git_info=GIT)
        graph = make_graph(NODES, datasets=DATASETS)
        sources.add(render_dag(build_plan(graph, config, GIT, grouping="none"), preflight=False).source)
    [source] = sources
    assert "ASSETS_OF" in source
