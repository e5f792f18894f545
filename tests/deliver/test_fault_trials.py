"""50 trigger-and-wait trials through a fault-injecting proxy in front of the real Airflow 3.

Each trial draws (from a fixed seed) a mix of 500/502/503, 429 with Retry-After, connection
resets, answers lost after the server acted, and answers slower than the client's timeout, on the
calls run-once makes. Half the trials run a DAG that succeeds and half one that fails, so "the
final state is right" is checked both ways; the run count on the server proves no double trigger.
"""

from __future__ import annotations

import random
import time

import pytest
from faultproxy import FaultProxy, Rule

from kedro_af_ci.deliver.client import AirflowClient, Credentials
from kedro_af_ci.deliver.deploy import Progress, trigger_and_wait

pytestmark = pytest.mark.slow

TRIALS = 50
DAGS = {
    "kaf_fault_ok": ("from airflow.providers.standard.operators.empty import EmptyOperator\n"
                     "EmptyOperator(task_id='nothing')", "success"),
    "kaf_fault_bad": ("from airflow.providers.standard.operators.bash import BashOperator\n"
                      "BashOperator(task_id='boom', bash_command='exit 3', retries=0)", "failed"),
}
MENU = [
    ("GET", "/dags/{dag}", ["status:500", "status:503", "reset", "slow:4"]),
    ("PATCH", "/dags/{dag}", ["status:502", "lose-answer", "reset"]),
    ("POST", "/dagRuns", ["lose-answer", "status:503", "reset", "slow:4"]),
    ("GET", "/dagRuns/", ["status:429", "status:500", "reset", "slow:4"]),
    ("GET", "/taskInstances", ["status:502", "reset"]),
    ("POST", "/auth/token", ["status:503", "reset"]),
]


def _dag_source(dag_id: str, body: str) -> str:
    return ("import pendulum\nfrom airflow.sdk import DAG\n"
            f"with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False,\n"
            "         is_paused_upon_creation=False, max_active_runs=16):\n"
            + "\n".join("    " + line for line in body.splitlines()) + "\n")


@pytest.fixture(scope="module")
def fault_dags(airflow_server):
    client = AirflowClient(airflow_server.url, Credentials(username="admin", password=airflow_server.password))
    for dag_id, (body, _) in DAGS.items():
        (airflow_server.dags_folder / f"{dag_id}.py").write_text(_dag_source(dag_id, body))
    client.reparse(client.known_file_token("kaf"))  # new files: ask for the rescan run-once asks for
    deadline = time.monotonic() + 240
    while not all(client.get_dag(d) for d in DAGS):
        assert time.monotonic() < deadline, "Airflow did not load the fault-trial DAGs"
        time.sleep(1)
    return client


def test_fifty_faulty_run_once_trials(fault_dags, airflow_server, capsys):
    upstream = fault_dags
    rng = random.Random(20261122)
    ok = double = 0
    problems, faults_injected = [], 0
    started = time.monotonic()
    for trial in range(TRIALS):
        dag_id = "kaf_fault_ok" if trial % 2 == 0 else "kaf_fault_bad"
        expected = DAGS[dag_id][1]
        rules = []
        for method, fragment, actions in rng.sample(MENU, k=rng.randint(2, 4)):
            rules.append(Rule(method, fragment.format(dag=dag_id), rng.choice(actions), times=rng.randint(1, 2)))
        run_id = f"kaf_fault_trial_{trial:02d}"
        proxy = FaultProxy(airflow_server.url, rules=rules)
        url = proxy.start()
        try:
            client = AirflowClient(url, Credentials(username="admin", password=airflow_server.password),
                                   backoff=0.05, retries=6, timeout=2)
            outcome = trigger_and_wait(client, dag_id, run_id, wait=True, timeout=300, poll=0.5,
                                       progress=Progress(enabled_tty=False))
            state = outcome.state
        except Exception as exc:  # a trial that raises counts as wrong
            state = f"error: {type(exc).__name__}: {exc}"
        finally:
            proxy.stop()
        faults_injected += sum(rule.used for rule in rules)
        runs = [r for r in upstream.latest_runs(dag_id, limit=200) if r.run_id == run_id]
        double += len(runs) > 1
        if state == expected and len(runs) == 1:
            ok += 1
        else:
            problems.append((trial, dag_id, state, len(runs), [(r.method, r.fragment, r.action) for r in rules]))
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(f"\nfaults: {ok}/{TRIALS} ok, {double} double triggers, {faults_injected} faults injected, "
              f"{elapsed:.0f}s total ({elapsed / TRIALS:.1f}s per trial)")
    assert problems == []
    assert double == 0
    assert faults_injected >= TRIALS  # the proxy really got in the way
