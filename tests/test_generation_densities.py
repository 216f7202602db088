"""Two latent densities for one model (rgdkit.experiments.generation_study.density_study) and the
table notebooks share (save_generation_densities)."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from rgdkit.experiments import generation_study as G
from rgdkit.generation.density import sample_vmf
from rgdkit.manifolds import make_manifold

pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
              pytest.mark.usefixtures("one_thread")]  # small flow networks


class LinearSphereModel:
    """A stand-in for a fitted RGD model on S²: known latents (two vMF clusters) and a linear
    decoder, so that the densities' scores can be checked against the truth."""

    def __init__(self, n_train=400, n_val=200, seed=0):
        rng = np.random.default_rng(seed)
        means = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        draw = lambda n: sample_vmf(means[rng.integers(2, size=n)], np.full(n, 20.0), rng)
        self.manifold_ = make_manifold("sphere", 2)
        self.latents_, self.val_latents_ = draw(n_train), draw(n_val)
        self.weights_ = rng.normal(size=(3, 6))
        self.n_features_in_ = 6
        self.real_ = self.inverse_transform(draw(n_val)) + 0.05 * rng.normal(size=(n_val, 6))
        self.train_ = self.inverse_transform(self.latents_) + 0.05 * rng.normal(size=(n_train, 6))

    def inverse_transform(self, Z):
        return np.asarray(Z) @ self.weights_


def test_both_densities_learn_the_latents_and_generate_like_the_data():
    model = LinearSphereModel()
    table = G.density_study(model, model.real_, model.train_, "toy", seed=0,
                            flow_options={"epochs": 60, "hidden": (32, 32)}, model_name="toy RGD")
    assert list(table.columns) == G.DENSITY_COLUMNS
    assert table["density"].tolist() == ["mixture", "RCNF"]
    assert (table["data"] == "toy").all() and (table["model"] == "toy RGD").all()
    assert not table["in_paper"].any()
    uniform = -math.log(4 * math.pi)  # the flow's base: what an unfitted flow scores
    loglik = table.set_index("density")["heldout_log_likelihood"]
    # two vMF clusters of κ = 20 lie ~1.4 nats per point above the uniform density
    assert loglik["mixture"] > uniform + 1.0 and loglik["RCNF"] > uniform + 1.0
    assert abs(loglik["RCNF"] - loglik["mixture"]) < 0.3
    assert table["discrimination_accuracy_mean"].between(0.3, 0.7).all()


def test_density_study_refuses_a_manifold_without_a_flow():
    model = LinearSphereModel(n_train=20, n_val=10)
    model.manifold_ = make_manifold("euclidean", 3)
    with pytest.raises(ValueError, match="sphere or a hyperboloid.*manifold='sphere'"):
        G.density_study(model, model.real_, model.train_, "toy")


def rows(data, value):
    return pd.DataFrame({"data": data, "model": ["m1", "m2"], "density": ["mixture", "RCNF"],
                         "heldout_log_likelihood": value})


def test_saving_replaces_only_the_same_data_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("RGD_RESULTS_DIR", str(tmp_path))
    G.save_generation_densities(rows("cellcycle", 1.0), "fast")
    G.save_generation_densities(rows("branching", 2.0), "fast")
    written = G.save_generation_densities(rows("cellcycle", 3.0), "fast")
    saved = pd.read_csv(tmp_path / "generation_densities.csv")
    assert sorted(saved["data"]) == ["branching"] * 2 + ["cellcycle"] * 2
    by_data = saved.groupby("data")["heldout_log_likelihood"].apply(set)
    assert by_data["branching"] == {2.0} and by_data["cellcycle"] == {3.0}
    pd.testing.assert_frame_equal(written, saved)
    assert not (tmp_path / "paper").exists()


def test_the_paper_profile_updates_both_copies(tmp_path, monkeypatch):
    monkeypatch.setenv("RGD_RESULTS_DIR", str(tmp_path))
    G.save_generation_densities(rows("branching", 2.0), "paper")
    G.save_generation_densities(rows("cellcycle", 1.0), "fast")  # not in results/paper/
    G.save_generation_densities(rows("cellcycle", 3.0), "paper")
    for folder, count in ((tmp_path, 4), (tmp_path / "paper", 4)):
        saved = pd.read_csv(folder / "generation_densities.csv")
        assert len(saved) == count and set(saved["data"]) == {"branching", "cellcycle"}
        assert set(saved.loc[saved["data"] == "cellcycle", "heldout_log_likelihood"]) == {3.0}


def test_saving_needs_the_data_column(tmp_path, monkeypatch):
    monkeypatch.setenv("RGD_RESULTS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="'data' column"):
        G.save_generation_densities(rows("x", 1.0).drop(columns="data"), "fast")
    pd.DataFrame({"model": ["old"]}).to_csv(tmp_path / "generation_densities.csv")
    with pytest.raises(ValueError, match="older layout.*delete it"):
        G.save_generation_densities(rows("x", 1.0), "fast")


def test_on_the_hyperboloid_the_mixture_row_is_the_mixture_latent_source_draws_from(monkeypatch):
    """H² (notebook 2's case): the mixture row scores the very mixture generation uses, and the
    flow's row is finite after a short fit."""
    rng = np.random.default_rng(2)
    manifold = make_manifold("lorentz", 2, 5.0)
    model = LinearSphereModel(n_train=80, n_val=40)
    tangent = lambda n: torch.as_tensor(np.concatenate(
        [np.zeros((n, 1)), 0.8 * rng.normal(size=(n, 2))], 1))
    origin = manifold.origin(3, dtype=torch.float64)
    model.manifold_ = manifold
    model.latents_ = manifold.expmap(origin, tangent(80)).numpy()
    model.val_latents_ = manifold.expmap(origin, tangent(40)).numpy()
    model.train_ = model.inverse_transform(model.latents_)
    chosen = []
    original = G.latent_source
    monkeypatch.setattr(G, "latent_source",
                        lambda m, components: chosen.append(original(m, components)) or chosen[-1])
    table = G.density_study(model, model.train_[:40], model.train_, "toy H2",
                            flow_options={"epochs": 3, "hidden": (8,)})
    (source, _), = chosen
    mixture = table.set_index("density").loc["mixture"]
    assert mixture["heldout_log_likelihood"] == pytest.approx(
        source["density"].score(model.val_latents_))
    assert np.isfinite(table["heldout_log_likelihood"]).all()
    assert table.loc[1, "description"].startswith("RCNF, 3 epochs")
