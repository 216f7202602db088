"""ΔVAE baseline: the geodesic random walk, the heat kernels (exact on the torus, the parametrix
on S^2 checked against the Legendre series) and the estimator."""
import math

import numpy as np
import pytest
import torch
from scipy import special, stats
from sklearn.base import clone

import rgd_utils as R
import rgdkit.metrics as M
from rgdkit.baselines import deltavae as D
from rgdkit.training.base import TrainingDiverged

F64 = torch.float64


def t64(x):
    return torch.tensor(x, dtype=F64)


def unit(x):
    x = t64(x)
    return x / x.norm()


def exact_s2_kernel(r, t, terms=200):
    """Heat kernel of Laplacian / 2 on the unit S^2: sum_l (2l+1)/(4 pi) e^(-l(l+1) t/2) P_l(cos r)."""
    l = np.arange(terms)[:, None]
    return ((2 * l + 1) / (4 * np.pi) * np.exp(-l * (l + 1) * t / 2)
            * special.eval_legendre(l, np.cos(r)[None])).sum(0)


Z0_SPHERE = unit([0.3, -0.5, 0.8])
Z0_TORUS = torch.cat([unit([0.6, 0.8]), unit([-1.0, 0.2])])


# ---- the random walk ---------------------------------------------------------------------------------
@pytest.mark.parametrize("manifold,z0", [("sphere", Z0_SPHERE), ("torus", Z0_TORUS)])
def test_small_time_samples_spread_like_a_gaussian_of_variance_t(manifold, z0):
    """E d(z0, z)^2 = d t (d = 2) up to O(t^2), and samples lie on the manifold."""
    t = 1e-3
    q = D.BrownianMotion(z0, t, manifold, n_steps=10)
    z = q.rsample(20_000, torch.Generator().manual_seed(1))
    M_ = R.make_manifold(manifold, 2)
    R.check_on_manifold(z, M_)
    d2 = M_.dist(z0.expand_as(z), z).square()
    stderr = float(d2.std()) / math.sqrt(len(d2))
    assert abs(float(d2.mean()) - 2 * t) < 4 * stderr
    assert stderr < 0.01 * 2 * t


def test_torus_walk_is_exactly_the_wrapped_normal():
    """Each step rotates each circle by a N(0, t / N) angle, so the angle moved is N(0, t) wrapped
    (KS against the wrapped-normal CDF, with a t large enough to wrap)."""
    t = 2.5
    q = D.BrownianMotion(Z0_TORUS, t, "torus", n_steps=7)
    z = q.rsample(20_000, torch.Generator().manual_seed(2)).unflatten(-1, (2, 2))
    z0 = Z0_TORUS.unflatten(-1, (2, 2))
    delta = torch.atan2(z0[:, 0] * z[..., 1] - z0[:, 1] * z[..., 0], (z * z0).sum(-1)).numpy()
    k = np.arange(-6, 7)

    def cdf(x):
        x = np.asarray(x)[..., None]
        return (stats.norm.cdf((x + 2 * np.pi * k) / math.sqrt(t))
                - stats.norm.cdf((-np.pi + 2 * np.pi * k) / math.sqrt(t))).sum(-1)

    for i in range(2):
        assert stats.kstest(delta[:, i], cdf).pvalue > 0.01


@pytest.mark.parametrize("t", [0.05, 0.5])
def test_sphere_walk_follows_the_exact_heat_kernel(t):
    """Distances of 10-step walks against the radial law of the Legendre-series kernel (KS)."""
    q = D.BrownianMotion(Z0_SPHERE, t, "sphere", n_steps=10)
    r = q.distance(q.rsample(20_000, torch.Generator().manual_seed(3))).numpy()
    grid = np.linspace(0, np.pi, 4001)
    density = 2 * np.pi * np.sin(grid) * exact_s2_kernel(grid, t)
    cdf = np.concatenate([[0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(grid))])
    assert cdf[-1] == pytest.approx(1.0, abs=1e-5)
    assert stats.kstest(r, lambda x: np.interp(x, grid, cdf)).pvalue > 0.01


def test_walk_is_differentiable_in_the_start_and_the_time():
    z0 = unit([0.1, 0.9, -0.3]).requires_grad_(True)
    t = t64(0.2).requires_grad_(True)
    q = D.BrownianMotion(z0, t, "sphere", n_steps=5)
    z = q.rsample(64, torch.Generator().manual_seed(4))
    log_q = q.log_prob(z)
    target = unit([1.0, 0.0, 0.0])
    loss = (z @ target).sum() + log_q.sum()
    g_z0, g_t = torch.autograd.grad(loss, (z0, t))
    assert torch.isfinite(g_z0).all() and float(g_z0.norm()) > 0
    assert math.isfinite(float(g_t)) and float(g_t) != 0


# ---- the heat kernels -----------------------------------------------------------------------------------
def sphere_mass(t, z0, n_r=4000, n_phi=128):
    """int p_t dA over S^2 in geodesic polar coordinates about z0 (points built in R^3, so the
    density's own distance computation is used); midpoint rule in r up to min(pi, 12 sqrt(t))
    (error < 1e-6: at least 250 nodes per sqrt(t))."""
    r_max = min(math.pi, 12 * math.sqrt(t))
    r = (torch.arange(n_r, dtype=F64) + 0.5) * r_max / n_r
    phi = torch.arange(n_phi, dtype=F64) * 2 * math.pi / n_phi
    e1 = torch.linalg.cross(z0, t64([1.0, 0.0, 0.0]))
    e1 = e1 / e1.norm()
    e2 = torch.linalg.cross(z0, e1)
    direction = torch.cos(phi)[:, None] * e1 + torch.sin(phi)[:, None] * e2
    pts = torch.cos(r)[:, None, None] * z0 + torch.sin(r)[:, None, None] * direction
    q = D.BrownianMotion(z0, t64(t), "sphere")
    torch.testing.assert_close(q.distance(pts), r[:, None].expand(-1, n_phi))
    p = q.log_prob(pts).exp()
    return float((p * torch.sin(r)[:, None]).sum() * (r_max / n_r) * (2 * math.pi / n_phi))


@pytest.mark.parametrize("t,tolerance", [(1e-4, 1e-5), (1e-2, 1e-5), (0.1, 5e-4), (0.5, 6e-3),
                                         (1.0, 0.025)])
def test_sphere_parametrix_integrates_to_about_one_in_the_allowed_time_range(t, tolerance):
    """Measured mass ~1 - t^2 / 60 for small t, 1 - 2e-4 at t = 0.1, 1 - 4e-3 at 0.5, 1 - 0.019 at
    t = 1 = max_time."""
    mass = sphere_mass(t, Z0_SPHERE)
    assert mass == pytest.approx(1.0, abs=tolerance)
    assert mass <= 1.0 + 1e-6  # the first-order parametrix misses mass, it never adds it


def test_beyond_the_range_the_parametrix_loses_mass():
    """Why max_time is 1 on the sphere: at t = 2 the approximation has only ~93 % of the mass."""
    assert sphere_mass(2.0, Z0_SPHERE) < 0.95


@pytest.mark.parametrize("t,tolerance", [(0.01, 1e-5), (0.1, 5e-4), (0.5, 1e-2), (1.0, 0.07)])
def test_sphere_parametrix_is_close_to_the_legendre_series(t, tolerance):
    """|log p - log p_exact| over the distances that hold 99 % of the mass."""
    grid = np.linspace(1e-4, np.pi - 1e-3, 3000)
    exact = exact_s2_kernel(grid, t)
    cdf = np.cumsum(2 * np.pi * np.sin(grid) * exact) * (grid[1] - grid[0])
    keep = cdf <= 0.99
    approx = D.sphere_heat_kernel_log(t64(grid[keep]), t64(t)).numpy()
    assert np.abs(approx - np.log(exact[keep])).max() < tolerance


def test_parametrix_terms_at_zero_distance():
    """At r = 0: (2 pi t)^-1 (1 + t / 6), and the u1 series meets the closed form at r = 0.1."""
    t = t64([1e-3, 0.3])
    torch.testing.assert_close(D.sphere_heat_kernel_log(torch.zeros(2, dtype=F64), t),
                               -torch.log(2 * math.pi * t) + torch.log1p(t / 6))
    r = t64([0.1 - 1e-12, 0.1 + 1e-12])
    u1 = D._sphere_u1(r)
    assert abs(float(u1[0] - u1[1])) < 1e-13


@pytest.mark.parametrize("t", [0.01, 1.0, 6.0])
def test_torus_kernel_integrates_to_one(t):
    n = 800
    a = (torch.arange(n, dtype=F64) + 0.5) * 2 * math.pi / n - math.pi
    A, B = torch.meshgrid(a, a, indexing="ij")
    pts = torch.stack([torch.cos(A), torch.sin(A), torch.cos(B), torch.sin(B)], -1)
    q = D.BrownianMotion(Z0_TORUS, t64(t), "torus")
    mass = float(q.log_prob(pts).exp().sum()) * (2 * math.pi / n) ** 2
    assert mass == pytest.approx(1.0, abs=1e-9 if t >= 0.01 else 1e-6)


def test_antipode_is_clamped_and_counted():
    q = D.BrownianMotion(Z0_SPHERE, t64(0.5), "sphere")
    z = torch.stack([-Z0_SPHERE, Z0_SPHERE])
    log_p, count = q.log_prob_and_count(z)
    assert int(count) == 1 and torch.isfinite(log_p).all()


# ---- the estimator --------------------------------------------------------------------------------------
def noisy_circle(n=240, d=10, seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 2 * np.pi, n)
    X = np.stack([np.cos(theta), np.sin(theta)], 1) @ rng.normal(size=(2, d)) * 2
    X += rng.normal(scale=0.1, size=X.shape)
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32), theta


@pytest.mark.parametrize("manifold,width", [("sphere", 3), ("torus", 4)])
def test_fit_trains_and_latents_lie_on_the_manifold(manifold, width):
    X, _ = noisy_circle()
    model = D.DiffusionVAE(manifold=manifold, epochs=10, batch_size=32, verbose=False, seed=1)
    model.fit(X[:200], X_val=X[200:])
    h = model.history_
    assert np.isfinite(h["train_loss"]).all() and np.isfinite(h["val_loss"]).all()
    assert h["train_loss"][-1] < h["train_loss"][0] - 1.0
    assert model.failures_ == {"nan_epochs": 0, "cut_locus_clamps": 0}
    Z = model.transform(X)
    assert Z.shape == (240, width) and Z.dtype == np.float64
    R.check_on_manifold(torch.as_tensor(Z), model.manifold_)
    np.testing.assert_array_equal(model.latents_, Z[:200])
    assert np.isfinite(M.pairwise_distances(Z, model.manifold_)).all()
    assert model.inverse_transform(Z).shape == (240, 10)
    val = np.array(h["val_loss"])
    assert model.best_epoch_ == int(np.argmin(val))
    assert -model.elbo(X[200:]).mean() == pytest.approx(val.min(), rel=1e-6)
    # the encoder's times stay in the documented range
    with torch.no_grad():
        _, t = model._encode(torch.as_tensor(X))
    assert (t >= model.min_time).all() and (t <= model.max_time).all()


def test_same_seed_same_latents_and_global_rng_untouched():
    X, _ = noisy_circle(n=96)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    fit = lambda seed: D.DiffusionVAE(epochs=3, batch_size=32, seed=seed, verbose=False).fit(X).latents_
    a = fit(5)
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    np.testing.assert_array_equal(a, fit(5))
    assert not np.allclose(a, fit(6))


def test_forced_nan_warns_and_keeps_the_best_state(monkeypatch):
    X, _ = noisy_circle(n=128)
    calls = {"n": 0}
    original = D.DiffusionVAE._batch_loss

    def nan_from_epoch_2(log_lik, log_ratio, beta=1.0):  # 4 batches per epoch
        calls["n"] += 1
        loss = original(log_lik, log_ratio, beta)
        return loss * float("nan") if calls["n"] > 8 else loss

    monkeypatch.setattr(D.DiffusionVAE, "_batch_loss", staticmethod(nan_from_epoch_2))
    model = D.DiffusionVAE(manifold="torus", epochs=6, batch_size=32, verbose=False)
    with pytest.warns(TrainingDiverged, match=r"ΔVAE training diverged at epoch 2 .*best state"):
        model.fit(X)
    assert model.diverged_at_ == 2 and model.failures_["nan_epochs"] == 1
    assert np.isfinite(model.latents_).all()


def test_three_torus_and_clone():
    X, _ = noisy_circle(n=64)
    model = D.DiffusionVAE(manifold="torus", latent_dim=3, epochs=2, hidden=(8, 16), verbose=False)
    Z = model.fit(X).transform(X)
    assert Z.shape == (64, 6)
    R.check_on_manifold(torch.as_tensor(Z), model.manifold_)
    assert clone(model).get_params() == model.get_params()


@pytest.mark.parametrize("kwargs,match", [
    ({"manifold": "poincare"}, "manifold must be one of"),
    ({"latent_dim": 3}, "latent_dim must be 2 on the sphere"),
    ({"max_time": 2.0}, "max_time must be <= 1 on the sphere"),
    ({"min_time": 0.5, "max_time": 0.1}, r"min_time \(0.5\) must be below max_time"),
    ({"min_time": 0.0}, "min_time must be > 0"),
    ({"n_steps": 0}, "n_steps must be a positive integer"),
    ({"likelihood_std": -1.0}, "likelihood_std"),
])
def test_bad_parameters_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        D.DiffusionVAE(verbose=False, **{"epochs": 1, **kwargs}).fit(np.zeros((4, 2)))


def test_inverse_transform_checks_the_latents():
    X, _ = noisy_circle(n=32)
    model = D.DiffusionVAE(manifold="torus", epochs=1, hidden=(4,), verbose=False).fit(X)
    with pytest.raises(ValueError, match="N x 4 points of the 2-torus"):
        model.inverse_transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="not on the ProductManifold"):
        model.inverse_transform(np.array([[1.0, 0.0, 0.5, 0.5]]))
