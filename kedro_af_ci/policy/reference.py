"""The key references of the documents, generated from the models (``make docs``): the config's in
docs/configuration.md, the deployment's settings in README.md ("Security model"). Here, above both models:
the deployment's settings are policy's, which sits above config (docs/architecture.md, "Layout").

``python -m kedro_af_ci.policy.reference --write README.md docs/configuration.md`` regenerates them;
``--check`` fails when one is stale; with neither, the config table is printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config.reference import END, START, markdown_table, with_reference
from .model import DeploymentPolicy

DEPLOYMENT_START = "<!-- deployment-reference:start -->"
DEPLOYMENT_END = "<!-- deployment-reference:end -->"
COMMAND = "python -m kedro_af_ci.policy.reference --write README.md docs/configuration.md"
DOCUMENTS = ("README.md", "docs/configuration.md")


def deployment_table() -> str:
    """The deployment's settings (the action's ``deployment`` input), from their model."""
    return markdown_table(DeploymentPolicy)


def with_references(text: str) -> str:
    """``text`` with each generated table whose markers it has in place."""
    for start, end, table in ((START, END, markdown_table), (DEPLOYMENT_START, DEPLOYMENT_END, deployment_table)):
        if start in text:
            text = with_reference(text, table(), start, end)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kedro_af_ci.policy.reference", description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, nargs="+", metavar="FILE", help="replace the tables between markers")
    group.add_argument("--check", type=Path, nargs="+", metavar="FILE", help="fail when a table differs")
    args = parser.parse_args(argv)
    paths = args.write or args.check
    if paths is None:
        sys.stdout.write(markdown_table())
        return 0
    stale = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        updated = with_references(text)
        if updated != text:
            stale.append(path)
            if args.write:
                path.write_text(updated, encoding="utf-8")
    if args.check and stale:
        print(f"{', '.join(map(str, stale))}: a key reference is stale; run: {COMMAND}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
