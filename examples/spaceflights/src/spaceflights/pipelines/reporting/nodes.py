import pandas as pd


def compare_models(active: dict, candidate: dict, run_date: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"model": "active", **active, "run_date": run_date},
            {"model": "candidate", **candidate, "run_date": run_date},
        ]
    )
