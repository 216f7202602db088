"""The hmtDNA notebooks' figures (§4.3 of the paper), every category in its fixed colour
(:mod:`rgdkit.plotting.colours`): variants per genome against both references (Fig. S1), the σ
sweep with its disks (Figs. S3 and 3c), and classification bars with their floor (Shepard plots:
:mod:`rgdkit.plotting.shepard`).

Nothing here saves or shows a figure (save with :func:`rgdkit.plotting.figures.save_figure`).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rgdkit.plotting import colours, figures

CLASSIFIER_NAMES = {"logistic": "logistic regression", "xgboost": "XGBoost"}
CLASSIFIER_SHADES = {"logistic": "0.78", "xgboost": "0.4"}
MAJORITY_COLOUR = "tab:red"


def plot_variants_per_genome(ax, counts):
    """Overlaid histograms of the number of variants per genome, one per reference sequence
    (the paper's Figure S1): ``counts`` maps a reference name ("RSRS", "rCRS") to an integer
    array, one entry per genome. One bin per count while the counts span at most 120 integers,
    else bins of equal integer width (:func:`rgdkit.plotting.figures.whole_number_edges`); the
    legend gives each reference's median. ValueError for no counts or an empty array."""
    if not counts or any(len(values) == 0 for values in counts.values()):
        raise ValueError("counts must map each reference to a non-empty array of counts")
    every_count = np.concatenate([np.asarray(values) for values in counts.values()])
    bins = figures.whole_number_edges(every_count, 120)
    for name, values in counts.items():
        colour = colours.colour_of(name, "reference")
        ax.hist(values, bins=bins, color=colour, alpha=0.35)
        ax.hist(values, bins=bins, color=colour, histtype="step", linewidth=1.2,
                label=f"against the {name} (median {np.median(values):.0f})")
    ax.set(xlabel="variants per genome", ylabel="genomes")
    ax.legend(fontsize="small")
    return ax


def group_legend(target, labels, family="haplogroup", title="haplogroup", **legend_kw):
    """A legend on ``target`` (a figure, subfigure or axes) with one entry per label of
    ``labels`` present, in its fixed colour (:func:`rgdkit.plotting.colours.legend_handles`)."""
    options = {"fontsize": "small", "title": title, **legend_kw}
    return target.legend(handles=colours.legend_handles(labels, family), **options)


def plot_sigma_sweep(sweep, disks, labels, radius, metrics=("train_f1", "train_spearman")):
    """The noise-scale sweep (the paper's Figure S3, with the disks of its Figure 3c).

    ``sweep`` holds one fit record per row (a DataFrame or records) with a ``σ`` column, the
    ``metrics`` and ``diverged_at``; ``disks`` maps each σ to its training latents on the
    Poincaré disk (N, 2) and ``labels`` are the haplogroup groups of those N genomes. Top row:
    each metric against σ (:func:`rgdkit.plotting.figures.plot_metric_by_setting`: a diverged
    fit is a red cross with a legend entry). Bottom row: one disk per σ, all of radius
    ``radius`` and shown whole, in the fixed haplogroup colours, with one legend. Returns the
    figure.
    """
    records = sweep.to_dict("records") if hasattr(sweep, "to_dict") else list(sweep)
    fig = plt.figure(figsize=(max(11.0, 3.0 * len(disks) + 2.0), 8.0), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 1.0])
    for ax, metric in zip(top.subplots(1, len(metrics)), metrics):
        figures.plot_metric_by_setting(ax, records, "σ", metric, label="H², seed 0")
        ax.legend(fontsize="small")
    point_colours = colours.label_colours(labels, "haplogroup")
    # a DataFrame holds a fit that did not diverge as NaN, one that did as a float epoch
    diverged = {r["σ"]: int(r["diverged_at"]) for r in records if pd.notna(r.get("diverged_at"))}
    for ax, (sigma, points) in zip(np.atleast_1d(bottom.subplots(1, len(disks))), disks.items()):
        title = f"σ = {sigma:g}"
        if sigma in diverged:
            title += f"\n(diverged at epoch {diverged[sigma]}; best state)"
        figures.plot_poincare_disk(points, colors=point_colours, radius=radius, ax=ax, s=3,
                                   title=title)
    group_legend(bottom, labels, loc="outside right center", ncol=2)
    return fig


def plot_classification(ax, table, published=None):
    """One target's rows of :func:`rgdkit.metrics.classification.classification_table`: per model
    a logistic-regression and an XGBoost bar (mean ± std over folds), the majority-class accuracy
    (``majority_accuracy``) as a dashed line, and ``published`` ({model: accuracy}, the extended
    paper's XGBoost values) as black diamonds on the XGBoost bars; a legend below the axes.
    ValueError when ``table`` holds more than one target."""
    if table["target"].nunique() != 1:
        raise ValueError(f"plot one target per axes, got {sorted(table['target'].unique())}")
    models = list(dict.fromkeys(table["model"]))
    rows = np.arange(len(models))
    height = 0.4
    for offset, classifier in zip((-height / 2, height / 2), CLASSIFIER_NAMES):
        bars = table[table["classifier"] == classifier].set_index("model").reindex(models)
        ax.barh(rows + offset, bars["accuracy_mean"], height, xerr=bars["accuracy_std"],
                color=CLASSIFIER_SHADES[classifier], capsize=2, label=CLASSIFIER_NAMES[classifier])
        known = [(i, published[m]) for i, m in enumerate(models) if m in (published or {})]
        if classifier == "xgboost" and known:
            ax.scatter([v for _, v in known], [i + offset for i, _ in known], marker="D",
                       color="k", zorder=3, label="extended paper, XGBoost")
    floor = float(table["majority_accuracy"].iloc[0])
    ax.axvline(floor, color=MAJORITY_COLOUR, linestyle="--",
               label=f"majority class ({floor:.2f})")
    ax.set_yticks(rows, models)
    ax.invert_yaxis()
    ax.set(xlabel="5-fold accuracy", xlim=(0, 1.02))
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    return ax
