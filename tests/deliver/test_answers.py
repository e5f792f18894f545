"""The Airflow API's answers become small dataclasses in one place (deliver/answers.py): the same DAG,
run or task instance answered by API v2 (Airflow 3) and v1 (Airflow 2) reads the same; a malformed
answer is one AirflowApiError naming the call and the key; keys this tool does not read are ignored.

The answers are shaped as Airflow 3.0 and 2.10 send them (trimmed of keys that change nothing).
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from attacks import RecordingServer as Server

from kedro_af_ci.deliver.answers import DagInfo, DagRunInfo, ImportErrorInfo, TaskInstanceInfo
from kedro_af_ci.deliver.client import AirflowClient, Credentials
from kedro_af_ci.errors import AirflowApiError

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

TAGS = ("generated_with_kedro_airflow_k8s:0.1.0", "branch:main", "commit:abc")

DAG_V2 = {"dag_id": "sf", "dag_display_name": "Spaceflights", "is_paused": True, "is_stale": False,
          "last_parsed_time": "2025-06-01T05:00:00Z", "last_expired": None, "bundle_name": "dags-folder",
          "bundle_version": None, "relative_fileloc": "sf.py", "fileloc": "/opt/airflow/dags/sf.py",
          "description": None, "timetable_summary": "0 5 * * *", "timetable_description": "At 05:00",
          "tags": [{"name": tag, "dag_id": "sf"} for tag in TAGS], "max_active_tasks": 16,
          "owners": ["airflow"], "file_token": "Ii9vcHQvYWlyZmxvdy9kYWdzL3NmLnB5Ig.token"}
DAG_V1 = {"dag_id": "sf", "dag_display_name": "Spaceflights", "root_dag_id": None, "is_paused": True,
          "is_active": True, "is_subdag": False, "last_parsed_time": "2025-06-01T05:00:00+00:00",
          "default_view": "grid", "fileloc": "/opt/airflow/dags/sf.py",
          "file_token": "Ii9vcHQvYWlyZmxvdy9kYWdzL3NmLnB5Ig.token", "owners": ["airflow"], "description": None,
          "schedule_interval": {"__type": "CronExpression", "value": "0 5 * * *"},
          "timetable_description": "At 05:00", "tags": [{"name": tag} for tag in TAGS], "max_active_tasks": 16}

RUN_V2 = {"dag_run_id": "kaf_run_once__abc__20250601T050000", "dag_id": "sf",
          "logical_date": "2025-06-01T05:00:00Z", "queued_at": "2025-06-01T05:00:01Z",
          "start_date": "2025-06-01T05:00:02Z", "end_date": None, "data_interval_start": "2025-06-01T05:00:00Z",
          "run_after": "2025-06-01T05:00:00Z", "run_type": "manual", "state": "running",
          "triggered_by": "rest_api", "conf": {}, "note": None, "dag_versions": [{"version_number": 1}]}
RUN_V1 = {"dag_run_id": "kaf_run_once__abc__20250601T050000", "dag_id": "sf",
          "logical_date": "2025-06-01T05:00:00Z", "execution_date": "2025-06-01T05:00:00Z",
          "start_date": "2025-06-01T05:00:02Z", "end_date": None, "run_type": "manual", "state": "running",
          "external_trigger": True, "conf": {}, "note": None}

TI = {"task_id": "split", "dag_id": "sf", "dag_run_id": "r", "map_index": -1, "start_date": "2025-06-01T05:00:03Z",
      "end_date": "2025-06-01T05:00:07Z", "duration": 4, "state": "failed", "try_number": 2,
      "max_tries": 2, "hostname": "worker", "operator": "KubernetesPodOperator", "rendered_fields": {}}


def test_a_dag_reads_the_same_from_both_apis():
    v2, v1 = DagInfo.from_api(DAG_V2, "v2"), DagInfo.from_api(DAG_V1, "v1")
    assert v2 == DagInfo(dag_id="sf", tags=TAGS, is_paused=True, display_name="Spaceflights", schedule="0 5 * * *",
                         file_token=DAG_V2["file_token"], bundle_name="dags-folder", is_stale=False)
    assert v1 == dataclasses.replace(v2, bundle_name=None)  # DAG bundles are Airflow 3's


@pytest.mark.parametrize(("api", "answer"), [
    ("v2", {"timetable_summary": None}), ("v2", {"timetable_summary": "None"}), ("v2", {}),
    ("v1", {"schedule_interval": None}),
    ("v1", {"timetable_summary": "0 5 * * *"}),  # a v2 key on Airflow 2 is not read as its schedule
])
def test_unscheduled_dags_have_no_schedule(api, answer):
    assert DagInfo.from_api({"dag_id": "d", **answer}, api).schedule is None


@pytest.mark.parametrize(("interval", "said"), [
    ({"__type": "TimeDelta", "days": 1, "seconds": 0, "microseconds": 0}, "TimeDelta(days=1)"),
    ({"__type": "RelativeDelta", "months": 1, "day": 1}, "RelativeDelta(day=1, months=1)"),
])
def test_an_airflow_2_interval_schedule_is_a_schedule(interval, said):
    """A DAG scheduled every day (a timedelta) is scheduled: delete and run-once then refuse to replace
    it without --force, as they do a cron-scheduled one."""
    assert DagInfo.from_api({"dag_id": "d", "schedule_interval": interval}, "v1").schedule == said


def test_a_run_reads_the_same_from_both_apis():
    v2 = DagRunInfo.from_api(RUN_V2, "v2")
    assert v2 == DagRunInfo(run_id=RUN_V2["dag_run_id"], state="running", run_type="manual",
                            logical_date="2025-06-01T05:00:00Z", run_after="2025-06-01T05:00:00Z",
                            start_date="2025-06-01T05:00:02Z", queued_at="2025-06-01T05:00:01Z")
    assert DagRunInfo.from_api(RUN_V1, "v1") == dataclasses.replace(v2, run_after=None, queued_at=None)


def test_an_airflow_2_run_without_logical_date_is_read_by_its_execution_date():
    old = {key: value for key, value in RUN_V1.items() if key != "logical_date"}
    assert DagRunInfo.from_api(old, "v1").logical_date == "2025-06-01T05:00:00Z"
    assert DagRunInfo.from_api({"dag_run_id": "r", "execution_date": "x"}, "v2").logical_date is None


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_task_instance_reads_the_same_from_both_apis(api):
    assert TaskInstanceInfo.from_api(TI, api) == TaskInstanceInfo(
        task_id="split", state="failed", try_number=2, duration=4.0, start_date="2025-06-01T05:00:03Z")
    assert TaskInstanceInfo.from_api({"task_id": "t", "state": None}, api) == TaskInstanceInfo("t")


def test_an_import_error_reads_its_file_trace_and_time():
    answer = {"import_error_id": 1, "timestamp": "2025-06-01T05:00:00Z", "filename": "/dags/sf.py",
              "bundle_name": "dags-folder", "stack_trace": "Traceback …\nNameError: x"}
    assert ImportErrorInfo.from_api(answer, "v2") == ImportErrorInfo("/dags/sf.py", "Traceback …\nNameError: x",
                                                                    "2025-06-01T05:00:00Z")


def test_keys_this_tool_does_not_read_are_ignored_whatever_they_hold():
    extra = {"dag_id": "d", "owners": 3, "fileloc": ["odd"], "new_in_airflow_4": {"x": [1, None]}}
    assert DagInfo.from_api(extra, "v2") == DagInfo("d")
    assert DagRunInfo.from_api({"dag_run_id": "r", "conf": "not an object", "note": 5}, "v2") == DagRunInfo("r")


DAG, RUN, TASK = DagInfo.from_api, DagRunInfo.from_api, TaskInstanceInfo.from_api


@pytest.mark.parametrize(("parse", "answer", "message"), [
    (DAG, {"tags": []}, r"the DAG has no 'dag_id' \(expected a string\)"),
    (DAG, {"dag_id": None}, r"the DAG has no 'dag_id'"),
    (DAG, {"dag_id": 7}, r"the DAG's 'dag_id' is a number, expected a string"),
    (DAG, {"dag_id": "d", "tags": "branch:main"}, r"the DAG's 'tags' is a string, expected a list of tags"),
    (DAG, {"dag_id": "d", "tags": [{"label": "x"}]}, r"the DAG's 'tags' holds an object, expected \{\"name\""),
    (DAG, {"dag_id": "d", "tags": [3]}, r"the DAG's 'tags' holds a number"),
    (DAG, {"dag_id": "d", "is_paused": "yes"}, r"the DAG's 'is_paused' is a string, expected true, false"),
    (DAG, {"dag_id": "d", "file_token": 1}, r"the DAG's 'file_token' is a number, expected a string"),
    (DAG, {"dag_id": "d", "timetable_summary": ["@daily"]}, r"the DAG's 'timetable_summary' is a list"),
    (RUN, {"state": "running"}, r"the DAG run has no 'dag_run_id'"),
    (RUN, {"dag_run_id": "r", "state": 1}, r"the DAG run's 'state' is a number"),
    (TASK, {"task_id": "t", "try_number": "2"}, r"the task instance's 'try_number' is a string, expected an integer"),
    (TASK, {"task_id": "t", "try_number": True}, r"the task instance's 'try_number' is a boolean"),
    (TASK, {"task_id": "t", "duration": "4s"}, r"the task instance's 'duration' is a string, expected a number"),
    (TASK, ["t"], r"the task instance is a list, expected a JSON object"),
    (DAG, None, r"the DAG is null, expected a JSON object"),
])
def test_a_malformed_answer_names_the_call_and_the_key(parse, answer, message):
    with pytest.raises(AirflowApiError, match=rf"^GET /api/v2/x: {message}"):
        parse(answer, "v2", "GET /api/v2/x")


def test_a_v1_schedule_interval_of_the_wrong_shape_is_named():
    with pytest.raises(AirflowApiError, match="'schedule_interval' is a string, expected an object"):
        DagInfo.from_api({"dag_id": "d", "schedule_interval": "0 5 * * *"}, "v1")
    with pytest.raises(AirflowApiError, match="the DAG's schedule_interval's 'value' is a number"):
        DagInfo.from_api({"dag_id": "d", "schedule_interval": {"value": 5}}, "v1")


# -- through the client: the call is named, whichever API the server speaks --------------------------


def airflow(api: str, answers: dict[str, object]) -> Server:
    """An Airflow speaking API ``api`` that answers each path (query cut) from ``answers``; anything a
    bytes value is sent as it is."""
    version = {"v2": "3.0.2", "v1": "2.10.5"}[api]

    def answer(method, path):
        path = path.split("?")[0]
        if path == f"/api/{api}/version":
            body: object = {"version": version}
        elif path not in answers:
            return 404, {"Content-Type": "application/json"}, b'{"detail": "not found"}'
        else:
            body = answers[path]
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        return 200, {"Content-Type": "application/json"}, payload

    return Server(answer)


@pytest.mark.parametrize(("api", "dag"), [("v2", DAG_V2), ("v1", DAG_V1)])
def test_the_client_answers_dataclasses_in_both_apis(api, dag):
    runs = {"dag_runs": [RUN_V2 if api == "v2" else RUN_V1], "total_entries": 1}
    server = airflow(api, {f"/api/{api}/dags/sf": dag, f"/api/{api}/dags": {"dags": [dag], "total_entries": 1},
                           f"/api/{api}/dags/sf/dagRuns": runs,
                           f"/api/{api}/dags/sf/dagRuns/r/taskInstances": {"task_instances": [TI], "total_entries": 1}})
    try:
        client = AirflowClient(server.url, Credentials(token="t" * 8), retries=0)
        got = client.get_dag("sf")
        assert got is not None and got.schedule == "0 5 * * *" and got.tags == TAGS
        assert client.list_dags() == [got] and client.get_dag("other") is None
        assert [run.run_id for run in client.latest_runs("sf")] == [RUN_V2["dag_run_id"]]
        assert client.unfinished_runs("sf") == [RUN_V2["dag_run_id"]]
        assert client.task_instances("sf", "r") == [TaskInstanceInfo.from_api(TI, api)]
    finally:
        server.close()


@pytest.mark.parametrize(("answers", "call", "message"), [
    ({"/api/v2/dags/sf": {"dag_display_name": "sf"}}, lambda c: c.get_dag("sf"),
     r"^GET /api/v2/dags/sf: the DAG has no 'dag_id' \(expected a string\)$"),
    ({"/api/v2/dags": {"dags": [DAG_V2, {"dag_id": "x", "tags": "a"}], "total_entries": 2}}, lambda c: c.list_dags(),
     r"^GET /api/v2/dags: the DAG's 'tags' is a string, expected a list of tags$"),
    ({"/api/v2/dags": {"dags": {"sf": DAG_V2}}}, lambda c: c.list_dags(),
     r"^GET /api/v2/dags: 'dags' is an object, expected a list$"),
    ({"/api/v2/dags/sf": b"<html>Sign in</html>"}, lambda c: c.get_dag("sf"),
     r"^GET /api/v2/dags/sf: the answer \(HTTP 200\) is not JSON$"),
    ({"/api/v2/dags/sf/dagRuns/r": ["r"]}, lambda c: c.get_run("sf", "r"),
     r"^GET /api/v2/dags/sf/dagRuns/r: the answer is a list, expected a JSON object$"),
    ({"/api/v2/dags/sf/dagRuns": {"dag_runs": [{"state": "running"}]}}, lambda c: c.latest_runs("sf"),
     r"^GET /api/v2/dags/sf/dagRuns: the DAG run has no 'dag_run_id'"),
])
def test_a_malformed_answer_through_the_client_is_one_error_naming_the_call(answers, call, message):
    server = airflow("v2", answers)
    try:
        with pytest.raises(AirflowApiError, match=message):
            call(AirflowClient(server.url, Credentials(token="t" * 8), retries=0))
    finally:
        server.close()


@pytest.mark.parametrize(("api", "run"), [
    ("v2", {"dag_run_id": "r", "logical_date": None, "run_after": "2025-01-01T05:00:00Z", "state": "success"}),
    ("v1", {"dag_run_id": "r", "execution_date": "2025-01-01T05:00:00+00:00", "state": "success"}),
])
def test_prune_reads_when_a_dag_last_ran_from_either_api(api, run):
    """A run's time is Airflow 3's run_after, or Airflow 2's logical (once execution) date."""
    from datetime import datetime, timezone

    from kedro_af_ci.deliver.prune import StaleDag, stale_dags
    from kedro_af_ci.plan.model import owner_tags

    tags = [{"name": "generated_with_kedro_airflow_k8s:0.1.0"}, *({"name": t} for t in owner_tags("main", None))]
    server = airflow(api, {f"/api/{api}/dags": {"dags": [{"dag_id": "sf", "tags": tags}], "total_entries": 1},
                           f"/api/{api}/dags/sf/dagRuns": {"dag_runs": [run], "total_entries": 1}})
    try:
        client = AirflowClient(server.url, Credentials(token="t" * 8), retries=0)
        found = stale_dags(client, {"main"}, repository=None, older_than_days=30,
                           now=datetime(2025, 3, 1, tzinfo=timezone.utc))
    finally:
        server.close()
    assert found == [StaleDag("sf", "main", "2025-01-01T05:00+00:00", "no run for 30+ days")]
