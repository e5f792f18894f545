"""Instead of deploying: a branch's DAG deleted, and the deployment's Airflow as a cleanup sees it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import ConfigError
from ...image.docker import branch_tag, image_ref, repository_of

if TYPE_CHECKING:
    from ...deliver.client import AirflowClient


from .airflow import _client
from .context import RunContext
from .settings import CI_VARIABLES, _read_workflow_settings, apply_policy, read_config


def delete_branch_dag(ctx: RunContext) -> None:
    """Instead of deploying: remove the branch's DAG, its file then its entry in Airflow (deliver/delete.py),
    refusing another branch's DAG, a scheduled one and the default branch's."""
    from ...compiler.project import project_dag_id
    from ...deliver.delete import DeleteRequest, delete_pipeline
    from ...gitinfo.commit import default_branch
    from ...plan.model import owner_tag, owner_tags
    from ...policy.settings import destination
    from ...vocabulary.dag_tags import BRANCH_TAG

    inputs = ctx.inputs
    _read_workflow_settings(ctx)
    if inputs.dag_id:
        dag_id, location, host = inputs.dag_id, ctx.policy.output, ctx.trusted_host
    else:
        read_config(ctx)
        apply_policy(ctx)
        dag_id, host = project_dag_id(ctx.config, ctx.project), ctx.trusted_host
        location = destination(ctx.config.output, ctx.policy)[0]
    location = _require_for_delete(location, host)
    client = _client(ctx, host, credentials=True)
    assert client is not None  # _require_for_delete: the workflow names the host
    request = DeleteRequest(dag_id=dag_id, destination=location,
                            owner_tags=owner_tags(ctx.git.branch_name, ctx.git.repository),
                            default_branch_tag=owner_tag(BRANCH_TAG, default_branch(ctx.environ)))
    with ctx.reporter.section(f"Delete DAG {dag_id}"):
        outcome = delete_pipeline(client, request)
    ctx.summary.dag_id = dag_id
    ctx.output("dag-id", dag_id)
    said = [f"removed {outcome.file}" if outcome.file else "", "removed from Airflow" if outcome.in_airflow else ""]
    ctx.summary.deleted = "; ".join(part for part in said if part) or "nothing was there"
    ctx.reporter.line(f"Deleted DAG {dag_id!r} of branch {ctx.git.branch_name!r}: {ctx.summary.deleted}")
    ctx.summary.image_cleanup = _remove_branch_image(ctx, client)
    ctx.reporter.line(f"Image: {ctx.summary.image_cleanup}")


def client_for_deployment(ctx: RunContext) -> tuple[AirflowClient, str]:
    """The deployment's Airflow, with its credentials, and its DAGs location: the workflow's settings only."""
    _read_workflow_settings(ctx)
    location = _require_for_delete(ctx.policy.output, ctx.trusted_host)
    client = _client(ctx, ctx.trusted_host, credentials=True)
    assert client is not None  # _require_for_delete: the workflow names the host
    return client, location


def _remove_branch_image(ctx: RunContext, client: AirflowClient) -> str:
    """The branch's layer-cache tag, from the registry, when no DAG left in Airflow needs its image
    (deliver/registry.py); what happened, for the summary."""
    from ...deliver.registry import remove_branch_image
    from ..code_only import registry_for
    from ..records import record_tag

    inputs = ctx.inputs
    if not inputs.image:
        return "not checked: no image input (the branch's image tags are left in the registry)"
    repository, tag = repository_of(image_ref(inputs.image, "latest")), branch_tag(ctx.git.branch_name)
    in_use = {t.removeprefix("commit:") for dag in client.list_dags() for t in dag.tags if t.startswith("commit:")}
    registry, name = registry_for(inputs, repository, "pull,delete")
    said = remove_branch_image(registry, name, tag, in_use).describe(repository, tag)
    record = record_tag(ctx.git.branch_name)  # the code-only record (action/records.py)
    cleanup = remove_branch_image(registry, name, record, in_use)
    return f"{said}; {cleanup.describe(repository, record)}" if cleanup.removed or cleanup.left else said


def _require_for_delete(location: str | None, host: str) -> str:
    """The DAG's location, once both settings a delete needs are there."""
    missing = [f"  {CI_VARIABLES[what]}: {text}" for what, text, ok in (
        ("output", "the DAGs folder or bucket the DAG's file is in", location),
        ("host", "the Airflow to delete the DAG from (its token goes only to a host the workflow names)", host))
        if not ok]
    if missing:
        raise ConfigError("setting(s) of the workflow are missing (set these repository or CI/CD variables):\n"
                          + "\n".join(missing), key="input output" if not location else "input airflow-host")
    assert location is not None  # missing names it otherwise
    return location




