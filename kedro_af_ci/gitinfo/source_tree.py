"""The files of a commit, as git holds them: what the project image is built from and what is shipped
to a Spark cluster (docs/architecture.md, "Trust").

A CI workspace holds more than the commit: the cloud auth step's ``gha-creds-*.json``, the token
checkout keeps in ``.git/config``, whatever earlier steps wrote. A branch that drops its
``.dockerignore`` would ship all of it. So nothing is read from the workspace: the files come from
the commit's own tree (``git archive``, through the hardened git runner), minus :data:`CREDENTIALS`.
The same commit gives the same files, byte for byte and with the same times, on every runner.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pathspec

from ..errors import BuildError

# Never shipped, whatever a commit holds (gitignore syntax, any depth): what CI auth steps, SDKs and
# users leave in a project. The Spark archive keeps out more (render/artifacts.py).
CREDENTIALS = (
    "**/conf/local/", "**/conf/**/*credentials*", "*credentials*.json", ".env", ".env.*", "*.pem", "*.key",
    "*.p12", "*.pfx", "*.keytab", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "gha-creds-*.json",
    "*service-account*.json", "*service_account*.json", ".docker/", ".netrc", ".pypirc", ".npmrc", ".aws/",
    ".kube/", ".config/gcloud/", ".ssh/", ".git/",
)


@dataclass(frozen=True)
class TreeFile:
    path: str  # relative to the exported folder, POSIX
    data: bytes  # the content; for a symlink, its target
    executable: bool = False
    symlink: bool = False
    mtime: int = 0  # the commit's time, as git archive gives it


def deny_spec(extra: tuple[str, ...] = ()) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines([*CREDENTIALS, *extra])


def commit_files(checkout: Path, commit: str, folder: str = "", deny: pathspec.GitIgnoreSpec | None = None
                 ) -> Iterator[TreeFile]:
    """The files of ``commit`` under ``folder`` (relative to the checkout's root), streamed from
    ``git archive``; submodules and denied paths left out."""
    from .commit import git_process

    deny = deny or deny_spec()
    tree = f"{commit}:{folder.strip('/')}" if folder.strip("/") not in ("", ".") else commit
    with git_process(checkout, "archive", "--format=tar", tree, checkout=checkout) as process:
        assert process.stdout is not None
        with tarfile.open(fileobj=process.stdout, mode="r|") as archive:
            for member in archive:
                path = _safe_path(member.name)
                if path is None or member.isdir() or deny.match_file(path):
                    continue
                if member.issym():
                    yield TreeFile(path, member.linkname.encode(), symlink=True, mtime=int(member.mtime))
                elif member.isfile():
                    handle = archive.extractfile(member)
                    assert handle is not None
                    yield TreeFile(path, handle.read(), executable=bool(member.mode & 0o111), mtime=int(member.mtime))


def _safe_path(name: str) -> str | None:
    parts = PurePosixPath(name).parts
    if not parts or PurePosixPath(name).is_absolute() or ".." in parts:
        return None
    return PurePosixPath(*parts).as_posix()


def export_commit(checkout: Path, commit: str, folder: str, destination: Path) -> int:
    """Write the commit's files under ``folder`` into ``destination`` (an empty folder); the count."""
    count = 0
    destination.mkdir(parents=True, exist_ok=True)
    try:
        for item in commit_files(checkout, commit, folder):
            target = destination / item.path
            target.parent.mkdir(parents=True, exist_ok=True)
            if item.symlink:
                os.symlink(item.data.decode(), target)  # docker copies links as links: nothing outside is read
            else:
                target.write_bytes(item.data)
                target.chmod(0o755 if item.executable else 0o644)
            os.utime(target, (item.mtime, item.mtime), follow_symlinks=False)  # same commit, same files
            count += 1
    except (OSError, subprocess.SubprocessError, tarfile.TarError) as exc:
        raise BuildError(f"cannot read the files of commit {commit[:12]} under {folder or '.'}: {exc}") from None
    return count


def commit_blob(checkout: Path, commit: str, path: str) -> bytes | None:
    """One file of the commit (``path`` from the checkout's root), or None when the commit has none."""
    from .commit import git_bytes

    with contextlib.suppress(subprocess.CalledProcessError):
        return git_bytes(checkout, "cat-file", "blob", f"{commit}:{path}", checkout=checkout)
    return None
