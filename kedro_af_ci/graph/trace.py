"""What the graph extraction ran and read inside the project folder (docs/action.md, "Code-only
deploys"): the functions it called, the files it opened and the modules it imported. A later commit
whose changes touch none of these (a function body that never ran, a file never opened) gives the
same graph, so the action can reuse it without running the image.

It runs where the extraction runs (the project image) and records only paths inside the project.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any


@dataclass
class Trace:
    called: set[tuple[str, int]] = field(default_factory=set)  # (path, first line of the code object)
    opened: set[str] = field(default_factory=set)
    imported: set[str] = field(default_factory=set)
    # [path, mode, uid, gid] of the project folder and each folder above it: who owns them in the built image,
    # which a code-only image's new layer must say again (image/code_layer.py, with_folders)
    folders: list[list[Any]] = field(default_factory=list)
    # what ran that the hooks cannot see into: a process it started, or project code that replaced the hooks
    unseen: set[str] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        return {"called": sorted([path, line] for path, line in self.called), "opened": sorted(self.opened),
                "imported": sorted(self.imported), "folders": self.folders, "unseen": sorted(self.unseen)}


# audit events of a new process or program: what it runs and reads is outside this trace
SPAWNS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
          "pty.spawn")


def _folders(root: Path) -> list[list[Any]]:
    found = []
    for folder in (root, *root.parents):
        if folder == folder.parent:
            break
        status = folder.stat()
        found.append([str(folder), stat.S_IMODE(status.st_mode), status.st_uid, status.st_gid])
    return found


def _inside(prefix: str, path: object) -> str | None:
    """``path`` relative to the folder ``prefix`` names (with its separator), or None outside it."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str):
        return None
    full = os.path.abspath(path)
    return full[len(prefix):].replace(os.sep, "/") if full.startswith(prefix) else None


def _imported_under(prefix: str) -> set[str]:
    """The files of the modules imported now that live under ``prefix``."""
    found = set()
    for module in list(sys.modules.values()):
        relative = _inside(prefix, getattr(module, "__file__", None))
        if relative is not None and os.path.isfile(prefix + relative):
            found.add(relative)
    return found


@contextlib.contextmanager
def recording(root: Path) -> Iterator[Trace]:
    """Record calls (a profile hook), opens (an audit hook) and imports under ``root``, relative to it."""
    trace, prefix, active = Trace(folders=_folders(root.resolve())), str(root.resolve()) + os.sep, [True]
    inside = functools.partial(_inside, prefix)

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            code = frame.f_code
            if code.co_filename.startswith(prefix):
                trace.called.add((inside(code.co_filename) or "", code.co_firstlineno))

    def audit(event: str, args: tuple[Any, ...]) -> None:
        if not active[0]:
            return
        if event == "open" and args:
            relative = inside(args[0])
            if relative is not None:
                trace.opened.add(relative)
        elif event in SPAWNS:
            trace.unseen.add(f"a process ({event})")

    sys.addaudithook(audit)  # cannot be removed: it goes quiet when the recording ends
    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        yield trace
    finally:
        if sys.getprofile() is not profile:
            trace.unseen.add("the profile hook was replaced")
        sys.setprofile(None)
        threading.setprofile(None)
        active[0] = False
        trace.imported |= _imported_under(prefix)
        trace.opened = {path for path in trace.opened if os.path.isfile(prefix + path)}  # not a path hook's name
