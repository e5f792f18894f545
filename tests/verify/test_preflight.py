"""The pre-flight in its own process: same answers as in-process, remembered per source and Airflow
version in a private cache only, and errors that name what failed."""

from __future__ import annotations

import os

import pytest

from kedro_af_ci.errors import PreflightError
from kedro_af_ci.verify.preflight import PreflightWorker, verify_source

pytestmark = pytest.mark.airflow

GOOD = '''
import datetime
from airflow import DAG
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

with DAG("worker_check", schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:
    KubernetesPodOperator(task_id="a", image="busybox", name="a")
    KubernetesPodOperator(task_id="b", image="busybox", name="b")
'''


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "kedro-af-ci" / "verified"


def test_worker_answers_as_the_in_process_check_and_remembers_a_success(private_cache):
    with PreflightWorker() as worker:
        result = worker.verify(GOOD, "worker_check")
        with pytest.raises(PreflightError) as failed:
            worker.verify(GOOD.replace("KubernetesPodOperator(task_id=\"b\"", "Missing(task_id=\"b\""), "worker_check")
    assert result == verify_source(GOOD, "worker_check")
    assert (result.checked, result.task_count) == (True, 2)
    assert "NameError: name 'Missing' is not defined" in str(failed.value)
    assert len(list(private_cache.iterdir())) == 1  # the success only
    closed = PreflightWorker()
    closed.close()  # an identical source with the same Airflow is not parsed again
    assert closed.verify(GOOD, "worker_check") == result


def test_a_cache_folder_others_can_write_is_not_trusted(private_cache):
    private_cache.mkdir(parents=True)
    os.chmod(private_cache, 0o777)
    with PreflightWorker() as worker:
        worker.verify(GOOD, "worker_check")
    assert list(private_cache.iterdir()) == []
    closed = PreflightWorker()
    closed.close()
    with pytest.raises(PreflightError, match="the pre-flight process ended"):
        closed.verify(GOOD, "worker_check")  # nothing remembered: it had to ask the (ended) worker


def test_in_ci_no_remembered_success_is_trusted(private_cache, monkeypatch):
    """A branch's code ran before this step as the same user: it could plant a "verified" marker for a
    DAG that does not load. Outside CI the marker is trusted (the attack works); in CI it is not read."""
    broken = GOOD.replace("KubernetesPodOperator(task_id=\"b\"", "Missing(task_id=\"b\"")
    with PreflightWorker() as worker:
        worker.verify(GOOD, "worker_check")
    planted = next(private_cache.iterdir())
    from kedro_af_ci.verify.preflight import _verified_marker

    planted.rename(_verified_marker(broken))
    closed = PreflightWorker()
    closed.close()
    assert closed.verify(broken, "worker_check").checked  # the planted success is believed
    monkeypatch.setenv("CI", "true")
    with PreflightWorker() as worker, pytest.raises(PreflightError, match="Missing"):
        worker.verify(broken, "worker_check")


def test_compile_checks_in_a_worker_and_never_imports_airflow_itself(example_repo, tmp_path):
    """Airflow loads in the worker while Kedro loads here: no process holds both (docs: "Verify")."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from kedro_af_ci.cli import airflow_k8s\n"
        f"airflow_k8s.main(['--project-path', {str(example_repo[0])!r}, 'compile', '-o', {str(tmp_path / 'd.py')!r}],"
        " standalone_mode=False)\n"
        "print('AIRFLOW-IMPORTED', 'airflow' in sys.modules)\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # a cold cache: the worker really checks
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "AIRFLOW-IMPORTED False" in out.stdout
    assert len(list((tmp_path / "cache" / "kedro-af-ci" / "verified").iterdir())) == 1  # the worker checked it


@pytest.mark.parametrize(("module", "package"), [
    ("airflow.providers.apache.nosuch.operators.submit", "apache-airflow-providers-apache-nosuch"),
    ("airflow.providers.nosuchcloud.data_lake.operators.copy", "apache-airflow-providers-nosuchcloud-data-lake"),
])
def test_a_missing_provider_is_named_as_pip_knows_it(module, package):
    """The import error names a module, or only a namespace the provider would have created; the
    distribution is the module path up to its operators part (the Spark provider is …-apache-spark)."""
    source = GOOD.replace("from airflow import DAG", f"from airflow import DAG\nfrom {module} import Op")
    with pytest.raises(PreflightError, match=f"install {package} where the pre-flight runs"):
        verify_source(source, "worker_check")
