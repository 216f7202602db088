"""The method on data nobody here prepared: scanpy's bundled krumsiek11 and pbmc68k_reduced.

Fits ``rgdkit.tl.rgd`` as a single-cell analyst would (H² with σ in {0, 0.5, 1}, a short
curvature sweep, R² with and without noise; no validation split, so every epoch runs) and prints,
per model, mean ± std over the seeds of the checks ``docs/own_data.md`` explains:

- ``MSE/var``: reconstruction MSE of the training cells (decoded latents, no noise) divided by
  the data's mean per-feature variance (1.0: no better than predicting the mean cell);
- ``rho PCA``: Spearman correlation of latent geodesic distances with Euclidean distances in PCA
  space (``X_pca``), over all pairs of cells: global geometry;
- ``rho graph``: Spearman with shortest-path distances along scanpy's kNN graph
  (``sc.pp.neighbors``, 15 neighbours, then ``scipy.sparse.csgraph.shortest_path``): the
  geometry along the data's manifold;
- ``kNN acc``: 5-fold accuracy of a 15-nearest-neighbour classifier on latent geodesic
  distances predicting the cell labels (krumsiek11 ``cell_type``, pbmc ``bulk_labels``): local
  structure;
- ``warn``: fits that raised ``PoorFit`` (collapsed to the data mean) or ``TrainingDiverged``.

PCA 2-D and UMAP (``sc.tl.umap``) are printed as references. Nothing is downloaded: both data
sets ship inside the scanpy package.

    python scripts/own_data_example.py [--epochs 200] [--seeds 0 1 2]
                                       [--datasets krumsiek11 pbmc68k_reduced]
"""
from __future__ import annotations

import argparse
import importlib.metadata
import platform
import sys
import time
import warnings

import numpy as np
import scanpy as sc
import torch
from scipy import stats
from scipy.sparse.csgraph import connected_components, shortest_path
from sklearn.decomposition import PCA
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier

import rgd_utils as R
from rgdkit import tl
from rgdkit.metrics import pairwise_distances

MODELS = {  # label -> rgdkit.tl.rgd parameters
    "H² k=1 σ=0": dict(manifold="lorentz", curvature=1.0, noise_std=0.0),
    "H² k=1 σ=0.5": dict(manifold="lorentz", curvature=1.0, noise_std=0.5),
    "H² k=1 σ=1": dict(manifold="lorentz", curvature=1.0, noise_std=1.0),
    "H² k=0.2 σ=0.5": dict(manifold="lorentz", curvature=0.2, noise_std=0.5),
    "H² k=5 σ=0.5": dict(manifold="lorentz", curvature=5.0, noise_std=0.5),
    "H² k=5 σ=1": dict(manifold="lorentz", curvature=5.0, noise_std=1.0),
    "R² σ=0": dict(manifold="euclidean", noise_std=0.0),
    "R² σ=1": dict(manifold="euclidean", noise_std=1.0),
}
DATASETS = {  # name -> (loader, the representation fitted, the label column)
    "krumsiek11": (sc.datasets.krumsiek11, None, "cell_type"),
    "pbmc68k_reduced": (sc.datasets.pbmc68k_reduced, "X_pca", "bulk_labels"),
}
N_NEIGHBORS = 15


def upper(D):
    return D[np.triu_indices_from(D, k=1)]


def spearman(D, reference):
    """Spearman over the pairs where the reference is finite (the kNN graph may be disconnected)."""
    a, b = upper(D), upper(reference)
    keep = np.isfinite(b)
    return float(stats.spearmanr(a[keep], b[keep]).statistic)


def knn_accuracy(D, labels):
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    knn = KNeighborsClassifier(N_NEIGHBORS, metric="precomputed")
    return float(cross_val_score(knn, D, labels, cv=folds).mean())


def prepare(name):
    """The AnnData, the array fitted, PCA-space and kNN-graph distances, and the labels."""
    load, use_rep, label_key = DATASETS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # krumsiek11's duplicate cell names
        adata = load()
    if "X_pca" not in adata.obsm:
        sc.pp.pca(adata, n_comps=min(50, adata.n_vars - 1))
    sc.pp.neighbors(adata, n_neighbors=N_NEIGHBORS, use_rep="X_pca")
    graph = shortest_path(adata.obsp["distances"], directed=False)
    n_parts = connected_components(adata.obsp["distances"], directed=False)[0]
    X = np.asarray(adata.X if use_rep is None else adata.obsm[use_rep], dtype=np.float32)
    d_pca = pairwise_distances(adata.obsm["X_pca"].astype(np.float64), "euclidean")
    return adata, use_rep, X, d_pca, graph, n_parts, adata.obs[label_key].astype(str).to_numpy()


def score(D, X, X_hat, d_pca, graph, labels):
    mse = float(np.square(X - X_hat).mean()) / float(X.var(0).mean()) if X_hat is not None \
        else np.nan
    return {"MSE/var": mse, "rho PCA": spearman(D, d_pca), "rho graph": spearman(D, graph),
            "kNN acc": knn_accuracy(D, labels)}


def run_dataset(name, epochs, seeds):
    adata, use_rep, X, d_pca, graph, n_parts, labels = prepare(name)
    print(f"\n## {name}: {adata.n_obs} cells, fitted on {use_rep or 'X'} "
          f"({X.shape[1]} features, mean variance {X.var(0).mean():.3f}); kNN graph "
          f"{N_NEIGHBORS} neighbours on X_pca, {n_parts} component(s); labels "
          f"{DATASETS[name][2]} ({len(set(labels))} classes)", flush=True)
    rows = {}
    for label, params in MODELS.items():
        records, flags, seconds = [], [], 0.0
        for seed in seeds:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", R.PoorFit)
                warnings.simplefilter("always", R.TrainingDiverged)
                start = time.perf_counter()
                model = tl.rgd(adata, use_rep=use_rep, key_added="X_rgd", epochs=epochs,
                               seed=seed, verbose=False, **params)
                seconds += time.perf_counter() - start
            flags += [f"{w.category.__name__}(seed {seed})" for w in caught
                      if issubclass(w.category, (R.PoorFit, R.TrainingDiverged))]
            D = pairwise_distances(model.latents_, model.manifold_)
            records.append(score(D, X, model.inverse_transform(model.latents_), d_pca, graph,
                                 labels))
        rows[label] = (records, ", ".join(flags) or "-", seconds / len(seeds))
    pca = PCA(2, random_state=0).fit(X)
    Z = pca.transform(X)
    rows["PCA 2-D"] = ([score(pairwise_distances(Z, "euclidean"), X, pca.inverse_transform(Z),
                              d_pca, graph, labels)], "-", np.nan)
    sc.tl.umap(adata, random_state=0)
    rows["UMAP 2-D"] = ([score(pairwise_distances(adata.obsm["X_umap"].astype(np.float64),
                                                  "euclidean"), X, None, d_pca, graph, labels)],
                        "-", np.nan)
    print_table(rows)


def print_table(rows):
    metrics = ("MSE/var", "rho PCA", "rho graph", "kNN acc")
    print("| model | " + " | ".join(metrics) + " | s/fit | warn |")
    print("|---" * (len(metrics) + 3) + "|")
    for label, (records, flags, seconds) in rows.items():
        cells = []
        for m in metrics:
            values = np.array([r[m] for r in records])
            if np.isnan(values).all():
                cells.append("—")
            elif len(values) > 1:
                cells.append(f"{values.mean():.2f} ± {values.std(ddof=1):.2f}")
            else:
                cells.append(f"{values[0]:.2f}")
        time_cell = "—" if np.isnan(seconds) else f"{seconds:.1f}"
        print(f"| {label} | " + " | ".join(cells) + f" | {time_cell} | {flags} |", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print(f"python {platform.python_version()}, torch {torch.__version__}, scanpy "
          f"{importlib.metadata.version('scanpy')}; {args.epochs} epochs, seeds {args.seeds}, mean ± std over seeds",
          flush=True)
    for name in args.datasets:
        run_dataset(name, args.epochs, args.seeds)
    print(f"\ntotal {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
