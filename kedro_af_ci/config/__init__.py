"""Typed plugin configuration: ``conf/<base|env>/airflow-k8s.yaml`` → :class:`PluginConfig`.

Every key of the kedro-airflow-k8s configuration reference is modelled, one module per concern, and
validated strictly (unknown keys are errors, with a "did you mean"), because a typo that silently
drops a resource limit or a secret only shows up as a broken run in production. Each field carries
its description, from which the key reference (docs/configuration.md) is generated (:mod:`.reference`).
"""

from __future__ import annotations

from .common import Choice, StrictModel
from .dependencies import ExternalDependency
from .docker import DockerConfig
from .loading import CONFIG_FILENAMES, config_files, load_config
from .mlflow import AuthenticationConfig, MlflowConfig
from .notifications import FailureHandler, SlackFailureHandler
from .resources import PodTemplateConfig, ResourceConfig, Toleration
from .run import (
    CREDENTIALS_IN_URL,
    RENAMED,
    Execution,
    Grouping,
    PluginConfig,
    PodSecurity,
    RunConfig,
    check_host,
)
from .schedule import check_cron
from .secrets import SecretConfig
from .spark import (
    AnySpark,
    ClusterSpark,
    CustomSpark,
    DataprocSpark,
    KubernetesSpark,
    SparkConfig,
    SparkType,
    spark_config,
)
from .substitution import ENV_PREFIX, Substitution, jinja_literal
from .volume import VolumeConfig

__all__ = [
    "CONFIG_FILENAMES",
    "CREDENTIALS_IN_URL",
    "ENV_PREFIX",
    "RENAMED",
    "AnySpark",
    "AuthenticationConfig",
    "Choice",
    "ClusterSpark",
    "CustomSpark",
    "DataprocSpark",
    "DockerConfig",
    "Execution",
    "ExternalDependency",
    "FailureHandler",
    "Grouping",
    "KubernetesSpark",
    "MlflowConfig",
    "PluginConfig",
    "PodSecurity",
    "PodTemplateConfig",
    "ResourceConfig",
    "RunConfig",
    "SecretConfig",
    "SlackFailureHandler",
    "SparkConfig",
    "SparkType",
    "StrictModel",
    "Substitution",
    "Toleration",
    "VolumeConfig",
    "check_cron",
    "check_host",
    "config_files",
    "jinja_literal",
    "load_config",
    "spark_config",
]
