"""MLflow run tracking and the MLflow tasks' authentication."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, field_validator, model_validator

from ..vocabulary import k8s_names as names
from .common import StrictModel


def _auth_type(value: Any) -> Any:
    return "Null" if value is None or (isinstance(value, str) and value.lower() == "null") else value


class AuthenticationConfig(StrictModel):
    """Credentials of the MLflow tasks for the tracking server (the seed's MLflow authentication)."""

    type: Annotated[Literal["Null", "GoogleOAuth2", "Vars"], BeforeValidator(_auth_type)] = Field(
        default="Null",
        description="`Null`: none; `GoogleOAuth2`: an ID token for `GOOGLE_AUDIENCE` from the worker's "
                    "`GOOGLE_APPLICATION_CREDENTIALS`; `Vars`: the Airflow Variables named in `params`.")
    params: list[str] = Field(
        default_factory=list,
        description="`Vars`: Airflow Variables passed as environment variables of the same name "
                    "(e.g. `MLFLOW_TRACKING_USERNAME`).")

    @model_validator(mode="after")
    def _vars_need_params(self) -> AuthenticationConfig:
        if self.type == "Vars" and not self.params:
            raise ValueError("authentication type Vars needs params: the Airflow Variable names to expose")
        for param in self.params:
            if not names.ENV_VAR_NAME.match(param):
                raise ValueError(f"params entry {param!r} is not a valid environment variable name")
        return self


class MlflowConfig(StrictModel):
    """Beyond the original plugin: MLflow support is detected from the project's kedro-mlflow config
    (``conf/*/mlflow.yml``); these keys force it on or off and override its tracking URI."""

    enabled: bool | None = Field(
        default=None, description="Force MLflow tracking on or off; empty: on when the project has kedro-mlflow "
                                  "configuration (`mlflow.yml`).")
    tracking_uri: str | None = Field(
        default=None, description="Tracking server; default `mlflow.yml`'s `server.mlflow_tracking_uri`, then "
                                  "`MLFLOW_TRACKING_URI` in the pod. No credentials in it.")

    @field_validator("tracking_uri")
    @classmethod
    def _no_credentials(cls, value: str | None) -> str | None:
        if value and "@" in urlsplit(value).netloc:
            raise ValueError("the tracking URI carries credentials, which would be stored in the DAG; use "
                             "authentication (type Vars with MLFLOW_TRACKING_USERNAME/PASSWORD) instead")
        return value
