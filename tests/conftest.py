"""Shared test setup: one Airflow home and a dummy kubeconfig per session, the example project in a
real git repository, and helpers to load generated DAGs in Airflow's real DagBag.

The kubeconfig is a stub in the sense the guide allows: no Kubernetes cluster runs here, and
``build_pod_request_obj()`` only needs a syntactically valid config to build the real V1Pod.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "spaceflights"

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="kaf-tests-"))
KUBECONFIG = _SESSION_DIR / "kubeconfig"
KUBECONFIG.write_text(
    """apiVersion: v1
kind: Config
clusters:
- cluster: {server: "https://127.0.0.1:6443"}
  name: stub
contexts:
- context: {cluster: stub, user: stub, namespace: default}
  name: stub
current-context: stub
users:
- name: stub
  user: {token: stub-token}
"""
)
os.environ.setdefault("AIRFLOW_HOME", str(_SESSION_DIR / "airflow"))
os.environ["KUBECONFIG"] = str(KUBECONFIG)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["KEDRO_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "1"
# the suite runs the CLI as a user does on their own checkout (trusted config); the tests of CI's trust
# boundary set these themselves
for _var in ("GITHUB_SHA", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_SHA", "CI_COMMIT_REF_NAME",
             "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_BRANCH", "KEDRO_ENV", "CI", "GITHUB_ACTIONS",
             "GITLAB_CI", "CI_JOB_ID", "GITHUB_REPOSITORY", "CI_PROJECT_PATH", "CI_DEFAULT_BRANCH"):
    os.environ.pop(_var, None)
for _var in [v for v in os.environ if v.startswith("KEDRO_CONFIG_")]:
    os.environ.pop(_var)


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def make_repo(path: Path, branch: str = "main") -> str:
    git(path, "init", "-q", "-b", branch)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return git(path, "rev-parse", "HEAD")


def copy_example(dest: Path) -> Path:
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", "dag", "0[2-8]_*"))
    return dest


@pytest.fixture(scope="session")
def example_repo(tmp_path_factory) -> tuple[Path, str]:
    """The example project committed on branch 'feature/price-model' of a real git repository."""
    path = copy_example(tmp_path_factory.mktemp("repo") / "spaceflights")
    commit = make_repo(path, branch="feature/price-model")
    return path, commit


@pytest.fixture(scope="session")
def example_graph(example_repo):
    from kedro_af_ci.graph.extract import extract_graph

    return extract_graph(example_repo[0])


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, check: bool = False):
    """The real console script in a subprocess, as users and the action call it."""
    exe = Path(sys.executable).with_name("kedro-af-ci")
    result = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, timeout=600)
    log_outputs("cli", result.stdout, result.stderr)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def load_dag(source: str, dag_id: str, folder: Path):
    """Load ``source`` in Airflow's DagBag and return the DAG (fails on any import error)."""
    from kedro_af_ci.verify.preflight import _dagbag_class

    path = folder / f"{dag_id}.py"
    path.write_text(source, encoding="utf-8")
    dagbag = _dagbag_class()(dag_folder=str(path), safe_mode=False)
    assert dagbag.import_errors == {}, dagbag.import_errors
    return dagbag.dags[dag_id]


RUN_ID = "manual__2026-11-22T10:00:00+00:00"


def render(task, **context):
    """Render a task's templated fields as a worker would, with a minimal context."""
    ctx = {"ds": "2026-11-22", "run_id": RUN_ID, "dag": task.dag, "task": task, **context}
    task.render_template_fields(ctx)
    return task


def build_pod(task, **context):
    """The real V1Pod the KubernetesPodOperator would submit, after rendering."""
    return render(task, **context).build_pod_request_obj()


def make_graph(nodes, datasets=None, pipeline="__default__", package="tiny"):
    """A PipelineGraph from (name, inputs, outputs, tags) tuples, without Kedro."""
    from kedro_af_ci.graph.model import DatasetInfo, GraphNode, PipelineGraph, ProjectInfo

    return PipelineGraph(
        project=ProjectInfo(package_name=package, project_name=package.title()),
        pipeline=pipeline,
        nodes=tuple(GraphNode(name=n, inputs=tuple(i), outputs=tuple(o), tags=tuple(t)) for n, i, o, t in nodes),
        datasets={k: DatasetInfo(**v) for k, v in (datasets or {}).items()},
    )


def make_config(tmp_path, run_config: dict, environ=None, git_info=None, **top):
    """Write conf/base/airflow-k8s.yaml from dicts and load it (real YAML and validation)."""
    import yaml

    from kedro_af_ci.config import load_config
    from kedro_af_ci.gitinfo.commit import GitInfo

    conf = tmp_path / "conf" / "base"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "airflow-k8s.yaml").write_text(yaml.safe_dump({**top, "run_config": run_config}))
    return load_config(tmp_path, environ=environ or {},
                       git_info=git_info or GitInfo("0123456789abcdef0123456789abcdef01234567", "main"))


class FakeTaskInstance:
    """The context's ``ti``: the MLflow tasks pull the run id the start task pushed."""

    task_id = "a"

    def xcom_pull(self, task_ids=None, key="return_value"):
        return "mlflow-run-1"


class FakeDagRun:
    """The context's ``dag_run``."""

    dag_id, run_id = "any", "manual__2026-11-22T10:00:00+00:00"

    def get_task_instances(self):  # what the MLflow status macro reads when the task SDK is not there
        return []


class FakeVariables:
    """Stands in for the context's ``var`` accessor in template rendering."""

    def __init__(self, values):
        self.value = self
        self._values = values

    def get(self, key, default=None):
        return self._values.get(key, default)

    def __getattr__(self, key):  # `var.value.NAME`: a missing Variable is an error, as in Airflow
        if key.startswith("_"):
            raise AttributeError(key)
        return self._values[key]


@pytest.fixture(scope="session")
def airflow_server(tmp_path_factory):
    """One real Airflow 3 standalone (SQLite, loopback) for the whole session."""
    from servers import start_airflow, stop

    server = start_airflow(tmp_path_factory.mktemp("airflow-server"))
    secret(server.password)
    yield server
    stop(server.proc)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """moto's S3 API server on loopback, with bucket 'dags-bucket'."""
    import boto3
    from servers import BIN, free_port, start, stop, wait_http

    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc = start([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], log)
    url = f"http://127.0.0.1:{port}"
    wait_http(url, 60, proc, log)
    creds = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test").create_bucket(Bucket="dags-bucket")
    yield url, {**creds, "AWS_ENDPOINT_URL": url}
    stop(proc)


@pytest.fixture(scope="session")
def gcs_endpoint(tmp_path_factory):
    """gcp-storage-emulator's GCS JSON API on loopback, with bucket 'dags-bucket'."""
    import requests
    from servers import BIN, free_port, start, stop, wait_http

    port = free_port()
    log = tmp_path_factory.mktemp("gcs") / "gcs.log"
    proc = start([str(BIN / "gcp-storage-emulator"), "start", "--host", "127.0.0.1", "--port", str(port),
                  "--in-memory"], log)
    url = f"http://127.0.0.1:{port}"
    wait_http(url, 60, proc, log)
    requests.post(f"{url}/storage/v1/b?project=test", json={"name": "dags-bucket"}, timeout=10).raise_for_status()
    yield url, {"STORAGE_EMULATOR_HOST": url}
    stop(proc)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real MLflow tracking server (SQLite backend) on loopback, from the virtualenv `make test` builds."""
    from servers import free_port, start, stop, wait_http

    python = os.environ.get("KAF_MLFLOW_PYTHON")
    assert python, "CI must provide KAF_MLFLOW_PYTHON: a Python with the mlflow server (see Makefile)"
    home = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    proc = start([python, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                  "--backend-store-uri", f"sqlite:///{home}/mlflow.db", "--default-artifact-root",
                  (home / "artifacts").as_uri()], home / "mlflow.log", cwd=home)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health", 180, proc, home / "mlflow.log")
    yield url
    stop(proc)


@pytest.fixture(scope="session")
def docker_stack(tmp_path_factory):
    """A real Docker engine, a registry with password auth, and the action image built from the
    repository's Dockerfile (tests/containers.py). Skipped where no engine runs or can be started,
    unless KAF_REQUIRE_DOCKER=1 (CI), which makes that a failure."""
    from containers import start_stack

    stack = start_stack(tmp_path_factory.mktemp("docker"))
    if stack is None:
        if os.environ.get("KAF_REQUIRE_DOCKER") == "1":
            pytest.fail("KAF_REQUIRE_DOCKER=1 but no Docker engine is reachable and none can be started here")
        pytest.skip("no Docker engine here: install Debian's docker.io and run as root, or start Docker")
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def k8s_cluster(docker_stack, tmp_path_factory):
    """A real single-node Kubernetes (tests/kube.py) whose runtime pulls from the session's registry, with a
    default StorageClass of `local` volumes; up for the module that uses it, so the rest of the suite does
    not share the machine with it. Skipped where it cannot run, unless KAF_REQUIRE_K8S=1 (CI), which
    makes that a failure."""
    from kube import start_cluster, why_not_here

    reason = why_not_here()
    if reason is not None:
        if os.environ.get("KAF_REQUIRE_K8S") == "1":
            pytest.fail(f"KAF_REQUIRE_K8S=1 but no cluster can run here: {reason}")
        pytest.skip(reason)
    cluster = start_cluster(docker_stack.registry.host, tmp_path_factory.mktemp("k8s"))
    try:
        cluster.local_volumes(12)
    except BaseException:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()


# Every credential the suite hands to the tool; the scan below finds none of them in what it wrote.
SECRETS: set[str] = set()


def secret(value: str) -> str:
    SECRETS.add(value)
    return value


# What the tool writes that users and CI read: logs and summaries, outputs, DAG files, archives.
SCANNED = ("**/github_output", "**/step_summary.md", "**/kedro-airflow-k8s-summary.md", "**/kedro-airflow-k8s.env",
           "**/dags/*.py", "**/dag/*.py", "**/*.tar.gz", "**/kaf-outputs/*.log")


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_output(tmp_path_factory):
    """After the whole session: no registered secret in any file the tool wrote (README, "Security model")."""
    yield
    import tarfile

    roots = (tmp_path_factory.getbasetemp(), _SESSION_DIR)
    found = []
    for pattern in SCANNED:
        for path in (p for root in roots for p in root.glob(pattern)):
            if not path.is_file():
                continue
            if path.name.endswith(".tar.gz"):
                with tarfile.open(path) as archive:
                    texts = [archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()]
            else:
                texts = [path.read_bytes()]
            found += [f"{path}: {s[:6]}…" for s in SECRETS for text in texts if s.encode() in text]
    assert not found, f"secrets in the tool's outputs: {found}"
    print(f"\nsecret scan: {len(SECRETS)} secrets, none in the outputs under {', '.join(map(str, roots))}")


def log_outputs(name: str, *texts: str) -> None:
    """Keep a run's stdout/stderr where the secret scan looks."""
    folder = Path(os.environ.get("KAF_OUTPUTS_DIR") or _SESSION_DIR / "kaf-outputs")
    folder.mkdir(parents=True, exist_ok=True)
    # `::add-mask::VALUE` is how the action hides a value: the one line where it must be written
    kept = [line for text in texts for line in (text or "").splitlines() if not line.startswith("::add-mask::")]
    with (folder / f"{name}.log").open("a", encoding="utf-8", errors="replace") as handle:
        handle.write("\n".join(kept) + "\n")


def airflow_token(server) -> str:
    """A JWT from the server's /auth/token, as a CI secret AIRFLOW_API_TOKEN would hold."""
    import requests

    answer = requests.post(f"{server.url}/auth/token", json={"username": server.username,
                                                             "password": server.password}, timeout=30)
    answer.raise_for_status()
    return secret(answer.json()["access_token"])



def _dump_rendered_dags(folder: str) -> None:
    """With KAF_DUMP_DAGS=<folder>, every DAG the tests render is written there, named by the test, so
    two runs (before and after a refactoring) can be compared file by file (docs/contributing.md).
    Patched at import, before any test module binds ``render_dag``."""
    from kedro_af_ci.render import dag as render_module

    original, counts = render_module.render_dag, {}

    def dumping(plan, *args, **kwargs):
        rendered = original(plan, *args, **kwargs)
        test = os.environ.get("PYTEST_CURRENT_TEST", "outside").split(" ")[0]
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in test)[-150:]
        counts[name] = counts.get(name, 0) + 1
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.{counts[name]}.py").write_text(rendered.source, encoding="utf-8")
        return rendered

    render_module.render_dag = dumping


if os.environ.get("KAF_DUMP_DAGS"):
    _dump_rendered_dags(os.environ["KAF_DUMP_DAGS"])


def pytest_collection_modifyitems(config, items):
    """The tiers are markers (docs/contributing.md, "Tests in tiers"): `unit` (a module's own pytestmark:
    no server, no Docker, no Kedro project; `make test-unit`), `slow` (servers, containers, the cluster),
    and the middle tier, named here: every other test (a Kedro project, DagBag loads; no server)."""
    for item in items:
        if item.get_closest_marker("unit") is None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.middle)

