"""The trusted deployer's package (README, "Security model"; docs/action.md, "Trusted deployer").

A branch's job that holds no credential builds the project image and reads the pipeline graph in it, and
writes them as *data*: the image as ``docker save`` writes it, the graph as JSON, and the branch's
``airflow-k8s.yaml`` files with the project's ``pyproject.toml``. A workflow that runs the default branch's
file and holds the preview's credentials reads that folder and nothing else of the branch: every file is
checked against the list below (names, kinds, sizes) before any is read, the image is pushed from the
archive without an engine (image/archive.py), and the DAG is compiled from the graph under the deployment's
settings. Nothing in a package runs outside the project image.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import ConfigError

FOLDER = "kedro-airflow-k8s-package"  # in the workspace; the workflows upload and download it as an artifact
FORMAT = 1
META, GRAPH, IMAGE, PROJECT = "package.json", "graph.json", "image.tar", "project"
LIMITS = {META: 2**16, GRAPH: 64 * 2**20, IMAGE: 16 * 2**30, "config": 2**20, "pyproject": 2**20}
_CONFIG = re.compile(r"project/conf/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}/airflow-k8s\.ya?ml")
KEY = "input deploy-package"


@dataclass(frozen=True)
class Package:
    folder: Path
    pipeline: str
    env: str | None

    @property
    def project(self) -> Path:
        return self.folder / PROJECT

    @property
    def graph(self) -> Path:
        return self.folder / GRAPH

    @property
    def image(self) -> Path:
        return self.folder / IMAGE


def write_package(folder: Path, *, project: Path, config_files: list[Path], graph_json: str, pipeline: str,
                  env: str | None) -> None:
    """The package of the untrusted job (the image archive is written into it by ``docker save``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PROJECT).mkdir(exist_ok=True)
    shutil.copyfile(project / "pyproject.toml", folder / PROJECT / "pyproject.toml")
    for path in config_files:
        target = folder / PROJECT / path.relative_to(project)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    (folder / GRAPH).write_text(graph_json, encoding="utf-8")
    (folder / META).write_text(json.dumps({"format": FORMAT, "pipeline": pipeline, "env": env, "tool": __version__}),
                               encoding="utf-8")


def read_package(folder: Path, *, pipeline: str, env: str | None) -> Package:
    """The package, once every file in it is one of the expected ones, within its size, and it is the package
    of the pipeline and environment this deploy was asked for (ConfigError naming what is wrong)."""
    if not folder.is_dir() or folder.is_symlink():
        raise ConfigError(f"{folder} is not a folder: download the package artifact there first", key=KEY)
    for path in _every_entry(folder):
        _check_entry(folder, path)
    for name in (META, GRAPH, IMAGE, f"{PROJECT}/pyproject.toml"):
        if not (folder / name).is_file():
            raise ConfigError(f"the package has no {name}: it was not written by the package job", key=KEY)
    meta = _meta(folder / META)
    if (meta.get("pipeline"), meta.get("env")) != (pipeline, env):
        raise ConfigError(f"the package holds pipeline {meta.get('pipeline')!r} of env {meta.get('env')!r}, and this "
                          f"deploy is of pipeline {pipeline!r}, env {env!r}: give both jobs the same inputs", key=KEY)
    return Package(folder, pipeline, env)


def _every_entry(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        found += [Path(root) / name for name in (*dirs, *files)]
        if len(found) > 1000:
            raise ConfigError("the package holds over 1000 files: it was not written by the package job", key=KEY)
    return found


def _check_entry(folder: Path, path: Path) -> None:
    """A folder on the way to an expected file, or an expected file within its size; nothing else."""
    relative = path.relative_to(folder).as_posix()
    mode = path.lstat().st_mode
    if stat.S_ISDIR(mode) and any(expected.startswith(relative + "/") for expected in _expected_prefixes(relative)):
        return
    limit = _limit(relative)
    if limit is None or not stat.S_ISREG(mode):
        raise ConfigError(f"the package holds {relative!r}, which no package job writes (only the image, the graph, "
                          "the config and pyproject.toml, as plain files): refused", key=KEY)
    if path.lstat().st_size > limit:
        raise ConfigError(f"the package's {relative} is over {limit:,} bytes: refused", key=KEY)


def _expected_prefixes(relative: str) -> list[str]:
    """The expected files a folder at ``relative`` may lead to."""
    if relative == PROJECT:
        return [f"{PROJECT}/pyproject.toml"]
    if relative == f"{PROJECT}/conf":
        return [f"{PROJECT}/conf/x/"]
    if _CONFIG.fullmatch(relative + "/airflow-k8s.yaml"):
        return [relative + "/airflow-k8s.yaml"]
    return []


def _limit(relative: str) -> int | None:
    if relative in (META, GRAPH, IMAGE):
        return LIMITS[relative]
    if relative == f"{PROJECT}/pyproject.toml":
        return LIMITS["pyproject"]
    return LIMITS["config"] if _CONFIG.fullmatch(relative) else None


def _meta(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{META} is not a package description of format {FORMAT}", key=KEY)
    return data
