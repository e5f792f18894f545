"""What the plan warns about, as values: a code to assert and filter by, the config key it concerns,
and the text users read. A ``PlanWarning`` is the text itself (a str), so logs and summaries print it."""

from __future__ import annotations


class PlanWarning(str):
    """``PlanWarning("memory-crossing", "run_config.grouping", "3 in-memory dataset(s) …")``."""

    code: str
    key: str

    def __new__(cls, code: str, key: str, text: str) -> PlanWarning:
        warning = super().__new__(cls, text)
        warning.code, warning.key = code, key
        return warning

    def __reduce__(self):  # pickles (the pre-flight worker) and copies keep the code and key
        return (PlanWarning, (self.code, self.key, str(self)))
