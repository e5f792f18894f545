"""``${name}`` / ``${name|default}`` substitution on parsed YAML scalars, never on the raw text, so a
substituted value (a hostile branch name, say) cannot change the YAML structure."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from ..errors import ConfigError
from ..gitinfo.commit import GitInfo

ENV_PREFIX = "KEDRO_CONFIG_"
GIT_NAMES = ("commit_id", "branch_name")
_VAR = re.compile(r"\$(\$?)\{([^{}]*)\}")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
# config strings that Airflow itself renders with Jinja: a substituted value must stay inert there
_RENDERED_BY_AIRFLOW = re.compile(r"run_config\.(kubernetes_pod_templates\.[^.]+\.template|env_vars\.[^.]+)")


def jinja_literal(value: str) -> str:
    """``{{ "value" }}``: Jinja renders it to ``value``; braces are written as \\u escapes, so the
    expression holds no ``}}`` or ``{%`` that a template reader or Jinja's lexer could take for its end."""
    quoted = json.dumps(value, ensure_ascii=False).replace("{", "\\u007b").replace("}", "\\u007d")
    return "{{ " + quoted + " }}"


class Substitution:
    """Resolves ``${name}`` / ``${name|default}`` from ``KEDRO_CONFIG_<NAME>`` (``commit_id`` and
    ``branch_name`` from git when unset); ``$${...}`` is a literal ``${...}``."""

    def __init__(self, environ: Mapping[str, str], git_info: Callable[[], GitInfo]):
        self.environ = environ
        self._git_info = git_info
        self.used: set[str] = set()

    def lookup(self, name: str) -> str | None:
        value = self.environ.get(ENV_PREFIX + name.upper())
        if value is not None:
            return value
        if name.lower() in GIT_NAMES:
            return getattr(self._git_info(), name.lower())
        return None

    def _unknown_git(self, name: str) -> bool:
        if name.lower() not in GIT_NAMES or ENV_PREFIX + name.upper() in self.environ:
            return False
        source = self._git_info().source
        return source == "none" or (source == "unborn" and name.lower() == "commit_id")

    def _value(self, body: str, key: str) -> str:
        """The value of one ``${body}``."""
        name, has_default, default = body.partition("|")
        name = name.strip()
        if not _VAR_NAME.match(name):
            raise ConfigError(
                f"'${{{body}}}' is not a supported substitution: use ${{name}} or ${{name|default}} "
                f"(value from {ENV_PREFIX}NAME), or $${{...}} for a literal", key=key)
        self.used.add(name)
        value = self.lookup(name)
        if has_default and self._unknown_git(name):  # outside a git checkout: what the config asks for
            value = None
        if value is None and not has_default:
            raise ConfigError(f"'${{{name}}}' is not set: export {ENV_PREFIX}{name.upper()} or give a default "
                              f"as ${{{name}|default}}", key=key)
        return default if value is None else value

    def _replace(self, match: re.Match[str], key: str, jinja: bool) -> str:
        escaped, body = match.group(1), match.group(2)
        if escaped:
            return "${" + body + "}"
        value = self._value(body, key)
        return jinja_literal(value) if jinja else value

    def apply(self, text: str, key: str, jinja: bool = False) -> str:
        """``jinja``: the text is a template Airflow renders (a pod template), so each value goes in
        as a Jinja string literal, which renders to exactly the value whatever braces it holds."""
        return _VAR.sub(partial(self._replace, key=key, jinja=jinja), text)

    def walk(self, node: Any, path: str = "") -> Any:
        """``node`` with every string substituted; ``path`` is its dotted key, for errors."""
        if isinstance(node, dict):
            return {k: self.walk(v, f"{path}.{k}" if path else str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return [self.walk(v, f"{path}.{i}") for i, v in enumerate(node)]
        if isinstance(node, str) and "${" in node:
            return self.apply(node, path, jinja=bool(_RENDERED_BY_AIRFLOW.fullmatch(path)))
        return node
