"""The Spark plan: Dataproc or a custom factory (a cluster per run), or Spark on Kubernetes."""

from __future__ import annotations

from ..config import (
    ClusterSpark,
    DataprocSpark,
    KubernetesSpark,
    PluginConfig,
    ResourceConfig,
)
from ..gitinfo.commit import GitInfo
from ..graph.model import PipelineGraph
from ..spark import (
    PROJECT_HOME,
    DataprocOperatorFactory,
    FactoryOutput,
    SparkJob,
    SparkSettings,
    run_factory,
)
from ..vocabulary.airflow_template import AirflowTemplate
from ..vocabulary.k8s_names import dns_name
from .model import MLFLOW_RUN_ID, PlannedTask, SparkPlan, airflow_env
from .spark_kubernetes import SUBMIT_OPERATOR, KubernetesSubmit, default_application, submit_spec
from .warnings import PlanWarning


def spark_plan(config: PluginConfig, git: GitInfo, dag_id: str, tasks: list[PlannedTask],
                spark_task_ids: tuple[str, ...], params: str | None) -> SparkPlan | None:
    """Dataproc or a custom factory: a cluster per run, jobs reading uploaded artifacts. The built-in
    Dataproc factory runs here (pure); a custom one's operators come later (they run project code)."""
    sc = config.run_config.spark
    if not isinstance(sc, ClusterSpark) or not spark_task_ids:
        return None
    artifacts_uri = f"{sc.artifacts_path.rstrip('/')}/{dag_id}/{git.commit_id[:12]}"
    base_name = sc.cluster_name or dns_name("spark-" + dag_id, max_len=30)
    settings = SparkSettings(
        project_id=sc.project_id, region=sc.region,
        # one cluster per DAG run: parallel runs never share (or delete) each other's cluster
        cluster_name=AirflowTemplate(base_name + "-{{ run_id | kaf_run_hash }}"),
        cluster_config=dict(sc.cluster_config), artifacts_uri=artifacts_uri,
        init_script_uri=f"{artifacts_uri}/init.sh", archive_uri=f"{artifacts_uri}/project.tar.gz", dag_id=dag_id,
    )
    nodes_of = {t.task_id: t.nodes for t in tasks}
    jobs = tuple(SparkJob(task_id=task_id, nodes=nodes_of[task_id], main_uri=f"{artifacts_uri}/run_{task_id}.py",
                          args=("--params", AirflowTemplate(params)) if params else ()) for task_id in spark_task_ids)
    built_in = isinstance(sc, DataprocSpark) and not sc.operator_factory
    output = run_factory(DataprocOperatorFactory(), settings, list(jobs)) if built_in else FactoryOutput(None, None, {})
    return SparkPlan(
        artifacts_uri=artifacts_uri, project_home=PROJECT_HOME, user_init_path=sc.user_init_path,
        user_post_init_path=sc.user_post_init_path, jobs=jobs, create=output.create, delete=output.delete,
        submits=output.submits,
        # the configured (validated) class path, never a name the imported class reports about itself
        factory=sc.operator_factory or f"{DataprocOperatorFactory.__module__}.{DataprocOperatorFactory.__name__}",
        archive_exclude=tuple(sc.archive_exclude), settings=None if built_in else settings,
    )


def kubernetes_spark_plan(config: PluginConfig, dag_id: str, graph: PipelineGraph, tasks: list[PlannedTask],
                           spark_task_ids: tuple[str, ...], params: str | None, kedro_args: tuple[str, ...],
                           profiles: dict[str, ResourceConfig], mlflow: bool,
                           warnings: list[PlanWarning]) -> SparkPlan | None:
    """``spark.type: kubernetes``: one spark-submit per group, each with its task's resource profile;
    no cluster to create and nothing to upload (the project image is the Spark image)."""
    rc = config.run_config
    sc = rc.spark
    if not isinstance(sc, KubernetesSpark) or not spark_task_ids:
        return None
    assert rc.image is not None  # required for execution kubernetes; a check names the key otherwise
    env = airflow_env(rc.env_vars)
    if mlflow:
        env["MLFLOW_RUN_ID"] = AirflowTemplate(MLFLOW_RUN_ID)
    submit = KubernetesSubmit(
        spark=sc, image=sc.image or rc.image, image_pull_policy=rc.image_pull_policy, namespace=rc.namespace,
        service_account_name=rc.service_account_name,
        application=sc.application or default_application(rc.project_path, graph.project.package_name),
        source_path=f"{rc.project_path.rstrip('/')}/src", dag_id=dag_id, env=env, secrets=tuple(rc.secrets))
    by_id = {t.task_id: t for t in tasks}
    jobs = tuple(SparkJob(task_id=task_id, nodes=by_id[task_id].nodes, main_uri=submit.application,
                          args=("--params", AirflowTemplate(params)) if params else ()) for task_id in spark_task_ids)
    submits, unapplied = {}, set()
    for job in jobs:
        profile = by_id[job.task_id].profile
        submits[job.task_id], missing = submit_spec(submit, job, kedro_args, profiles.get(profile) if profile else None)
        unapplied.update(missing)
    if unapplied:
        warnings.append(PlanWarning("spark-conf-not-applied", "run_config.spark",
            f"spark type kubernetes: {', '.join(sorted(unapplied))} cannot be passed to spark-submit "
                        "and are not applied to the Spark driver and executors"))
    return SparkPlan(artifacts_uri="", project_home=rc.project_path, user_init_path=None, user_post_init_path=None,
                     jobs=jobs, create=None, delete=None, submits=submits, factory=SUBMIT_OPERATOR)
