from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kedro_af_ci.config import check_cron, load_config
from kedro_af_ci.errors import ConfigError
from kedro_af_ci.gitinfo.commit import GitInfo

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

GIT = GitInfo(commit_id="a" * 40, branch_name="feature/x")
MINIMAL = {"run_config": {"image": "repo/img:1"}}


def write(project: Path, env: str, data) -> Path:
    path = project / "conf" / env / "airflow-k8s.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def load(tmp_path, data, env=None, environ=None, **kw):
    write(tmp_path, "base", data)
    return load_config(tmp_path, env, environ=environ or {}, git_info=GIT, **kw)


def test_example_config_parses_every_section(example_repo):
    config = load_config(example_repo[0], environ={})
    rc = config.run_config
    assert rc.image == f"ghcr.io/example/spaceflights:{example_repo[1]}"
    assert rc.cron_expression == "0 6 * * 1-5"
    assert rc.start_date.isoformat() == "2026-01-01T00:00:00+00:00"
    assert rc.image_pull_secrets == ["registry-credentials"]
    assert rc.resources["huge_machines"].tolerations[0].effect == "NoSchedule"
    assert rc.description.endswith("(branch feature/price-model)")


def test_full_seed_config_validates(tmp_path):
    seed = {
        "host": "https://airflow.example.com",
        "output": "gs://airflow-bucket-example-com",
        "run_config": {
            "image": "airflow-k8s-plugin-demo", "image_pull_policy": "IfNotPresent", "startup_time": 600,
            "namespace": "airflow", "experiment_name": "Airflow K8S Plugin Demo",
            "run_name": "airflow-k8s-plugin-demo", "cron_expression": "@daily", "start_date": "20210721",
            "description": "Very Important Pipeline", "image_pull_secrets": "my-registry-credentials",
            "service_account_name": "airflow",
            "failure_handlers": [{"type": "slack", "connection_id": "slack",
                                  "message_template": "Task {task} of {dag} at {execution_time}: {url}"}],
            "volume": {"storageclass": None, "size": "1Gi", "access_modes": ["ReadWriteMany"],
                       "skip_init": False, "owner": 0, "disabled": False},
            "secrets": [{"deploy_type": "env", "deploy_target": "SQL_CONN", "secret": "airflow-secrets",
                         "key": "sql_alchemy_conn"}],
            "macro_params": ["ds", "prev_ds"], "variables_params": ["env"],
            "resources": {
                "__default__": {
                    "node_selectors": {"k8s.io/node_pool_label": "example_value"},
                    "labels": {"running": "airflow"}, "annotations": {"iam.amazonaws.com/role": "airflow"},
                    "tolerations": [{"key": "group", "value": "data-processing", "effect": "NoExecute"},
                                    {"key": "group", "operator": "Equal", "value": "data-processing",
                                     "effect": "NoSchedule"}],
                    "requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
                "huge_machines": {"node_selectors": {"big_node_pool": "huge.10x"},
                                  "requests": {"cpu": "16", "memory": "128Gi"},
                                  "limits": {"cpu": "32", "memory": "256Gi"}},
            },
            "external_dependencies": [{"dag_id": "upstream-dag"},
                                      {"dag_id": "another-upstream-dag", "task_id": "with-precise-task",
                                       "timeout": 2, "check_existence": False, "execution_delta": 10}],
            "authentication": {"type": "GoogleOAuth2"},
            "kubernetes_pod_templates": {"spark": {"template": "type: Pod\nmetadata:\n  name: x\n"}},
            "spark": {"type": "dataproc", "operator_factory": "my_project.factories.OperatorFactory",
                      "region": "europe-west1", "project_id": "target-project", "cluster_name": "ephemeral",
                      "artifacts_path": "gs://bucket/packages", "user_init_path": "init.sh",
                      "user_post_init_path": "post.sh",
                      "cluster_config": {"master_config": {"disk_config": {"boot_disk_size_gb": 35}}}},
        },
    }
    rc = load(tmp_path, seed).run_config
    assert rc.external_dependencies[0].timeout == 1440 and rc.external_dependencies[0].check_existence
    assert rc.external_dependencies[1].execution_delta == 10
    assert rc.resources["__default__"].tolerations[0].operator == "Equal"
    assert rc.failure_handlers[0].connection_id == "slack"
    assert rc.spark.cluster_config["master_config"]["disk_config"]["boot_disk_size_gb"] == 35
    assert rc.volume.access_modes == ["ReadWriteMany"]
    assert rc.authentication.type == "GoogleOAuth2"


def test_env_overrides_base_deeply(tmp_path):
    write(tmp_path, "base", {"run_config": {"image": "a/b:1", "namespace": "base-ns",
                                            "resources": {"__default__": {"requests": {"cpu": "1"}}}}})
    write(tmp_path, "prod", {"run_config": {"namespace": "prod-ns",
                                            "resources": {"__default__": {"limits": {"cpu": "2"}}}}})
    rc = load_config(tmp_path, "prod", environ={}, git_info=GIT).run_config
    assert rc.namespace == "prod-ns" and rc.image == "a/b:1"
    assert rc.resources["__default__"].requests == {"cpu": "1"}
    assert rc.resources["__default__"].limits == {"cpu": "2"}
    assert load_config(tmp_path, None, environ={}, git_info=GIT).run_config.namespace == "base-ns"


def test_substitution_env_default_git_and_escape(tmp_path):
    data = {"host": "${airflow_host|http://localhost:8080}",
            "run_config": {"image": "repo/img:${commit_id|dirty}", "run_name": "p-${branch_name}",
                           "description": "cost $${HOME} ${team|data}", "startup_time": "${timeout|30}"}}
    config = load(tmp_path, data, environ={"KEDRO_CONFIG_TEAM": "ml", "KEDRO_CONFIG_TIMEOUT": "45"})
    assert config.host == "http://localhost:8080"
    assert config.run_config.image == "repo/img:" + "a" * 40
    assert config.run_config.run_name == "p-feature/x"
    assert config.run_config.description == "cost ${HOME} ml"
    assert config.run_config.startup_time == 45
    env_wins = load(tmp_path, data, environ={"KEDRO_CONFIG_COMMIT_ID": "c0ffee"})
    assert env_wins.run_config.image == "repo/img:c0ffee"


def test_substituted_value_cannot_change_yaml_structure(tmp_path):
    hostile = "x\nrun_config:\n  image: evil/evil: 'a' {{ }}"
    config = load(tmp_path, {"run_config": {"image": "a/b:1", "description": "${branch_name}"}},
                  environ={"KEDRO_CONFIG_BRANCH_NAME": hostile})
    assert config.run_config.description == hostile
    assert config.run_config.image == "a/b:1"


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        ({"run_config": {"image": "a:1", "volume": {"sizee": "1Gi"}}}, "run_config.volume.sizee",
         "did you mean 'size'"),
        ({"run_config": {"image": "a:1", "resources": {"huge_machines": {"requests": {"cpu": "lots"}}}}},
         "run_config.resources.huge_machines.requests.cpu", "not a Kubernetes quantity"),
        ({"run_config": {"image": "a:1", "resources": {"x": {"limts": {}}}}}, "run_config.resources.x.limts",
         "did you mean 'limits'"),
        ({"run_config": {"image": "a:1", "cron_expression": "every day"}}, "run_config.cron_expression",
         "not a cron expression"),
        ({"run_config": {"image": "a:1", "cron_expression": "61 * * * *"}}, "run_config.cron_expression",
         "invalid minute"),
        ({"run_config": {"image": "a:1", "start_date": "2021-13-45"}}, "run_config.start_date", "not a date"),
        ({"run_config": {}}, "run_config.image", "required key is missing"),
        ({"run_config": {"image": "Not A/Image"}}, "run_config.image", "not a valid container image"),
        ({"run_config": {"image": "a:1", "namespace": "Bad_NS"}}, "run_config.namespace",
         "not a valid Kubernetes name"),
        ({"run_config": {"image": "a:1", "image_pull_policy": "Sometimes"}}, "run_config.image_pull_policy",
         "'Always', 'IfNotPresent' or 'Never'"),
        ({"run_config": {"image": "a:1", "startup_time": "soon"}}, "run_config.startup_time", "integer"),
        ({"run_config": {"image": "a:1", "secrets": [{"deploy_type": "volume", "secret": "s"}]}},
         "run_config.secrets.0", "absolute mount path"),
        ({"run_config": {"image": "a:1", "resources": {"d": {"labels": {"team": "a b"}}}}},
         "run_config.resources.d.labels.team", "label value"),
        ({"run_config": {"image": "a:1", "failure_handlers": [{"type": "pagerduty"}]}},
         "run_config.failure_handlers.0.type", "Input should be 'slack', got 'pagerduty'"),
        ({"run_config": {"image": "a:1", "spark": {"type": "custom"}}}, "run_config.spark.operator_factory",
         "required key is missing: spark type custom needs operator_factory"),
        ({"run_config": {"image": "a:1", "authentication": {"type": "Vars"}}}, "run_config.authentication",
         "params"),
        ({"hots": "x", "run_config": {"image": "a:1"}}, "hots", "did you mean 'host'"),
        ({"host": "ftp://airflow.example.com", "run_config": {"image": "a:1"}}, "host", "http(s) URL"),
        ({"run_config": {"image": "a:1", "macro_params": ["ds;rm"]}}, "run_config.macro_params.0",
         "not a valid name"),
        ({"run_config": {"image": "a:1", "volume": {"owner": -1}}}, "run_config.volume.owner",
         "greater than or equal to 0"),
    ],
)
def test_malformed_config_names_key_and_expectation(tmp_path, data, key, fragment):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, data)
    error = info.value
    assert error.key == key
    assert error.file.endswith("conf/base/airflow-k8s.yaml")
    assert fragment in str(error)
    assert "\n" not in str(error)


def test_error_points_at_env_file_when_key_comes_from_it(tmp_path):
    write(tmp_path, "base", {"run_config": {"image": "a/b:1"}})
    write(tmp_path, "prod", {"run_config": {"startup_time": "never"}})
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, "prod", environ={}, git_info=GIT)
    assert info.value.file.endswith("conf/prod/airflow-k8s.yaml")


def test_seed_example_node_selector_key_is_rejected_as_kubernetes_would(tmp_path):
    # The seed's sample key "node_pool_label/k8s.io" has a prefix that is not a DNS subdomain:
    # the API server rejects such a pod, so compile does first.
    with pytest.raises(ConfigError) as info:
        load(tmp_path, {"run_config": {"image": "a:1", "resources": {
            "__default__": {"node_selectors": {"node_pool_label/k8s.io": "example_value"}}}}})
    assert info.value.key == "run_config.resources.__default__.node_selectors.node_pool_label/k8s.io"


def test_yaml_syntax_error_gives_line(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "run_config:\n  image: a\n  resources: [unclosed\n")
    assert "airflow-k8s.yaml:" in str(info.value) and "YAML syntax error" in str(info.value)


def test_unset_variable_without_default_is_named(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, {"run_config": {"image": "a/${repo}:1"}})
    assert info.value.key == "run_config.image"
    assert "KEDRO_CONFIG_REPO" in str(info.value)


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"is not a Kedro project \(no pyproject.toml\)"):
        load_config(tmp_path, None, environ={}, git_info=GIT)
    (tmp_path / "pyproject.toml").write_text("[tool.kedro]\n")
    with pytest.raises(ConfigError, match=r"no airflow-k8s\.yaml in conf/base: create one with"):
        load_config(tmp_path, None, environ={}, git_info=GIT)


@pytest.mark.parametrize("expr", ["@daily", "0 6 * * 1-5", "*/15 * * * *", "0 0 1 jan,jul *", "0 3 ? * MON-FRI",
                                  "0 0 L * *", "0 0 * * 5#2", "0 0 1W * *", "0 22 * * fri-mon", "@midnight"])
def test_valid_cron(expr):
    assert check_cron(expr)


def test_cron_is_normalized():
    assert check_cron(" @Daily ") == "@daily"
    assert check_cron("0  6 *\t* 1-5\n") == "0 6 * * 1-5"


@pytest.mark.parametrize(("expr", "message"), [
    ("61 * * * *", "'61 * * * *' is not a cron expression: invalid minute field '61' "
                   "(allowed 0-59, '*', ranges, lists and steps)"),
    ("0 0 * * L", "'0 0 * * L' is not a cron expression: invalid day of week field 'L' "
                  "(allowed 0-7, '*', ranges, lists and steps)"),
    ("0 0 0 * *", "'0 0 0 * *' is not a cron expression: invalid day of month field '0' "
                  "(allowed 1-31, '*', ranges, lists and steps)"),
    ("0 0 * ? *", "'0 0 * ? *' is not a cron expression: invalid month field '?' "
                  "(allowed 1-12, '*', ranges, lists and steps)"),
    ("*/0 * * * *", "'*/0 * * * *' is not a cron expression: invalid minute field '*/0' "
                    "(allowed 0-59, '*', ranges, lists and steps)"),
    ("0 0 * * * *", "'0 0 * * * *' is not a cron expression: expected 5 fields (minute hour day-of-month month "
                    "day-of-week) or a preset such as @daily"),
])
def test_invalid_cron_names_the_field(expr, message):
    with pytest.raises(ValueError) as info:
        check_cron(expr)
    assert str(info.value) == message


CRON_SAMPLES = ["0 6 * * 1-5", "0 0 L * *", "0 0 * * 5#2", "0 0 1W * *", "10-1 * * * *", "0 22 * * fri-mon",
                "61 * * * *", "0 25 * * *", "0 0 * * L", "0 0 * * 5L", "H * * * *", "0 0 * * 1,", "a-b * * * *",
                "-1 * * * *", "0 0 ? ? ?", "*/0 * * * *", "@daily", "@quarterly", "@midnight", "@annually"]


@pytest.mark.parametrize("expr", CRON_SAMPLES)
def test_cron_check_accepts_what_airflow_accepts(expr):
    """Same verdict as Airflow's own cron timetable (5-field expressions and presets)."""
    trigger = pytest.importorskip("airflow.timetables.trigger")
    try:
        trigger.CronTriggerTimetable(expr, timezone="UTC").validate()
        airflow_accepts = True
    except Exception:
        airflow_accepts = False
    try:
        check_cron(expr)
        we_accept = True
    except ValueError:
        we_accept = False
    assert we_accept == airflow_accepts


def test_resource_profile_layers_named_over_default(tmp_path):
    config = load(tmp_path, {"run_config": {"image": "a:1", "resources": {
        "__default__": {"requests": {"cpu": "1", "memory": "1Gi"}, "labels": {"team": "ds"}},
        "big": {"requests": {"cpu": "8"}}}}})
    from kedro_af_ci.plan.tasks import resource_profile

    profiles = config.run_config.resources
    big = resource_profile(profiles, ("resources:big",))
    assert big.requests == {"cpu": "8", "memory": "1Gi"} and big.labels == {"team": "ds"}
    assert resource_profile(profiles, ("resources.big",)).requests["cpu"] == "8"  # Kedro 1.x tag spelling
    assert resource_profile(profiles, ("other",)).requests == {"cpu": "1", "memory": "1Gi"}


@pytest.mark.parametrize(("key", "run_config"), [
    ("run_config.namespace", {"namespace": "airflow\n"}),
    ("run_config.image", {"image": "registry.example.com/p:1\n"}),
    ("run_config.service_account_name", {"service_account_name": "runner\n"}),
    ("run_config.env_vars", {"env_vars": {"NAME\n": "v"}}),
    ("run_config.resources.__default__.labels", {"resources": {"__default__": {"labels": {"team": "ds\n"}}}}),
    ("run_config.docker.url", {"execution": "docker", "docker": {"url": "unix:///var/run/docker.sock\n"}}),
    ("run_config.spark", {"spark": {"type": "custom", "artifacts_path": "gs://b",
                                                     "operator_factory": "pkg.Factory\n"}}),
])
def test_a_trailing_line_break_is_not_a_valid_name(tmp_path, key, run_config):
    """`$` matches before a final newline: every name check matches the whole value instead."""
    conf = tmp_path / "conf" / "base"
    conf.mkdir(parents=True)
    (conf / "airflow-k8s.yaml").write_text(yaml.safe_dump({"run_config": {"image": "a:1", **run_config}}))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={}, git_info=GitInfo("a" * 40, "main"))
    assert info.value.key.startswith(key), info.value.key


PREDECESSOR_SAMPLE = """\
# what kedro-airflow-k8s 0.8's `init` wrote (its DEFAULT_CONFIG_TEMPLATE), values filled in, its optional
# keys uncommented; the host as its README's `init` example gives it, without a scheme
host: airflow.example.com
output: gs://dags-bucket/dags
run_config:
    image: europe-docker.pkg.dev/acme/ml/spaceflights:1
    image_pull_policy: IfNotPresent
    startup_timeout: 900
    namespace: airflow
    experiment_name: spaceflights-experiment
    cron_expression: "@daily"
    start_date: "20210721"
    image_pull_secrets: my-registry-credentials
    service_account_name: default
    failure_handlers: []
    volume:
        storageclass: # default
        size: 1Gi
        skip_init: False
        owner: 0
        disabled: False
    secrets:
        -   deploy_type: "env"
            deploy_target: "SQL_CONN"
            secret: "airflow-secrets"
            key: "sql_alchemy_conn"
    macro_params: [ds, prev_ds]
    variables_params: [env]
    group_spark_nodes: True
"""


def test_the_predecessors_sample_config_loads_unchanged(tmp_path, caplog):
    import logging

    from conftest import FakeVariables, build_pod, load_dag, make_graph

    from kedro_af_ci.plan.build import build_plan
    from kedro_af_ci.render.dag import render_dag

    write(tmp_path, "base", PREDECESSOR_SAMPLE)
    with caplog.at_level(logging.WARNING, logger="kedro_af_ci.config"):
        config = load_config(tmp_path, environ={}, git_info=GIT)
    assert config.run_config.startup_time == 900
    assert "run_config.startup_timeout is the former name of run_config.startup_time" in caplog.text
    assert config.host == "https://airflow.example.com"  # never plain http: the token would travel in clear
    assert "host 'airflow.example.com' has no scheme: read as https://airflow.example.com" in caplog.text

    # in CI, `service_account_name: default` names what unset means: no deployment setting needed for it
    from kedro_af_ci.policy.model import load_policy
    from kedro_af_ci.policy.settings import narrow

    deployment = "{namespaces: [airflow], airflow_variables: [env]}"
    narrowed, _ = narrow(config, load_policy(deployment, source="KAF_DEPLOYMENT"))
    assert narrowed.run_config.service_account_name == "default"
    other = config.model_copy(update={"run_config": config.run_config.model_copy(
        update={"service_account_name": "airflow-admin"})})
    with pytest.raises(ConfigError, match="'airflow-admin' is not allowed here"):
        narrow(other, load_policy(deployment, source="KAF_DEPLOYMENT"))
    plan = build_plan(make_graph([("a", [], ["x"], [])]), config, GIT, airflow_major=3)  # prev_ds read for 3
    assert [w.code for w in plan.warnings if w.key == "run_config.macro_params"] == ["macro-read-for-airflow3"]
    assert plan.dag.dag_id == "spaceflights-experiment"  # run_name defaults to experiment_name, as in the seed
    dag = load_dag(render_dag(plan).source, plan.dag.dag_id, tmp_path)
    assert "experiment:spaceflights-experiment" in dag.tags
    from datetime import datetime, timezone

    pod = build_pod(dag.get_task("a"), var=FakeVariables({"env": "prod"}),
                    prev_data_interval_start_success=datetime(2026, 11, 21, tzinfo=timezone.utc))
    assert "prev_ds=2026-11-21" in pod.spec.containers[0].args[-1]
    assert dag.get_task("a").startup_timeout_seconds == 900 and pod.spec.service_account_name == "default"
    assert pod.spec.image_pull_secrets[0].name == "my-registry-credentials"
    both = dict(yaml.safe_load(PREDECESSOR_SAMPLE))
    both["run_config"]["startup_time"] = 5
    with pytest.raises(ConfigError, match="both startup_timeout and startup_time are set"):
        load(tmp_path / "both", both)


def test_git_defaults_apply_outside_a_git_checkout(tmp_path):
    """`${commit_id|dirty}`: with no checkout (and no CI variable) the default is what the user asked for."""
    write(tmp_path, "base", {"run_config": {"image": "repo/img:${commit_id|dirty}",
                                            "run_name": "pipeline-${branch_name|local}",
                                            "description": "at ${commit_id}"}})
    config = load_config(tmp_path, environ={})  # tmp_path is no git checkout
    assert config.run_config.image == "repo/img:dirty" and config.run_config.run_name == "pipeline-local"
    assert config.run_config.description == "at unknown"  # no default given: still says it is not known


def test_a_cluster_name_with_spark_on_kubernetes_is_ignored_with_a_warning(tmp_path, caplog):
    """The predecessor's configs name a cluster for k8s too; spark-submit creates none there."""
    from conftest import make_config

    from kedro_af_ci.config import KubernetesSpark

    config = make_config(tmp_path, {"image": "a:1", "spark": {"type": "k8s", "cluster_name": "Not_A_Name"}})
    assert isinstance(config.run_config.spark, KubernetesSpark) and not hasattr(config.run_config.spark, "cluster_name")
    assert "cluster_name is ignored with type kubernetes" in caplog.text


@pytest.mark.parametrize("section", ["resources", "kubernetes_pod_templates"])
@pytest.mark.parametrize("name", ["__defualt__", "__default_", "_default_", "__Default__"])
def test_a_misspelt_default_profile_is_refused_by_name(tmp_path, section, name):
    """Before: `__defualt__` was one more profile, which no node is tagged with: every node ran with no
    requests or limits (or the built-in pod), and nothing said so."""
    profile = {"requests": {"cpu": "1"}} if section == "resources" else {"template": "spec: {}"}
    with pytest.raises(ConfigError) as info:
        load(tmp_path, {"run_config": {"image": "a:1", section: {name: profile}}})
    assert f"run_config.{section}" in str(info.value)
    assert f"{name!r} looks like a misspelt '__default__' (did you mean '__default__'?)" in str(info.value)


def test_profiles_named_for_their_tag_are_kept(tmp_path):
    config = load(tmp_path, {"run_config": {"image": "a:1", "resources": {
        "__default__": {"requests": {"cpu": "1"}}, "gpu": {"requests": {"cpu": "2"}}, "default": {}}}})
    assert set(config.run_config.resources) == {"__default__", "gpu", "default"}
