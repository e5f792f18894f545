"""Strings that are Jinja for Airflow to render at run time: the tool's own (``AirflowTemplate``) and
the config's (``ConfigTemplate``). Every other string of a templated field is protected from Jinja by
the encoders (render/templating.py); these two are the only ones passed through, and in CI the policy reads
the config's first (docs/architecture.md, "Trust"). No imports: the isolated child ships this file."""

from __future__ import annotations


class AirflowTemplate(str):
    """A string that is Jinja for Airflow to render at run time (e.g. the per-run cluster name).

    Every other string in operator arguments is protected from Jinja; pass these through unchanged
    (or wrap your own template in this class) when a factory builds its arguments."""


class ConfigTemplate(AirflowTemplate):
    """Jinja written in the config (``env_vars``, pod templates): Airflow renders it, and in CI the
    deployment's policy reads it first (docs/architecture.md, "Trust")."""
