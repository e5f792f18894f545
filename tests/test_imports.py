"""What the import contracts cover, and what no tool checks otherwise (docs/contributing.md, "Checks"):
every module in `.importlinter`'s stages and on its forbidden contracts' lists unless allowed by name, so
a new module is checked by default; and no private name of another distribution imported (a library's
underscored names change without notice between its releases)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

PACKAGE = ROOT / "kedro_af_ci"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))  # __version__ is public


def private_imports(source: str) -> list[str]:
    """``from <another package> import _name`` and ``import <package>._module`` in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                not node.module.startswith(("kedro_af_ci", "__future__")):
            found += [f"{node.module}.{a.name}" for a in node.names if _private(a.name)]
            found += [node.module] if any(_private(part) for part in node.module.split(".")) else []
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names
                      if not a.name.startswith("kedro_af_ci") and any(_private(p) for p in a.name.split(".")[1:])]
    return found


def test_no_private_name_of_another_package_is_imported():
    found = {str(path.relative_to(ROOT)): names for path in sorted(PACKAGE.rglob("*.py"))
             if (names := private_imports(path.read_text(encoding="utf-8")))}
    assert found == {}


def test_the_check_finds_each_form():
    assert private_imports("from requests.auth import _basic_auth_str") == ["requests.auth._basic_auth_str"]
    assert private_imports("from kedro.utils import _find_kedro_project") == ["kedro.utils._find_kedro_project"]
    assert private_imports("from airflow._shared import x") == ["airflow._shared"]
    assert private_imports("import kedro.framework._private") == ["kedro.framework._private"]
    assert private_imports("from .x import _mine\nfrom kedro_af_ci.y import _ours\nfrom kedro import __version__") == []


def _contracts():
    import configparser

    contracts = configparser.ConfigParser()
    contracts.read(ROOT / ".importlinter")
    return contracts


def test_every_file_and_folder_at_the_root_is_in_a_layer():
    """A new module is placed in .importlinter's layers (docs/architecture.md, "Layout"): an unlisted module is
    one the layering contract silently does not check."""
    layers = _contracts()["importlinter:contract:stages"]["layers"]
    listed = {name.removeprefix("kedro_af_ci.") for name in layers.replace("|", " ").replace(":", " ").split()}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert modules | packages == listed


# who may import what the protected contracts guard, and why; no other module may (import-linter's `protected`)
MAY_IMPORT = {
    "kedro": {"graph": "the one reader of a Kedro project", "cli": "the Kedro plugin's commands",
              "kedro_hooks": "the Kedro hook entry point"},
    "http": {"deliver": "the Airflow API, the registry, GitLab's API, the DAGs folder's buckets"},
}


@pytest.mark.parametrize("contract", sorted(MAY_IMPORT))
def test_the_protected_contracts_allow_only_the_modules_named_here(contract):
    allowed = _contracts()[f"importlinter:contract:{contract}"]["allowed_importers"].split()
    assert {name.removeprefix("kedro_af_ci.") for name in allowed} == set(MAY_IMPORT[contract])


def test_a_new_module_is_checked_by_default(tmp_path):
    """The attack on the contracts: a module nobody listed imports Kedro and requests, and two siblings import
    each other; lint-imports refuses all three (before, a new module was in no forbidden contract's list)."""
    import shutil
    import subprocess
    import sys

    package = tmp_path / "kedro_af_ci"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__", "templates"))
    (package / "newcomer.py").write_text("import kedro\nimport requests\n")
    (package / "plan" / "sibling_a.py").write_text("from . import sibling_b\n")
    (package / "plan" / "sibling_b.py").write_text("from . import sibling_a\n")
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--config", str(ROOT / ".importlinter")], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    out = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert "a new module may not BROKEN" in out and out.count("kedro_af_ci.newcomer") >= 2, out[-3000:]
    assert "No cycle between the siblings of any package, at any depth BROKEN" in out and "sibling_" in out
