"""Project settings: Kedro defaults (OmegaConfigLoader)."""

CONFIG_LOADER_ARGS = {"base_env": "base", "default_run_env": "local"}
