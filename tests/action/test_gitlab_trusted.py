"""The trusted deployer on GitLab, as init generates it, run by gitlab-ci-local in real containers: the Kedro
project's branch pipeline packages with no variable of the deployment, and a deployer project's scheduled
pipeline takes the package from GitLab's API (a stand-in, tests/fake_gitlab.py: no GitLab server runs here)
and deploys it; Airflow runs the DAG in the image the branch's job built. What gitlab-ci-local cannot show:
protected and environment-scoped variables, that a schedule runs as its owner, and `workflow: rules` (it does
not apply them: the deployer's schedule-only rule is checked in tests/test_ci_files.py)."""

from __future__ import annotations

import shutil

import pytest
from conftest import airflow_token, git, run_cli
from container_scenario import BRANCH, UserRepo
from containers import docker
from fake_gitlab import FakeGitLab, serve, zip_folder
from test_gitlab_ci_local import gitlab_ci_local, this_runner

pytestmark = pytest.mark.slow
PACKAGE_JOB, DEPLOY_JOB = "kedro-airflow-k8s-package", "kedro-airflow-k8s-deploy-packages"
SOURCE, SOURCE_TOKEN = "acme/spaceflights", "glpat-source-project-read-api"


def prepare(repo: UserRepo) -> None:
    """init's trusted-deployer GitLab files, with this runner's changes: the host's Docker socket instead of a
    docker:dind service, this machine's network and base image for the build."""
    (repo.root / ".gitlab" / "kedro-airflow-k8s.gitlab-ci.yml").unlink()
    result = run_cli("--project-path", str(repo.project), "-e", "docker", "-p", "data_processing", "init",
                     repo.airflow.url, "--with-gitlab-ci", "--topology", "trusted-deployer", "--image",
                     repo.image_repo, "--default-branch", "main", cwd=repo.root, check=True)
    assert "deployer project of its own" in result.stdout
    main = repo.root / ".gitlab-ci.yml"
    main.write_text(main.read_text() + this_runner(repo))
    repo.commit_all("the trusted deployer's GitLab files, on this runner")


def deployer_project(repo: UserRepo) -> object:
    """The deployer project: its own repository, whose .gitlab-ci.yml is the file init wrote for it."""
    folder = repo.root.parent / "deployer"
    folder.mkdir()
    shutil.copy(repo.root / ".gitlab" / "kedro-airflow-k8s-deployer.gitlab-ci.yml", folder / ".gitlab-ci.yml")
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "the deployer")
    return folder


def test_a_deployer_projects_schedule_deploys_each_new_package_once_and_prunes_gone_branches(
        docker_stack, airflow_server, tmp_path):
    docker_stack.ensure_gitlab_util()
    repo = UserRepo(tmp_path, docker_stack, airflow_server, "glab-trusted")
    prepare(repo)
    token, registry = airflow_token(airflow_server), docker_stack.registry

    # the branch's pipeline: the project's production variables exist, and the package job takes none of them
    packaged = gitlab_ci_local(repo, {"CI_DEFAULT_BRANCH": "main"}, jobs=(PACKAGE_JOB,))
    log = packaged.stdout + packaged.stderr
    assert packaged.returncode == 0 and f"PASS  {PACKAGE_JOB}" in log, log[-6000:]
    package = repo.root / "kedro-airflow-k8s-package"
    assert {p.name for p in package.iterdir()} == {"package.json", "graph.json", "image.tar", "project"}
    assert registry.tags(repo.image_repo.split("/", 1)[1]) == []  # nothing pushed by the branch's job

    fake = FakeGitLab(SOURCE, SOURCE_TOKEN, branches={"main": "f" * 40, BRANCH: repo.commit})
    fake.add_job(41, BRANCH, repo.commit, zipped=zip_folder(package, package.name))
    api, server = serve(fake)
    deployer = deployer_project(repo)
    preview = f"{registry.host}/previews/spaceflights"
    variables = {"CI_PIPELINE_SOURCE": "schedule", "KAF_SOURCE_PROJECT": SOURCE, "GITLAB_SOURCE_TOKEN": SOURCE_TOKEN,
                 "INPUT_GITLAB_API": api, "CI_REGISTRY": registry.host, "CI_REGISTRY_USER": registry.username,
                 "CI_REGISTRY_PASSWORD": registry.password, "KAF_IMAGE": preview, "AIRFLOW_API_TOKEN": token,
                 **repo.repository_variables(), **repo.config_env()}
    docker_stack.login()  # the run's tasks pull the image the deployer pushed, as a cluster would
    try:
        deployed = gitlab_ci_local(repo, variables, cwd=deployer)
        summary = (deployer / "kedro-airflow-k8s-summary.md").read_text()
        again = gitlab_ci_local(repo, variables, cwd=deployer)
        fake.branches.pop(BRANCH)  # the branch is deleted
        pruned = gitlab_ci_local(repo, variables, cwd=deployer)
    finally:
        docker("logout", registry.host)
        server.shutdown()
    log = deployed.stdout + deployed.stderr
    assert deployed.returncode == 0 and f"PASS  {DEPLOY_JOB}" in log, log[-8000:]
    assert f"Packages of {SOURCE}: 1 branch(es) packaged, 1 to deploy" in log
    assert "without running or unpacking it" in log and "loaded in Airflow's DagBag" in log
    assert repo.commit in registry.tags("previews/spaceflights")
    repo.assert_pipeline_ran_in_volume()  # Airflow ran every task in the image the branch's job built
    assert "Packages deployed" in summary and f"deployed as {repo.dag_id}, run success" in summary
    for secret in (token, registry.password, SOURCE_TOKEN):
        assert secret not in log

    log = again.stdout + again.stderr
    assert again.returncode == 0 and f"Packages of {SOURCE}: 1 branch(es) packaged, 0 to deploy" in log, log[-4000:]
    log = pruned.stdout + pruned.stderr
    assert pruned.returncode == 0 and f"Deleted DAG {repo.dag_id!r}: its branch {BRANCH!r} is gone" in log, log[-4000:]
    assert not repo.dag_file.exists()
    assert f"DAGs of gone branches: {repo.dag_id}" in (deployer / "kedro-airflow-k8s-summary.md").read_text()
    assert [r for r in fake.requests if "/jobs/" in r] == ["/api/v4/projects/acme/spaceflights/jobs/41/artifacts"]
