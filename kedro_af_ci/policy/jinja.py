"""Jinja a branch wrote for Airflow to render, read the way Jinja reads it (its syntax tree, not the
text), to learn which Variables and Connections it touches (docs/architecture.md, "Trust").

Airflow renders config Jinja with the task's whole context, in which ``var`` and ``conn`` read any
Variable or Connection and ``macros``, ``ti`` or ``dag_run`` reach modules and the metadata
database. So a template may use only: plain run values (``ds``, ``run_id``, dates: :data:`RUN_VALUES`),
a few date macros, and Variables or Connections *by a constant name*, as ``var.value.NAME``,
``var.json.NAME``, ``var.value.get('NAME', default)``, ``conn.NAME.attr`` or ``conn.get('NAME')``;
expressions, filters and ``{% if %}`` around them. Anything else is refused with what was found.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

# the template context's plain values (strings and dates); every other name of it is refused
RUN_VALUES = frozenset({
    "ds", "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz", "run_id", "logical_date", "data_interval_start",
    "data_interval_end", "prev_data_interval_start_success", "prev_data_interval_end_success",
    "prev_start_date_success", "prev_end_date_success", "task_instance_key_str", "params", "test_mode",
})
MACROS = frozenset({"ds_add", "ds_format", "datetime_diff_for_humans", "datetime", "timedelta"})
# statements that only choose between texts; loops, assignments, macros and file includes are refused
_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.Const, nodes.Name, nodes.Getattr,
    nodes.Getitem, nodes.Slice, nodes.Call, nodes.Keyword, nodes.Filter, nodes.Test, nodes.Concat, nodes.CondExpr,
    nodes.Compare, nodes.Operand, nodes.BinExpr, nodes.UnaryExpr, nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair,
)


class TemplateRefused(ValueError):
    """What in the template may not be rendered by Airflow for a branch."""


@dataclass
class JinjaUse:
    """The Variables and Connections one template reads, by name."""

    variables: set[str] = field(default_factory=set)
    connections: set[str] = field(default_factory=set)


def read_template(text: str) -> JinjaUse:
    """Parse ``text`` as Airflow's Jinja does and say what it reads; TemplateRefused otherwise."""
    try:
        tree = SandboxedEnvironment().parse(text)
    except TemplateSyntaxError as exc:
        raise TemplateRefused(f"not valid Jinja ({exc.message}), so Airflow could not render it either") from None
    use = JinjaUse()
    _visit(tree, use)
    return use


def _chain(node: nodes.Node) -> tuple[nodes.Node, list[nodes.Node]]:
    """``a.b['c'].d(...)``: the innermost expression ``a``, and the steps applied to it, inner first."""
    steps: list[nodes.Node] = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem, nodes.Call)):
        steps.append(node)
        node = node.node
    return node, steps[::-1]


def _attr(step: nodes.Node) -> str | None:
    return step.attr if isinstance(step, nodes.Getattr) else None


def _constant_name(step: nodes.Node) -> str | None:
    """The name a step reads by constant: ``.NAME``, ``['NAME']``, or ``get('NAME', ...)`` (a Call)."""
    if isinstance(step, nodes.Getattr):
        return step.attr
    if isinstance(step, nodes.Getitem) and isinstance(step.arg, nodes.Const) and isinstance(step.arg.value, str):
        return step.arg.value
    if isinstance(step, nodes.Call) and step.args and isinstance(step.args[0], nodes.Const) \
            and isinstance(step.args[0].value, str):
        return step.args[0].value
    return None


def _named(steps: list[nodes.Node], what: str) -> tuple[str, int]:
    """A Variable's or Connection's constant name in ``steps`` and how many steps spell it."""
    if _attr(steps[0]) == "get" and len(steps) > 1 and isinstance(steps[1], nodes.Call):
        name = _constant_name(steps[1])
        used = 2
    else:
        name = None if isinstance(steps[0], nodes.Call) else _constant_name(steps[0])
        used = 1
    if not name:
        raise TemplateRefused(f"{what} is read by a name computed at run time; write the name itself")
    return name, used


def _visit_chain(root: nodes.Name, steps: list[nodes.Node], use: JinjaUse) -> list[nodes.Node]:
    """Check a ``var``/``conn``/``macros`` expression; returns the steps whose arguments still need a visit."""
    if not steps:
        raise TemplateRefused(f"'{root.name}' is used as a whole; read one value of it by name")
    if root.name == "macros":
        if _attr(steps[0]) not in MACROS:
            raise TemplateRefused(f"macros.{_attr(steps[0]) or '[...]'} is not one of the date macros "
                                  f"{', '.join(sorted(MACROS))}")
        return steps[1:]
    if root.name == "conn":
        name, used = _named(steps, "a Connection")
        use.connections.add(name)
        return steps[used:]
    kind = _attr(steps[0])
    if kind not in ("value", "json") or len(steps) < 2:
        raise TemplateRefused("an Airflow Variable is read as var.value.NAME, var.json.NAME or "
                              "var.value.get('NAME', default)")
    name, used = _named(steps[1:], "a Variable")
    use.variables.add(name)
    return steps[1 + used:]


def _visit_expression(node: nodes.Node, use: JinjaUse) -> None:
    """``a.b['c'].d(...)``: ``var``/``conn``/``macros`` only in their allowed forms; every argument visited."""
    root, steps = _chain(node)
    for step in steps:
        if (_attr(step) or "").startswith("_"):
            raise TemplateRefused(f"attribute {_attr(step)!r}: private attributes are not readable")
    rest = steps
    if isinstance(root, nodes.Name) and root.name in ("var", "conn", "macros"):
        rest = _visit_chain(root, steps, use)
        for step in steps[:len(steps) - len(rest)]:  # var.value.get('X', default): the default
            if isinstance(step, nodes.Call):
                for argument in [*step.args[1:], *step.kwargs]:
                    _visit(argument, use)
    else:
        _visit(root, use)
    for step in rest:
        for child in step.iter_child_nodes():
            if child is not getattr(step, "node", None):  # Getattr/Getitem/Call: what the step applies to
                _visit(child, use)


def _visit(node: nodes.Node, use: JinjaUse) -> None:
    if not isinstance(node, _NODES):
        raise TemplateRefused(f"{type(node).__name__} (a {{% {type(node).__name__.lower()} %}} or similar) is "
                              "not allowed here: only expressions, filters and if")
    if isinstance(node, (nodes.Getattr, nodes.Getitem, nodes.Call)):
        _visit_expression(node, use)
        return
    if isinstance(node, nodes.Name):
        if node.name not in RUN_VALUES:
            raise TemplateRefused(f"'{node.name}' is not a value config Jinja may read (run values such as ds, "
                                  "run_id or logical_date; macros.ds_add; var.value.NAME; conn.NAME)")
        return
    for child in node.iter_child_nodes():
        _visit(child, use)
