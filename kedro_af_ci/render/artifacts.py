"""The files a Spark cluster needs: init script, project archive, one run script per Spark group.

They are uploaded to ``spark.artifacts_path/<dag_id>/<commit>/`` before the DAG, through the same
upload layer (read back and compared), so a DAG never points at artifacts that are not there.
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pathspec

from .. import __version__
from ..errors import ConfigError
from ..gitinfo.source_tree import TreeFile, commit_files, deny_spec
from ..plan.model import DagPlan, SparkPlan
from .templating import environment

ARCHIVE = "project.tar.gz"
INIT_SCRIPT = "init.sh"
# Kept out of the project archive besides the credentials no shipment holds (source_tree.CREDENTIALS);
# spark.archive_exclude adds patterns (gitignore syntax).
ARCHIVE_EXTRA = (
    ".venv*/", "venv/", "env/", "__pycache__/", "*.py[cod]", "data/", "logs/", "mlruns/", "dag/", "dist/", "build/",
    "*.egg-info/", ".ipynb_checkpoints/", "node_modules/",
)


@dataclass(frozen=True)
class Artifacts:
    base_uri: str
    files: dict[str, bytes]  # file name -> content
    packed: tuple[str, ...] = ()  # what the project archive holds (the job summary lists it)

    def uri(self, name: str) -> str:
        return f"{self.base_uri}/{name}"


def project_files(project_path: Path, extra_excludes: tuple[str, ...] = (), commit: str = "HEAD") -> list[TreeFile]:
    """What is shipped of the project: the files of the commit (gitinfo/source_tree.py), or, outside a git
    checkout, the folder's files minus .gitignore's patterns; never a credential, never a symlink."""
    from ..gitinfo.commit import git

    deny = deny_spec((*ARCHIVE_EXTRA, *extra_excludes))
    try:
        top = Path(git(project_path, "rev-parse", "--show-toplevel")).resolve()
    except (OSError, subprocess.SubprocessError):
        return _folder_files(project_path, deny)
    folder = project_path.resolve().relative_to(top).as_posix()
    try:
        found = [f for f in commit_files(top, commit, folder, deny) if not f.symlink]
    except (OSError, subprocess.SubprocessError, tarfile.TarError) as exc:
        raise ConfigError(f"cannot read the files of commit {commit[:12]}: {exc}") from None
    return sorted(found, key=lambda f: f.path)


def _folder_files(project_path: Path, deny) -> list[TreeFile]:
    files = [p.relative_to(project_path).as_posix() for p in project_path.rglob("*")
             if p.is_file() and not p.is_symlink()]
    ignore = project_path / ".gitignore"
    if ignore.is_file():
        spec = pathspec.GitIgnoreSpec.from_lines(ignore.read_text(encoding="utf-8").splitlines())
        files = [f for f in files if not spec.match_file(f)]
    return [TreeFile(f, (project_path / f).read_bytes(), executable=os.access(project_path / f, os.X_OK))
            for f in sorted(files) if not deny.match_file(f)]


def archive_members(project_path: Path, extra_excludes: tuple[str, ...] = (), commit: str = "HEAD") -> list[str]:
    return [f.path for f in project_files(project_path, extra_excludes, commit)]


def project_archive(files: list[TreeFile]) -> bytes:
    """A reproducible tar.gz of ``files`` (sorted, fixed times and owners): same tree, same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for item in files:
            info = tarfile.TarInfo(item.path)
            info.size = len(item.data)
            info.mode = 0o755 if item.executable else 0o644
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            tar.addfile(info, io.BytesIO(item.data))
    return buffer.getvalue()


def _user_script(shipped: dict[str, TreeFile], relative: str | None, key: str) -> str | None:
    """``user_init_path`` / ``user_post_init_path``: relative to the project's ``src`` (seed 3.6), and
    one of the files the archive ships: committed, and not one its rules keep out (a credential)."""
    if not relative:
        return None
    path = posixpath.normpath(posixpath.join("src", relative))
    if path.startswith("../") or path == "..":
        raise ConfigError(f"{relative!r} points outside the project", key=key)
    item = shipped.get(path)
    if item is None:
        raise ConfigError(f"{path} is not a file the project ships: it must be committed, and not one the archive "
                          "rules keep out (credentials, data, spark.archive_exclude)", key=key)
    try:
        return item.data.decode("utf-8").rstrip("\n")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text: {exc.reason}", key=key) from None


def build_artifacts(plan: DagPlan, project_path: Path) -> Artifacts | None:
    """None when the cluster needs nothing uploaded (``spark.type: kubernetes`` runs the image)."""
    spark: SparkPlan | None = plan.spark
    assert spark is not None
    if not spark.artifacts_uri:
        return None
    env = environment()
    shipped = project_files(project_path, spark.archive_exclude, _commit(plan.run.commit_id))
    files: dict[str, bytes] = {ARCHIVE: project_archive(shipped)}
    by_path = {item.path: item for item in shipped}
    init = env.get_template("spark/init.sh.j2").render(
        dag_id=plan.dag.dag_id, version=__version__, commit_id=plan.run.commit_id, project_home=spark.project_home,
        archive_uri=f"{spark.artifacts_uri}/{ARCHIVE}",
        user_init=_user_script(by_path, spark.user_init_path, "run_config.spark.user_init_path"),
        user_init_path=spark.user_init_path,
        user_post_init=_user_script(by_path, spark.user_post_init_path, "run_config.spark.user_post_init_path"),
        user_post_init_path=spark.user_post_init_path,
    )
    files[INIT_SCRIPT] = init.encode("utf-8")
    for job in spark.jobs:
        docstring = (f"Runs Kedro nodes {', '.join(job.nodes)} of pipeline {plan.run.pipeline!r} on the Spark "
                     "cluster.\n\n"
                     f"Generated by kedro-airflow-k8s-action {__version__} for DAG {plan.dag.dag_id!r}, "
                     f"commit {plan.run.commit_id}.\n")
        source = env.get_template("spark/run.py.j2").render(
            docstring=docstring, project_home=spark.project_home,
            kedro_args=[*plan.run.kedro_args, "--nodes", ",".join(job.nodes)])
        compile(source, job.main_uri, "exec", dont_inherit=True)
        files[job.main_uri.rsplit("/", 1)[-1]] = source.encode("utf-8")
    return Artifacts(base_uri=spark.artifacts_uri, files=files, packed=tuple(item.path for item in shipped))


def _commit(commit_id: str) -> str:
    """The DAG's commit; HEAD when git could not name one (the files are then the checkout's HEAD's)."""
    from ..gitinfo.commit import UNKNOWN_COMMIT

    return "HEAD" if commit_id == UNKNOWN_COMMIT else commit_id
