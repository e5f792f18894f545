"""Run under any Airflow: load a DAGs folder and write, as JSON, every task's built pod (and every
DockerOperator's rendered container: image, entrypoint, command, environment, mounts).

Used to compare Airflow 2 and Airflow 3 on the same generated files; the parts that differ by
design (random pod-name suffix, the airflow_version label) are normalised away.
"""

from __future__ import annotations

import json
import sys


class _TI:
    """What MLflow DAGs pull: the run id start_mlflow_run pushed."""

    def xcom_pull(self, task_ids=None, key="return_value"):
        return "mlflow-run-1"


class _DagRun:
    dag_id = "any"
    run_id = "manual__2026-11-22T10:00:00+00:00"

    def get_task_instances(self):  # the Airflow 2 path of the MLflow status macro
        return []


class _Variables:
    def __init__(self):
        self.value = self

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        return f"variable-{key}"


def _seconds(delta):
    return None if delta is None else delta.total_seconds()


def main(folder: str, output: str) -> None:
    try:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=folder, safe_mode=False)
    except ImportError:
        from airflow.models.dagbag import DagBag

        bag = DagBag(dag_folder=folder, include_examples=False, safe_mode=False)
    from kubernetes.client import ApiClient

    out = {"import_errors": {k.rsplit("/", 1)[-1]: v.strip().splitlines()[-1] for k, v in bag.import_errors.items()},
           "pods": {}, "tasks": {}, "containers": {}, "settings": {}, "dags": {}}
    client = ApiClient()
    for dag_id, dag in sorted(bag.dags.items()):
        out["tasks"][dag_id] = {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks}
        out["dags"][dag_id] = {"max_active_tasks": dag.max_active_tasks, "dagrun_timeout": _seconds(dag.dagrun_timeout),
                               "tags": sorted(dag.tags)}
        for task in dag.tasks:
            out["settings"][f"{dag_id}.{task.task_id}"] = {
                "retries": task.retries, "retry_delay": _seconds(task.retry_delay),
                "retry_exponential_backoff": bool(task.retry_exponential_backoff),
                "execution_timeout": _seconds(task.execution_timeout), "pool": task.pool,
                "pool_slots": task.pool_slots, "priority_weight": task.priority_weight, "queue": task.queue,
                "owner": task.owner, "inlets": sorted(a.uri for a in task.inlets),
                "outlets": sorted(a.uri for a in task.outlets),
                "group": None if task.task_group is None or task.task_group.is_root else task.task_group.group_id}
            context = {"ds": "2026-11-22", "run_id": "manual__2026-11-22T10:00:00+00:00", "dag": dag, "task": task,
                       "ti": _TI(), "dag_run": _DagRun(), "var": _Variables()}
            if type(task).__name__ == "DockerOperator":
                task.render_template_fields(context)
                out["containers"][f"{dag_id}.{task.task_id}"] = {
                    "image": task.image, "entrypoint": task.entrypoint, "command": task.command,
                    "environment": task.environment, "mounts": [dict(m) for m in task.mounts],
                    "user": task.user, "network_mode": task.network_mode, "mem_limit": task.mem_limit}
                continue
            if not hasattr(task, "build_pod_request_obj"):
                continue
            task.render_template_fields(context)
            pod = client.sanitize_for_serialization(task.build_pod_request_obj())
            pod["metadata"]["name"] = pod["metadata"]["name"].rsplit("-", 1)[0]
            pod["metadata"].get("labels", {}).pop("airflow_version", None)
            renamed = {}  # secret volumes get random names (secretvol<uuid>) in every Airflow version
            for i, volume in enumerate(pod["spec"].get("volumes", [])):
                if volume["name"].startswith("secretvol"):
                    renamed[volume["name"]] = f"secretvol-{i}"
                    volume["name"] = renamed[volume["name"]]
            for container in pod["spec"]["containers"]:
                for mount in container.get("volumeMounts", []):
                    mount["name"] = renamed.get(mount["name"], mount["name"])
            out["pods"][f"{dag_id}.{task.task_id}"] = pod
    with open(output, "w", encoding="utf-8") as handle:
        json.dump(out, handle, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
