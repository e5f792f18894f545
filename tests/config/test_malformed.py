"""Broken configurations through the CLI's own command (click's runner, in this process: one console-script
process per case took 7 s of the unit tier; tests/test_cli.py runs the console script itself): one line
naming file and key, exit 3, nothing written."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kedro_af_ci.cli import airflow_k8s

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

GOOD = "run_config:\n  image: repo/img:1\n"
# (file content, dotted key expected in the message ('' for whole-file errors), fragment of the expectation)
CASES = [
    ("run_config: [\n", "", "YAML syntax error"),
    ("run_config:\n  image: a\n bad_indent: 1\n", "", "YAML syntax error"),
    ("run_config: {image: 'a'\n", "", "YAML syntax error"),
    ("- just\n- a list\n", "", "expected a mapping"),
    ("\tinvalid: tab\n", "", "YAML syntax error"),
    ("run_config: {}\n", "run_config.image", "required key is missing"),
    ("hosst: http://x\n" + GOOD, "hosst", "did you mean 'host'"),
    ("outptu: x\n" + GOOD, "outptu", "did you mean 'output'"),
    (GOOD + "  imagee: x\n", "run_config.imagee", "did you mean 'image'"),
    (GOOD + "  volume: {sise: 1Gi}\n", "run_config.volume.sise", "did you mean 'size'"),
    (GOOD + "  resources: {big: {requests: {cpu: lots}}}\n", "run_config.resources.big.requests.cpu",
     "not a Kubernetes quantity"),
    (GOOD + "  resources: {big: {limits: {memory: 12XB}}}\n", "run_config.resources.big.limits.memory",
     "not a Kubernetes quantity"),
    (GOOD + "  resources: {big: {requsts: {}}}\n", "run_config.resources.big.requsts", "did you mean 'requests'"),
    (GOOD + "  resources: {big: {tolerations: [{effect: Sometimes}]}}\n",
     "run_config.resources.big.tolerations.0.effect", "'NoSchedule', 'PreferNoSchedule' or 'NoExecute'"),
    (GOOD + "  resources: {big: {labels: {'bad key!': x}}}\n", "run_config.resources.big.labels.bad key!",
     "label key"),
    (GOOD + "  resources: {big: {node_selectors: {pool: 'has space'}}}\n",
     "run_config.resources.big.node_selectors.pool", "label value"),
    (GOOD + "  cron_expression: 'every day'\n", "run_config.cron_expression", "not a cron expression"),
    (GOOD + "  cron_expression: '* * * * * *'\n", "run_config.cron_expression", "expected 5 fields"),
    (GOOD + "  cron_expression: '0 25 * * *'\n", "run_config.cron_expression", "invalid hour"),
    (GOOD + "  start_date: '2021-02-30'\n", "run_config.start_date", "not a date"),
    (GOOD + "  start_date: yesterday\n", "run_config.start_date", "not a date"),
    (GOOD + "  startup_time: -5\n", "run_config.startup_time", "greater than 0"),
    (GOOD + "  startup_time: soon\n", "run_config.startup_time", "valid integer"),
    (GOOD + "  namespace: Not_Valid\n", "run_config.namespace", "not a valid Kubernetes name"),
    (GOOD + "  image_pull_policy: Sometimes\n", "run_config.image_pull_policy", "'Always', 'IfNotPresent'"),
    (GOOD + "  service_account_name: 'Bad Name'\n", "run_config.service_account_name", "Kubernetes object name"),
    (GOOD + "  volume: {access_modes: [ReadAll]}\n", "run_config.volume.access_modes.0", "ReadWriteOnce"),
    (GOOD + "  volume: {owner: -3}\n", "run_config.volume.owner", "greater than or equal to 0"),
    (GOOD + "  secrets: [{deploy_type: file, secret: s}]\n", "run_config.secrets.0.deploy_type", "'env' or 'volume'"),
    (GOOD + "  secrets: [{secret: s, key: k}]\n", "run_config.secrets.0", "deploy_target"),
    (GOOD + "  failure_handlers: [{type: email}]\n", "run_config.failure_handlers.0.type", "'slack', got 'email'"),
    (GOOD + "  failure_handlers: [{type: slack, message_template: '{who}'}]\n",
     "run_config.failure_handlers.0.message_template", "unknown placeholder"),
    (GOOD + "  external_dependencies: [{task_id: t}]\n", "run_config.external_dependencies.0.dag_id",
     "required key is missing"),
    (GOOD + "  external_dependencies: [{dag_id: d, timeout: 0}]\n", "run_config.external_dependencies.0.timeout",
     "greater than 0"),
    (GOOD + "  authentication: {type: Kerberos}\n", "run_config.authentication.type", "'Null', 'GoogleOAuth2'"),
    (GOOD + "  spark: {type: emr}\n", "run_config.spark.type", "'dataproc' or 'custom'"),
    (GOOD + "  macro_params: ['ds}}']\n", "run_config.macro_params.0", "not a valid name"),
    (GOOD + "  grouping: by-magic\n", "run_config.grouping", "'none', 'memory', 'namespace' or 'tag'"),
    ("run_config:\n  image: repo/${missing_var}:1\n", "run_config.image", "KEDRO_CONFIG_MISSING_VAR"),
    ("host: ftp://airflow.example.com\n" + GOOD, "host", "http(s) URL"),
]


def check_case(tmp_path, graph, i: int, content: str, key: str, fragment: str) -> tuple | None:
    """None when the CLI refused the config as expected, else what it did instead."""
    project = tmp_path / f"p{i}"
    config = project / "conf" / "base" / "airflow-k8s.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(content)
    out = project / "dag.py"
    result = CliRunner().invoke(airflow_k8s, ["--project-path", str(project), "--graph", str(graph), "compile",
                                              "--no-verify", "-o", str(out)])
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    clean = isinstance(result.exception, SystemExit)  # ctx.exit(3), not an exception escaping the command
    ok = (result.exit_code == 3 and len(errors) == 1 and str(config) in errors[0]
          and (not key or f": {key}: " in errors[0]) and fragment in errors[0] and clean and not out.exists())
    return None if ok else (content, result.exit_code, result.stderr[-500:], repr(result.exception))


def test_malformed_configs(tmp_path, capsys):
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps({"schema": 1, "project": {"package_name": "p", "project_name": "P"},
                                 "pipeline": "__default__", "nodes": [{"name": "a", "inputs": [], "outputs": []}]}))
    results = [check_case(tmp_path, graph, *case) for case in enumerate_cases()]
    failures = [r for r in results if r is not None]
    with capsys.disabled():
        print(f"\nmalformed: {len(CASES) - len(failures)}/{len(CASES)} ok")
    assert len(CASES) >= 30
    assert failures == []


def enumerate_cases() -> list[tuple[int, str, str, str]]:
    return [(i, *case) for i, case in enumerate(CASES)]
