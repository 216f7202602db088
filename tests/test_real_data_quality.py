"""Quality thresholds on the real data beside the project, fixed seeds, honest margins.

Train Pearson of latent distances with circular phase distance, peco iPSC cells, the paper's
cell-cycle training settings with geometry-aware noise sigma = 0.5, cut to 200 epochs so that CI
stays short. Measured when cut: S2 0.303 / 0.303 and R2 0.235 / 0.257 on seeds 0 / 1 (4-8 s per
fit on one thread); after 800 epochs they were S2 0.302 / 0.310 and R2 0.230 / 0.218. Without
noise (200 epochs) S2 reached 0.227 / 0.128 and R2 0.227 / 0.239: both assertions fail when the
noise does nothing.
"""
import numpy as np
import pytest
import torch

import rgd_utils as R
from rgdkit.data import cellcycle
from rgdkit.data import splits
import rgdkit.metrics as M

CELLCYCLE_TRAINING = dict(epochs=200, batch_size=128, lr_latent=0.4, lr_decoder=2e-3,
                          betas_decoder=(0.7, 0.9), weight_decay=1e-4, patience=85, min_epochs=150,
                          noise_std=0.5, verbose=False)


@pytest.fixture
def one_thread():
    """Small fits run on one thread: on a busy 2-core machine two threads wait on each other
    (this test took 105 s with torch's default of two threads, 21 s with one, same machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def peco(shared_data):
    adata, _ = cellcycle.load_cellcycle(str(shared_data / "cellcycle" / "peco_ipsc_101genes.h5ad"))
    train, val, _ = splits.split_indices(adata.n_obs, seed=0)
    phase = adata.obs["cell_cycle_theta"].to_numpy()
    return np.asarray(adata.X), train, val, M.circular_distances(phase[train])


def test_sphere_follows_the_cell_cycle_better_than_the_plane(peco, one_thread):
    X, train, val, D_phase = peco
    scores = {}
    for manifold in ("sphere", "euclidean"):
        scores[manifold] = []
        for seed in (0, 1):
            model = R.RiemannianDecoder(manifold=manifold, seed=seed, **CELLCYCLE_TRAINING)
            Z = model.fit_transform(X[train], X_val=X[val])
            scores[manifold].append(M.distance_correlation(Z, model.manifold_, D_phase)[0])
    assert min(scores["sphere"]) > 0.26, scores
    assert np.mean(scores["sphere"]) > np.mean(scores["euclidean"]) + 0.03, scores
