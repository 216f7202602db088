r"""Gaussians on the non-compact latent manifolds, as priors: the wrapped normal and the
Riemannian normal on hyperbolic space, the ordinary normal on R^d.

Manifolds (the instances :func:`rgdkit.manifolds.make_manifold` builds): ``"lorentz"``,
geoopt.Lorentz(k), points (..., d + 1), curvature -1/k; ``"poincare"``, geoopt.PoincareBall(c),
points (..., d), curvature -c; ``"euclidean"``, geoopt.Euclidean, points (..., d), curvature 0.
Below c >= 0 is minus the curvature (c = 1/k on the Lorentz model, 0 on R^d), d the intrinsic
dimension, r = d(mu, z) the geodesic distance from the mean mu (the origin o by default) and
sinh_c(r) = sinh(sqrt(c) r) / sqrt(c) (= r when c = 0). All densities are with respect to the
Riemannian volume measure; in geodesic polar coordinates about mu it is
dvol = sinh_c(r)^(d-1) dr dsigma_(d-1) (dsigma the area element of the unit sphere S^(d-1)).

Wrapped normal (Nagano et al. 2019; Mathieu et al. 2019): z = exp_mu(v), v ~ N(0, sigma^2 I_d) in
orthonormal coordinates at mu, so r = |v| and

    log p(z) = log N(v; 0, sigma^2 I) - (d - 1) log(sinh(sqrt(c) r) / (sqrt(c) r)),

    radial density  rho_W(r) = A_(d-1) r^(d-1) exp(-r^2 / 2 sigma^2) / (2 pi sigma^2)^(d/2),

i.e. r / sigma ~ chi_d whatever the curvature (A_(d-1) = 2 pi^(d/2) / Gamma(d/2), the area of
S^(d-1)).

Riemannian normal (Said et al. 2014; Mathieu et al. 2019, appendix B): the maximum-entropy
density with a given mean squared distance,

    log p(z) = -r^2 / (2 sigma^2) - log Z(sigma, d, c),

    Z(sigma, d, c) = A_(d-1) int_0^inf exp(-r^2 / 2 sigma^2) sinh_c(r)^(d-1) dr,

    radial density  rho_R(r) = A_(d-1) exp(-r^2 / 2 sigma^2) sinh_c(r)^(d-1) / Z.

Expanding sinh^(d-1) binomially and completing squares gives the closed form
(:func:`riemannian_normal_log_normaliser`)

    Z = A_(d-1) sigma sqrt(2 pi) (2 sqrt(c))^-(d-1)
        sum_(k=0)^(d-1) (-1)^k C(d-1, k) exp(a_k^2 sigma^2 / 2) Phi(a_k sigma),
    a_k = (d - 1 - 2k) sqrt(c),

with Phi the standard normal CDF (Phi(x) = erfc(-x / sqrt 2) / 2). On R^d (c = 0) and on H^1 both
distributions are N(mu, sigma^2 I) and Z = (2 pi sigma^2)^(d/2). As sigma -> 0 the two agree (the
volume is Euclidean near mu); for sigma sqrt(c) of order 1 or more the Riemannian normal's
radius grows like (d - 1) sqrt(c) sigma^2 while the wrapped normal's stays near sigma sqrt(d).

:func:`log_prior` is what an estimator calls: the log density of latents z (..., ambient) under
either prior, normaliser included, differentiable in z; :func:`sample_prior` draws from it.
"""
from __future__ import annotations

import functools
import math

import geoopt
import numpy as np
import torch
from scipy import optimize, special

from rgdkit.manifolds.frames import orthonormal_frame
from rgdkit.manifolds.registry import check_has_distance, default_dtype, is_torus, manifold_origin
from rgdkit.validation import check_integer, check_real

__all__ = ["KINDS", "SUPPORTED_MANIFOLDS", "curvature_parameter", "geodesic_distance",
           "intrinsic_dim", "log_prior", "log_sinhc", "log_sphere_area", "radial_log_density",
           "riemannian_normal_log_normaliser", "riemannian_normal_log_prob",
           "sample_prior", "sample_riemannian_normal", "sample_riemannian_normal_radius",
           "sample_wrapped_normal", "wrapped_normal_log_density", "wrapped_normal_log_prob"]

KINDS = ("wrapped_normal", "riemannian_normal")
SUPPORTED_MANIFOLDS = ("lorentz", "poincare", "euclidean")
_LOG_2PI = math.log(2 * math.pi)
# the closed form's signed sum loses about log10(condition) digits to cancellation (small
# sigma sqrt(c)); beyond this condition number the all-positive series is used instead
_MAX_CONDITION = 1e3


# --------------------------------------------------------------------------------------------
# Manifolds
# --------------------------------------------------------------------------------------------
def _unsupported(manifold, needed_by):
    name = type(manifold).__name__
    hint = ""
    if is_torus(manifold) or isinstance(manifold, geoopt.Sphere):
        hint = (f" {'The torus' if is_torus(manifold) else name} is compact: its uniform "
                "distribution is proper, so use prior='none' (or 'normal', the squared distance "
                "to the origin without a normaliser).")
    return NotImplementedError(
        f"{needed_by} is defined on the non-compact manifolds {', '.join(SUPPORTED_MANIFOLDS)} "
        f"(geoopt.Lorentz, geoopt.PoincareBall, geoopt.Euclidean), not on {name}.{hint}")


def curvature_parameter(manifold, needed_by="a Gaussian prior"):
    """c >= 0, minus the sectional curvature: 1/k for geoopt.Lorentz(k), c for
    geoopt.PoincareBall(c), 0 for geoopt.Euclidean.

    Raises
    ------
    NotImplementedError
        Any other manifold (the message names the supported ones and ``needed_by``).
    """
    if isinstance(manifold, geoopt.Lorentz):
        return 1.0 / float(manifold.k)
    if isinstance(manifold, geoopt.PoincareBall):
        return float(manifold.c)
    if type(manifold) is geoopt.Euclidean:
        return 0.0
    raise _unsupported(manifold, needed_by)


def intrinsic_dim(manifold, width):
    """The dimension d of points with ``width`` ambient coordinates (width - 1 on the
    hyperboloid, width otherwise)."""
    return width - 1 if isinstance(manifold, geoopt.Lorentz) else width


def geodesic_distance(z, manifold, mu=None):
    r"""Geodesic distance r = d(mu, z), accurate and differentiable down to z = mu.

    Computed from the chord, which has no cancellation near mu (arccosh(-<mu, z>_L / k) loses
    half the digits there and has an infinite derivative at z = mu):

    * Lorentz(k), c = 1/k:  sinh^2(sqrt(c) r / 2) = c <z - mu, z - mu>_L / 4, with
      <x, x>_L = -x0^2 + |x_1:|^2 the Minkowski form;
    * PoincareBall(c):  sinh^2(sqrt(c) r / 2) = c |z - mu|^2 / ((1 - c |mu|^2)(1 - c |z|^2));
    * Euclidean:  r = |z - mu|;

    then r = 2 asinh(sinh(sqrt(c) r / 2)) / sqrt(c).

    Parameters
    ----------
    z : torch.Tensor
        Points (..., ambient) of ``manifold`` (not checked).
    manifold : geoopt.Lorentz, geoopt.PoincareBall or geoopt.Euclidean
    mu : torch.Tensor or None
        Points broadcastable to z; None is the origin (:func:`rgdkit.manifolds.manifold_origin`).

    Returns
    -------
    torch.Tensor
        Shape broadcast(z, mu)[:-1]. NaN for a point on or beyond the ball's boundary. The
        gradient at z = mu is 0 (the chord is clamped at the smallest normal number).
    """
    c = curvature_parameter(manifold, "geodesic_distance")
    if mu is None:
        mu = manifold_origin(manifold, intrinsic_dim(manifold, z.shape[-1]), z.dtype, z.device)
    diff = z - mu
    tiny = torch.finfo(z.dtype).tiny
    if c == 0.0:
        return diff.square().sum(-1).clamp_min(tiny).sqrt()
    if isinstance(manifold, geoopt.Lorentz):
        half_chord_sq = (diff[..., 1:].square().sum(-1) - diff[..., 0].square()) * (c / 4)
    else:
        den = (1 - c * mu.square().sum(-1)) * (1 - c * z.square().sum(-1))
        half_chord_sq = c * diff.square().sum(-1) / den
        half_chord_sq = torch.where(den > 0, half_chord_sq, torch.nan)
    return torch.asinh(half_chord_sq.clamp_min(tiny).sqrt()) * (2 / math.sqrt(c))


# --------------------------------------------------------------------------------------------
# Log densities
# --------------------------------------------------------------------------------------------
def log_sinhc(x):
    """log(sinh(x) / x) for x >= 0, stable at 0 (→ x^2 / 6) and for large x (no overflow)."""
    x = x.clamp_min(1e-12)
    return x + torch.log(-torch.expm1(-2 * x)) - torch.log(2 * x)


def _log_jacobian_exp(r, dim, sqrt_c):
    """log det of d exp_mu in orthonormal coordinates at |v| = r: (d - 1) log sinhc(sqrt(c) r)
    (0 on R^d)."""
    if sqrt_c == 0.0 or dim == 1:
        return torch.zeros_like(r)
    return (dim - 1) * log_sinhc(sqrt_c * r)


def wrapped_normal_log_density(v, std, sqrt_c):
    r"""Log density of the wrapped normal at the point of orthonormal coordinates v.

    .. math:: \log p = \log N(v; 0, \mathrm{diag}(\sigma^2))
              - (d - 1) \log \frac{\sinh(\sqrt{c} |v|)}{\sqrt{c} |v|}

    with respect to the Riemannian volume, v = PT_{mu→o}(log_mu z) (so |v| = d(mu, z)).

    Parameters
    ----------
    v : torch.Tensor
        Coordinates (..., d) (see :mod:`rgdkit.manifolds.frames`).
    std : float or torch.Tensor
        sigma > 0, broadcastable to v (a diagonal covariance in the transported frame).
    sqrt_c : float
        sqrt of minus the curvature (0 on R^d).

    Returns
    -------
    torch.Tensor
        Shape broadcast(v, std)[:-1].
    """
    std = torch.as_tensor(std, dtype=v.dtype, device=v.device)
    log_normal = (-0.5 * (v / std).square() - std.log() - 0.5 * _LOG_2PI).sum(-1)
    return log_normal - _log_jacobian_exp(v.norm(dim=-1), v.shape[-1], sqrt_c)


def _isotropic_wrapped_log_density(r, dim, std, sqrt_c):
    """:func:`wrapped_normal_log_density` of an isotropic sigma, from r = |v| alone."""
    log_normal = -0.5 * (r / std) ** 2 - dim * (math.log(std) + 0.5 * _LOG_2PI)
    return log_normal - _log_jacobian_exp(r, dim, sqrt_c)


def _check_std(std):
    return check_real(std, "prior_std (sigma)", positive=True)


def wrapped_normal_log_prob(z, manifold, std, mu=None):
    r"""Log density of the isotropic wrapped normal exp_mu(N(0, sigma^2 I)) at z:

    .. math:: \log p(z) = -\frac{r^2}{2\sigma^2} - \frac d2 \log(2\pi\sigma^2)
              - (d - 1) \log\frac{\sinh(\sqrt c\, r)}{\sqrt c\, r}, \quad r = d(\mu, z),

    with respect to the Riemannian volume (N(mu, sigma^2 I) on R^d).

    Parameters
    ----------
    z : torch.Tensor
        Points (..., ambient) of ``manifold`` (not checked; differentiable).
    manifold : geoopt.Lorentz, geoopt.PoincareBall or geoopt.Euclidean
    std : float
        sigma > 0.
    mu : torch.Tensor or None
        The mean, a point broadcastable to z; None is the origin.

    Returns
    -------
    torch.Tensor
        Shape z.shape[:-1] (broadcast with mu's).
    """
    sqrt_c = math.sqrt(curvature_parameter(manifold, "the wrapped normal"))
    std = _check_std(std)
    r = geodesic_distance(z, manifold, mu)
    return _isotropic_wrapped_log_density(r, intrinsic_dim(manifold, z.shape[-1]), std, sqrt_c)


def riemannian_normal_log_prob(z, manifold, std, mu=None):
    r"""Log density of the Riemannian normal at z:
    :math:`\log p(z) = -d(\mu, z)^2 / 2\sigma^2 - \log Z(\sigma, d, c)` with respect to the
    Riemannian volume (Z from :func:`riemannian_normal_log_normaliser`; N(mu, sigma^2 I) on R^d).

    Parameters and returns as :func:`wrapped_normal_log_prob`.
    """
    c = curvature_parameter(manifold, "the Riemannian normal")
    std = _check_std(std)
    log_z = riemannian_normal_log_normaliser(std, intrinsic_dim(manifold, z.shape[-1]), c)
    r = geodesic_distance(z, manifold, mu)
    return -0.5 * (r / std) ** 2 - log_z


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}")
    return kind


def log_prior(z, manifold, kind, std, mu=None):
    r"""Log prior density of latents z (the log, not its negative): the term a MAP objective
    subtracts, normaliser included, so that it is a true log density with respect to the
    Riemannian volume.

    ``kind="wrapped_normal"``: :func:`wrapped_normal_log_prob`;
    ``kind="riemannian_normal"``: :func:`riemannian_normal_log_prob`. On R^d both are
    log N(z; mu, sigma^2 I).

    Parameters
    ----------
    z : torch.Tensor
        Latents (..., ambient) on ``manifold`` (not checked: a point off the hyperboloid or
        outside the ball gives a wrong number or NaN); differentiable, with a finite gradient
        (0) at z = mu.
    manifold : geoopt.Lorentz, geoopt.PoincareBall or geoopt.Euclidean
        As built by ``make_manifold("lorentz" | "poincare" | "euclidean", ...)``.
    kind : {"wrapped_normal", "riemannian_normal"}
    std : float
        sigma > 0, the prior's scale in geodesic distance.
    mu : torch.Tensor or None
        The prior's mean; None is the origin o of the manifold.

    Returns
    -------
    torch.Tensor
        log p(z), shape z.shape[:-1], dtype of z.

    Raises
    ------
    NotImplementedError
        Any other manifold: the sphere and the torus are compact (use prior='none' or
        'normal'), the others have no Gaussian here.
    ValueError, TypeError
        An unknown ``kind``, or ``std`` not a positive finite real.
    """
    _check_kind(kind)
    curvature_parameter(manifold, f"prior={kind!r}")
    if kind == "wrapped_normal":
        return wrapped_normal_log_prob(z, manifold, std, mu)
    return riemannian_normal_log_prob(z, manifold, std, mu)


# --------------------------------------------------------------------------------------------
# The Riemannian normal's normaliser and the radial densities
# --------------------------------------------------------------------------------------------
def log_sphere_area(dim):
    """log A_(d-1) = log(2 pi^(d/2) / Gamma(d/2)), the area of the unit sphere S^(d-1) in R^d."""
    return math.log(2) + 0.5 * dim * math.log(math.pi) - math.lgamma(0.5 * dim)


def _log_radial_integral_erf(std, dim, c):
    """log I by the closed form, and its condition number (sum |terms| / |sum|)."""
    n = dim - 1
    k = np.arange(dim)
    a = (n - 2 * k) * math.sqrt(c)
    log_terms = (special.gammaln(dim) - special.gammaln(k + 1) - special.gammaln(dim - k)
                 + 0.5 * (a * std) ** 2 + special.log_ndtr(a * std))
    signs = np.where(k % 2 == 0, 1.0, -1.0)
    top = log_terms.max()
    weights = np.exp(log_terms - top)
    total = float((signs * weights).sum())
    condition = float(weights.sum()) / total if total > 0 else math.inf
    log_prefactor = math.log(std) + 0.5 * _LOG_2PI - n * math.log(2 * math.sqrt(c))
    log_i = log_prefactor + top + math.log(total) if total > 0 else math.nan
    return log_i, condition


def _log_radial_integral_series(std, dim, c, rtol=1e-17, max_terms=20_000):
    """log I by the positive series in s = sigma sqrt(c):

    I = sigma^d 2^-(d-1) sum_(j>=0) N_(d-1+2j) s^(2j) M_(d-1+2j) / (d-1+2j)!,

    N_m = sum_k (-1)^k C(d-1, k) (d-1-2k)^m (exact integers >= 0: the Taylor coefficients of
    (2 sinh x)^(d-1) times m!), M_m = int_0^inf t^m e^(-t^2/2) dt = 2^((m-1)/2) Gamma((m+1)/2).
    Every term is positive; the sum stops once a term falls below ``rtol`` of the total past
    the largest term."""
    n = dim - 1
    coef = [(-1) ** k * math.comb(n, k) for k in range(dim)]
    log_s = math.log(std * math.sqrt(c))
    total = -math.inf
    previous = -math.inf
    for j in range(max_terms):
        m = n + 2 * j
        big = sum(ck * (n - 2 * k) ** m for k, ck in enumerate(coef))
        term = (math.log(big) + 2 * j * log_s + 0.5 * (m - 1) * math.log(2)
                + math.lgamma(0.5 * (m + 1)) - math.lgamma(m + 1))
        total = np.logaddexp(total, term)
        if term < previous and term - total < math.log(rtol):
            return dim * math.log(std) - n * math.log(2) + float(total)
        previous = term
    raise ArithmeticError(f"the series for the Riemannian normal's normaliser did not converge in "
                          f"{max_terms} terms (sigma={std}, d={dim}, c={c})")


def riemannian_normal_log_normaliser(std, dim, c, method="auto"):
    r"""log Z(sigma, d, c) of the Riemannian normal, in float64.

    .. math:: Z = A_{d-1} \int_0^\infty e^{-r^2/2\sigma^2}
              \Big(\frac{\sinh(\sqrt c\, r)}{\sqrt c}\Big)^{d-1} dr
            = A_{d-1}\, \sigma \sqrt{2\pi}\, (2\sqrt c)^{-(d-1)}
              \sum_{k=0}^{d-1} (-1)^k \binom{d-1}{k} e^{a_k^2\sigma^2/2}\, \Phi(a_k \sigma),

    a_k = (d - 1 - 2k) sqrt(c), A_(d-1) the area of S^(d-1), Phi the standard normal CDF (the
    binomial expansion of sinh^(d-1) = 2^-(d-1) sum_k (-1)^k C(d-1,k) e^((d-1-2k) sqrt(c) r), each
    term a Gaussian integral over r > 0; Mathieu et al. 2019, appendix B). The terms are summed
    in log space (``scipy.special.log_ndtr`` for log Phi, exact in the far tail) with their
    signs. The sum cancels when sigma sqrt(c) is small (Z → (2 pi sigma^2)^(d/2) while each term
    stays of order 1): where the condition number sum|terms| / |sum| exceeds 1e3 (about 3 of 16
    digits lost) the all-positive Taylor series of :func:`_log_radial_integral_series` is used.
    The result agreed with adaptive quadrature (scipy.integrate.quad) to 4e-14 in log Z for
    d in {2, 3, 5, 10}, sigma from 0.01 to 5 and c from 0.25 to 4; tests/test_normals.py holds
    it to 1e-8. c = 0 or d = 1 give (d / 2) log(2 pi sigma^2). Cached per (sigma, d, c, method).
    The series alone ("series") is exact but slow for large sigma sqrt(c) (its terms peak near
    j ~ ((d - 1) sigma sqrt(c))^2).

    Parameters
    ----------
    std : float
        sigma > 0.
    dim : int
        d >= 1, the intrinsic dimension.
    c : float
        >= 0, minus the curvature.
    method : {"auto", "erf", "series"}
        "erf" the closed form, "series" the positive series, "auto" the closed form unless
        ill-conditioned.

    Returns
    -------
    float
    """
    std = _check_std(std)
    dim = check_integer(dim, "dim")
    c = check_real(c, "c (minus the curvature)")
    if method not in ("auto", "erf", "series"):
        raise ValueError(f"method must be 'auto', 'erf' or 'series', got {method!r}")
    return _log_normaliser(std, dim, c, method)


@functools.lru_cache(maxsize=256)
def _log_normaliser(std, dim, c, method):
    if c == 0.0 or dim == 1:
        return 0.5 * dim * (_LOG_2PI + 2 * math.log(std))
    if method != "series":
        log_i, condition = _log_radial_integral_erf(std, dim, c)
        if method == "erf" or condition <= _MAX_CONDITION:
            return log_sphere_area(dim) + log_i
    return log_sphere_area(dim) + _log_radial_integral_series(std, dim, c)


def _log_sinh_c(r, sqrt_c):
    """log(sinh(sqrt(c) r) / sqrt(c)) = log r + log sinhc(sqrt(c) r), stable for all r >= 0."""
    if sqrt_c == 0.0:
        return torch.log(r)
    return torch.log(r) + log_sinhc(sqrt_c * r)


def radial_log_density(r, kind, std, dim, c):
    r"""log rho(r), the normalised density of the distance r = d(mu, z) from the mean:

    * wrapped normal: rho(r) = A_(d-1) r^(d-1) e^(-r^2/2 sigma^2) / (2 pi sigma^2)^(d/2)
      (r / sigma ~ chi_d);
    * Riemannian normal: rho(r) = A_(d-1) e^(-r^2/2 sigma^2) (sinh(sqrt(c) r)/sqrt(c))^(d-1) / Z.

    Parameters
    ----------
    r : array_like or torch.Tensor
        Distances >= 0 (converted to float64 tensors).
    kind : {"wrapped_normal", "riemannian_normal"}
    std, dim, c : float, int, float
        sigma, the intrinsic dimension d and minus the curvature.

    Returns
    -------
    torch.Tensor
    """
    _check_kind(kind)
    std = _check_std(std)
    r = torch.as_tensor(r, dtype=torch.float64)
    if kind == "wrapped_normal":
        log_volume = (dim - 1) * torch.log(r) if dim > 1 else torch.zeros_like(r)
        return log_sphere_area(dim) + log_volume - 0.5 * (r / std) ** 2 \
            - 0.5 * dim * (_LOG_2PI + 2 * math.log(std))
    log_volume = (dim - 1) * _log_sinh_c(r, math.sqrt(c)) if dim > 1 else torch.zeros_like(r)
    return (log_sphere_area(dim) + log_volume - 0.5 * (r / std) ** 2
            - riemannian_normal_log_normaliser(std, dim, c))


# --------------------------------------------------------------------------------------------
# Samplers
# --------------------------------------------------------------------------------------------
def _log_sinh(x):
    """log sinh(x) for x > 0 (tensor), no overflow."""
    return x + torch.log(-torch.expm1(-2 * x)) - math.log(2)


def _radial_envelope(std, dim, c):
    """Tangent lines of the concave l(r) = -r^2/2 sigma^2 + (d-1) log sinh(sqrt(c) r) at five
    points about its mode m (solved by brentq): m + w {-2, -1, 0, 1, 2}, w = (-l''(m))^(-1/2),
    the left ones kept above m/4 and m/2. Returns (t, l(t), l'(t), left ends, right ends) of the
    pieces of the envelope h = min of the lines, as float64 numpy arrays."""
    n, sc = dim - 1, math.sqrt(c)

    def slope(r):
        return -r / std ** 2 + n * sc / math.tanh(sc * r)

    hi = n * sc * std ** 2 + std * math.sqrt(n) + std  # slope(hi) <= -sigma / sigma^2 < 0
    mode = optimize.brentq(slope, 1e-300, hi, xtol=1e-15 * hi, rtol=4 * np.finfo(float).eps)
    csch = 2 * math.exp(-sc * mode) / -math.expm1(-2 * sc * mode)  # 1 / sinh, no overflow
    width = (1 / std ** 2 + n * c * csch ** 2) ** -0.5
    t = np.array([max(mode - 2 * width, mode / 4), max(mode - width, mode / 2), mode,
                  mode + width, mode + 2 * width])
    x = sc * t
    value = -t ** 2 / (2 * std ** 2) + n * (x + np.log(-np.expm1(-2 * x)) - math.log(2))
    grad = -t / std ** 2 + n * sc / np.tanh(x)
    cross = (value[1:] - value[:-1] + grad[:-1] * t[:-1] - grad[1:] * t[1:]) / (grad[:-1] - grad[1:])
    return t, value, grad, np.concatenate([[0.0], cross]), np.concatenate([cross, [np.inf]])


def _segment_log_masses(t, value, grad, left, right):
    """log of int exp(h) over each piece [left, right] of the envelope h = value + grad (r - t)."""
    h_left, h_right = value + grad * (left - t), value + grad * (np.minimum(right, 1e300) - t)
    out = np.empty_like(t)
    for i, g in enumerate(grad):
        if np.isinf(right[i]):  # the last piece has a negative slope
            out[i] = h_left[i] - math.log(-g)
        elif g > 0:
            out[i] = h_right[i] + math.log(-math.expm1(-g * (right[i] - left[i]))) - math.log(g)
        elif g < 0:
            out[i] = h_left[i] + math.log(-math.expm1(g * (right[i] - left[i]))) - math.log(-g)
        else:
            out[i] = h_left[i] + math.log(right[i] - left[i])
    return out


def sample_riemannian_normal_radius(n, std, dim, c, generator=None, device="cpu",
                                    return_acceptance=False):
    r"""Exact draws of r = d(mu, z) under the Riemannian normal, density
    rho(r) ∝ e^(-r^2/2 sigma^2) sinh(sqrt(c) r)^(d-1) on r > 0.

    For c = 0 or d = 1, r = sigma |N(0, I_d)|. Otherwise rejection sampling from a
    piecewise-exponential envelope: l(r) = log rho(r) + const is concave (log sinh is), so its
    tangent lines lie above it (Gilks & Wild 1992, here without adaptation) and
    h(r) = min_i [l(t_i) + l'(t_i)(r - t_i)] over five points t_i about the mode bounds it; a
    draw r ~ e^h (exact inverse CDF piece by piece) is kept with probability e^(l(r) - h(r)).
    The accepted draws follow rho exactly (up to float64 rounding); the acceptance rate was
    0.94 to 0.95 for d in {2, 3, 5, 10}, sigma from 0.01 to 5 and c from 0.25 to 4 (the tests
    require > 0.9). Not reparameterised in sigma (a prior's sigma is a fixed hyperparameter).

    Parameters
    ----------
    n : int
        Number of draws.
    std, dim, c : float, int, float
        sigma > 0, the intrinsic dimension d >= 1 and minus the curvature c >= 0.
    generator : torch.Generator or None
        The source of every random number.
    return_acceptance : bool
        Also return the fraction of proposals kept.

    Returns
    -------
    torch.Tensor
        Radii (n,), float64.
    """
    n = check_integer(n, "n", minimum=0)
    std, dim = _check_std(std), check_integer(dim, "dim")
    c = check_real(c, "c (minus the curvature)")
    opts = dict(dtype=torch.float64, device=device)
    if c == 0.0 or dim == 1:
        r = std * torch.randn(n, dim, generator=generator, **opts).norm(dim=-1)
        return (r, 1.0) if return_acceptance else r
    t, value, grad, left, right = (torch.as_tensor(a, **opts)
                                   for a in _radial_envelope(std, dim, c))
    log_mass = torch.as_tensor(_segment_log_masses(*(a.cpu().numpy() for a in
                                                     (t, value, grad, left, right))), **opts)
    cumulative = torch.softmax(log_mass, 0).cumsum(0)
    kept, proposed, accepted = [], 0, 0
    for _ in range(1000):
        if accepted >= n:
            break
        m = int(1.25 * (n - accepted)) + 16
        u = torch.rand(3, m, generator=generator, **opts)
        i = torch.searchsorted(cumulative, u[0] * cumulative[-1]).clamp_max(len(t) - 1)
        g, a, b = grad[i], left[i], right[i]
        span = torch.where(torch.isinf(b), 0.0, b - a)
        last = torch.log1p(-u[1]) / g  # the unbounded piece (g < 0)
        up = span + torch.log1p((1 - u[1]) * torch.expm1(-g * span)) / g  # g > 0, from b
        down = torch.log1p(u[1] * torch.expm1(g * span)) / g  # g < 0, from a
        offset = torch.where(torch.isinf(b), last, torch.where(
            g > 0, up, torch.where(g < 0, down, u[1] * span)))
        r = a + offset
        envelope = value[i] + g * (r - t[i])
        sc_r = math.sqrt(c) * r
        target = -r ** 2 / (2 * std ** 2) + (dim - 1) * _log_sinh(sc_r)
        keep = (torch.log(u[2]) <= target - envelope) & (r > 0)
        kept.append(r[keep])
        proposed, accepted = proposed + m, accepted + int(keep.sum())
    else:
        raise ArithmeticError("the radius sampler accepted too few proposals")
    r = torch.cat(kept)[:n]
    return (r, accepted / proposed) if return_acceptance else r


def _mean_and_dim(manifold, mu, dim, dtype, device):
    if mu is None:
        if dim is None:
            raise ValueError("give dim (the intrinsic dimension) when mu is None")
        dim = check_integer(dim, "dim")
        dtype = dtype or default_dtype(manifold)
        return manifold_origin(manifold, dim, dtype, device), dim
    mu = torch.as_tensor(mu)
    frame_dim = intrinsic_dim(manifold, mu.shape[-1])
    if dim is not None and dim != frame_dim:
        raise ValueError(f"dim={dim} does not match mu of width {mu.shape[-1]} "
                         f"(dimension {frame_dim})")
    return mu, frame_dim


def _exp_from_coordinates(manifold, mu, v):
    """exp_mu of orthonormal coordinates v (n, ..., d), projected off the ball's boundary."""
    frame = orthonormal_frame(manifold)
    return frame.project(frame.exp(mu, v))[0]


def sample_wrapped_normal(manifold, std, n, dim=None, mu=None, generator=None, dtype=None,
                          device="cpu"):
    r"""Reparameterised draws z = exp_mu(PT_{o→mu}(sigma eps)), eps ~ N(0, I_d) in orthonormal
    coordinates (:mod:`rgdkit.manifolds.frames`); differentiable in mu and in sigma when it is
    a tensor. On the ball, a draw beyond geoopt's float margin is projected back inside.

    Parameters
    ----------
    manifold : geoopt.Lorentz, geoopt.PoincareBall or geoopt.Euclidean
    std : float or torch.Tensor
        sigma > 0.
    n : int
        Number of draws.
    dim : int or None
        The intrinsic dimension, needed when mu is None.
    mu : torch.Tensor or None
        The mean (..., ambient); None is the origin.
    generator : torch.Generator or None
    dtype : torch.dtype or None
        With mu None: the points' dtype (None: :func:`rgdkit.manifolds.default_dtype`).

    Returns
    -------
    torch.Tensor
        Shape (n, *mu.shape).
    """
    curvature_parameter(manifold, "the wrapped normal")
    if not torch.is_tensor(std):
        std = _check_std(std)
    n = check_integer(n, "n", minimum=0)
    mu, dim = _mean_and_dim(manifold, mu, dim, dtype, device)
    eps = torch.randn((n, *mu.shape[:-1], dim), generator=generator, dtype=mu.dtype,
                      device=mu.device)
    return _exp_from_coordinates(manifold, mu, std * eps)


def sample_riemannian_normal(manifold, std, n, dim=None, mu=None, generator=None, dtype=None,
                             device="cpu"):
    r"""Draws z = exp_mu(r u) of the Riemannian normal: r from
    :func:`sample_riemannian_normal_radius` (exact), u uniform on S^(d-1) (a normalised
    Gaussian), in orthonormal coordinates at mu. Differentiable in mu, not in sigma.

    Large sigma sqrt(c) puts the draws far out (the radius is about (d - 1) sqrt(c) sigma^2): on
    the ball, points beyond 2 * 15 / sqrt(c) from the origin saturate at its boundary (geoopt's
    clamp) and are projected back inside; the hyperboloid's coordinates grow like e^(sqrt(c) r).

    Parameters and returns as :func:`sample_wrapped_normal` (``std`` a float).
    """
    c = curvature_parameter(manifold, "the Riemannian normal")
    n = check_integer(n, "n", minimum=0)
    mu, dim = _mean_and_dim(manifold, mu, dim, dtype, device)
    batch = math.prod(mu.shape[:-1])
    r = sample_riemannian_normal_radius(n * batch, std, dim, c, generator, mu.device)
    u = torch.randn((n * batch, dim), generator=generator, dtype=torch.float64, device=mu.device)
    v = (r[:, None] * u / u.norm(dim=-1, keepdim=True)).to(mu.dtype)
    return _exp_from_coordinates(manifold, mu, v.reshape(n, *mu.shape[:-1], dim))


def sample_prior(manifold, kind, std, n, dim=None, mu=None, generator=None, dtype=None,
                 device="cpu"):
    """``n`` draws from the prior whose log density is :func:`log_prior`: kind
    "wrapped_normal" (:func:`sample_wrapped_normal`) or "riemannian_normal"
    (:func:`sample_riemannian_normal`); the origin needs ``dim``."""
    _check_kind(kind)
    curvature_parameter(manifold, f"prior={kind!r}")
    sampler = sample_wrapped_normal if kind == "wrapped_normal" else sample_riemannian_normal
    return sampler(manifold, _check_std(std), n, dim, mu, generator, dtype, device)


def check_prior(manifold, prior, dim, dtype=None):
    """Raise NotImplementedError, naming the prior and what to use instead, when ``manifold``
    cannot carry ``prior``: "normal" needs geodesic distances (geoopt has none for Stiefel),
    the Gaussians of :data:`KINDS` one of :data:`SUPPORTED_MANIFOLDS`."""
    if prior in KINDS:
        curvature_parameter(manifold, f"prior={prior!r}")
    elif prior == "normal":
        check_has_distance(manifold, dim, "prior='normal'", dtype)
