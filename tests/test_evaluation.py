"""The shared experiment loop: profiles, scores, tables."""
import numpy as np
import pandas as pd
import pytest
import torch
from scipy.spatial.distance import cdist

import rgd_utils as R
from rgdkit.baselines import umap as umap_baseline
from rgdkit.data import branching
from rgdkit.data import splits
from rgdkit.experiments import loop as E
from rgdkit.experiments import profiles
from rgdkit.experiments import pullback_study as PS
from rgdkit.experiments import tables as T
from rgdkit.files import results
import rgdkit.metrics as M


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("RGD_PROFILE", "paper")
    assert profiles.current_profile() == "paper"
    monkeypatch.setenv("RGD_PROFILE", "slow")
    with pytest.raises(ValueError, match="'slow' is not a profile"):
        profiles.current_profile()


def test_subsample_is_sorted_unique_and_bounded():
    idx = E.subsample(100, 30, seed=1)
    assert len(idx) == 30 and len(set(idx)) == 30 and (np.diff(idx) > 0).all()
    np.testing.assert_array_equal(E.subsample(10, 30), np.arange(10))


def test_embedding_scores_are_one_for_the_reference_itself():
    X = np.random.default_rng(0).normal(size=(50, 2))
    ref = lambda idx: cdist(X[idx], X[idx])
    scores = E.embedding_scores(X[:30], X[30:], R.make_manifold("euclidean"), ref,
                                np.arange(30), np.arange(30, 50))
    assert all(v == pytest.approx(1.0) for v in scores.values())


def test_summarise_and_beside_paper():
    records = [{"model": "a", "seed": s, "train_pearson": v, "test_pearson": v - 0.1}
               for s, v in enumerate([0.7, 0.9])] + [{"model": "b", "seed": 0, "train_pearson": 0.5,
                                                      "test_pearson": 0.4, "test_mse": 0.2}]
    table, numeric = T.summarise(records)
    assert table.loc["a", "test_mse"] == "—" and table.loc["b", "test_mse"] == "0.20 ± 0.00"
    assert table.loc["a", "train_pearson"] == "0.80 ± 0.10" and table.loc["a", "n_seeds"] == 2
    assert numeric.loc["b", "test_pearson_std"] == 0.0


def test_seed_table_and_change_from_a_reference_of_the_same_row():
    records = [{"row": row, "variant": name, "seed": s, "r": base + shift + 0.1 * s}
               for row, base in (("x", 0.5), ("y", 0.2))
               for name, shift in (("ref", 0.0), ("other", 0.3)) for s in (0, 1)]
    table = T.seed_table(records, ["row", "variant"], ["r"])
    assert list(table.columns) == ["n_seeds", "r_mean", "r_std"]
    assert table.loc[("y", "other"), "r_mean"] == pytest.approx(0.55)
    assert table.loc[("x", "ref"), "r_std"] == pytest.approx(0.05)
    change = T.change_from(table, "variant", "ref", "r")
    assert change[("x", "other")] == pytest.approx(0.3) and change[("y", "ref")] == 0
    assert T.change_from(table, "variant", "absent", "r").isna().all()


def test_save_table_is_atomic(tmp_path):
    path = results.save_table(pd.DataFrame({"x": [1, 2]}), "t", tmp_path)
    assert path == tmp_path / "t.csv" and pd.read_csv(path)["x"].tolist() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_failed_write_keeps_the_previous_file(tmp_path):
    results.save_table(pd.DataFrame({"x": [1]}), "t", tmp_path)

    class Unwritable(pd.DataFrame):
        def to_csv(self, *args, **kwargs):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        results.save_table(Unwritable({"x": [2]}), "t", tmp_path)
    assert pd.read_csv(tmp_path / "t.csv")["x"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_save_anndata_round_trip(tmp_path):
    import anndata as ad

    adata = ad.AnnData(np.arange(6, dtype=np.float32).reshape(3, 2))
    adata.obsm["X_rgd_sphere"] = np.eye(3)
    path = results.save_anndata(adata, "cells", tmp_path)
    assert np.array_equal(ad.read_h5ad(path).obsm["X_rgd_sphere"], np.eye(3))


def test_latents_in_data_order_inverts_the_split():
    split = splits.split_indices(20, seed=3)
    Z = np.arange(20.0)[:, None] * np.ones((1, 3))
    assert np.array_equal(E.latents_in_data_order(split, *(Z[i] for i in split)), Z)


def test_fit_rgd_record():
    X, labels = branching.simulate_branching_diffusion(depth=3, n_siblings=20, seed=0)
    split = splits.split_indices(len(X), seed=0)
    ref = lambda idx: M.tree_distances(labels[idx])
    record, model, Z_train, Z_test = E.fit_rgd(X, split, ref, seed=0, manifold="lorentz", curvature=5,
                                               noise_std=1.0, epochs=40, n_starts=3, test_epochs=20,
                                               verbose=False)
    assert Z_train.shape == (len(split[0]), 3) and Z_test.shape == (len(split[2]), 3)
    assert set(T.METRICS) <= set(record) and record["epochs_run"] <= 40
    assert record["train_pearson"] > 0.3  # the tree shows through after 40 epochs


@pytest.mark.parametrize("estimator, params, count", [
    ("pvae", {}, "boundary_projections"),
    ("svae", {}, "rejection_fallbacks"),
    ("deltavae", {"manifold": "torus"}, "cut_locus_clamps")])
def test_fit_vae_record_has_the_rgd_metrics_and_the_failure_counts(estimator, params, count):
    X, labels = branching.simulate_branching_diffusion(depth=3, n_siblings=20, seed=0)
    split = splits.split_indices(len(X), seed=0)
    ref = lambda idx: M.tree_distances(labels[idx])
    record, model, Z_train, Z_test = E.fit_vae(X, split, ref, seed=0, estimator=estimator, epochs=5,
                                               kl_warmup=2, verbose=False, **params)
    assert set(T.METRICS) <= set(record) and record["epochs_run"] <= 5
    assert len(Z_train) == len(split[0]) and len(Z_test) == len(split[2])
    assert np.allclose(model.manifold_.check_point_on_manifold(torch.as_tensor(Z_test)), True)
    mse = np.square(X[split[2]] - model.inverse_transform(Z_test)).mean()
    assert record["test_mse"] == pytest.approx(mse, rel=1e-6)
    assert record["nan_epochs"] == 0 and record["diverged_at"] is None and record[count] >= 0


def test_fit_vae_names_the_known_estimators_for_an_unknown_one():
    with pytest.raises(ValueError, match="unknown VAE estimator 'vae'.*pvae, svae, deltavae"):
        E.fit_vae(np.zeros((10, 2)), splits.split_indices(10, seed=0), None, 0, estimator="vae")


class ChartDecoder(torch.nn.Module):
    """f(z) = z · scale: an isometry for scale 1, a stretched chart otherwise."""

    def __init__(self, manifold, scale):
        super().__init__()
        self.manifold_, self.scale = manifold, torch.as_tensor(scale, dtype=torch.float64)

    def forward(self, z):
        return z * self.scale


def test_pullback_scores_equal_manifold_scores_for_an_isometric_decoder():
    sphere = R.make_manifold("sphere", 2)
    Z = R.random_points(sphere, 30, 2, generator=torch.Generator().manual_seed(0)).numpy()
    great_circle = lambda idx: M.pairwise_distances(Z[idx], sphere)
    scores, keep, lengths = PS.pullback_scores(ChartDecoder(sphere, 1.0), Z, np.arange(30),
                                              great_circle, max_points=20, steps=30, progress=False)
    assert len(keep) == scores["n_points"] == 20 and len(lengths) == 20 * 19 // 2
    assert scores["manifold_pearson"] == pytest.approx(1.0)
    assert scores["pullback_pearson"] == pytest.approx(1.0, abs=1e-3)


def test_pullback_distances_recover_the_data_geometry_a_stretched_chart_hides():
    plane = R.make_manifold("euclidean", 2)
    Z = np.random.default_rng(0).normal(size=(40, 2))
    scale = np.array([1.0, 10.0])
    in_data_space = lambda idx: np.linalg.norm((Z[idx, None] - Z[None, idx]) * scale, axis=-1)
    scores, _, _ = PS.pullback_scores(ChartDecoder(plane, scale), Z, np.arange(40), in_data_space,
                                     max_points=40, n_points=8, steps=5, progress=False)
    assert scores["pullback_pearson"] == pytest.approx(1.0, abs=1e-3)
    assert scores["manifold_pearson"] < 0.9


def test_medoid_is_the_member_closest_to_all_others():
    angles = np.radians([0.0, 30.0, 100.0])
    equator = np.stack([np.cos(angles), np.sin(angles), np.zeros(3)], 1)
    assert E.medoid(equator, R.make_manifold("sphere", 2)) == 1
    line = np.array([[0.0], [10.0], [1.0], [2.0], [1.5]])
    assert E.medoid(line, R.make_manifold("euclidean", 1)) == 4  # the median, not the mean 2.9


def test_umap_embedding_leaves_torch_thread_count_as_it_was():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        X = np.random.default_rng(0).normal(size=(120, 5)).astype(np.float32)
        U_train, U_test = umap_baseline.umap_embedding(X[:100], X[100:], n_neighbors=10)
        assert U_train.shape == (100, 2) and U_test.shape == (20, 2)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_geodesic_pair_table_on_an_isometric_sphere_decoder():
    sphere = R.make_manifold("sphere", 2)
    Z = R.random_points(sphere, 4, 2, generator=torch.Generator().manual_seed(1)).numpy()
    table, geodesics, great_circles = PS.geodesic_pair_table(ChartDecoder(sphere, 1.0), Z, [(0, 1), (2, 3)],
                                                            n_points=64, steps=20)
    assert len(geodesics) == len(great_circles) == 2 and geodesics[0].shape == (64, 3)
    # chords of a fine great circle add up to its arc length; no curve on the sphere is shorter
    assert np.allclose(table["pullback length of the manifold geodesic"], table["manifold distance"], rtol=1e-3)
    assert (table["pullback geodesic length"] >= table["manifold distance"] * (1 - 1e-3)).all()
    assert (table["energy after"] <= table["energy before"] + 1e-9).all()


def test_geodesic_pair_table_lengths_follow_a_stretched_chart():
    plane = R.make_manifold("euclidean", 2)
    Z = np.array([[0.0, 0.0], [1.0, 1.0]])
    scale = np.array([1.0, 10.0])
    table, _, _ = PS.geodesic_pair_table(ChartDecoder(plane, scale), Z, [(0, 1)], n_points=8, steps=0)
    assert table.loc[0, "manifold distance"] == pytest.approx(np.sqrt(2))
    assert table.loc[0, "pullback length of the manifold geodesic"] == pytest.approx(np.sqrt(101))


def test_pullback_table_names_the_distances_and_the_sample():
    scores = dict(n_points=7, manifold_pearson=0.1, manifold_spearman=0.2, pullback_pearson=0.3,
                  pullback_spearman=0.4)
    table = PS.pullback_table(scores, "S² distance", "phase")
    assert list(table.columns) == ["S² distance", "pullback geodesic distance"]
    assert table.loc["Pearson with phase (7 points)", "pullback geodesic distance"] == 0.3
    assert table.loc["Spearman with phase", "S² distance"] == 0.2
