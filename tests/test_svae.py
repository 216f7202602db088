"""S-VAE baseline: log-Bessel functions, the von Mises–Fisher distribution (normaliser, KL,
sampler, implicit gradients) and the estimator."""
import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats
from sklearn.base import clone

import rgd_utils as R
import rgdkit.metrics as M
from rgdkit.baselines import svae as S
from rgdkit.training.base import TrainingDiverged

F64 = torch.float64


def t64(x):
    return torch.tensor(x, dtype=F64)


def unit(x):
    x = t64(x)
    return x / x.norm()


# ---- log-Bessel functions -------------------------------------------------------------------------
KAPPAS = [1e-300, 1e-8, 1e-3, 0.1, 1.0, 7.0, 49.9, 50.0, 50.1, 199.0, 201.0, 1e3, 1e4, 1e7, 1e12]


@pytest.mark.parametrize("nu", [0.0, 0.5, 1.0, 1.5, 2.0, 4.5, 10.0])
def test_log_bessel_and_ratio_match_scipy_across_the_series_hankel_switch(nu):
    kappa = t64(KAPPAS)
    k = kappa.numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = np.log(special.ive(nu, k)) + k  # ive is e^-kappa I_nu: no overflow
        ratio = special.ive(nu + 1, k) / special.ive(nu, k)
    mine = S.log_bessel_iv(nu, kappa).numpy()
    assert np.isfinite(mine).all()
    ok = np.isfinite(ref)
    np.testing.assert_allclose(mine[ok], ref[ok], rtol=1e-13, atol=1e-13)
    A = S.bessel_ratio(nu, kappa).numpy()
    ok = np.isfinite(ratio) & (ratio > 0)
    np.testing.assert_allclose(A[ok], ratio[ok], rtol=1e-12)
    # 1 - A ~ (2 nu + 1) / (2 kappa) keeps its digits for large kappa
    big = ok & (k > 100) & (k < 1e8)
    np.testing.assert_allclose(1 - A[big], 1 - ratio[big], rtol=1e-7)


def test_half_integer_order_has_the_closed_forms_of_s2():
    """p = 3: I_1/2(k) = sqrt(2 / (pi k)) sinh k and A_3(k) = coth k - 1/k."""
    kappa = t64([1e-2, 0.3, 2.0, 20.0, 80.0, 600.0])
    log_sinh = kappa + torch.log(-torch.expm1(-2 * kappa)) - math.log(2)
    torch.testing.assert_close(S.log_bessel_iv(0.5, kappa),
                               0.5 * torch.log(2 / (math.pi * kappa)) + log_sinh, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(S.bessel_ratio(0.5, kappa), 1 / torch.tanh(kappa) - 1 / kappa,
                               rtol=1e-10, atol=0)


@pytest.mark.parametrize("nu", [0.0, 0.5, 2.0])
def test_log_bessel_gradient_is_the_recurrence(nu):
    """d/dk log I_nu(k) = I_(nu+1)(k) / I_nu(k) + nu / k, through autograd on both branches."""
    kappa = t64([1e-3, 0.5, 5.0, 45.0, 60.0, 1e4]).requires_grad_(True)
    (grad,) = torch.autograd.grad(S.log_bessel_iv(nu, kappa).sum(), kappa)
    expected = S.bessel_ratio(nu, kappa.detach()) + nu / kappa.detach()
    torch.testing.assert_close(grad, expected, rtol=1e-10, atol=1e-12)


# ---- the distribution: normaliser and KL -----------------------------------------------------------
def s2_grid(n_theta=900, n_phi=1800):
    """Midpoint grid on S^2 in polar angles about the z axis, with its area weights."""
    theta = (torch.arange(n_theta, dtype=F64) + 0.5) * math.pi / n_theta
    phi = (torch.arange(n_phi, dtype=F64) + 0.5) * 2 * math.pi / n_phi
    st = torch.sin(theta)[:, None]
    pts = torch.stack([st * torch.cos(phi), st * torch.sin(phi),
                       torch.cos(theta)[:, None].expand(-1, n_phi)], -1)
    weight = st.expand(-1, n_phi) * (math.pi / n_theta) * (2 * math.pi / n_phi)
    return pts, weight


@pytest.mark.parametrize("kappa", [1e-3, 0.5, 5.0, 50.0])
def test_density_integrates_to_one_on_s2_and_its_entropy_gives_the_kl(kappa):
    pts, weight = s2_grid()
    q = S.VonMisesFisher(unit([0.3, -0.6, 0.2]), t64(kappa))
    log_q = q.log_prob(pts)
    mass = float((log_q.exp() * weight).sum())
    assert mass == pytest.approx(1.0, abs=1e-5)
    kl_grid = float((log_q.exp() * (log_q + math.log(4 * math.pi)) * weight).sum())
    assert float(q.kl_to_uniform()) == pytest.approx(kl_grid, rel=1e-4, abs=1e-9)


def test_kl_is_non_negative_vanishes_at_zero_and_stays_finite():
    kappa = torch.logspace(-6, 6, 49, dtype=F64)
    for p in (2, 3, 6):
        mu = torch.zeros(p, dtype=F64)
        mu[0] = 1
        kl = S.VonMisesFisher(mu, kappa).kl_to_uniform()
        assert (kl >= 0).all() and torch.isfinite(kl).all()
        assert (kl.diff() > 0).all()  # more concentrated, further from uniform
        # KL ~ kappa^2 / (2 p) as kappa -> 0
        np.testing.assert_allclose(kl[:5].numpy(), (kappa[:5] ** 2 / (2 * p)).numpy(), rtol=1e-3)
    # large kappa: KL ~ (p-1)/2 log(kappa / 2 pi) - (p-1)/2 + log area(S^(p-1))
    big = t64([1e4])
    kl = S.VonMisesFisher(unit([1.0, 0.0, 0.0]), big).kl_to_uniform()
    expected = math.log(1e4 / (2 * math.pi)) - 1 + math.log(4 * math.pi)
    assert float(kl) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("kappa", [1e-3, 1e4])
def test_kl_and_its_gradient_are_finite_at_the_extremes(kappa):
    for p in (3, 5):
        k = t64([kappa]).requires_grad_(True)
        mu = torch.zeros(p, dtype=F64)
        mu[0] = 1
        kl = S.VonMisesFisher(mu, k).kl_to_uniform().sum()
        (grad,) = torch.autograd.grad(kl, k)
        assert math.isfinite(kl.item()) and math.isfinite(grad.item()) and grad.item() > 0
        # the derivative of kappa A - E_nu is kappa A'(kappa): check against a central difference
        h = kappa * 1e-5
        A = lambda x: float(S.bessel_ratio(p / 2 - 1, t64([x])))
        assert float(grad) == pytest.approx(kappa * (A(kappa + h) - A(kappa - h)) / (2 * h), rel=1e-4)


# ---- the sampler ------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [2, 3, 5])
@pytest.mark.parametrize("kappa", [0.5, 5.0, 50.0])
def test_sample_mean_resultant_length_is_the_bessel_ratio(p, kappa):
    mu = torch.linspace(-1, 1, p, dtype=F64) + 0.3
    mu = mu / mu.norm()
    q = S.VonMisesFisher(mu, t64(kappa))
    z, _, fallbacks = q.rsample_with_log_ratio(10_000, torch.Generator().manual_seed(p))
    assert int(fallbacks) == 0
    assert z.shape == (10_000, p)
    torch.testing.assert_close(z.norm(dim=-1), torch.ones(10_000, dtype=F64), rtol=0, atol=1e-12)
    w = z @ mu
    stderr = float(w.std()) / math.sqrt(len(w))
    assert abs(float(w.mean()) - float(q.mean_resultant_length())) < 4 * stderr
    # the mean is along mu: its orthogonal part is within Monte Carlo error
    perp = z.mean(0) - z.mean(0).dot(mu) * mu
    assert float(perp.norm()) < 4 * math.sqrt(p) / math.sqrt(len(w))


def test_component_along_mu_follows_the_exact_law_on_s2():
    """On S^2, w = mu.z has CDF (e^(k (w + 1)) - 1) / (e^(2k) - 1) (KS test); the tangent part
    is uniform in angle."""
    kappa = 3.0
    mu = unit([0.0, 0.0, 1.0])
    z = S.VonMisesFisher(mu, t64(kappa)).rsample(20_000, torch.Generator().manual_seed(3))
    w = z[:, 2].numpy()
    cdf = lambda x: np.expm1(kappa * (x + 1)) / np.expm1(2 * kappa)
    assert stats.kstest(w, cdf).pvalue > 0.01
    angle = np.arctan2(z[:, 1].numpy(), z[:, 0].numpy())
    assert stats.kstest(angle, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 0.01


def test_rejection_fallbacks_are_capped_and_counted():
    kappa = torch.full((4000,), 50.0, dtype=F64)
    v, fallbacks = S.wood_sample(kappa, 3, torch.Generator().manual_seed(0), max_proposals=1)
    # one proposal each: about a third are rejected (acceptance ~0.69 at kappa = 50)
    assert 0.2 < int(fallbacks) / 4000 < 0.45
    assert ((v >= 0) & (v <= 2)).all()
    _, none = S.wood_sample(kappa, 3, torch.Generator().manual_seed(0))
    assert int(none) == 0


def test_householder_maps_e1_to_mu_and_is_orthogonal():
    for mu in (unit([0.2, -0.7, 0.4]), unit([1.0, 0.0, 0.0]), unit([-1.0, 0.0, 0.0]),
               unit([1.0, 1e-9, 0.0])):
        H = S.householder(mu, torch.eye(3, dtype=F64))  # columns: H e_i
        torch.testing.assert_close(H[0], mu, rtol=0, atol=1e-12)
        torch.testing.assert_close(H @ H.T, torch.eye(3, dtype=F64), rtol=0, atol=1e-12)


# ---- implicit reparameterisation gradients ------------------------------------------------------------
@pytest.mark.parametrize("kappa", [0.5, 5.0, 50.0, 1e4])
def test_implicit_gradient_is_the_inverse_cdf_derivative_on_s2(kappa):
    """On S^2, w(u) = 1 + log(u + (1 - u) e^(-2k)) / k; dw/dk at fixed u is the exact gradient."""
    u = torch.rand(500, generator=torch.Generator().manual_seed(1), dtype=F64)
    k = t64(kappa).requires_grad_(True)
    w = 1 + torch.log(u + (1 - u) * torch.exp(-2 * k)) / k
    expected = torch.autograd.functional.jacobian(
        lambda kk: 1 + torch.log(u + (1 - u) * torch.exp(-2 * kk)) / kk, k.detach())
    v = -torch.log(u + (1 - u) * math.exp(-2 * kappa)) / kappa  # 1 - w without cancellation
    mine = S.dw_dkappa(v, torch.full_like(v, kappa), 3)
    assert torch.isfinite(w).all()
    torch.testing.assert_close(mine, expected, rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("p", [2, 5])
@pytest.mark.parametrize("kappa", [0.5, 5.0, 50.0])
def test_implicit_gradient_matches_quadrature_of_the_cdf(p, kappa):
    """dw/dk = -(dF/dk) / f with dF/dk = int_-1^w (t - A) f(t) dt, by scipy's adaptive quadrature."""
    A = float(S.bessel_ratio(p / 2 - 1, t64(kappa)))
    f = lambda t: np.exp(kappa * (t - 1)) * (1 - t * t) ** ((p - 3) / 2)  # unnormalised
    for w in (-0.5, 0.2, A - 0.3 / kappa, A + 0.3 / kappa, 1 - 0.02 / kappa):
        expected = -integrate.quad(lambda t: (t - A) * f(t), -1, w, limit=200, epsabs=0,
                                   epsrel=1e-10)[0] / f(w)
        mine = float(S.dw_dkappa(t64(1 - w), t64(kappa), p))
        assert mine == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("p", [3, 5])
def test_rsample_gradients_give_the_derivative_of_the_mean(p):
    """E[mu.z] = A_p(k), so the average of d(mu.z)/dk over samples estimates A_p'(k); the
    gradient with respect to mu flows through the reflection."""
    kappa = t64(4.0).requires_grad_(True)
    mu = (torch.arange(p, dtype=F64) + 1.0)
    mu = (mu / mu.norm()).requires_grad_(True)
    q = S.VonMisesFisher(mu, kappa, validate=False)
    z = q.rsample(20_000, torch.Generator().manual_seed(5))
    w = z @ mu.detach()
    g_kappa, g_mu = torch.autograd.grad(w.mean(), (kappa, mu))
    (expected,) = torch.autograd.grad(S.bessel_ratio(p / 2 - 1, kappa), kappa)
    # per-sample gradients dw/dk, for the standard error
    per_sample = S.dw_dkappa(1 - w.detach(), kappa.detach(), p)
    stderr = float(per_sample.std()) / math.sqrt(len(w))
    assert abs(float(g_kappa) - float(expected)) < 4 * stderr
    assert torch.isfinite(g_mu).all() and float(g_mu.norm()) > 0


def test_log_ratio_has_the_sample_value_and_the_kl_gradient():
    mu = unit([0.5, 0.5, -0.2])
    kappa = t64([2.0, 30.0]).requires_grad_(True)
    q = S.VonMisesFisher(mu, kappa, validate=False)
    z, log_ratio, _ = q.rsample_with_log_ratio(7, torch.Generator().manual_seed(2))
    torch.testing.assert_close(log_ratio, q.log_prob(z).detach() + math.log(4 * math.pi),
                               rtol=1e-10, atol=1e-10)
    (g,) = torch.autograd.grad(log_ratio.sum(), kappa)
    (g_kl,) = torch.autograd.grad(7 * q.kl_to_uniform().sum(), kappa)
    torch.testing.assert_close(g, g_kl)


@pytest.mark.parametrize("mu,kappa,match", [
    ([0.0, 2.0, 0.0], 1.0, "unit vectors"),
    ([1.0, 0.0, 0.0], 0.0, "kappa must be finite and > 0"),
    ([1.0], 1.0, "p >= 2"),
    ([1.0, float("nan")], 1.0, "NaN"),
])
def test_vmf_rejects_bad_arguments(mu, kappa, match):
    with pytest.raises(ValueError, match=match):
        S.VonMisesFisher(t64(mu), t64(kappa))


# ---- the estimator ----------------------------------------------------------------------------------
def noisy_circle(n=240, d=10, seed=0):
    """Points on a circle embedded linearly in R^d, with noise, standardised; and their angles."""
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 2 * np.pi, n)
    X = np.stack([np.cos(theta), np.sin(theta)], 1) @ rng.normal(size=(2, d)) * 2
    X += rng.normal(scale=0.1, size=X.shape)
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32), theta


@pytest.fixture(scope="module")
def fitted():
    X, theta = noisy_circle()
    model = S.SphericalVAE(epochs=12, batch_size=32, verbose=False, seed=3)
    model.fit(X[:200], X_val=X[200:])
    return model, X, theta


def test_fit_trains_and_latents_lie_on_s2(fitted):
    model, X, theta = fitted
    h = model.history_
    assert np.isfinite(h["train_loss"]).all() and np.isfinite(h["val_loss"]).all()
    assert h["train_loss"][-1] < h["train_loss"][0] - 1.0  # nats per datum
    assert model.failures_ == {"nan_epochs": 0, "rejection_fallbacks": 0}
    assert model.diverged_at_ is None
    Z = model.transform(X)
    assert Z.shape == (240, 3) and Z.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(model.latents_, Z[:200])
    np.testing.assert_array_equal(model.val_latents_, Z[200:])
    assert model.inverse_transform(Z).shape == (240, 10)
    D = M.pairwise_distances(Z, model.manifold_)
    assert np.isfinite(D).all() and D.max() <= math.pi + 1e-9
    # the validation ELBO recorded for the restored epoch is the one elbo() recomputes
    val = np.array(h["val_loss"])
    assert model.best_epoch_ == int(np.argmin(val))
    assert -model.elbo(X[200:]).mean() == pytest.approx(val.min(), rel=1e-6)


def test_iwae_bound_is_above_the_elbo(fitted):
    model, X, _ = fitted
    elbo = model.elbo(X, n_samples=16, seed=7)
    iwae = model.iwae_bound(X, k=16, seed=7)
    assert (iwae >= elbo - 1e-9).all() and iwae.mean() > elbo.mean()


def test_same_seed_same_latents_and_global_rng_untouched():
    X, _ = noisy_circle(n=96)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    a = S.SphericalVAE(epochs=3, batch_size=32, seed=11, verbose=False).fit(X).latents_
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    b = S.SphericalVAE(epochs=3, batch_size=32, seed=11, verbose=False).fit(X).latents_
    c = S.SphericalVAE(epochs=3, batch_size=32, seed=12, verbose=False).fit(X).latents_
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_forced_nan_warns_and_keeps_the_best_state(monkeypatch):
    X, _ = noisy_circle(n=128)
    calls = {"n": 0}
    original = S.SphericalVAE._batch_loss

    def nan_from_epoch_2(log_lik, log_ratio, beta=1.0):  # 4 batches per epoch
        calls["n"] += 1
        loss = original(log_lik, log_ratio, beta)
        return loss * float("nan") if calls["n"] > 8 else loss

    monkeypatch.setattr(S.SphericalVAE, "_batch_loss", staticmethod(nan_from_epoch_2))
    model = S.SphericalVAE(epochs=6, batch_size=32, verbose=False)
    with pytest.warns(TrainingDiverged, match=r"S-VAE training diverged at epoch 2 .*best state"):
        model.fit(X)
    assert model.diverged_at_ == 2 and model.failures_["nan_epochs"] == 1
    assert all(torch.isfinite(p).all() for p in model.net_.parameters())
    assert np.isfinite(model.latents_).all()


def test_higher_dimensional_sphere_and_clone():
    X, _ = noisy_circle(n=64)
    model = S.SphericalVAE(latent_dim=4, epochs=2, batch_size=32, hidden=(8, 16), verbose=False)
    Z = model.fit(X).transform(X)
    assert Z.shape == (64, 5)
    R.check_on_manifold(torch.as_tensor(Z), model.manifold_)
    assert clone(model).get_params() == model.get_params()


@pytest.mark.parametrize("kwargs,match", [
    ({"min_concentration": 0.0}, "min_concentration must be > 0"),
    ({"latent_dim": 0}, "latent dimension must be a positive integer"),
    ({"likelihood_std": 0.0}, "likelihood_std"),
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"lr": -1.0}, "lr must be > 0"),
    ({"hidden": (16, 0)}, "hidden must be a tuple of positive integers"),
])
def test_bad_parameters_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S.SphericalVAE(verbose=False, **{"epochs": 1, **kwargs}).fit(np.zeros((4, 2)))


def test_inverse_transform_checks_the_latents():
    X, _ = noisy_circle(n=32)
    model = S.SphericalVAE(epochs=1, hidden=(4,), verbose=False).fit(X)
    with pytest.raises(ValueError, match="N x 3 points of the sphere"):
        model.inverse_transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="not on the Sphere"):
        model.inverse_transform(np.array([[0.0, 0.0, 2.0]]))
    with pytest.raises(ValueError, match="4 features, but SphericalVAE is expecting 10"):
        model.transform(np.zeros((2, 4)))
