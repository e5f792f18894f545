"""The trusted deployer on GitLab (docs/action.md, "Trusted deployer on GitLab"; README, "Security model").

GitLab runs a branch's CI file as the branch has it, and a pipeline it triggers in another project runs only
for users who may push there, so nothing a branch's pipeline starts can be trusted to deploy. The trusted half
is a *deployer project* whose pipeline schedule (owned by a maintainer, with protected variables) runs this
mode: it asks GitLab, with a read-only token of the source project, for each branch's newest successful
package job, and deploys each package not deployed yet through the same steps as GitHub's ``deploy-package``.
Branch and commit come from GitLab's answer (the job's ref and commit, which must still be the branch's head),
never from the package; the package is unpacked as data (``unpack_artifacts``) and checked file by file
(action/package.py). DAGs of branches that are gone are deleted.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import traceback
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..deliver.client import AirflowClient
from ..deliver.gitlab import GitLabRefused, PackageJob, SourceProject
from ..errors import ConfigError, KafError, UploadError
from ..image.docker import image_ref, repository_of
from ..plan.model import owner_tag
from ..vocabulary.dag_tags import BRANCH_TAG, COMMIT_TAG, REPOSITORY_TAG
from .ci import Reporter
from .package import FOLDER, LIMITS
from .steps import RunContext, client_for_deployment
from .summary import SummaryData

MAX_ARCHIVE = sum(LIMITS.values()) + 64 * 2**20  # a package's files and the zip's own entries
MAX_MEMBERS = 10_000
# the deployer's protected, masked variable: a read_api token of the source project
TOKEN_VARIABLE = "GITLAB_SOURCE_TOKEN"  # noqa: S105 (its name, not a token)


RunSteps = Callable[[Mapping[str, str], Reporter, SummaryData], None]


class BadArtifacts(Exception):
    """The artifacts archive is not a package's folder; the message says which entry and why."""


@dataclass(frozen=True)
class Outcome:
    job: PackageJob
    ok: bool
    said: str


def deploy_new_packages(ctx: RunContext, run_steps: RunSteps) -> None:
    """Each branch's newest package that is its head and not deployed yet, through ``run_steps`` (deploy-package's
    steps, action/main.py), then the DAGs of gone branches."""
    source = _source(ctx)
    _refuse_source_registry(ctx, source.project)
    try:
        default, heads = source.default_branch(), source.branches()
        jobs = source.package_jobs(ctx.inputs.package_job)
    except GitLabRefused as exc:
        raise UploadError(f"GitLab: {exc}") from None
    if default not in heads:  # a list that lacks it cannot be every branch: pruning by it would delete live DAGs
        raise UploadError(f"GitLab listed no default branch {default!r} among the branches: nothing deployed or pruned")
    client, destination = client_for_deployment(ctx)
    deployed = _deployed(client, source.project)
    todo = [job for job in jobs if job.branch != default and heads.get(job.branch) == job.commit
            and (owner_tag(BRANCH_TAG, job.branch), owner_tag(COMMIT_TAG, job.commit)) not in deployed]
    ctx.summary.packages_found = f"{len(jobs)} branch(es) packaged, {len(todo)} to deploy"
    ctx.reporter.line(f"Packages of {source.project}: {ctx.summary.packages_found}")
    outcomes = [_deploy_one(ctx, source, job, default, run_steps) for job in todo]
    pruned = _prune_gone_branches(ctx, client, destination, source.project, default, set(heads))
    ctx.summary.deleted = f"DAGs of gone branches: {', '.join(pruned)}" if pruned else ""
    ctx.summary.packages = [(o.job.branch, o.job.commit, o.said) for o in outcomes]
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise UploadError(f"{len(failed)} of {len(outcomes)} package(s) not deployed: "
                          + "; ".join(f"{o.job.branch!r}: {o.said}" for o in failed))


def _source(ctx: RunContext) -> SourceProject:
    token, api = ctx.environ.get(TOKEN_VARIABLE, ""), ctx.inputs.gitlab_api or ctx.environ.get("CI_API_V4_URL", "")
    if not token:
        raise ConfigError(f"reading the source project's packages needs {TOKEN_VARIABLE}: a project access token of "
                          f"{ctx.inputs.gitlab_packages_from} with the Reporter role and the read_api scope, as a "
                          "protected, masked variable of the deployer project", key=TOKEN_VARIABLE)
    if not api:
        raise ConfigError("no GitLab API URL: GitLab sets CI_API_V4_URL in every job", key="input gitlab-api")
    ctx.reporter.mask(token)
    try:
        return SourceProject(api, ctx.inputs.gitlab_packages_from, token, insecure=ctx.inputs.insecure)
    except GitLabRefused as exc:
        raise ConfigError(str(exc), key="input gitlab-api") from None


def _refuse_source_registry(ctx: RunContext, project: str) -> None:
    """The previews' images never go to the source project's registry: every branch job's token writes it."""
    if not ctx.inputs.image:
        raise ConfigError("no image repository to push the packages' images to: set the image input (KAF_IMAGE, the "
                          "deployer project's own registry)", key="input image")
    registry = ctx.environ.get("CI_REGISTRY", "").strip().lower()
    source = f"{registry}/{project.lower()}"
    repository = repository_of(image_ref(ctx.inputs.image, "latest")).lower()
    if registry and (repository == source or repository.startswith(source + "/")):
        raise ConfigError(f"{ctx.inputs.image!r} is in {project}'s own registry, which every branch job's token of "
                          f"{project} writes: push the previews to the deployer project's registry "
                          "($CI_REGISTRY_IMAGE/previews)", key="input image")


def _deployed(client: AirflowClient, project: str) -> set[tuple[str, str]]:
    """(branch tag, commit tag) of the source project's DAGs Airflow has: what this deployer uploaded."""
    found = set()
    for dag in client.list_dags(tags=[owner_tag(REPOSITORY_TAG, project)]):
        branch = next((t for t in dag.tags if t.startswith(BRANCH_TAG)), None)
        found |= {(branch, t) for t in dag.tags if branch and t.startswith(COMMIT_TAG)}
    return found


def _deploy_one(ctx: RunContext, source: SourceProject, job: PackageJob, default: str, run_steps: RunSteps
                ) -> Outcome:
    """The package's artifacts unpacked in a folder of its own, then deploy-package's steps with the branch and
    commit GitLab gave; a failure is this package's, reported, and the others still deploy."""
    folder = Path(tempfile.mkdtemp(prefix=f"kaf-package-{job.job_id}-", dir=ctx.workspace))
    summary = SummaryData(ok=False)
    try:
        with ctx.reporter.section(f"Package of {job.branch} at {job.commit[:12]} (job {job.job_id})"):
            archive = folder / "artifacts.zip"
            source.download_artifacts(job.job_id, archive, MAX_ARCHIVE)
            unpack_artifacts(archive, folder / "unpacked")
            archive.unlink()
            run_steps(_package_environ(ctx, source.project, job, default, folder), ctx.reporter, summary)
        return Outcome(job, True, f"deployed as {summary.dag_id}" + (f", run {summary.run_state}"
                                                                      if summary.run_state else ""))
    except (GitLabRefused, BadArtifacts) as exc:
        ctx.reporter.error(f"package of {job.branch!r}: {exc}", title="kedro-airflow-k8s")
        return Outcome(job, False, str(exc))
    except KafError as exc:
        ctx.reporter.error(f"package of {job.branch!r}: {exc}", title="kedro-airflow-k8s")
        return Outcome(job, False, f"exit {exc.exit_code}: {exc}")
    except Exception as exc:  # a bug: said, with its traceback in the log; the other packages still deploy
        traceback.print_exc()
        ctx.reporter.error(f"package of {job.branch!r}: internal error: {type(exc).__name__}: {exc}",
                           title="kedro-airflow-k8s")
        return Outcome(job, False, f"internal error: {type(exc).__name__}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _package_environ(ctx: RunContext, project: str, job: PackageJob, default: str, folder: Path) -> dict[str, str]:
    package = (folder / "unpacked" / FOLDER).relative_to(ctx.workspace).as_posix()
    return {**ctx.environ, "INPUT_GITLAB_PACKAGES_FROM": "", "INPUT_DEPLOY_PACKAGE": package,
            "INPUT_BRANCH": job.branch, "INPUT_COMMIT": job.commit,
            "CI_PROJECT_PATH": project, "CI_DEFAULT_BRANCH": default}  # the source project's, not the deployer's


def unpack_artifacts(archive: Path, destination: Path) -> None:
    """The zip GitLab serves, as data: only regular files and folders under the package's folder, no link, no
    path out of it, at most MAX_MEMBERS entries and MAX_ARCHIVE bytes unpacked (counted as written, not as the
    archive claims). What is unpacked is then checked file by file by read_package."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            if len(members) > MAX_MEMBERS:
                raise BadArtifacts(f"the artifacts hold {len(members)} entries, over {MAX_MEMBERS}")
            written = 0
            for member in members:
                target = destination / _member_path(member)
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                written = _copy_member(zipped, member, target, written)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise BadArtifacts(f"the artifacts are not a readable zip: {exc}") from None
    except OSError as exc:  # an entry twice, or a file where a folder of another entry goes
        raise BadArtifacts(f"the artifacts do not unpack: {type(exc).__name__}: {exc.strerror or exc}") from None


def _member_path(member: zipfile.ZipInfo) -> PurePosixPath:
    name = member.filename
    path = PurePosixPath(name)
    kind = stat.S_IFMT(member.external_attr >> 16)
    if "\\" in name or path.is_absolute() or ".." in path.parts or path.parts[:1] != (FOLDER,):
        raise BadArtifacts(f"entry {name[:120]!r} is not inside {FOLDER}/")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise BadArtifacts(f"entry {name[:120]!r} is not a file or a folder (a link or a device)")
    return path


def _copy_member(zipped: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, written: int) -> int:
    with zipped.open(member) as source, target.open("xb") as out:
        while chunk := source.read(2**20):
            written += len(chunk)
            if written > MAX_ARCHIVE:
                raise BadArtifacts(f"the artifacts unpack to over {MAX_ARCHIVE // 2**20} MiB")
            out.write(chunk)
    return written


def _prune_gone_branches(ctx: RunContext, client: AirflowClient, destination: str, project: str, default: str,
                         branches: set[str]) -> list[str]:
    """The DAGs this deployer made for the source project's branches that are gone (by their tags); those deleted."""
    from ..deliver.delete import DeleteRequest, delete_pipeline
    from ..deliver.prune import stale_dags

    deleted = []
    for stale in stale_dags(client, branches, repository=project):
        request = DeleteRequest(dag_id=stale.dag_id, destination=destination, owner_tags=(),
                                default_branch_tag=owner_tag(BRANCH_TAG, default), any_branch=True)
        try:
            delete_pipeline(client, request)
            ctx.reporter.line(f"Deleted DAG {stale.dag_id!r}: its branch {stale.branch!r} is gone")
            deleted.append(stale.dag_id)
        except KafError as exc:
            ctx.reporter.warning(f"DAG {stale.dag_id!r} of the gone branch {stale.branch!r} not deleted: {exc}")
    return deleted
