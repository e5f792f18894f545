"""A custom Spark operator factory is the project's code: the action runs it where the graph is read
(inside the project image, or in a cleaned child process on the opt-in), never in its own process.

The factory reports what it saw (the secrets in its environment? its working directory?) through
the operator arguments it returns, which land in the generated DAG, where the test reads them.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess

import pytest
import yaml
from conftest import copy_example, git, make_repo

FACTORY = '''"""Spark operators of the example (a test factory: it reports where it runs)."""
import os

from kedro_af_ci.spark import OperatorSpec, SparkOperatorFactory

SEEN = {"secrets": sorted(k for k in os.environ if "TOKEN" in k or "PASSWORD" in k or k.startswith("INPUT_")),
        "cwd": os.getcwd()}


class Factory(SparkOperatorFactory):
    def submit(self, settings, job):
        return OperatorSpec("airflow.providers.standard.operators.empty.EmptyOperator", {"doc": repr(SEEN)})
'''


def spark_project(root):
    """The example with a Spark dataset (a catalog type: no pyspark needed to read the graph) and a
    custom operator factory in its package."""
    project = copy_example(root / "spaceflights")
    catalog = project / "conf" / "base" / "catalog.yml"
    catalog.write_text(catalog.read_text().replace(
        "preprocessed_shuttles:\n  type: pickle.PickleDataset", "preprocessed_shuttles:\n  type: spark.SparkDataset"))
    (project / "src" / "spaceflights" / "factories.py").write_text(FACTORY)
    config = project / "conf" / "docker" / "airflow-k8s.yaml"
    data = yaml.safe_load(config.read_text())
    data["run_config"]["spark"] = {"type": "custom", "operator_factory": "spaceflights.factories.Factory",
                                   "artifacts_path": str(root / "artifacts")}
    config.write_text(yaml.safe_dump(data))
    return project


def deployment(root) -> str:
    """The workflow allows the factory's operator and names the artifacts folder (README, "Security model")."""
    return (f"executions: [docker]\nspark_artifacts_path: {root / 'artifacts'}\n"
            "operators: [airflow.providers.standard.operators.empty.EmptyOperator]\n")


def seen_by_factory(dag_source: str) -> dict:
    match = re.search(r"'doc': (?:literal\()?(\"[^\"]*\"|'[^']*')", dag_source)  # braces make it a literal()
    assert match, dag_source[-2000:]
    return ast.literal_eval(ast.literal_eval(match.group(1)))


@pytest.mark.slow
def test_the_factory_runs_in_the_project_image(docker_stack, tmp_path):
    project = spark_project(tmp_path)
    make_repo(project)
    env = {"INPUT_ENV": "docker", "INPUT_PIPELINE": "data_processing", "INPUT_IMAGE": "kaf-tests/isolation",
           "INPUT_DRY_RUN": "true", "INPUT_BUILD_NETWORK": "host", "INPUT_DEPLOYMENT": deployment(tmp_path),
           "INPUT_BUILD_ARGS": f"BASE_IMAGE={docker_stack.base['BASE_IMAGE']}",
           "AIRFLOW_API_TOKEN": "tok-must-stay-out", "INPUT_REGISTRY_PASSWORD": "pw-must-stay-out"}
    cmd = ["docker", "run", "--rm", "--network", "host", "-v", f"{project}:/workspace", "-w", "/workspace",
           "-v", "/var/run/docker.sock:/var/run/docker.sock"]
    for key in env:
        cmd += ["-e", key]
    result = subprocess.run([*cmd, docker_stack.action_image], capture_output=True, text=True, timeout=900,
                            env={**os.environ, **env})
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "Extracting the pipeline graph in image kaf-tests/isolation:" in result.stdout
    dag = next((project / "dag").glob("*.py")).read_text()
    assert seen_by_factory(dag) == {"secrets": [], "cwd": "/home/kedro"}  # the image's workdir, no secret
    assert "EmptyOperator as _SparkOperator0" in dag


def test_the_factory_runs_in_a_clean_child_process_on_the_opt_in(tmp_path):
    from test_entrypoint import Workspace

    ws = Workspace(tmp_path)
    spark_project(tmp_path / "replaced")  # the same changes, made to the workspace's project below
    for name in ("conf/base/catalog.yml", "conf/docker/airflow-k8s.yaml", "src/spaceflights/factories.py"):
        (ws.project / name).write_text((tmp_path / "replaced" / "spaceflights" / name).read_text())
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "a Spark factory")
    result = ws.run({"env": "docker", "pipeline": "data_processing", "build": "false", "dry-run": "true",
                     "verify": "false", "extract-without-docker": "true", "registry-password": "pw-must-stay-out",
                     "deployment": deployment(tmp_path / "replaced")},
                    env={"DOCKER_STUB_NO_ENGINE": "1", "AIRFLOW_API_TOKEN": "tok-must-stay-out"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    dag = next((ws.project / "dag").glob("*.py")).read_text()
    assert seen_by_factory(dag) == {"secrets": [], "cwd": str(ws.project)}
