"""How well a decoder reconstructs data: MAE and MSE, or BCE and per-sample F1 for binary data."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score


def reconstruction_errors(X, X_hat):
    """Mean absolute and mean squared error between data and reconstruction."""
    diff = np.asarray(X, dtype=np.float64) - np.asarray(X_hat, dtype=np.float64)
    return {"mae": float(np.abs(diff).mean()), "mse": float(np.square(diff).mean())}


def binary_reconstruction_scores(X, P, threshold=0.5, eps=1e-7):
    """Mean binary cross-entropy of probabilities ``P`` for binary ``X``, and the mean over samples
    of the F1 score of ``P > threshold`` (a sample with no positives and none predicted scores 1)."""
    X = np.asarray(X, dtype=bool)
    P = np.clip(np.asarray(P, dtype=np.float64), eps, 1 - eps)
    bce = -np.where(X, np.log(P), np.log1p(-P)).mean()
    # a sample with no positives and none predicted scores 1 (zero_division)
    f1 = f1_score(X, P > threshold, average="samples", zero_division=1.0)
    return {"bce": float(bce), "f1": float(f1)}
