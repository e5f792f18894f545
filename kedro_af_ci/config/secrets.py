"""Kubernetes Secrets exposed to the tasks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..vocabulary import k8s_names as names
from .common import DnsSubdomain, StrictModel


class SecretConfig(StrictModel):
    """One Kubernetes Secret (or one key of it) as environment variables or files."""

    deploy_type: Literal["env", "volume"] = Field(
        default="env", description="`env`: as environment variables; `volume`: as files under `deploy_target`.")
    deploy_target: str | None = Field(
        default=None, description="`env` with `key`: the variable name; `volume`: the absolute mount path; "
                                  "left out for `env` without `key`.")
    secret: DnsSubdomain = Field(description="Name of the Kubernetes Secret.")
    key: str | None = Field(
        default=None, description="Key of the Secret to expose; without it `env` exposes every key as a variable.")

    @model_validator(mode="after")
    def _consistent(self) -> SecretConfig:
        if self.key is not None and not names.SECRET_KEY.match(self.key):
            raise ValueError(f"key {self.key!r} is not a valid Kubernetes secret key")
        if self.deploy_type == "volume":
            if not self.deploy_target or not self.deploy_target.startswith("/"):
                raise ValueError("deploy_type volume needs deploy_target: an absolute mount path")
        elif self.key is not None:
            if not self.deploy_target or not names.ENV_VAR_NAME.match(self.deploy_target):
                raise ValueError("deploy_type env with a key needs deploy_target: the environment variable name")
        elif self.deploy_target is not None:
            raise ValueError("deploy_type env without key exposes every key of the secret; "
                             "deploy_target must be left out (or give a key)")
        return self
