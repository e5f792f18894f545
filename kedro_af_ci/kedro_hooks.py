"""A Kedro hook, registered by the plugin's entry point: this tool and kedro-airflow in one project.

kedro-airflow reads its config with the pattern ``airflow*`` unless the project sets one, so it
would load ``airflow-k8s.yaml`` too and fail on this tool's ``${name|default}`` values. The hook
gives it a default pattern that leaves ``airflow-*`` files out; a project's own choice stays.
"""

from __future__ import annotations

from typing import Any

from kedro.framework.hooks import hook_impl

KEDRO_AIRFLOW_PATTERNS = ["airflow[!-]*", "airflow/**"]  # airflow.yml, airflow_dev.yml, airflow/..., not airflow-k8s


class ConfigPatterns:
    @hook_impl
    def after_context_created(self, context: Any) -> None:
        patterns = getattr(context.config_loader, "config_patterns", None)
        if isinstance(patterns, dict):
            patterns.setdefault("airflow", list(KEDRO_AIRFLOW_PATTERNS))


hooks = ConfigPatterns()
