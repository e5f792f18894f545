"""DagPlan → DAG source, through ``templates/dag.py.j2``.

Values never reach the source as raw text: ``py`` writes a Python literal (``repr``), and ``tpl``
does the same for values that land in Airflow's templated operator fields, wrapping any string
that Airflow's Jinja would change (braces, newlines, template-file suffixes) in ``literal()``.
The result is compiled (syntax check) before it is returned.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import stat
import string
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

from . import __version__
from .errors import PreflightError
from .plan import DATA_VOLUME_NAME, INIT_MOUNT_PATH, MLFLOW_START_TASK, DagPlan, content_tag
from .spark import AirflowTemplate

HASH_PLACEHOLDER = "dag_hash:" + "0" * 16
# A string ending like a template file name is loaded as a file by Airflow, not rendered.
_TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json", ".j2", ".jinja2", ".sh", ".bash", ".sql", ".py", ".txt")
_NEEDS_LITERAL = re.compile(r"[{\r\n]")


class Raw(str):
    """Source text that the encoders pass through unchanged (already-encoded expressions)."""


def py(value: Any) -> str:
    """Python literal for ``value`` (str, numbers, bools, None, datetimes, lists, tuples, dicts)."""
    if isinstance(value, Raw):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, datetime):
        offset = value.utcoffset()
        if offset:
            raise ValueError("only UTC datetimes are rendered")
        return (f"datetime.datetime({value.year}, {value.month}, {value.day}, {value.hour}, {value.minute}, "
                f"{value.second}, tzinfo=datetime.timezone.utc)")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py(k)}: {py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        inner = ", ".join(py(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(py(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as a Python literal")


# failure message placeholders → Jinja expressions of the failure callback's context
_SLACK_FIELDS = {
    "task": "ti.task_id",
    "dag": "dag.dag_id",
    "execution_time": "(logical_date or dag_run.run_after)",
    "url": "ti.log_url",
}


def slack_text(template: str) -> str:
    """The seed's ``{task}``-style message as a Jinja template whose literal text Jinja cannot alter."""
    parts = []
    for literal_text, field, _, _ in string.Formatter().parse(template):
        if literal_text:
            parts.append("{{ " + json.dumps(literal_text, ensure_ascii=False) + " }}")
        if field is not None:
            parts.append("{{ " + _SLACK_FIELDS[field] + " }}")
    return "".join(parts)


def needs_literal(text: str) -> bool:
    return bool(_NEEDS_LITERAL.search(text)) or text.lower().endswith(_TEMPLATE_SUFFIXES)


def tpl(value: Any) -> str:
    """Like :func:`py`, for values of templated fields: Jinja-active strings become ``literal()``."""
    if isinstance(value, AirflowTemplate):  # our own Jinja for Airflow to render (e.g. the run id)
        return repr(str(value))
    if isinstance(value, str) and not isinstance(value, Raw):
        return f"literal({value!r})" if needs_literal(value) else repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py(k)}: {tpl(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return py(type(value)(Raw(tpl(v)) for v in value))
    return py(value)


@dataclass(frozen=True)
class RenderedDag:
    dag_id: str
    source: str
    content_tag: str
    warnings: tuple[str, ...]


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between runs (template compilation is a fifth of a compile at 1000
    nodes); a cache that cannot be read or written is simply not used."""

    def load_bytecode(self, bucket):
        with contextlib.suppress(OSError, ValueError, EOFError):
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket):
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def bytecode_cache() -> jinja2.BytecodeCache | None:
    """Jinja unpickles what it finds in the cache, so only a folder this user owns and nobody else
    may write is used; anything else (a shared or planted folder) means no cache."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(root, "kedro-af-ci", __version__)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.stat(folder, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        return None
    return _BytecodeCache(folder)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("kedro_af_ci", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - generates Python, every value goes through py/tpl
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=bytecode_cache(),
    )
    env.filters["py"] = py
    env.filters["tpl"] = tpl
    env.filters["slack_text"] = slack_text
    env.filters["sh"] = shlex.quote
    return env


def _pvc_yaml(plan: DagPlan) -> str:
    volume = plan.volume
    assert volume is not None
    spec: dict[str, Any] = {
        "accessModes": list(volume.access_modes),
        "resources": {"requests": {"storage": volume.size}},
    }
    if volume.storageclass:
        spec["storageClassName"] = volume.storageclass
    doc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": volume.claim_name, "labels": {"app.kubernetes.io/managed-by": "kedro-af-ci"}},
        "spec": spec,
    }
    return yaml.safe_dump(doc, sort_keys=False)


MLFLOW_RUN_ID_TEMPLATE = "{{ ti.xcom_pull(task_ids='" + MLFLOW_START_TASK + "') }}"


@cache
def _mlflow_script() -> str:
    from . import mlflow_run

    return Path(mlflow_run.__file__).read_text(encoding="utf-8")


def _mlflow_context(plan: DagPlan) -> dict[str, Any] | None:
    """Arguments of the MLflow tasks: config values as literals, our own Jinja as AirflowTemplate."""
    m = plan.mlflow
    if m is None:
        return None
    uri: list[Any] = ["--tracking-uri", m.tracking_uri] if m.tracking_uri else []
    start: list[Any] = ["start", "--experiment", m.experiment_name, "--run-name", AirflowTemplate("{{ run_id }}"),
                        "--key", AirflowTemplate("{{ dag_run.dag_id }}/{{ run_id }}"), *uri]
    for key, value in m.tags.items():
        start += ["--tag", f"{key}={value}"]
    end = ["end", "--run-id", AirflowTemplate(MLFLOW_RUN_ID_TEMPLATE),
           "--status", AirflowTemplate("{{ kaf_mlflow_status(ti, dag_run) }}"), *uri]
    auth_env: dict[str, Any] = {}
    if m.auth == "Vars":  # names are validated environment variable names: safe as Jinja attributes
        auth_env = {name: AirflowTemplate(f"{{{{ kaf_secret(var.value.{name}) }}}}") for name in m.auth_params}
    elif m.auth == "GoogleOAuth2":
        auth_env = {"MLFLOW_TRACKING_TOKEN": AirflowTemplate("{{ kaf_google_id_token() }}")}
    return {"script": _mlflow_script(), "start": start, "end": end, "run_id": MLFLOW_RUN_ID_TEMPLATE,
            "auth_env": auth_env}


def _spark_context(plan: DagPlan) -> dict[str, Any] | None:
    """Operator classes imported under private aliases; arguments as plain data for ``tpl``."""
    spark = plan.spark
    if spark is None:
        return None
    aliases: dict[str, str] = {}

    def alias(spec) -> str:
        if spec.class_path not in aliases:
            aliases[spec.class_path] = f"_SparkOperator{len(aliases)}"
        return aliases[spec.class_path]

    tasks = {task_id: (alias(spec), spec.arguments) for task_id, spec in spark.submits.items()}
    create = (alias(spark.create), spark.create.arguments) if spark.create else None
    delete = (alias(spark.delete), spark.delete.arguments) if spark.delete else None
    imports = [(*path.rsplit(".", 1), name) for path, name in aliases.items()]
    return {"imports": imports, "tasks": tasks, "create": create, "delete": delete, "factory": spark.factory}


# execution docker, data_volume_init: "$1" is the image's data folder, "$2" the new volume
_VOLUME_OWNER = 'chown "$(stat -c %u:%g "$1")" "$2" && chmod "$(stat -c %a "$1")" "$2"'
_VOLUME_INIT = 'cp -a "$1/." "$2/" && ' + _VOLUME_OWNER


def _docker_kwargs(plan: DagPlan) -> dict[str, Any]:
    """DockerOperator settings from run_config.docker, only those that are set."""
    docker = plan.docker
    if docker is None:
        return {}
    settings = {"docker_conn_id": docker.conn_id, "network_mode": docker.network_mode}
    return {key: value for key, value in settings.items() if value is not None}


def render_dag(plan: DagPlan) -> RenderedDag:
    """Render, hash and syntax-check the DAG source for ``plan``."""
    docstring = (
        f"Airflow DAG for the Kedro pipeline {plan.pipeline!r} of {plan.project_name!r}.\n\n"
        f"Generated by kedro-airflow-k8s-action {plan.version} from commit {plan.commit_id} "
        f"(branch {plan.branch_name!r}). Do not edit: recompile instead.\n"
    )
    template = _environment().get_template("dag.py.j2")
    context = {
        "plan": plan,
        "docstring": docstring,
        "tags": [*plan.tags, HASH_PLACEHOLDER],
        "pvc_yaml": _pvc_yaml(plan) if plan.volume else None,
        "pvc_name": plan.volume.claim_name if plan.volume else None,
        "data_volume_name": DATA_VOLUME_NAME,
        "init_mount_path": INIT_MOUNT_PATH,
        "roots": [t.task_id for t in plan.tasks if not t.upstream],
        "leaves": _leaves(plan),
        "mlflow": _mlflow_context(plan),
        "spark": _spark_context(plan),
        "needs_end": bool(plan.volume or plan.mlflow or plan.spark),
        "docker_kwargs": _docker_kwargs(plan),
        "volume_init_script": _VOLUME_INIT if plan.volume and plan.volume.init else _VOLUME_OWNER,
    }
    draft = template.render(**context)
    tag = content_tag(draft)
    source = draft.replace(repr(HASH_PLACEHOLDER), repr(tag), 1)
    try:
        compile(_structure(source), f"{plan.dag_id}.py", "exec", dont_inherit=True)
    except SyntaxError as exc:  # a bug in the template, never the user's input
        raise PreflightError(f"generated DAG is not valid Python (line {exc.lineno}): {exc.msg}") from exc
    return RenderedDag(dag_id=plan.dag_id, source=source, content_tag=tag, warnings=plan.warnings)


_TASKS_START, _TASKS_END = "\nTASKS = (\n", "\n)\n"


def _structure(source: str) -> str:
    """The source with the TASKS table cut to its first two rows, for the syntax check.

    Every row is a tuple of literals written by ``py``/``tpl`` (``repr`` and ``literal(repr)``),
    valid Python whatever the values; only the template around them can be wrong. Compiling 5000
    rows took a tenth of a compile at 5000 nodes, and DagBag parses the whole file anyway when the
    pre-flight runs."""
    start = source.find(_TASKS_START)
    end = source.find(_TASKS_END, start + 1) if start >= 0 else -1
    if start < 0 or end < 0:
        return source
    rows = source[start + len(_TASKS_START):end].split("\n")
    return source[:start] + _TASKS_START + "\n".join(rows[:2]) + source[end:]


def _leaves(plan: DagPlan) -> list[str]:
    has_downstream = {up for task in plan.tasks for up in task.upstream}
    return [t.task_id for t in plan.tasks if t.task_id not in has_downstream]
