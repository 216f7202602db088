"""The UMAP baseline, seeded, with held-out samples placed by ``transform``."""
from __future__ import annotations

import torch


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
