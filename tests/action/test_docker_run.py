"""The action image with `docker run`: README's commands, taken from README.md and run as they are
written, against the image the session built. Only their variables come from the test."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from conftest import ROOT, airflow_token, load_dag, log_outputs, render
from container_scenario import UserRepo
from containers import docker

pytestmark = pytest.mark.slow


def readme_command(name: str) -> str:
    """The fenced block after ``<!-- command: NAME -->`` in README.md."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- command: {name} -->\n```bash\n(.*?)```", readme, flags=re.S)
    assert match, f"README.md has no command {name!r}"
    return match.group(1)


def run_readme(name: str, repo: UserRepo, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = readme_command(name)
    assert repo.stack.action_image in command  # the published image, as README names it
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "KEDRO_CONFIG_", "AIRFLOW_"))}
    result = subprocess.run(["bash", "-c", command], cwd=repo.root, capture_output=True, text=True, timeout=1200,
                            env={**clean, **env})
    log_outputs("docker-run", result.stdout, result.stderr)
    return result


def action_env(repo: UserRepo, password: str) -> dict[str, str]:
    return {
        "INPUT_PROJECT_PATH": "spaceflights", "INPUT_ENV": "docker", "INPUT_PIPELINE": "data_processing",
        "INPUT_IMAGE": repo.image_repo, "INPUT_OUTPUT": str(repo.airflow.dags_folder),
        "INPUT_AIRFLOW_HOST": repo.airflow.url, "INPUT_RUN_ONCE": "true", "INPUT_POLL_INTERVAL": "1",
        "INPUT_REGISTRY_USERNAME": repo.stack.registry.username, "INPUT_REGISTRY_PASSWORD": password,
        "INPUT_BUILD_NETWORK": "host", "INPUT_BUILD_ARGS": f"BASE_IMAGE={repo.stack.base['BASE_IMAGE']}",
        "INPUT_DEPLOYMENT": repo.repository_variables()["KAF_DEPLOYMENT"],
        "AIRFLOW_API_TOKEN": airflow_token(repo.airflow), "KEDRO_CONFIG_RUN_NAME": repo.run_name,
    }


def test_action_form_then_cli_form(docker_stack, airflow_server, tmp_path):
    repo = UserRepo(tmp_path, docker_stack, airflow_server, "drun-spaceflights")
    env = action_env(repo, docker_stack.registry.password)
    result = run_readme("docker-run-action", repo, env)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    outputs = dict(re.findall(r"^([a-z-]+) +(\S+)$", result.stdout, flags=re.M))  # the terminal's outputs table
    assert outputs["run-state"] == "success" and outputs["image"] == f"{repo.image_repo}:{repo.commit}"
    assert outputs["dag-file"] == str(repo.dag_file) and repo.dag_file.is_file()
    repo.assert_image_pushed()
    repo.assert_pipeline_ran_in_volume()
    assert env["AIRFLOW_API_TOKEN"] not in log and docker_stack.registry.password not in log

    # the CLI form: no Kedro in the action image, so the graph is read inside run_config.image
    cli = run_readme("docker-run-cli", repo, {"KEDRO_CONFIG_IMAGE_REPOSITORY": repo.image_repo,
                                              "KEDRO_CONFIG_RUN_NAME": "drun-cli"})
    assert cli.returncode == 0, (cli.stdout + cli.stderr)[-4000:]
    assert "reading the pipeline graph inside" in cli.stderr
    dag = repo.project / "dag" / "drun-cli.py"
    assert "loaded in Airflow's DagBag" in cli.stdout and dag.is_file()
    loaded = load_dag(dag.read_text(), "drun-cli", tmp_path)
    images = {render(t).image for t in loaded.tasks if hasattr(t, "entrypoint")}  # as the worker renders it
    assert images == {f"{repo.image_repo}:{repo.commit}"}


def test_cli_form_with_an_unknown_environment_exits_3(docker_stack, airflow_server, tmp_path):
    repo = UserRepo(tmp_path, docker_stack, airflow_server, "drun-no-env")
    command = readme_command("docker-run-cli").replace("-e docker", "-e prod")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEDRO_CONFIG_")}
    result = subprocess.run(["bash", "-c", command], cwd=repo.root, capture_output=True, text=True, env=clean,
                            timeout=300)
    assert result.returncode == 3
    assert "Kedro environment 'prod' has no folder conf/prod (found: base, demo, docker" in result.stderr


def test_dockerfile_that_does_not_build_exits_9_and_uploads_nothing(docker_stack, airflow_server, tmp_path):
    repo = UserRepo(tmp_path, docker_stack, airflow_server, "drun-build-fails")
    dockerfile = repo.project / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("USER ", "RUN kedro-no-such-command\nUSER ", 1))
    repo.commit_all("a step that fails")
    result = run_readme("docker-run-action", repo, action_env(repo, docker_stack.registry.password))
    assert result.returncode == 9, (result.stdout + result.stderr)[-4000:]
    assert re.search(r"Error: docker build of \S+ failed \(docker exit code \d+\):\n.*kedro-no-such-command",
                     result.stderr, flags=re.S), result.stderr[-3000:]
    assert "DEPRECATED" not in result.stderr.split("Error:", 1)[1]  # docker's notices are not the reason
    assert not repo.dag_file.exists()
    assert repo.stack.registry.tags(repo.image_repo.split("/", 1)[1]) == []


def test_refused_push_exits_9_and_uploads_nothing(docker_stack, airflow_server, tmp_path):
    repo = UserRepo(tmp_path, docker_stack, airflow_server, "drun-push-refused")
    result = run_readme("docker-run-action", repo, action_env(repo, "wrong-password-77"))
    assert result.returncode == 9
    assert f"Error: docker login to {docker_stack.registry.host} failed" in result.stderr
    assert not repo.dag_file.exists()
    assert "wrong-password-77" not in result.stdout + result.stderr
    # refused before the build: the registry login comes first, as the layer cache is pulled from it
    assert docker("image", "inspect", f"{repo.image_repo}:{repo.commit}", check=False).returncode != 0
