"""The job summary: what was built and deployed, a picture of the DAG, and how the run went.

Every value (branch names, task ids, error text) is escaped for Markdown tables and Mermaid
labels: a branch called ``x|<img src=…>`` must render as text, not as markup.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

import jinja2

from ..render.templating import environment

if TYPE_CHECKING:
    from ..deliver.answers import TaskInstanceInfo

MAX_DIAGRAM_TASKS = 150  # GitHub's Mermaid renderer gives up on much larger graphs
_MERMAID_SAFE = re.compile(r"[A-Za-z0-9 _.,:/()-]")
_STATE_CLASS = {"success": "ok", "failed": "bad", "upstream_failed": "bad", "skipped": "skip"}


def cell(value: object) -> str:
    """A Markdown table cell showing ``value`` as literal text."""
    text = " ".join(str(value).split())
    return html.escape(text, quote=True).replace("|", "&#124;").replace("\\", "&#92;").replace("`", "&#96;") \
        .replace("*", "&#42;").replace("_", "&#95;").replace("[", "&#91;").replace("]", "&#93;")


def mermaid_label(value: str) -> str:
    """A quoted Mermaid label: anything but plain characters becomes a numeric entity (``#35;``)."""
    return '"' + "".join(c if _MERMAID_SAFE.match(c) else f"#{ord(c)};" for c in value) + '"'


@dataclass
class SummaryData:
    ok: bool
    dag_id: str = ""
    image: str = ""
    built: bool = False
    pushed: bool = False
    dag_url: str = ""
    dag_file: str = ""
    commit_id: str = ""
    branch_name: str = ""
    run_id: str = ""
    run_state: str = ""
    run_url: str = ""
    graph_source: str = ""
    code_only: str = ""  # whether the image was made in the registry from the previous one, or why not
    preflight: str = ""  # what the pre-flight did: loaded in Airflow's DagBag, or skipped and why
    deleted: str = ""  # delete: what was removed
    image_cleanup: str = ""  # delete: the branch's image tag removed, or left behind and why
    cache_from: list[str] = field(default_factory=list)  # images whose layers the build could reuse
    airflow_host: str = ""  # and where it came from
    archive_files: list[str] = field(default_factory=list)  # Spark: what project.tar.gz holds
    packages_found: str = ""  # GitLab's deployer: how many branches were packaged, how many to deploy
    packages: list[tuple[str, str, str]] = field(default_factory=list)  # GitLab's deployer: branch, commit, outcome
    error: str = ""
    exit_code: int = 0
    tasks: list[str] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    task_states: list[TaskInstanceInfo] = field(default_factory=list)

    def mermaid(self) -> str:
        if not self.tasks or len(self.tasks) > MAX_DIAGRAM_TASKS:
            return ""
        ids = {task: f"t{i}" for i, task in enumerate(self.tasks)}
        lines = ["flowchart LR"]
        lines += [f"  {ids[t]}[{mermaid_label(t)}]" for t in self.tasks]
        lines += [f"  {ids[a]} --> {ids[b]}" for a, b in self.edges if a in ids and b in ids]
        lines += ["  classDef ok fill:#d3f9d8,stroke:#2b8a3e", "  classDef bad fill:#ffe3e3,stroke:#c92a2a",
                  "  classDef skip fill:#f1f3f5,stroke:#868e96"]
        lines += [f"  class {ids[task]} {css}" for task, css in self._state_classes()]
        return "\n".join(lines)

    def _state_classes(self) -> list[tuple[str, str]]:
        """(task, CSS class) of the tasks whose run state has a colour, in task order."""
        states = {ti.task_id: ti.state for ti in self.task_states}
        classes = [(task, _STATE_CLASS.get(str(states.get(task)))) for task in self.tasks]
        return [(task, css) for task, css in classes if css]


@cache
def _template() -> jinja2.Template:
    return environment(filters=(("cell", cell),)).get_template("summary.md.j2")  # cell() escapes Markdown


def render_summary(data: SummaryData) -> str:
    return _template().render(d=data, mermaid=data.mermaid(), too_big=len(data.tasks) > MAX_DIAGRAM_TASKS)
