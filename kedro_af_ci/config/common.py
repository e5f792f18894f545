"""Shared pieces of the config sections: the strict base model, string enums and field types."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import Enum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from ..vocabulary import k8s_names as names


class StrictModel(BaseModel):
    """Unknown keys are errors; a loaded config is immutable; a mode stays its enum (a ``Choice``, which
    compares and prints as its value)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Choice(str, Enum):
    """A mode: compares, formats and prints as its value (Python 3.10 has no StrEnum)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:  # f-strings too, on every Python (3.12 changed str-mixins')
        return format(str(self.value), spec)

    def __repr__(self) -> str:  # messages quote it as the config wrote it: 'local'
        return repr(str(self.value))


def to_str_list(value: Any) -> Any:
    """A comma-separated string (the seed's form) as a list; None as an empty list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def plain_scalar_str(value: Any) -> Any:
    """YAML turns ``1`` or ``0.5`` into numbers; quantities and labels are strings to Kubernetes."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def check_resource_name(value: str) -> str:
    if not names.RESOURCE_NAME.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes resource name (e.g. cpu, memory, nvidia.com/gpu)")
    return value


def check_param_name(value: str) -> str:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*\Z", value):
        raise ValueError(f"{value!r} is not a valid name (letters, digits and '_', not starting with a digit)")
    return value


def check_variable_name(value: str) -> str:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]*\Z", value):
        raise ValueError(f"{value!r} is not a valid Airflow Variable name for a parameter "
                         "(letters, digits, '_', '.', '-')")
    return value


def check_env_name(value: str) -> str:
    if not names.ENV_VAR_NAME.match(value):
        raise ValueError(f"{value!r} is not a valid environment variable name")
    return value


def check_airflow_id(value: str | None) -> str | None:
    if value is not None and not names.AIRFLOW_KEY.match(value):
        raise ValueError(f"{value!r} is not a valid Airflow id (letters, digits, '_', '.', '-')")
    return value


Quantity = Annotated[str, BeforeValidator(plain_scalar_str), AfterValidator(names.check_quantity)]
DnsLabel = Annotated[str, AfterValidator(names.check_dns_label)]
DnsSubdomain = Annotated[str, AfterValidator(names.check_dns_subdomain)]
LabelKey = Annotated[str, AfterValidator(names.check_label_key)]
LabelValue = Annotated[str, BeforeValidator(plain_scalar_str), AfterValidator(names.check_label_value)]
AnnotationValue = Annotated[str, BeforeValidator(plain_scalar_str)]
ImageRef = Annotated[str, AfterValidator(names.check_image)]
ResourceName = Annotated[str, AfterValidator(check_resource_name)]
ParamName = Annotated[str, AfterValidator(check_param_name)]
VariableName = Annotated[str, AfterValidator(check_variable_name)]
EnvName = Annotated[str, AfterValidator(check_env_name)]
AirflowKey = Annotated[str, AfterValidator(check_airflow_id)]


def check_duration(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("a duration must be positive (seconds, or ISO 8601 such as PT30M)")
    return value


# seconds (3600) or ISO 8601 (PT1H, P1DT2H): pydantic's own parsing of both
Duration = Annotated[timedelta, AfterValidator(check_duration)]
