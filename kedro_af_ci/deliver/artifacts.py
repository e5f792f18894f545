"""The files a Spark cluster needs: init script, project archive, one run script per Spark group.

They are uploaded to ``spark.artifacts_path/<dag_id>/<commit>/`` before the DAG, through the same
upload layer (read back and compared), so a DAG never points at artifacts that are not there.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pathspec

from .. import __version__
from ..errors import ConfigError
from ..plan.model import DagPlan, SparkPlan
from ..templating import environment

ARCHIVE = "project.tar.gz"
INIT_SCRIPT = "init.sh"
# Never shipped to the cluster, whatever the project tracks (gitignore syntax); spark.archive_exclude
# adds patterns. Credentials first: what CI auth steps, SDKs and users leave in a workspace.
DENY = (
    "conf/local/", "conf/**/*credentials*", "*credentials*.json", ".env", ".env.*", "*.pem", "*.key", "*.p12",
    "*.pfx", "*.keytab", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "gha-creds-*.json",
    "*service-account*.json", "*service_account*.json", ".docker/", ".netrc", ".pypirc", ".npmrc", ".aws/",
    ".kube/", ".config/gcloud/", ".ssh/",
    ".git/", ".venv*/", "venv/", "env/", "__pycache__/", "*.py[cod]", "data/", "logs/", "mlruns/", "dag/",
    "dist/", "build/", "*.egg-info/", ".ipynb_checkpoints/", "node_modules/",
)


@dataclass(frozen=True)
class Artifacts:
    base_uri: str
    files: dict[str, bytes]  # file name -> content
    packed: tuple[str, ...] = ()  # what the project archive holds (the job summary lists it)

    def uri(self, name: str) -> str:
        return f"{self.base_uri}/{name}"


def _candidates(project_path: Path) -> list[str]:
    """The files a branch meant to ship: those git tracks (so .gitignore holds), else the files of
    the folder with .gitignore's patterns applied."""
    from ..gitinfo import tracked_files

    tracked = tracked_files(project_path)
    if tracked is not None:
        return sorted(tracked)
    files = [p.relative_to(project_path).as_posix() for p in project_path.rglob("*") if p.is_file()]
    ignore = project_path / ".gitignore"
    if ignore.is_file():
        spec = pathspec.GitIgnoreSpec.from_lines(ignore.read_text(encoding="utf-8").splitlines())
        files = [f for f in files if not spec.match_file(f)]
    return sorted(files)


def archive_members(project_path: Path, extra_excludes: tuple[str, ...] = ()) -> list[str]:
    deny = pathspec.GitIgnoreSpec.from_lines([*DENY, *extra_excludes])
    members = []
    for relative in _candidates(project_path):
        path = project_path / relative
        if deny.match_file(relative) or path.is_symlink() or not path.is_file():
            continue
        members.append(relative)
    return members


def project_archive(project_path: Path, members: list[str]) -> bytes:
    """A reproducible tar.gz of ``members`` (sorted, fixed times and owners): same tree, same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for relative in members:
            path = project_path / relative
            info = tarfile.TarInfo(relative)
            info.size = path.stat().st_size
            info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    return buffer.getvalue()


def _user_script(project_path: Path, relative: str | None, key: str) -> str | None:
    """``user_init_path`` / ``user_post_init_path``: relative to the project's ``src`` (seed 3.6)."""
    if not relative:
        return None
    path = (project_path / "src" / relative).resolve()
    if not path.is_relative_to(project_path.resolve()):
        raise ConfigError(f"{relative!r} points outside the project", key=key)
    try:
        return path.read_text(encoding="utf-8").rstrip("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", key=key) from None


def build_artifacts(plan: DagPlan, project_path: Path) -> Artifacts | None:
    """None when the cluster needs nothing uploaded (``spark.type: kubernetes`` runs the image)."""
    spark: SparkPlan | None = plan.spark
    assert spark is not None
    if not spark.artifacts_uri:
        return None
    env = environment()
    members = archive_members(project_path, spark.archive_exclude)
    files: dict[str, bytes] = {ARCHIVE: project_archive(project_path, members)}
    init = env.get_template("spark/init.sh.j2").render(
        dag_id=plan.dag_id, version=__version__, commit_id=plan.commit_id, project_home=spark.project_home,
        archive_uri=f"{spark.artifacts_uri}/{ARCHIVE}",
        user_init=_user_script(project_path, spark.user_init_path, "run_config.spark.user_init_path"),
        user_init_path=spark.user_init_path,
        user_post_init=_user_script(project_path, spark.user_post_init_path, "run_config.spark.user_post_init_path"),
        user_post_init_path=spark.user_post_init_path,
    )
    files[INIT_SCRIPT] = init.encode("utf-8")
    for job in spark.jobs:
        docstring = (f"Runs Kedro nodes {', '.join(job.nodes)} of pipeline {plan.pipeline!r} on the Spark cluster.\n\n"
                     f"Generated by kedro-airflow-k8s-action {__version__} for DAG {plan.dag_id!r}, "
                     f"commit {plan.commit_id}.\n")
        source = env.get_template("spark/run.py.j2").render(
            docstring=docstring, project_home=spark.project_home,
            kedro_args=[*plan.kedro_args, "--nodes", ",".join(job.nodes)])
        compile(source, job.main_uri, "exec", dont_inherit=True)
        files[job.main_uri.rsplit("/", 1)[-1]] = source.encode("utf-8")
    return Artifacts(base_uri=spark.artifacts_uri, files=files, packed=tuple(members))
