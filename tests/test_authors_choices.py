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
