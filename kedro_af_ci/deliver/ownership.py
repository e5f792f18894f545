"""Whose DAG it is: a DAG is replaced only by the branch (of the repository) that deployed it
(docs/architecture.md, "Trust").

Every generated DAG carries ``branch:`` (and in CI ``repository:``) tags. Before an upload the DAG
file already at the destination, and before run-once the DAG Airflow already serves under the id,
are read: one of another branch or repository, or a file this tool did not write, is not replaced.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ConfigError
from ..plan.model import BRANCH_TAG, REPOSITORY_TAG, TAG_PREFIX

KEY = "run_config.run_name"


@dataclass(frozen=True)
class Owner:
    generated: bool  # by this tool
    branch: str | None  # the branch tag (None: an earlier version's DAG, which had none)
    repository: str | None


def owner_of(tags: Iterable[str]) -> Owner:
    tags = list(tags)

    def tagged(prefix: str) -> str | None:
        return next((tag for tag in tags if tag.startswith(prefix)), None)

    return Owner(generated=tagged(TAG_PREFIX + ":") is not None, branch=tagged(BRANCH_TAG),
                 repository=tagged(REPOSITORY_TAG))


# the DAG(...) argument line the template writes (templates/dag.py.j2, block "tags"): one literal list
_TAGS_LINE = re.compile(r"^    tags=(\[.*\]),$", re.M)


def tags_in_source(source: str) -> list[str] | None:
    """The tags of a DAG file as this tool writes them (one ``tags=[...]`` line, a Python literal read
    with Python's own literal parser); None when the file has no such line: not one of this tool's.
    A line, not the whole file: a 5000-task DAG is parsed by Airflow, not before every upload."""
    match = _TAGS_LINE.search(source)
    if match is None:
        return None
    try:
        value = ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError, RecursionError, MemoryError):
        return None
    return [str(tag) for tag in value] if isinstance(value, list) else None


def check_replace(existing: Iterable[str] | None, new: Iterable[str], where: str) -> None:
    """ConfigError unless the DAG with tags ``new`` may replace the one with ``existing`` at ``where``."""
    theirs, ours = owner_of(existing or []), owner_of(new)
    if not ours.generated:  # not a DAG of this tool's (a test's file): no owner to compare
        return
    if not theirs.generated:
        raise ConfigError(f"{where} holds a DAG this tool did not generate: it is not replaced. Give this DAG "
                          "another id (run_config.run_name, or the run-name input) or remove that DAG", key=KEY)
    if theirs.branch is not None and theirs.branch != ours.branch:
        raise ConfigError(f"{where} is the DAG of {theirs.branch}: a DAG is replaced only by its own branch. Give "
                          "each branch its own DAG id: ${branch_name} in run_config.run_name (or the run-name "
                          "input)", key=KEY)
    if theirs.repository is not None and ours.repository is not None and theirs.repository != ours.repository:
        raise ConfigError(f"{where} is the DAG of {theirs.repository}: a DAG is replaced only from its own "
                          "repository. Give this project's DAGs their own ids (run_config.run_name)", key=KEY)
