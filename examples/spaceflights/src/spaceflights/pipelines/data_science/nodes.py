import logging

import numpy as np
import pandas as pd


def split_data(data: pd.DataFrame, parameters: dict) -> tuple:
    features = data[parameters["features"]].astype(float)
    target = data["price"].astype(float)
    rng = np.random.default_rng(parameters["random_state"])
    test = rng.random(len(data)) < parameters["test_size"]
    return features[~test], features[test], target[~test], target[test]


def train_model(X_train: pd.DataFrame, y_train: pd.Series) -> np.ndarray:
    design = np.column_stack([np.ones(len(X_train)), X_train.to_numpy()])
    coefficients, *_ = np.linalg.lstsq(design, y_train.to_numpy(), rcond=None)
    return coefficients


def evaluate_model(regressor: np.ndarray, X_test: pd.DataFrame, y_test: pd.Series) -> dict:
    design = np.column_stack([np.ones(len(X_test)), X_test.to_numpy()])
    predicted = design @ regressor
    residual = float(((y_test.to_numpy() - predicted) ** 2).sum())
    total = float(((y_test.to_numpy() - y_test.mean()) ** 2).sum()) or 1.0
    score = 1 - residual / total
    logging.getLogger(__name__).info("Model has a coefficient R^2 of %.3f on test data.", score)
    return {"r2_score": score, "n_test": len(y_test)}
