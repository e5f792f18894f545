"""The project image `init` writes the recipe of (Dockerfile, .dockerignore), and the action image:
what they hold, what they keep out, and that they build with only their base-image arguments set."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE, copy_example, make_repo, run_cli
from containers import docker

HADOLINT = Path(sys.executable).with_name("hadolint")
SECRETS = {  # planted in the project before the build: none may reach the image
    "conf/local/credentials.yml": "db: {password: planted-1}\n",
    "conf/base/credentials.yml": "token: planted-2\n",
    "conf/local/parameters.yml": "local_only: true\n",
    ".env": "API_KEY=planted-3\n",
    "src/.env.production": "API_KEY=planted-4\n",
    "gha-creds-0123abcd.json": '{"type": "external_account"}\n',
    "keys/id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    "keys/tls.key": "-----BEGIN PRIVATE KEY-----\n",
    "my-service-account.json": '{"type": "service_account"}\n',
    ".docker/config.json": '{"auths": {}}\n',
    "data/02_intermediate/old.pkl": "stale\n",
    "data/08_reporting/report.csv": "a,b\n",
    "notebooks/explore.ipynb": "{}\n",
}


def init_files(tmp_path: Path, requirements: bool = True) -> Path:
    project = copy_example(tmp_path / "spaceflights")
    for name in ("Dockerfile", ".dockerignore"):
        (project / name).unlink()
    if not requirements:
        (project / "requirements.txt").unlink()
    run_cli("--project-path", str(project), "init", "http://airflow:8080", check=True)
    return project


def test_the_example_has_exactly_the_files_init_writes(tmp_path):
    project = init_files(tmp_path)
    for name in ("Dockerfile", ".dockerignore"):
        assert (project / name).read_text() == (EXAMPLE / name).read_text(), name


def test_init_keeps_an_existing_dockerfile_unless_forced(tmp_path):
    project = copy_example(tmp_path / "spaceflights")
    (project / "Dockerfile").write_text("FROM my-own\n")
    (project / ".dockerignore").unlink()
    result = run_cli("--project-path", str(project), "init", "http://airflow:8080", check=True)
    assert (project / "Dockerfile").read_text() == "FROM my-own\n"
    assert f"Wrote {project / '.dockerignore'}" in result.stdout
    run_cli("--project-path", str(project), "init", "http://airflow:8080", "--force", check=True)
    assert (project / "Dockerfile").read_text() == (EXAMPLE / "Dockerfile").read_text()


@pytest.mark.parametrize("requirements", [True, False], ids=["requirements.txt", "pyproject-only"])
def test_generated_dockerfile_passes_hadolint(tmp_path, requirements):
    project = init_files(tmp_path, requirements)
    text = (project / "Dockerfile").read_text()
    assert ("COPY requirements.txt" in text) is requirements
    assert ("RUN pip install --no-cache-dir ." in text) is not requirements
    result = subprocess.run([str(HADOLINT), "--failure-threshold", "info", str(project / "Dockerfile")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.slow
def test_project_image_holds_the_project_and_nothing_secret(docker_stack, tmp_path):
    project = init_files(tmp_path)
    for name, text in SECRETS.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    make_repo(project)
    image = "kaf-tests/project-image:planted"
    docker("build", "--network", "host", "--build-arg", f"BASE_IMAGE={docker_stack.base['BASE_IMAGE']}",
           "--tag", image, str(project))  # only the base-image argument differs from a user's build
    listing = docker("run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c",
                     "id -u; id -g; pwd; find . -path ./src -prune -o -print").stdout.split()
    uid, gid, workdir, files = listing[0], listing[1], listing[2], {f.removeprefix("./") for f in listing[3:]}
    assert (uid, gid, workdir) == ("999", "0", "/home/kedro")
    assert {"data/01_raw/companies.csv", "conf/base/catalog.yml", "pyproject.toml", "conf/local"} <= files
    leaked = [name for name in SECRETS if name in files or any(f.startswith(name + "/") for f in files)]
    assert leaked == [], leaked
    assert not [f for f in files if f == ".git" or f.startswith(".git/")]
    assert docker("run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c",
                  "ls conf/local | wc -l").stdout.strip() == "0"  # the folder Kedro needs, empty
    run = docker("run", "--rm", "--network", "none", image, "kedro", "run", "--pipeline", "data_processing",
                 check=False)
    assert run.returncode == 0, run.stderr[-2000:]  # `kedro run` works from the image's workdir, as non-root
    _spark_driver_contract(image)


def _spark_driver_contract(image: str) -> None:
    """spark.type kubernetes: the driver runs ``python <application> <application_args>`` in the image's
    workdir with the driver environment the submit sets; that command must run the nodes."""
    from kedro_af_ci.config import KubernetesSpark
    from kedro_af_ci.plan.spark_kubernetes import KubernetesSubmit, default_application, submit_spec
    from kedro_af_ci.spark import SparkJob

    submit = KubernetesSubmit(spark=KubernetesSpark(type="kubernetes"), image=image, image_pull_policy="Never",
                              namespace="ml", service_account_name=None,
                              application=default_application("/home/kedro", "spaceflights"),
                              source_path="/home/kedro/src", dag_id="spaceflights")
    job = SparkJob(task_id="pyspark_1", nodes=("preprocess_companies_node",), main_uri=submit.application, args=())
    spec, _ = submit_spec(submit, job, ("run", "--pipeline", "data_processing"), None)
    prefix = "spark.kubernetes.driverEnv."
    env = [f"--env={k.removeprefix(prefix)}={v}" for k, v in spec.arguments["conf"].items() if k.startswith(prefix)]
    driver = docker("run", "--rm", "--network", "none", *env, image, "python",
                    spec.arguments["application"].removeprefix("local://"), *spec.arguments["application_args"],
                    check=False)
    assert driver.returncode == 0, driver.stderr[-2000:]
    assert "Completed 1 out of 1 tasks" in driver.stderr + driver.stdout


@pytest.mark.slow
def test_action_image_holds_what_the_preflight_needs_and_not_the_google_provider(docker_stack):
    probe = ("import importlib.util as u; import airflow, kedro_af_ci; "
             "mods = ['airflow.providers.cncf.kubernetes', 'airflow.providers.docker', 'airflow.providers.slack', "
             "'airflow.providers.standard', 'airflow.providers.google', 'kedro', 'gcsfs', 's3fs']; "
             "print(airflow.__version__, *[int(u.find_spec(m) is not None) for m in mods])")
    out = docker("run", "--rm", "--network", "none", "--entrypoint", "python", docker_stack.action_image, "-c",
                 probe).stdout.split()
    assert out == ["3.3.2", "1", "1", "1", "1", "0", "0", "1", "1"]
    tools = docker("run", "--rm", "--network", "none", "--entrypoint", "sh", docker_stack.action_image, "-c",
                   "git --version && docker --version && id -u").stdout
    assert "git version" in tools and "Docker version" in tools and tools.split()[-1] == "0"
    assert shutil.which("docker")
