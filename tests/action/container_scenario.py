"""A user's repository for the container scenarios: the example project (with the Dockerfile and
.dockerignore `init` writes) in a real git repository, the CI files `init` generates, and what the
scenarios check afterwards: the image in the registry, the DAG file, the run's shared volume."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from conftest import copy_example, git, run_cli
from containers import docker

PIPELINE = "data_processing"
BRANCH = "feature/price-model"


class UserRepo:
    def __init__(self, tmp_path: Path, stack, airflow, run_name: str):
        self.root = tmp_path / "repo"
        self.project = copy_example(self.root / "spaceflights")
        self.stack, self.airflow, self.run_name = stack, airflow, run_name
        self.image_repo = f"{stack.registry.host}/spaceflights-{run_name}"
        git(self.root, "init", "-q", "-b", BRANCH)  # init writes the CI files at the repository's root
        result = run_cli("--project-path", str(self.project), "-e", "docker", "-p", PIPELINE, "init", airflow.url,
                         "--with-github-actions", "--with-gitlab-ci", "--cloud", "none", "--image", self.image_repo,
                         "--preview-image", self.image_repo, "--default-branch", "main",
                         "--action-sha", "0" * 40,
                         cwd=self.root, check=True)
        assert f"Kept {self.project / 'Dockerfile'}" in result.stdout  # the example's Dockerfile is its own
        self.commit_all("a Kedro project with the action's CI files")
        for stale in self._volumes():  # left by an earlier session on this machine's engine
            docker("volume", "rm", "-f", stale)

    def _volumes(self) -> list[str]:
        prefix = re.sub(r"[^a-z0-9]+", "-", self.dag_id.lower()) + "-"
        return [n for n in docker("volume", "ls", "-q").stdout.split() if n.startswith(prefix)]

    def commit_all(self, message: str) -> None:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-qm", message)
        self.commit = git(self.root, "rev-parse", "HEAD")

    @property
    def dag_id(self) -> str:
        return self.run_name  # plain names stay as they are (sanitize_id)

    @property
    def dag_file(self) -> Path:
        return self.airflow.dags_folder / f"{self.dag_id}.py"

    def config_env(self) -> dict[str, str]:
        """KEDRO_CONFIG_* values of the example's docker env (conf/docker/airflow-k8s.yaml). The Airflow
        host is not one of them: the token goes only to a host the workflow names (AIRFLOW_HOST)."""
        return {"KEDRO_CONFIG_DAGS_FOLDER": str(self.airflow.dags_folder),
                "KEDRO_CONFIG_RUN_NAME": self.run_name}

    def repository_variables(self) -> dict[str, str]:
        """The repository (or environment) variables the generated workflows read: where DAGs go, and
        what a branch's pipeline may use (execution docker, which the example's docker env asks for)."""
        return {"AIRFLOW_HOST": self.airflow.url, "KAF_DAGS_OUTPUT": str(self.airflow.dags_folder),
                "KAF_DEPLOYMENT": "executions: [docker]"}

    def expected_outputs(self) -> set[str]:
        """Files the pipeline's tasks write, relative to data/: from the catalog of their outputs."""
        catalog = yaml.safe_load((self.project / "conf" / "base" / "catalog.yml").read_text())
        outputs = {"preprocessed_companies", "preprocessed_shuttles", "model_input_table"}
        return {catalog[name]["filepath"].removeprefix("data/") for name in outputs}

    def run_volume(self) -> str:
        """The Docker volume of this DAG's run (the example keeps it: run_config.volume.keep)."""
        found = self._volumes()
        assert len(found) == 1, found
        return found[0]

    def assert_pipeline_ran_in_volume(self) -> None:
        files = self.stack.volume_files(self.run_volume())
        missing = self.expected_outputs() - set(files)
        assert not missing, f"outputs missing from the run's volume: {missing} (found {sorted(files)})"
        assert all(files[name] > 0 for name in self.expected_outputs())
        assert "01_raw/companies.csv" in files  # data_volume_init copied the image's inputs

    def assert_image_pushed(self) -> None:
        repository = self.image_repo.split("/", 1)[1]
        assert self.commit in self.stack.registry.tags(repository)
        assert self.stack.registry.manifest(repository, self.commit).status_code == 200
