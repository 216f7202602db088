"""scripts/hmtdna_protocol.py: the authors' loop re-implemented, each switch of ours changing its
own setting only, and the table's schema and folders."""
import geoopt
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import rgd_utils as R
from conftest import load_script
from rgdkit.training import authors_choices as AC

P = load_script("hmtdna_protocol")
TINY = dict(hidden=(8, 8), batch_size=32)  # small enough for a test, batches < samples


def binary_data(n=150, d=40, groups=3, seed=0):
    """``n`` genomes of ``d`` variants around ``groups`` prototypes (5 % flips), and each one's group."""
    rng = np.random.default_rng(seed)
    prototypes = rng.random((groups, d)) < 0.3
    group = np.arange(n) % groups
    X = prototypes[group] ^ (rng.random((n, d)) < 0.05)
    return X.astype(np.float32), np.array(list("HLM"))[group]


def small_model(switches=AC.Switches(), **params):
    settings = dict(manifold="lorentz", curvature=5.0, noise_std=0.5, loss="bce", epochs=1,
                    min_epochs=0, verbose=False, seed=0, **TINY, **AC.BASELINE)
    return AC.SwitchedDecoder(switches, **{**settings, **params})


def test_authors_loop_lowers_its_summed_loss_and_keeps_latents_on_the_hyperboloid():
    X, _ = binary_data()
    fit = P.train_authors(X[:120], X[120:], seed=0, epochs=30, settings={**P.AUTHORS, **TINY},
                          verbose=False)
    # summed over 40 features, the loss per genome starts near 40 log 2 (a mean would be < 1)
    assert fit.train_loss[0] > 20
    assert fit.train_loss[-1] < 0.9 * fit.train_loss[0]
    assert fit.latents.shape == (120, 3) and np.isfinite(fit.latents).all()
    R.check_on_manifold(torch.as_tensor(fit.latents), fit.manifold)  # raises when off it
    assert fit.epochs_run == 30 and 0 <= fit.best_epoch < 30


def test_authors_optimisers_couple_weight_decay_into_adam_and_stabilize_latents():
    decoder = nn.Linear(3, 4).double()
    manifold = geoopt.Lorentz(k=torch.tensor(5.0, dtype=torch.float64))
    z, z_val = (geoopt.ManifoldParameter(AC.authors_latents(manifold, 6, 2, 1e-3,
                                                           torch.Generator().manual_seed(s)),
                                         manifold=manifold) for s in (0, 1))
    decoder_opt, z_opt, z_val_opt = P.authors_optimisers(decoder, z, z_val)
    with torch.no_grad():  # weights well above Adam's eps / weight decay (1e-5), either sign
        decoder.weight.copy_(torch.linspace(0.2, 1.0, 12).reshape(4, 3) * torch.tensor([1, -1, 1]))
    before = decoder.weight.detach().clone()
    decoder.weight.grad = torch.zeros_like(before)
    decoder.bias.grad = torch.zeros_like(decoder.bias)
    decoder_opt.step()
    # coupled: the decay is a gradient, which Adam normalises into a full step of size lr;
    # decoupled it would move each weight by lr * 1e-3 * |w|
    step = (decoder.weight.detach() - before).abs()
    assert torch.allclose(step, torch.full_like(step, P.AUTHORS["lr_decoder"]), rtol=1e-3)
    for opt, latents in ((z_opt, z), (z_val_opt, z_val)):
        (group,) = opt.param_groups
        assert group["params"] == [latents]
        assert group["stabilize"] == 5 and group["betas"] == (0.5, 0.7) and group["lr"] == 0.1


@pytest.mark.parametrize("gradient", R.NOISE_GRADIENTS)
def test_authors_noise_is_ours_in_value_and_pathwise_in_gradient(gradient):
    manifold = geoopt.Lorentz(k=torch.tensor(5.0, dtype=torch.float64))
    start = AC.authors_latents(manifold, 8, 2, 0.5, torch.Generator().manual_seed(0))
    values, grads = [], []
    for noise in (lambda z, g: AC.authors_noise(manifold, z, 0.5, g),
                  lambda z, g: R.perturb(z, manifold, 0.5, "inverse_metric", g, gradient=gradient)):
        z = start.clone().requires_grad_(True)
        noisy = noise(z, torch.Generator().manual_seed(3))
        (noisy[:, 1:].sum() + noisy[:, 0].square().sum()).backward()
        values.append(noisy.detach())
        grads.append(z.grad)
    torch.testing.assert_close(values[0], values[1], rtol=1e-10, atol=1e-12)
    if gradient == "pathwise":
        torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-12)
    else:
        assert not torch.allclose(grads[0], grads[1], rtol=1e-3)


def test_the_noise_gradient_switch_trains_as_our_pathwise_option():
    X, _ = binary_data()
    settings = dict(P.OURS, hidden=(8, 16), epochs=6, min_epochs=0, batch_size=64, verbose=False)
    switched = AC.SwitchedDecoder(P.VARIANTS["noise_gradient"], **settings).fit(X[:120], X_val=X[120:])
    pathwise = R.RiemannianDecoder(**{**settings, "noise_gradient": "pathwise"}).fit(
        X[:120], X_val=X[120:])
    fixed = R.RiemannianDecoder(**settings).fit(X[:120], X_val=X[120:])  # P.OURS: fixed
    np.testing.assert_allclose(pathwise.latents_, switched.latents_, rtol=1e-6, atol=1e-9)
    assert not np.allclose(fixed.latents_, switched.latents_, rtol=1e-6, atol=1e-9)


def test_authors_latents_start_near_the_origin_on_the_hyperboloid():
    manifold = geoopt.Lorentz(k=torch.tensor(5.0, dtype=torch.float64))
    z = AC.authors_latents(manifold, 500, 2, 1e-3, torch.Generator().manual_seed(0))
    R.check_on_manifold(z, manifold)
    distance = manifold.dist(R.manifold_origin(manifold, 2), z)
    assert 5e-4 < float(distance.median()) < 3e-3


def test_hmtdna_variants_are_the_training_differences_and_all_of_them():
    assert list(P.DIFFERENCES) == [name for name in AC.DIFFERENCES if name != "prior"]
    assert P.PROTOCOLS["h2"][:2] == ("ours", "authors") and P.VARIANTS["all_switches"] == AC.AUTHORS_CHOICES


def test_default_switches_train_exactly_as_the_estimator():
    X, _ = binary_data()
    settings = dict(epochs=4, min_epochs=2)
    switched = small_model(**settings).fit(X[:120], X_val=X[120:])
    estimator = R.RiemannianDecoder(manifold="lorentz", curvature=5.0, noise_std=0.5, loss="bce",
                                    verbose=False, seed=0, **TINY, **settings, **AC.BASELINE)
    estimator.fit(X[:120], X_val=X[120:])
    np.testing.assert_array_equal(switched.latents_, estimator.latents_)
    assert switched.history_["val_loss"] == estimator.history_["val_loss"]


@pytest.fixture
def optimisers(monkeypatch):
    """The optimisers a SwitchedDecoder trained with in its last fit (read after an epoch)."""
    seen = {}
    original = AC.SwitchedDecoder.make_optimisers

    def spy(self, decoder_params, latent_params):
        decoder, latent = original(self, decoder_params, latent_params)
        seen.update(decoder=decoder, latent=latent)
        return decoder, latent

    monkeypatch.setattr(AC.SwitchedDecoder, "make_optimisers", spy)
    return seen


def test_every_switch_on_trains_as_the_authors_loop():
    """The switches explain the whole difference: ours with all of them reproduces the
    re-implemented loop (same draws in the same order), so no difference is left unlisted."""
    X, _ = binary_data()
    split = (np.arange(120), np.arange(120, 150), None)
    authors = P.fit_protocol("authors", X, split, seed=0, epochs=8, verbose=False)
    switched = P.fit_protocol("all_switches", X, split, seed=0, epochs=8, verbose=False)
    np.testing.assert_allclose(switched.latents, authors.latents, rtol=0, atol=1e-10)
    assert switched.best_epoch == authors.best_epoch
    # per genome: theirs summed over features, ours (the history's unit) a mean
    np.testing.assert_allclose(np.array(switched.train_loss) * X.shape[1], authors.train_loss,
                               rtol=1e-10)


def fingerprint(switches, X, X_val, optimisers):
    """What each switch decides, read off a model with ``switches`` fitted for one epoch."""
    model = small_model(switches).fit(X, X_val=X_val)
    manifold, origin = model.manifold_, R.manifold_origin(model.manifold_, 2)
    # the latents' gradient through the model's noise and through ours, from the same draw
    grads = []
    for noise in (model.noisy_latents, lambda z: R.perturb(z, manifold, model.noise_std, model.noise,
                                                    model._generator,
                                                    gradient=model.noise_gradient)):
        z = torch.as_tensor(model.latents_[:8]).requires_grad_(True)
        model._generator.manual_seed(5)
        noise(z).sum().backward()
        grads.append(z.grad)
    model._generator.manual_seed(2)
    start = model.init_latents(5).detach()
    authors_start = AC.authors_latents(manifold, 5, 2, model.init_std,
                                      torch.Generator().manual_seed(2))
    z_val = torch.as_tensor(model.val_latents_)
    return {
        "activation": {type(m) for m in model.decoder_ if not isinstance(m, nn.Linear)},
        "decoder_dtype": next(model.decoder_.parameters()).dtype,
        "weight_decay": type(optimisers["decoder"]),
        "loss_reduction": float(model.objective(torch.ones(4))),
        "latent_init": torch.equal(start, authors_start),
        "noise_gradient": torch.equal(*grads),
        "stabilize": optimisers["latent"].param_groups[0]["stabilize"],
        "noisy_validation": torch.equal(model.validation_latents(z_val),
                                        model.validation_latents(z_val)),
        # after one epoch ours keeps the state scored before the latent step (the start, about
        # 1e-3 from the origin); theirs the state after it
        "authors_snapshot": float(manifold.dist(origin, torch.as_tensor(model.latents_)).max())
        > 0.02,
    }


@pytest.mark.parametrize("name", [*P.DIFFERENCES, "all_switches"])
def test_each_switch_changes_its_own_setting_in_training(name, optimisers):
    X, _ = binary_data()
    ours = fingerprint(AC.Switches(), X[:120], X[120:], optimisers)
    switched = fingerprint(P.VARIANTS[name], X[:120], X[120:], optimisers)
    changed = {key for key in ours if ours[key] != switched[key]}
    assert changed == (set(P.DIFFERENCES) if name == "all_switches" else {name})
    if name == "all_switches":
        assert switched["activation"] == {nn.SiLU} and switched["decoder_dtype"] == torch.float64
        assert switched["weight_decay"] is torch.optim.Adam and switched["stabilize"] == 5
        assert switched["loss_reduction"] == 4 * X.shape[1]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_reduced_run_writes_the_table_and_figure_to_results_only(tmp_path, monkeypatch, capsys,
                                                                 workers):
    X, groups = binary_data()
    monkeypatch.setattr(P, "load_genomes", lambda samples, reference="rsrs": (X, groups, "synthetic"))
    monkeypatch.setattr(P, "FOREST_TREES", 10)  # 300 trees x 5 folds x 3 fits: most of the time
    monkeypatch.setenv("RGD_RESULTS_DIR", str(tmp_path))
    assert P.main(["--samples", "150", "--seeds", "0", "--epochs", "2",
                   "--variants", "ours", "authors", "weight_decay", "--workers", workers]) == 0
    table = pd.read_csv(tmp_path / f"{P.TABLES['h2']}.csv")
    assert list(table.columns) == ["difference", "n_seeds", "spearman_mean", "spearman_std",
                                   "pearson_mean", "pearson_std", "first_letter_accuracy_mean",
                                   "first_letter_accuracy_std"]
    assert table["difference"].tolist() == ["ours", "authors", "weight_decay"]
    assert (table["n_seeds"] == 1).all() and (table.filter(like="_std") == 0).all().all()
    assert table[["spearman_mean", "pearson_mean"]].abs().le(1).all().all()
    assert table["first_letter_accuracy_mean"].between(0, 1).all()
    assert len(pd.read_csv(tmp_path / f"{P.FITS}.csv")) == 3
    assert (tmp_path / f"{P.FIGURE}.png").stat().st_size > 0
    assert not (tmp_path / "paper").exists()
    out = capsys.readouterr().out
    assert "authors seed 0: Spearman" in out and "reduced settings" in out
    assert f"{workers} worker(s)" in out


def test_a_rerun_keeps_the_saved_fits_and_restart_fits_them_again(tmp_path, monkeypatch):
    X, groups = binary_data()
    monkeypatch.setattr(P, "load_genomes", lambda samples, reference="rsrs": (X, groups, "synthetic"))
    monkeypatch.setattr(P, "FOREST_TREES", 10)
    monkeypatch.setenv("RGD_RESULTS_DIR", str(tmp_path))
    run = ["--samples", "150", "--epochs", "2", "--variants", "ours", "stabilize", "--workers", "1"]
    assert P.main([*run, "--seeds", "0"]) == 0
    first = pd.read_csv(tmp_path / f"{P.TABLES['h2']}.csv")
    fitted = []
    original = P.fit_and_measure
    monkeypatch.setattr(P, "fit_and_measure", lambda *a, **k: fitted.append(a[:2]) or original(*a, **k))
    assert P.main([*run, "--seeds", "0"]) == 0  # all kept, the figure's latents too
    assert fitted == []
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / f"{P.TABLES['h2']}.csv"), first)
    assert P.main([*run, "--seeds", "0", "1"]) == 0  # only the new seed
    assert sorted(fitted) == [("ours", 1), ("stabilize", 1)]
    assert len(pd.read_csv(tmp_path / f"{P.FITS}.csv")) == 4
    assert pd.read_csv(tmp_path / f"{P.TABLES['h2']}.csv")["n_seeds"].tolist() == [2, 2]
    fitted.clear()
    assert P.main([*run, "--seeds", "0", "--epochs", "3"]) == 0  # other settings: fitted anew
    assert sorted(fitted) == [("ours", 0), ("stabilize", 0)]
    fitted.clear()
    assert P.main([*run, "--seeds", "0", "--restart"]) == 0
    assert sorted(fitted) == [("ours", 0), ("stabilize", 0)]


def test_only_the_issue_settings_write_results_paper():
    assert P.is_full_run(P.parse_args([]))
    for reduced in (["--epochs", "20"], ["--seeds", "0"], ["--samples", "800"],
                    ["--variants", "ours", "authors"]):
        assert not P.is_full_run(P.parse_args(reduced))


def test_r2_every_switch_on_trains_as_the_authors_r2_loop_through_the_prior_ramp():
    """Their R²: Euclidean latents, no noise, their batch prior w(t) ‖Z_batch‖ from epoch 25 with
    the jump to β at 75; every switch on reproduces their loop past the jump."""
    X, _ = binary_data()
    split = (np.arange(120), np.arange(120, 150), None)
    fits = [P.fit_protocol(name, X, split, seed=0, epochs=80, verbose=False, row="r2")
            for name in ("authors", "all_switches")]
    np.testing.assert_allclose(fits[1].latents, fits[0].latents, rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.array(fits[1].train_loss) * X.shape[1], fits[0].train_loss,
                               rtol=1e-9)
    # the prior is in the training loss once its weight is on: without it the loss differs
    no_prior = P.train_authors(X[:120], X[120:150], 0, 80, {**P.AUTHORS_R2, "use_prior": False},
                               verbose=False)
    assert no_prior.train_loss[:25] == fits[0].train_loss[:25]
    assert not np.isclose(no_prior.train_loss[79], fits[0].train_loss[79])


def test_r2_protocols_are_ours_the_paper_row_h2_and_each_difference():
    assert P.PROTOCOLS["r2"][:5] == ("ours", "paper_row", "h2_ours", "h2_authors", "all_switches")
    assert P.R2_VARIANTS["all_switches"] == AC.AUTHORS_HMTDNA_R2
    assert P.R2_VARIANTS["prior"] == AC.Switches(prior="batch_norm")
    assert P.R2_VARIANTS["paper_row"] == AC.Switches(prior="batch_norm", loss_reduction="sum")
    assert "authors" not in P.DEFAULT_VARIANTS["r2"]


def test_r2_run_writes_a_table_per_reference_and_protocol(tmp_path, monkeypatch):
    X, groups = binary_data()
    loaded = []
    monkeypatch.setattr(P, "load_genomes",
                        lambda samples, reference="rsrs": loaded.append(reference) or
                        (X, groups, "synthetic"))
    monkeypatch.setattr(P, "FOREST_TREES", 10)
    monkeypatch.setenv("RGD_RESULTS_DIR", str(tmp_path))
    assert P.main(["--row", "r2", "--samples", "150", "--seeds", "0", "--epochs", "2",
                   "--variants", "ours", "paper_row", "--workers", "1"]) == 0
    assert loaded == ["rsrs", "rcrs"]
    table = pd.read_csv(tmp_path / f"{P.TABLES['r2']}.csv")
    assert table[["reference", "difference"]].values.tolist() == [
        ["rsrs", "ours"], ["rcrs", "ours"], ["rsrs", "paper_row"], ["rcrs", "paper_row"]]
    assert not (tmp_path / f"{P.FIGURE}.png").exists()


def test_a_protocol_of_the_other_row_is_refused():
    with pytest.raises(SystemExit):
        P.parse_args(["--row", "r2", "--variants", "stabilize"])
