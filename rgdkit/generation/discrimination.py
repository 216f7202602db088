"""How distinguishable generated data are from real data: a classifier two-sample test.

A gradient-boosted classifier (XGBoost) is trained to tell real held-out samples from as many
generated ones; its stratified k-fold cross-validated accuracy is the score. 0.5 means the
classifier cannot tell them apart (generated data as good as real for it), 1.0 that it always
can. The extended paper reports this on the cell-cycle data (RGD sphere 0.58, S-VAE 0.58,
ΔVAE 0.62).

Classifier settings (modest, so the score measures the data rather than the classifier's
capacity to memorise a few hundred points): 100 trees of depth at most 3, learning rate 0.1,
histogram tree method, one thread (``n_jobs=1``), ``random_state=seed``; override any with
``xgb_params``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, cross_val_score

import rgd_utils as R
from rgdkit.validation import check_integer
from rgdkit.validation import check_data

XGB_PARAMS = {"n_estimators": 100, "max_depth": 3, "learning_rate": 0.1, "tree_method": "hist",
              "n_jobs": 1, "verbosity": 0}
TABLE_COLUMNS = ["model", "discrimination_accuracy_mean", "discrimination_accuracy_std"]


def balanced_pair(real, generated, seed=0):
    """``(real, generated)`` with the larger set subsampled (without replacement, generator
    seeded with ``seed``) to the size of the smaller, after checking both are finite 2-D arrays
    with the same features."""
    real = check_data(real, "real")
    generated = check_data(generated, "generated", real.shape[1], "the real data")
    n = min(len(real), len(generated))
    rng = np.random.default_rng(seed)
    pick = lambda X: X if len(X) == n else X[np.sort(rng.choice(len(X), n, replace=False))]
    return pick(real), pick(generated)


def discrimination_accuracy(real, generated, folds=5, seed=0, xgb_params=None):
    """Mean and standard deviation (over folds, ddof 0) of the stratified ``folds``-fold
    cross-validated accuracy of XGBoost separating ``real`` (label 1) from ``generated``
    (label 0), after balancing them to equal counts (:func:`balanced_pair`). Both need at least
    ``folds`` rows after balancing. Returns ``(mean, std)``."""
    try:
        from xgboost import XGBClassifier  # optional dependency, only for this score
    except ImportError:
        raise ImportError("discrimination_accuracy needs XGBoost: pip install xgboost") from None

    folds = check_integer(folds, "folds", minimum=2)
    seed = check_integer(seed, "seed", minimum=0)
    real, generated = balanced_pair(real, generated, seed)
    if len(real) < folds:
        raise ValueError(f"{folds}-fold cross-validation needs at least {folds} real and {folds} "
                         f"generated samples, got {len(real)} after balancing; pass more samples "
                         "or fewer folds")
    X = np.concatenate([real, generated])
    y = np.concatenate([np.ones(len(real), int), np.zeros(len(generated), int)])
    classifier = XGBClassifier(**{**XGB_PARAMS, "random_state": seed, **(xgb_params or {})})
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_score(classifier, X, y, cv=cv, scoring="accuracy")
    return float(scores.mean()), float(scores.std())


def generation_table(rows, folds=5, seed=0, xgb_params=None):
    """One row per model, ``rows`` a dict {model name: (real, generated)}: a DataFrame with
    exactly the columns ``model``, ``discrimination_accuracy_mean``,
    ``discrimination_accuracy_std`` (:func:`discrimination_accuracy` with these settings)."""
    records = []
    for name, (real, generated) in rows.items():
        mean, std = discrimination_accuracy(real, generated, folds, seed, xgb_params)
        records.append({"model": name, "discrimination_accuracy_mean": mean,
                        "discrimination_accuracy_std": std})
    return pd.DataFrame(records, columns=TABLE_COLUMNS)
