"""kubernetes_pod_templates: precedence, merge with plugin settings, the seed's dynamic values, errors."""

from __future__ import annotations

import pytest
from conftest import build_pod, load_dag, make_config, make_graph

from kedro_af_ci.errors import ConfigError
from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.plan.build import build_plan
from kedro_af_ci.plan.pod_templates import parse_pod_template
from kedro_af_ci.render.dag import render_dag

pytestmark = [pytest.mark.airflow, pytest.mark.unit]
GIT = GitInfo("a" * 40, "main")


class TI:
    task_id = "spark_node"

SPARK = """type: Pod
metadata:
  name: {PodGenerator.make_unique_pod_id('{{ task_instance.task_id }}')}
  labels:
    spark_driver: {'{{ task_instance.task_id }}'}
    team: from-template
  annotations: {owner: template, flow: "{braces: ok}"}
spec:
  nodeSelector: {pool: spark}
  containers:
    - name: base
      env:
        - name: TEMPLATE_ENV
          value: {{ task_instance.task_id }}
      resources:
        limits: {cpu: "3"}
"""
DEFAULT = """kind: Pod
spec:
  priorityClassName: batch
  containers:
    - name: base
      env: [{name: FROM_DEFAULT, value: "yes"}]
"""


def compile_with(tmp_path, templates, nodes, **run_config):
    config = make_config(tmp_path, {"image": "repo/main:1", "kubernetes_pod_templates": templates,
                                    "resources": {"__default__": {"labels": {"team": "plugin"},
                                                                  "annotations": {"owner": "plugin"},
                                                                  "requests": {"cpu": "1"}}},
                                    **run_config})
    plan = build_plan(make_graph(nodes), config, GIT)
    return plan, load_dag(render_dag(plan).source, plan.dag.dag_id, tmp_path)


def test_tag_then_default_then_builtin(tmp_path):
    nodes = [("spark_node", [], ["x"], ["k8s_template.spark"]), ("plain", ["x"], ["y"], []),
             ("other", ["y"], [], ["k8s_template:missing"])]
    plan, dag = compile_with(tmp_path, {"spark": {"template": SPARK, "image": "repo/spark:2"},
                                        "__default__": {"template": DEFAULT}}, nodes)
    assert {t.task_id: t.template for t in plan.tasks} == {"spark_node": "spark", "plain": "__default__",
                                                          "other": "__default__"}
    assert any(w.code == "pod-template-tag-unknown" and "'missing'" in w for w in plan.warnings)
    spark = build_pod(dag.task_dict["spark_node"], task_instance=TI())
    plain = build_pod(dag.task_dict["plain"])
    assert spark.spec.containers[0].image == "repo/spark:2"  # per-template image override
    assert plain.spec.containers[0].image == "repo/main:1"
    assert plain.spec.priority_class_name == "batch"
    assert {e.name: e.value for e in plain.spec.containers[0].env}["FROM_DEFAULT"] == "yes"
    _, builtin = compile_with(tmp_path / "b", {}, [("n", [], [], [])])
    assert build_pod(builtin.task_dict["n"]).spec.priority_class_name is None


def test_plugin_settings_win_and_template_values_render(tmp_path):
    _, dag = compile_with(tmp_path, {"spark": {"template": SPARK}}, [("spark_node", [], [], ["k8s_template.spark"])])
    task = dag.task_dict["spark_node"]
    pod = build_pod(task, task_instance=TI())
    assert pod.metadata.labels["team"] == "plugin"  # conflict: plugin settings precede the template
    assert pod.metadata.labels["spark_driver"] == "spark_node"  # the seed's f-string-quoted Jinja, rendered
    assert pod.metadata.annotations["owner"] == "plugin"
    assert pod.metadata.annotations["flow"] == "{braces: ok}"
    assert pod.metadata.name.startswith("spark-node")  # unique name from the operator, not an f-string
    assert pod.spec.node_selector == {"pool": "spark"}
    container = pod.spec.containers[0]
    assert container.args[:2] == ["run", "--pipeline"]
    assert container.resources.requests == {"cpu": "1"}
    env = {e.name: e.value for e in container.env}
    assert env["TEMPLATE_ENV"] == "spark_node"
    # the built-in data volume is kept alongside the template
    assert [v.name for v in pod.spec.volumes] == ["kedro-data"]


def test_template_that_defines_the_data_volume_replaces_it(tmp_path):
    template = """kind: Pod
spec:
  volumes:
    - name: kedro-data
      persistentVolumeClaim: {claimName: {self._pvc_name}}
      # same claim, but read-only
  containers: [{name: base, volumeMounts: [{name: kedro-data, mountPath: /data, readOnly: true}]}]
"""
    _, dag = compile_with(tmp_path, {"__default__": {"template": template}}, [("n", [], [], [])])
    pod = build_pod(dag.task_dict["n"])
    assert [v.name for v in pod.spec.volumes] == ["kedro-data"]
    assert pod.spec.volumes[0].persistent_volume_claim.claim_name.startswith("tiny-manual-2026-11-22")
    assert [(m.mount_path, m.read_only) for m in pod.spec.containers[0].volume_mounts] == [("/data", True)]


@pytest.mark.parametrize(("text", "fragment"), [
    ("kind: Pod\nspec: [unclosed\n", "invalid YAML in the pod template (template line"),
    ("kind: Deployment\n", "describes a 'Deployment'"),
    ("kind: Pod\nmetadata:\n  name: {os.system('id')}\n", "looks like a Python f-string expression"),
    ("- a\n- b\n", "must be a YAML mapping"),
])
def test_invalid_templates_name_the_template(text, fragment):
    with pytest.raises(ConfigError) as info:
        parse_pod_template(text, "run_config.kubernetes_pod_templates.bad.template", None)
    assert info.value.key == "run_config.kubernetes_pod_templates.bad.template"
    assert fragment in str(info.value)


def test_pvc_reference_without_volume_is_an_error():
    with pytest.raises(ConfigError, match="volume is disabled"):
        parse_pod_template("kind: Pod\nspec: {volumes: [{name: v, persistentVolumeClaim: {claimName: "
                           "{self._pvc_name}}}]}\n", "k", None)


BRANCH_TEMPLATE = """kind: Pod
metadata:
  annotations:
    branch: "${branch_name}"
    task: {{ task_instance.task_id }}
spec:
  containers:
    - name: base
      env:
        - name: BRANCH
          value: ${branch_name}
"""


class Spy:
    """Stands in for Airflow's `conn` and `var` accessors: records every read."""

    def __init__(self, reads):
        self._reads = reads
        self.value = self
        self.json = self

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        self._reads.append(key)
        return f"secret-{key}"

    def get(self, key, default=None):
        self._reads.append(key)
        return f"secret-{key}"


def test_branch_names_in_pod_templates_stay_inert_in_airflows_jinja(tmp_path):
    """Every hostile branch name of the corpus, substituted into a pod template that Airflow renders:
    the pod carries the name byte for byte, and no Connection or Variable is read."""
    from hostile_corpus import corpus

    reads: list[str] = []
    context = {"task_instance": TI(), "conn": Spy(reads), "var": Spy(reads), "run_id": "r", "ds": "2026-11-22"}
    renderer = None
    for index, branch in enumerate(corpus()):
        folder = tmp_path / str(index)
        config = make_config(folder, {"image": "repo/main:1", "kubernetes_pod_templates": {
            "__default__": {"template": BRANCH_TEMPLATE}}}, git_info=GitInfo("a" * 40, branch))
        plan = build_plan(make_graph([("a", [], ["x"], [])]), config, GitInfo("a" * 40, branch))
        if renderer is None:  # the real operator's renderer (Airflow's own Jinja environment)
            renderer = load_dag(render_dag(plan).source, plan.dag.dag_id, folder).get_task("a")
            context["dag"], context["task"] = renderer.dag, renderer
        pod = renderer.render_template(plan.templates.pods["__default__"], context)
        assert pod["metadata"]["annotations"] == {"branch": branch, "task": "spark_node"}, branch
        assert pod["spec"]["containers"][0]["env"] == [{"name": "BRANCH", "value": branch}], branch
    assert reads == []


@pytest.mark.parametrize("branch", ["{{ conn.airflow_db.password }}", "x }}{{ var.value.token }}{{ 'y",
                                    "{% for c in [1] %}{{ var.value.get('k') }}{% endfor %}"])
def test_a_hostile_branch_reaches_the_built_pod_as_text(tmp_path, branch):
    config = make_config(tmp_path, {"image": "repo/main:1", "kubernetes_pod_templates": {
        "__default__": {"template": BRANCH_TEMPLATE}}}, git_info=GitInfo("a" * 40, branch))
    plan = build_plan(make_graph([("a", [], ["x"], [])]), config, GitInfo("a" * 40, branch))
    task = load_dag(render_dag(plan).source, plan.dag.dag_id, tmp_path).get_task("a")
    reads: list[str] = []
    pod = build_pod(task, task_instance=TI(), conn=Spy(reads), var=Spy(reads))
    assert pod.metadata.annotations["branch"] == branch
    assert {e.name: e.value for e in pod.spec.containers[0].env}["BRANCH"] == branch
    assert reads == []
