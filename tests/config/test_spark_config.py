"""The Spark section, a union tagged by ``type``: each type takes its own keys and requires its own; a key
of another type, a missing one and an unknown type are each one message naming the key."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, make_config

from kedro_af_ci.config import (
    ClusterSpark,
    CustomSpark,
    DataprocSpark,
    KubernetesSpark,
    SparkConfig,
    SparkType,
    load_config,
    spark_config,
)
from kedro_af_ci.errors import ConfigError
from kedro_af_ci.gitinfo.commit import GitInfo

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

GIT = GitInfo("a" * 40, "main")
KUBERNETES = {"type": "kubernetes", "conn_id": "spark_k8s", "image": "repo/spark:1",
              "application": "local:///home/kedro/src/p/__main__.py", "conf": {"spark.sql.shuffle.partitions": 8},
              "num_executors": 3, "driver_port": 40000, "block_manager_port": 50000,
              "local_storage_class_name": "fast-ssd", "local_storage_size": "50Gi"}
CLUSTER = {"operator_factory": "my_project.factories.OperatorFactory", "region": "europe-west1",
           "project_id": "target-project", "cluster_name": "ephemeral", "artifacts_path": "gs://bucket/packages",
           "user_init_path": "init.sh", "user_post_init_path": "post.sh",
           "cluster_config": {"master_config": {"disk_config": {"boot_disk_size_gb": 35}}},
           "archive_exclude": ["*.parquet"]}
DATAPROC = {"type": "dataproc", **CLUSTER}
CUSTOM = {"type": "custom", **CLUSTER}


def spark_of(tmp_path, spark: dict):
    return make_config(tmp_path, {"image": "a:1", "spark": spark}).run_config.spark


def refusal(tmp_path, spark) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        spark_of(tmp_path, spark)
    assert info.value.file.endswith("conf/base/airflow-k8s.yaml") and "\n" not in str(info.value)
    return info.value


@pytest.mark.parametrize(("spark", "model"), [(KUBERNETES, KubernetesSpark), (DATAPROC, DataprocSpark),
                                              (CUSTOM, CustomSpark)])
def test_each_type_takes_every_key_of_its_own(tmp_path, spark, model):
    section = spark_of(tmp_path, spark)
    assert type(section) is model and isinstance(section, SparkConfig)
    assert type(section.type) is SparkType and section.type == spark["type"]
    assert section.model_dump(mode="json") == {**section.model_dump(mode="json"), **spark}
    assert set(spark) == set(model.model_fields)  # every key of the type, and the fixtures miss none


def test_each_type_needs_only_its_required_keys(tmp_path):
    assert spark_of(tmp_path / "k", {"type": "kubernetes"}) == KubernetesSpark(type="kubernetes")
    dataproc = spark_of(tmp_path / "d", {"type": "dataproc", "region": "r", "project_id": "p",
                                         "artifacts_path": "gs://b"})
    assert dataproc.operator_factory is None and dataproc.cluster_config == {}  # the built-in factory
    custom = spark_of(tmp_path / "c", {"type": "custom", "operator_factory": "pkg.Factory", "artifacts_path": "gs://b"})
    assert custom.region is None and custom.project_id is None  # a custom factory gets them when given


def test_k8s_is_kubernetes(tmp_path):
    """kedro-airflow-k8s named the type k8s: the same section, its keys and checks."""
    section = spark_of(tmp_path, {**KUBERNETES, "type": "k8s"})
    assert type(section) is KubernetesSpark and section.type is SparkType.KUBERNETES
    assert section == spark_of(tmp_path / "again", KUBERNETES)
    assert spark_config({**KUBERNETES, "type": "k8s"}) == spark_config(KUBERNETES)
    assert spark_config({"type": "k8s"}) == KubernetesSpark(type="k8s") == KubernetesSpark(type="kubernetes")
    with pytest.raises(ConfigError, match="applies to spark types dataproc and custom, not kubernetes"):
        spark_of(tmp_path / "region", {"type": "k8s", "region": "r"})


def test_spark_config_gives_the_section_of_the_type_named():
    """spark_config(keys): the model of the keys' type, as run_config.spark reads it."""
    assert type(spark_config({"type": "custom", "operator_factory": "a.B", "artifacts_path": "gs://b"})) is CustomSpark
    assert type(spark_config(DATAPROC)) is DataprocSpark
    assert issubclass(DataprocSpark, ClusterSpark) and issubclass(CustomSpark, ClusterSpark)
    assert not issubclass(KubernetesSpark, ClusterSpark)
    with pytest.raises(ValueError, match=r"kubernetes\.region"):
        spark_config({"type": "kubernetes", "region": "r"})


@pytest.mark.parametrize(("spark", "key", "message"), [
    ({"type": "kubernetes", "region": "europe-west1"}, "run_config.spark.region",
     "applies to spark types dataproc and custom, not kubernetes"),
    ({"type": "kubernetes", "artifacts_path": "gs://b"}, "run_config.spark.artifacts_path",
     "applies to spark types dataproc and custom, not kubernetes"),
    ({"type": "kubernetes", "operator_factory": "a.B"}, "run_config.spark.operator_factory",
     "applies to spark types dataproc and custom, not kubernetes"),
    ({**DATAPROC, "conn_id": "spark_k8s"}, "run_config.spark.conn_id",
     "applies to spark type kubernetes, not dataproc"),
    ({**CUSTOM, "num_executors": 2}, "run_config.spark.num_executors", "applies to spark type kubernetes, not custom"),
    ({**DATAPROC, "conf": {"spark.x": "1"}}, "run_config.spark.conf", "applies to spark type kubernetes, not dataproc"),
])
def test_a_key_of_another_type_is_refused_by_name(tmp_path, spark, key, message):
    error = refusal(tmp_path, spark)
    assert (error.key, error.message) == (key, message)


def test_every_key_of_another_type_is_named(tmp_path):
    error = refusal(tmp_path, {**CUSTOM, "image": "a:1", "local_storage_size": "1Gi"})
    assert error.key == "run_config.spark.image"
    assert error.message == ("applies to spark type kubernetes, not custom (and 1 more: "
                             "run_config.spark.local_storage_size: applies to spark type kubernetes, not custom)")


def test_a_misspelled_key_still_gets_its_hint(tmp_path):
    error = refusal(tmp_path, {"type": "kubernetes", "num_executor": 2})
    assert (error.key, error.message) == ("run_config.spark.num_executor", "unknown key 'num_executor' (did you mean "
                                                                           "'num_executors'?)")


@pytest.mark.parametrize(("spark", "key", "message"), [
    ({"type": "dataproc", "project_id": "p", "artifacts_path": "gs://b"}, "run_config.spark.region",
     "required key is missing: spark type dataproc needs region and project_id"),
    ({"type": "dataproc", "region": "r", "artifacts_path": "gs://b"}, "run_config.spark.project_id",
     "required key is missing: spark type dataproc needs region and project_id"),
    ({"type": "dataproc", "region": "r", "project_id": "p"}, "run_config.spark.artifacts_path",
     "required key is missing: spark needs artifacts_path (types dataproc and custom)"),
    ({"type": "custom", "artifacts_path": "gs://b"}, "run_config.spark.operator_factory",
     "required key is missing: spark type custom needs operator_factory"),
    ({"type": "custom", "operator_factory": "a.B"}, "run_config.spark.artifacts_path",
     "required key is missing: spark needs artifacts_path (types dataproc and custom)"),
])
def test_a_missing_required_key_is_named_with_its_type(tmp_path, spark, key, message):
    error = refusal(tmp_path, spark)
    assert (error.key, error.message) == (key, message)


def test_an_unknown_or_missing_type_lists_the_types(tmp_path):
    error = refusal(tmp_path / "emr", {"type": "emr", "region": "r"})
    assert (error.key, error.message) == ("run_config.spark.type",
                                          "Input should be 'kubernetes', 'dataproc' or 'custom', got 'emr'")
    error = refusal(tmp_path / "none", {"region": "r"})
    assert (error.key, error.message) == ("run_config.spark.type",
                                          "required key is missing (expected 'kubernetes', 'dataproc' or 'custom')")


@pytest.mark.parametrize(("spark", "key", "fragment"), [
    ({**DATAPROC, "cluster_name": "Not_A_Name"}, "run_config.spark.cluster_name", "must be lowercase letters"),
    ({**CUSTOM, "operator_factory": "not-a-class"}, "run_config.spark.operator_factory", "not a dotted class path"),
    ({"type": "kubernetes", "local_storage_size": "1Gi"}, "run_config.spark", "go together"),
    ({"type": "kubernetes", "application": "/home/kedro/run.py"}, "run_config.spark", "is not a URI"),
    ({"type": "kubernetes", "driver_port": 70000}, "run_config.spark.driver_port", "less than 65536"),
])
def test_the_checks_of_each_type_name_their_key(tmp_path, spark, key, fragment):
    error = refusal(tmp_path, spark)
    assert error.key == key and fragment in error.message


def test_a_predecessors_cluster_keys_on_kubernetes_are_ignored_with_a_warning(tmp_path, caplog):
    """kedro-airflow-k8s's k8s type took cluster_name (its connection) and cluster_config: spark-submit has
    no cluster, so they are dropped, each named once."""
    with caplog.at_level(logging.WARNING, logger="kedro_af_ci.config"):
        section = spark_of(tmp_path, {"type": "k8s", "cluster_name": "spark_k8s",
                                      "cluster_config": {"run_script": "local:///test.py"}})
    assert section == KubernetesSpark(type="kubernetes")
    assert caplog.text.count("run_config.spark.cluster_name is ignored with type kubernetes") == 1
    assert caplog.text.count("run_config.spark.cluster_config is ignored with type kubernetes") == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kedro_af_ci.config"):
        spark_of(tmp_path / "empty", {"type": "kubernetes", "cluster_name": None, "cluster_config": {}})
    assert "ignored" not in caplog.text  # nothing set, nothing to say


def test_an_env_can_switch_the_type_only_with_the_keys_of_the_new_one(tmp_path):
    """Layers merge before validation: a type named in an env over a base of another type keeps the base's
    keys, which the new type refuses by name."""
    for env, spark in (("base", DATAPROC), ("k8s", {"type": "kubernetes"})):
        path = tmp_path / "conf" / env / "airflow-k8s.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(yaml.safe_dump({"run_config": {"image": "a:1", "spark": spark}}))
    with pytest.raises(ConfigError, match=r"run_config\.spark\.operator_factory: applies to spark types dataproc "
                                          "and custom, not kubernetes"):
        load_config(tmp_path, "k8s", environ={}, git_info=GIT)
    assert type(load_config(tmp_path, environ={}, git_info=GIT).run_config.spark) is DataprocSpark


# every config the repository holds still loads: the example's envs, the fixtures, `init`'s template
EXAMPLE = ROOT / "examples" / "spaceflights"
PYSPARK = Path(__file__).parents[1] / "fixtures" / "spaceflights_pyspark"


@pytest.mark.parametrize("env", sorted(p.parent.name for p in (EXAMPLE / "conf").glob("*/airflow-k8s.yaml")))
def test_the_examples_configs_still_load(env):
    assert load_config(EXAMPLE, None if env == "base" else env, environ={}, git_info=GIT).run_config.image


def test_the_pyspark_fixtures_config_still_loads():
    spark = load_config(PYSPARK, environ={}, git_info=GIT).run_config.spark
    assert type(spark) is DataprocSpark and spark.user_init_path == "spaceflights_pyspark/init_script.sh"


def test_inits_config_still_loads_with_its_commented_features(tmp_path):
    from kedro_af_ci.cli.scaffold import plan_config

    planned = plan_config(tmp_path, "conf", None, host="https://airflow.example.com", output="gs://dags",
                          image=None, project={"package_name": "p", "project_name": "P"})
    planned.path.parent.mkdir(parents=True)
    planned.path.write_text(planned.text)
    assert load_config(tmp_path, environ={}, git_info=GIT).run_config.spark is None
    text = planned.text
    optional = text[text.index("  # Optional features"):]
    uncommented = "\n".join(line.replace("  # ", "  ", 1) if not line.strip().startswith(("# Optional",
                                                                                          "# MLflow is on"))
                            else line for line in optional.splitlines())
    planned.path.write_text(text[:text.index("  # Optional features")] + uncommented + "\n")
    spark = load_config(tmp_path, environ={}, git_info=GIT).run_config.spark
    assert type(spark) is DataprocSpark and spark.cluster_config == {"worker_config": {"num_instances": 2}}


def test_the_seeds_spark_section_loads_as_written(tmp_path):
    """kedro-airflow-k8s's documented example (seed 2.2): type dataproc with every key, operator_factory
    included (it replaces the built-in operators there)."""
    seed = {"type": "dataproc", "operator_factory": "my_project.factories.OperatorFactory",
            "region": "europe-west1", "project_id": "target-project", "cluster_name": "ephemeral",
            "artifacts_path": "gs://dataproc-staging-europe-west2-546213781-jabcdefp4/packages",
            "user_init_path": "relative_location_to_src/init_script.sh",
            "user_post_init_path": "relative_location_to_src/post_init_script.sh",
            "cluster_config": {"master_config": {"disk_config": {"boot_disk_size_gb": 35}},
                               "worker_config": {"disk_config": {"boot_disk_size_gb": 35}}}}
    spark = spark_of(tmp_path, seed)
    assert type(spark) is DataprocSpark and spark.model_dump(exclude_defaults=True, mode="json") == seed


@pytest.mark.parametrize(("spark", "key"), [
    ({"type": "dataproc", "region": "", "project_id": "p", "artifacts_path": "gs://b"}, "run_config.spark.region"),
    ({"type": "dataproc", "region": "r", "project_id": "", "artifacts_path": "gs://b"}, "run_config.spark.project_id"),
    ({"type": "custom", "operator_factory": "a.B", "artifacts_path": ""}, "run_config.spark.artifacts_path"),
    ({"type": "custom", "operator_factory": "", "artifacts_path": "gs://b"}, "run_config.spark.operator_factory"),
])
def test_a_required_key_may_not_be_empty(tmp_path, spark, key):
    """As the hand-written checks had it: an empty region or path is no value."""
    assert refusal(tmp_path, spark).key == key
