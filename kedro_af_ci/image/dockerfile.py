"""Whether a Dockerfile's last layer is the project's code, and what the layers under it are built
from (docs/action.md, "Code-only deploys").

A code-only deploy replaces the top layer of the branch's previous image by a new copy of the
project: sound only when that layer is a plain ``COPY . <dest>`` of the build context, after which
the Dockerfile only sets image settings, and when everything below it was built from the same inputs
(the Dockerfile, the build arguments, ``.dockerignore`` and the files earlier ``COPY``s read). This is
deliberately narrow: anything else (a ``RUN`` after the copy, a wildcard, a second stage, ``ADD``
of a URL, a heredoc) is answered with the reason, and the action builds the image as usual.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

LAYER_STEPS = {"RUN", "COPY", "ADD"}
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_IDS = re.compile(r"\d+(?::\d+)?\Z")


@dataclass(frozen=True)
class CodeCopy:
    """The last layer: the build context copied to ``dest`` (absolute), owned by ``chown`` ("" for root)."""

    dest: str
    chown: str
    inputs: str  # hash of what the layers under it were built from


class NotCodeOnly(Exception):
    """Why the top layer is not (provably) the project's code alone."""


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continuation lines joined."""
    if re.match(r"\s*#\s*(escape|syntax)\s*=", text, re.IGNORECASE):
        raise NotCodeOnly("the Dockerfile sets a parser directive (escape or syntax)")
    found, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        if whole:
            word, _, rest = whole.partition(" ")
            found.append((word.upper(), rest.strip()))
    if pending.strip():
        word, _, rest = pending.strip().partition(" ")
        found.append((word.upper(), rest.strip()))
    return found


def code_copy(dockerfile: bytes, context: Path, build_args: list[str]) -> CodeCopy:
    """The Dockerfile's code layer, or NotCodeOnly saying why not."""
    try:
        steps = instructions(dockerfile.decode())
    except UnicodeDecodeError:
        raise NotCodeOnly("the Dockerfile is not UTF-8") from None
    if [word for word, _ in steps].count("FROM") != 1:
        raise NotCodeOnly("the Dockerfile has more than one stage")
    if any("<<" in rest for word, rest in steps if word in LAYER_STEPS):
        raise NotCodeOnly("the Dockerfile uses a heredoc")
    layers = [i for i, (word, _) in enumerate(steps) if word in LAYER_STEPS]
    if not layers or steps[layers[-1]][0] != "COPY":
        raise NotCodeOnly("the Dockerfile's last layer is not a COPY (a RUN after the copy of the code, for example)")
    if any(word == "ONBUILD" for word, _ in steps):
        raise NotCodeOnly("the Dockerfile has ONBUILD")
    last = layers[-1]
    variables = _arguments(steps[:last], build_args)
    flags, sources, dest = _copy_parts(steps[last][1])
    if sources != ["."]:
        raise NotCodeOnly(f"the last COPY copies {' '.join(sources)}, not the whole build context (.)")
    chown = _substitute(flags.pop("--chown", ""), variables)
    if flags:
        raise NotCodeOnly(f"the last COPY has {', '.join(sorted(flags))}")
    if chown and not _IDS.match(chown):
        raise NotCodeOnly(f"the last COPY's --chown {chown!r} is not numeric ids")
    target = posixpath.normpath(posixpath.join(_workdir(steps[:last]), dest))
    return CodeCopy(target, chown, _inputs(dockerfile, context, build_args, steps[:last]))


def _copy_parts(arguments: str) -> tuple[dict[str, str], list[str], str]:
    if arguments.startswith("["):
        raise NotCodeOnly("the last COPY is in JSON form")
    words = shlex.split(arguments, posix=True)
    flags = {w.partition("=")[0]: w.partition("=")[2] for w in words if w.startswith("--")}
    paths = [w for w in words if not w.startswith("--")]
    if len(paths) < 2:
        raise NotCodeOnly("the last COPY names no destination")
    return flags, paths[:-1], paths[-1]


def _arguments(steps: list[tuple[str, str]], build_args: list[str]) -> dict[str, str]:
    given = dict(a.split("=", 1) for a in build_args if "=" in a)
    values: dict[str, str] = {}
    for word, rest in steps:
        if word == "ARG":
            name, _, default = rest.partition("=")
            values[name.strip()] = given.get(name.strip(), default.strip().strip('"'))
    return values


def _substitute(text: str, variables: dict[str, str]) -> str:
    """``text`` with the ARGs before it; a variable no ARG gives a value (an ENV, a multi-name ARG, an ARG
    without default nor build argument) is refused: Docker would read it where this cannot, and the code-only
    image would then own its code differently from the built one."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if not variables.get(name):
            raise NotCodeOnly(f"the last COPY's --chown uses ${name}, which no single-name ARG before it gives a "
                              "value (set it by ARG NAME=default, or write the ids)")
        return variables[name]

    return _VARIABLE.sub(value, text)


def _workdir(steps: list[tuple[str, str]]) -> str:
    current = "/"
    for word, rest in steps:
        if word == "WORKDIR":
            if "$" in rest:
                raise NotCodeOnly("a WORKDIR uses a variable")
            current = posixpath.join(current, rest.strip().strip('"'))
    return current


def _inputs(dockerfile: bytes, context: Path, build_args: list[str], steps: list[tuple[str, str]]) -> str:
    """Hash of the Dockerfile, the build arguments, .dockerignore and every file the earlier COPYs read."""
    sha = hashlib.sha256(dockerfile)
    sha.update(repr(sorted(build_args)).encode())
    for source in [".dockerignore", *_earlier_sources(steps)]:
        sha.update(f"\n{source}\n".encode())
        for path in _files_under(context, source):
            sha.update(f"{path.relative_to(context).as_posix()} {path.lstat().st_mode:o}\n".encode())
            sha.update(hashlib.sha256(_content(path)).digest())
    return sha.hexdigest()


def _earlier_sources(steps: list[tuple[str, str]]) -> list[str]:
    sources = []
    for word, rest in steps:
        if word not in ("COPY", "ADD"):
            continue
        flags, paths, _ = _copy_parts(rest)
        if "--from" in flags:
            raise NotCodeOnly("an earlier COPY reads another image (--from)")
        for path in paths:
            if "://" in path or any(c in path for c in "*?[$") or posixpath.normpath(path) in (".", "/"):
                raise NotCodeOnly(f"an earlier {word} reads {path!r}, not a named file or folder")
            sources.append(posixpath.normpath(path).lstrip("/"))
    return sources


def _files_under(context: Path, source: str) -> list[Path]:
    """The files under ``source``, links included as links (never followed out of the context)."""
    if ".." in Path(source).parts:
        raise NotCodeOnly(f"{source!r} is outside the build context")
    path = context / source
    if path.is_symlink() or path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_symlink() or p.is_file()) if path.is_dir() else []


def _content(path: Path) -> bytes:
    return os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
