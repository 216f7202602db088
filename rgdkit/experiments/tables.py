"""Tables over seeds: mean ± std per model (the paper's tables: ``rgdkit.experiments.paper``)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from rgdkit.files.results import save_table


METRICS = ("train_pearson", "train_spearman", "test_pearson", "test_spearman", "test_mae", "test_mse")


def seed_table(records, by, measures):
    """One row per group of ``by``: ``n_seeds``, then the mean and std (ddof 0) of each of
    ``measures`` side by side (the scripts' tables of fits)."""
    grouped = pd.DataFrame(records).groupby(by, sort=False)
    table = grouped.size().rename("n_seeds").to_frame()
    for measure in measures:
        table[f"{measure}_mean"] = grouped[measure].mean()
        table[f"{measure}_std"] = grouped[measure].std(ddof=0)
    return table


def change_from(table, level, reference, measure):
    """Each row's mean of ``measure`` minus that of the row with ``reference`` at index level
    ``level`` and the same other levels; NaN where there is no such row."""
    means = table[f"{measure}_mean"]
    if reference not in means.index.get_level_values(level):
        return pd.Series(float("nan"), index=means.index)
    base = means.xs(reference, level=level)
    others = means.index.droplevel(level)
    return means - base.reindex(others).to_numpy()


def mean_std_text(means, stds):
    """``mean ± std`` with two decimals per entry; a dash where the mean is missing."""
    return [f"{a:.2f} ± {b:.2f}" if np.isfinite(a) else "—" for a, b in zip(means, stds)]


def summarise(records, by="model", metrics=METRICS):
    """Mean and std over seeds per model, with ``mean ± std`` text columns for reading."""
    df = pd.DataFrame(records)
    metrics = [m for m in metrics if m in df]
    grouped = df.groupby(by, sort=False)[metrics]
    mean, std = grouped.mean(), grouped.std(ddof=0).fillna(0.0)
    table = pd.DataFrame(index=mean.index)
    for m in metrics:
        # a metric a model has no value for (UMAP has no decoder, so no MSE) reads as a dash
        table[m] = mean_std_text(mean[m], std[m])
    table["n_seeds"] = df.groupby(by, sort=False).size()
    numeric = mean.add_suffix("_mean").join(std.add_suffix("_std"))
    return table, numeric


def save_summary(records, name, metrics=METRICS, folder=None):
    """:func:`summarise` ``records`` and save both tables (``<name>.csv``, ``<name>_numeric.csv``);
    returns ``(table, numeric)``."""
    table, numeric = summarise(records, metrics=metrics)
    save_table(table, name, folder)
    save_table(numeric, f"{name}_numeric", folder)
    return table, numeric
