"""A code change on a runner with an empty engine reuses the layers the branch pushed last time: the
action builds with BuildKit (the action image carries buildx, as docker:cli does) and `--cache-from`
the branch's latest image (`kaf-branch-<branch>`, a tag it owns), whose inline cache metadata BuildKit
reads from the registry; nothing is pulled first. The engine is the session's; what makes it "empty"
for this project is that the project's Dockerfile has layers no other image shares, and that they
and the build cache are removed before the second run, so any reuse comes from the registry."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
import requests
from conftest import git
from container_scenario import BRANCH, UserRepo
from containers import buildkit_steps, docker
from test_docker_run import action_env, run_readme

from kedro_af_ci.action.records import record_tag as graph_tag
from kedro_af_ci.image.docker import branch_tag

pytestmark = pytest.mark.slow
NODES = "src/spaceflights/pipelines/data_processing/nodes.py"
PIPELINE = "src/spaceflights/pipelines/data_processing/pipeline.py"


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
    latest = branch_tag(BRANCH)
    assert {repo.commit, latest} <= set(repo.stack.registry.tags(repository))
    assert "moby.buildkit.cache.v0" in image_config(repo, repository, latest)  # BuildKit's inline cache metadata

    # a new runner: none of the project's layers on the engine
    docker("image", "rm", "-f", f"{repo.image_repo}:{repo.commit}", f"{repo.image_repo}:{latest}")
    docker("image", "prune", "-f")
    docker("builder", "prune", "-af")
    assert marker not in docker("history", "--no-trunc", "--format", "{{.CreatedBy}}",
                                docker_stack.base["BASE_IMAGE"]).stdout
    pipeline = repo.project / PIPELINE  # code the graph is read from: built, not a code-only deploy
    pipeline.write_text(pipeline.read_text().replace('tags=["preprocessing"]', 'tags=["preprocessing", "w"]', 1))
    repo.commit_all("a code change")
    second = run_readme("docker-run-action", repo, env)
    log = second.stdout + second.stderr
    assert second.returncode == 0, log[-4000:]
    assert "Code-only deploy: no (the change can alter the pipeline graph" in second.stdout
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



def test_a_code_only_change_is_deployed_without_building_or_pulling(docker_stack, airflow_server, tmp_path):
    """The second deploy, on a runner whose engine has none of the project's layers, changes a node's
    body only: the image is made in the registry (the previous image's layers and a new code layer),
    the graph is the previous one, and the DAG runs that image in Airflow (docker execution). The
    third changes the pipeline itself: the graph could change, so the image is built and the graph
    read again."""
    repo = UserRepo(tmp_path, docker_stack, airflow_server, "codeonly-spaceflights")
    env = action_env(repo, docker_stack.registry.password)
    first = run_readme("docker-run-action", repo, {**env, "INPUT_RUN_ONCE": "false"})
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    assert "Code-only deploy: no (no record yet" in first.stdout
    repository = repo.image_repo.split("/", 1)[1]
    record = graph_tag(BRANCH)
    assert record in repo.stack.registry.tags(repository)
    forget_project_images(repo)

    nodes = repo.project / NODES
    nodes.write_text(nodes.read_text().replace('return x == "t"', 'return x.str.lower() == "t"'))
    repo.commit_all("a node's body")
    docker_stack.login()  # the run's tasks pull the image (it was made in the registry), as a cluster would
    try:
        second = run_readme("docker-run-action", repo, env)
    finally:
        docker("logout", docker_stack.registry.host)
    log = second.stdout + second.stderr
    assert second.returncode == 0, log[-6000:]
    assert "Code-only deploy: yes" in second.stdout
    assert "RUN pip install" not in log and "Pulling from" not in log  # nothing built on the dependencies
    assert "reused from" in second.stdout and "Extracting the pipeline graph" not in second.stdout
    repo.assert_image_pushed()
    repo.assert_pipeline_ran_in_volume()  # Airflow ran the DAG in the made image
    config = image_config(repo, repository, repo.commit)
    assert config["config"]["Labels"]["org.opencontainers.image.revision"] == repo.commit
    assert "moby.buildkit.cache.v0" not in config["config"]["Labels"]  # it would map the old code to this layer
    image = f"{repo.image_repo}:{repo.commit}"
    checks = ("import sys; sys.path.insert(0, 'src'); import pandas as pd, os; "
              "from spaceflights.pipelines.data_processing.nodes import _is_true; "
              "print(_is_true(pd.Series(['T'])).tolist(), os.getuid(), os.stat('src').st_uid, "
              "os.path.isdir('conf/local'), sorted(os.listdir('.')))")
    ran = docker("run", "--rm", "--entrypoint", "python", image, "-c", checks).stdout
    assert ran.startswith("[True] 999 999 True")  # the new code, as the Dockerfile's user and owner
    assert "'.git'" not in ran  # .dockerignore applied, by Docker

    # the same commit built as usual (another repository: no record, so no code-only deploy) has the same files,
    # folders included, and in both a node can write into its working folder
    built = f"{repo.image_repo}-built:{repo.commit}"
    usual = run_readme("docker-run-action", repo, {**env, "INPUT_IMAGE": built.rsplit(":", 1)[0],
                                                   "INPUT_DRY_RUN": "true", "INPUT_RUN_ONCE": "false"})
    assert usual.returncode == 0, (usual.stdout + usual.stderr)[-4000:]
    assert file_tree(image) == file_tree(built)
    for each in (image, built):
        wrote = docker("run", "--rm", each, "sh", "-c", "kedro run --pipeline data_processing --nodes "
                       "preprocess_companies_node 2>&1 && echo ok > written-by-a-node && cat written-by-a-node",
                       check=False)
        assert wrote.returncode == 0 and wrote.stdout.endswith("ok\n"), wrote.stdout[-3000:]
        assert "Permission denied" not in wrote.stdout

    pipeline = repo.project / PIPELINE
    pipeline.write_text(pipeline.read_text().replace('name="preprocess_companies_node", tags=["preprocessing"]',
                                                     'name="preprocess_companies_node", tags=["preprocessing", "w"]'))
    repo.commit_all("the pipeline itself")
    third = run_readme("docker-run-action", repo, {**env, "INPUT_RUN_ONCE": "false"})
    assert third.returncode == 0, (third.stdout + third.stderr)[-4000:]
    assert "Code-only deploy: no (the change can alter the pipeline graph" in third.stdout
    assert "Extracting the pipeline graph" in third.stdout


def test_production_takes_back_only_what_its_key_signed(docker_stack, airflow_server, tmp_path):
    """The default branch's deploy, as production runs it (record-key from its environment), each on a runner
    whose engine has none of the project's layers: its first deploy signs its record; a node's body change is
    a code-only deploy from that record; a pipeline change builds with BuildKit reading the layer cache from
    the image the record names, by digest (never a tag a branch's job could have written)."""
    repo = UserRepo(tmp_path, docker_stack, airflow_server, "prod-spaceflights")
    git(repo.root, "branch", "-m", "main")  # the default branch: production
    env = {**action_env(repo, docker_stack.registry.password), "INPUT_RUN_ONCE": "false",
           "INPUT_RECORD_KEY": "production-record-key-" + uuid.uuid4().hex}
    first = run_readme("docker-run-action", repo, env)
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    assert "Code-only deploy: no (no record yet" in first.stdout
    assert "the default branch takes none from the registry" in first.stdout
    repository = repo.image_repo.split("/", 1)[1]
    registry = repo.stack.registry
    manifest = requests.get(f"http://{registry.host}/v2/{repository}/manifests/{graph_tag('main')}", timeout=10,
                            auth=(registry.username, registry.password),
                            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).json()
    assert "dev.kedro-af-ci.record.hmac-sha256" in manifest.get("annotations", {})  # signed with the key
    built = repo.stack.registry.manifest(repository, repo.commit).headers["Docker-Content-Digest"]
    forget_project_images(repo)

    nodes = repo.project / NODES
    nodes.write_text(nodes.read_text().replace('return x == "t"', 'return x.str.lower() == "t"'))
    repo.commit_all("a node's body")
    second = run_readme("docker-run-action", repo, env)
    log = second.stdout + second.stderr
    assert second.returncode == 0, log[-4000:]
    assert "Code-only deploy: yes" in second.stdout
    assert "RUN pip install" not in log and "Pulling from" not in log
    forget_project_images(repo)

    pipeline = repo.project / PIPELINE
    pipeline.write_text(pipeline.read_text().replace('tags=["preprocessing"]', 'tags=["preprocessing", "w"]', 1))
    repo.commit_all("the pipeline itself")
    third = run_readme("docker-run-action", repo, env)
    log = third.stdout + third.stderr
    assert third.returncode == 0, log[-4000:]
    assert "Code-only deploy: no (the change can alter the pipeline graph" in third.stdout
    assert f"Layer cache: {repo.image_repo}@{built} (read from the registry by BuildKit)" in third.stdout
    assert "docker pull" not in log and "Pulling from" not in log
    install = next(lines for step, lines in buildkit_steps(log) if step.startswith("RUN pip install"))
    assert "CACHED" in install  # BuildKit read the inline cache through the digest reference


def file_tree(image: str) -> dict[str, tuple]:
    """Every path of the image's file system: kind, mode, owner, group, and the content's hash (a link's
    target). Python's bytecode embeds its source file's time, which differs between any two builds of the
    same layer: its content is left out (its path, owner and mode are compared)."""
    import hashlib
    import io
    import tarfile

    container = docker("create", image).stdout.strip()
    try:
        exported = subprocess.run(["docker", "export", container], capture_output=True, check=True, timeout=300).stdout
    finally:
        docker("rm", "-f", container)
    tree = {}
    with tarfile.open(fileobj=io.BytesIO(exported)) as archive:
        for entry in archive:
            name = "/" + entry.name.strip("/")
            if name.startswith(("/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/.dockerenv", "/dev", "/proc",
                                "/sys")):
                continue  # made by the engine for each container
            content = entry.linkname.encode() if entry.issym() or entry.islnk() else b""
            if entry.isfile() and not name.endswith(".pyc"):
                content = archive.extractfile(entry).read()  # type: ignore[union-attr]
            tree[name] = (entry.type, entry.mode, entry.uid, entry.gid, hashlib.sha256(content).hexdigest())
    return tree


def forget_project_images(repo: UserRepo) -> None:
    """A new runner: none of the project's images or build cache on the engine."""
    for ref in docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repo.image_repo).stdout.split():
        docker("image", "rm", "-f", ref)
    docker("image", "prune", "-f")
    docker("builder", "prune", "-af")
