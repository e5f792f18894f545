"""Which DAGs of this tool belong to branches that are gone (or idle): what `prune` shows and deletes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..plan.model import BRANCH_TAG, REPOSITORY_TAG, owner_tag
from .answers import DagRunInfo
from .client import AirflowClient
from .ownership import owner_of


@dataclass(frozen=True)
class StaleDag:
    dag_id: str
    branch: str
    last_run: str  # its time, or "-"
    reason: str


def stale_dags(client: AirflowClient, existing_branches: set[str], *, repository: str | None,
               older_than_days: int | None = None, now: datetime | None = None) -> list[StaleDag]:
    """This repository's DAGs (by their tags) whose branch is not in ``existing_branches``, and with
    ``older_than_days`` those whose last run is older; sorted by DAG id."""
    now = now or datetime.now(timezone.utc)
    alive = {owner_tag(BRANCH_TAG, branch) for branch in existing_branches}
    ours = owner_tag(REPOSITORY_TAG, repository) if repository else None
    found = []
    for dag in client.list_dags(tags=None):
        owner = owner_of(dag.tags)
        if not owner.generated or owner.branch is None or owner.repository != ours:
            continue
        runs = client.latest_runs(dag.dag_id)
        when = _run_time(runs[0]) if runs else None
        branch = owner.branch.removeprefix(BRANCH_TAG)
        if owner.branch not in alive:
            reason = "its branch is gone"
        elif older_than_days is not None and (when is None or now - when > timedelta(days=older_than_days)):
            reason = f"no run for {older_than_days}+ days"
        else:
            continue
        found.append(StaleDag(dag.dag_id, branch, when.isoformat(timespec="minutes") if when else "-", reason))
    return sorted(found, key=lambda stale: stale.dag_id)


def _run_time(run: DagRunInfo) -> datetime | None:
    """When the run was (to be) run: Airflow 3's run_after, else its logical date, else its start."""
    for value in (run.run_after, run.logical_date, run.start_date):
        if value:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
    return None


