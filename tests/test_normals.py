"""Gaussian priors on hyperbolic space and R^d (rgdkit.manifolds.normals): normalisers against
quadrature, densities that integrate to one, samplers against their radial densities, and the
wrapped and Riemannian normals' agreement as sigma -> 0 and difference for large sigma."""
import math

import geoopt
import numpy as np
import pytest
import torch
from scipy import integrate, optimize, stats

from rgdkit.baselines.pvae import WrappedNormal
from rgdkit.manifolds import make_manifold, manifold_origin
from rgdkit.manifolds import normals as N
from rgdkit.manifolds.frames import orthonormal_frame

F64 = torch.float64


def manifold(name, c):
    """make_manifold's instance with minus the curvature c (k = 1/c on the Lorentz model)."""
    if name == "euclidean":
        return make_manifold("euclidean", 2)
    return make_manifold(name, 2, 1 / c if name == "lorentz" else c)


def point(m, d, coords):
    """The point of orthonormal coordinates ``coords`` at the origin of ``m`` (dimension d)."""
    origin = manifold_origin(m, d, F64)
    return orthonormal_frame(m).exp(origin, torch.tensor(coords, dtype=F64))


# ---- the Riemannian normal's normaliser ----------------------------------------------------
def quadrature_log_z(std, d, c):
    """log Z by adaptive quadrature of A_(d-1) e^(-r^2/2 sigma^2) (sinh(sqrt c r)/sqrt c)^(d-1),
    written here independently of the library: scaled by its value at the mode (found by
    brentq), so that large sigma does not overflow."""
    sc = math.sqrt(c)

    def log_f(r):
        x = sc * r
        log_sinh = x + math.log(-math.expm1(-2 * x)) - math.log(2)
        return -r * r / (2 * std * std) + (d - 1) * (log_sinh - math.log(sc))

    mode = optimize.brentq(lambda r: -r / std ** 2 + (d - 1) * sc / math.tanh(sc * r),
                           1e-12, (d - 1) * sc * std ** 2 + 3 * std * math.sqrt(d))
    top = log_f(mode)
    value, _ = integrate.quad(lambda r: math.exp(log_f(r) - top) if r > 0 else 0.0,
                              0, mode + 40 * std, points=[mode], epsabs=0, epsrel=1e-13,
                              limit=500)
    log_area = math.log(2) + d / 2 * math.log(math.pi) - math.lgamma(d / 2)
    return log_area + top + math.log(value)


@pytest.mark.parametrize("d", [2, 5])
@pytest.mark.parametrize("std", [0.01, 0.2, 1.0, 2.5, 5.0])
@pytest.mark.parametrize("c", [0.5, 1.0, 2.0])
def test_normaliser_matches_quadrature_of_the_radial_density(d, std, c):
    """Z to 1e-8 relative (log Z to 1e-8 absolute) on H^2 and H^5 over four decades of sigma."""
    ref = quadrature_log_z(std, d, c)
    assert N.riemannian_normal_log_normaliser(std, d, c) == pytest.approx(ref, rel=0, abs=1e-8)


@pytest.mark.parametrize("d,std,c", [(5, 0.5, 1.0), (2, 1.0, 2.0), (10, 1.0, 1.0), (5, 5.0, 0.5)])
def test_closed_form_and_series_agree_where_both_are_accurate(d, std, c):
    erf = N.riemannian_normal_log_normaliser(std, d, c, method="erf")
    series = N.riemannian_normal_log_normaliser(std, d, c, method="series")
    assert erf == pytest.approx(series, rel=0, abs=1e-11)
    assert erf == pytest.approx(quadrature_log_z(std, d, c), rel=0, abs=1e-8)


def test_series_takes_over_where_the_closed_form_cancels():
    """At d = 10, sigma sqrt(c) = 0.01 the signed erf sum loses all its digits (its terms are of
    order 1, Z / A_9 of order sigma^10); the default switches to the positive series and stays
    exact."""
    d, std, c = 10, 0.01, 1.0
    ref = quadrature_log_z(std, d, c)
    assert abs(N.riemannian_normal_log_normaliser(std, d, c, method="erf") - ref) > 1e-3
    assert N.riemannian_normal_log_normaliser(std, d, c) == pytest.approx(ref, rel=0, abs=1e-10)


@pytest.mark.parametrize("d", [1, 2, 5])
def test_normaliser_is_the_gaussian_one_in_flat_space_and_on_a_line(d):
    gaussian = d / 2 * math.log(2 * math.pi * 0.7 ** 2)
    assert N.riemannian_normal_log_normaliser(0.7, d, 0.0) == pytest.approx(gaussian, abs=1e-14)
    # vanishing curvature: sinh_c(r)^(d-1) = r^(d-1) (1 + (d-1) c r^2 / 6 + ..) and E[r^2] = d sigma^2,
    # so log Z = gaussian + d (d - 1) c sigma^2 / 6 + O(c^2)
    first_order = gaussian + d * (d - 1) * 1e-8 * 0.7 ** 2 / 6
    assert N.riemannian_normal_log_normaliser(0.7, d, 1e-8) == pytest.approx(first_order, abs=1e-13)
    if d == 1:
        assert N.riemannian_normal_log_normaliser(0.7, 1, 3.0) == pytest.approx(gaussian, abs=1e-14)


def test_normaliser_rejects_bad_arguments():
    with pytest.raises(ValueError, match="sigma"):
        N.riemannian_normal_log_normaliser(0.0, 2, 1.0)
    with pytest.raises(ValueError, match="method"):
        N.riemannian_normal_log_normaliser(1.0, 2, 1.0, method="exact")


# ---- the log densities integrate to one -----------------------------------------------------
@pytest.mark.parametrize("name", ["lorentz", "poincare"])
@pytest.mark.parametrize("kind", N.KINDS)
@pytest.mark.parametrize("std,c,at_origin", [(0.3, 1.0, True), (1.5, 0.7, False)])
def test_log_prior_integrates_to_one_on_h2_in_polar_coordinates(name, kind, std, c, at_origin):
    """int_0^inf int_0^2pi p(exp_mu(r (cos t, sin t))) sinh(sqrt c r)/sqrt c dt dr = 1, with p
    evaluated by log_prior on the points themselves (at the origin or off it)."""
    m = manifold(name, c)
    mu = None if at_origin else point(m, 2, [0.6, -0.9])
    base = manifold_origin(m, 2, F64) if mu is None else mu
    theta = torch.arange(64, dtype=F64) * 2 * math.pi / 64
    unit = torch.stack([torch.cos(theta), torch.sin(theta)], -1)
    frame = orthonormal_frame(m)
    sc = math.sqrt(c)

    def ring(r):  # the mean of p over the circle of radius r, times its circumference
        z = frame.exp(base, r * unit)
        p = N.log_prior(z, m, kind, std, mu=mu).exp().mean()
        return float(p) * 2 * math.pi * math.sinh(sc * r) / sc

    top = sc * std ** 2 + 16 * std
    mass, _ = integrate.quad(ring, 0, top, epsabs=0, epsrel=1e-11, limit=200)
    assert mass == pytest.approx(1.0, abs=1e-7)


@pytest.mark.parametrize("name", ["lorentz", "poincare"])
@pytest.mark.parametrize("kind", N.KINDS)
def test_log_prior_integrates_to_one_on_h5(name, kind):
    """In 5-D, by isotropy: int A_4 p(exp_o(r u)) (sinh(sqrt c r)/sqrt c)^4 dr = 1 along any
    direction u (two tried)."""
    d, std, c = 5, 0.6, 1.3
    m = make_manifold(name, d, 1 / c if name == "lorentz" else c)
    origin = manifold_origin(m, d, F64)
    sc, log_area = math.sqrt(c), N.log_sphere_area(d)
    for u in (torch.eye(d, dtype=F64)[2], torch.full((d,), d ** -0.5, dtype=F64)):
        def shell(r):
            z = orthonormal_frame(m).exp(origin, r * u)
            log_p = float(N.log_prior(z, m, kind, std))
            return math.exp(log_p + log_area + (d - 1) * math.log(math.sinh(sc * r) / sc))

        mass, _ = integrate.quad(shell, 0, (d - 1) * sc * std ** 2 + 16 * std, epsabs=0,
                                 epsrel=1e-11, limit=200)
        assert mass == pytest.approx(1.0, abs=1e-7)


@pytest.mark.parametrize("kind", N.KINDS)
@pytest.mark.parametrize("with_mean", [False, True])
def test_euclidean_prior_is_the_ordinary_gaussian(kind, with_mean):
    m = make_manifold("euclidean", 3)
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 3)) * 2
    mu = rng.normal(size=3) if with_mean else np.zeros(3)
    ref = stats.multivariate_normal(mu, 0.8 ** 2 * np.eye(3)).logpdf(z)
    out = N.log_prior(torch.tensor(z), m, kind, 0.8, mu=torch.tensor(mu) if with_mean else None)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    z32 = torch.tensor(z, dtype=torch.float32)  # the estimator's Euclidean latents
    out32 = N.log_prior(z32, m, kind, 0.8, mu=torch.tensor(mu, dtype=torch.float32))
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), ref, rtol=1e-5)


@pytest.mark.parametrize("name,d", [("lorentz", 2), ("lorentz", 5), ("poincare", 2), ("poincare", 5)])
def test_wrapped_prior_matches_the_pvae_wrapped_normal(name, d):
    """Two routes to the same density: log_prior through the chordal distance, the P-VAE's
    WrappedNormal through the frame's logarithm and parallel transport."""
    m = make_manifold(name, d, 0.6)
    mu = point(m, d, np.linspace(-0.8, 0.5, d))
    z = N.sample_wrapped_normal(m, 0.9, 200, mu=mu, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(N.log_prior(z, m, "wrapped_normal", 0.9, mu=mu),
                               WrappedNormal(mu, 0.9, m).log_prob(z), rtol=1e-9, atol=1e-9)


# ---- distances and gradients ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["lorentz", "poincare"])
def test_geodesic_distance_is_geoopts_and_accurate_near_the_mean(name):
    m = make_manifold(name, 3, 0.8)
    mu = point(m, 3, [0.3, -1.2, 0.5])
    z = N.sample_wrapped_normal(m, 1.0, 100, mu=mu, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(N.geodesic_distance(z, m, mu), m.dist(mu, z), rtol=1e-9, atol=1e-12)
    # 1e-7 from the mean (the frame's exp is exact there; geoopt's Lorentz expmap clamps |u|
    # at 1e-4): arccosh(-<mu, z>_L / k) would keep about half the digits
    v = torch.tensor([[6e-8, 0.0, 8e-8]], dtype=F64)
    near = orthonormal_frame(m).exp(mu, v)
    assert float(N.geodesic_distance(near, m, mu)) == pytest.approx(1e-7, rel=1e-8)
    if name == "lorentz":  # geoopt's arccosh distance is off by more than 0.1% there
        assert float(m.dist(mu, near)) != pytest.approx(1e-7, rel=1e-3)
    assert float(N.geodesic_distance(mu, m, mu)) < 1e-150


@pytest.mark.parametrize("name", ["lorentz", "poincare", "euclidean"])
@pytest.mark.parametrize("kind", N.KINDS)
def test_log_prior_gradient_is_finite_at_the_origin_and_checks_elsewhere(name, kind):
    m = make_manifold(name, 2, None)
    origin = manifold_origin(m, 2, F64).requires_grad_()
    N.log_prior(origin, m, kind, 0.7).backward()
    assert torch.isfinite(origin.grad).all() and float(origin.grad.abs().max()) == 0.0
    z = point(m, 2, [[0.4, -0.3], [1.1, 0.2], [1e-4, 2e-4]]).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: N.log_prior(x, m, kind, 0.7), (z,))


# ---- samplers against radial densities ------------------------------------------------------
def radial_cdf(kind, std, d, c, top):
    """The CDF of the radial density on a fine grid (Simpson), for a KS test."""
    grid = np.linspace(0.0, top, 20_001)
    density = np.concatenate([[0.0], N.radial_log_density(grid[1:], kind, std, d, c).exp().numpy()])
    cdf = integrate.cumulative_simpson(density, x=grid, initial=0)
    assert cdf[-1] == pytest.approx(1.0, abs=1e-8)
    return lambda x: np.interp(x, grid, cdf)


def top_radius(std, d, c):
    return (d - 1) * math.sqrt(c) * std ** 2 + 12 * std + std * math.sqrt(d)


@pytest.mark.parametrize("d,std,c", [(2, 0.05, 1.0), (2, 1.0, 1.0), (5, 0.5, 2.0), (5, 2.0, 1.0),
                                     (10, 1.0, 0.5), (10, 5.0, 1.0)])
def test_radius_sampler_follows_the_riemannian_radial_density(d, std, c):
    """20 000 radii, KS test (p > 0.01, statistic < 0.012) against rho_R, and the same test
    rejecting the wrapped normal's chi law (p < 1e-6) where the two differ (TV > 0.1)."""
    r, acceptance = N.sample_riemannian_normal_radius(
        20_000, std, d, c, torch.Generator().manual_seed(d), return_acceptance=True)
    assert acceptance > 0.9
    result = stats.kstest(r.numpy(), radial_cdf("riemannian_normal", std, d, c, top_radius(std, d, c)))
    assert result.pvalue > 0.01 and result.statistic < 0.012
    if std * math.sqrt(c) >= 0.5:
        wrong = stats.kstest(r.numpy() / std, stats.chi(d).cdf)
        assert wrong.pvalue < 1e-6


@pytest.mark.parametrize("name,kind,d,std,c,off_origin", [
    ("lorentz", "riemannian_normal", 2, 1.0, 1.0, False),
    ("lorentz", "riemannian_normal", 5, 0.7, 0.5, True),
    ("poincare", "riemannian_normal", 2, 0.8, 1.5, True),
    ("poincare", "riemannian_normal", 5, 0.4, 1.0, False),
    ("lorentz", "wrapped_normal", 5, 1.2, 1.0, True),
    ("poincare", "wrapped_normal", 2, 0.6, 2.0, False),
    ("euclidean", "riemannian_normal", 3, 1.3, 0.0, True),
    ("euclidean", "wrapped_normal", 3, 1.3, 0.0, False),
])
def test_point_samplers_have_the_radial_histogram_of_their_density(name, kind, d, std, c, off_origin):
    """Distances from the mean measured by geoopt (not by the sampler), KS test (p > 0.01 with a
    fixed seed), and a chi-square test of 30 equiprobable bins (p > 0.001)."""
    m = make_manifold(name, d, None if name == "euclidean" else (1 / c if name == "lorentz" else c))
    mu = point(m, d, np.linspace(0.7, -0.4, d)) if off_origin else None
    z = N.sample_prior(m, kind, std, 20_000, dim=d, mu=mu, generator=torch.Generator().manual_seed(1))
    assert z.shape == (20_000, manifold_origin(m, d).shape[0]) and z.dtype == (
        torch.float32 if name == "euclidean" and mu is None else F64)
    base = manifold_origin(m, d, z.dtype) if mu is None else mu
    if name != "euclidean":
        m.assert_check_point_on_manifold(z, atol=1e-7, rtol=1e-7)
        r = m.dist(base, z).numpy()
    else:
        r = (z - base).norm(dim=-1).double().numpy()
    cdf = radial_cdf(kind, std, d, c, top_radius(std, d, c))
    result = stats.kstest(r, cdf)
    assert result.pvalue > 0.01 and result.statistic < 0.012
    edges = np.interp(np.linspace(0, 1, 31), cdf(np.linspace(0, top_radius(std, d, c), 20_001)),
                      np.linspace(0, top_radius(std, d, c), 20_001))
    edges[-1] = np.inf
    counts = np.histogram(r, bins=edges)[0]
    assert stats.chisquare(counts).pvalue > 1e-3


def test_wrapped_sampler_is_reparameterised():
    """The draws are exp_mu(sigma eps): the frame's log gives sigma eps back, and gradients reach
    mu and sigma."""
    m = make_manifold("lorentz", 3, 0.5)
    mu = point(m, 3, [0.2, -0.5, 0.9]).requires_grad_()
    std = torch.tensor(0.8, dtype=F64, requires_grad=True)
    z = N.sample_wrapped_normal(m, std, 500, mu=mu, generator=torch.Generator().manual_seed(4))
    eps = torch.randn(500, 3, generator=torch.Generator().manual_seed(4), dtype=F64)
    torch.testing.assert_close(orthonormal_frame(m).log(mu.expand(500, -1), z), 0.8 * eps,
                               rtol=1e-7, atol=1e-9)
    z[:, 1].sum().backward()
    assert torch.isfinite(mu.grad).all() and mu.grad.abs().sum() > 0 and std.grad.abs() > 0


# ---- wrapped against Riemannian --------------------------------------------------------------
def total_variation(std, d, c):
    grid = np.linspace(0, top_radius(std, d, c), 40_001)[1:]
    wrapped, riemannian = (N.radial_log_density(grid, kind, std, d, c).exp().numpy() for kind in N.KINDS)
    return 0.5 * integrate.simpson(np.abs(wrapped - riemannian), x=grid)


@pytest.mark.parametrize("d", [2, 5])
def test_wrapped_and_riemannian_agree_as_sigma_shrinks_and_differ_for_large_sigma(d):
    """The total variation between the radial laws falls like sigma^2 (the volume is Euclidean
    to second order near the mean) and is large once sigma sqrt(c) is of order 1."""
    tv = {s: total_variation(s, d, 1.0) for s in (0.001, 0.01, 2.0)}
    assert tv[0.01] < 1e-4 and tv[0.001] < 1e-6
    assert tv[0.01] / tv[0.001] == pytest.approx(100, rel=0.02)
    assert tv[2.0] > 0.4
    # the log densities at r = sigma: equal as sigma -> 0, not for large sigma
    m = make_manifold("lorentz", d)
    for s, close in ((1e-3, True), (2.0, False)):
        z = point(m, d, [s] + [0.0] * (d - 1))
        gap = abs(float(N.log_prior(z, m, "wrapped_normal", s) - N.log_prior(z, m, "riemannian_normal", s)))
        assert (gap < 1e-5) if close else (gap > 0.5)


# ---- what is not supported -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sphere", "torus"])
def test_compact_manifolds_are_refused_with_the_alternative(name):
    m = make_manifold(name, 2)
    z = manifold_origin(m, 2)[None]
    for kind in N.KINDS:
        with pytest.raises(NotImplementedError, match=r"compact.*prior='none'") as err:
            N.log_prior(z, m, kind, 1.0)
        assert "lorentz, poincare, euclidean" in str(err.value)
    with pytest.raises(NotImplementedError, match="compact"):
        N.sample_prior(m, "wrapped_normal", 1.0, 3, dim=2)


def test_other_manifolds_and_bad_arguments_are_refused():
    spd = geoopt.SymmetricPositiveDefinite()
    with pytest.raises(NotImplementedError, match="lorentz, poincare, euclidean"):
        N.log_prior(torch.eye(2)[None], spd, "riemannian_normal", 1.0)
    m = make_manifold("lorentz", 2)
    z = manifold_origin(m, 2)[None]
    with pytest.raises(ValueError, match="wrapped_normal"):
        N.log_prior(z, m, "normal", 1.0)
    for bad in (0.0, -1.0, math.inf):
        with pytest.raises(ValueError, match="sigma"):
            N.log_prior(z, m, "wrapped_normal", bad)
    with pytest.raises(ValueError, match="dim"):
        N.sample_prior(m, "riemannian_normal", 1.0, 3)


def test_points_outside_the_ball_give_nan_not_a_number():
    m = make_manifold("poincare", 2, 1.0)
    out = N.log_prior(torch.tensor([[0.6, 0.0], [1.0, 0.0], [0.0, 1.5]], dtype=F64), m,
                      "riemannian_normal", 1.0)
    assert math.isfinite(float(out[0])) and torch.isnan(out[1:]).all()
