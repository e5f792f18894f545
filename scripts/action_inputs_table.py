"""Print docs/action.md's inputs/outputs tables from action.yml (tests check the README against it)."""

from pathlib import Path

import yaml

meta = yaml.safe_load((Path(__file__).resolve().parents[1] / "action.yml").read_text())
print("| input | default | description |\n|---|---|---|")
for name, spec in meta["inputs"].items():
    default = str(spec.get("default", ""))
    print(f"| `{name}` | {f'`{default}`' if default else ''} | {spec['description']} |")
print("\n| output | description |\n|---|---|")
for name, spec in meta["outputs"].items():
    print(f"| `{name}` | {spec['description']} |")
