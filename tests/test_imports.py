"""What the import contracts cover, and what no tool checks otherwise (docs/contributing.md, "Checks"):
every module in `.importlinter`'s stages and on its forbidden contracts' lists unless allowed by name, so
a new module is checked by default; and no private name of another distribution imported (a library's
underscored names change without notice between its releases)."""

from __future__ import annotations

import ast

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


# modules outside the stages on purpose: they run where the package's layering does not reach
OUTSIDE_THE_STAGES = {
    "kedro_hooks": "a Kedro hook entry point, loaded by Kedro inside the project",
    "mlflow_run": "copied into the DAG and run in the project image (standard library and mlflow only)",
}


def test_every_module_is_in_the_stages_contract():
    """A new module is placed in .importlinter's layers (docs/architecture.md, "Layout"), or named above
    with the reason: an unlisted module is one the layering contract silently does not check."""
    import configparser

    contracts = configparser.ConfigParser()
    contracts.read(ROOT / ".importlinter")
    layers = contracts["importlinter:contract:stages"]["layers"]
    listed = {name.removeprefix("kedro_af_ci.") for name in layers.replace("|", " ").replace(":", " ").split()}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert (modules | packages) - listed - set(OUTSIDE_THE_STAGES) == set()
    assert set(OUTSIDE_THE_STAGES) & listed == set()


# who may import what the forbidden contracts guard; every other module is on their lists
MAY_IMPORT = {
    "kedro": {"graph": "the one reader of a Kedro project", "cli": "the Kedro plugin's commands",
              "kedro_hooks": "the Kedro hook entry point"},
    "http": {"deliver": "the Airflow API, the registry, the DAGs folder's buckets"},
}


@pytest.mark.parametrize("contract", sorted(MAY_IMPORT))
def test_the_forbidden_contracts_list_every_module_but_those_allowed(contract):
    """A new module is forbidden Kedro and HTTP unless named above with why (issue 36: the contracts
    listed the modules they checked, so a new one went unchecked)."""
    import configparser

    contracts = configparser.ConfigParser()
    contracts.read(ROOT / ".importlinter")
    listed = {name.removeprefix("kedro_af_ci.")
              for name in contracts[f"importlinter:contract:{contract}"]["source_modules"].split()}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert (modules | packages) - listed == set(MAY_IMPORT[contract])
