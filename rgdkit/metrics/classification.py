"""Downstream classification of latents: how well simple classifiers predict known labels (the
hmtDNA haplogroup's first letter, its region, its PhyloTree depth) from latent coordinates.

The extended paper reports XGBoost on the hmtDNA latents: on H² (σ = 0.5) first-letter accuracy
0.85 against 0.74 for the Euclidean RGD, region 0.97 against 0.85. Here:

- :func:`latent_features` turns latents into the coordinates a classifier sees;
- :func:`classification_targets` builds the label vectors from a haplogroup table;
- :func:`cross_validated_accuracy` scores one classifier on one target (stratified k-fold);
- :func:`classification_table` does every (latents, target, classifier) combination, with the
  majority-class floor (:func:`majority_accuracy`); :func:`mark_published` flags the extended
  paper's rows.

Labels are aligned with the latent rows; a missing label (None or NaN) marks a row that a target
leaves out (a rare class, an unknown depth), and :func:`classification_table` drops those rows
for that target only.
"""
from __future__ import annotations

import math
from collections import namedtuple

import geoopt
import numpy as np
import pandas as pd
import torch
from tqdm import tqdm  # text bars, as in rgd_utils

from rgdkit.data.hmtdna import first_letter_group, region_of
from rgdkit.manifolds import check_on_manifold
from rgdkit.metrics.distances import resolve_manifold
from rgdkit.metrics.trees import resolve_haplogroup

CLASSIFIERS = ("logistic", "xgboost")
MIN_CLASS_SIZE = 20  # classes with fewer genomes are dropped from a target
DEPTH_BINS = 4
# majority_accuracy: the accuracy of always answering the target's most common class, the floor
# any classifier must beat; n_genomes: the labelled rows the accuracy is over
TABLE_COLUMNS = ["model", "target", "classifier", "accuracy_mean", "accuracy_std",
                 "majority_accuracy", "n_genomes"]

# Modest XGBoost settings: 200 depth-4 trees at learning rate 0.1 fit a few thousand 2-3-D
# latents without tuning; "hist" and one thread keep it fast and deterministic for a seed.
XGBOOST_SETTINGS = dict(n_estimators=200, max_depth=4, learning_rate=0.1, tree_method="hist",
                        n_jobs=1)
LOGISTIC_MAX_ITER = 5000

Accuracy = namedtuple("Accuracy", ["mean", "std", "per_fold"])


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------
def latent_features(Z, manifold):
    """The coordinates a classifier sees for latents ``Z`` on ``manifold``: float64 (N, d) numpy.

    ``manifold`` is a geoopt manifold or a name (:func:`rgdkit.metrics.distances.resolve_manifold`:
    the dimension is read from the points' shape). The points are checked with
    :func:`rgdkit.manifolds.check_on_manifold` (ValueError when off the manifold).

    A Lorentz (hyperboloid) latent is mapped to the Poincaré ball of radius sqrt(k), the
    isometric model of the same curvature -1/k (geoopt's ``PoincareBall(c=1/k)``):
    p = sqrt(k) x[1:] / (sqrt(k) + x0), as :func:`rgdkit.plotting.figures.lorentz_to_poincare`.
    Why: the hyperboloid coordinates are unbounded and grow exponentially with the distance ρ
    from the origin (x0 = sqrt(k) cosh(ρ / sqrt(k))), so a few far points dominate a linear
    model's scaling, and x0 is a redundant function of the other coordinates; the ball
    coordinates are bounded (|p| < sqrt(k)), have one coordinate per latent dimension, and keep
    the directions seen from the origin. Every other manifold gives its raw coordinates,
    flattened per point (matrix manifolds), with complex entries as real then imaginary parts.
    """
    manifold = resolve_manifold(manifold, Z)
    points = check_on_manifold(Z, manifold, "Z")
    points = points.detach().cpu()
    points = points.to(torch.complex128 if points.is_complex() else torch.float64)
    if isinstance(manifold, geoopt.Lorentz):
        root_k = math.sqrt(float(manifold.k))
        points = root_k * points[:, 1:] / (root_k + points[:, :1])
    flat = points.reshape(len(points), -1)
    if flat.is_complex():
        flat = torch.cat([flat.real, flat.imag], dim=1)
    return flat.numpy()


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------
def classification_targets(table, tree=None, min_class_size=MIN_CLASS_SIZE, depth_bins=DEPTH_BINS,
                           verbose=True):
    """Label vectors for the rows of an hmtDNA ``table``: ``{target name: object array}``.

    Each array has one entry per row of ``table``, None where the target leaves the row out:

    - ``first_letter``: :func:`rgdkit.data.hmtdna.first_letter_group` of the ``Haplogroup``;
    - ``region``: :func:`rgdkit.data.hmtdna.region_of`, the continent where the haplogroup's
      clade is most frequent (from the haplogroup, every table has it);
    - ``continent``: where the genome was sampled, from ``Country`` (and ``Region``) with
      :func:`rgdkit.data.geography.continent_of`; only when the table has a ``Country`` column;
      unknown countries are left out;
    - ``main_geo_loc``: the paper's Hub tables' sampling region, when the table has it;
    - ``depth_bin`` (with a PhyloTree ``tree``, the RSRS one for depth from the root of human
      mtDNA): the haplogroup's depth ``tree.level`` binned into ``depth_bins`` quantile bins
      (fewer where ties merge bin edges), labelled ``"depth a-b"`` (``"depth a"`` for one
      depth). A name not in the tree is looked up without its ``+...`` private-mutation
      suffixes (haplogrep writes ``H1+16189``, one level below ``H1``; we use ``H1``'s depth);
      still unknown: left out.

    In every target, the unparseable label ``"?"`` and classes with fewer than
    ``min_class_size`` (default 20) labelled rows are left out: a handful of genomes gives no
    stable accuracy and would break stratified cross-validation. ``verbose`` prints what was left
    out.
    """
    if "Haplogroup" not in table:
        raise KeyError(f"the table has no 'Haplogroup' column (columns: {list(table.columns)})")
    haplogroups = [str(h) for h in table["Haplogroup"]]
    raw = {"first_letter": [first_letter_group(h) for h in haplogroups],
           "region": [region_of(h) for h in haplogroups]}
    if "Country" in table:
        from rgdkit.data.geography import UNKNOWN, continent_of
        regions = table["Region"] if "Region" in table else [""] * len(table)
        raw["continent"] = [None if (c := continent_of(country, region)) == UNKNOWN else c
                            for country, region in zip(table["Country"], regions)]
    if "main_geo_loc" in table:
        raw["main_geo_loc"] = [None if _missing(v) or not str(v).strip() else str(v)
                               for v in table["main_geo_loc"]]
    if tree is not None:
        raw["depth_bin"] = _depth_bins(haplogroups, tree, depth_bins)
    targets = {}
    for name, labels in raw.items():
        labels = np.array([None if _missing(v) or v == "?" else v for v in labels], dtype=object)
        targets[name] = drop_rare_classes(labels, min_class_size)
        if verbose:
            n_left = int(sum(v is None for v in targets[name]))
            print(f"target {name}: {len(set(targets[name]) - {None})} classes, "
                  f"{len(labels) - n_left} of {len(labels)} rows")
    return targets


def drop_rare_classes(labels, min_class_size=MIN_CLASS_SIZE):
    """``labels`` (object array) with the classes of fewer than ``min_class_size`` members set
    to None; missing labels stay None."""
    labels = np.array([None if _missing(v) else v for v in labels], dtype=object)
    counts = pd.Series([v for v in labels if v is not None], dtype=object).value_counts()
    rare = set(counts.index[counts < min_class_size])
    return np.array([None if v in rare else v for v in labels], dtype=object)


def haplogroup_depths(haplogroups, tree):
    """PhyloTree depth (``tree.level``) of each haplogroup, NaN where unknown; names not in the
    tree are looked up without their trailing ``+...`` suffixes
    (:func:`rgdkit.metrics.trees.resolve_haplogroup`)."""
    return np.array([_depth(h, tree) for h in haplogroups], dtype=np.float64)


def _depth(name, tree):
    node = resolve_haplogroup(name, tree)
    return np.nan if node is None else float(tree.level[node])


def _depth_bins(haplogroups, tree, n_bins):
    depth = pd.Series(haplogroup_depths(haplogroups, tree))
    if depth.isna().all():
        return [None] * len(haplogroups)
    bins = pd.qcut(depth, q=n_bins, duplicates="drop")
    return [None if _missing(b) else _bin_label(b) for b in bins]


def _bin_label(interval):
    low, high = _edge(interval.left, True), _edge(interval.right, False)
    return f"depth {low}" if low == high else f"depth {low}-{high}"


def _edge(value, left):
    """Integer depth at a bin edge: qcut's bins are (left, right], so left edges round up."""
    return int(math.floor(value) + 1) if left else int(math.floor(value))


def _missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


# --------------------------------------------------------------------------------------------
# Cross-validated accuracy
# --------------------------------------------------------------------------------------------
def cross_validated_accuracy(features, target, classifier, folds=5, seed=0):
    """Stratified ``folds``-fold cross-validated accuracy of ``classifier`` predicting
    ``target`` from ``features``; returns ``Accuracy(mean, std, per_fold)``.

    ``classifier``:

    - ``"logistic"``: StandardScaler then multinomial LogisticRegression (lbfgs, C = 1,
      ``LOGISTIC_MAX_ITER`` iterations);
    - ``"xgboost"``: ``xgboost.XGBClassifier`` with :data:`XGBOOST_SETTINGS` (200 trees of
      depth 4, learning rate 0.1, ``tree_method="hist"``, one thread) and ``random_state=seed``,
      on integer-encoded labels.

    The folds are shuffled with ``seed``; std is over folds (population std, ddof 0). ValueError
    for: features not 2-D (a 1-D vector is one feature), NaN or infinite features, a length
    mismatch, missing labels (drop those rows first, or use :func:`classification_table`), fewer
    than two classes, a class with fewer members than ``folds``, an unknown classifier.
    """
    from sklearn.model_selection import StratifiedKFold

    X, y = _check_inputs(features, target, classifier, folds)
    codes = np.unique(y, return_inverse=True)[1].ravel()
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = []
    for train, test in splitter.split(X, codes):
        model = _make_classifier(classifier, seed)
        model.fit(X[train], codes[train])
        scores.append(float(np.mean(np.asarray(model.predict(X[test])).ravel() == codes[test])))
    scores = np.array(scores)
    return Accuracy(float(scores.mean()), float(scores.std()), scores)


def _check_inputs(features, target, classifier, folds):
    if classifier not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {classifier!r}; use one of {CLASSIFIERS}")
    X = features.detach().cpu().numpy() if torch.is_tensor(features) else np.asarray(features)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"features must be (N, d), got shape {X.shape}")
    X = X.astype(np.float64)
    if not np.isfinite(X).all():
        bad = np.flatnonzero(~np.isfinite(X).all(1))
        raise ValueError(f"features have NaN or inf in {len(bad)} rows (first: "
                         f"{bad[:5].tolist()}); drop or fix them before classifying")
    y = np.asarray(target, dtype=object).ravel()
    if len(y) != len(X):
        raise ValueError(f"{len(X)} feature rows but {len(y)} labels; they must match")
    missing = np.array([_missing(v) for v in y], dtype=bool)
    if missing.any():
        raise ValueError(f"{int(missing.sum())} labels are missing (None/NaN); drop those rows "
                         "first (classification_table does)")
    classes, counts = np.unique(y.astype(str), return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"need at least two classes, got {classes.tolist()}")
    if counts.min() < folds:
        small = {str(c): int(n) for c, n in zip(classes, counts) if n < folds}
        raise ValueError(f"{len(small)} classes have fewer members than the {folds} folds "
                         f"({small}); drop them (drop_rare_classes) or use fewer folds")
    return X, y.astype(str)


def _make_classifier(name, seed):
    if name == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        return make_pipeline(StandardScaler(),
                             LogisticRegression(max_iter=LOGISTIC_MAX_ITER, random_state=seed))
    import xgboost
    return xgboost.XGBClassifier(**XGBOOST_SETTINGS, random_state=seed)


# --------------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------------
def classification_table(latents, targets, classifiers=CLASSIFIERS, folds=5, seed=0,
                         verbose=True):
    """Cross-validated accuracy for every model, target and classifier, as a DataFrame with the
    columns :data:`TABLE_COLUMNS`: ``model, target, classifier, accuracy_mean, accuracy_std``,
    then ``majority_accuracy`` (:func:`majority_accuracy` of the target's labelled rows: what
    always answering the most common class scores) and ``n_genomes`` (those rows).

    ``latents`` maps a model name to ``(Z, manifold)`` (features from :func:`latent_features`);
    ``targets`` maps a target name to labels aligned with the rows of every ``Z`` (e.g. from
    :func:`classification_targets`). Rows whose label is missing (None/NaN) are dropped for that
    target only. ``verbose`` shows a progress bar over the (model, target, classifier) fits.
    """
    unknown = [c for c in classifiers if c not in CLASSIFIERS]
    if unknown:
        raise ValueError(f"unknown classifiers {unknown}; use some of {CLASSIFIERS}")
    rows = []
    bar = tqdm(total=len(latents) * len(targets) * len(classifiers), desc="classifiers",
               **({} if verbose else {"disable": True}))  # unset keeps TQDM_DISABLE working
    for model, (Z, manifold) in latents.items():
        X = latent_features(Z, manifold)
        for target_name, labels in targets.items():
            y = np.asarray(labels, dtype=object).ravel()
            if len(y) != len(X):
                raise ValueError(f"target {target_name!r} has {len(y)} labels but model "
                                 f"{model!r} has {len(X)} latents")
            keep = ~np.array([_missing(v) for v in y], dtype=bool)
            floor = majority_accuracy(y[keep])
            for classifier in classifiers:
                accuracy = cross_validated_accuracy(X[keep], y[keep], classifier, folds, seed)
                rows.append([model, target_name, classifier, accuracy.mean, accuracy.std, floor,
                             int(keep.sum())])
                bar.update()
    bar.close()
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def majority_accuracy(labels) -> float:
    """The accuracy of always predicting the most common of ``labels`` (its share of them): the
    floor a classifier has to beat. ValueError for no labels or a missing (None/NaN) one."""
    labels = np.asarray(labels, dtype=object).ravel()
    if len(labels) == 0:
        raise ValueError("no labels: majority_accuracy needs at least one")
    if any(_missing(v) for v in labels):
        raise ValueError("missing labels (None/NaN); drop those rows first")
    return float(pd.Series(labels.astype(str)).value_counts().iloc[0] / len(labels))


def mark_published(table, published):
    """``table`` (from :func:`classification_table`) with an ``in_paper`` column: True for the
    XGBoost rows whose (target, model) has a value in ``published`` ({target: {model:
    accuracy}}, e.g. :data:`rgdkit.experiments.paper.HMTDNA_CLASSIFICATION`), the extended
    paper's experiment; every other row is ours."""
    in_paper = [classifier == "xgboost" and model in published.get(target, {})
                for model, target, classifier in zip(table["model"], table["target"],
                                                     table["classifier"])]
    return table.assign(in_paper=in_paper)
