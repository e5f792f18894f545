"""Spark on Kubernetes (``spark.type: kubernetes``/``k8s``): the predecessor's seed-style YAML compiled,
pre-flighted and loaded in real Airflow; the submit operator's fields after rendering; and the exact
spark-submit command the Spark provider's own hook builds from them (what the worker runs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import load_dag, make_repo, render

from kedro_af_ci.compiler.pipeline import CompileRequest, compile_dag
from kedro_af_ci.errors import ConfigError
from kedro_af_ci.plan.spark_kubernetes import spark_memory

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

FIXTURE = Path(__file__).parents[1] / "fixtures" / "spaceflights_pyspark"
GROUP_1 = ("to_spark", "preprocess_shuttles", "count_rows", "join_counts")
IMAGE = "europe-docker.pkg.dev/acme/ml/spaceflights-pyspark"
MASTER = "k8s://https://10.0.0.1:443"

SEED_STYLE = f"""
run_config:
  image: {IMAGE}:${{commit_id|latest}}
  run_name: spaceflights-pyspark
  namespace: ml
  service_account_name: spark-driver
  macro_params: [ds]
  env_vars: {{PIPELINE_STAGE: prod, NOT_JINJA: "{{not: jinja}}", RUN_DAY: "{{{{ ds }}}}"}}
  mlflow: {{enabled: true, tracking_uri: "http://mlflow.ml:5000"}}
  secrets:
    - {{deploy_type: env, deploy_target: DB_PASSWORD, secret: db, key: password}}
    - {{deploy_type: volume, deploy_target: /var/secrets/gcp, secret: gcp-sa}}
    - {{deploy_type: env, secret: all-of-it}}
  resources:
    __default__: {{requests: {{cpu: "1"}}, limits: {{memory: 2Gi}}}}
    spark: {{requests: {{cpu: 500m}}, limits: {{cpu: "2", memory: 4Gi}}, labels: {{team: ml}},
             node_selectors: {{pool: spark}}, tolerations: [{{key: spark, operator: Exists}}]}}
  spark:
    type: k8s
    conn_id: spark_k8s
    num_executors: 3
    driver_port: 40000
    block_manager_port: 50000
    local_storage_class_name: fast-ssd
    local_storage_size: 50Gi
    conf: {{spark.sql.shuffle.partitions: 8, spark.dynamicAllocation.enabled: false}}
"""


@pytest.fixture(scope="module")
def k8s_project(tmp_path_factory):
    project = tmp_path_factory.mktemp("pyspark-k8s") / "spaceflights_pyspark"
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "conf" / "base" / "airflow-k8s.yaml").write_text(SEED_STYLE)
    (project / "conf" / "local").mkdir(exist_ok=True)
    # the first Spark group gets the "spark" resources profile by node tag, as a pod would
    nodes = project / "src" / "spaceflights_pyspark" / "pipelines" / "spaceflights.py"
    nodes.write_text(nodes.read_text().replace('name="to_spark", tags=["kedro-airflow-k8s.group.pyspark"]',
                                               'name="to_spark", tags=["kedro-airflow-k8s.group.pyspark", '
                                               '"resources.spark"]'))
    commit = make_repo(project)
    return project, commit


@pytest.fixture(scope="module")
def compiled(k8s_project, tmp_path_factory):
    project, _ = k8s_project
    result = compile_dag(CompileRequest(project_path=project))
    assert result.verification.checked  # the pre-flight loaded it in DagBag with the Spark provider
    dag = load_dag(result.dag.source, result.dag.dag_id, tmp_path_factory.mktemp("dags"))
    return result, dag


class _Ti:
    def xcom_pull(self, task_ids=None, key="return_value"):
        return {"start_mlflow_run": "run-0123"}[task_ids]


def test_seed_style_yaml_gives_one_submit_per_group_and_no_cluster(compiled):
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    result, dag = compiled
    assert result.artifacts is None  # the image is the Spark image: nothing to upload
    submits = {t.task_id for t in dag.tasks if isinstance(t, SparkSubmitOperator)}
    assert submits == {"pyspark_1", "pyspark_2"}
    assert not {"create_spark_cluster", "delete_spark_cluster"} & set(dag.task_dict)
    assert "start_mlflow_run" in {t.task_id for t in dag.task_dict["pyspark_1"].get_flat_relatives(upstream=True)}
    warnings = " ".join(result.dag.warnings)
    assert "secret all-of-it (deploy_type env without key)" in warnings and "tolerations" in warnings


def test_submit_fields_after_rendering(compiled):
    result, dag = compiled
    task = render(dag.task_dict["pyspark_1"], ti=_Ti())
    image = f"{IMAGE}:{result.git.commit_id}"
    assert task._conn_id == "spark_k8s" and task.name == "spaceflights-pyspark-pyspark_1"
    assert task.application == "local:///home/kedro/src/spaceflights_pyspark/__main__.py"
    assert task.application_args == ["--pipeline", "__default__", "--nodes", ",".join(GROUP_1),
                                     "--params", "ds=2026-11-22"]
    assert task.env_vars == {"PIPELINE_STAGE": "prod", "NOT_JINJA": "{not: jinja}", "RUN_DAY": "2026-11-22",
                             "MLFLOW_RUN_ID": "run-0123"}
    conf = task.conf
    expected = {
        "spark.submit.deployMode": "cluster",
        "spark.kubernetes.namespace": "ml",
        "spark.kubernetes.container.image": image,
        "spark.kubernetes.authenticate.driver.serviceAccountName": "spark-driver",
        "spark.kubernetes.driverEnv.PYTHONPATH": "/home/kedro/src",
        "spark.executorEnv.PIPELINE_STAGE": "prod",
        "spark.kubernetes.driver.secretKeyRef.DB_PASSWORD": "db:password",
        "spark.kubernetes.executor.secrets.gcp-sa": "/var/secrets/gcp",
        "spark.driver.port": "40000",
        "spark.blockManager.port": "50000",
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.spark-local-dir-1.options.storageClass": "fast-ssd",
        "spark.sql.shuffle.partitions": "8",
        "spark.dynamicAllocation.enabled": "false",
    }
    assert {k: conf.get(k) for k in expected} == expected
    assert task._num_executors == 3


def test_each_group_has_its_own_resource_profile(compiled):
    _, dag = compiled
    tagged = render(dag.task_dict["pyspark_1"], ti=_Ti()).conf  # resources.spark over __default__
    assert {k: tagged.get(k) for k in (
        "spark.kubernetes.driver.request.cores", "spark.kubernetes.executor.limit.cores", "spark.driver.memory",
        "spark.executor.memory", "spark.kubernetes.driver.label.team", "spark.kubernetes.node.selector.pool",
    )} == {"spark.kubernetes.driver.request.cores": "500m", "spark.kubernetes.executor.limit.cores": "2",
           "spark.driver.memory": "4g", "spark.executor.memory": "4g", "spark.kubernetes.driver.label.team": "ml",
           "spark.kubernetes.node.selector.pool": "spark"}
    default = render(dag.task_dict["pyspark_2"], ti=_Ti()).conf
    assert default["spark.kubernetes.executor.request.cores"] == "1" and default["spark.executor.memory"] == "2g"
    assert "spark.kubernetes.node.selector.pool" not in default


def test_the_provider_hook_builds_the_cluster_mode_command(compiled, monkeypatch):
    """What the worker runs: the Spark provider's own hook, with a connection naming the k8s master."""
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    monkeypatch.setenv("AIRFLOW_CONN_SPARK_K8S", json.dumps({"conn_type": "spark", "host": MASTER}))
    result, dag = compiled
    task = render(dag.task_dict["pyspark_1"], ti=_Ti())
    hook = SparkSubmitHook(conf=task.conf, conn_id=task._conn_id, name=task.name, num_executors=task._num_executors,
                           env_vars=task.env_vars, application_args=task.application_args,
                           deploy_mode=task._deploy_mode)
    command = hook._build_spark_submit_command(task.application)
    pairs = {command[i + 1] for i, part in enumerate(command) if part == "--conf"}
    assert command[command.index("--master") + 1] == MASTER
    assert command[command.index("--deploy-mode") + 1] == "cluster"
    assert "spark.kubernetes.driverEnv.MLFLOW_RUN_ID=run-0123" in pairs  # env for the driver, in cluster mode
    assert f"spark.kubernetes.container.image={IMAGE}:{result.git.commit_id}" in pairs
    assert command[command.index("--num-executors") + 1] == "3"
    app = command.index("local:///home/kedro/src/spaceflights_pyspark/__main__.py")
    assert command[app + 1:] == ["--pipeline", "__default__", "--nodes", ",".join(GROUP_1),
                                 "--params", "ds=2026-11-22"]


@pytest.mark.parametrize(("quantity", "jvm"), [("4Gi", "4g"), ("512Mi", "512m"), ("1G", "954m"),
                                               ("1.5Gi", "1536m"), ("1073741824", "1024m")])
def test_memory_quantities_as_jvm_sizes(quantity, jvm):
    assert spark_memory(quantity) == jvm


def test_kubernetes_needs_no_artifacts_path_and_checks_its_keys(tmp_path):
    from kedro_af_ci.config import spark_config

    assert spark_config({"type": "k8s"}).type == "kubernetes"
    with pytest.raises(ValueError, match="local_storage_class_name and local_storage_size go together"):
        spark_config({"type": "kubernetes", "local_storage_size": "10Gi"})
    with pytest.raises(ValueError, match="is not a URI"):
        spark_config({"type": "kubernetes", "application": "/home/kedro/run.py"})


def test_a_bad_kubernetes_key_is_one_config_error_naming_it(tmp_path):
    from conftest import make_config

    with pytest.raises(ConfigError, match=r"run_config\.spark\.num_executors"):
        make_config(tmp_path, {"image": "a:1", "spark": {"type": "kubernetes", "num_executors": 0}})


def test_seed_yaml_loads_with_only_the_documented_keys():
    keys = set(yaml.safe_load(SEED_STYLE)["run_config"]["spark"])
    assert keys <= {"type", "conn_id", "num_executors", "driver_port", "block_manager_port",
                    "local_storage_class_name", "local_storage_size", "conf", "image", "application"}
