"""The pipeline graph: a Kedro pipeline reduced to plain data that survives a trip through JSON.

Extraction needs the user's dependencies and so runs where they are installed (the project image
in CI); everything downstream (plan, render, deploy) works from this model alone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GraphError

SCHEMA_VERSION = 1


TRANSCODING_SEPARATOR = "@"


def strip_transcoding(dataset: str) -> str:
    """``name@format`` → ``name`` (Kedro's transcoding: one dataset read and written as two types)."""
    return dataset.split(TRANSCODING_SEPARATOR, 1)[0]


@dataclass(frozen=True)
class GraphNode:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    tags: tuple[str, ...] = ()
    namespace: str | None = None
    func: str | None = None
    # argument/return name -> fully qualified annotation, e.g. "pyspark.sql.dataframe.DataFrame"
    type_hints: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetInfo:
    type: str | None  # catalog type, e.g. "pandas.CSVDataset"; None for parameters
    memory: bool = False  # not persisted: a MemoryDataset, explicit or by default
    pattern: str | None = None  # the dataset factory pattern it came from, if any
    parameters: bool = False
    spark: bool | None = None  # a Spark dataset class, as its class hierarchy says; None: not known
    # where it is stored, as the catalog resolves it for the env (filepath/path, or a table as a URI);
    # the branch's to write: plan/assets.py turns it into an Asset URI only if it is a clean one
    location: str | None = None


@dataclass(frozen=True)
class ProjectInfo:
    package_name: str
    project_name: str
    kedro_version: str | None = None


@dataclass(frozen=True)
class MlflowInfo:
    """The project's kedro-mlflow configuration (``conf/*/mlflow.yml``), as far as the DAG needs it."""

    tracking_uri: str | None = None
    experiment_name: str | None = None
    installed: bool = True  # mlflow importable where the graph was extracted (the project image)


@dataclass(frozen=True)
class PipelineGraph:
    project: ProjectInfo
    pipeline: str
    nodes: tuple[GraphNode, ...]  # topologically sorted, as Kedro orders them
    datasets: dict[str, DatasetInfo] = field(default_factory=dict)
    env: str | None = None
    mlflow: MlflowInfo | None = None  # None: the project does not use kedro-mlflow

    def producers(self) -> dict[str, str]:
        """Dataset → the node that writes it, transcoding resolved: ``name@spark`` and ``name@pandas``
        are one dataset ``name``, as in Kedro's own Pipeline."""
        return {strip_transcoding(out): node.name for node in self.nodes for out in node.outputs}

    def node_dependencies(self) -> dict[str, list[str]]:
        """Node name → names of the nodes it depends on (producers of its inputs)."""
        producer = self.producers()
        deps: dict[str, list[str]] = {}
        for node in self.nodes:
            parents = {producer[d] for d in map(strip_transcoding, node.inputs) if d in producer}
            deps[node.name] = sorted(parents - {node.name})
        return deps

    def to_json(self) -> str:
        data = {"schema": SCHEMA_VERSION, **asdict(self)}
        return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineGraph:
        if data.get("schema") != SCHEMA_VERSION:
            raise GraphError(f"graph JSON has schema {data.get('schema')!r}; this version reads "
                             f"schema {SCHEMA_VERSION}")
        try:
            nodes = tuple(
                GraphNode(
                    name=n["name"], inputs=tuple(n["inputs"]), outputs=tuple(n["outputs"]),
                    tags=tuple(n.get("tags", ())), namespace=n.get("namespace"), func=n.get("func"),
                    type_hints=dict(n.get("type_hints", {})),
                )
                for n in data["nodes"]
            )
            datasets = {k: DatasetInfo(**v) for k, v in data.get("datasets", {}).items()}
            mlflow = MlflowInfo(**data["mlflow"]) if data.get("mlflow") else None
            graph = cls(project=ProjectInfo(**data["project"]), pipeline=data["pipeline"], nodes=nodes,
                        datasets=datasets, env=data.get("env"), mlflow=mlflow)
        except (KeyError, TypeError) as exc:
            raise GraphError(f"graph JSON is malformed: {exc!r}") from None
        graph.validate()
        return graph

    @classmethod
    def read(cls, path: str | Path) -> PipelineGraph:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GraphError(f"{path}: cannot read graph JSON: {exc}") from None
        if not isinstance(data, dict):
            raise GraphError(f"{path}: graph JSON must be an object")
        return cls.from_dict(data)

    def validate(self) -> None:
        seen: set[str] = set()
        for node in self.nodes:
            if node.name in seen:
                raise GraphError(f"node name {node.name!r} appears twice in pipeline {self.pipeline!r}")
            seen.add(node.name)
        if not self.nodes:
            raise GraphError(f"pipeline {self.pipeline!r} has no nodes")
