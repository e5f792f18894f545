"""The choice lists users type (no imports: the CLI's --help reads them without loading pydantic). The
config's enums are checked against them when it loads, and tests keep action.yml and README equal."""

from __future__ import annotations

GROUPINGS: tuple[str, ...] = ("auto", "none", "memory", "namespace", "tag")
