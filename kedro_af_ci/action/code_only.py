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
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..image.docker import branch_tag, registry_of, repository_of, tag_of
from .records import EMPTY, EMPTY_DIGEST, Readers, encode_record, read_record, tag_record, upload_record

if TYPE_CHECKING:
    from ..deliver.registry import Registry
    from ..gitinfo.commit import GitInfo
    from ..graph.model import PipelineGraph
    from ..image.assemble import Assembled
    from ..image.code_layer import CodeLayer
    from ..image.dockerfile import CodeCopy
    from ..image.graph_inputs import GraphInputs
    from .inputs import ActionInputs
    from .records import EncodedRecord

RECORD_VERSION = 2  # 2: the record says who owns the project folder, and the image a build takes its cache from


class NoCodeOnly(Exception):
    """Why this deploy builds the image as usual."""


@dataclass(frozen=True)
class CodeOnlyRun:
    """What code-only deploys need of the run, as values: the run's context stays the steps' (action/steps/image.py
    makes this from it), so this module never reaches back into them."""

    inputs: ActionInputs
    image: str
    git: GitInfo
    default_branch: str
    project_path: str  # run_config.project_path: where the code must go
    custom_factory: bool  # a custom Spark operator factory runs in the project image
    log: Callable[[str], None]
    decided: Callable[[str], None]  # whether the deploy is code-only, or why not (the log and the summary)

    @property
    def readers(self) -> Readers:
        return Readers(self.git.branch_name, self.default_branch, self.inputs.record_key)


@dataclass(frozen=True)
class CodeLayerPlan:
    """Every deploy whose Dockerfile's top layer is the code alone: this commit's code layer, and the registry
    its records live in."""

    copy: CodeCopy
    layer: CodeLayer
    registry: Registry
    repository: str  # the name in the registry (no host)


@dataclass(frozen=True)
class CodeOnlyImage:
    """A code-only deploy: the image made in the registry from a matching record, its blobs going up."""

    layer: CodeLayer  # the code layer, with entries for the project folder and those above it
    assembled: Assembled
    graph: PipelineGraph  # the previous deploy's
    previous: str  # the image whose layers are reused
    record: EncodedRecord  # this deploy's
    uploads: Future[None]  # the blobs, going up while the pre-flight runs


@dataclass(frozen=True)
class CodeState:
    """What build_image decided: the code layer, production's layer cache, and the code-only image if any."""

    plan: CodeLayerPlan
    cache: str | None = None  # the default branch: the layer cache its own authenticated record names
    image: CodeOnlyImage | None = None


def registry_for(inputs: ActionInputs, repository: str, actions: str) -> tuple[Registry, str]:
    """A client of ``repository``'s registry with the action's login, and the repository's name there."""
    from ..deliver.registry import Registry

    host = registry_of(repository)
    name = repository.removeprefix(f"{host}/")
    if host == "docker.io":  # Docker Hub's API host, and its implicit library/ namespace
        host, name = "registry-1.docker.io", name if "/" in name else f"library/{name}"
    registry = Registry(inputs.registry or host, inputs.registry_username, inputs.registry_password, actions=actions)
    return registry, name


def prepare(run: CodeOnlyRun, docker: Any, context: Path, dockerfile: Path) -> CodeState | None:
    """This commit's code layer (None when the Dockerfile's top layer is not the code alone), and, when a
    record allows, the code-only image; what was decided goes to the log."""
    from ..errors import BuildError
    from ..image.code_layer import make_code_layer
    from ..image.dockerfile import NotCodeOnly, code_copy

    try:
        if tag_of(run.image) is None:
            raise NotCodeOnly(f"the image {run.image} has no tag to push to")
        copy = code_copy(dockerfile.read_bytes(), context, list(run.inputs.build_args))
        if copy.dest != run.project_path.rstrip("/"):
            raise NotCodeOnly(f"the code goes to {copy.dest}, not run_config.project_path {run.project_path}")
    except NotCodeOnly as exc:
        run.decided(f"no ({exc})")
        return None
    registry, name = registry_for(run.inputs, repository_of(run.image), "pull,push")
    try:
        plan = CodeLayerPlan(copy, make_code_layer(docker, context, copy), registry, name)
    except BuildError as exc:
        run.decided(f"no (the code layer could not be made: {exc})")
        return None
    cache = production_cache(run, plan)
    try:
        image = _reuse(run, plan)
    except NoCodeOnly as exc:
        run.decided(f"no ({exc})")
        return CodeState(plan, cache)
    run.decided(f"yes: the top layer of {image.previous} replaced by this commit's code; its pipeline graph reused")
    return CodeState(plan, cache, image)


def _reuse(run: CodeOnlyRun, plan: CodeLayerPlan) -> CodeOnlyImage:
    """The image made from a record this commit matches (NoCodeOnly says why not)."""
    from ..deliver.registry import RegistryRefused
    from ..graph.model import PipelineGraph
    from ..image.code_layer import folders_of, with_folders
    from ..image.graph_inputs import GraphInputs

    if run.custom_factory:
        raise NoCodeOnly("a custom Spark operator factory runs in the project image")
    try:
        previous, record = _matching_record(run, plan)
        inputs = GraphInputs.from_dict(record.get("graph_inputs"))
        if inputs.digest(plan.layer.files) != record.get("graph_digest"):
            raise NoCodeOnly(f"the change can alter the pipeline graph (it touches code the graph extraction ran, "
                             f"a file it read, or the list of files) since {previous}")
        graph, folders = PipelineGraph.from_dict(record["graph"]), record["folders"]
        layer = with_folders(plan.layer, folders_of(folders, plan.copy.dest), _newest(plan.layer))
        assembled = _assemble(run, plan, layer, record["image"])
        # a code-only image holds no build cache (assemble.py): its record names the cache of the image it was made from
        encoded = _record(run, plan, "sha256:" + hashlib.sha256(assembled.manifest).hexdigest(), graph, inputs,
                          folders, cache=_digest(record.get("cache")))
    except RegistryRefused as exc:
        raise NoCodeOnly(f"the registry: {exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise NoCodeOnly(f"the record is not readable: {exc}") from None
    return CodeOnlyImage(layer, assembled, graph, previous, encoded, _upload_early(plan, layer, assembled, encoded))


def production_cache(run: CodeOnlyRun, plan: CodeLayerPlan) -> str | None:
    """The default branch's layer cache: the image its own authenticated record names, matched or not (never a
    tag a branch's job could have written); None elsewhere, or when there is no such record."""
    from ..deliver.registry import RegistryRefused

    readers = run.readers
    if not (readers.production and readers.key):
        return None
    try:
        record = read_record(plan.registry, plan.repository, readers.branch, readers.key)
    except (RegistryRefused, ValueError, KeyError, TypeError):
        return None
    return None if record is None or readers.refusal(record) else _digest(record.data.get("cache"))


def _matching_record(run: CodeOnlyRun, plan: CodeLayerPlan) -> tuple[str, dict[str, Any]]:
    """The branch's record, else the default branch's, when it was made the way this run would make one; the
    default branch's deploy takes only its own record, authenticated by its key (action/records.py)."""
    readers = run.readers
    if readers.production and not readers.key:
        raise NoCodeOnly("the default branch reads back no record without record-key (a branch's job could have "
                         "written it): set the record-key input from a secret of the production environment")
    why = "no record yet (the first deploy of this branch and its default branch)"
    for branch in readers.branches:
        record = read_record(plan.registry, plan.repository, branch, readers.key)
        if record is None:
            continue
        refused = readers.refusal(record)
        if refused:
            why = refused
            continue
        mismatch = _mismatch(run, plan.copy, record.data)
        if not mismatch:
            return f"{repository_of(run.image)}:{branch_tag(branch)}", record.data
        why = mismatch
    raise NoCodeOnly(why)


def _digest(value: object) -> str | None:
    return value if isinstance(value, str) and len(value) == 71 and value.startswith("sha256:") else None


def _mismatch(run: CodeOnlyRun, copy: CodeCopy, record: dict[str, Any]) -> str:
    expected = _identity(run, copy)
    if record.get("inputs") != expected["inputs"]:
        return "what the layers under the code are built from changed (Dockerfile, build arguments, .dockerignore " \
               "or a file an earlier COPY reads)"
    differ = [key for key, value in expected.items() if record.get(key) != value]
    return f"the record was made with another {', '.join(differ)}" if differ else ""


def _identity(run: CodeOnlyRun, copy: CodeCopy) -> dict[str, Any]:
    """What a record must share with this run to be reused."""
    return {"version": RECORD_VERSION, "tool": __version__, "python": list(sys.version_info[:2]),
            "inputs": copy.inputs, "dest": copy.dest, "pipeline": run.inputs.pipeline, "env": run.inputs.env}


def _assemble(run: CodeOnlyRun, plan: CodeLayerPlan, layer: CodeLayer, image_digest: str) -> Assembled:
    from ..image.assemble import NotAssemblable, replace_code_layer

    found = plan.registry.manifest(plan.repository, image_digest)
    if found is None:
        raise NoCodeOnly(f"the record's image {image_digest[:19]} is gone from the registry")
    manifest = json.loads(found[0])
    config = json.loads(plan.registry.blob(plan.repository, manifest["config"]["digest"]))
    chown = f"--chown={plan.copy.chown} " if plan.copy.chown else ""
    try:
        return replace_code_layer(manifest, config, layer, labels=_labels(run.git),
                                  created_by=f"COPY {chown}. {plan.copy.dest} # kedro-af-ci code-only deploy",
                                  created=_created(layer))
    except NotAssemblable as exc:
        raise NoCodeOnly(str(exc)) from None


def _labels(git: GitInfo) -> dict[str, str]:
    return {"org.opencontainers.image.revision": git.commit_id,
            "org.opencontainers.image.ref.name": git.branch_name[:128]}


def _newest(layer: CodeLayer) -> int:
    """The newest file time of the code (the commit's), so the same commit gives the same layer and config."""
    return max((0, *(f.mtime for f in layer.files.values())))


def _created(layer: CodeLayer) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(_newest(layer), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _upload_early(plan: CodeLayerPlan, layer: CodeLayer, assembled: Assembled, record: EncodedRecord
                  ) -> Future[None]:
    """The layer, the config and the record go up while the DAG is compiled and checked: blobs no tag
    names are no image (nothing can pull them by name, and a registry's garbage collection removes
    them), so nothing is published before the pre-flight passed; the tags are written after it (push)."""
    config = json.loads(assembled.manifest)["config"]["digest"]
    blobs = [(layer.digest, layer.gzipped), (config, assembled.config), (record.digest, record.blob),
             (EMPTY_DIGEST, EMPTY)]

    def upload() -> None:
        for digest, data in blobs:
            plan.registry.put_blob(plan.repository, digest, data)

    pool = ThreadPoolExecutor(1, thread_name_prefix="kaf-upload")
    future = pool.submit(upload)
    pool.shutdown(wait=False)  # push waits for it; a failed pre-flight leaves unreferenced blobs only
    return future


def push(run: CodeOnlyRun, plan: CodeLayerPlan, image: CodeOnlyImage) -> None:
    """The code-only image under the commit's tag and the branch's, then its record."""
    image.uploads.result()  # the blobs (a RegistryRefused from the upload comes out here)
    plan.registry.restart_clock()  # the pre-flight ran since the lookup
    for tag in (tag_of(run.image) or "", branch_tag(run.git.branch_name)):
        plan.registry.put_manifest(plan.repository, tag, image.assembled.media_type, image.assembled.manifest)
    tag_record(plan.registry, plan.repository, run.git.branch_name, image.record)


def record_build(run: CodeOnlyRun, plan: CodeLayerPlan, trace: object, graph: PipelineGraph) -> None:
    """After a usual build and push: the record a later code-only deploy starts from; without it that deploy
    builds."""
    from ..image.code_layer import folders_of
    from ..image.graph_inputs import record

    inputs = record(trace, plan.layer.files)
    if inputs is None or not inputs.modules:
        unseen = ", ".join(trace.get("unseen") or []) if isinstance(trace, dict) else ""
        run.log("Code-only deploys: no record (the extraction's trace was not usable, saw no module of the "
                f"project imported, or could not see into what ran{': ' + unseen if unseen else ''})")
        return
    folders = trace.get("folders") if isinstance(trace, dict) else None
    try:
        folders_of(folders, plan.copy.dest)
    except ValueError as exc:
        run.log(f"Code-only deploys: no record (the extraction did not say who owns the project: {exc})")
        return
    plan.registry.restart_clock()  # the build ran since the lookup
    found = plan.registry.manifest(plan.repository, tag_of(run.image) or "")
    if found is None:
        run.log("Code-only deploys: no record (the pushed image is not in the registry)")
        return
    encoded = _record(run, plan, found[2], graph, inputs, folders, cache=found[2])
    upload_record(plan.registry, plan.repository, encoded)
    tag_record(plan.registry, plan.repository, run.git.branch_name, encoded)


def _record(run: CodeOnlyRun, plan: CodeLayerPlan, image: str, graph: PipelineGraph, inputs: GraphInputs,
            folders: list[Any] | None, *, cache: str | None) -> EncodedRecord:
    """The record of this deploy, authenticated when this run holds the record key."""
    record = {**_identity(run, plan.copy), "branch": run.git.branch_name, "commit": run.git.commit_id,
              "image": image, "cache": cache, "folders": folders, "graph": json.loads(graph.to_json()),
              "graph_inputs": inputs.to_dict(), "graph_digest": inputs.digest(plan.layer.files)}
    return encode_record(record, plan.repository, run.git.branch_name, run.inputs.record_key)
