"""A branch cannot take another branch's DAG (README, "Security model"): run-once DAG ids are
one-to-one with the branch name, every DAG's tags say whose it is, and an upload over a DAG of
another branch or repository, or over a file this tool did not write, is refused; in the DAGs folder
(a real folder, and moto's S3) and in Airflow itself."""

from __future__ import annotations

import json

import pytest
from attacks import RecordingServer as Server
from conftest import make_config, make_graph
from hypothesis import given
from hypothesis import strategies as st

from kedro_af_ci.deliver.client import AirflowClient, Credentials
from kedro_af_ci.deliver.deploy import DeployRequest, deploy
from kedro_af_ci.deliver.ownership import tags_in_source
from kedro_af_ci.deliver.upload import upload_dag
from kedro_af_ci.errors import ConfigError
from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.plan.build import build_plan
from kedro_af_ci.render.dag import render_dag
from kedro_af_ci.vocabulary.k8s_names import dag_id_of, sanitize_id

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

GRAPH = make_graph([("a", [], ["x"], [])])


def dag_of(tmp_path, branch: str, repository: str | None = "acme/spaceflights", run_name: str = "sf-${branch_name}"):
    git = GitInfo("0123456789abcdef0123456789abcdef01234567", branch, repository=repository)
    config = make_config(tmp_path / f"{len(branch)}-{hash(branch) & 0xffff}", {"image": "a:1", "run_name": run_name},
                         git_info=git)
    return render_dag(build_plan(GRAPH, config, git, schedule=None, run_once=True))


def test_a_branch_named_to_hit_another_branchs_dag_id_gets_its_own():
    victim = "sf-feature/price"
    old = sanitize_id(victim)  # the former id: clean names kept, lossy ones hashed (6 hex)
    attacker = old  # a branch named exactly like that hashed id ("sf-" + branch, with the branch chosen so)
    assert sanitize_id(attacker) == sanitize_id(victim)  # the takeover the former ids allowed
    assert dag_id_of(attacker) != dag_id_of(victim)


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_dag_ids_are_one_to_one(a, b):
    if a != b:
        assert dag_id_of(a) != dag_id_of(b)


def test_the_dag_says_whose_it_is(tmp_path):
    tags = tags_in_source(dag_of(tmp_path, "feature/x").source)
    assert "branch:feature/x" in tags and "repository:acme/spaceflights" in tags
    long = tags_in_source(dag_of(tmp_path, "b" * 300).source)
    branch = next(t for t in long if t.startswith("branch:"))
    assert len(branch) == 100 and branch != next(
        t for t in tags_in_source(dag_of(tmp_path, "b" * 299 + "c").source) if t.startswith("branch:"))


def test_an_upload_over_another_branchs_dag_file_is_refused(tmp_path):
    folder = str(tmp_path / "dags")
    mine = dag_of(tmp_path, "feature/x", run_name="shared-name")
    theirs = dag_of(tmp_path, "feature/y", run_name="shared-name")
    upload_dag(mine.source, folder, "shared-name.py")
    upload_dag(mine.source, folder, "shared-name.py")  # the same branch again: fine
    with pytest.raises(ConfigError, match=r"is the DAG of branch:feature/x: a DAG is replaced only by its own branch"):
        upload_dag(theirs.source, folder, "shared-name.py")
    assert (tmp_path / "dags" / "shared-name.py").read_text() == mine.source  # untouched
    other_repo = dag_of(tmp_path, "feature/x", repository="someone/else", run_name="shared-name")
    with pytest.raises(ConfigError, match="is the DAG of repository:acme/spaceflights"):
        upload_dag(other_repo.source, folder, "shared-name.py")


def test_a_file_this_tool_did_not_write_is_not_replaced(tmp_path):
    target = tmp_path / "dags" / "sf-feature_x.py"
    target.parent.mkdir()
    target.write_text("# the platform team's own DAG\n")
    dag = dag_of(tmp_path, "feature/x", run_name="sf-feature_x")
    with pytest.raises(ConfigError, match="holds a DAG this tool did not generate"):
        upload_dag(dag.source, str(tmp_path / "dags"), "sf-feature_x.py")
    assert target.read_text() == "# the platform team's own DAG\n"


def test_the_same_holds_in_a_bucket(tmp_path, s3_endpoint, monkeypatch):
    _, env = s3_endpoint
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    mine, theirs = dag_of(tmp_path, "main", run_name="bucket-dag"), dag_of(tmp_path, "feature/z", run_name="bucket-dag")
    upload_dag(mine.source, "s3://dags-bucket/ownership", "bucket-dag.py")
    with pytest.raises(ConfigError, match="is the DAG of branch:main"):
        upload_dag(theirs.source, "s3://dags-bucket/ownership", "bucket-dag.py")


def test_run_once_over_a_dag_airflow_serves_for_another_branch_is_refused_before_any_upload(tmp_path):
    """Airflow may serve the id from another file (another folder, another project): its tags decide."""
    served = {"dag_id": "sf-shared", "tags": [{"name": "generated_with_kedro_airflow_k8s:0.1.0"},
                                              {"name": "branch:main"}], "timetable_summary": None}

    def answer(method, path):
        if path == "/api/v2/version":
            return 200, {"Content-Type": "application/json"}, b'{"version": "3.3.2"}'
        return 200, {"Content-Type": "application/json"}, json.dumps(served).encode()

    airflow = Server(answer)
    try:
        dag = dag_of(tmp_path, "feature/x", run_name="sf-shared")
        request = DeployRequest(source=dag.source, dag_id="sf-shared", content_tag=dag.content_tag,
                                destination=str(tmp_path / "dags"), wait=False, timeout=10, version_timeout=10, poll=1)
        with pytest.raises(ConfigError, match=r"DAG 'sf-shared' in Airflow is the DAG of branch:main"):
            deploy(AirflowClient(airflow.url, Credentials(token="t" * 8), retries=0), request)
        assert not (tmp_path / "dags").exists()
    finally:
        airflow.close()
