"""A Kedro project's identity from its pyproject.toml, without importing Kedro (CLI and action alike)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import PluginConfig


def project_identity(project_path: Path) -> dict[str, str]:
    """package_name/project_name from pyproject.toml's [tool.kedro], without importing Kedro."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    pyproject = project_path / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("kedro", {})
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the Kedro project metadata: {exc}", file=str(pyproject)) from None
    if "package_name" not in data:
        raise ConfigError("[tool.kedro] package_name is missing: is this a Kedro project?", file=str(pyproject))
    return {"package_name": data["package_name"], "project_name": data.get("project_name", data["package_name"])}


def project_dag_id(config: PluginConfig, project_path: Path) -> str:
    """The DAG id a compile of this project gives (its run name, else experiment, else package), without
    reading the pipeline: what delete-pipeline and the action's delete need."""
    from ..plan.model import run_name_of
    from ..vocabulary.k8s_names import dag_id_of

    rc = config.run_config
    return dag_id_of(run_name_of(rc.run_name, rc.experiment_name, project_identity(project_path)["package_name"]))
