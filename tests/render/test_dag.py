"""Generated DAGs loaded in real Airflow; pods built by the real KubernetesPodOperator."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import RUN_ID, FakeVariables, build_pod, load_dag, make_config, make_graph, render

from kedro_af_ci.compiler.pipeline import CompileRequest, compile_dag
from kedro_af_ci.config import load_config
from kedro_af_ci.errors import ConfigError, PreflightError
from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.plan.build import build_plan
from kedro_af_ci.plan.fixed_tasks import RESERVED_TASK_IDS
from kedro_af_ci.plan.model import content_tag
from kedro_af_ci.render import dag as render_module
from kedro_af_ci.render.dag import ZEROED_TAG, render_dag
from kedro_af_ci.render.templating import tpl

pytestmark = pytest.mark.airflow
GIT = GitInfo("0123456789abcdef0123456789abcdef01234567", "main")


def compile_tiny(tmp_path, run_config, nodes=None, git=GIT, **kw):
    config = make_config(tmp_path, run_config, git_info=git)
    graph = make_graph(nodes or [("a", ["raw"], ["x"], ["resources.big"]), ("b", ["x"], ["y"], [])],
                       pipeline=kw.pop("pipeline", "__default__"))
    plan = build_plan(graph, config, git, **kw)
    rendered = render_dag(plan)
    dag = load_dag(rendered.source, plan.dag.dag_id, tmp_path)
    return plan, rendered, dag


@pytest.fixture(scope="module")
def example_dag(example_repo, tmp_path_factory):
    result = compile_dag(CompileRequest(project_path=example_repo[0]))
    assert result.verification.checked
    return result, load_dag(result.dag.source, result.dag.dag_id, tmp_path_factory.mktemp("dags"))


def test_example_loads_with_kedro_task_ids_and_edges(example_dag, example_graph):
    result, dag = example_dag
    node_names = {n.name for n in example_graph.nodes}
    assert node_names <= set(dag.task_dict)
    assert set(dag.task_dict) - node_names == {"create_volume", "data_volume_init", "delete_volume", "end"}
    for name, parents in example_graph.node_dependencies().items():
        upstream = dag.task_dict[name].upstream_task_ids - {"data_volume_init"}
        assert upstream == set(parents), name
    assert dag.schedule == "0 6 * * 1-5"
    commit = result.git.commit_id
    assert f"commit:{commit}" in dag.tags and result.dag.content_tag in dag.tags


def test_example_volume_lifecycle_wiring(example_dag):
    _, dag = example_dag
    t = dag.task_dict
    assert t["data_volume_init"].upstream_task_ids == {"create_volume"}
    roots = {n for n, task in t.items() if task.upstream_task_ids == {"data_volume_init"}}
    assert roots == {"preprocess_companies_node", "preprocess_shuttles_node"}
    assert t["delete_volume"].upstream_task_ids == {"compare_models_node"}
    assert t["delete_volume"].trigger_rule == "all_done"
    assert t["end"].upstream_task_ids == {"compare_models_node"} and t["end"].trigger_rule == "all_success"


def test_example_pod_of_tagged_node(example_dag, example_repo):
    _, dag = example_dag
    pod = build_pod(dag.task_dict["active_modelling_pipeline.train_model_node"])
    container = pod.spec.containers[0]
    assert container.image == f"ghcr.io/example/spaceflights:{example_repo[1]}"
    assert container.command == ["kedro"]
    assert container.args == ["run", "--pipeline", "__default__", "--nodes",
                              "active_modelling_pipeline.train_model_node", "--params", "ds=2026-11-22"]
    assert container.resources.requests == {"cpu": "4", "memory": "16Gi"}
    assert container.resources.limits == {"memory": "16Gi"}
    assert pod.spec.node_selector == {"cloud.google.com/gke-nodepool": "highmem"}
    assert [(t.key, t.operator, t.value, t.effect) for t in pod.spec.tolerations] == [
        ("dedicated", "Equal", "highmem", "NoSchedule")]
    assert pod.metadata.labels["app"] == "spaceflights"
    assert pod.metadata.namespace == "airflow"
    assert pod.spec.service_account_name == "kedro-runner"
    assert [s.name for s in pod.spec.image_pull_secrets] == ["registry-credentials"]
    assert container.image_pull_policy == "IfNotPresent"
    env = {e.name: e for e in container.env}
    assert env["KEDRO_LOGGING_CONFIG"].value == "conf/logging.yml"
    assert env["DB_URL"].value_from.secret_key_ref.to_dict() == {"key": "db_url", "name": "spaceflights-secrets",
                                                                 "optional": None}
    assert pod.spec.security_context == {"fsGroup": 0}
    assert container.volume_mounts[0].mount_path == "/home/kedro/data"


def test_example_pvc_name_matches_between_create_and_pods(example_dag):
    _, dag = example_dag
    create = render(dag.task_dict["create_volume"])
    pvc = yaml.safe_load(create.yaml_conf)
    assert pvc["kind"] == "PersistentVolumeClaim"
    assert pvc["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}
    name = pvc["metadata"]["name"]
    assert name.startswith("spaceflights-manual-2026-11-22t10-00-00") and len(name) <= 253
    for task_id in ("preprocess_companies_node", "data_volume_init"):
        pod = build_pod(dag.task_dict[task_id])
        assert pod.spec.volumes[0].persistent_volume_claim.claim_name == name
    init = build_pod(dag.task_dict["data_volume_init"]).spec.containers[0]
    assert init.command == ["sh", "-c"] and init.args[2:] == ["/home/kedro/data", "/mnt/kedro-data-volume"]
    # a different run gets a different claim
    other = render(dag.task_dict["delete_volume"], run_id="scheduled__2026-11-23T06:00:00+00:00")
    assert yaml.safe_load(other.yaml_conf)["metadata"]["name"] != name


def test_default_profile_pod(example_dag):
    _, dag = example_dag
    container = build_pod(dag.task_dict["compare_models_node"]).spec.containers[0]
    assert container.resources.requests == {"cpu": "500m", "memory": "1Gi"}
    assert container.resources.limits == {"memory": "2Gi"}


def test_secret_variants_volume_and_env_from(tmp_path):
    _, _, dag = compile_tiny(tmp_path, {"image": "a:1", "secrets": [
        {"deploy_type": "env", "secret": "all-keys"},
        {"deploy_type": "volume", "deploy_target": "/etc/creds", "secret": "gcp-sa", "key": "key.json"},
        {"deploy_type": "volume", "deploy_target": "/etc/all", "secret": "whole"},
    ]})
    pod = build_pod(dag.task_dict["a"])
    container = pod.spec.containers[0]
    assert [e.secret_ref.name for e in container.env_from] == ["all-keys"]
    mounts = {m.mount_path: m for m in container.volume_mounts}
    assert {"/etc/creds", "/etc/all"} <= set(mounts)
    volumes = {v.name: v for v in pod.spec.volumes}
    secret_names = sorted(v.secret.secret_name for v in volumes.values() if v.secret)
    assert secret_names == ["gcp-sa", "whole"]
    gcp = next(v for v in volumes.values() if v.secret and v.secret.secret_name == "gcp-sa")
    assert [i.key for i in gcp.secret.items] == ["key.json"]


def test_volume_disabled_and_skip_init(tmp_path):
    _, _, dag = compile_tiny(tmp_path / "off", {"image": "a:1", "volume": {"disabled": True}})
    assert set(dag.task_dict) == {"a", "b"}
    assert not build_pod(dag.task_dict["a"]).spec.volumes
    _, _, dag = compile_tiny(tmp_path / "skip", {"image": "a:1", "volume": {"skip_init": True, "owner": 1000,
                                                                           "storageclass": "fast-ssd",
                                                                           "access_modes": ["ReadWriteMany"]}})
    assert "data_volume_init" not in dag.task_dict
    assert dag.task_dict["a"].upstream_task_ids == {"create_volume"}
    assert build_pod(dag.task_dict["a"]).spec.security_context == {"fsGroup": 1000}
    pvc = yaml.safe_load(render(dag.task_dict["create_volume"]).yaml_conf)
    assert pvc["spec"]["storageClassName"] == "fast-ssd" and pvc["spec"]["accessModes"] == ["ReadWriteMany"]


def test_variables_params_and_env_render(tmp_path):
    _, _, dag = compile_tiny(tmp_path, {"image": "a:1", "macro_params": ["ds"], "variables_params": ["env"],
                                        "volume": {"disabled": True}}, kedro_env="prod")
    args = build_pod(dag.task_dict["b"], var=FakeVariables({"env": "staging"})).spec.containers[0].args
    assert args == ["run", "--env", "prod", "--pipeline", "__default__", "--nodes", "b",
                    "--params", "ds=2026-11-22,env=staging"]


def test_startup_timeout_and_pull_policy(tmp_path):
    _, _, dag = compile_tiny(tmp_path, {"image": "r.io/a/b@sha256:" + "0" * 64, "startup_time": 77,
                                        "image_pull_policy": "Always", "volume": {"disabled": True}})
    task = dag.task_dict["a"]
    assert task.startup_timeout_seconds == 77
    assert build_pod(task).spec.containers[0].image_pull_policy == "Always"


HOSTILE = [
    "it's \"quoted\" '''triple''' \"\"\"triple\"\"\"",
    "back\\slash \\n not a newline \\",
    "line1\nline2\r\nline3\n",
    "{{ dag.dag_id }} {% if true %}jinja{% endif %} {# comment #}",
    "${HOME} $(rm -rf /) `id` ; | & > <",
    "ünïcödé 日本語 \u202eRTL\u202c emoji 🚀",
    "ends_like_a_template.yaml",
    "{{ raw }}{% raw %}{% endraw %}",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_round_trip(tmp_path, value):
    git = GitInfo("0123456789abcdef0123456789abcdef01234567", value)
    # the value arrives as the branch name, through ${branch_name} substitution, like a pushed branch would
    run_config = {"image": "a:1", "run_name": "${branch_name}", "description": "${branch_name}",
                  "env_vars": {"HOSTILE": "${branch_name}"},
                  "resources": {"__default__": {"annotations": {"example.com/note": "${branch_name}"}}}}
    _, rendered, dag = compile_tiny(tmp_path, run_config, git=git, pipeline=value)
    ast.parse(rendered.source)
    assert dag.description == value
    assert dag.dag_display_name == value
    task = dag.task_dict["a"]
    pod = build_pod(task)
    container = pod.spec.containers[0]
    assert pod.metadata.annotations["example.com/note"] == value
    assert {e.name: e.value for e in container.env}["HOSTILE"] == value
    assert container.args[:3] == ["run", "--pipeline", value]


def test_tpl_encoder_only_wraps_what_jinja_would_touch():
    assert tpl("plain") == "'plain'"
    assert tpl("a{b") == "literal('a{b')"
    assert tpl("x.json") == "literal('x.json')"
    assert tpl({"k": "v\n"}) == "{'k': literal('v\\n')}"


def test_compile_is_deterministic_and_hash_tracks_content(tmp_path):
    a = compile_tiny(tmp_path / "1", {"image": "a:1"})[1]
    b = compile_tiny(tmp_path / "2", {"image": "a:1"})[1]
    c = compile_tiny(tmp_path / "3", {"image": "a:2"})[1]
    assert a.source == b.source and a.content_tag == b.content_tag
    assert c.content_tag != a.content_tag


def test_run_id_with_odd_characters_gives_valid_claim(tmp_path):
    names = []
    for run_id in ("Ünïcode run/with spaces & {{ braces }}", "Ünïcode run/with spaces & {{ braces }}!", RUN_ID):
        _, _, dag = compile_tiny(tmp_path / str(len(names)), {"image": "a:1"})
        task = render(dag.task_dict["create_volume"], run_id=run_id)
        names.append(yaml.safe_load(task.yaml_conf)["metadata"]["name"])
        assert re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", names[-1]), names[-1]
    assert len(set(names)) == 3  # each run its own claim, even runs whose ids differ only in what is cut


def test_external_dependencies_sensors_group_and_order(tmp_path):
    deps = [{"dag_id": "upstream-dag"},
            {"dag_id": "another-upstream-dag", "task_id": "with-precise-task", "timeout": 2,
             "check_existence": False, "execution_delta": 10},
            {"dag_id": "upstream-dag", "execution_delta": 60}]
    _, _, dag = compile_tiny(tmp_path, {"image": "a:1", "external_dependencies": deps})
    sensors = {tid: t for tid, t in dag.task_dict.items() if tid.startswith("external_dependencies.")}
    assert set(sensors) == {"external_dependencies.wait_for_upstream-dag",
                            "external_dependencies.wait_for_another-upstream-dag__with-precise-task",
                            "external_dependencies.wait_for_upstream-dag_2"}
    whole = sensors["external_dependencies.wait_for_upstream-dag"]
    assert (whole.external_dag_id, whole.external_task_id, whole.timeout, whole.check_existence,
            whole.execution_delta, whole.mode) == ("upstream-dag", None, 1440 * 60, True, None, "reschedule")
    precise = sensors["external_dependencies.wait_for_another-upstream-dag__with-precise-task"]
    assert (precise.external_task_id, precise.timeout, precise.check_existence) == ("with-precise-task", 120, False)
    assert precise.execution_delta.total_seconds() == 600
    assert sensors["external_dependencies.wait_for_upstream-dag_2"].execution_delta.total_seconds() == 3600
    # every sensor gates the volume creation, which gates everything else
    assert dag.task_dict["create_volume"].upstream_task_ids == set(sensors)
    assert all(t.upstream_task_ids == set() for t in sensors.values())


def test_external_dependencies_without_volume_gate_the_roots(tmp_path):
    _, _, dag = compile_tiny(tmp_path, {"image": "a:1", "volume": {"disabled": True},
                                        "external_dependencies": [{"dag_id": "up"}]})
    assert dag.task_dict["a"].upstream_task_ids == {"external_dependencies.wait_for_up"}
    assert dag.task_dict["b"].upstream_task_ids == {"a"}


def test_slack_failure_handler_message_renders_safely(tmp_path):
    template = ("{{ not jinja }} *Task*: {task}\n*Dag*: {dag} \"quoted\" 🚀 {{%raw%}}\n"
                "*Execution Time*: {execution_time}\n*Log Url*: {url}")
    _, _, dag = compile_tiny(tmp_path, {"image": "a:1", "failure_handlers": [
        {"type": "slack", "connection_id": "team-slack", "message_template": template}]})
    task = dag.task_dict["b"]
    callbacks = task.on_failure_callback
    callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
    assert len(callbacks) == 1
    notifier = callbacks[0]
    assert type(notifier).__name__ == "SlackWebhookNotifier"
    assert notifier.slack_webhook_conn_id == "team-slack"

    class TI:
        task_id = "b"
        log_url = "http://airflow/log?x=1"

    notifier.render_template_fields({"ti": TI(), "dag": dag, "logical_date": "2026-11-22T10:00:00+00:00"})
    assert notifier.text == template.format(task="b", dag=dag.dag_id, execution_time="2026-11-22T10:00:00+00:00",
                                            url="http://airflow/log?x=1")


def test_syntax_check_compiles_the_file_with_two_task_rows(tmp_path, monkeypatch):
    """Rows are literals written by the encoders: the check covers all the template writes but
    them, at the cost of a small file whatever the pipeline's size."""
    compiled = []
    monkeypatch.setattr(render_module, "compile", lambda text, *args, **kw: compiled.append(text) or
                        compile(text, *args, **kw), raising=False)
    _, rendered, _ = compile_tiny(tmp_path, {"image": "a:1"}, nodes=[(f"n{i}", [], [], []) for i in range(6)])
    [sample] = compiled
    rows = [line for line in rendered.source.split("\n") if line.startswith("    ('n")]
    assert len(rows) == 6 and [line for line in sample.split("\n") if line.startswith("    ('n")] == rows[:2]
    without_rows = "\n".join(line for line in rendered.source.split("\n") if line not in rows[2:])
    untagged = re.compile(r"dag_hash:[0-9a-f]{16}")
    assert untagged.sub("", sample) == untagged.sub("", without_rows)


def test_syntax_check_refuses_a_broken_template(tmp_path, monkeypatch):
    template = render_module.dag_template()
    text = template.environment.loader.get_source(template.environment, "dag.py.j2")[0]
    broken = template.environment.from_string(text.replace("with DAG(", "with DAG((", 1))
    monkeypatch.setattr(render_module, "dag_template", lambda: broken)
    with pytest.raises(PreflightError, match="generated DAG is not valid Python"):
        compile_tiny(tmp_path, {"image": "a:1"})


def test_content_tag_is_the_hash_of_the_file_with_its_digits_zeroed(tmp_path):
    """A deployed file can be checked on its own: zero the tag's digits, hash, compare."""
    _, rendered, _ = compile_tiny(tmp_path, {"image": "a:1"})
    assert rendered.source.count(rendered.content_tag) == 1
    assert content_tag(rendered.source.replace(rendered.content_tag, ZEROED_TAG)) == rendered.content_tag


def _template_task_ids(source: str) -> set[str]:
    """Task ids written as literals (task_id="...", TaskGroup("...")): those the template names itself."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            found |= {kw.value.value for kw in node.keywords
                      if kw.arg == "task_id" and isinstance(kw.value, ast.Constant)}
            if isinstance(node.func, ast.Name) and node.func.id == "TaskGroup":
                found.add(node.args[0].value)
    return found


@pytest.mark.parametrize("execution", ["kubernetes", "docker"])
def test_every_task_the_template_adds_is_reserved_for_it(tmp_path, execution):
    """Kedro task ids are kept off RESERVED_TASK_IDS, so it must hold every id the template writes."""
    run_config = {"image": "a:1", "execution": execution, "mlflow": {"enabled": True},
                  "external_dependencies": [{"dag_id": "up"}]}
    nodes = [("a", ["raw"], ["x"], []), ("b", ["x"], ["y"], [])]
    if execution == "kubernetes":
        run_config["spark"] = {"type": "dataproc", "region": "r", "project_id": "p", "artifacts_path": "gs://b/a"}
        nodes.append(("s", ["y"], ["z"], ["kedro-airflow-k8s:group:pyspark"]))
    plan = build_plan(make_graph(nodes), make_config(tmp_path, run_config, git_info=GIT), GIT)
    written = _template_task_ids(render_dag(plan).source) - {sensor.task_id for sensor in plan.sensors}
    assert written <= set(RESERVED_TASK_IDS)
    if execution == "kubernetes":  # every feature on: every reserved id is in use
        assert written == set(RESERVED_TASK_IDS)


POISON = """
import os, pickle, sys
from pathlib import Path
from jinja2.bccache import bc_magic

class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {sys.argv[2]}",))

for cache in Path(sys.argv[1]).glob("__jinja2_*.cache"):
    cache.write_bytes(bc_magic + pickle.dumps(Payload()))
"""


@pytest.mark.parametrize(("shared", "ci"), [(False, False), (True, False), (False, True)],
                         ids=["own-folder", "group-and-world-writable-folder", "own-folder-in-ci"])
def test_template_cache_is_only_read_from_a_folder_nobody_else_can_write(tmp_path, example_repo, shared, ci):
    """Jinja unpickles its bytecode cache: a cache others can write to would run their code. In CI the
    steps before ran a branch's code as the same user in the same home: no cache is read there."""
    import os
    import subprocess
    import sys

    from kedro_af_ci import __version__

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "KAF_DEPLOYMENT": "service_accounts: [kedro-runner]"}  # what the example's config asks for in CI
    compile_cmd = [sys.executable, "-m", "kedro_af_ci.cli", "--project-path", str(example_repo[0]), "compile",
                   "--no-verify", "-o", str(tmp_path / "dag.py")]
    subprocess.run(compile_cmd, env=env, check=True, capture_output=True)
    folder = tmp_path / "cache" / "kedro-af-ci" / __version__
    assert list(folder.glob("__jinja2_*.cache"))
    marker = tmp_path / "PWNED-by-template-cache"
    subprocess.run([sys.executable, "-c", POISON, str(folder), str(marker)], check=True)
    if shared:
        folder.chmod(0o777)
    result = subprocess.run(compile_cmd, env={**env, "CI": "true"} if ci else env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # the poisoned cache runs code exactly when this user's private folder is trusted outside CI: the test
    # can fail
    assert marker.exists() is not (shared or ci)


def test_run_once_does_not_wait_for_other_dags(tmp_path, example_repo):
    """A manual run now (run-once) is compiled without the external-dependency sensors, as the
    original plugin did; the scheduled DAG keeps them."""
    project = tmp_path / "project"
    shutil.copytree(example_repo[0], project)
    config = project / "conf" / "base" / "airflow-k8s.yaml"
    config.write_text(config.read_text() + "  external_dependencies: [{dag_id: upstream-dag, timeout: 1440}]\n")
    plan = build_plan(make_graph([("a", [], ["x"], [])]), load_config(project, environ={}), GitInfo("a" * 40, "m"),
                      schedule=None, run_once=True)
    assert plan.sensors == () and [w.code for w in plan.warnings] == ["sensors-left-out"]
    dags = tmp_path / "dags"
    result = subprocess.run([sys.executable, "-m", "kedro_af_ci.cli", "--project-path", str(project), "-p",
                             "data_processing", "schedule", "-c", "@daily", "-o", str(dags)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert "ExternalTaskSensor(" in next(dags.glob("*.py")).read_text()  # the scheduled DAG waits


def test_env_vars_from_airflow_variables_as_in_the_seed(tmp_path):
    """The seed's list form (Variable names) and Jinja written in the mapping form are rendered by
    Airflow at run time; a value substituted from a branch name stays text."""
    config = make_config(tmp_path, {"image": "a:1", "env_vars": ["DB_HOST", "API_URL"]})
    assert config.run_config.env_vars == {"DB_HOST": "{{ var.value.DB_HOST }}", "API_URL": "{{ var.value.API_URL }}"}
    plan = build_plan(make_graph([("a", [], [], [])]), config, GitInfo("a" * 40, "{{ var.value.DB_HOST }}"))
    dag = load_dag(render_dag(plan).source, plan.dag.dag_id, tmp_path)
    variables = FakeVariables({"DB_HOST": "db.internal", "API_URL": "https://api"})
    pod = build_pod(dag.get_task("a"), var=variables)
    assert {e.name: e.value for e in pod.spec.containers[0].env} == {"DB_HOST": "db.internal", "API_URL": "https://api"}

    mixed = make_config(tmp_path / "m", {"image": "a:1", "env_vars": {
        "RUN_DATE": "{{ ds }}", "BRANCH": "${branch_name}", "LOGGING": "conf/logging.yml"}},
        git_info=GitInfo("a" * 40, "{{ var.value.DB_HOST }}"))
    plan = build_plan(make_graph([("a", [], [], [])]), mixed, GitInfo("a" * 40, "{{ var.value.DB_HOST }}"))
    dag = load_dag(render_dag(plan).source, plan.dag.dag_id, tmp_path / "m")
    env = {e.name: e.value for e in build_pod(dag.get_task("a"), var=variables).spec.containers[0].env}
    assert env == {"RUN_DATE": "2026-11-22", "BRANCH": "{{ var.value.DB_HOST }}", "LOGGING": "conf/logging.yml"}
    with pytest.raises(ConfigError, match="is not an Airflow Variable name"):
        make_config(tmp_path / "bad", {"image": "a:1", "env_vars": ["bad-name"]})


def test_docs_name_every_tag_a_dag_carries(tmp_path):
    """docs/configuration.md lists the DAG's tags: a tag the plan adds and the page omits fails here."""
    from conftest import ROOT

    from kedro_af_ci.plan.model import BRANCH_TAG, EXPERIMENT_TAGS, REPOSITORY_TAG, TAG_PREFIX

    git = GitInfo("a" * 40, "feature/x", repository="acme/spaceflights")
    config = make_config(tmp_path, {"image": "a:1", "experiment_name": "Spaceflights"}, git_info=git)
    tags = build_plan(make_graph([("a", [], ["x"], [])]), config, git).dag.tags
    prefixes = {tag.split(":", 1)[0] + ":" for tag in tags} | {"dag_hash:"}
    assert prefixes == {f"{TAG_PREFIX}:", "commit:", BRANCH_TAG, REPOSITORY_TAG, EXPERIMENT_TAGS[0], "dag_hash:"}
    docs = (ROOT / "docs" / "configuration.md").read_text()
    section = docs.split("<!-- tags:", 1)[1].split("\n\n", 1)[0]
    assert {prefix for prefix in prefixes if f"`{prefix}" in section} == prefixes
    assert f"`{EXPERIMENT_TAGS[1]}`" in section  # the predecessor's tag, read by list-pipelines


def test_no_template_file_is_over_250_lines():
    """One file per backend (templates/dag/): a change to the Docker tasks is read in one short file."""
    from pathlib import Path

    import kedro_af_ci

    templates = Path(kedro_af_ci.__file__).parent / "templates"
    sizes = {p.relative_to(templates).as_posix(): len(p.read_text().splitlines()) for p in templates.rglob("*.j2")}
    assert {"dag/local.py.j2", "dag/docker.py.j2", "dag/kubernetes.py.j2"} <= set(sizes)
    assert {name: n for name, n in sizes.items() if n > 250} == {}
