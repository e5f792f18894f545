"""Start (or reuse) and terminate the MLflow run of one Airflow DAG run.

This file is self-contained on purpose: the generated DAG embeds its source and runs it with
``python -c`` in the project image (or, in local execution, in the worker's project environment),
where MLflow is installed because the project uses it and this package is not. It must import
nothing but the standard library and ``mlflow``.

    start --experiment E --run-name N --key DAG_ID/RUN_ID [--tracking-uri U] [--tag k=v ...] [--xcom]
          [--print-run-id]
    end --run-id R --status FINISHED|FAILED [--tracking-uri U]

``start`` is idempotent per DAG run: a retried or cleared start task finds the run tagged with the
same key and reuses it, so one DAG run never leaves two MLflow runs behind. It prints the run id as
a JSON line and, with ``--xcom``, writes it where the KubernetesPodOperator's sidecar reads XComs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

KEY_TAG = "kedro_af_ci.run_key"  # sha256 of the key: MLflow's filter syntax cannot quote every run id
XCOM_FILE = "/airflow/xcom/return.json"
STATUSES = ("FINISHED", "FAILED", "KILLED")


def _client(tracking_uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri or None)


def _experiment_id(client, name):
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(name)
        except Exception:  # created meanwhile by a parallel DAG run
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage == "deleted":  # someone deleted it on purpose: say so, never undo it
        raise SystemExit(f"MLflow experiment {name!r} is deleted; restore it in MLflow or set another "
                         "experiment_name")
    return experiment.experiment_id


def start(args):
    client = _client(args.tracking_uri)
    experiment_id = _experiment_id(client, args.experiment)
    key = hashlib.sha256(args.key.encode("utf-8")).hexdigest()
    found = client.search_runs([experiment_id], filter_string=f"tags.`{KEY_TAG}` = '{key}'", max_results=1)
    if found:
        run_id = found[0].info.run_id
        reused = True
        if found[0].info.status != "RUNNING":  # the DAG run was cleared and runs again
            client.update_run(run_id, status="RUNNING")
    else:
        tags = dict(item.split("=", 1) for item in args.tag)
        tags[KEY_TAG] = key
        tags["airflow.run"] = args.key
        tags["mlflow.runName"] = args.run_name
        run_id = client.create_run(experiment_id, tags=tags, run_name=args.run_name).info.run_id
        reused = False
    result = {"run_id": run_id, "experiment_id": experiment_id, "reused": reused}
    print(json.dumps(result))
    if args.print_run_id:  # DockerOperator's XCom is the last line of the container's output
        print(run_id)
    if args.xcom:
        os.makedirs(os.path.dirname(XCOM_FILE), exist_ok=True)
        with open(XCOM_FILE, "w", encoding="utf-8") as handle:
            json.dump(run_id, handle)
    return 0


def end(args):
    if not args.run_id or args.run_id == "None":
        print(json.dumps({"run_id": None, "status": None, "skipped": "no MLflow run was started"}))
        return 0
    _client(args.tracking_uri).set_terminated(args.run_id, status=args.status)
    print(json.dumps({"run_id": args.run_id, "status": args.status}))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kedro-af-ci-mlflow")
    commands = parser.add_subparsers(dest="command", required=True)
    p_start = commands.add_parser("start")
    p_start.add_argument("--experiment", required=True)
    p_start.add_argument("--run-name", required=True)
    p_start.add_argument("--key", required=True)
    p_start.add_argument("--tracking-uri")
    p_start.add_argument("--tag", action="append", default=[])
    p_start.add_argument("--xcom", action="store_true")
    p_start.add_argument("--print-run-id", action="store_true")
    p_end = commands.add_parser("end")
    p_end.add_argument("--run-id", default="")
    p_end.add_argument("--status", choices=STATUSES, required=True)
    p_end.add_argument("--tracking-uri")
    args = parser.parse_args(argv)
    return start(args) if args.command == "start" else end(args)


if __name__ == "__main__":
    sys.exit(main())
