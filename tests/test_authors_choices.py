"""rgdkit.training.authors_choices: each variant changes its own switch; the prior switch."""
import dataclasses

import numpy as np
import pytest

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
