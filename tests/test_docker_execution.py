"""execution: docker. Its tasks carry the Kubernetes pods' contract (same image, command, arguments,
environment, data mount), and a DAG run by the real Airflow scheduler runs every task inside the
project image on the real Docker engine, then removes the run's volume."""

from __future__ import annotations

import pytest
from conftest import build_pod, copy_example, load_dag, make_config, make_graph, make_repo, render, run_cli
from containers import docker

from kedro_af_ci.compiler.pipeline import CompileRequest, compile_dag
from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.plan.build import build_plan
from kedro_af_ci.render.dag import render_dag

pytestmark = pytest.mark.airflow


def _compiled(project, folder, execution: str):
    """The example's docker env compiled for ``execution``: nothing else differs."""
    folder.mkdir()
    result = compile_dag(CompileRequest(project_path=project, env="docker", verify=False,
                                        overrides={"run_config": {"execution": execution}}))
    return load_dag(result.dag.source, result.dag.dag_id, folder)


def test_docker_tasks_carry_the_pod_contract(example_repo, tmp_path):
    pods = _compiled(example_repo[0], tmp_path / "k8s", "kubernetes")
    containers = _compiled(example_repo[0], tmp_path / "docker", "docker")
    nodes = [t.task_id for t in pods.tasks if type(t).__name__ == "KubernetesPodOperator"
             and t.task_id != "data_volume_init"]
    assert len(nodes) == 10
    for task_id in nodes:
        pod = build_pod(pods.get_task(task_id)).spec.containers[0]
        container = render(containers.get_task(task_id))
        assert type(container).__name__ == "DockerOperator"
        assert container.image == pod.image
        assert container.entrypoint == pod.command == ["kedro"]
        assert container.command == pod.args
        assert pod.args[:5] == ["run", "--env", "docker", "--pipeline", "__default__"]
        assert container.environment == {e.name: e.value for e in pod.env}
        assert [m["target"] for m in container.mounts] == [m.mount_path for m in pod.volume_mounts] \
            == ["/home/kedro/data"]
        assert container.do_xcom_push is False and container.mount_tmp_dir is False
    init = render(containers.get_task("data_volume_init"))
    assert init.user == "0" and init.entrypoint == ["sh", "-c"]
    assert init.command[2:] == ["/home/kedro/data", "/mnt/kedro-data-volume"]
    assert init.mounts[0]["source"] == render(containers.get_task(nodes[0])).mounts[0]["source"]


def test_profiles_become_cpu_shares_memory_limits_and_labels(tmp_path):
    config = make_config(tmp_path, {
        "image": "registry.example.com/p:1", "execution": "docker", "docker": {"network_mode": "none"},
        "secrets": [{"secret": "s"}],
        "resources": {"__default__": {"requests": {"cpu": "500m"}, "limits": {"memory": "2Gi"},
                                      "labels": {"team": "ds"}},
                      "big": {"requests": {"cpu": "4"}, "tolerations": [{"key": "k", "operator": "Exists"}]}},
    })
    graph = make_graph([("a", [], ["x"], ["resources.big"]), ("b", ["x"], [], [])])
    plan = build_plan(graph, config, GitInfo("a" * 40, "main"))
    dag = load_dag(render_dag(plan).source, plan.dag.dag_id, tmp_path)
    big, default = dag.get_task("a"), dag.get_task("b")
    assert (big.cpus, big.mem_limit) == (4.0, 2 * 2**30)  # the named profile over __default__
    assert (default.cpus, default.mem_limit, default.labels) == (0.5, 2 * 2**30, {"team": "ds"})
    assert default.network_mode == "none"
    [warning] = [w for w in plan.warnings if w.code == "docker-settings-not-applied"]
    assert "secrets" in warning and "resources.big: tolerations" in warning


@pytest.mark.slow
def test_dag_runs_every_task_in_the_image_and_removes_its_volume(docker_stack, airflow_server, tmp_path):
    project = copy_example(tmp_path / "spaceflights")
    commit = make_repo(project)
    image = f"kaf-tests/spaceflights:{commit}"
    docker("build", "--network", "host", "--build-arg", f"BASE_IMAGE={docker_stack.base['BASE_IMAGE']}",
           "--tag", image, str(project))
    env = {"KEDRO_CONFIG_AIRFLOW_HOST": airflow_server.url, "KEDRO_CONFIG_DAGS_FOLDER": str(airflow_server.dags_folder),
           "KEDRO_CONFIG_IMAGE_REPOSITORY": "kaf-tests/spaceflights", "KEDRO_CONFIG_RUN_NAME": "docker-removes-volume",
           "KEDRO_CONFIG_KEEP_VOLUME": "false", **airflow_server.env()}
    result = run_cli("--project-path", str(project), "-e", "docker", "-p", "data_processing", "run-once",
                     "--wait-for-completion", "--poll-interval", "1", env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "success" in result.stdout
    for task in ("data_volume_init", "preprocess_companies_node", "create_model_input_table_node", "delete_volume"):
        assert task in result.stdout
    volumes = docker("volume", "ls", "-q").stdout.split()
    assert not [v for v in volumes if v.startswith("docker-removes-volume-")]
