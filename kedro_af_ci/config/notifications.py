"""Failure handlers: who hears of a failed task."""

from __future__ import annotations

import string
from typing import Annotated, Literal

from pydantic import Field, field_validator

from .common import AirflowKey, StrictModel

PLACEHOLDERS = ("task", "dag", "execution_time", "url")
DEFAULT_MESSAGE = (
    ":red_circle: Task Failed.\n*Task*: {task}\n*Dag*: {dag}\n"
    "*Execution Time*: {execution_time}\n*Log Url*: {url}"
)


class SlackFailureHandler(StrictModel):
    """A Slack message on every failed task (the Slack provider's ``SlackWebhookNotifier``)."""

    type: Literal["slack"] = Field(description="Kind of handler: `slack`, the only one.")
    connection_id: AirflowKey = Field(default="slack", description="Airflow connection of the Slack webhook.")
    message_template: str = Field(
        default=DEFAULT_MESSAGE,
        description="Message sent; `{task}`, `{dag}`, `{execution_time}` and `{url}` are filled in at failure "
                    "time, the rest is sent verbatim.")

    @field_validator("message_template")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        except ValueError as exc:
            raise ValueError(f"message_template is not a valid format string: {exc}") from None
        unknown = sorted(fields - set(PLACEHOLDERS))
        if unknown:
            raise ValueError(f"message_template uses unknown placeholder(s) {unknown}; "
                             f"allowed: {sorted(PLACEHOLDERS)}")
        return value


FailureHandler = Annotated[SlackFailureHandler, Field(discriminator="type")]
