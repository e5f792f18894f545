"""Code-only deploys (docs/action.md, "Code-only deploys"): when a commit changes only the project's
code, and none of what the pipeline graph was read from, the image is made in the registry from the
branch's previous one with its top layer replaced, and the graph is the previous one. Nothing is
built on top of the dependencies and nothing is pulled, so a runner with an empty engine deploys in
seconds whatever the size of the dependency layer.

Each deploy that can serve a later one leaves a record beside its image (action/records.py): the tag
``kaf-graph-<branch>`` holds the image's digest, the graph, what the graph depends on
(image/graph_inputs.py), the hash of what the layers under the code were built from
(image/dockerfile.py) and who owns the project folder. The default branch reads back only a record
authenticated with its record key. Any doubt means the usual build, with the reason in the log and summary.
"""

from __future__ import annotations

import hashlib
import json
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..image.docker import branch_tag, registry_of, repository_of, tag_of
from .records import EMPTY, EMPTY_DIGEST, Readers, encode_record, read_record, tag_record, upload_record

if TYPE_CHECKING:
    from ..deliver.registry import Registry
    from ..graph.model import PipelineGraph
    from ..image.assemble import Assembled
    from ..image.code_layer import CodeLayer
    from ..image.dockerfile import CodeCopy
    from ..image.graph_inputs import GraphInputs
    from .inputs import ActionInputs
    from .records import EncodedRecord
    from .steps import RunContext

RECORD_VERSION = 2  # 2: the record says who owns the project folder, and the image a build takes its cache from


class NoCodeOnly(Exception):
    """Why this deploy builds the image as usual."""


@dataclass
class CodeState:
    """The code layer of this commit, and what a code-only deploy adds to it."""

    copy: CodeCopy
    layer: CodeLayer
    registry: Registry
    repository: str  # the name in the registry (no host)
    assembled: Assembled | None = None  # code-only: the new image
    graph: PipelineGraph | None = None  # code-only: the previous graph
    inputs: GraphInputs | None = None  # what the graph depends on (from the record, or recorded now)
    previous: str = ""  # code-only: the image whose layers are reused
    record: EncodedRecord | None = None  # code-only: this deploy's record
    uploads: Future | None = None  # code-only: the blobs, going up while the pre-flight runs
    cache: str | None = None  # the default branch: the layer cache its own authenticated record names
    folders: list | None = None  # code-only: the project folder and those above it, from the record


def registry_for(inputs: ActionInputs, repository: str, actions: str) -> tuple[Registry, str]:
    """A client of ``repository``'s registry with the action's login, and the repository's name there."""
    from ..deliver.registry import Registry

    host = registry_of(repository)
    name = repository.removeprefix(f"{host}/")
    if host == "docker.io":  # Docker Hub's API host, and its implicit library/ namespace
        host, name = "registry-1.docker.io", name if "/" in name else f"library/{name}"
    registry = Registry(inputs.registry or host, inputs.registry_username, inputs.registry_password, actions=actions)
    return registry, name


def prepare(ctx: RunContext, docker: Any, context: Path, dockerfile: Path) -> CodeState | None:
    """This commit's code layer (None when the Dockerfile's top layer is not the code alone), and, when a
    record allows, the code-only image; what was decided goes to the log."""
    from ..errors import BuildError
    from ..image.code_layer import make_code_layer
    from ..image.dockerfile import NotCodeOnly, code_copy

    try:
        if tag_of(ctx.image) is None:
            raise NotCodeOnly(f"the image {ctx.image} has no tag to push to")
        copy = code_copy(dockerfile.read_bytes(), context, list(ctx.inputs.build_args))
        if copy.dest != ctx.config.run_config.project_path.rstrip("/"):
            raise NotCodeOnly(f"the code goes to {copy.dest}, not run_config.project_path "
                              f"{ctx.config.run_config.project_path}")
    except NotCodeOnly as exc:
        _say(ctx, f"no ({exc})")
        return None
    registry, name = registry_for(ctx.inputs, repository_of(ctx.image), "pull,push")
    try:
        state = CodeState(copy, make_code_layer(docker, context, copy), registry, name)
    except BuildError as exc:
        _say(ctx, f"no (the code layer could not be made: {exc})")
        return None
    try:
        _reuse(ctx, state)
    except NoCodeOnly as exc:
        _say(ctx, f"no ({exc})")
    return state


def _say(ctx: RunContext, text: str) -> None:
    ctx.summary.code_only = text
    ctx.reporter.line(f"Code-only deploy: {text}")


def _reuse(ctx: RunContext, state: CodeState) -> None:
    """Find a record this commit matches, and make the image from it (NoCodeOnly says why not)."""
    from ..deliver.registry import RegistryRefused
    from ..graph.model import PipelineGraph
    from ..image.code_layer import folders_of, with_folders
    from ..image.graph_inputs import GraphInputs

    if _custom_factory(ctx):
        raise NoCodeOnly("a custom Spark operator factory runs in the project image")
    try:
        previous, record = _matching_record(ctx, state)
        inputs = GraphInputs.from_dict(record.get("graph_inputs"))
        if inputs.digest(state.layer.files) != record.get("graph_digest"):
            raise NoCodeOnly(f"the change can alter the pipeline graph (it touches code the graph extraction ran, "
                             f"a file it read, or the list of files) since {previous}")
        state.graph, state.inputs = PipelineGraph.from_dict(record["graph"]), inputs
        state.folders = record["folders"]
        state.layer = with_folders(state.layer, folders_of(record["folders"], state.copy.dest),
                                   _newest(state.layer))
        state.assembled, state.previous = _assemble(ctx, state, record["image"]), previous
        state.uploads = _upload_early(ctx, state)
    except RegistryRefused as exc:
        raise NoCodeOnly(f"the registry: {exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise NoCodeOnly(f"the record is not readable: {exc}") from None
    _say(ctx, f"yes: the top layer of {previous} replaced by this commit's code; its pipeline graph reused")


def _custom_factory(ctx: RunContext) -> bool:
    from ..config.spark import ClusterSpark

    spark = ctx.config.run_config.spark
    return isinstance(spark, ClusterSpark) and spark.operator_factory is not None


def readers_of(ctx: RunContext) -> Readers:
    from ..gitinfo import default_branch

    return Readers(ctx.git.branch_name, default_branch(ctx.environ), ctx.inputs.record_key)


def _matching_record(ctx: RunContext, state: CodeState) -> tuple[str, dict]:
    """The branch's record, else the default branch's, when it was made the way this run would make one; the
    default branch's deploy takes only its own record, authenticated by its key (action/records.py)."""
    readers = readers_of(ctx)
    if readers.production and not readers.key:
        raise NoCodeOnly("the default branch reads back no record without record-key (a branch's job could have "
                         "written it): set the record-key input from a secret of the production environment")
    why = "no record yet (the first deploy of this branch and its default branch)"
    for branch in readers.branches:
        record = read_record(state.registry, state.repository, branch, readers.key)
        if record is None:
            continue
        refused = readers.refusal(record)
        if refused:
            why = refused
            continue
        mismatch = _mismatch(ctx, state, record.data)
        if readers.production or not mismatch:  # production's own last image is its layer cache, matched or not
            state.cache = _digest(record.data.get("cache"))
        if not mismatch:
            return f"{repository_of(ctx.image)}:{branch_tag(branch)}", record.data
        why = mismatch
    raise NoCodeOnly(why)


def _digest(value: object) -> str | None:
    return value if isinstance(value, str) and len(value) == 71 and value.startswith("sha256:") else None


def _mismatch(ctx: RunContext, state: CodeState, record: dict) -> str:
    expected = _identity(ctx, state.copy)
    if record.get("inputs") != expected["inputs"]:
        return "what the layers under the code are built from changed (Dockerfile, build arguments, .dockerignore " \
               "or a file an earlier COPY reads)"
    differ = [key for key, value in expected.items() if record.get(key) != value]
    return f"the record was made with another {', '.join(differ)}" if differ else ""


def _identity(ctx: RunContext, copy: CodeCopy) -> dict[str, Any]:
    """What a record must share with this run to be reused."""
    return {"version": RECORD_VERSION, "tool": __version__, "python": list(sys.version_info[:2]),
            "inputs": copy.inputs, "dest": copy.dest, "pipeline": ctx.inputs.pipeline, "env": ctx.inputs.env}


def _assemble(ctx: RunContext, state: CodeState, image_digest: str) -> Assembled:
    from ..image.assemble import NotAssemblable, replace_code_layer

    found = state.registry.manifest(state.repository, image_digest)
    if found is None:
        raise NoCodeOnly(f"the record's image {image_digest[:19]} is gone from the registry")
    manifest = json.loads(found[0])
    config = json.loads(state.registry.blob(state.repository, manifest["config"]["digest"]))
    chown = f"--chown={state.copy.chown} " if state.copy.chown else ""
    try:
        return replace_code_layer(manifest, config, state.layer, labels=_labels(ctx),
                                  created_by=f"COPY {chown}. {state.copy.dest} # kedro-af-ci code-only deploy",
                                  created=_created(state.layer))
    except NotAssemblable as exc:
        raise NoCodeOnly(str(exc)) from None


def _labels(ctx: RunContext) -> dict[str, str]:
    return {"org.opencontainers.image.revision": ctx.git.commit_id,
            "org.opencontainers.image.ref.name": ctx.git.branch_name[:128]}


def _newest(layer: CodeLayer) -> int:
    """The newest file time of the code (the commit's), so the same commit gives the same layer and config."""
    return max((0, *(f.mtime for f in layer.files.values())))


def _created(layer: CodeLayer) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(_newest(layer), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _upload_early(ctx: RunContext, state: CodeState) -> Future:
    """The layer, the config and the record go up while the DAG is compiled and checked: blobs no tag
    names are no image (nothing can pull them by name, and a registry's garbage collection removes
    them), so nothing is published before the pre-flight passed; the tags are written after it (push)."""
    assembled = state.assembled
    assert assembled is not None and state.graph is not None and state.inputs is not None
    image = "sha256:" + hashlib.sha256(assembled.manifest).hexdigest()
    # a code-only image holds no build cache (assemble.py): its record names the cache of the image it was made from
    state.record = _record(ctx, state, image, state.graph, state.inputs, state.folders, cache=state.cache)
    config = json.loads(assembled.manifest)["config"]["digest"]
    blobs = [(state.layer.digest, state.layer.gzipped), (config, assembled.config),
             (state.record.digest, state.record.blob), (EMPTY_DIGEST, EMPTY)]

    def upload() -> None:
        for digest, data in blobs:
            state.registry.put_blob(state.repository, digest, data)

    pool = ThreadPoolExecutor(1, thread_name_prefix="kaf-upload")
    future = pool.submit(upload)
    pool.shutdown(wait=False)  # push waits for it; a failed pre-flight leaves unreferenced blobs only
    return future


def push(ctx: RunContext, state: CodeState) -> None:
    """The code-only image under the commit's tag and the branch's, then its record."""
    assembled = state.assembled
    assert assembled is not None and state.uploads is not None and state.record is not None
    state.uploads.result()  # the blobs (a RegistryRefused from the upload comes out here)
    state.registry.restart_clock()  # the pre-flight ran since the lookup
    for tag in (tag_of(ctx.image) or "", branch_tag(ctx.git.branch_name)):
        state.registry.put_manifest(state.repository, tag, assembled.media_type, assembled.manifest)
    tag_record(state.registry, state.repository, ctx.git.branch_name, state.record)


def record_build(ctx: RunContext, state: CodeState, trace: object) -> None:
    """After a usual build and push: the record a later code-only deploy starts from; without it that deploy
    builds."""
    from ..image.code_layer import folders_of
    from ..image.graph_inputs import record

    inputs = record(trace, state.layer.files)
    if inputs is None or not inputs.modules:
        unseen = ", ".join(trace.get("unseen") or []) if isinstance(trace, dict) else ""
        ctx.reporter.line("Code-only deploys: no record (the extraction's trace was not usable, saw no module of the "
                          f"project imported, or could not see into what ran{': ' + unseen if unseen else ''})")
        return
    folders = trace.get("folders") if isinstance(trace, dict) else None
    try:
        folders_of(folders, state.copy.dest)
    except ValueError as exc:
        ctx.reporter.line(f"Code-only deploys: no record (the extraction did not say who owns the project: {exc})")
        return
    state.registry.restart_clock()  # the build ran since the lookup
    found = state.registry.manifest(state.repository, tag_of(ctx.image) or "")
    if found is None:
        ctx.reporter.line("Code-only deploys: no record (the pushed image is not in the registry)")
        return
    encoded = _record(ctx, state, found[2], ctx.graph, inputs, folders, cache=found[2])
    upload_record(state.registry, state.repository, encoded)
    tag_record(state.registry, state.repository, ctx.git.branch_name, encoded)


def _record(ctx: RunContext, state: CodeState, image: str, graph: PipelineGraph, inputs: GraphInputs,
            folders: list | None, *, cache: str | None) -> EncodedRecord:
    """The record of this deploy, authenticated when this run holds the record key."""
    record = {**_identity(ctx, state.copy), "branch": ctx.git.branch_name, "commit": ctx.git.commit_id,
              "image": image, "cache": cache, "folders": folders, "graph": json.loads(graph.to_json()),
              "graph_inputs": inputs.to_dict(), "graph_digest": inputs.digest(state.layer.files)}
    return encode_record(record, state.repository, ctx.git.branch_name, ctx.inputs.record_key)
