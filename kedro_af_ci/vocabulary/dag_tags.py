"""The DAG tags this tool writes and reads back (docs/architecture.md, "Trust"): that it generated
the DAG, from which branch, repository and commit, and its content hash. Delete, prune and the
replace check trust them, so a config's own tags may not look like one of them."""

from __future__ import annotations

TAG_PREFIX = "generated_with_kedro_airflow_k8s"
EXPERIMENT_TAG = "experiment:"
EXPERIMENT_TAGS = (EXPERIMENT_TAG, "experiment_name:")  # this tool's, and the predecessor's (kedro-airflow-k8s)
BRANCH_TAG = "branch:"  # whose DAG it is: a DAG is replaced or deleted only by its own branch
REPOSITORY_TAG = "repository:"
COMMIT_TAG = "commit:"
CONTENT_TAG = "dag_hash:"
MAX_TAG = 100  # Airflow's limit on a tag's length
RESERVED = (TAG_PREFIX, *EXPERIMENT_TAGS, BRANCH_TAG, REPOSITORY_TAG, COMMIT_TAG, CONTENT_TAG)


def check_user_tag(value: str) -> str:
    """A tag of the config: 1 to 100 characters, and none of the tool's own (any case)."""
    if not value.strip() or len(value) > MAX_TAG:
        raise ValueError(f"{value[:120]!r}: a DAG tag has 1 to {MAX_TAG} characters")
    if value.lower().startswith(RESERVED):
        raise ValueError(f"{value!r}: tags starting with {', '.join(RESERVED)} are the tool's own (they say "
                         "whose DAG it is); choose another tag")
    return value
