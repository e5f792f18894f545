"""Project hooks.

``MlflowNodeHook`` stands in for kedro-mlflow in this example (kedro-mlflow pins a full MLflow
server install): when the DAG's ``start_mlflow_run`` task hands a run to the node through
``MLFLOW_RUN_ID``, each node records itself and its metrics in that run, at the tracking URI of
``conf/<env>/mlflow.yml`` as kedro-mlflow reads it. Without ``MLFLOW_RUN_ID`` it does nothing.
"""

from __future__ import annotations

import os

from kedro.framework.hooks import hook_impl


class MlflowNodeHook:
    def __init__(self) -> None:
        self.tracking_uri: str | None = None

    @hook_impl
    def after_context_created(self, context) -> None:
        if not os.environ.get("MLFLOW_RUN_ID"):
            return
        context.config_loader.config_patterns.setdefault("mlflow", ["mlflow*", "mlflow*/**"])
        try:
            conf = context.config_loader["mlflow"] or {}
        except Exception:  # no mlflow.yml
            conf = {}
        self.tracking_uri = (conf.get("server") or {}).get("mlflow_tracking_uri")

    @hook_impl
    def after_node_run(self, node, outputs) -> None:
        run_id = os.environ.get("MLFLOW_RUN_ID")
        if not run_id:
            return
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri)
        client.set_tag(run_id, f"kedro.node.{node.name}", "done")
        for output in outputs.values():
            if isinstance(output, dict):
                for key, value in output.items():
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        client.log_metric(run_id, f"{node.name}.{key}", float(value))
