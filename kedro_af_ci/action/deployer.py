"""The trusted deployer's two halves (README, "Security model"; docs/action.md, "Trusted deployer").

``package: true`` runs in a branch's job that holds no secret: the commit's image is built and its pipeline
graph read inside it, and both are written with the config as data (action/package.py). ``deploy-package``
runs in a workflow of the default branch's that holds the preview's credentials: it reads the package as
data (never the branch's checkout), takes the branch and commit from the triggering event (never from the
package), and deploys as a branch's run does: config narrowed to the deployment's settings, the DAG compiled
from the graph and pre-flighted, only then the image pushed (from the archive, without an engine) and the
DAG uploaded and run once. What would need the branch's code in the trusted job is refused.
"""

from __future__ import annotations

import hashlib
import json

from ..errors import BuildError, ConfigError
from ..gitinfo.commit import GitInfo
from ..image.docker import branch_tag, repository_of, tag_of
from . import steps
from .package import FOLDER, IMAGE, read_package, write_package
from .steps import RunContext

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_V1 = "application/vnd.docker.container.image.v1+json"
LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def package_image(ctx: RunContext) -> None:
    """The image to build: the image input, else a local name (the package job pushes nothing)."""
    if not ctx.image:
        ctx.image = f"kedro-af-ci-package:{ctx.git.commit_id[:40] or 'local'}"


def write_branch_package(ctx: RunContext) -> None:
    """The graph read in the image, the image as ``docker save`` writes it, and the config, as data."""
    from ..config.loading import config_files

    assert ctx.docker is not None
    folder = ctx.workspace / FOLDER
    with ctx.reporter.section(f"Package {folder.name}"):
        write_package(folder, project=ctx.project, config_files=config_files(ctx.project, ctx.inputs.env),
                      graph_json=ctx.graph.to_json(), pipeline=ctx.inputs.pipeline, env=ctx.inputs.env)
        ctx.docker.save_to(ctx.image, folder / IMAGE)
    size = (folder / IMAGE).stat().st_size
    ctx.reporter.line(f"Packaged {ctx.image} ({size / 1e6:,.0f} MB) and its pipeline graph in {folder.name}: "
                      "nothing pushed or uploaded; the trusted deploy takes it from here")
    ctx.output("image", ctx.image)


def read_event(ctx: RunContext) -> None:
    """Branch and commit from the triggering event (the workflow's inputs), never from the package; a trusted
    deployer deploys previews only: the default branch deploys in its own workflow."""
    from ..gitinfo.commit import default_branch

    inputs = ctx.inputs
    if not (inputs.branch and inputs.commit):
        raise ConfigError("deploy-package needs the branch and commit of the triggering event (branch: ${{ "
                          "github.event.workflow_run.head_branch }}, commit: ${{ github.event.workflow_run.head_sha "
                          "}})", key="input branch" if not inputs.branch else "input commit")
    main = default_branch(ctx.environ)
    if inputs.branch == main:
        raise ConfigError(f"the trusted deployer deploys previews: {main!r} is the default branch, which deploys "
                          "from its own workflow", key="input branch")
    repository = (ctx.environ.get("GITHUB_REPOSITORY") or ctx.environ.get("CI_PROJECT_PATH") or "").strip() or None
    ctx.git = GitInfo(inputs.commit, inputs.branch, source="ci", repository=repository)
    ctx.summary.commit_id, ctx.summary.branch_name = ctx.git.commit_id, ctx.git.branch_name
    ctx.output("commit-id", ctx.git.commit_id)
    ctx.output("branch-name", ctx.git.branch_name)


def read_branch_package(ctx: RunContext) -> None:
    """The package, checked file by file, and its graph (action/package.py)."""
    from ..errors import GraphError
    from ..graph.model import PipelineGraph

    package = read_package(ctx.workspace / ctx.inputs.deploy_package, pipeline=ctx.inputs.pipeline,
                           env=ctx.inputs.env)
    try:
        ctx.graph = PipelineGraph.read(package.graph)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise GraphError(f"the package's graph.json is not a pipeline graph: {str(exc)[:200]}") from None
    if ctx.graph.pipeline != ctx.inputs.pipeline:
        raise GraphError(f"the package's graph is of pipeline {ctx.graph.pipeline!r}, not {ctx.inputs.pipeline!r}")
    ctx.runner, ctx.docker, ctx.image_runs = None, None, False
    ctx.summary.graph_source = "read from the package a branch's job wrote"


def refuse_branch_files(ctx: RunContext) -> None:
    """Spark on Dataproc or with a custom factory needs the project's files or code in the trusted job."""
    from ..config.spark import ClusterSpark

    spark = ctx.config.run_config.spark
    if isinstance(spark, ClusterSpark):
        raise ConfigError(f"spark.type {spark.type!r} needs the project's files (the archive its cluster runs, or "
                          "a factory's code), which a trusted deployer never reads: use the isolated-previews "
                          "topology for this project, or spark.type kubernetes", key="run_config.spark.type")
    if not ctx.inputs.image:  # never the branch's run_config.image: where the image goes is the deployment's
        raise ConfigError("no image repository to push the package's image to: set the image input", key="input image")


def push_package_image(ctx: RunContext) -> None:
    """The package's image, pushed from its archive under the commit's tag and the branch's (only here,
    after the DAG passed the pre-flight), through the registry's API: nothing of it is run or unpacked."""
    from ..deliver.registry import RegistryRefused
    from ..image.archive import BadArchive, read_archive
    from .code_only import registry_for

    if ctx.inputs.dry_run or not ctx.inputs.push:
        return
    package = ctx.workspace / ctx.inputs.deploy_package
    repository = repository_of(ctx.image)
    registry, name = registry_for(ctx.inputs, repository, "pull,push")
    with ctx.reporter.section(f"Push {ctx.image}"):
        try:
            archive = read_archive(package / IMAGE)
            digest = push_archive(registry, name, archive, [tag_of(ctx.image) or "", branch_tag(ctx.git.branch_name)])
        except BadArchive as exc:
            raise BuildError(f"the package's image is refused: {exc}") from None
        except RegistryRefused as exc:
            raise BuildError(f"pushing the package's image failed: {exc}") from None
    ctx.summary.pushed = True
    ctx.reporter.line(f"Pushed {ctx.image} ({digest[:19]}) from the package, without running or unpacking it")


def push_archive(registry, repository: str, archive, tags: list[str]) -> str:
    """Each layer gzipped and uploaded, then the config, then the manifest under each tag; its digest."""
    from ..image.archive import gzipped_layers

    layers = []
    for data in gzipped_layers(archive):
        digest = _sha(data)
        registry.put_blob(repository, digest, data)
        layers.append({"mediaType": LAYER_GZIP, "size": len(data), "digest": digest})
    registry.put_blob(repository, _sha(archive.config), archive.config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_V2,
                           "config": {"mediaType": CONFIG_V1, "size": len(archive.config),
                                      "digest": _sha(archive.config)},
                           "layers": layers}, separators=(",", ":")).encode()
    for tag in tags:
        registry.put_manifest(repository, tag, MANIFEST_V2, manifest)
    return _sha(manifest)


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


PACKAGE_STEPS = (steps.read_git, steps.read_config, package_image, steps.build_image, steps.extract_graph,
                 write_branch_package)
DEPLOY_STEPS = (read_event, read_branch_package, steps.read_config, steps.check_ci_settings,
                steps.refuse_production_targets, steps.apply_policy, refuse_branch_files, steps.compile_and_verify,
                push_package_image, steps.connect_airflow, steps.link_dag, steps.write_dry_run, steps.upload,
                steps.run_once)

