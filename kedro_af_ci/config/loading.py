"""Reading the config: find the files, merge env over base, substitute, validate, say what is wrong where."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from ..gitinfo.commit import GitInfo, read_git_info
from ..guards.bounded_yaml import YamlLimitError, load_bounded
from .messages import summarize
from .run import PluginConfig
from .substitution import Substitution

CONFIG_FILENAMES = ("airflow-k8s.yaml", "airflow-k8s.yml")
Layers = list[tuple[Path, dict]]


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason})", file=str(path)) from None
    try:
        data = load_bounded(text)
    except YamlLimitError as exc:
        raise ConfigError(str(exc), file=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"YAML syntax error: {problem}", file=where) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, found {type(data).__name__}", file=str(path))
    return data


def config_files(project_path: Path, env: str | None, conf_source: str = "conf",
                 base_env: str = "base") -> list[Path]:
    """The config files that apply, base first."""
    root = project_path / conf_source
    found = []
    for env_name in dict.fromkeys([base_env, env or "local"]):
        for filename in CONFIG_FILENAMES:
            candidate = root / env_name / filename
            if candidate.is_file():
                found.append(candidate)
                break
    return found


def _check_env_folder(conf: Path, env: str | None) -> None:
    """An environment asked for by name must exist: Kedro would otherwise run (and this tool compile)
    from base alone. Kedro's default environment, ``local``, is usually not committed."""
    if env and env != "local" and conf.is_dir() and not (conf / env).is_dir():
        found = sorted(p.name for p in conf.iterdir() if p.is_dir())
        raise ConfigError(f"Kedro environment {env!r} has no folder {conf.name}/{env} (found: {', '.join(found)}); "
                          "create it or pass one of these with -e/--env", file=str(conf))


def _required_files(project_path: Path, env: str | None, conf_source: str) -> list[Path]:
    """The config files, or an error saying what is missing: the project or its config."""
    _check_env_folder(project_path / conf_source, env)
    files = config_files(project_path, env, conf_source)
    if files:
        return files
    if not (project_path / "pyproject.toml").is_file():
        raise ConfigError(f"{project_path.resolve()} is not a Kedro project (no pyproject.toml): run from the "
                          "project's folder or pass --project-path")
    folders = f"{conf_source}/base" + (f" or {conf_source}/{env}" if env else "")
    raise ConfigError(f"no {CONFIG_FILENAMES[0]} in {folders}: create one with `kedro airflow-k8s init HOST`",
                      file=str(project_path / conf_source))


def _merged(layers: Layers, overrides: dict[str, Any] | None) -> dict:
    merged: dict = {}
    for _, layer in layers:
        merged = _deep_merge(merged, layer)
    return _deep_merge(merged, overrides) if overrides else merged


def _has_key(layer: dict, parts: list[str]) -> bool:
    node: Any = layer
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _origin(layers: Layers, key: str) -> str:
    """The file a dotted key comes from: the last layer that sets it (else the last file)."""
    parts = key.split(".") if key else []
    return str(next((path for path, layer in reversed(layers) if _has_key(layer, parts)), layers[-1][0]))


def _git_once(project_path: Path, environ: Mapping[str, str], known: GitInfo | None) -> Callable[[], GitInfo]:
    """Git facts, read on first use only (a config without ``${commit_id}`` never runs git)."""
    cached: list[GitInfo] = [known] if known else []

    def git() -> GitInfo:
        if not cached:
            cached.append(read_git_info(project_path, environ))
        return cached[0]

    return git


def load_config(
    project_path: str | Path,
    env: str | None = None,
    *,
    conf_source: str = "conf",
    environ: Mapping[str, str] | None = None,
    git_info: GitInfo | None = None,
    overrides: dict[str, Any] | None = None,
) -> PluginConfig:
    """Read, merge (env over base), substitute and validate the plugin config of a project."""
    project_path = Path(project_path)
    environ = os.environ if environ is None else environ
    layers = [(path, _read_yaml(path)) for path in _required_files(project_path, env, conf_source)]
    substitution = Substitution(environ, _git_once(project_path, environ, git_info))
    try:
        resolved = substitution.walk(_merged(layers, overrides))
    except ConfigError as exc:
        raise ConfigError(exc.message, file=_origin(layers, exc.key or ""), key=exc.key) from None
    try:
        return PluginConfig.model_validate(resolved)
    except ValidationError as exc:
        key, message = summarize(PluginConfig, exc)
        raise ConfigError(message, file=_origin(layers, key), key=key or None) from None
