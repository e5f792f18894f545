"""Spark: detection rules, convex groups, Dataproc and custom operators in real Airflow, artifacts on
the GCS emulator, and grouping properties (hypothesis) including determinism across processes."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import RUN_ID, load_dag, make_config, make_repo, render, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kedro_af_ci.compiler.pipeline import CompileRequest, compile_dag
from kedro_af_ci.errors import ConfigError
from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.graph.model import DatasetInfo, GraphNode, PipelineGraph, ProjectInfo
from kedro_af_ci.plan.build import build_plan
from kedro_af_ci.plan.spark_detect import spark_groups, spark_nodes, spark_reasons
from kedro_af_ci.render.dag import render_dag
from kedro_af_ci.spark_factory.apply import apply_factory

FIXTURE = Path(__file__).parent / "fixtures" / "spaceflights_pyspark"
GIT = GitInfo("b" * 40, "main")
GROUP_1 = ("to_spark", "preprocess_shuttles", "count_rows", "join_counts")


@pytest.fixture(scope="module")
def pyspark_project(tmp_path_factory):
    """The fixture in a real git repo, with what must never be shipped to the cluster."""
    project = tmp_path_factory.mktemp("pyspark") / "spaceflights_pyspark"
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "conf" / "local").mkdir(exist_ok=True)
    (project / "conf" / "local" / "credentials.yml").write_text("token: never-shipped\n")
    (project / "data" / "01_raw").mkdir(parents=True)
    (project / "data" / "01_raw" / "shuttles.csv").write_text("a,b\n1,2\n")
    (project / ".venv").mkdir()
    (project / ".venv" / "marker").write_text("x")
    commit = make_repo(project)
    return project, commit


@pytest.fixture(scope="module")
def pyspark_graph(pyspark_project):
    from kedro_af_ci.graph.extract import extract_graph

    return extract_graph(pyspark_project[0])


def test_detection_follows_the_seed_rules(pyspark_graph):
    # tag, type hint, Spark dataset input, Spark dataset output; count_rows only by the sandwich rule
    assert spark_nodes(pyspark_graph) == {"to_spark", "preprocess_shuttles", "join_counts", "score"}
    assert spark_groups(pyspark_graph) == [GROUP_1, ("score",)]  # train_model sits between two groups


def node(name, inputs=(), outputs=(), tags=(), hints=None):
    return GraphNode(name=name, inputs=tuple(inputs), outputs=tuple(outputs), tags=tuple(tags),
                     type_hints=hints or {})


def graph_of(nodes, datasets=None):
    return PipelineGraph(ProjectInfo("p", "P"), "__default__", tuple(nodes),
                         {k: DatasetInfo(type=v) for k, v in (datasets or {}).items()})


@pytest.mark.parametrize("marker", [
    {"tags": ["kedro-airflow-k8s:group:pyspark"]},
    {"hints": {"df": "pyspark.sql.dataframe.DataFrame"}},
    {"hints": {"return": "typing.Optional[pyspark.sql.dataframe.DataFrame]"}},
    {"outputs": ["sdf"], "datasets": {"sdf": "kedro.contrib.io.pyspark.SparkDataSet"}},
    {"outputs": ["sdf"], "datasets": {"sdf": "spark.SparkJDBCDataSet"}},
])
def test_each_rule_and_the_old_dataset_names(marker):
    datasets = marker.pop("datasets", None)
    graph = graph_of([node("a", **marker), node("b", hints={"x": "pandas.DataFrame"})], datasets)
    assert spark_nodes(graph) == {"a"}


def test_chains_of_default_nodes_between_parts_join_without_cycles():
    # s1 -> d1 -> d2 -> s2 and s1 -> s2' ... s2 adjacent to s3; d3 hangs off the group; e between groups
    nodes = [node("s1", [], ["o1"], ["kedro-airflow-k8s.group.pyspark"]),
             node("d1", ["o1"], ["o2"]), node("d2", ["o2"], ["o3"]),
             node("s2", ["o3", "o1"], ["o4"], ["kedro-airflow-k8s.group.pyspark"]),
             node("d3", ["o4"], ["o5"]),
             node("e", ["o4"], ["o6"]),
             node("s3", ["o6"], ["o7"], ["kedro-airflow-k8s.group.pyspark"])]
    groups = spark_groups(graph_of(nodes))
    assert groups == [("s1", "d1", "d2", "s2"), ("s3",)]


@pytest.fixture(scope="module")
def compiled(pyspark_project, tmp_path_factory):
    project, _ = pyspark_project
    result = compile_dag(CompileRequest(project_path=project))
    assert result.verification.checked  # the pre-flight loaded it in DagBag, Google provider included
    dag = load_dag(result.dag.source, result.dag.dag_id, tmp_path_factory.mktemp("dags"))
    return result, dag


def test_dag_has_the_groups_and_the_collapsed_edges(compiled, pyspark_graph):
    result, dag = compiled
    tasks = {t.task_id: t.nodes for t in result.plan.tasks}
    assert tasks == {"load_shuttles": ("load_shuttles",), "pyspark_1": GROUP_1, "report": ("report",),
                     "train_model": ("train_model",), "pyspark_2": ("score",)}
    task_of = {n: tid for tid, nodes in tasks.items() for n in nodes}
    collapsed = {(task_of[p], task_of[c]) for c, ps in pyspark_graph.node_dependencies().items() for p in ps
                 if task_of[p] != task_of[c]}
    airflow_edges = {(u, t.task_id) for t in dag.tasks if t.task_id in tasks for u in t.upstream_task_ids
                     if u in tasks}
    assert airflow_edges == collapsed
    assert dag.task_dict["create_spark_cluster"].downstream_task_ids == {"pyspark_1", "pyspark_2"}
    assert dag.task_dict["delete_spark_cluster"].upstream_task_ids == {"pyspark_1", "pyspark_2"}
    assert dag.task_dict["delete_spark_cluster"].trigger_rule == "all_done"
    assert dag.task_dict["end"].upstream_task_ids == {"report", "pyspark_2"}


def test_dataproc_operators_arguments_after_rendering(compiled):
    from airflow.providers.google.cloud.operators.dataproc import (
        DataprocCreateClusterOperator,
        DataprocDeleteClusterOperator,
        DataprocSubmitJobOperator,
    )

    result, dag = compiled
    base = result.plan.spark.artifacts_uri
    assert base == f"gs://acme-dataproc/packages/spaceflights-pyspark/{result.git.commit_id[:12]}"
    create = render(dag.task_dict["create_spark_cluster"])
    assert isinstance(create, DataprocCreateClusterOperator)
    assert create.project_id == "acme-ml" and create.region == "europe-west1"
    assert create.cluster_name.startswith("ephemeral-") and len(create.cluster_name) == len("ephemeral-") + 8
    config = create.cluster_config
    assert config["worker_config"] == {"num_instances": 2, "machine_type_uri": "n1-standard-4"}
    assert config["software_config"]["properties"]["dataproc:note"] == "{{ not jinja }}"  # not rendered
    assert config["initialization_actions"] == [{"executable_file": f"{base}/init.sh"}]
    submit = render(dag.task_dict["pyspark_1"])
    assert isinstance(submit, DataprocSubmitJobOperator)
    assert submit.job["placement"]["cluster_name"] == create.cluster_name  # same cluster, same run
    assert submit.job["pyspark_job"] == {"main_python_file_uri": f"{base}/run_pyspark_1.py",
                                         "args": ["--params", "ds=2026-11-22"]}
    delete = render(dag.task_dict["delete_spark_cluster"])
    assert isinstance(delete, DataprocDeleteClusterOperator) and delete.cluster_name == create.cluster_name
    other_run = render(dag.task_dict["pyspark_2"], run_id=RUN_ID + "-2")  # not rendered yet
    assert other_run.job["placement"]["cluster_name"].startswith("ephemeral-")
    assert other_run.job["placement"]["cluster_name"] != create.cluster_name  # parallel runs: own cluster


def test_artifacts_uploaded_to_gcs_and_their_contents(pyspark_project, gcs_endpoint, tmp_path):
    import requests


    project, commit = pyspark_project
    url, env = gcs_endpoint
    result = run_cli("--project-path", str(project), "upload-pipeline", "-o", str(tmp_path / "dags"),
                     env={**env, "KEDRO_CONFIG_ARTIFACTS_PATH": "gs://dags-bucket/spark"}, check=True)
    base = f"dags-bucket/spark/spaceflights-pyspark/{commit[:12]}"
    assert f"Uploaded Spark artifact gs://{base}/init.sh" in result.stdout
    prefix = base.split("/", 1)[1]

    def cat(name: str) -> bytes:
        quoted = requests.utils.quote(f"{prefix}/{name}", safe="")
        got = requests.get(f"{url}/storage/v1/b/dags-bucket/o/{quoted}?alt=media", timeout=10)
        got.raise_for_status()
        return got.content

    listed = requests.get(f"{url}/storage/v1/b/dags-bucket/o", params={"prefix": prefix + "/"}, timeout=10).json()
    assert sorted(item["name"].rsplit("/", 1)[-1] for item in listed["items"]) == [
        "init.sh", "project.tar.gz", "run_pyspark_1.py", "run_pyspark_2.py"]
    init = cat("init.sh").decode()
    assert init.startswith("#!/usr/bin/env bash\n") and "export PROJECT_HOME=/opt/kedro/project" in init
    user, unpack, post = (init.index("user init: private package index"), init.index("tar -xzf"),
                          init.index("user post init done"))
    assert user < unpack < post  # user_init prepended, user_post_init appended
    assert f"gsutil cp gs://{base}/project.tar.gz" in init
    bash = subprocess.run(["bash", "-n"], input=init, text=True, capture_output=True)
    assert bash.returncode == 0, bash.stderr
    with tarfile.open(fileobj=io.BytesIO(cat("project.tar.gz"))) as tar:
        members = set(tar.getnames())
    assert "src/spaceflights_pyspark/pipelines/spaceflights.py" in members and "conf/base/catalog.yml" in members
    assert not [m for m in members if m.startswith(("conf/local", ".git", ".venv", "data/", "dag/"))]
    assert not [m for m in members if "credentials" in m]
    run = cat("run_pyspark_1.py").decode()
    namespace: dict = {}
    exec(compile(run, "run.py", "exec"), namespace)  # defines, does not run (guarded by __main__)
    assert namespace["KEDRO_ARGS"] == ["run", "--pipeline", "__default__", "--nodes", ",".join(GROUP_1)]
    assert namespace["PROJECT_HOME"] == "/opt/kedro/project"
    dag_source = (tmp_path / "dags" / "spaceflights-pyspark.py").read_text()
    assert f"gs://{base}/run_pyspark_2.py" in dag_source


def test_custom_operator_factory(pyspark_project, tmp_path):
    import yaml

    project, _ = pyspark_project
    config = yaml.safe_load((project / "conf" / "base" / "airflow-k8s.yaml").read_text())
    config["run_config"]["spark"] = {"type": "custom", "artifacts_path": "gs://b/spark",
                                     "operator_factory": "spaceflights_pyspark.factories.KubernetesSparkFactory"}
    custom = tmp_path / "conf"
    (custom / "base").mkdir(parents=True)
    (custom / "base" / "airflow-k8s.yaml").write_text(yaml.safe_dump(config))
    result = compile_dag(CompileRequest(project_path=project, conf_source=str(custom)))
    dag = load_dag(result.dag.source, result.dag.dag_id, tmp_path)
    assert "create_spark_cluster" not in dag.task_dict and "delete_spark_cluster" not in dag.task_dict
    pod = render(dag.task_dict["pyspark_1"], var=None).build_pod_request_obj()
    assert pod.metadata.namespace == "spark" and pod.spec.containers[0].image == "spark:3.5.1"
    assert pod.spec.containers[0].args[-3:] == [f"{result.plan.spark.artifacts_uri}/run_pyspark_1.py",
                                                "--params", "ds=2026-11-22"]


@pytest.mark.parametrize(("factory", "message"), [
    ("nowhere.Factory", "cannot import the Spark operator factory 'nowhere.Factory'"),
    ("json.JSONDecoder", "must be a subclass of kedro_af_ci.spark.SparkOperatorFactory"),
])
def test_bad_factories_are_config_errors(tmp_path, factory, message):
    config = make_config(tmp_path, {"image": "a:1", "spark": {"type": "custom", "operator_factory": factory,
                                                              "artifacts_path": "gs://b/a"}})
    graph = graph_of([node("a", tags=["kedro-airflow-k8s.group.pyspark"])])
    with pytest.raises(ConfigError, match=message) as info:
        apply_factory(build_plan(graph, config, GIT), tmp_path)
    assert info.value.key == "run_config.spark.operator_factory"


def test_spark_config_needs_artifacts_and_dataproc_location(tmp_path):
    with pytest.raises(ConfigError, match="spark needs artifacts_path"):
        make_config(tmp_path, {"image": "a:1", "spark": {"type": "dataproc", "region": "r", "project_id": "p"}})
    with pytest.raises(ConfigError, match="dataproc needs region and project_id"):
        make_config(tmp_path, {"image": "a:1", "spark": {"type": "dataproc", "artifacts_path": "gs://b"}})


# ---------------------------------------------------------------------------------------------
# Properties of grouping on random pipelines


@st.composite
def pipelines(draw):
    n = draw(st.integers(min_value=1, max_value=30))
    nodes, datasets = [], {}
    for i in range(n):
        parents = (draw(st.lists(st.integers(min_value=0, max_value=max(i - 1, 0)), max_size=3, unique=True))
                   if i else [])
        tags = [f"group.g{draw(st.integers(0, 3))}"]
        if draw(st.integers(0, 4)) == 0:
            tags.append("kedro-airflow-k8s.group.pyspark")
        nodes.append(GraphNode(name=f"n{i}", inputs=tuple(f"d{p}" for p in parents), outputs=(f"d{i}",),
                               tags=tuple(tags), namespace=f"ns{draw(st.integers(0, 2))}"))
        datasets[f"d{i}"] = DatasetInfo(type=None, memory=draw(st.booleans()))
    return PipelineGraph(ProjectInfo("p", "P"), "__default__", tuple(nodes), datasets)


def _ancestors(plan) -> dict[str, set[str]]:
    up = {t.task_id: set(t.upstream) for t in plan.tasks}
    result: dict[str, set[str]] = {}

    def visit(task_id: str) -> set[str]:
        if task_id not in result:
            result[task_id] = set()
            for parent in up[task_id]:
                result[task_id] |= {parent} | visit(parent)
        return result[task_id]

    for task_id in up:
        visit(task_id)
    return result


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graph=pipelines(), strategy=st.sampled_from(["none", "memory", "namespace", "tag"]), spark=st.booleans())
def test_every_strategy_is_acyclic_complete_and_keeps_dependencies(tmp_path, graph, strategy, spark):
    run_config = {"image": "a:1"}
    if spark:
        run_config["spark"] = {"type": "dataproc", "region": "r", "project_id": "p", "artifacts_path": "gs://b/a"}
    plan = build_plan(graph, make_config(tmp_path, run_config), GIT, grouping=strategy)
    covered = [n for t in plan.tasks for n in t.nodes]
    assert sorted(covered) == sorted(n.name for n in graph.nodes)  # every node exactly once
    ancestors = _ancestors(plan)
    for task_id, above in ancestors.items():
        assert task_id not in above  # acyclic
    task_of = {n: t.task_id for t in plan.tasks for n in t.nodes}
    for child, parents in graph.node_dependencies().items():
        for parent in parents:
            if task_of[parent] != task_of[child]:
                assert task_of[parent] in ancestors[task_of[child]]  # Kedro's order is kept
    if spark:
        for members in spark_groups(graph):
            assert len({task_of[m] for m in members}) == 1  # a Spark group is one task


def test_names_are_the_same_in_processes_with_different_hash_seeds(pyspark_graph, tmp_path):
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(pyspark_graph.to_json())
    script = (
        "import json, sys\n"
        "from kedro_af_ci.graph.model import PipelineGraph\n"
        "from kedro_af_ci.plan.grouping import group_nodes\n"
        "from kedro_af_ci.plan.spark_detect import spark_groups\n"
        "g = PipelineGraph.read(sys.argv[1])\n"
        "out = {s: [(x.name, x.nodes) for x in group_nodes(g, s)[0]] for s in ('none', 'memory', 'namespace', 'tag')}\n"
        "out['spark'] = spark_groups(g)\n"
        "print(json.dumps(out))\n"
    )
    outputs = set()
    for seed in ("1", "2", "31337"):
        done = subprocess.run([sys.executable, "-c", script, str(graph_file)], capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}, check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1
    assert json.loads(outputs.pop())["spark"] == [list(GROUP_1), ["score"]]


def test_strategy_groups_split_around_a_spark_group():
    """Found by the property test: ns1 = {n1, n2} would sit between n0 and n3 of one Spark group."""
    spark_tag = ("kedro-airflow-k8s.group.pyspark",)
    nodes = (GraphNode("n0", (), ("d0",), spark_tag, "ns0"), GraphNode("n1", ("d0",), ("d1",), (), "ns1"),
             GraphNode("n2", (), ("d2",), (), "ns1"), GraphNode("n3", ("d2", "d0"), ("d3",), spark_tag, "ns1"))
    graph = PipelineGraph(ProjectInfo("p", "P"), "__default__", nodes, {})
    from kedro_af_ci.plan.grouping import group_nodes

    groups, warnings = group_nodes(graph, "namespace", {"n0": "pyspark_1", "n3": "pyspark_1"})
    assert [(g.name, g.nodes) for g in groups] == [("pyspark_1", ("n0", "n3")), ("ns1", ("n1",)),
                                                   ("ns1_2", ("n2",))]
    assert warnings == ["group 'ns1' split at node 'n2': keeping it in one task would make the task graph cyclic"]


CRAFTED = '''
from kedro_af_ci.spark import OperatorSpec, SparkOperatorFactory

INJECTED = "\\nimport os; os.system('touch {marker}')\\n#"


class Crafted(SparkOperatorFactory):
    """A factory whose reported name and operator path carry code for the DAG file."""

    def submit(self, settings, job):
        return OperatorSpec("{class_path}", {{}})


Crafted.__qualname__ = "Crafted" + INJECTED
Crafted.__module__ = "factories" + INJECTED
'''


@pytest.mark.parametrize("class_path", [
    "airflow.providers.standard.operators.empty.EmptyOperator",
    "airflow.providers.standard.operators.empty.EmptyOperator\\nimport os",
])
def test_a_crafted_factory_never_writes_code_into_the_dag(tmp_path, class_path):
    marker = tmp_path / "PWNED-by-factory-name"
    src = tmp_path / "src"
    src.mkdir()
    module = f"crafted_{abs(hash(class_path))}"  # one module per case: imports are cached
    (src / f"{module}.py").write_text(CRAFTED.format(marker=marker, class_path=class_path))
    config = make_config(tmp_path, {"image": "a:1", "spark": {"type": "custom", "artifacts_path": "gs://b/a",
                                                              "operator_factory": f"{module}.Crafted"}})
    graph = graph_of([node("a", tags=["kedro-airflow-k8s.group.pyspark"])])
    if "\\n" in class_path:  # an operator path with a line break is refused, not written
        with pytest.raises(ConfigError, match="is not a dotted class path"):
            apply_factory(build_plan(graph, config, GIT), tmp_path)
        return
    plan = apply_factory(build_plan(graph, config, GIT), tmp_path)
    source = render_dag(plan).source
    assert "import os" not in source and f"factory '{module}.Crafted';" in source
    load_dag(source, plan.dag.dag_id, tmp_path)
    assert not marker.exists()


PLANTED_SECRETS = (  # what CI auth steps, SDKs and people leave in a workspace
    "gha-creds-5f2a.json", "keys/my-service-account.json", "deploy/service_account.json",
    "conf/base/credentials.yml", "conf/local/credentials.yml", "conf/local/parameters.yml",
    "conf/prod/credentials_spark.yml", ".env", "src/spaceflights_pyspark/.env.production", "id_rsa",
    "keys/id_ed25519", "keys/tls.key", "keys/client.pem", "keys/bundle.p12", ".docker/config.json",
    ".netrc", ".pypirc", ".aws/credentials", ".kube/config", "bq-credentials.json",
)


def test_project_archive_ships_no_credentials_and_only_tracked_files(pyspark_project, tmp_path):
    from kedro_af_ci.render.artifacts import archive_members

    project = tmp_path / "project"
    shutil.copytree(pyspark_project[0], project)
    for name in PLANTED_SECRETS:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("secret\n")
    (project / "docs").mkdir()
    (project / "docs" / "design.md").write_text("# internal\n")
    subprocess.run(["git", "add", "-f", "-A"], cwd=project, check=True)  # even when a branch commits them
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "planted"], cwd=project,
                   check=True)
    (project / "untracked_notes.py").write_text("print('not committed')\n")
    members = archive_members(project, ("docs/",))
    assert [m for m in members if m in PLANTED_SECRETS or m.startswith(("docs/", ".git/", ".venv"))] == []
    assert "untracked_notes.py" not in members  # only what the commit holds
    assert "src/spaceflights_pyspark/pipelines/spaceflights.py" in members and "conf/base/catalog.yml" in members
    assert "docs/design.md" in archive_members(project)  # an extra pattern is the user's choice


@pytest.mark.parametrize(("ds_type", "spark"), [
    ("spark.SparkDatasetV2", True), ("spark.DeltaTableDataset", True), ("spark.SparkStreamingDataset", True),
    ("kedro_datasets.spark.SparkDataset", True), ("kedro_datasets_experimental.spark.SparkDatasetV3", True),
    ("my_company.io.SparkHudiDataset", True), ("pandas.ParquetDataset", False), ("my_company.io.TableDataset", False),
])
def test_spark_datasets_by_their_family_not_a_fixed_list(ds_type, spark):
    graph = graph_of([node("a", inputs=["x"])], {"x": ds_type})
    assert (spark_nodes(graph) == {"a"}) is spark


def test_a_subclass_of_a_spark_dataset_is_spark_whatever_its_name(tmp_path, monkeypatch):
    """At graph extraction the class is imported (never built) and its hierarchy decides."""
    from kedro_af_ci.graph.extract import _spark_class

    (tmp_path / "company_io.py").write_text(
        "class SparkBase:\n    pass\n\nSparkBase.__module__ = 'kedro_datasets.spark.spark_dataset'\n\n"
        "class WarehouseTable(SparkBase):\n    pass\n\nclass Plain:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _spark_class("company_io.WarehouseTable") is True
    assert _spark_class("company_io.Plain") is False
    assert _spark_class("pandas.CSVDataset") is False  # a known family: not even imported
    assert _spark_class("nowhere.Missing") is None  # not importable here: spark.py judges by the name
    graph = PipelineGraph(ProjectInfo("p", "P"), "__default__", (node("a", inputs=["x"]),),
                          {"x": DatasetInfo(type="company_io.WarehouseTable", spark=True)})
    assert spark_nodes(graph) == {"a"}


def test_compile_verbose_says_which_nodes_are_spark_and_why(pyspark_project):
    result = run_cli("--project-path", str(pyspark_project[0]), "-v", "compile", "--no-verify", "-o", "/dev/null")
    assert result.returncode == 0, result.stderr
    assert "Spark node to_spark: tag kedro-airflow-k8s.group.pyspark" in result.stderr
    assert "Spark node join_counts: Spark dataset shuttles_clean (spark.SparkDataset)" in result.stderr
    assert "Spark node preprocess_shuttles: type hint" in result.stderr
    assert "Spark group pyspark_1:" in result.stderr


def test_group_spark_nodes_false_gives_one_task_per_spark_node(tmp_path):
    graph = graph_of([node("a", outputs=["x"], tags=["kedro-airflow-k8s.group.pyspark"]),
                      node("b", inputs=["x"], outputs=["y"], tags=["kedro-airflow-k8s.group.pyspark"]),
                      node("c", inputs=["y"])])
    spark = {"type": "custom", "operator_factory": "spaceflights_pyspark.factories.KubernetesSparkFactory",
             "artifacts_path": "gs://b/a"}
    grouped = apply_factory(build_plan(graph, make_config(tmp_path / "1", {"image": "a:1", "spark": spark}), GIT),
                            FIXTURE)
    assert [t.nodes for t in grouped.tasks] == [("a", "b"), ("c",)]
    apart = apply_factory(build_plan(graph, make_config(tmp_path / "2", {"image": "a:1", "spark": spark,
                                                                         "group_spark_nodes": False}), GIT), FIXTURE)
    assert [(t.task_id, t.nodes) for t in apart.tasks] == [("pyspark_1", ("a",)), ("pyspark_2", ("b",)), ("c", ("c",))]
    assert set(apart.spark.submits) == {"pyspark_1", "pyspark_2"}


def test_a_real_project_with_spark_dataset_v2(tmp_path):
    """Read by real Kedro (export-graph): the catalog's spark.SparkDatasetV2 makes its writer and its
    reader Spark nodes, though no pyspark is installed to build it."""
    from conftest import copy_example

    project = copy_example(tmp_path / "spaceflights")
    catalog = project / "conf" / "base" / "catalog.yml"
    catalog.write_text(catalog.read_text().replace(
        "preprocessed_shuttles:\n  type: pickle.PickleDataset", "preprocessed_shuttles:\n  type: spark.SparkDatasetV2"))
    make_repo(project)
    graph_file = tmp_path / "graph.json"
    run_cli("--project-path", str(project), "-p", "data_processing", "export-graph", "-o", str(graph_file), check=True)
    graph = PipelineGraph.read(graph_file)
    assert graph.datasets["preprocessed_shuttles"].type == "spark.SparkDatasetV2"
    assert spark_reasons(graph) == {
        "preprocess_shuttles_node": "Spark dataset preprocessed_shuttles (spark.SparkDatasetV2)",
        "create_model_input_table_node": "Spark dataset preprocessed_shuttles (spark.SparkDatasetV2)"}


@pytest.mark.parametrize(("script", "why"), [
    ("../conf/local/credentials.yml", "is not a file the project ships"),  # in the project, kept out of the archive
    ("spaceflights_pyspark/not_committed.sh", "must be committed"),
])
def test_cluster_init_scripts_follow_the_archive_rules(pyspark_project, pyspark_graph, tmp_path, script, why):
    """user_init_path is pasted into init.sh, which goes to the bucket and runs on every cluster node: a
    path to a credential file would ship it; the script must be one the archive itself ships."""
    from kedro_af_ci.render.artifacts import build_artifacts

    project = tmp_path / "project"
    shutil.copytree(pyspark_project[0], project)
    (project / "src" / "spaceflights_pyspark" / "not_committed.sh").write_text("echo later\n")
    config = project / "conf" / "base" / "airflow-k8s.yaml"
    config.write_text(config.read_text().replace("spaceflights_pyspark/init_script.sh", script))
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "init script"], cwd=project,
                   check=True)
    assert (project / "src" / script).resolve().is_file()  # read from the folder, it would be pasted in
    from kedro_af_ci.config import load_config

    plan = build_plan(pyspark_graph, load_config(project, environ={"KEDRO_CONFIG_ARTIFACTS_PATH": "gs://b/s"}),
                      GitInfo(subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True,
                                              check=True).stdout.strip(), "main"))
    with pytest.raises(ConfigError, match=why):
        build_artifacts(plan, project)


def test_init_warns_that_its_dockerfile_has_no_java_for_spark(tmp_path):
    """Issue "Your own project", item 9: the Dockerfile init writes cannot run Spark nodes; init says so
    where the project runs Spark, and only there."""
    from conftest import copy_example, run_cli

    project = tmp_path / "spaceflights_pyspark"
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns("__pycache__"))
    make_repo(project)
    result = run_cli("--project-path", str(project), "init", "https://airflow.example.com", check=True)
    assert f"Wrote {project / 'Dockerfile'}" in result.stdout
    assert "this project runs Spark (conf/base/catalog.yml mentions spark.)" in result.stderr
    assert "no Java runtime" in result.stderr
    plain = copy_example(tmp_path / "spaceflights")
    (plain / "Dockerfile").unlink()
    make_repo(plain)
    quiet = run_cli("--project-path", str(plain), "init", "https://airflow.example.com", check=True)
    assert f"Wrote {plain / 'Dockerfile'}" in quiet.stdout and "Java" not in quiet.stderr
