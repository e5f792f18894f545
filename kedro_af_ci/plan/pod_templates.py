"""``kubernetes_pod_templates``: YAML pod templates parsed into data, never executed.

The original plugin ran templates through Python f-string formatting; here the two dynamic values
its docs show are translated instead: ``{PodGenerator.make_unique_pod_id(...)}`` (the operator
already makes pod names unique, so the name is dropped) and ``{'{{ ... }}'}`` (an f-string-quoted
Jinja expression, kept as Jinja for Airflow to render at run time). Any other single-brace
expression is an error. Jinja expressions are set aside before YAML parsing, so a template may
write ``value: {{ ti.task_id }}`` without YAML reading the braces as a flow mapping.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..errors import ConfigError
from ..guards.bounded_yaml import YamlLimitError, load_bounded
from ..vocabulary.airflow_template import ConfigTemplate

_UNIQUE_NAME = re.compile(r"\{PodGenerator\.make_unique_pod_id\((?:[^{}]|\{\{[^{}]*\}\})*\)\}")
_QUOTED_JINJA = re.compile(r"""\{(['"])(\{\{.*?\}\})\1\}""")
_PVC_NAME = re.compile(r"\{self\._pvc_name\}")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
# `{name}`, `{obj.attr}`, `{call(...)}`: Python expressions, unlike YAML flow mappings `{key: value}`
_LEFTOVER_FSTRING = re.compile(r"(?<!\{)\{\s*[A-Za-z_][\w.]*\s*(\([^{}\n]*\))?\s*\}(?!\})")
_UNIQUE_MARK = "__kaf_unique_pod_name__"
_PVC_MARK = "__kaf_pvc_name__"


def _load_template(parked: str, key: str) -> Any:
    """The template's YAML (its Jinja parked), bounded; a YAML error names its line and column."""
    try:
        return load_bounded(parked)
    except YamlLimitError as exc:
        raise ConfigError(f"the pod template: {exc}", key=key) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (template line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"invalid YAML in the pod template{where}: {getattr(exc, 'problem', exc)}", key=key) from None


def _pod_of(data: Any, key: str) -> dict[str, Any]:
    """A mapping describing a Pod, with its kind and apiVersion (the seed's samples say `type: Pod`)."""
    if not isinstance(data, dict):
        raise ConfigError("the pod template must be a YAML mapping describing a Pod", key=key)
    kind = data.pop("type", None) or data.get("kind", "Pod")
    if kind != "Pod":
        raise ConfigError(f"the pod template describes a {kind!r}; expected a Pod", key=key)
    data["kind"] = "Pod"
    data.setdefault("apiVersion", "v1")
    return data


def parse_pod_template(text: str, key: str, pvc_name: str | None) -> dict[str, Any]:
    """Template text → pod dict (camelCase keys as in Kubernetes YAML) for ``pod_template_dict``."""
    text = _UNIQUE_NAME.sub(_UNIQUE_MARK, text)
    text = _QUOTED_JINJA.sub(lambda m: m.group(2), text)
    text = _PVC_NAME.sub(_PVC_MARK, text)
    expressions: list[str] = []

    def park(match: re.Match[str]) -> str:
        expressions.append(match.group(0))
        return f"__kaf_jinja_{len(expressions) - 1}__"

    parked = _JINJA.sub(park, text)
    leftover = _LEFTOVER_FSTRING.search(parked)
    if leftover:
        raise ConfigError(f"{leftover.group(0)!r} looks like a Python f-string expression; templates are not "
                          "executed: use Jinja ({{ ... }}) for values Airflow fills in at run time", key=key)
    data = _pod_of(_load_template(parked, key), key)

    def restore(node: Any) -> Any:
        """Values holding Jinja become AirflowTemplate (Airflow renders them); every other string is
        protected as any value of a templated field is (keys are never rendered)."""
        if isinstance(node, dict):
            return {str(restore(k)): restore(v) for k, v in node.items()}
        if isinstance(node, list):
            return [restore(v) for v in node]
        if isinstance(node, str):
            if _PVC_MARK in node and pvc_name is None:
                raise ConfigError("the pod template refers to {self._pvc_name} but run_config.volume is disabled",
                                  key=key)
            jinja = _PVC_MARK in node or "__kaf_jinja_" in node
            node = re.sub(r"__kaf_jinja_(\d+)__", lambda m: expressions[int(m.group(1))],
                          node.replace(_PVC_MARK, pvc_name or ""))
            return ConfigTemplate(node) if jinja else node
        return node

    data = restore(data)
    metadata = data.get("metadata")
    if isinstance(metadata, dict) and metadata.get("name") == _UNIQUE_MARK:
        del metadata["name"]  # the operator names pods uniquely (name + random suffix)
    _check_shape(data, key)
    return data


def _check_shape(data: dict, key: str) -> None:
    spec = data.get("spec", {})
    if spec is not None and not isinstance(spec, dict):
        raise ConfigError("the pod template's spec must be a mapping", key=key)
    containers = (spec or {}).get("containers", [])
    if not isinstance(containers, list) or any(not isinstance(c, dict) for c in containers):
        raise ConfigError("the pod template's spec.containers must be a list of mappings", key=key)


def template_volume_names(data: dict) -> set[str]:
    return {str(v["name"]) for v in (data.get("spec") or {}).get("volumes", []) or []
            if isinstance(v, dict) and v.get("name")}
