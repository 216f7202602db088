"""Test-time latents (rgd_utils.optimise_starts): pruning to the best starts keeps their exact
paths, keeping every start is the unpruned optimisation, and the pruned result fits nearly as well."""
import numpy as np
import pytest
import torch
import geoopt

import rgd_utils as R
from rgdkit.training.multistart import keep_best_starts

FIT = dict(manifold="lorentz", curvature=2.0, hidden=(8, 16), epochs=15, min_epochs=0,
           n_starts=6, test_epochs=40, verbose=False)


def blobs(n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) + 2 * (np.arange(n) % 3)[:, None]).astype(np.float32)


def quadratic_loss(centres):
    """Per-row loss of latents (B, M * k, 2) against one centre per sample (M, 2)."""
    def loss(z, k):
        return (z - centres.repeat_interleave(k, 0)).square().sum(-1) + z[..., 0].sin()
    return loss


def test_kept_starts_continue_on_exactly_their_path():
    gen = torch.Generator().manual_seed(0)
    b, m, s, keep = 2, 3, 5, 2
    loss = quadratic_loss(torch.randn(m, 2, generator=gen, dtype=torch.float64))
    manifold = geoopt.Euclidean(1)
    full = geoopt.ManifoldParameter(torch.randn(b, m * s, 2, generator=gen, dtype=torch.float64),
                                    manifold=manifold)
    opt = geoopt.optim.RiemannianAdam([full], lr=0.1)

    def steps(param, optimiser, k, n):
        for _ in range(n):
            optimiser.zero_grad()
            loss(param, k).sum().backward()
            optimiser.step()

    steps(full, opt, s, 4)
    with torch.no_grad():
        order = loss(full, s).reshape(b, m, s).argsort(2)[..., :keep]
    kept, kept_opt, k = keep_best_starts(full, opt, loss, (b, m, s), keep)
    assert k == keep and kept.shape == (b, m * keep, 2)
    steps(full, opt, s, 6)
    steps(kept, kept_opt, keep, 6)
    expected = full.detach().reshape(b, m, s, 2).gather(2, order[..., None].expand(b, m, keep, 2))
    torch.testing.assert_close(kept.detach().reshape(b, m, keep, 2), expected, rtol=0, atol=1e-12)


def test_keeping_every_start_is_the_unpruned_optimisation():
    X = blobs()
    model = R.RiemannianDecoder(**FIT).fit(X)
    X_new = blobs(15, seed=4)
    unpruned = model.set_params(prune_keep=None).transform(X_new)
    np.testing.assert_array_equal(model.set_params(prune_keep=6).transform(X_new), unpruned)
    np.testing.assert_array_equal(model.set_params(prune_keep=50).transform(X_new), unpruned)


def test_pruned_latents_fit_nearly_as_well_as_all_starts():
    X = blobs()
    model = R.RiemannianDecoder(**FIT).fit(X)
    X_new = blobs(40, seed=5)

    def loss(Z):
        return ((model.inverse_transform(Z) - X_new) ** 2).mean(1)

    full = loss(model.set_params(prune_keep=None).transform(X_new))
    pruned = loss(model.set_params(prune_keep=2).transform(X_new))
    assert pruned.mean() <= full.mean() * 1.01
    assert np.isfinite(pruned).all()


@pytest.mark.parametrize("value,error", [(0, ValueError), (2.5, ValueError), ("4", TypeError)])
def test_bad_prune_keep_is_refused_by_name(value, error):
    with pytest.raises(error, match="prune_keep"):
        R.RiemannianDecoder(prune_keep=value, epochs=1, verbose=False).fit(blobs(20))
