"""The action as a GitLab CI job: gitlab-ci-local runs the .gitlab-ci.yml `init` generates (which
includes the generated template with `spec: inputs`) in real containers, the job image being the
action image the session built. A later job reads the dotenv report.

This runner mounts the host's Docker socket instead of running a docker:dind service (the
"socket binding" runner setup GitLab documents); the .gitlab-ci.yml overrides the template's
job for that, the way users override included jobs, and gives the build this machine's network.
"""

from __future__ import annotations

import html
import os
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, airflow_token, log_outputs
from container_scenario import UserRepo
from containers import docker

pytestmark = pytest.mark.slow
GITLAB_CI_LOCAL = Path(os.environ.get("KAF_GITLAB_CI_LOCAL") or ROOT / ".tools" / "node_modules" / ".bin"
                       / "gitlab-ci-local")
JOB = "kedro-airflow-k8s-run-once"


def this_runner(repo: UserRepo) -> str:
    """The override of the template's base job for this runner: the host's Docker socket instead of a docker:dind
    service, and this machine's network and base image for builds."""
    return f"""
# this runner: the host's Docker socket instead of a docker:dind service, and its network for builds
.kedro-airflow-k8s:
  services: []
  variables:
    DOCKER_HOST: unix:///var/run/docker.sock
    DOCKER_TLS_VERIFY: ""
    INPUT_BUILD_NETWORK: host
    INPUT_BUILD_ARGS: BASE_IMAGE={repo.stack.base['BASE_IMAGE']}
"""


def prepare(repo: UserRepo) -> None:
    main = repo.root / ".gitlab-ci.yml"
    main.write_text(main.read_text() + this_runner(repo) + f"""
report:
  stage: .post
  image: {repo.stack.base['PYTHON_IMAGE']}
  needs: [{JOB}]
  script:
    - printf 'report run-state=%s dag-id=%s image=%s\\n' "$KAF_RUN_STATE" "$KAF_DAG_ID" "$KAF_IMAGE"
""")
    repo.commit_all("run on this runner")


def gitlab_ci_local(repo: UserRepo, variables: dict[str, str], jobs: tuple[str, ...] = (), cwd: Path | None = None
                    ) -> subprocess.CompletedProcess:
    """The whole pipeline, or the ``jobs`` named (a manual one included, as a click in GitLab runs it), of the
    repository at ``cwd`` (the user's by default)."""
    assert GITLAB_CI_LOCAL.exists(), f"gitlab-ci-local is not installed at {GITLAB_CI_LOCAL} (make installs it)"
    docker("image", "inspect", "firecow/gitlab-ci-local-util:latest")  # it copies files with this image
    cmd = [str(GITLAB_CI_LOCAL), "--pull-policy", "if-not-present", "--network", "host",
           "--volume", "/var/run/docker.sock:/var/run/docker.sock",
           "--volume", f"{repo.airflow.dags_folder}:{repo.airflow.dags_folder}"]
    for key, value in variables.items():
        cmd += ["--variable", f"{key}={value}"]
    cmd += list(jobs)
    result = subprocess.run(cmd, cwd=cwd or repo.root, capture_output=True, text=True, timeout=1200,
                            env={**os.environ, "HOME": str(repo.root.parent / "home")})
    log_outputs("gitlab-ci-local", result.stdout, result.stderr)
    return result


def variables(repo: UserRepo, registry_password: str) -> dict[str, str]:
    registry = repo.stack.registry
    return {"CI_REGISTRY": registry.host, "CI_REGISTRY_USER": registry.username,
            "CI_REGISTRY_PASSWORD": registry_password, "CI_DEFAULT_BRANCH": "main",
            "AIRFLOW_API_TOKEN": airflow_token(repo.airflow), **repo.repository_variables(), **repo.config_env()}


@pytest.fixture
def gitlab_repo(docker_stack, airflow_server, tmp_path, request):
    docker_stack.ensure_gitlab_util()
    repo = UserRepo(tmp_path, docker_stack, airflow_server, request.param)
    prepare(repo)
    return repo


@pytest.mark.parametrize("gitlab_repo", ["glab-spaceflights"], indirect=True)
def test_generated_job_builds_pushes_runs_once_and_reports_dotenv(gitlab_repo):
    repo = gitlab_repo
    result = gitlab_ci_local(repo, variables(repo, repo.stack.registry.password))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert f"PASS  {JOB}" in log and "PASS  report" in log

    image = f"{repo.image_repo}:{repo.commit}"
    assert f"report run-state=success dag-id={repo.dag_id} image={image}" in log  # the later job
    dotenv = dict(line.split("=", 1) for line in (repo.root / "kedro-airflow-k8s.env").read_text().splitlines())
    assert dotenv["KAF_RUN_STATE"] == "success" and dotenv["KAF_COMMIT_ID"] == repo.commit
    assert dotenv["KAF_DAG_FILE"] == str(repo.dag_file)
    assert "section_start:" in log and "::group::" not in log  # GitLab's collapsible sections
    summary = (repo.root / "kedro-airflow-k8s-summary.md").read_text()
    assert f"kedro-airflow-k8s: {repo.dag_id}" in summary and "**success**" in summary
    repo.assert_image_pushed()
    repo.assert_pipeline_ran_in_volume()
    assert repo.stack.registry.password not in log
    assert_the_stop_job_removes_the_branchs_dag_and_image(repo)


def assert_the_stop_job_removes_the_branchs_dag_and_image(repo: UserRepo) -> None:
    """The review environment stopped (the branch deleted, or a week passed): its stop job deletes the
    DAG the run-once job reported (dotenv), in the folder and in Airflow, and the branch's image tag;
    the default branch's image and the other DAGs stay."""
    from container_scenario import BRANCH

    from kedro_af_ci.deliver.client import AirflowClient, Credentials
    from kedro_af_ci.image.docker import branch_tag

    registry, name = repo.stack.registry, repo.image_repo.split("/", 1)[1]
    registry.push(name, "the default branch's", branch_tag("main"))
    others = sorted(p.name for p in repo.airflow.dags_folder.glob("*.py") if p != repo.dag_file)
    result = gitlab_ci_local(repo, variables(repo, registry.password), jobs=("kedro-airflow-k8s-stop",))
    log = result.stdout + result.stderr
    assert result.returncode == 0 and "PASS  kedro-airflow-k8s-stop" in log, log[-6000:]
    client = AirflowClient(repo.airflow.url, Credentials(token=airflow_token(repo.airflow)))
    assert not repo.dag_file.exists() and client.get_dag(repo.dag_id) is None  # Airflow answers 404
    assert registry.tags(name) == [branch_tag("main")]
    assert sorted(p.name for p in repo.airflow.dags_folder.glob("*.py")) == others
    summary = (repo.root / "kedro-airflow-k8s-summary.md").read_text()
    assert "removed from Airflow" in summary
    assert f"removed image tag(s) {branch_tag(BRANCH)}" in html.unescape(summary)  # `_` is &#95; there
    assert registry.password not in log


@pytest.mark.parametrize("gitlab_repo", ["glab-push-refused"], indirect=True)
def test_refused_push_fails_the_job_with_exit_9_and_uploads_nothing(gitlab_repo):
    repo = gitlab_repo
    result = gitlab_ci_local(repo, variables(repo, "not-the-password"))
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{JOB} finished in" in log and "FAIL 9" in log, log[-4000:]
    assert f"Error: docker login to {repo.stack.registry.host} failed" in log
    assert "unauthorized" in log.lower()
    assert not repo.dag_file.exists()
    assert repo.commit not in repo.stack.registry.tags(repo.image_repo.split("/", 1)[1])
    assert "not-the-password" not in log
