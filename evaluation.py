"""The experiment loop the notebooks share: fit over seeds, embed held-out samples, tabulate.

A model is fitted on the training split (validation split for early stopping), held-out samples
get test-time latents, and latent geodesic distances are correlated with a known reference
geometry (tree, circular phase, Hamming) on train and test. Tables are mean ± std over seeds.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import rgd_utils as R
from atomic_write import write_atomically

PROFILES = ("fast", "paper")
METRICS = ("train_pearson", "train_spearman", "test_pearson", "test_spearman", "test_mae", "test_mse")


def current_profile(default="fast"):
    """The run profile from ``RGD_PROFILE``: ``fast`` (minutes on a CPU) or ``paper`` (paper settings)."""
    profile = os.environ.get("RGD_PROFILE", default)
    if profile not in PROFILES:
        raise ValueError(f"RGD_PROFILE={profile!r} is not a profile; use one of {PROFILES}")
    return profile


def results_dir():
    """Where tables and figures go: ``RGD_RESULTS_DIR`` or ``results/``."""
    path = Path(os.environ.get("RGD_RESULTS_DIR", "results"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def subsample(n, max_n, seed=0):
    """At most ``max_n`` sorted indices out of ``n``, drawn without replacement."""
    if n <= max_n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_n, replace=False))


def embedding_scores(Z_train, Z_test, manifold, reference, train_idx, test_idx, max_points=3000):
    """Pearson and Spearman of latent distances with ``reference(indices)`` on train and test.

    ``reference`` maps row indices of the full data to their reference distance matrix; at most
    ``max_points`` points per split enter (pairs grow quadratically).
    """
    scores = {}
    for split, Z, idx in (("train", Z_train, train_idx), ("test", Z_test, test_idx)):
        keep = subsample(len(idx), max_points)
        p, s = R.distance_correlation(Z[keep], manifold, reference(np.asarray(idx)[keep]))
        scores[f"{split}_pearson"], scores[f"{split}_spearman"] = p, s
    return scores


def medoid(Z, manifold):
    """Row index of the point of ``Z`` with the smallest summed geodesic distance to the others:
    a representative of a group that, unlike a mean, is one of its members."""
    return int(R.pairwise_distances(Z, manifold).sum(1).argmin())


def fit_rgd(X, split, reference, seed, max_points=3000, **params):
    """Fit one RGD model; returns (record of metrics, fitted model, train latents, test latents)."""
    return _fit_and_score(R.RiemannianDecoder(seed=seed, **params), X, split, reference, seed, max_points)


def fit_pvae(X, split, reference, seed, max_points=3000, **params):
    """Fit one Poincaré VAE (:class:`pvae.PoincareVAE`) on the same split and metrics as
    :func:`fit_rgd`. Held-out samples are embedded by the encoder (posterior means). The record
    also carries the numerical failures: ``nan_epochs``, ``boundary_projections``, ``diverged_at``."""
    from pvae import PoincareVAE  # the baseline is optional for RGD users

    model = PoincareVAE(seed=seed, **params)
    record, *fitted = _fit_and_score(model, X, split, reference, seed, max_points)
    record.update(**model.failures_, diverged_at=model.diverged_at_)
    return (record, *fitted)


def _fit_and_score(model, X, split, reference, seed, max_points):
    """Fit ``model`` on the training split (validation split for early stopping), embed the test
    split and score both: distance correlations, test reconstruction errors, epochs and time."""
    train, val, test = split
    start = time.perf_counter()
    Z_train = model.fit_transform(X[train], X[val])
    fit_seconds = time.perf_counter() - start
    Z_test = model.transform(X[test])
    record = embedding_scores(Z_train, Z_test, model.manifold_, reference, train, test, max_points)
    errors = R.reconstruction_errors(X[test], model.inverse_transform(Z_test))
    record.update({f"test_{k}": v for k, v in errors.items()})
    record.update(seed=seed, epochs_run=len(model.history_["epoch"]), fit_seconds=fit_seconds)
    return record, model, Z_train, Z_test


def pullback_scores(model, Z, idx, reference, max_points=200, seed=0, **geodesic_kw):
    """Do pullback geodesic distances follow ``reference`` better than manifold distances?

    On a subsample of at most ``max_points`` of the latents ``Z`` (rows ``idx`` of the full data),
    all pairs get their pullback geodesic length under the fitted ``model``'s decoder
    (:func:`pullback.geodesic_distances`, ``geodesic_kw``: n_points of the curve, steps, lr,
    batch_size) and their manifold distance. Returns ``(scores, keep, lengths)``: Pearson and
    Spearman of both with the reference, the subsample's positions in ``Z`` and the pullback
    lengths (in :func:`rgd_utils.upper_triangle` order).
    """
    import pullback  # torch.func machinery, only needed here

    keep = subsample(len(idx), max_points, seed)
    Z_kept = np.asarray(Z)[keep]
    D_ref = reference(np.asarray(idx)[keep])
    lengths = pullback.geodesic_distances(model, Z_kept, model.manifold_, **geodesic_kw)
    scores = {"n_points": len(keep)}
    scores["manifold_pearson"], scores["manifold_spearman"] = R.distance_correlation(
        Z_kept, model.manifold_, D_ref)
    scores["pullback_pearson"], scores["pullback_spearman"] = R.correlate(lengths, R.upper_triangle(D_ref))
    return scores, keep, lengths


def pullback_table(scores, distance="manifold distance", reference="reference"):
    """:func:`pullback_scores` as a table: Pearson and Spearman rows, one column for the manifold
    distance (named ``distance``, e.g. "H² distance") and one for the pullback geodesic distance."""
    return pd.DataFrame({
        distance: [scores["manifold_pearson"], scores["manifold_spearman"]],
        "pullback geodesic distance": [scores["pullback_pearson"], scores["pullback_spearman"]],
    }, index=[f"Pearson with {reference} ({scores['n_points']} points)", f"Spearman with {reference}"])


def geodesic_pair_table(model, Z, pairs, n_points=32, steps=300):
    """Pullback geodesics between chosen pairs of latents ``Z`` beside the manifold's own geodesics.

    Returns ``(table, geodesics, manifold_geodesics)``: per pair (i, j) in ``pairs`` the manifold
    distance, the pullback length of the manifold geodesic, the length of the optimised pullback
    geodesic and the curve energy before and after optimising (never higher after: the
    optimiser keeps each curve's best state); the curves (n_points x ambient) to draw.
    """
    import pullback

    manifold = model.manifold_
    rows, geodesics, straight = [], [], []
    for i, j in pairs:
        curve, energy = pullback.geodesic(model, Z[i], Z[j], manifold, n_points=n_points, steps=steps)
        line, _ = pullback.geodesic(model, Z[i], Z[j], manifold, n_points=n_points, steps=0)
        geodesics.append(curve)
        straight.append(line)
        rows.append({"manifold distance": float(manifold.dist(torch.as_tensor(Z[i]), torch.as_tensor(Z[j]))),
                     "pullback length of the manifold geodesic": pullback.curve_length(model, line),
                     "pullback geodesic length": pullback.curve_length(model, curve),
                     "energy before": energy[0], "energy after": energy[-1]})
    return pd.DataFrame(rows), geodesics, straight


def umap_embedding(X_train, X_test, seed=0, n_neighbors=30, min_dist=0.99):
    """Seeded UMAP fitted on the training split; held-out samples placed with ``transform``."""
    import umap  # imported here: numba compiles on first import, which costs seconds

    # a seed makes UMAP single-threaded; saying so explicitly keeps its warning out of notebooks
    reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed, n_jobs=1)
    threads = torch.get_num_threads()
    try:
        return reducer.fit_transform(X_train), reducer.transform(X_test)
    finally:
        # UMAP's thread limiting leaves torch on every core; on a busy CPU every later fit then
        # ran 50-100 times slower (OpenMP threads spinning), so restore what the user had
        torch.set_num_threads(threads)


def summarise(records, by="model", metrics=METRICS):
    """Mean and std over seeds per model, with ``mean ± std`` text columns for reading."""
    df = pd.DataFrame(records)
    metrics = [m for m in metrics if m in df]
    grouped = df.groupby(by, sort=False)[metrics]
    mean, std = grouped.mean(), grouped.std(ddof=0).fillna(0.0)
    table = pd.DataFrame(index=mean.index)
    for m in metrics:
        # a metric a model has no value for (UMAP has no decoder, so no MSE) reads as a dash
        table[m] = [f"{a:.2f} ± {b:.2f}" if np.isfinite(a) else "—" for a, b in zip(mean[m], std[m])]
    table["n_seeds"] = df.groupby(by, sort=False).size()
    numeric = mean.add_suffix("_mean").join(std.add_suffix("_std"))
    return table, numeric


def beside_paper(numeric, paper, metrics=("train_pearson", "test_pearson")):
    """Our means next to the paper's reported values (rows of ``paper``: model -> {metric: value})."""
    rows = []
    for model, reported in paper.items():
        row = {"model": model}
        for m in metrics:
            ours = numeric[f"{m}_mean"].get(model, np.nan) if f"{m}_mean" in numeric else np.nan
            row[f"{m} (ours)"], row[f"{m} (paper)"] = round(float(ours), 3), reported.get(m, np.nan)
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def save_table(df, name, folder=None):
    """Write ``df`` as ``<folder>/<name>.csv`` atomically; returns the path."""
    return _write_atomically(lambda path: df.to_csv(path), f"{name}.csv", folder)


def save_anndata(adata, name, folder=None):
    """Write ``adata`` as ``<folder>/<name>.h5ad`` atomically (to continue in scanpy); returns the path."""
    return _write_atomically(lambda path: adata.write_h5ad(path), f"{name}.h5ad", folder)


def _write_atomically(write, filename, folder):
    folder = Path(folder) if folder is not None else results_dir()
    return write_atomically(folder / filename, write)


def latents_in_data_order(split, Z_train, Z_val, Z_test):
    """One (n, ambient) array with each split's latents back in the rows of the full data."""
    parts = [np.asarray(Z) for Z in (Z_train, Z_val, Z_test)]
    out = np.empty((sum(len(i) for i in split), parts[0].shape[1]), dtype=parts[0].dtype)
    for idx, Z in zip(split, parts):
        out[np.asarray(idx)] = Z
    return out
