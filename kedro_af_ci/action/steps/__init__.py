"""The action's steps, in flow order, sharing one :class:`RunContext` (context.py).

inputs → git → config → the workflow's settings present (in CI) → config narrowed to them → build →
extract → compile (with the pre-flight) → push → Airflow → dry-run file, upload or run-once; the
report is written by the caller whatever happened. Each step reads only what an earlier one put in
the context, so git and the plugin config are read once, and the graph reaches the compile in
memory. The order is the guarantee: an image is pushed, and a DAG uploaded, only after that DAG
passed the pre-flight; a failure stops the run before either. With ``delete: true`` the steps are
git → delete the branch's DAG. One module per concern: settings.py (what the run is), image.py (the
project image and its graph), airflow.py (compile and Airflow), delete.py (a branch's DAG removed).
"""

from __future__ import annotations

from .airflow import compile_and_verify, connect_airflow, link_dag, run_once, upload, write_dry_run
from .context import RunContext, Step, read_inputs, workspace_of
from .delete import client_for_deployment, delete_branch_dag
from .image import build_image, extract_graph, push_image
from .settings import apply_policy, check_ci_settings, read_config, read_git, refuse_production_targets

STEPS: tuple[Step, ...] = (read_git, read_config, check_ci_settings, refuse_production_targets, apply_policy,
                           build_image, extract_graph,
                           compile_and_verify, push_image, connect_airflow, link_dag, write_dry_run, upload, run_once)
DELETE_STEPS: tuple[Step, ...] = (read_git, delete_branch_dag)

__all__ = ["DELETE_STEPS", "STEPS", "RunContext", "Step", "apply_policy", "build_image", "check_ci_settings",
           "client_for_deployment", "compile_and_verify", "connect_airflow", "delete_branch_dag", "extract_graph",
           "link_dag", "push_image", "read_config", "read_git", "read_inputs", "refuse_production_targets",
           "run_once", "upload", "workspace_of", "write_dry_run"]
