"""Models trained together (rgd_utils.fit_together, the one engine; ``fit`` is it with one
member): each member is the model it would be alone (same draws from its own seed, same losses,
early stopping and best state), a diverging member stops alone, and members that cannot share a
run are refused with the reason."""
import warnings

import numpy as np
import pytest
import torch

import rgd_utils as R
from rgdkit.experiments import loop as E
from rgdkit.metrics import distances
from rgdkit.training import engine

SMALL = dict(hidden=(8, 16), batch_size=32, epochs=12, min_epochs=0, n_starts=3, test_epochs=15,
             verbose=False)


def blobs(n=150, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) + 2 * (np.arange(n) % 3)[:, None]).astype(np.float32)


def pair(manifold, members, **common):
    """The same settings fitted alone and together."""
    X, X_val = blobs(), blobs(40, seed=1)
    alone = [R.RiemannianDecoder(**{**SMALL, **common, **m}, manifold=manifold).fit(X, X_val=X_val)
             for m in members]
    batched = [R.RiemannianDecoder(**{**SMALL, **common, **m}, manifold=manifold) for m in members]
    R.fit_together(batched, X, X_val)
    return alone, batched


def poison_member_1_in_epoch_4(monkeypatch):
    """The decoder weights of the member seeded 1 turn NaN during epoch 4 of a run of SMALL's 5
    minibatches per epoch (after its decoder optimiser's 22nd step)."""
    original = R.RiemannianDecoder.make_optimisers

    def make_optimisers(self, decoder_params, latent_params):
        decoder_opt, latent_opt = original(self, decoder_params, latent_params)
        if self.seed == 1:
            steps = []

            def poison(optimiser, args, kwargs):
                steps.append(1)
                if len(steps) == 4 * 5 + 2:
                    with torch.no_grad():
                        decoder_params[0].fill_(float("nan"))
            decoder_opt.register_step_post_hook(poison)
        return decoder_opt, latent_opt

    monkeypatch.setattr(R.RiemannianDecoder, "make_optimisers", make_optimisers)


@pytest.mark.parametrize("manifold,curvature", [("lorentz", 5.0), ("sphere", None),
                                                ("euclidean", None), ("torus", None),
                                                ("poincare", 1.0)])
def test_members_follow_their_fit_alone(manifold, curvature):
    members = [dict(seed=0, noise_std=0.5), dict(seed=1, noise_std=0.0),
               dict(seed=2, noise_std=1.0, lr_decoder=1e-3, lr_latent=0.05)]
    alone, batched = pair(manifold, members, curvature=curvature)
    for a, b in zip(alone, batched):
        np.testing.assert_allclose(b.history_["train_loss"], a.history_["train_loss"], rtol=1e-4)
        np.testing.assert_allclose(b.history_["val_loss"], a.history_["val_loss"], rtol=1e-4)
        assert b.best_epoch_ == a.best_epoch_
        np.testing.assert_allclose(b.latents_, a.latents_, atol=1e-3)
        assert R.check_on_manifold(b.latents_, b.manifold_) is not None


@pytest.mark.parametrize("manifold,curvature", [("lorentz", 5.0), ("torus", None)])
def test_members_with_the_fixed_noise_gradient_follow_their_fit_alone(manifold, curvature):
    members = [dict(seed=0, noise_std=0.5), dict(seed=1, noise_std=1.0)]
    alone, batched = pair(manifold, members, curvature=curvature, noise_gradient="fixed")
    for a, b in zip(alone, batched):
        np.testing.assert_allclose(b.history_["train_loss"], a.history_["train_loss"], rtol=1e-4)
        np.testing.assert_allclose(b.latents_, a.latents_, atol=1e-3)


def test_binary_members_with_the_bce_loss_follow_their_fit_alone():
    X = (blobs() > 1).astype(np.float32)
    kw = dict(SMALL, manifold="lorentz", loss="bce", batch_size=64)
    alone = [R.RiemannianDecoder(**kw, seed=s, noise_std=0.5).fit(X) for s in (0, 1)]
    batched = R.fit_together([R.RiemannianDecoder(**kw, seed=s, noise_std=0.5) for s in (0, 1)], X)
    for a, b in zip(alone, batched):
        np.testing.assert_allclose(b.history_["train_loss"], a.history_["train_loss"], rtol=1e-4)
        assert 0 <= b.inverse_transform(b.latents_).min() <= b.inverse_transform(b.latents_).max() <= 1


def test_first_epoch_starts_from_each_seeds_own_initial_state():
    X = blobs()
    kw = dict(SMALL, epochs=1, lr_latent=0.0, lr_decoder=0.0)  # nothing moves: the initial state
    alone = [R.RiemannianDecoder(seed=s, **kw).fit(X) for s in (3, 4)]
    batched = R.fit_together([R.RiemannianDecoder(seed=s, **kw) for s in (3, 4)], X)
    for a, b in zip(alone, batched):
        np.testing.assert_array_equal(b.latents_, a.latents_)
        for pa, pb in zip(a.decoder_.parameters(), b.decoder_.parameters()):
            torch.testing.assert_close(pb, pa, rtol=0, atol=1e-7)
    assert not np.allclose(batched[0].latents_, batched[1].latents_)


def test_each_member_stops_early_on_its_own_curve():
    members = [dict(seed=0, patience=2, epochs=40, lr_decoder=0.05),
               dict(seed=1, patience=30, epochs=40, lr_decoder=0.05)]
    alone, batched = pair("sphere", members)
    for a, b in zip(alone, batched):
        assert len(b.history_["epoch"]) == len(a.history_["epoch"])
        assert b.best_epoch_ == a.best_epoch_
    assert len(batched[0].history_["epoch"]) < len(batched[1].history_["epoch"])


def test_members_may_train_for_different_numbers_of_epochs():
    _, batched = pair("euclidean", [dict(seed=0, epochs=5), dict(seed=1, epochs=9)])
    assert [len(b.history_["epoch"]) for b in batched] == [5, 9]


def test_a_diverging_member_stops_alone_and_keeps_its_best_state(monkeypatch):
    X, X_val = blobs(), blobs(40, seed=1)
    healthy = R.RiemannianDecoder(manifold="euclidean", **SMALL, seed=0).fit(X, X_val=X_val)
    poison_member_1_in_epoch_4(monkeypatch)
    batched = [R.RiemannianDecoder(manifold="euclidean", **SMALL, seed=s) for s in (0, 1)]
    with pytest.warns(R.TrainingDiverged, match="diverged at epoch 4"):
        R.fit_together(batched, X, X_val)
    ok, broken = batched
    assert broken.diverged_at_ == 4 and broken.best_epoch_ < 4
    assert np.isfinite(broken.latents_).all()
    assert all(torch.isfinite(p).all() for p in broken.decoder_.parameters())
    assert ok.diverged_at_ is None and len(ok.history_["epoch"]) == SMALL["epochs"]
    np.testing.assert_allclose(ok.history_["train_loss"], healthy.history_["train_loss"], rtol=1e-4)


def test_transform_together_matches_transform_alone():
    _, batched = pair("lorentz", [dict(seed=0, noise_std=0.5), dict(seed=1)], curvature=2.0)
    X_new = blobs(20, seed=7)
    for model, Z in zip(batched, R.transform_together(batched, X_new)):
        np.testing.assert_allclose(Z, model.transform(X_new), atol=1e-4)


def test_many_rows_on_a_cpu_run_member_by_member_with_the_same_result(monkeypatch):
    _, batched = pair("sphere", [dict(seed=0), dict(seed=1)])
    X_new = blobs(20, seed=7)
    monkeypatch.setattr(engine, "CPU_BATCHED_ROWS", 10)  # 20 samples x 3 starts exceed it
    assert [len(c) for c in engine.test_chunks(batched, len(X_new))] == [1, 1]
    for model, Z in zip(batched, R.transform_together(batched, X_new)):
        np.testing.assert_array_equal(Z, model.transform(X_new))


def test_members_are_ordinary_fitted_estimators_afterwards():
    _, batched = pair("sphere", [dict(seed=0), dict(seed=1)])
    for model in batched:
        assert model.inverse_transform(model.latents_).shape == (150, 6)
        assert model.transform(blobs(5, seed=3)).shape == (5, 3)
        assert model.fit_seconds_ > 0


@pytest.mark.parametrize("change", [dict(manifold="sphere"), dict(hidden=(4,)),
                                    dict(batch_size=16), dict(latent_dim=3),
                                    dict(noise_gradient="fixed")])
def test_members_that_cannot_share_a_run_are_refused(change):
    key = next(iter(change))
    members = [R.RiemannianDecoder(**SMALL), R.RiemannianDecoder(**{**SMALL, **change})]
    with pytest.raises(ValueError, match=key):
        R.fit_together(members, blobs())


def test_transform_together_refuses_different_test_settings():
    _, batched = pair("euclidean", [dict(seed=0), dict(seed=1)])
    batched[1].set_params(n_starts=5)
    with pytest.raises(ValueError, match="n_starts"):
        R.transform_together(batched, blobs(5))


def test_fit_models_together_scores_as_one_by_one():
    X = blobs(200)
    split = (np.arange(0, 140), np.arange(140, 170), np.arange(170, 200))
    labels = np.arange(200) % 3

    def reference(idx):
        return distances.pairwise_distances(labels[idx, None].astype(float), R.make_manifold("euclidean"))

    models = {"S²": dict(manifold="sphere"), "S² σ=0.5": dict(manifold="sphere", noise_std=0.5),
              "R²": dict(manifold="euclidean")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        runs = [E.fit_models(models, X, split, reference, [0, 1], together=flag, **SMALL)[0]
                for flag in (True, False)]
    batched, single = runs
    assert [(r["model"], r["seed"]) for r in batched] == [(r["model"], r["seed"]) for r in single]
    for a, b in zip(batched, single):
        assert a["epochs_run"] == b["epochs_run"]
        assert a["train_pearson"] == pytest.approx(b["train_pearson"], abs=2e-3)
        assert a["train_mse"] == pytest.approx(b["train_mse"], rel=1e-3)


def test_fit_models_without_test_latents_keeps_training_scores(capsys):
    X = blobs(200)
    split = (np.arange(0, 140), np.arange(140, 170), np.arange(170, 200))
    labels = np.arange(200) % 3

    def reference(idx):
        return distances.pairwise_distances(labels[idx, None].astype(float), R.make_manifold("euclidean"))

    models = {"R²": dict(manifold="euclidean")}
    with_test, fitted = E.fit_models(models, X, split, reference, [0], **SMALL)
    train_only, fitted_train_only = E.fit_models(models, X, split, reference, [0],
                                                 embed_test=False, **SMALL)
    assert fitted_train_only["R²"][2] is None and fitted["R²"][2] is not None
    assert not any(key.startswith("test_") for key in train_only[0])
    assert train_only[0]["train_pearson"] == pytest.approx(with_test[0]["train_pearson"], abs=1e-9)
    assert "test r not embedded" in capsys.readouterr().out
    with pytest.raises(ValueError, match="together"):
        E.fit_models(models, X, split, reference, [0], together=False, embed_test=False, **SMALL)


def test_group_key_separates_what_cannot_be_stacked():
    a = R.RiemannianDecoder(manifold="lorentz", curvature=1.0, seed=0, noise_std=1.0)
    b = R.RiemannianDecoder(manifold="lorentz", curvature=1.0, seed=4, noise_std=0.1)
    c = R.RiemannianDecoder(manifold="lorentz", curvature=2.0)
    assert engine.group_key(a) == engine.group_key(b) != engine.group_key(c)


def test_panel_title_of_a_diverged_fit_says_so_in_short_lines():
    record = dict(train_pearson=0.74, train_mse=0.58, diverged_at=45)
    title = E.panel_title("k = 0.1, σ = 0.1", record)
    assert "DIVERGED" in title and "45" in title
    # a panel of the 6 x 6 grid holds about 25 characters of title
    assert max(len(line) for line in title.splitlines()) <= 25
    assert "DIVERGED" not in E.panel_title("k = 1", {**record, "diverged_at": None})


def test_fit_models_reports_a_divergence_in_its_summary_line_not_as_a_warning(monkeypatch, capsys):
    X = blobs(200)
    split = (np.arange(0, 140), np.arange(140, 170), np.arange(170, 200))
    labels = (np.arange(200) % 3)[:, None].astype(float)
    poison_member_1_in_epoch_4(monkeypatch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records, _ = E.fit_models({"R²": dict(manifold="euclidean")}, X, split,
                                  lambda idx: distances.pairwise_distances(
                                      labels[idx], R.make_manifold("euclidean")),
                                  [0, 1], embed_test=False, **SMALL)
    assert not [w for w in caught if issubclass(w.category, R.TrainingDiverged)]
    assert [r["diverged_at"] for r in records] == [None, 4]
    assert "diverged (seed 1 at epoch 4), best state kept" in capsys.readouterr().out


def test_a_lone_fit_is_the_engine_with_one_member(branching_data):
    """fit(X, X_val=...) and fit_together([the same settings]) give identical latents on the
    published branching data (H², k = 5, σ = 1)."""
    X, labels = branching_data
    X_train, X_val = X[:600], X[600:700]
    settings = dict(manifold="lorentz", curvature=5.0, noise_std=1.0, epochs=25, min_epochs=0,
                    verbose=False)
    alone = R.RiemannianDecoder(**settings).fit(X_train, X_val=X_val)
    (member,) = R.fit_together([R.RiemannianDecoder(**settings)], X_train, X_val)
    assert np.abs(alone.latents_ - member.latents_).max() <= 1e-9
    assert np.abs(alone.val_latents_ - member.val_latents_).max() <= 1e-9
    assert alone.history_ == member.history_


def test_one_instance_twice_is_refused():
    model = R.RiemannianDecoder(**SMALL)
    with pytest.raises(ValueError, match="more than once"):
        R.fit_together([model, model], blobs())


def test_members_of_different_classes_are_refused():
    from rgdkit.training.authors_choices import SwitchedDecoder
    with pytest.raises(ValueError, match="one class"):
        R.fit_together([R.RiemannianDecoder(**SMALL), SwitchedDecoder(**SMALL)], blobs())
