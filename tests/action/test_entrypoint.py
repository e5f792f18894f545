"""The container action's entrypoint, run exactly as GitHub (and GitLab) run it.

Environment ``INPUT_*`` (GitHub's hyphenated spelling), ``GITHUB_*``, ``GITHUB_OUTPUT`` and
``GITHUB_STEP_SUMMARY``; the workspace is a real git repository holding the example project.
Only the docker CLI is replaced, by the recording STUB in tests/dockerstub.py (no Docker engine
runs here); graph extraction, compile, pre-flight, upload and the run on Airflow are real.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, copy_example, git, make_repo
from dockerstub import calls, install

ENTRYPOINT = ROOT / "entrypoint" / "entrypoint.sh"
REGISTRY_PASSWORD = "regpass-Zx81-never-printed"


def parse_github_output(path: Path) -> dict[str, str]:
    """Read $GITHUB_OUTPUT the way the runner does (name<<DELIMITER ... DELIMITER)."""
    outputs, lines = {}, path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        name, _, delimiter = lines[i].partition("<<")
        end = lines.index(delimiter, i + 1)
        outputs[name] = "\n".join(lines[i + 1:end])
        i = end + 1
    return outputs


class Workspace:
    def __init__(self, tmp_path: Path, branch: str = "main"):
        self.root = tmp_path / "workspace"
        self.root.mkdir()
        self.project = copy_example(self.root / "spaceflights")
        self.commit = make_repo(self.root, branch=branch)
        self.bin = tmp_path / "stub-bin"
        self.docker_log = tmp_path / "docker-calls.jsonl"
        self.output = tmp_path / "github_output"
        self.summary = tmp_path / "step_summary.md"
        install(self.bin)

    def run(self, inputs: dict[str, str], env: dict[str, str] | None = None, docker: bool = True):
        path = os.pathsep.join(([str(self.bin)] if docker else []) + ["/usr/local/bin", "/usr/bin", "/bin"])
        environ = {
            "PATH": path, "HOME": str(self.root.parent / "home"), "LANG": "C.UTF-8",
            "KAF_PYTHON": sys.executable,
            "AIRFLOW_HOME": os.environ["AIRFLOW_HOME"], "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "KUBECONFIG": os.environ["KUBECONFIG"],
            "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": str(self.root),
            "GITHUB_OUTPUT": str(self.output), "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_EVENT_NAME": "push", "GITHUB_SHA": self.commit, "GITHUB_REPOSITORY": "acme/spaceflights",
            "DOCKER_STUB_LOG": str(self.docker_log), "DOCKER_STUB_IMAGE_ROOT": str(self.project),
            "INPUT_PROJECT-PATH": "spaceflights",
            **{f"INPUT_{k.upper()}": v for k, v in inputs.items()},
            **(env or {}),
        }
        result = subprocess.run(["bash", str(ENTRYPOINT)], cwd=self.root, env=environ, capture_output=True,
                                text=True, timeout=900)
        result.outputs = parse_github_output(self.output)
        result.summary = self.summary.read_text() if self.summary.exists() else ""
        result.docker = calls(self.docker_log)
        return result


def docker_commands(result) -> list[str]:
    return [c["argv"][0] for c in result.docker]


@pytest.mark.slow
def test_push_builds_extracts_in_image_runs_once_and_reports(airflow_server, tmp_path):
    ws = Workspace(tmp_path, branch="feature/price-model")
    result = ws.run(
        {"env": "demo", "pipeline": "data_processing", "image": "registry.example.com/acme/spaceflights",
         "registry-username": "ci-bot", "registry-password": REGISTRY_PASSWORD, "run-once": "true",
         "wait": "true", "poll-interval": "1", "run-name": "kaf-action-${branch_name}", "build-args": "PIP_INDEX=https://pypi.example/simple\n"},
        env={"KEDRO_CONFIG_AIRFLOW_HOST": airflow_server.url,
             "KEDRO_CONFIG_DAGS_FOLDER": str(airflow_server.dags_folder),
             "KEDRO_CONFIG_PROJECT_PATH": str(ws.project),
             "KEDRO_CONFIG_RUN_NAME": "kaf-action-${branch_name}",
             "GITHUB_REF_NAME": "feature/price-model", **airflow_server.env()})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    image = f"registry.example.com/acme/spaceflights:{ws.commit}"
    out = result.outputs
    assert out["image"] == image
    assert out["commit-id"] == ws.commit and out["branch-name"] == "feature/price-model"
    assert out["dag-id"] == "kaf-action-feature_price-model__aa60e1"
    assert out["dag-file"] == str(airflow_server.dags_folder / "kaf-action-feature_price-model__aa60e1.py")
    assert out["dag-url"] == f"{airflow_server.url}/dags/kaf-action-feature_price-model__aa60e1"
    assert out["run-state"] == "success" and out["run-id"].startswith("kaf_run_once__")

    build, login, push, run = result.docker[1:5] if docker_commands(result)[0] == "version" else result.docker[:4]
    assert build["argv"][:5] == ["build", "--file", str(ws.project / "Dockerfile"), "--tag", image]
    assert build["argv"][5:7] == ["--build-arg", "PIP_INDEX=https://pypi.example/simple"]
    assert f"org.opencontainers.image.revision={ws.commit}" in build["argv"]
    assert build["argv"][-1] == str(ws.project)
    assert login["argv"] == ["login", "registry.example.com", "--username", "ci-bot", "--password-stdin"]
    assert login["stdin_bytes"] == len(REGISTRY_PASSWORD)
    assert push["argv"] == ["push", image]
    assert run["argv"][:9] == ["run", "--rm", "-i", "--network", "none", "--entrypoint", "python", "--workdir",
                               str(ws.project)]
    assert image in run["argv"] and run["stdin_bytes"] > 1000  # the extraction modules travel on stdin

    assert "```mermaid\nflowchart LR" in result.summary
    assert "preprocess#95;companies#95;node" not in result.summary  # labels are not cell-escaped
    assert '["preprocess_companies_node"]' in result.summary
    assert "| create&#95;model&#95;input&#95;table&#95;node | success |" in result.summary
    assert "extracted in registry.example.com/acme/spaceflights" in result.summary
    assert "::group::Build registry.example.com/acme/spaceflights" in result.stdout

    # the password reaches docker through stdin only; the log shows it only in the masking command
    logs = result.stdout + result.stderr
    assert logs.count(REGISTRY_PASSWORD) == logs.count(f"::add-mask::{REGISTRY_PASSWORD}") == 1
    assert logs.count(airflow_server.password) == logs.count(f"::add-mask::{airflow_server.password}") == 1
    for text in (ws.output.read_text(), result.summary, (airflow_server.dags_folder /
                                                         "kaf-action-feature_price-model__aa60e1.py").read_text()):
        assert REGISTRY_PASSWORD not in text and airflow_server.password not in text
    assert all(REGISTRY_PASSWORD not in arg for c in result.docker for arg in c["argv"])


def test_pull_request_on_detached_head_dry_run(tmp_path):
    hostile = "feature/$(touch PWNED)`id`;'\"x"
    ws = Workspace(tmp_path)
    git(ws.root, "checkout", "-q", "--detach")
    result = ws.run({"image": "ghcr.io/acme/spaceflights", "dry-run": "true", "run-name": "sf-${branch_name}"},
                    env={"GITHUB_EVENT_NAME": "pull_request", "GITHUB_HEAD_REF": hostile,
                         "GITHUB_REF_NAME": "12/merge", "GITHUB_REF": "refs/pull/12/merge"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.outputs
    assert out["branch-name"] == hostile and out["commit-id"] == ws.commit
    assert out["image"] == f"ghcr.io/acme/spaceflights:{ws.commit}"
    dag_file = Path(out["dag-file"])
    assert dag_file.parent == ws.project / "dag" and dag_file.is_file()
    assert "run-id" not in out and "dag-url" not in out
    assert docker_commands(result) == ["version", "build", "run"]  # dry run: nothing pushed
    assert not list(tmp_path.rglob("PWNED"))
    assert "loaded in Airflow's DagBag" in result.stdout
    assert "&#96;id&#96;" in result.summary  # the hostile branch shows as text in the summary


def test_config_error_is_annotated_at_the_key_and_exits_3(tmp_path):
    ws = Workspace(tmp_path)
    config = ws.project / "conf" / "base" / "airflow-k8s.yaml"
    lines = config.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith("run_name:"))
    lines[index] = lines[index].replace("run_name:", "run_nmae:")
    config.write_text("\n".join(lines) + "\n")
    git(ws.root, "commit", "-qam", "typo")
    result = ws.run({"image": "ghcr.io/acme/spaceflights"})
    assert result.returncode == 3
    expected = f"::error file=spaceflights/conf/base/airflow-k8s.yaml,line={index + 1},title=kedro-airflow-k8s%3A "
    assert expected in result.stdout, result.stdout
    assert "did you mean" in result.stdout
    assert result.docker == []  # nothing built on a bad config
    assert "Failed (exit code 3)" in result.summary
    assert "Traceback" not in result.stdout + result.stderr


def test_build_failure_exits_9_and_uploads_nothing(tmp_path):
    ws = Workspace(tmp_path)
    dags = tmp_path / "dags"
    result = ws.run({"image": "ghcr.io/acme/spaceflights", "output": str(dags)}, env={"DOCKER_STUB_FAIL": "build"})
    assert result.returncode == 9
    assert "::error title=kedro-airflow-k8s%3A BuildError::docker build of ghcr.io/acme/spaceflights" in result.stdout
    assert "failed to solve" in result.summary
    assert not dags.exists()
    assert docker_commands(result) == ["version", "build"]


def test_gitlab_job_without_docker_extracts_in_process_and_writes_dotenv(tmp_path):
    ws = Workspace(tmp_path)
    dags = tmp_path / "dags"
    env = {k: "" for k in ("GITHUB_ACTIONS", "GITHUB_WORKSPACE", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    env.update({"GITLAB_CI": "true", "CI_PROJECT_DIR": str(ws.root), "CI_COMMIT_SHA": ws.commit,
                "CI_COMMIT_REF_NAME": "main"})
    result = ws.run({"build": "false", "output": str(dags), "verify": "false", "schedule": "0 3 * * *"},
                    env=env, docker=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    dotenv = dict(line.split("=", 1) for line in (ws.root / "kedro-airflow-k8s.env").read_text().splitlines())
    assert dotenv["KAF_DAG_ID"] == "spaceflights"
    assert dotenv["KAF_DAG_FILE"] == str(dags / "spaceflights.py")
    assert dotenv["KAF_COMMIT_ID"] == ws.commit and dotenv["KAF_BRANCH_NAME"] == "main"
    assert "in this container (no image to run it in)" in result.stdout
    assert "section_start:" in result.stdout and "::group::" not in result.stdout
    assert "schedule='0 3 * * *'" in (dags / "spaceflights.py").read_text()
    assert "extracted in the action&#x27;s container" in (ws.root / "kedro-airflow-k8s-summary.md").read_text()


def test_arguments_run_the_cli(tmp_path):
    ws = Workspace(tmp_path)
    result = subprocess.run(["bash", str(ENTRYPOINT), "--version"], env={**os.environ, "KAF_PYTHON": sys.executable},
                            capture_output=True, text=True, cwd=ws.root)
    assert result.returncode == 0 and "kedro-airflow-k8s-action" in result.stdout
