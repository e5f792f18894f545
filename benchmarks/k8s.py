"""The example pipeline on a real Kubernetes (issue "Real Kubernetes"): `make bench-k8s`.

Starts what the k8s test tier starts (tests/kube.py: the single-node cluster of scripts/k8s, the Docker
engine and registry, Airflow 3 with the workers' token of docs/kubernetes.md), then measures:

- the example's whole pipeline with `kedro run` in one container of the project image (`docker run`);
- the same pipeline as a DAG on the cluster, run once, for each grouping (`--group-by none`: one pod per
  node; `auto`; `namespace`): the DAG run's wall time from Airflow's start and end dates, and its pods;
- the per-pod overhead: each task's duration in Airflow minus its container's running time (pod
  creation, scheduling, image and volume setup, log streaming, deletion);
- deferrable waits: the same run with `run_config.deferrable: true`, and the most task instances
  deferred at once, each holding one of the triggerer's slots (`[triggerer] capacity`, 1000 by default).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from container import example_repo, git  # noqa: E402 - benchmarks/, beside this script
from containers import docker, start_stack  # noqa: E402
from kube import (  # noqa: E402
    CLUSTER_ENV,
    NODE_POOL,
    PodWatch,
    manifest,
    namespace_secrets,
    start_cluster,
    why_not_here,
)
from servers import start_airflow, stop  # noqa: E402

from kedro_af_ci.deliver.client import AirflowClient, Credentials  # noqa: E402

BIN = Path(sys.executable).parent


def example_project(folder: Path) -> tuple[Path, str]:
    """The example as benchmarks/container.py commits it, with the cluster's Kedro env "k8s" added."""
    project, _ = example_repo(folder)
    (project / "conf" / "k8s").mkdir()
    (project / "conf" / "k8s" / "airflow-k8s.yaml").write_text(CLUSTER_ENV)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "the cluster's settings")
    return project, git(project, "rev-parse", "HEAD")


def seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end.replace("Z", "+00:00")) - datetime.fromisoformat(start.replace("Z", "+00:00"))
            ).total_seconds()


class DeferredCount:
    """The most task instances of a run in state `deferred` at once, polled every 0.5 s."""

    def __init__(self, client: AirflowClient, dag_id: str):
        self.client, self.dag_id, self.most, self.done = client, dag_id, 0, threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.done.wait(0.5):
            for run in self.client.latest_runs(self.dag_id) if self.client.get_dag(self.dag_id) else []:
                deferred = [ti for ti in self.client.task_instances(self.dag_id, run.run_id) if ti.state == "deferred"]
                self.most = max(self.most, len(deferred))

    def stop(self) -> int:
        self.done.set()
        self.thread.join(10)
        return self.most


class Bench:
    def __init__(self, folder: Path):
        self.folder = folder
        for part in ("docker", "k8s", "airflow"):
            (folder / part).mkdir()
        self.stack = start_stack(folder / "docker")
        if self.stack is None:
            raise SystemExit("no Docker engine here: see docs/contributing.md")
        self.cluster = start_cluster(self.stack.registry.host, folder / "k8s")
        self.airflow = None
        self.cluster.local_volumes(8)
        self.cluster.label_node(NODE_POOL)
        self.cluster.apply(manifest("kubernetes-access"))
        namespace_secrets(self.cluster, "airflow", self.stack.registry)
        self.project, self.commit = example_project(folder)
        self.image_repo = f"{self.stack.registry.host}/spaceflights-bench"
        self.image = f"{self.image_repo}:{self.commit}"
        docker("build", "--network", "host", *self.stack.build_args("BASE_IMAGE"), "--tag", self.image,
               str(self.project))
        self.stack.login()
        docker("push", self.image)
        worker = self.cluster.token_kubeconfig("airflow", "airflow-worker", folder / "worker.kubeconfig")
        self.airflow = start_airflow(folder / "airflow", extra_env={"KUBECONFIG": str(worker)})
        self.client = AirflowClient(self.airflow.url, Credentials(username=self.airflow.username,
                                                                  password=self.airflow.password))

    def one_container(self) -> float:
        start = time.perf_counter()
        docker("run", "--rm", "--network", "none", "--env", "DB_URL=unused", self.image, "kedro", "run")
        return time.perf_counter() - start

    def on_cluster(self, name: str, grouping: str, **config: str) -> dict:
        settings = {"airflow_host": self.airflow.url, "dags_folder": str(self.airflow.dags_folder),
                    "image_repository": self.image_repo, "run_name": name, **config}
        env = {**os.environ, **self.airflow.env(), **{f"KEDRO_CONFIG_{k.upper()}": v for k, v in settings.items()}}
        watch, deferred = PodWatch(self.cluster, "airflow"), DeferredCount(self.client, name)
        result = subprocess.run([str(BIN / "kedro-af-ci"), "--project-path", str(self.project), "-e", "k8s",
                                 "--group-by", grouping, "run-once", "--wait-for-completion", "--poll-interval", "1",
                                 "--timeout", "1800"], env=env, capture_output=True, text=True, timeout=2400)
        pods, most_deferred = watch.stop(), deferred.stop()
        if result.returncode != 0:
            raise SystemExit(f"run-once {name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        [run] = self.client.latest_runs(name)
        tasks = {ti.task_id: ti for ti in self.client.task_instances(name, run.run_id)}
        overheads = [tasks[task].duration - seconds_between(pod["started"], pod["finished"])
                     for task, pod in pods.items() if task in tasks and pod.get("started") and pod.get("finished")]
        return {"wall": seconds_between(run.start_date, run.end_date), "pods": len(pods),
                "overhead": statistics.median(overheads), "overheads": overheads, "deferred": most_deferred}

    def stop(self) -> None:
        if self.airflow is not None:
            stop(self.airflow.proc)
        self.cluster.stop()
        self.stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    reason = why_not_here()
    if reason:
        raise SystemExit(f"no cluster here: {reason}")
    folder = Path(tempfile.mkdtemp(prefix="kaf-bench-k8s-"))
    bench = Bench(folder)
    try:
        single = bench.one_container()
        rows = [("`kedro run` in one container of the image", f"{single:.1f} s", "1 container", "-", "-")]
        for grouping in ("none", "auto", "namespace"):
            figures = bench.on_cluster(f"bench-{grouping}", grouping)
            rows.append((f"DAG on the cluster, `--group-by {grouping}`", f"{figures['wall']:.1f} s",
                         f"{figures['pods']} pods", f"{figures['overhead']:.1f} s "
                         f"({min(figures['overheads']):.1f} to {max(figures['overheads']):.1f})", "-"))
        figures = bench.on_cluster("bench-deferrable", "none", deferrable="true")
        rows.append(("the same, `deferrable: true`", f"{figures['wall']:.1f} s", f"{figures['pods']} pods",
                     f"{figures['overhead']:.1f} s", f"{figures['deferred']} of 1000"))
    finally:
        bench.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print("| run | wall time | pods | per-pod overhead, median (range) | triggerer slots at most |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
