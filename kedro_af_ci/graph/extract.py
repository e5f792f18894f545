"""Kedro project → :class:`PipelineGraph`. The only module that imports Kedro.

Dataset types come from the catalog *configuration* (explicit entries, then dataset factory
patterns, then the runtime default), not from instantiating datasets: building a dataset may need
credentials or a network that the CI job does not have, and only the type is needed here.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import inspect
import logging
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import GraphError
from .model import DatasetInfo, GraphNode, MlflowInfo, PipelineGraph, ProjectInfo

log = logging.getLogger(__name__)

_MEMORY_TYPES = {"MemoryDataset", "MemoryDataSet", "kedro.io.MemoryDataset", "kedro.io.memory_dataset.MemoryDataset"}


def _qualname(annotation: Any) -> str:
    if isinstance(annotation, str):
        return annotation
    module = getattr(annotation, "__module__", None)
    name = getattr(annotation, "__qualname__", None) or getattr(annotation, "__name__", None)
    if module and name and module != "builtins":
        return f"{module}.{name}"
    return name or repr(annotation)


def _type_hints(func: Any) -> dict[str, str]:
    try:
        target = inspect.unwrap(func)
        annotations = inspect.get_annotations(target, eval_str=False)
    except Exception:  # builtins, partials, callables without annotations
        return {}
    if any(isinstance(a, str) for a in annotations.values()):
        # `from __future__ import annotations`: resolve "DataFrame" to pyspark.sql...DataFrame when possible
        with contextlib.suppress(Exception):  # a name that is not importable here: keep the text
            annotations = inspect.get_annotations(target, eval_str=True)
    return {name: _qualname(ann) for name, ann in annotations.items()}


def _func_path(func: Any) -> str | None:
    module = getattr(func, "__module__", None)
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    return f"{module}.{name}" if module and name else None


def _strip_credentials(catalog_conf: dict[str, Any]) -> dict[str, Any]:
    """Only dataset types are needed; dropping credentials avoids needing credentials.yml in CI."""
    cleaned = {}
    for name, conf in catalog_conf.items():
        if isinstance(conf, dict):
            cleaned[name] = {k: v for k, v in conf.items() if k != "credentials"}
        else:
            cleaned[name] = conf
    return cleaned


def _pattern_matcher(resolver: Any, catalog_conf: dict[str, Any]) -> Callable[[str], Any]:
    """First user pattern matching a name, in Kedro's order; each pattern is compiled once (Kedro
    recompiles it for every dataset, a quarter of a second at 5000 nodes)."""
    try:
        import parse

        compiled = [(p, parse.compile(p)) for p in resolver.list_patterns() if p in catalog_conf]
    except Exception:  # parse or list_patterns changed: Kedro's own, slower matching
        return lambda name: resolver.match_dataset_pattern(name) or resolver.match_user_catch_all_pattern(name)
    return lambda name: next((p for p, parser in compiled if parser.parse(name) is not None), None)


def _pattern_type_only(resolver: Any, pattern: str | None) -> dict[str, Any] | None:
    """The pattern's type when it has no placeholder: resolving every dataset through Kedro's
    pattern parser costs ~0.25 ms each (a second at 5000 nodes) and only the type is needed."""
    if pattern is None:
        return {"type": "kedro.io.MemoryDataset"}
    try:
        ds_type = resolver._get_pattern_config(pattern).get("type")
    except Exception:  # private API of Kedro 1.x; resolve the slow way when it changes
        return None
    return {"type": ds_type} if isinstance(ds_type, str) and "{" not in ds_type else None


def _dataset_infos(names: set[str], catalog_conf: dict[str, Any]) -> dict[str, DatasetInfo]:
    from kedro.io.catalog_config_resolver import CatalogConfigResolver

    # resolving through a catch-all pattern warns once per dataset: thousands of lines, not news here
    logging.getLogger("kedro.io.catalog_config_resolver").setLevel(logging.ERROR)
    resolver = CatalogConfigResolver(
        config=_strip_credentials(catalog_conf),
        default_runtime_patterns={"{default}": {"type": "kedro.io.MemoryDataset"}},
    )
    match = _pattern_matcher(resolver, catalog_conf)
    infos: dict[str, DatasetInfo] = {}
    for name in sorted(names):
        if name == "parameters" or name.startswith("params:"):
            infos[name] = DatasetInfo(type=None, parameters=True)
            continue
        pattern = None
        if name in resolver.config:
            conf = resolver.config[name]
        else:
            pattern = match(name)
            conf = (None if _remote_pattern(resolver, pattern) else _pattern_type_only(resolver, pattern)) \
                or resolver.resolve_pattern(name)
        ds_type = conf.get("type") if isinstance(conf, dict) else None
        ds_type = ds_type if isinstance(ds_type, str) else _qualname(ds_type) if ds_type else None
        memory = ds_type is None or ds_type in _MEMORY_TYPES or ds_type.endswith(".MemoryDataset")
        infos[name] = DatasetInfo(type=ds_type, memory=memory, pattern=pattern, spark=_spark_class(ds_type),
                                  location=None if memory else _location(conf))
    return infos


def _without_userinfo(location: str) -> str:
    """A URL's ``user:password@`` removed (abfs' ``container@account`` stays): a location travels in the
    graph JSON and the DAG."""
    head, sep, rest = location.partition("://")
    netloc, slash, path = rest.partition("/")
    userinfo, at, host = netloc.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return location
    return f"{head}://{host}{slash}{path}"


def _remote_pattern(resolver: Any, pattern: str | None) -> bool:
    """A factory pattern whose path names a storage scheme: its datasets are resolved whole, for their
    location (an Asset); local paths stay on the fast path, as they make no Asset anyway."""
    if pattern is None:
        return False
    try:
        conf = resolver._get_pattern_config(pattern)
    except Exception:  # private API of Kedro 1.x
        return True
    return any("://" in str(conf.get(key, "")) for key in ("filepath", "path"))


def _location(conf: Any) -> str | None:
    """Where a dataset is stored: its filepath/path, or a BigQuery table as bigquery://project/dataset/table."""
    if not isinstance(conf, dict):
        return None
    for key in ("filepath", "path"):
        if isinstance(conf.get(key), str):
            return _without_userinfo(conf[key])
    if all(isinstance(conf.get(k), str) for k in ("project", "dataset", "table_name")):
        return f"bigquery://{conf['project']}/{conf['dataset']}/{conf['table_name']}"
    return None


# kedro-datasets families that are never Spark: no import needed to say so
_NOT_SPARK = ("pandas.", "pickle.", "json.", "yaml.", "text.", "matplotlib.", "plotly.", "pillow.", "api.",
              "kedro.io.", "kedro_datasets.pandas.", "kedro_datasets.pickle.", "partitions.", "polars.")


@functools.cache
def _spark_class(ds_type: str | None) -> bool | None:
    """Whether a dataset type is a Spark dataset: a class of kedro-datasets' spark family (any
    version, SparkDatasetV2 included) or a subclass of one. The class is imported, never built;
    None when it cannot be imported here (spark.py then judges by the name)."""
    if not ds_type or ds_type.startswith(_NOT_SPARK):
        return False
    for candidate in (f"kedro_datasets.{ds_type}", ds_type, f"kedro.io.{ds_type}"):
        module, _, name = candidate.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), name)
        except Exception:  # noqa: S112 - not this spelling (or pyspark missing): try the next
            continue
        if isinstance(cls, type):
            return any(base.__module__.startswith("kedro_datasets.spark") for base in cls.__mro__)
    return None


# kedro-mlflow's own config patterns (it registers them in after_context_created)
_MLFLOW_PATTERNS = ["mlflow*", "mlflow*/**", "**/mlflow*"]


def _mlflow_info(loader: Any) -> MlflowInfo | None:
    """kedro-mlflow's settings when the project has its config (``kedro mlflow init``), else None."""
    try:
        loader.config_patterns.setdefault("mlflow", _MLFLOW_PATTERNS)
        conf = loader["mlflow"]
    except Exception:  # MissingConfigException: no mlflow.yml, so no MLflow support (seed 3.3)
        return None
    if not conf:
        return None
    if not isinstance(conf, dict):
        return None
    server: dict[str, Any] = conf["server"] if isinstance(conf.get("server"), dict) else {}
    tracking: dict[str, Any] = conf["tracking"] if isinstance(conf.get("tracking"), dict) else {}
    experiment: dict[str, Any] = tracking["experiment"] if isinstance(tracking.get("experiment"), dict) else {}
    uri, name = server.get("mlflow_tracking_uri"), experiment.get("name")
    return MlflowInfo(tracking_uri=str(uri) if uri else None, experiment_name=str(name) if name else None,
                      installed=importlib.util.find_spec("mlflow") is not None)  # importing it takes a second


def _root_cause(exc: BaseException) -> str:
    """What went wrong first: Kedro wraps a missing dependency in its own ImportError."""
    seen = [exc]
    while (nxt := seen[-1].__cause__ or seen[-1].__context__) is not None and nxt not in seen:
        seen.append(nxt)
    text = f"{type(exc).__name__}: {exc}"
    root = seen[-1]
    if root is not exc:
        text += f" (caused by {type(root).__name__}: {root})"
    if isinstance(root, ModuleNotFoundError):
        text += "; install the project's requirements where the graph is read (the project image)"
    return text


def extract_graph(project_path: str | Path, pipeline: str = "__default__", env: str | None = None,
                  conf_source: str | None = None) -> PipelineGraph:
    """Bootstrap the Kedro project at ``project_path`` and describe one registered pipeline."""
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    # Kedro configures logging on import; keep this tool's output to warnings unless the user chose
    os.environ.setdefault("KEDRO_LOGGING_CONFIG", str(Path(__file__).parents[1] / "templates" / "kedro_logging.yml"))
    logging.getLogger("kedro").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # Kedro's own deprecation/naming warnings are the project's business, not this tool's output
        warnings.simplefilter("ignore")
        return _extract(Path(project_path).resolve(), pipeline, env, conf_source)


def _graph_node(node: Any) -> GraphNode:
    return GraphNode(name=node.name, inputs=tuple(node.inputs), outputs=tuple(node.outputs),
                     tags=tuple(sorted(node.tags)), namespace=node.namespace, func=_func_path(node.func),
                     type_hints=_type_hints(node.func))


def _forget_other_copies(package: str, source_dir: Path, project_path: Path) -> None:
    """A second project with the same package name read in one process: Python's module cache and an
    earlier project's ``src`` ahead on ``sys.path`` would hand it the other one's pipeline."""
    source = str(source_dir)
    if source in sys.path:
        sys.path.remove(source)
    sys.path.insert(0, source)
    loaded = sys.modules.get(package)
    where = getattr(loaded, "__file__", None) if loaded is not None else None
    if where is None or Path(where).resolve().is_relative_to(project_path):
        return
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]


def _extract(project_path: Path, pipeline: str, env: str | None, conf_source: str | None) -> PipelineGraph:
    try:
        from kedro import __version__ as kedro_version
        from kedro.framework.project import pipelines, settings
        from kedro.framework.startup import bootstrap_project
    except ImportError:
        raise GraphError("Kedro is not installed here: install the project's dependencies, or pass a "
                         "graph JSON made with `export-graph` inside the project image") from None
    try:
        metadata = bootstrap_project(project_path)
    except Exception as exc:  # RuntimeError for a missing/invalid pyproject.toml, and others
        raise GraphError(f"{project_path} is not a loadable Kedro project: {exc}") from None
    _forget_other_copies(metadata.package_name, Path(metadata.source_dir), project_path)
    try:
        registry = dict(pipelines)
    except Exception as exc:
        raise GraphError(f"the pipeline registry of {metadata.package_name} failed to load: "
                         f"{_root_cause(exc)}") from exc
    if pipeline not in registry:
        raise GraphError(f"pipeline {pipeline!r} is not registered; registered: {', '.join(sorted(registry))}")
    kedro_pipeline = registry[pipeline]

    source = conf_source or str(project_path / settings.CONF_SOURCE)
    try:
        loader = settings.CONFIG_LOADER_CLASS(
            conf_source=source, env=env, runtime_params={}, **settings.CONFIG_LOADER_ARGS
        )
        try:
            catalog_conf = loader["catalog"] or {}
        except KeyError:
            catalog_conf = {}
    except Exception as exc:
        raise GraphError(f"the catalog configuration of {metadata.package_name} failed to load: "
                         f"{_root_cause(exc)}") from exc

    mlflow = _mlflow_info(loader)
    nodes = tuple(_graph_node(node) for node in kedro_pipeline.nodes)
    names = {name for node in nodes for name in (*node.inputs, *node.outputs)}
    graph = PipelineGraph(
        project=ProjectInfo(package_name=metadata.package_name, project_name=metadata.project_name,
                            kedro_version=kedro_version),
        pipeline=pipeline,
        nodes=nodes,
        datasets=_dataset_infos(names, catalog_conf),
        env=env,
        mlflow=mlflow,
    )
    graph.validate()
    return graph
