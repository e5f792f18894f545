"""What stale branch DAGs cost a shared Airflow: the real dag-processor's parse work per pass over the
folder, with 200 stale branch DAGs of the example beside the live one, then after `prune --yes`.

The figure is the sum of the "Last Duration" column of the dag-processor's own "DAG File Processing
Stats" table (it prints one every 30 s): the seconds of parsing it spends each time it goes over the
folder, which it does every `min_file_process_interval` (30 s by default), for as long as the files
are there. Called by run.py on its Airflow 3 standalone server, after the run-once figures.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

STALE = 200
REPOSITORY = "bench/stale-folder"  # the prune sees only this repository's DAGs
_ROW = re.compile(r"dag-processor \| \S+\s+(\S+\.py)\s.*?\s(\d+)\s+(\d+)\s+([\d.]+)s\s+\S+\s*$")


def write_stale_dags(project: Path, graph_file: Path, folder: Path, env: dict[str, str]) -> None:
    """STALE branches' run-once DAGs of the example, rendered as the tool renders them (each with its
    branch, repository and commit tags, as the CI left them)."""
    from kedro_af_ci.config import load_config
    from kedro_af_ci.gitinfo.commit import GitInfo
    from kedro_af_ci.graph.model import PipelineGraph
    from kedro_af_ci.plan.build import build_plan
    from kedro_af_ci.render.dag import render_dag

    graph = PipelineGraph.read(graph_file)
    for i in range(STALE):
        info = GitInfo(f"{i:040x}", f"feature/stale-{i:03d}", repository=REPOSITORY)
        config = load_config(project, "demo", environ={**env, "KEDRO_CONFIG_RUN_NAME": f"stale-{i:03d}"},
                             git_info=info)
        plan = build_plan(graph, config, info, kedro_env="demo", schedule=None, run_once=True)
        (folder / f"{plan.dag.dag_id}.py").write_text(render_dag(plan).source)


def parse_stats(log: str) -> dict[str, float]:
    """File name → last parse duration (s), from the last complete stats table of the log."""
    tables = log.split("DAG File Processing Stats")[1:]
    for table in reversed(tables):
        if "=" * 20 not in table:  # still being written
            continue
        rows = table.split("=" * 20, 1)[0].splitlines()
        return {m[1]: float(m[4]) for m in map(_ROW.search, rows) if m}
    return {}


def wait_for_stats(log_file: Path, done: Callable[[dict[str, float]], bool], what: str,
                   timeout: float = 900) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = parse_stats(log_file.read_text(errors="replace"))
        if done(stats):
            return stats
        time.sleep(5)
    raise SystemExit(f"the dag-processor's stats never showed {what} within {timeout:.0f} s (see {log_file})")


def bench_stale_folder(table, server, project: Path, graph_file: Path, env: dict[str, str], cli: Path) -> None:
    from kedro_af_ci.deliver.client import AirflowClient, Credentials

    client = AirflowClient(server.url, Credentials(username=server.username, password=server.password))
    log_file = server.dags_folder.parent / "standalone.log"
    if not log_file.exists():
        log_file = next(server.dags_folder.parents[1].rglob("standalone.log"))
    write_stale_dags(project, graph_file, server.dags_folder, env)
    client.reparse(client.known_file_token(prefer_tag_prefix="") or "")  # a rescan finds the new files

    def stale(stats: dict[str, float]) -> int:
        return sum(name.startswith("stale-") for name in stats)

    before = wait_for_stats(log_file, lambda s: stale(s) == STALE, f"{STALE} stale files parsed")
    listed = sum(dag.dag_id.startswith("stale-") for dag in client.list_dags())
    branches = project.parent / "branches.txt"
    branches.write_text("main\n")
    started = time.perf_counter()
    subprocess.run([str(cli), "--project-path", str(project), "-e", "demo", "prune", "--branches", str(branches),
                    "--yes"], env={**env, "GITHUB_REPOSITORY": REPOSITORY, "COLUMNS": "200"}, check=True,
                   capture_output=True, text=True)
    pruned = time.perf_counter() - started
    client.reparse(client.known_file_token(prefer_tag_prefix="") or "")
    after = wait_for_stats(log_file, lambda s: bool(s) and stale(s) == 0, "the folder without the stale files")
    left = sum(dag.dag_id.startswith("stale-") for dag in client.list_dags())
    table.add(f"dag-processor parse work per pass: {len(before)} files ({STALE} stale branches)",
              sum(before.values()), f"after prune ({len(after)} files)", sum(after.values()),
              target="informational")
    table.add(f"prune --yes: {STALE} stale DAGs deleted (file + Airflow), {listed} listed before, {left} after",
              pruned, target="informational")
