"""Project settings: Kedro defaults (OmegaConfigLoader), and the MLflow node hook."""

from spaceflights.hooks import MlflowNodeHook

CONFIG_LOADER_ARGS = {"base_env": "base", "default_run_env": "local"}
HOOKS = (MlflowNodeHook(),)
