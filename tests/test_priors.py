"""The estimator's priors: the Gaussians of rgdkit.manifolds.normals as MAP terms (normalised,
divided by the number of features like the likelihood), refused up front where they do not
exist, and pulling latents towards the origin."""
import numpy as np
import pytest
import torch

import rgd_utils as R
from rgdkit.manifolds import normals

SMALL = dict(hidden=(8,), epochs=6, min_epochs=0, n_starts=2, test_epochs=2, verbose=False)


def data(n=80, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) * 2).astype(np.float32)


@pytest.mark.parametrize("kind", normals.KINDS)
@pytest.mark.parametrize("manifold", ["lorentz", "poincare", "euclidean"])
def test_the_penalty_is_the_normalised_negative_log_prior_per_feature(kind, manifold):
    model = R.RiemannianDecoder(manifold=manifold, prior=kind, prior_std=0.7, **SMALL).fit(data())
    z = torch.as_tensor(model.latents_[:10])
    expected = -normals.log_prior(z, model.manifold_, kind, 0.7) / model.n_features_in_
    torch.testing.assert_close(model.prior_penalty(z), expected)
    assert model.prior_active()


@pytest.mark.parametrize("kind", normals.KINDS)
def test_a_gaussian_prior_on_a_compact_manifold_is_refused_before_training(kind):
    model = R.RiemannianDecoder(manifold="sphere", prior=kind, **SMALL)
    with pytest.raises(NotImplementedError, match=r"prior='.*normal'.*prior='none'"):
        model.fit(data())
    assert not hasattr(model, "history_")


def test_a_tight_prior_pulls_the_latents_towards_the_origin():
    X = data(120)
    settings = dict(SMALL, manifold="lorentz", epochs=30, lr_latent=0.2)
    free = R.RiemannianDecoder(**settings, prior="none").fit(X)
    tight = R.RiemannianDecoder(**settings, prior="riemannian_normal", prior_std=0.05).fit(X)
    origin = R.manifold_origin(free.manifold_, 2)
    radius = lambda m: float(m.manifold_.dist(origin, torch.as_tensor(m.latents_)).median())
    assert radius(tight) < 0.5 * radius(free)


def test_an_unknown_prior_names_the_choices():
    with pytest.raises(ValueError, match="riemannian_normal"):
        R.RiemannianDecoder(prior="laplace", **SMALL).fit(data())


@pytest.mark.parametrize("manifold, prior, active", [
    ("euclidean", "auto", True), ("euclidean", "none", False), ("lorentz", "auto", False),
    ("lorentz", "none", False), ("lorentz", "normal", True), ("sphere", "normal", True)])
def test_which_priors_are_active(manifold, prior, active):
    model = R.RiemannianDecoder(manifold=manifold, prior=prior, **SMALL).fit(data())
    assert model.prior_active() is active
