"""A code change on a runner with an empty engine reuses the layers the branch pushed last time: the
action builds with BuildKit (the action image carries buildx, as docker:cli does) and `--cache-from`
the branch's latest image (`kaf-branch-<branch>`, a tag it owns), whose inline cache metadata BuildKit
reads from the registry; nothing is pulled first. The engine is the session's; what makes it "empty"
for this project is that the project's Dockerfile has layers no other image shares, and that they
and the build cache are removed before the second run, so any reuse comes from the registry."""

from __future__ import annotations

import json
import re
import uuid

import pytest
import requests
from container_scenario import UserRepo
from containers import buildkit_steps, docker
from test_docker_run import action_env, run_readme

pytestmark = pytest.mark.slow


def test_a_code_change_reuses_the_dependency_layers_pushed_before(docker_stack, airflow_server, tmp_path):
    repo = UserRepo(tmp_path, docker_stack, airflow_server, "cache-spaceflights")
    dockerfile = repo.project / "Dockerfile"
    marker = uuid.uuid4().hex  # layers of this project only: nothing else on the engine can serve them
    dockerfile.write_text(dockerfile.read_text().replace("RUN python3 -m venv /opt/venv",
                                                         f"RUN echo {marker} && python3 -m venv /opt/venv", 1))
    repo.commit_all("a Dockerfile of its own")
    env = {**action_env(repo, docker_stack.registry.password), "INPUT_RUN_ONCE": "false"}
    first = run_readme("docker-run-action", repo, env)
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    assert "Layer cache: none yet (a cold build)" in first.stdout
    repository = repo.image_repo.split("/", 1)[1]
    latest = "kaf-branch-feature-price-model-" + re.search(r"kaf-branch-feature-price-model-(\w+)",
                                                           first.stdout).group(1)
    assert {repo.commit, latest} <= set(repo.stack.registry.tags(repository))
    assert "moby.buildkit.cache.v0" in image_config(repo, repository, latest)  # BuildKit's inline cache metadata

    # a new runner: none of the project's layers on the engine
    docker("image", "rm", "-f", f"{repo.image_repo}:{repo.commit}", f"{repo.image_repo}:{latest}")
    docker("image", "prune", "-f")
    docker("builder", "prune", "-af")
    assert marker not in docker("history", "--no-trunc", "--format", "{{.CreatedBy}}",
                                docker_stack.base["BASE_IMAGE"]).stdout
    nodes = repo.project / "src" / "spaceflights" / "pipelines" / "data_processing" / "nodes.py"
    nodes.write_text(nodes.read_text() + "\n# a one-line change\n")
    repo.commit_all("a code change")
    second = run_readme("docker-run-action", repo, env)
    log = second.stdout + second.stderr
    assert second.returncode == 0, log[-4000:]
    assert f"Layer cache: {repo.image_repo}:{latest}" in second.stdout
    assert "docker pull" not in log and "Pulling from" not in log  # BuildKit read the layers it reuses itself
    steps = buildkit_steps(log)
    install = next(lines for step, lines in steps if step.startswith("RUN pip install"))
    assert "CACHED" in install  # the dependency layer came from the registry, not rebuilt
    copy = next(lines for step, lines in steps if step.startswith("COPY --chown"))
    assert "CACHED" not in copy  # the changed code is new


def image_config(repo: UserRepo, repository: str, tag: str) -> dict:
    registry = repo.stack.registry
    manifest = registry.manifest(repository, tag).json()
    answer = requests.get(f"http://{registry.host}/v2/{repository}/blobs/{manifest['config']['digest']}",
                          auth=(registry.username, registry.password), timeout=10)
    answer.raise_for_status()
    return json.loads(answer.content)
