"""rgdkit.tl.rgd, the scanpy-style entry point, on the two data sets that ship with scanpy
(krumsiek11: 640 cells x 11 genes; pbmc68k_reduced: 700 cells x 765 genes, with X_pca); short
fits, so these check the plumbing, not the quality of an embedding."""
import json
import warnings

import matplotlib
import numpy as np
import pytest
import torch
from scipy import sparse

import rgd_utils as R
from rgdkit import tl
from rgdkit.plotting.figures import lorentz_to_poincare

sc = pytest.importorskip("scanpy")
matplotlib.use("Agg")

FAST = dict(epochs=15, verbose=False)


@pytest.fixture(scope="module")
def krumsiek():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # its cell names repeat; not ours to fix
        return sc.datasets.krumsiek11()


@pytest.fixture(scope="module")
def pbmc():
    return sc.datasets.pbmc68k_reduced()


@pytest.fixture(scope="module")
def krumsiek_fit(krumsiek):
    """krumsiek11 with H² (k = 2, σ = 0.5) written in place, and the estimator returned."""
    adata = krumsiek.copy()
    model = tl.rgd(adata, curvature=2.0, noise_std=0.5, **FAST)
    return adata, model


def test_lorentz_latents_poincare_coordinates_and_params_on_krumsiek11(krumsiek, krumsiek_fit):
    adata, model = krumsiek_fit
    assert isinstance(model, R.RiemannianDecoder)
    Z = adata.obsm["X_rgd"]
    assert Z.shape == (640, 3) and np.array_equal(Z, model.latents_)
    disk = adata.obsm["X_rgd_poincare"]
    assert disk.shape == (640, 2) and np.isfinite(disk).all()
    assert (np.linalg.norm(disk, axis=1) < 1).all()
    # the unit disk of curvature -1, scaled by sqrt(k): distances from the origin are preserved
    k = 2.0
    np.testing.assert_allclose(disk, lorentz_to_poincare(Z, k) / np.sqrt(k))
    from_origin_lorentz = np.sqrt(k) * np.arccosh(Z[:, 0] / np.sqrt(k))
    from_origin_disk = np.sqrt(k) * 2 * np.arctanh(np.linalg.norm(disk, axis=1))
    np.testing.assert_allclose(from_origin_disk, from_origin_lorentz, rtol=1e-6, atol=1e-9)

    uns = adata.uns["X_rgd"]
    json.dumps(uns)  # JSON-able
    params = uns["params"]
    assert params["manifold"] == "lorentz" and params["curvature"] == 2.0
    assert params["noise_std"] == 0.5 and params["epochs"] == 15 and params["use_rep"] == "X"
    assert set(params) == set(model.get_params()) | {"use_rep"}
    losses = uns["losses"]
    assert losses["last_epoch"] == 14 and losses["diverged_at"] is None
    assert losses["train_loss"] == model.history_["train_loss"][losses["best_epoch"]]
    np.testing.assert_allclose(losses["mean_loss"], np.asarray(krumsiek.X, float).var(0).mean())
    assert 0 < losses["train_loss"] < losses["mean_loss"]


def test_latents_equal_a_direct_fit_with_the_same_params(krumsiek, krumsiek_fit):
    adata, model = krumsiek_fit
    direct = R.RiemannianDecoder(manifold="lorentz", curvature=2.0, noise_std=0.5, **FAST)
    direct.fit(krumsiek.X)
    np.testing.assert_array_equal(adata.obsm["X_rgd"], direct.latents_)
    assert model.get_params() == direct.get_params()


def test_the_input_adata_is_untouched_until_written(krumsiek, krumsiek_fit):
    assert "X_rgd" not in krumsiek.obsm and "X_rgd" not in krumsiek.uns


def test_poincare_coordinates_draw_with_scanpy(krumsiek_fit):
    adata, _ = krumsiek_fit
    ax = sc.pl.embedding(adata, basis="X_rgd_poincare", color="cell_type", show=False)
    drawn = np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])
    np.testing.assert_allclose(np.sort(drawn[:, 0]), np.sort(adata.obsm["X_rgd_poincare"][:, 0]),
                               rtol=1e-6)
    matplotlib.pyplot.close("all")


def test_copy_returns_a_modified_copy_of_pbmc_obsm_rep_on_the_poincare_ball(pbmc):
    before_obsm, before_uns = set(pbmc.obsm), set(pbmc.uns)
    out = tl.rgd(pbmc, use_rep="X_pca", manifold="poincare", curvature=0.5, copy=True,
                 key_added="X_ball", seed=3, **FAST)
    assert type(out) is type(pbmc) and out is not pbmc
    assert set(pbmc.obsm) == before_obsm and set(pbmc.uns) == before_uns
    Z = out.obsm["X_ball"]
    assert Z.shape == (700, 2)
    radius = np.linalg.norm(out.obsm["X_ball_poincare"], axis=1)
    assert (radius < 1).all()
    np.testing.assert_allclose(out.obsm["X_ball_poincare"], Z * np.sqrt(0.5))
    assert out.uns["X_ball"]["params"]["use_rep"] == "X_pca"
    assert out.uns["X_ball"]["params"]["manifold"] == "poincare"
    direct = R.RiemannianDecoder(manifold="poincare", curvature=0.5, seed=3, **FAST)
    np.testing.assert_array_equal(Z, direct.fit(pbmc.obsm["X_pca"]).latents_)


def test_sparse_x_is_densified_and_euclidean_latents_get_no_disk(pbmc):
    adata = pbmc.copy()
    adata.X = sparse.csr_matrix(adata.X)
    model = tl.rgd(adata, manifold="euclidean", epochs=5, verbose=False)
    assert adata.obsm["X_rgd"].shape == (700, 2) and "X_rgd_poincare" not in adata.obsm
    direct = R.RiemannianDecoder(manifold="euclidean", epochs=5, verbose=False).fit(pbmc.X)
    np.testing.assert_array_equal(model.latents_, direct.latents_)


@pytest.mark.filterwarnings("ignore::rgd_utils.PoorFit")  # 3 epochs do not beat the mean
def test_matrix_latents_are_flattened(krumsiek):
    adata = krumsiek.copy()
    model = tl.rgd(adata, manifold="SymmetricPositiveDefinite", epochs=3, verbose=False)
    assert model.latents_.shape == (640, 2, 2)
    np.testing.assert_array_equal(adata.obsm["X_rgd"], model.latents_.reshape(640, 4))
    assert adata.uns["X_rgd"]["params"]["manifold"] == "SymmetricPositiveDefinite"
    assert "X_rgd_poincare" not in adata.obsm


def test_complex_latents_are_split_into_real_and_imaginary_parts():
    Z = np.array([[[1 + 2j, 3 - 1j], [3 - 1j, 5 + 0j]]])
    np.testing.assert_array_equal(tl.flat_latents(Z), [[1, 2, 3, -1, 3, -1, 5, 0]])


def test_the_result_writes_to_h5ad(krumsiek_fit, tmp_path):
    adata = krumsiek_fit[0].copy()
    del adata.uns["highlights"]  # krumsiek11's own entry, with int keys, does not write
    path = tmp_path / "fitted.h5ad"
    adata.write_h5ad(path)
    back = sc.read_h5ad(path)
    np.testing.assert_array_equal(back.obsm["X_rgd_poincare"], adata.obsm["X_rgd_poincare"])
    assert back.uns["X_rgd"]["params"]["manifold"] == "lorentz"


def test_clear_errors(pbmc):
    with pytest.raises(TypeError, match="AnnData"):
        tl.rgd(np.asarray(pbmc.X))
    with pytest.raises(TypeError, match="AnnData"):
        tl.rgd(torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"use_rep='X_nope'.*'X_pca'.*'X_umap'"):
        tl.rgd(pbmc, use_rep="X_nope")
    with pytest.raises(TypeError, match=r"no parameter 'epoch'.*latent_dim"):
        tl.rgd(pbmc, epoch=3)
    with pytest.raises(ValueError, match="key_added"):
        tl.rgd(pbmc, key_added="")
    assert "X_rgd" not in pbmc.obsm


@pytest.mark.filterwarnings("ignore::rgd_utils.PoorFit")  # 2 epochs do not beat the mean
def test_the_own_data_example_script_prints_its_table(monkeypatch, capsys):
    """scripts/own_data_example.py (docs/own_data.md) end to end on krumsiek11, with two models,
    two epochs, and scanpy's kNN graph and UMAP, whose numba compile takes longer than the rest,
    replaced by scikit-learn's kNN graph and the first two principal components."""
    from conftest import load_script
    from sklearn.neighbors import kneighbors_graph

    script = load_script("own_data_example")
    monkeypatch.setattr(script, "MODELS", {k: script.MODELS[k] for k in ("H² k=1 σ=0", "R² σ=1")})

    def neighbors(adata, n_neighbors, use_rep):
        adata.obsp["distances"] = kneighbors_graph(adata.obsm[use_rep], n_neighbors - 1,
                                                   mode="distance")

    monkeypatch.setattr(script.sc.pp, "neighbors", neighbors)
    monkeypatch.setattr(script.sc.tl, "umap", lambda adata, **kw: adata.obsm.__setitem__(
        "X_umap", adata.obsm["X_pca"][:, :2].copy()))
    assert script.main(["--epochs", "2", "--seeds", "0", "1", "--datasets", "krumsiek11"]) == 0
    out = capsys.readouterr().out
    assert "## krumsiek11: 640 cells" in out
    rows = [line for line in out.splitlines() if line.startswith("| H² k=1 σ=0 |")]
    assert len(rows) == 1 and rows[0].count(" ± ") == 4
    assert "| PCA 2-D | 0.14 |" in out and "| UMAP 2-D | — |" in out
