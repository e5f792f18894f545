"""The parts of the project's code layer that its pipeline graph depends on (docs/action.md,
"Code-only deploys").

The extraction's trace (graph/trace.py) says which modules it imported, which of their functions ran
and which other files it opened. Two code layers give the same graph when they hold the same paths,
the same opened files, and imported modules equal once the bodies of the functions that never ran
are set aside: the extraction executes exactly the same statements in both (a body that never ran
cannot change what runs), reads the same bytes and lists the same folders. Comments and formatting
are not in the syntax tree at all. What it does not see: a function's source read at run time
(``inspect.getsource``) and a file's size or time read without opening it.

The trace comes from the branch's own code; at worst a false one makes the branch's own DAG stale,
which that branch could do by writing its pipeline so.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class LayerFile:
    kind: str  # "file", "dir", "link"
    mode: int
    data: bytes = b""  # a file's content, a link's target
    mtime: int = 0


@dataclass(frozen=True)
class GraphInputs:
    """Which files the graph depends on, and how: read whole, or as a module minus the bodies of
    ``modules[path]``, the functions that never ran."""

    opened: tuple[str, ...]
    modules: dict[str, tuple[str, ...]]

    def to_dict(self) -> dict[str, Any]:
        return {"opened": list(self.opened), "modules": {path: list(names) for path, names in self.modules.items()}}

    @classmethod
    def from_dict(cls, data: object) -> GraphInputs:
        """From the registry (written by an earlier run): a ValueError when malformed."""
        if not isinstance(data, dict) or not isinstance(data.get("opened"), list) \
                or not isinstance(data.get("modules"), dict):
            raise ValueError("graph inputs: expected opened (list) and modules (object)")
        opened = tuple(_strings(data["opened"]))
        modules = {str(path): tuple(_strings(names)) for path, names in data["modules"].items()}
        return cls(opened, modules)

    def digest(self, files: Mapping[str, LayerFile]) -> str | None:
        """One hash of what the extraction depends on in ``files``; None when a module is no longer
        Python this interpreter parses (then nothing is reused)."""
        sha = hashlib.sha256(f"python {sys.version_info[0]}.{sys.version_info[1]}\n".encode())
        listing = sorted((path, f.kind, f.mode, f.data.hex() if f.kind == "link" else "") for path, f in files.items())
        sha.update(json.dumps(listing).encode())
        for path in self.opened:
            found = files.get(path)
            sha.update(f"\nopened {path} {hashlib.sha256(found.data).hexdigest() if found else '-'}".encode())
        for path, uncalled in sorted(self.modules.items()):
            found = files.get(path)
            try:
                shape = _Skeleton(uncalled=set(uncalled)).of(found.data) if found else "-"
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                return None
            sha.update(f"\nmodule {path} {hashlib.sha256(shape.encode()).hexdigest()}".encode())
        return sha.hexdigest()


def record(trace: object, files: Mapping[str, LayerFile]) -> GraphInputs | None:
    """The graph's inputs from an extraction's trace over the layer it ran on; None when the trace is
    malformed, saw something it cannot see into (a process the extraction started, project code that
    replaced its hooks), or a module does not parse (nothing is reused then)."""
    try:
        called, opened, imported = _read_trace(trace)
    except ValueError:
        return None
    if not isinstance(trace, dict) or trace.get("unseen") != []:
        return None
    modules: dict[str, tuple[str, ...]] = {}
    for path in sorted(imported):
        found = files.get(path)
        if found is None or found.kind != "file" or not path.endswith(".py"):
            return None  # a module from outside the code layer, or compiled: not a source this can read
        skeleton = _Skeleton(called_lines={line for where, line in called if where == path})
        try:
            skeleton.of(found.data)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        modules[path] = tuple(skeleton.uncalled)
    return GraphInputs(tuple(sorted(opened - imported)), modules)


def _read_trace(trace: object) -> tuple[set[tuple[str, int]], set[str], set[str]]:
    if not isinstance(trace, dict):
        raise ValueError("trace: not an object")
    called_raw, opened, imported = trace.get("called"), trace.get("opened"), trace.get("imported")
    if not isinstance(called_raw, list) or len(called_raw) > MAX_ENTRIES:
        raise ValueError("trace: called")
    called = set()
    for item in called_raw:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and type(item[1]) is int):
            raise ValueError("trace: called entry")
        called.add((item[0], item[1]))
    return called, set(_strings(opened)), set(_strings(imported))


def _strings(value: object) -> Iterable[str]:
    if not isinstance(value, list) or len(value) > MAX_ENTRIES or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of strings")
    return value


class _Skeleton(ast.NodeTransformer):
    """A module's syntax tree with the bodies of functions that never ran replaced by ``pass``
    (their docstrings kept: a decorator may read them). Functions are named by where they are
    defined (``Class.method``, ``outer.inner``, ``name#2`` for a redefinition), which survives
    edits that move lines. Given ``called_lines``, a function is uncalled when neither its ``def``
    nor its first decorator is a line that ran; given ``uncalled``, by name."""

    def __init__(self, *, called_lines: set[int] | None = None, uncalled: set[str] | None = None):
        self.called_lines, self.wanted = called_lines, uncalled
        self.uncalled: list[str] = []
        self._stack: list[str] = []
        self._seen: Counter[str] = Counter()

    def of(self, source: bytes) -> str:
        return ast.dump(self.visit(ast.parse(source)), include_attributes=False)

    def _name(self, name: str) -> str:
        qualified = ".".join([*self._stack, name])
        self._seen[qualified] += 1
        return qualified if self._seen[qualified] == 1 else f"{qualified}#{self._seen[qualified]}"

    def _ran(self, node: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
        if self.wanted is not None:
            return name not in self.wanted
        lines = {node.lineno, *(d.lineno for d in node.decorator_list)}
        return bool(lines & (self.called_lines or set()))

    def _visit_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        name = self._name(node.name)
        if self._ran(node, name):
            self._stack.append(node.name)
            self.generic_visit(node)
            self._stack.pop()
            return node
        self.uncalled.append(name)
        docstring = node.body[:1] if ast.get_docstring(node, clean=False) is not None else []
        node.body = [*docstring, ast.Pass()]
        return node

    visit_FunctionDef = _visit_def
    visit_AsyncFunctionDef = _visit_def

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self._name(node.name)
        self._stack.append(node.name)
        self.generic_visit(node)
        self._stack.pop()
        return node
