"""The steps of the project image: build (or a code-only image, action/code_only.py), the graph read in it, push."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import BuildError, ConfigError, GraphError
from ...image.docker import Docker, branch_tag, registry_of, repository_of

if TYPE_CHECKING:
    from ...image.isolated import Runner
    from ..code_only import CodeLayerPlan, CodeOnlyImage, CodeOnlyRun, CodeState


from .context import RunContext

log = logging.getLogger("kedro_af_ci")


def build_image(ctx: RunContext) -> None:
    """Build the project image, labelled with its commit. Without a build, an existing image may
    still host the graph extraction (when an engine answers and nodes run in containers)."""
    ctx.docker = docker = Docker.find()
    if docker is not None:
        docker.quarantine = ctx.reporter.untrusted
    if not ctx.inputs.build:
        ctx.image_runs = (bool(ctx.image) and docker is not None and ctx.config.run_config.execution != "local"
                          and docker.available())
        return
    if not ctx.image:
        raise ConfigError("no image to build: set the image input or run_config.image", key="input image")
    if docker is None or not docker.available():
        raise BuildError("cannot build: no Docker engine is reachable (mount /var/run/docker.sock, or set "
                         "build: false to use an existing image)")
    inputs = ctx.inputs
    with ctx.reporter.section(f"Build {ctx.image}"), _build_context(ctx) as (context, dockerfile):
        deploying = inputs.push and not (inputs.dry_run or inputs.package)  # the layer cache serves runs that push
        if deploying and _code_only(ctx, docker, context, dockerfile):
            ctx.image_runs = False  # made in the registry at push: never on this engine
            return
        buildkit = deploying and docker.buildkit()
        cached = _layer_cache(ctx, docker, buildkit) if deploying else []
        # BuildKit writes the cache metadata into the image, so the next build reads it from the registry
        inline = ["BUILDKIT_INLINE_CACHE=1"] if buildkit else []
        docker.build(ctx.image, context=str(context), dockerfile=str(dockerfile),
                     build_args=[*inline, *inputs.build_args], network=inputs.build_network, cache_from=cached,
                     labels={"org.opencontainers.image.revision": ctx.git.commit_id,
                             "org.opencontainers.image.ref.name": ctx.git.branch_name[:128]})
    ctx.summary.built = ctx.image_runs = True
    ctx.summary.cache_from = cached


def _code_only(ctx: RunContext, docker: Docker, context: Path, dockerfile: Path) -> bool:
    """True when the image is made in the registry instead (action/code_only.py): nothing to build."""
    from ..code_only import prepare

    ctx.code = prepare(_code_only_run(ctx), docker, context, dockerfile)
    return ctx.code is not None and ctx.code.image is not None


def _code_only_run(ctx: RunContext) -> CodeOnlyRun:
    """What code-only deploys need of this run, as values (action/code_only.py never sees the context)."""
    from ...config.spark import ClusterSpark
    from ...gitinfo.commit import default_branch
    from ..code_only import CodeOnlyRun

    def decided(text: str) -> None:
        ctx.summary.code_only = text
        ctx.reporter.line(f"Code-only deploy: {text}")

    spark = ctx.config.run_config.spark
    return CodeOnlyRun(ctx.inputs, ctx.image, ctx.git, default_branch(ctx.environ), ctx.config.run_config.project_path,
                       custom_factory=isinstance(spark, ClusterSpark) and spark.operator_factory is not None,
                       log=ctx.reporter.line, decided=decided)


def _layer_cache(ctx: RunContext, docker: Docker, buildkit: bool) -> list[str]:
    """The images whose layers the build may reuse, where the registry has them: a runner starts with an empty
    engine. BuildKit reads their layers from the registry by --cache-from (the inline cache metadata), only
    those the build reuses; the classic builder reuses only layers it holds, so there they are pulled first,
    whole. A branch takes its latest image and the default branch's; the default branch only the image its own
    authenticated record names (action/records.py), never a tag a branch's job could have written."""
    _login(ctx, docker)
    found = [ref for ref in _cache_candidates(ctx) if (docker.in_registry(ref) if buildkit else docker.pull(ref))]
    how = "read from the registry by BuildKit" if buildkit else "pulled for the classic builder"
    ctx.reporter.line(f"Layer cache: {', '.join(found) + f' ({how})' if found else 'none yet (a cold build)'}")
    return found


def _cache_candidates(ctx: RunContext) -> list[str]:
    from ...gitinfo.commit import default_branch
    from ..records import Readers

    readers = Readers(ctx.git.branch_name, default_branch(ctx.environ), ctx.inputs.record_key)
    repository = repository_of(ctx.image)
    if not readers.production:
        return list(dict.fromkeys(f"{repository}:{branch_tag(b)}" for b in (readers.branch, readers.default_branch)))
    cache = ctx.code.cache if ctx.code is not None else None
    if cache is None:
        ctx.reporter.line("Layer cache: the default branch takes none from the registry but the image its own "
                          "authenticated record names (record-key), and it has none")
        return []
    return [f"{repository}@{cache}"]


def _login(ctx: RunContext, docker: Docker) -> None:
    """Log in to the registry once, with the password on stdin (docker.login)."""
    inputs = ctx.inputs
    if inputs.registry_username and inputs.registry_password and not ctx.logged_in:
        docker.login(inputs.registry or registry_of(ctx.image), inputs.registry_username, inputs.registry_password)
        ctx.logged_in = True


@contextlib.contextmanager
def _build_context(ctx: RunContext) -> Iterator[tuple[Path, Path]]:
    """The build context and Dockerfile as the commit holds them, in a temporary folder, minus
    credential files: never the workspace, where CI steps leave tokens (gitinfo/source_tree.py)."""
    from ...gitinfo.source_tree import commit_blob, export_commit
    from ...guards.trust import in_ci

    inputs, project = ctx.inputs, ctx.project
    context = (project / inputs.build_context).resolve() if inputs.build_context else project
    dockerfile = (project / inputs.dockerfile).resolve()
    checkout = ctx.workspace.resolve() if (ctx.workspace / ".git").is_dir() else None
    if checkout is None:
        if in_ci(ctx.environ):
            raise BuildError(f"the project image is built from the commit, and {ctx.workspace} is no git checkout: "
                             "check the repository out into the workspace first")
        log.warning("%s is no git checkout: the image is built from the folder as it is", ctx.workspace)
        yield context, dockerfile
        return
    commit = ctx.git.commit_id
    with tempfile.TemporaryDirectory(prefix="kaf-build-") as folder:
        root = Path(folder)
        export_commit(checkout, commit, _inside(checkout, context, "input build-context"), root / "context")
        text = commit_blob(checkout, commit, _inside(checkout, dockerfile, "input dockerfile"))
        if text is None:
            raise BuildError(f"{dockerfile.relative_to(checkout)} is not in commit {commit[:12]}: the image is built "
                             "from the commit, so commit the Dockerfile")
        (root / "Dockerfile").write_bytes(text)
        yield root / "context", root / "Dockerfile"


def _inside(checkout: Path, path: Path, key: str) -> str:
    if not path.is_relative_to(checkout):
        raise ConfigError(f"{path} is outside the repository {checkout}", key=key)
    return path.relative_to(checkout).as_posix()


def extract_graph(ctx: RunContext) -> None:
    """Read the pipeline graph where the project's code may run, never in this process (it holds
    the secrets)."""
    from ...image.graph_in_image import extract_traced, extract_with

    code = ctx.code
    if code is not None and code.image is not None:
        ctx.runner, ctx.graph = None, code.image.graph
        ctx.summary.graph_source = f"reused from {code.image.previous} (code-only deploy)"
        ctx.reporter.line(f"Pipeline graph: {ctx.summary.graph_source}")
        return
    with ctx.reporter.section("Pipeline graph"):
        ctx.runner = runner = _runner(ctx)
        ctx.reporter.line(f"Extracting the pipeline graph in {runner.where}")
        if code is not None:  # what it runs and reads is recorded for the next code-only deploy
            ctx.graph, ctx.trace = extract_traced(runner, ctx.inputs.pipeline, ctx.inputs.env)
        else:
            ctx.graph = extract_with(runner, ctx.inputs.pipeline, ctx.inputs.env)
        ctx.summary.graph_source = f"extracted in {runner.where}"


def _runner(ctx: RunContext) -> Runner:
    """Where the project's code runs: in the project image, else (opt-in) a cleaned child process."""
    from ...image.isolated import ChildRunner, ImageRunner

    if ctx.image_runs and ctx.docker is not None:  # image_runs says the engine is there
        return ImageRunner(ctx.docker, ctx.image, ctx.config.run_config.project_path)
    if not ctx.inputs.extract_without_docker:
        raise GraphError("no project image to read the pipeline graph in (no Docker engine, or execution local): "
                         "the project's code never runs in the action's process, which holds the secrets. "
                         "Mount the Docker socket (with build: true, or an existing image), or set "
                         "extract-without-docker: true if you trust the code of every branch")
    return ChildRunner(ctx.project)




def push_image(ctx: RunContext) -> None:
    """Push the built image: only here, after its DAG passed the pre-flight, and never on a dry run."""
    inputs, docker = ctx.inputs, ctx.docker
    if not (inputs.build and inputs.push and not inputs.dry_run) or docker is None:
        return
    code = ctx.code
    with ctx.reporter.section(f"Push {ctx.image}"):
        if code is not None and code.image is not None:
            _push_code_only(ctx, code.plan, code.image)
        else:
            _login(ctx, docker)
            docker.push(ctx.image)
            latest = f"{repository_of(ctx.image)}:{branch_tag(ctx.git.branch_name)}"  # the branch's next build
            docker.tag(ctx.image, latest)
            docker.push(latest)
            if code is not None and ctx.trace is not None:
                _record_build(ctx, code)
    ctx.summary.pushed = True


def _push_code_only(ctx: RunContext, plan: CodeLayerPlan, image: CodeOnlyImage) -> None:
    from ...deliver.registry import RegistryRefused
    from ..code_only import push

    try:
        push(_code_only_run(ctx), plan, image)
    except RegistryRefused as exc:
        raise BuildError(f"pushing the code-only image to the registry failed: {exc}") from None
    ctx.reporter.line(f"Pushed {ctx.image}: the layers of {image.previous} and a new code layer "
                      f"({len(image.layer.gzipped) / 1e3:,.0f} kB)")


def _record_build(ctx: RunContext, code: CodeState) -> None:
    """The record the branch's next code-only deploy starts from; without it that deploy builds."""
    from ...deliver.registry import RegistryRefused
    from ..code_only import record_build

    try:
        record_build(_code_only_run(ctx), code.plan, ctx.trace, ctx.graph)
    except RegistryRefused as exc:
        ctx.reporter.warning(f"no code-only record for the next deploy (the registry: {exc}): it will build")




