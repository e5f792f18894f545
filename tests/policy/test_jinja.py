"""Config Jinja read as Jinja parses it: which Variables and Connections a template touches, and what
it may not touch at all (the context's objects and modules)."""

from __future__ import annotations

import pytest

from kedro_af_ci.policy.jinja import TemplateRefused, read_template

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project


@pytest.mark.parametrize(("text", "variables", "connections"), [
    ("{{ ds }}-{{ run_id | replace(':', '_') }}", set(), set()),
    ("{{ var.value.env }}/{{ var.json.cfg.bucket }}", {"env", "cfg"}, set()),
    ("{{ var.value.get('env', 'dev') }} {{ var.value['region'] }}", {"env", "region"}, set()),
    ("{{ conn.warehouse.host }}:{{ conn.get('warehouse').port }}", set(), {"warehouse"}),
    ("{{ macros.ds_add(ds, 7) }}{% if var.value.flag %}x{% endif %}", {"flag"}, set()),
    ("{{ var.value.get('a', var.value.b) }}", {"a", "b"}, set()),
    ("{{ logical_date.strftime('%Y') }}", set(), set()),
])
def test_what_a_template_reads(text, variables, connections):
    use = read_template(text)
    assert (use.variables, use.connections) == (variables, connections)


@pytest.mark.parametrize(("text", "why"), [
    ("{{ macros.uuid.os.environ }}", "macros.uuid is not one of the date macros"),  # a module: the worker's env
    ("{{ ti.xcom_pull(dag_id='other') }}", "'ti' is not a value"),
    ("{{ dag_run.get_task_instances() }}", "'dag_run' is not a value"),
    ("{{ var.value.get(ds) }}", "computed at run time"),
    ("{{ conn[params.name].password }}", "computed at run time"),
    ("{{ var }}", "'var' is not a value"),
    ("{{ {'c': conn}.c.prod.password }}", "'conn' is not a value"),
    ("{{ ds.__class__ }}", "private attributes"),
    ("{% include 'other_dag.py' %}", "Include"),
    ("{% for i in range(10**9) %}x{% endfor %}", "For"),
    ("{% set c = conn %}{{ c.prod.password }}", "Assign"),
    ("{{ lipsum() }}", "'lipsum' is not a value"),
    ("{{ unclosed", "not valid Jinja"),
])
def test_what_a_template_may_not_do(text, why):
    with pytest.raises(TemplateRefused, match=why):
        read_template(text)
