"""Densities on the latent manifold, fitted to training latents: what RGD generates from.

RGD has no encoder and no prior to sample: every training sample owns a latent point. To generate,
a mixture density is fitted to the training latents *on the manifold*, sampled, and decoded
(:mod:`rgdkit.generation.sampling`). All densities here are with respect to the Riemannian volume
of the manifold (surface measure on spheres, dθ₁…dθ_d on the torus, the hyperbolic volume on H^d),
so held-out log-likelihoods compare mixtures on one manifold; they do not compare manifolds.

Component families, one per kind of manifold (``ManifoldMixture.family_`` names it):

- **Euclidean** R^d: Gaussians with full covariance (an ordinary Gaussian mixture).
- **Sphere** S^d (unit vectors of R^(d+1)): von Mises–Fisher components,
  p(x) = C_p(κ) exp(κ μᵀx) with C_p(κ) = κ^(p/2-1) / ((2π)^(p/2) I_(p/2-1)(κ)), p = d + 1.
  Chosen over wrapped normals because the normaliser is exact (a wrapped normal on the sphere
  sums over every preimage of the exponential map) and the M-step is exact, so EM provably does
  not lower the likelihood.
- **Torus** (product of d circles, each a unit 2-vector): each component is a product of von
  Mises distributions, one per circle (vMF on S¹, the circular analogue of a diagonal Gaussian;
  used instead of per-circle wrapped normals for the same reasons).
- **Hyperbolic** H^d (``geoopt.Lorentz(k)``, or the Poincaré ball): wrapped normals with full
  covariance Σ in orthonormal tangent coordinates v at the origin transported to the centre μ
  (the coordinates of :class:`rgdkit.baselines.pvae.WrappedNormal`), mapped by exp_μ:
  log p(z) = log N(v; 0, Σ) - (d - 1) log(sinh(√c r) / (√c r)), r = |v| = d(μ, z), c = 1/k;
  the second term is the log-determinant of the exponential map's Jacobian.

EM: the E-step uses these log densities; the M-step is exact for Gaussians (mean, covariance),
vMF (mean direction, κ solving A_p(κ) = R̄ by Newton's method) and, given the centre, for the
wrapped normal's covariance. The hyperbolic centre has no closed form: the weighted Karcher mean
is proposed and kept only if it does not lower the expected complete-data log-likelihood, a
generalised EM step, so the likelihood never decreases there either (``history_`` records it).
``reg_covar`` (added to covariances) and ``kappa_max`` (capping concentrations) keep components
from collapsing onto single points.
"""
from __future__ import annotations

import copy
import math
import numbers
import warnings

import geoopt
import numpy as np
import pandas as pd
import torch
from scipy import special
from sklearn.exceptions import ConvergenceWarning

import rgd_utils as R
from rgdkit.validation import check_integer, check_real
from rgdkit.baselines.pvae import WrappedNormal, log_sinhc

_LOG_2PI = math.log(2 * math.pi)
SUPPORTED = ("euclidean", "sphere", "torus", "lorentz", "poincare")


# --------------------------------------------------------------------------------------------
# von Mises–Fisher pieces
# --------------------------------------------------------------------------------------------
def vmf_log_normaliser(p, kappa):
    """log C_p(κ) + κ, the vMF log normaliser shifted by κ (so that the log density
    log C_p(κ) + κ μᵀx = this + κ (μᵀx - 1) stays finite for large κ). ``ive`` is the
    exponentially scaled Bessel function: log I_ν(κ) = log ive(ν, κ) + κ."""
    kappa = np.asarray(kappa, dtype=np.float64)
    nu = p / 2 - 1
    return nu * np.log(kappa) - (p / 2) * _LOG_2PI - np.log(special.ive(nu, kappa))


def vmf_mean_resultant(p, kappa):
    """A_p(κ) = I_(p/2)(κ) / I_(p/2-1)(κ), the expected μᵀx of a vMF on S^(p-1)."""
    return special.ive(p / 2, kappa) / special.ive(p / 2 - 1, kappa)


def vmf_concentration(mean_resultant, p, kappa_min=1e-8, kappa_max=1e6, steps=50):
    """κ with A_p(κ) = R̄ (the maximum-likelihood concentration), by safeguarded Newton steps
    from Banerjee et al.'s approximation; clipped to [kappa_min, kappa_max]."""
    r = np.clip(np.asarray(mean_resultant, dtype=np.float64), 0.0, 1 - 1e-15)
    kappa = np.clip(r * (p - r ** 2) / (1 - r ** 2), kappa_min, kappa_max)
    for _ in range(steps):
        a = vmf_mean_resultant(p, kappa)
        slope = np.maximum(1 - a ** 2 - (p - 1) / kappa * a, 1e-300)
        new = np.clip(kappa - (a - r) / slope, kappa / 4, kappa * 4)
        new = np.clip(new, kappa_min, kappa_max)
        done = np.all(np.abs(new - kappa) <= 1e-12 * kappa)
        kappa = new
        if done:
            break
    return kappa


def sample_vmf(mu, kappa, rng):
    """One draw per row of ``mu`` (m, p) (unit vectors) with concentrations ``kappa`` (m,):
    Wood's (1994) rejection sampler for the component along μ, a uniform direction orthogonal to
    it, and the Householder reflection taking e₁ to μ. Uses only ``rng`` (numpy Generator)."""
    mu = np.asarray(mu, dtype=np.float64)
    kappa = np.asarray(kappa, dtype=np.float64)
    m, p = mu.shape
    q = p - 1
    b = q / (2 * kappa + np.sqrt(4 * kappa ** 2 + q ** 2))
    x0 = (1 - b) / (1 + b)
    c = kappa * x0 + q * np.log(1 - x0 ** 2)
    w = np.empty(m)
    one_minus_w = np.empty(m)
    pending = np.arange(m)
    while len(pending):
        bb, kk, xx, cc = b[pending], kappa[pending], x0[pending], c[pending]
        z = rng.beta(q / 2, q / 2, size=len(pending))
        denom = 1 - (1 - bb) * z
        ww = (1 - (1 + bb) * z) / denom
        omw = 2 * bb * z / denom  # 1 - w without cancellation
        u = rng.random(len(pending))
        accept = kk * ww + q * np.log(1 - xx * ww) - cc >= np.log(u)
        w[pending[accept]] = ww[accept]
        one_minus_w[pending[accept]] = omw[accept]
        pending = pending[~accept]
    direction = rng.standard_normal((m, q))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    x = np.concatenate([w[:, None], np.sqrt(one_minus_w * (1 + w))[:, None] * direction], axis=1)
    u = -mu.copy()
    u[:, 0] += 1.0  # u = e1 - mu; H = I - 2 u uᵀ / |u|² maps e1 to mu
    norm2 = (u ** 2).sum(1, keepdims=True)
    moved = norm2[:, 0] > 1e-30
    x[moved] -= 2 * u[moved] * (u[moved] * x[moved]).sum(1, keepdims=True) / norm2[moved]
    return x / np.linalg.norm(x, axis=1, keepdims=True)


class _VonMisesFisher:
    """Components that are products of vMF factors: one factor of width d + 1 (sphere S^d) or
    d factors of width 2 (torus). Parameters: ``means`` (K, F, w) unit vectors, ``kappa`` (K, F)."""

    name = "von_mises_fisher"

    def __init__(self, n_factors, width, kappa_max):
        self.n_factors, self.width, self.kappa_max = n_factors, width, kappa_max

    def prepare(self, Z):
        Z = Z.reshape(len(Z), self.n_factors, self.width)
        return Z / np.linalg.norm(Z, axis=2, keepdims=True)

    def flatten(self, points):
        return points.reshape(len(points), -1)

    def distances(self, Z, point):
        """Geodesic distances (product metric) of the prepared points to one prepared point."""
        angles = np.arccos(np.clip((Z * point).sum(2), -1.0, 1.0))
        return np.sqrt((angles ** 2).sum(1))

    def initial(self, centres):
        return {"means": centres.copy(), "kappa": np.ones(centres.shape[:2])}

    def log_density(self, Z, params):
        dots = np.einsum("nfw,kfw->nkf", Z, params["means"])
        kappa = params["kappa"]
        return (vmf_log_normaliser(self.width, kappa)[None] + kappa[None] * (dots - 1)).sum(2)

    def m_step(self, Z, resp, params, first=False):
        sums = np.einsum("nk,nfw->kfw", resp, Z)
        weight = resp.sum(0)
        norm = np.linalg.norm(sums, axis=2)
        keep = (weight < 1e-10)[:, None] | (norm < 1e-300)
        means = np.where(keep[..., None], params["means"], sums / np.maximum(norm, 1e-300)[..., None])
        kappa = vmf_concentration(norm / np.maximum(weight, 1e-300)[:, None], self.width,
                                  kappa_max=self.kappa_max)
        return {"means": means, "kappa": np.where(keep, params["kappa"], kappa)}

    def sample(self, params, labels, rng):
        mu = params["means"][labels].reshape(-1, self.width)
        kappa = params["kappa"][labels].reshape(-1)
        return sample_vmf(mu, kappa, rng).reshape(len(labels), self.n_factors, self.width)

    def n_parameters(self, k):
        return k * self.n_factors * self.width  # (w - 1) per direction + 1 concentration


# --------------------------------------------------------------------------------------------
# Gaussians in tangent coordinates (Euclidean; wrapped normals on hyperbolic space)
# --------------------------------------------------------------------------------------------
def gaussian_log_density(V, cov):
    """log N(v; 0, cov) for rows v of ``V`` (N, d)."""
    chol = np.linalg.cholesky(cov)
    y = np.linalg.solve(chol, V.T)
    d = V.shape[1]
    return -0.5 * (y ** 2).sum(0) - np.log(np.diag(chol)).sum() - 0.5 * d * _LOG_2PI


class _TangentGaussian:
    """Gaussian components in orthonormal tangent coordinates. Euclidean: v = z - μ, no Jacobian.
    Hyperbolic: v = PT_{μ→0}(log_μ z) from :class:`WrappedNormal` and the exponential map's
    log-Jacobian (d - 1) log sinhc(√c |v|). Parameters: ``means`` (K, n), ``covariances``
    (K, d, d). All components are handled in one batched call of the maps."""

    def __init__(self, manifold, n_coordinates, reg_covar, karcher_steps=5, karcher_tol=1e-9):
        self.euclidean = isinstance(manifold, geoopt.Euclidean)
        self.name = "gaussian" if self.euclidean else "wrapped_normal"
        # the hyperbolic maps run in float64 (the curvature too)
        self.manifold = copy.deepcopy(manifold).to(torch.float64)
        if not self.euclidean:
            # the orthonormal frame of WrappedNormal: its log and exp maps at any centres (one
            # distribution's frame serves all; building a distribution per call costs more)
            dim = n_coordinates - 1 if isinstance(manifold, geoopt.Lorentz) else n_coordinates
            origin = R.manifold_origin(self.manifold, max(dim, 1))
            self.frame = WrappedNormal(origin, 1.0, self.manifold, validate=False).frame
        self.reg_covar, self.karcher_steps, self.karcher_tol = reg_covar, karcher_steps, karcher_tol
        # sectional curvature -c: Lorentz(k) has c = 1/k, PoincareBall(c) c
        self.sqrt_c = None if self.euclidean else (
            float(self.manifold.k) ** -0.5 if isinstance(manifold, geoopt.Lorentz)
            else math.sqrt(float(self.manifold.c)))

    def prepare(self, Z):
        if self.euclidean:
            return Z
        with torch.no_grad():
            return self.manifold.projx(torch.as_tensor(Z)).numpy()

    def flatten(self, points):
        return points

    def coords(self, Z, means):
        """Tangent coordinates of every point of ``Z`` (N, n) at every centre (K, n): (K, N, d).

        The last result is kept: EM asks for the same centres in the E-step, the first Karcher
        step and the M-step's comparison, and on hyperbolic space the maps are the main cost."""
        if self.euclidean:
            return Z[None] - means[:, None]
        last = getattr(self, "_last", None)
        if last is not None and last[0] is Z and np.array_equal(last[1], means):
            return last[2]
        with torch.no_grad():
            V = self.frame.log(torch.as_tensor(means)[:, None], torch.as_tensor(Z)[None]).numpy()
        self._last = (Z, means.copy(), V)
        return V

    def log_jacobian(self, V):
        """log det of the exponential map's Jacobian at coordinates V (..., d)."""
        if self.euclidean:
            return np.zeros(V.shape[:-1])
        r = torch.as_tensor(np.linalg.norm(V, axis=-1))
        return (V.shape[-1] - 1) * log_sinhc(self.sqrt_c * r).numpy()

    def exp(self, means, V):
        """exp at centres (m, n) of coordinates V (m, d), row by row."""
        if self.euclidean:
            return means + V
        with torch.no_grad():
            points, _ = self.frame.project(self.frame.exp(torch.as_tensor(means), torch.as_tensor(V)))
            if isinstance(self.manifold, geoopt.Lorentz):
                # geoopt's expmap leaves points ~1e-6 off the hyperboloid; projx recomputes x0,
                # so repeated Karcher steps do not drift off it
                points = self.manifold.projx(points)
        return points.numpy()

    def distances(self, Z, point):
        return np.linalg.norm(self.coords(Z, point[None])[0], axis=1)

    def initial(self, centres):
        d = self.dim = self.coords(centres[:1], centres[:1]).shape[-1]
        return {"means": centres.copy(), "covariances": np.tile(np.eye(d), (len(centres), 1, 1))}

    def _log_densities(self, V, covs):
        """(K, N) log densities of coordinates V (K, N, d) under covariances (K, d, d)."""
        jac = self.log_jacobian(V)
        return np.stack([gaussian_log_density(v, c) for v, c in zip(V, covs)]) - jac

    def log_density(self, Z, params):
        return self._log_densities(self.coords(Z, params["means"]), params["covariances"]).T

    def _covariances(self, V, resp, weight):
        """Σ_k = Σ_i r_ik v_ik v_ikᵀ / W_k + reg I, the best covariance for fixed centres."""
        d = V.shape[-1]
        return (np.einsum("nk,kni,knj->kij", resp, V, V) / weight[:, None, None]
                + self.reg_covar * np.eye(d))

    def _expected_log(self, Z, resp, means, weight):
        """Q_k(μ_k) = Σ_i r_ik log p(z_i | μ_k, Σ_k(μ_k)) per component, and those Σ_k(μ_k)."""
        V = self.coords(Z, means)
        covs = self._covariances(V, resp, weight)
        return np.einsum("nk,kn->k", resp, self._log_densities(V, covs)), covs

    def _karcher_means(self, Z, resp, weight, start):
        """Weighted Karcher means of Z, one per component, by at most ``karcher_steps``
        fixed-point steps μ ← exp_μ(Σ_i r_ik log_μ z_i / W_k) from ``start`` (the previous
        centres: EM's iterations carry the rest of the way)."""
        means = start
        for _ in range(self.karcher_steps):
            step = np.einsum("nk,knd->kd", resp, self.coords(Z, means)) / weight[:, None]
            means = self.exp(means, step)
            if np.linalg.norm(step, axis=1).max() < self.karcher_tol:
                break
        return means

    def m_step(self, Z, resp, params, first=False):
        weight = np.maximum(resp.sum(0), 1e-300)
        empty = resp.sum(0) < 1e-10  # an empty component keeps its parameters
        old_means, old_covs = params["means"], params["covariances"]
        if self.euclidean:
            means = resp.T @ Z / weight[:, None]
            covs = self._covariances(Z[None] - means[:, None], resp, weight)
        else:
            # (this order reuses the coordinates of the last call: old centres, then the proposal)
            q_old, cov_old = self._expected_log(Z, resp, old_means, weight)
            proposal = self._karcher_means(Z, resp, weight, old_means)
            q_new, cov_new = self._expected_log(Z, resp, proposal, weight)
            # generalised EM: a centre that would lower Q is not taken (the covariance is still
            # the best one for the centre kept), so the likelihood cannot decrease
            take = np.full(len(weight), True) if first else q_new >= q_old
            means = np.where(take[:, None], proposal, old_means)
            covs = np.where(take[:, None, None], cov_new, cov_old)
        means = np.where(empty[:, None], old_means, means)
        covs = np.where(empty[:, None, None], old_covs, covs)
        return {"means": means, "covariances": covs}

    def sample(self, params, labels, rng):
        covs = params["covariances"][labels]
        eps = rng.standard_normal((len(labels), covs.shape[1]))
        V = np.einsum("mij,mj->mi", np.linalg.cholesky(covs), eps)
        return self.exp(params["means"][labels], V)

    def n_parameters(self, k):
        d = self.dim
        return k * (d + d * (d + 1) // 2)


# --------------------------------------------------------------------------------------------
# The mixture
# --------------------------------------------------------------------------------------------
def resolve_manifold(manifold, n_coordinates):
    """A geoopt manifold for ``manifold`` (an instance, returned as is, or one of ``SUPPORTED``
    names, built for points with ``n_coordinates`` coordinates and curvature 1)."""
    if isinstance(manifold, geoopt.manifolds.Manifold):
        return manifold
    key = manifold.lower() if isinstance(manifold, str) else None
    if key not in SUPPORTED:
        raise ValueError(f"manifold must be a geoopt manifold (e.g. a fitted model's manifold_) or "
                         f"one of {', '.join(SUPPORTED)}; got {manifold!r}")
    dim = {"euclidean": n_coordinates, "poincare": n_coordinates,
           "torus": max(n_coordinates // 2, 1)}.get(key, n_coordinates - 1)
    return R.make_manifold(key, max(dim, 1))


def _family(manifold, n_coordinates, reg_covar, kappa_max):
    if R.is_torus(manifold):
        return _VonMisesFisher(n_coordinates // 2, 2, kappa_max)
    if type(manifold) in (geoopt.Sphere, geoopt.SphereExact):
        return _VonMisesFisher(1, n_coordinates, kappa_max)
    if type(manifold) is geoopt.Euclidean or isinstance(manifold, (geoopt.Lorentz,
                                                                    geoopt.PoincareBall)):
        return _TangentGaussian(manifold, n_coordinates, reg_covar)
    raise ValueError(f"ManifoldMixture supports the Euclidean space, the sphere, the torus (a "
                     f"product of circles), the Lorentz model and the Poincaré ball; got "
                     f"{type(manifold).__name__}")


class ManifoldMixture:
    """A mixture density on a Riemannian manifold fitted by EM (see the module docstring for the
    component family of each manifold).

    Parameters
    ----------
    n_components : int
        Number of mixture components (>= 1).
    manifold : geoopt manifold or str
        The latent manifold: a fitted model's ``manifold_`` (curvature included), or one of
        "euclidean", "sphere", "torus", "lorentz", "poincare" (curvature 1, dimension read off
        the data).
    seed : int, default 0
        Seeds the initialisation (k-means++ on geodesic distances) and, unless ``sample`` is
        given another, the sampler; numpy ``Generator`` s of its own, never the global state.
    max_iter : int, default 300
        Most EM iterations per initialisation.
    tol : float, default 1e-5
        EM stops when the mean log-likelihood rises by less than this.
    n_init : int, default 1
        Initialisations; the one with the highest final likelihood is kept.
    reg_covar : float, default 1e-6
        Added to the diagonal of (tangent) covariances.
    kappa_max : float, default 1e6
        Largest vMF / von Mises concentration.

    Attributes
    ----------
    manifold_, family_ ("gaussian", "von_mises_fisher" or "wrapped_normal"), weights_ (K,),
    means_ (K, n) points of the manifold, covariances_ (K, d, d) or concentrations_ (K, factors),
    history_ (mean log-likelihood after each iteration, starting with the initial parameters, for
    the initialisation kept), n_iter_, converged_, n_features_in_.
    """

    def __init__(self, n_components, manifold, seed=0, max_iter=300, tol=1e-5, n_init=1,
                 reg_covar=1e-6, kappa_max=1e6):
        if isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral) \
                or n_components < 1:
            raise ValueError(f"n_components must be a positive integer (the number of mixture "
                             f"components), got {n_components!r}; use n_components >= 1")
        self.n_components = int(n_components)
        self.manifold = manifold
        self.seed = check_integer(seed, "seed", minimum=0)
        self.max_iter = check_integer(max_iter, "max_iter")
        self.n_init = check_integer(n_init, "n_init")
        self.tol = check_real(tol, "tol")
        self.reg_covar = check_real(reg_covar, "reg_covar", positive=True)
        self.kappa_max = check_real(kappa_max, "kappa_max", positive=True)

    # ---- fitting ----------------------------------------------------------------------------
    def fit(self, Z):
        """Fit the mixture to points ``Z`` (N, n) of the manifold by EM; returns self."""
        Z = self._as_array(Z)
        width = Z.shape[-1] if Z.ndim else 0
        self.manifold_ = resolve_manifold(self.manifold, width)
        self._family = _family(self.manifold_, width, self.reg_covar, self.kappa_max)
        if Z.ndim != 2:
            raise ValueError(f"Z must be a 2-D array of points (N x coordinates), got shape "
                             f"{Z.shape}")
        self.n_features_in_ = width
        points = self._check_points(Z)
        if len(points) < self.n_components:
            raise ValueError(f"Z has {len(points)} points, fewer than n_components = "
                             f"{self.n_components}; use fewer components or more points")
        self.family_ = self._family.name
        best = None
        for attempt in range(self.n_init):
            rng = np.random.default_rng([self.seed, attempt])
            run = self._em(points, rng)
            if best is None or run[1][-1] > best[1][-1]:
                best = run
        params, self.history_, self.n_iter_, self.converged_ = best
        self._set_params(params)
        if not self.converged_:
            warnings.warn(f"EM did not converge in {self.max_iter} iterations (last change "
                          f"{self.history_[-1] - self.history_[-2]:.2g}); raise max_iter",
                          ConvergenceWarning, stacklevel=2)
        return self

    def _em(self, Z, rng):
        resp, start = self._initial(Z, rng)
        params = self._m_step(Z, resp, start, first=True)
        loglik, resp = self._e_step(Z, params)
        history, converged, iteration = [loglik], False, 0
        for iteration in range(1, self.max_iter + 1):
            params = self._m_step(Z, resp, params)
            loglik, resp = self._e_step(Z, params)
            history.append(loglik)
            if history[-1] - history[-2] < self.tol:
                converged = True
                break
        return params, history, iteration, converged

    def _m_step(self, Z, resp, params, first=False):
        """The family's M-step and the mixture weights (the mean responsibilities)."""
        out = self._family.m_step(Z, resp, params, first)
        out["weights"] = np.maximum(resp.mean(0), 1e-300)
        return out

    def _initial(self, Z, rng):
        """One-hot responsibilities of the nearest of K centres chosen by k-means++ (each next
        centre drawn with probability proportional to its squared geodesic distance)."""
        k = self.n_components
        chosen = [int(rng.integers(len(Z)))]
        nearest = self._family.distances(Z, Z[chosen[0]]) ** 2
        dist = [nearest]
        for _ in range(1, k):
            total = nearest.sum()
            idx = int(rng.choice(len(Z), p=nearest / total)) if total > 0 else int(
                rng.integers(len(Z)))
            chosen.append(idx)
            dist.append(self._family.distances(Z, Z[idx]) ** 2)
            nearest = np.minimum(nearest, dist[-1])
        labels = np.argmin(np.stack(dist, 1), 1)
        return np.eye(k)[labels], self._family.initial(Z[chosen])

    def _log_joint(self, Z, params=None):
        params = params or self._params
        return np.log(params["weights"])[None] + self._family.log_density(Z, params)

    def _e_step(self, Z, params):
        joint = self._log_joint(Z, params)
        total = special.logsumexp(joint, axis=1)
        return float(total.mean()), np.exp(joint - total[:, None])

    def _set_params(self, params):
        self._params = params
        self.weights_ = params["weights"]
        self.means_ = self._family.flatten(params["means"])
        if "covariances" in params:
            self.covariances_ = params["covariances"]
        else:
            self.concentrations_ = params["kappa"]

    # ---- density and sampling ---------------------------------------------------------------
    def log_prob(self, Z):
        """Log density of each point of ``Z`` w.r.t. the Riemannian volume, (N,)."""
        self._check_fitted()
        points = self._check_points(self._as_array(Z))
        return special.logsumexp(self._log_joint(points), axis=1)

    def score(self, Z):
        """Mean log-likelihood of ``Z`` (nats per point)."""
        return float(self.log_prob(Z).mean())

    def sample(self, n, seed=None, return_labels=False):
        """``n`` points of the manifold (n, coordinates), float64, drawn with a generator seeded
        with ``seed`` (default: the mixture's ``seed``), so the same seed gives the same points;
        ``return_labels`` also returns each point's component."""
        self._check_fitted()
        n = check_integer(n, "n")
        rng = np.random.default_rng(self.seed if seed is None else check_integer(
            seed, "seed", minimum=0))
        labels = rng.choice(self.n_components, size=n, p=self.weights_ / self.weights_.sum())
        points = self._family.flatten(self._family.sample(self._params, labels, rng))
        return (points, labels) if return_labels else points

    def n_parameters(self):
        """Free parameters (weights, centres, spreads), e.g. for an information criterion."""
        self._check_fitted()
        return self.n_components - 1 + self._family.n_parameters(self.n_components)

    # ---- checks -----------------------------------------------------------------------------
    @staticmethod
    def _as_array(Z):
        return np.asarray(Z.detach().cpu() if torch.is_tensor(Z) else Z)

    def _check_points(self, Z):
        """Points as float64, after :func:`rgd_utils.check_on_manifold` (shape, NaN, constraint)
        and, once fitted, the width the mixture was fitted on; snapped back onto the manifold in
        float64 (float32 latents sit 1e-7 off it)."""
        if Z.dtype.kind not in "fiu":
            raise ValueError(f"Z must hold real coordinates, got dtype {Z.dtype}")
        if Z.ndim == 2 and Z.shape[1] != self.n_features_in_:
            raise ValueError(f"Z has {Z.shape[1]} coordinates but the mixture was fitted on "
                             f"{self.n_features_in_}; pass points of the same manifold")
        if Z.ndim == 2 and not np.isfinite(Z).all():
            rows = np.flatnonzero(~np.isfinite(Z).all(1))
            raise ValueError(f"Z has NaN or inf in {len(rows)} points (first: {rows[:5].tolist()});"
                             " drop them (or fix the latents that produced them) before fitting "
                             "or scoring")
        tensor = torch.as_tensor(Z if Z.dtype.kind == "f" else Z.astype(np.float64))
        R.check_on_manifold(tensor, self.manifold_, "Z")
        return self._family.prepare(Z.astype(np.float64))

    def _check_fitted(self):
        if not hasattr(self, "_params"):
            raise ValueError("this ManifoldMixture is not fitted yet; call fit(Z) first")

    def __repr__(self):
        name = self.manifold if isinstance(self.manifold, str) else type(self.manifold).__name__
        return f"ManifoldMixture(n_components={self.n_components}, manifold={name}, seed={self.seed})"


def select_mixture(Z_train, Z_heldout, manifold, components=(1, 2, 4, 8, 16), seed=0, **options):
    """Fit a :class:`ManifoldMixture` with each number of ``components`` to ``Z_train`` and keep
    the one with the highest mean log-likelihood on ``Z_heldout`` (e.g. a model's
    ``val_latents_``). Counts larger than the training set are skipped. ``options`` go to
    :class:`ManifoldMixture`. Returns ``(mixture, table)``, the table (pandas DataFrame) with
    columns ``components``, ``train_loglik``, ``heldout_loglik`` (nats per point)."""
    if len(components) == 0:
        raise ValueError("components must name at least one number of components, e.g. (1, 2, 4)")
    rows, best = [], None
    n_train = len(Z_train)
    for k in components:
        if k > n_train:
            continue
        mixture = ManifoldMixture(k, manifold, seed=seed, **options).fit(Z_train)
        heldout = mixture.score(Z_heldout)
        rows.append({"components": int(k), "train_loglik": mixture.history_[-1],
                     "heldout_loglik": heldout})
        if best is None or heldout > best[0]:
            best = (heldout, mixture)
    if best is None:
        raise ValueError(f"every number of components in {tuple(components)} exceeds the "
                         f"{n_train} training points; pass smaller numbers")
    return best[1], pd.DataFrame(rows, columns=["components", "train_loglik", "heldout_loglik"])
