"""The package's import graph in figures (issue "A root with a shape"; docs/architecture.md, "Layout"): how many
files and folders sit at the root, how many imports run between them, which run against the stages' order
(the layers contract of .importlinter, read from it), and which siblings import each other in a cycle, at
any depth. `python scripts/import_graph.py`."""

from __future__ import annotations

import configparser
import itertools
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "kedro_af_ci"


def layers() -> list[list[str]]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter")
    rows = [line.strip() for line in parser["importlinter:contract:stages"]["layers"].splitlines() if line.strip()]
    return [[name.strip() for name in row.replace(":", "|").split("|")] for row in rows]


def unit(module: str, depth: int = 1) -> str:
    return ".".join(module.split(".")[:depth + 1])


def main() -> None:
    graph = grimp.build_graph(PACKAGE)
    modules = [m for m in graph.modules if m.startswith(PACKAGE + ".")]
    units = sorted({unit(m) for m in modules})
    edges: set[tuple[str, str]] = set()
    for importer in modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            if imported.startswith(PACKAGE + ".") and unit(importer) != unit(imported):
                edges.add((unit(importer), unit(imported)))
    rank = {name: index for index, row in enumerate(layers()) for name in row}
    against = sorted((a, b) for a, b in edges if a in rank and b in rank and rank[a] > rank[b])
    unlayered = sorted(u for u in units if u not in rank)
    print(f"root: {len(units)} files and folders ({sum(1 for u in units if not graph.find_children(u))} modules)")
    print(f"imports between them: {len(edges)}")
    print(f"against the stages' order: {len(against)}" + "".join(f"\n  {a} -> {b}" for a, b in against))
    print(f"in no layer: {len(unlayered)}" + "".join(f"\n  {u}" for u in unlayered))
    cycles = sibling_cycles(graph, modules)
    print(f"sibling cycles: {len(cycles)}" + "".join(f"\n  {' <-> '.join(c)}" for c in cycles))


def sibling_cycles(graph: grimp.ImportGraph, modules: list[str]) -> list[tuple[str, ...]]:
    """Pairs of siblings (children of one package) each of which imports the other, directly or not."""
    found = []
    parents = {m.rsplit(".", 1)[0] for m in modules} | {PACKAGE}
    for parent in sorted(parents):
        children = sorted(graph.find_children(parent)) if parent in graph.modules else []
        for a, b in itertools.combinations(children, 2):
            there = graph.find_shortest_chains(importer=a, imported=b, as_packages=True)
            back = graph.find_shortest_chains(importer=b, imported=a, as_packages=True)
            if there and back:
                found.append((a, b))
    return found


if __name__ == "__main__":
    main()
