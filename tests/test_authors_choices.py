"""rgdkit.training.authors_choices: each variant changes its own switch; the prior switch."""
import dataclasses

import numpy as np
import pytest
import torch

import rgd_utils as R
from rgdkit.training import authors_choices as AC


def test_each_variant_differs_from_ours_in_its_own_switch_only():
    ours = AC.Switches()
    fields = [f.name for f in dataclasses.fields(AC.Switches)]
    assert list(AC.DIFFERENCES) == fields
    variants = AC.variants()
    for name in AC.DIFFERENCES:
        changed = [f for f in fields if getattr(variants[name], f) != getattr(ours, f)]
        assert changed == [name]
        assert getattr(variants[name], name) == getattr(AC.AUTHORS_CHOICES, name)
    assert all(getattr(AC.AUTHORS_CHOICES, f) != getattr(ours, f) for f in fields)
    assert variants["all_switches"] == AC.AUTHORS_CHOICES


def test_unknown_difference_is_named():
    with pytest.raises(ValueError, match="unknown differences.*'relu'"):
        AC.variants(["activation", "relu"])


def test_prior_switch_removes_the_euclidean_prior_and_nothing_else():
    X = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
    settings = dict(manifold="euclidean", hidden=(8,), batch_size=16, epochs=3, min_epochs=0,
                    verbose=False, seed=0)
    ours = AC.SwitchedDecoder(AC.Switches(), **settings).fit(X)
    without = AC.SwitchedDecoder(AC.variants(["prior"])["prior"], **settings).fit(X)
    assert ours.prior_active() and not without.prior_active()
    # the prior pulls latents towards the origin: without it the first epoch's loss is lower
    assert without.history_["train_loss"][0] < ours.history_["train_loss"][0]
    assert not np.allclose(ours.latents_, without.latents_)


def test_switches_hold_for_members_trained_together():
    """The authors' choices act through the estimator's extension points, so members of one
    run train as each would alone (the switches were ignored by the old batched path)."""
    X = np.random.default_rng(1).normal(size=(80, 5)).astype(np.float32)
    settings = dict(manifold="lorentz", noise_std=0.5, hidden=(8,), batch_size=16, epochs=4,
                    min_epochs=0, verbose=False)
    alone = [AC.SwitchedDecoder(AC.AUTHORS_CHOICES, seed=s, **settings).fit(X[:60], X_val=X[60:])
             for s in (0, 1)]
    together = R.fit_together([AC.SwitchedDecoder(AC.AUTHORS_CHOICES, seed=s, **settings)
                               for s in (0, 1)], X[:60], X[60:])
    for a, b in zip(alone, together):
        np.testing.assert_allclose(b.latents_, a.latents_, rtol=0, atol=1e-9)
        assert b.decoder_dtype == torch.float64 and a.history_ == b.history_
    assert not np.allclose(together[0].latents_, together[1].latents_)


def test_authors_prior_weight_follows_their_schedule_with_its_jump():
    weights = [AC.authors_prior_weight(t) for t in (0, 24, 25, 50, 74, 75, 500)]
    assert weights == [0.0, 0.0, 0.0, 100 * 25 / 75, 100 * 49 / 75, 100.0, 100.0]


def test_batch_prior_adds_its_weighted_batch_norm_to_the_summed_loss_in_training_only():
    X = np.random.default_rng(2).normal(size=(40, 6)).astype(np.float32)
    model = AC.SwitchedDecoder("hmtdna_r2_paper", manifold="euclidean", hidden=(4,),
                               batch_size=40, epochs=1, min_epochs=0, verbose=False).fit(X)
    z = torch.as_tensor(model.latents_) + 1.0
    model.history_ = {"epoch": list(range(80))}  # the weight is β from epoch 75 on
    armed = model.prior_penalty(model.noisy_latents(z))
    torch.testing.assert_close(model.objective(armed), 100 * torch.linalg.vector_norm(z))
    # consumed by that minibatch: the validation pass and test-time latents have no prior
    assert float(model.prior_penalty(model.validation_latents(z)).abs().max()) == 0.0
    assert model.prior_active()


def test_switches_by_name_keep_every_parameter_and_stay_storable():
    from sklearn.base import clone
    from rgdkit.files import fit_cache

    model = AC.SwitchedDecoder("hmtdna_r2_paper", manifold="euclidean", seed=7, epochs=3)
    params = model.get_params()
    assert params["seed"] == 7 and params["epochs"] == 3 and params["switches"] == "hmtdna_r2_paper"
    assert clone(model).get_params() == params
    assert fit_cache.storable_problem([model]) is None
    assert model.switches_ == AC.NAMED_SWITCHES["hmtdna_r2_paper"]
    with pytest.raises(ValueError, match="neither a Switches nor one of"):
        _ = AC.SwitchedDecoder("their_r2").switches_
    with pytest.raises(ValueError, match="prior='gaussian'"):
        AC.Switches(prior="gaussian")
