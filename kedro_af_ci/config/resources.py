"""What a node's pod gets: resource profiles (requests, limits, scheduling, metadata) and pod templates."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .common import (
    AirflowKey,
    AnnotationValue,
    Duration,
    ImageRef,
    LabelKey,
    LabelValue,
    Quantity,
    ResourceName,
    StrictModel,
)

# the Airflow task settings a profile may set, in the order the DAG file lists them
TASK_SETTINGS = ("retries", "retry_delay", "retry_exponential_backoff", "execution_timeout", "pool", "pool_slots",
                 "priority_weight", "queue")


class Toleration(StrictModel):
    """A Kubernetes toleration of the pod."""

    key: str | None = Field(default=None, description="Taint key to tolerate; empty with `Exists`: every taint.")
    operator: Literal["Equal", "Exists"] = Field(
        default="Equal", description="`Equal`: the taint's value must be `value`; `Exists`: any value.")
    value: str | None = Field(default=None, description="Taint value to tolerate (operator `Equal`).")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="Taint effect to tolerate; empty: every effect.")
    toleration_seconds: int | None = Field(
        default=None, ge=0, description="With `NoExecute`: seconds the pod stays once tainted; empty: forever.")

    @model_validator(mode="after")
    def _exists_has_no_value(self) -> Toleration:
        if self.operator == "Exists" and self.value:
            raise ValueError("a toleration with operator Exists must not have a value")
        return self


class ResourceConfig(StrictModel):
    """A resource profile: what the pod of a node tagged ``resources.<name>`` asks Kubernetes for."""

    node_selectors: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Node labels the pod's node must have (`nodeSelector`).")
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, description="Labels of the pod.")
    annotations: dict[LabelKey, AnnotationValue] = Field(
        default_factory=dict, description="Annotations of the pod (e.g. `iam.amazonaws.com/role`).")
    tolerations: list[Toleration] = Field(default_factory=list, description="Tolerations of the pod.")
    requests: dict[ResourceName, Quantity] = Field(
        default_factory=dict,
        description="Requested resources by name (`cpu`, `memory`, `nvidia.com/gpu`…) as Kubernetes quantities "
                    "(`500m`, `2`, `1Gi`).")
    limits: dict[ResourceName, Quantity] = Field(
        default_factory=dict, description="Resource limits by name, as `requests`.")
    retries: int | None = Field(
        default=None, ge=0, description="Retries of these nodes' tasks; default `run_config.retries`.")
    retry_delay: Duration | None = Field(
        default=None, description="Wait before a retry: seconds, or ISO 8601 (`PT5M`); default Airflow's (300 s).")
    retry_exponential_backoff: bool | None = Field(
        default=None, description="Double the wait after each failed try (up to Airflow's `max_retry_delay`).")
    execution_timeout: Duration | None = Field(
        default=None, description="Longest a try may run (seconds or ISO 8601): past it the task fails, and "
                                  "retries if it has retries left; default: no limit.")
    pool: AirflowKey | None = Field(
        default=None, description="Airflow pool the tasks take slots of (it must exist in Airflow).")
    pool_slots: int | None = Field(default=None, ge=1, description="Slots of the pool each task takes (default 1).")
    priority_weight: int | None = Field(
        default=None, description="Priority of these tasks in the executor's queue (higher first; default 1).")
    queue: AirflowKey | None = Field(
        default=None, description="Executor queue of the tasks (CeleryExecutor's worker queues).")

    def over(self, base: ResourceConfig) -> ResourceConfig:
        """This profile layered on ``base``: mappings merge key by key, tolerations add up, task settings
        this profile leaves unset are the base's."""
        return ResourceConfig(
            node_selectors={**base.node_selectors, **self.node_selectors},
            labels={**base.labels, **self.labels},
            annotations={**base.annotations, **self.annotations},
            tolerations=[*base.tolerations, *(t for t in self.tolerations if t not in base.tolerations)],
            requests={**base.requests, **self.requests},
            limits={**base.limits, **self.limits},
            **{key: getattr(self, key) if getattr(self, key) is not None else getattr(base, key)
               for key in TASK_SETTINGS},
        )

    def task_settings(self) -> dict[str, object]:
        """The Airflow task settings this profile sets (TASK_SETTINGS order)."""
        return {key: getattr(self, key) for key in TASK_SETTINGS if getattr(self, key) is not None}


class PodTemplateConfig(StrictModel):
    """A pod template for the nodes tagged ``k8s_template.<name>``."""

    template: str = Field(
        description="Pod manifest (YAML) the pod starts from; Jinja in it is rendered by Airflow; the operator's "
                    "own settings win on conflict.")
    image: ImageRef | None = Field(default=None, description="Image of these nodes; default `run_config.image`.")
