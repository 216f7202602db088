"""Hyperspherical VAE, S-VAE (Davidson, Falorsi, De Cao, Kipf, Tomczak 2018, "Hyperspherical
variational auto-encoders"): a von Mises–Fisher posterior on the sphere S^d in R^(d+1) and a
uniform prior, as a baseline for the Riemannian generative decoder.

The von Mises–Fisher distribution vMF(mu, kappa) on S^(p-1) (p = d + 1, nu = p/2 - 1) has density
with respect to the sphere's area measure

    q(z) = C_p(kappa) exp(kappa mu^T z),   C_p(kappa) = kappa^nu / ((2 pi)^(p/2) I_nu(kappa)),

mean mu A_p(kappa) with A_p = I_(p/2) / I_(p/2-1) (the mean resultant length) and

    KL(vMF(mu, kappa) || Uniform(S^(p-1))) = kappa A_p(kappa) - E_nu(kappa),
    E_nu(kappa) = log I_nu(kappa) - nu log(kappa / 2) + lgamma(nu + 1) >= 0,

which is log q + log area(S^(p-1)) averaged over q: log C_p(kappa) = -log area - E_nu(kappa), so
the KL needs only the "excess" E_nu, which this module computes without the cancellation of
log I_nu against nu log(kappa / 2) (the KL is ~kappa^2 / (2p) as kappa -> 0).

Numerics (float64, pure torch, so nothing leaves the device):

* :func:`log_bessel_iv`: for kappa below max(50, 2 nu^2) the power series of I_nu, summed as
  log1p of its terms after the first (E_nu directly, accurate at kappa -> 0); above, Hankel's
  large-argument expansion (20 terms; it terminates, exact, for half-integer nu, i.e. odd p).
  Differentiable by autograd. :func:`bessel_ratio` A_p takes the ratio of the two Hankel sums
  above the switch, so 1 - A_p ~ (p - 1) / (2 kappa) keeps its digits for large kappa.
* sampling: z = H(mu) (w, sqrt(1 - w^2) u), u uniform on S^(p-2) and H the Householder reflection
  taking e1 to mu; w = mu^T z has density proportional to exp(kappa w) (1 - w^2)^((p-3)/2) on
  [-1, 1] and is drawn by Wood's (1994) rejection sampler, written in terms of v = 1 - w (no
  cancellation near w = 1). The sampler is one vectorised block of ``max_proposals`` (64)
  proposals per draw, no data-dependent loop (so no device synchronisation); a draw with no
  accepted proposal (probability < 1e-25: each proposal was accepted with probability 0.65 or
  more for p = 2, 3, 5 and kappa from 1e-3 to 1e4) keeps its first proposal, a draw from the
  envelope rather than the target, and is counted (``rejection_fallbacks``).
* gradients of w with respect to kappa: implicit reparameterisation (Figurnov, Mohamed, Mnih 2018),
  dw/dkappa = -(dF/dkappa) / f at the drawn w, F and f the CDF and density of w. Chosen over
  Davidson et al.'s correction term, a score-function estimator with the variance that comes
  with it: the implicit gradient is exact per sample. With dF/dkappa = int_{-1}^w (t - A_p) f(t) dt
  and the normaliser cancelling,

      dw/dkappa = int_{-1}^w (A_p - t) e^(-kappa (w - t)) g(t) / g(w) dt
                = int_w^1 (t - A_p) e^(kappa (t - w)) g(t) / g(w) dt,     g(t) = (1 - t^2)^((p-3)/2),

  both positive integrands (no cancellation): the first for w <= A_p (where its kernel decays, and
  is cut where kappa (w - t) > 20 (p - 1)), the second for w > A_p (where kappa (1 - w) is at most
  ~(p - 1) / 2). Gauss–Legendre (48 nodes) in the angle t = cos(theta), which turns
  g(t) dt into sin^(p-2)(theta) dtheta, smooth for every p >= 2. For p = 3 it agrees with the
  derivative of the closed-form inverse CDF to ~1e-12.

The loss: log p(x|z) with one reparameterised sample; log q(z|x) - log p(z) takes the value of the
sample's Monte Carlo estimate kappa mu^T z - E_nu(kappa) (so ``elbo`` and ``iwae_bound`` weigh the
same draws exactly, as in the P-VAE) and the gradient of the closed-form KL, its expectation
(Davidson et al. train on the closed-form KL; the gradient has less variance).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import nn

import rgd_utils as R
from rgdkit.validation import check_real
from rgdkit.baselines.compact_vae import CompactVAE, log_sphere_area, unit_vectors

MAX_PROPOSALS = 64  # Wood's proposals per draw; each accepted with probability >= 0.65
_HANKEL_TERMS = 20
_QUADRATURE_NODES = 48
_TAIL = 20.0  # the lower integral of dw/dkappa stops where kappa (w - t) = _TAIL (p - 1)


# --------------------------------------------------------------------------------------------
# Modified Bessel functions of the first kind, in logs
# --------------------------------------------------------------------------------------------
def _switch(nu):
    """kappa above which Hankel's expansion of I_nu is used (series below)."""
    return max(50.0, 2.0 * nu * nu)


@functools.lru_cache(maxsize=64)
def _series_coefficients(nu, upto, dtype, device):
    k = torch.arange(1, int(upto / 2 + 10 * math.sqrt(upto) + 30) + 1, dtype=dtype, device=device)
    return k, math.lgamma(nu + 1) - torch.lgamma(k + 1) - torch.lgamma(k + nu + 1)


@functools.lru_cache(maxsize=64)
def _hankel_coefficients(nu, dtype, device):
    """(-1)^j a_j(nu), a_j = prod_{i<=j} (4 nu^2 - (2i - 1)^2) / (j! 8^j), j = 0.._HANKEL_TERMS."""
    c, out = 1.0, [1.0]
    for j in range(1, _HANKEL_TERMS + 1):
        c *= -(4 * nu * nu - (2 * j - 1) ** 2) / (8 * j)
        out.append(c)
    return (torch.tensor(out, dtype=dtype, device=device),
            torch.arange(_HANKEL_TERMS + 1, dtype=dtype, device=device))


def _series_excess(nu, kappa, upto):
    """E_nu(kappa) from the power series, for 0 < kappa <= upto: log(1 + sum_k>=1 terms)."""
    k, log_c = _series_coefficients(float(nu), float(upto), kappa.dtype, kappa.device)
    log_half = torch.log(kappa.clamp_min(1e-300) / 2)
    return torch.log1p(torch.exp(2 * k * log_half[..., None] + log_c).sum(-1))


def _hankel_sum(nu, kappa):
    """S_nu(kappa) = I_nu(kappa) sqrt(2 pi kappa) e^(-kappa), for kappa >= _switch(nu): the
    alternating sum of a_j / kappa^j (terms below 1e-16 of the first by the 20th)."""
    coef, j = _hankel_coefficients(float(nu), kappa.dtype, kappa.device)
    return (1 / kappa)[..., None].pow(j) @ coef


def log_bessel_excess(nu, kappa):
    """E_nu(kappa) = log I_nu(kappa) - nu log(kappa / 2) + lgamma(nu + 1) (>= 0, ~kappa^2 / (4 (nu
    + 1)) at 0), for nu >= 0 and kappa > 0 (float64 tensor), differentiable."""
    upto = _switch(nu)
    series = _series_excess(nu, kappa.clamp_max(upto), upto)
    big = kappa.clamp_min(upto)
    hankel = (big - 0.5 * torch.log(2 * math.pi * big) + torch.log(_hankel_sum(nu, big))
              - nu * torch.log(big / 2) + math.lgamma(nu + 1))
    return torch.where(kappa < upto, series, hankel)


def log_bessel_iv(nu, kappa):
    """log I_nu(kappa), the modified Bessel function of the first kind, for nu >= 0 and kappa > 0:
    finite from kappa = 1e-300 to 1e300 (no overflow), differentiable."""
    return log_bessel_excess(nu, kappa) + nu * torch.log(kappa / 2) - math.lgamma(nu + 1)


def bessel_ratio(nu, kappa):
    """I_(nu+1)(kappa) / I_nu(kappa), in (0, 1): the vMF mean resultant length A_p for nu = p/2 - 1."""
    upto = _switch(nu + 1)
    small = kappa.clamp_max(upto)
    series = torch.exp(_series_excess(nu + 1, small, upto) - _series_excess(nu, small, upto)
                       + torch.log(small.clamp_min(1e-300) / 2) - math.log(nu + 1))
    big = kappa.clamp_min(upto)
    hankel = _hankel_sum(nu + 1, big) / _hankel_sum(nu, big)
    return torch.where(kappa < upto, series, hankel)


# --------------------------------------------------------------------------------------------
# The von Mises–Fisher distribution
# --------------------------------------------------------------------------------------------
def wood_sample(kappa, p, generator=None, max_proposals=MAX_PROPOSALS):
    """v = 1 - w for w = mu^T z of vMF draws on S^(p-1), by Wood's (1994) rejection sampler.

    ``kappa`` (...) float; returns v (...) (no gradient) and the number of draws with none of the
    ``max_proposals`` proposals accepted (a long tensor; those keep their first proposal).
    Proposal w = (1 - (1 + b) e) / (1 - (1 - b) e), e ~ Beta((p-1)/2, (p-1)/2), so
    v = 2 b e / (1 - (1 - b) e); accepted when
    kappa w + (p - 1) log(1 - x0 w) - kappa x0 - (p - 1) log(1 - x0^2) >= log U.
    """
    kappa = kappa.detach()
    shape = (int(max_proposals), *kappa.shape)
    opts = {"generator": generator, "dtype": kappa.dtype, "device": kappa.device}
    if p == 3:
        e = torch.rand(shape, **opts)  # Beta(1, 1)
    else:  # Beta(a, a) = X / (X + Y) with X, Y ~ chi^2 with 2a = p - 1 degrees of freedom
        chi2 = torch.randn((*shape, 2, p - 1), **opts).square().sum(-1)
        e = chi2[..., 0] / chi2.sum(-1)
    m = p - 1
    b = m / (2 * kappa + torch.sqrt(4 * kappa * kappa + m * m))  # stable (-2k + sqrt(4k^2+m^2)) / m
    one_minus_x0 = 2 * b / (1 + b)
    x0 = (1 - b) / (1 + b)
    v = 2 * b * e / (1 - (1 - b) * e)
    log_ratio = (kappa * (one_minus_x0 - v)
                 + m * (torch.log(one_minus_x0 + x0 * v) - torch.log(one_minus_x0)
                        - torch.log1p(x0)))
    accepted = log_ratio >= torch.log(torch.rand(shape, **opts))
    first = accepted.to(torch.int8).argmax(0)  # the first accepted (0 when none is)
    v = v.gather(0, first[None]).squeeze(0)
    return v, (~accepted.any(0)).sum()


@functools.lru_cache(maxsize=8)
def _gauss_legendre(n, dtype, device):
    x, w = np.polynomial.legendre.leggauss(n)
    return (torch.as_tensor(x, dtype=dtype, device=device),
            torch.as_tensor(w, dtype=dtype, device=device))


def dw_dkappa(v, kappa, p, mean_length=None):
    """Implicit reparameterisation gradient dw/dkappa (>= 0) at draws w = 1 - v of the vMF's
    component along mu (see the module docstring); no gradient flows through it."""
    with torch.no_grad():
        A = bessel_ratio(p / 2 - 1, kappa) if mean_length is None else mean_length
        v, kappa, A = torch.broadcast_tensors(v, kappa, A)
        theta_w = 2 * torch.asin(torch.sqrt(v / 2).clamp_max(1.0))
        lower = (1 - v) <= A
        # lower integral: theta from theta_w to where kappa (w - cos theta) = _TAIL (p - 1)
        cos_end = (1 - v - _TAIL * (p - 1) / kappa).clamp_min(-1.0)
        theta_end = torch.arccos(cos_end).maximum(theta_w)
        a = torch.where(lower, theta_w, torch.zeros_like(theta_w))
        b = torch.where(lower, theta_end, theta_w)
        x, weight = _gauss_legendre(_QUADRATURE_NODES, v.dtype, v.device)
        half = ((b - a) / 2)[..., None]
        theta = ((a + b) / 2)[..., None] + half * x
        tw = theta_w[..., None]
        gap = 2 * torch.sin((theta + tw) / 2) * torch.sin((theta - tw) / 2)  # cos tw - cos theta
        # A - cos theta = 2 sin^2(theta / 2) - (1 - A), signed so that the integrand is >= 0
        sign = torch.where(lower, 1.0, -1.0)[..., None]
        factor = sign * (2 * torch.sin(theta / 2).square() - (1 - A)[..., None])
        sin_t, sin_w = torch.sin(theta), torch.sin(tw).clamp_min(1e-300)
        shape = sin_t * (sin_t / sin_w).pow(p - 3)  # g(t) dt / g(w) in the angle
        integrand = factor * torch.exp(-kappa[..., None] * gap) * shape
        return (half * integrand * weight).sum(-1).clamp_min(0.0)


def householder(mu, y):
    """H(mu) y with H the reflection that maps e1 = (1, 0, ..) to the unit vector mu."""
    mu0, rest = mu[..., :1], mu[..., 1:]
    # u = e1 - mu, normalised; 1 - mu0 = |rest|^2 / (1 + mu0) for mu0 > 0 keeps its digits near e1
    first = torch.where(mu0 > 0, rest.square().sum(-1, keepdim=True) / (1 + mu0.abs()), 1 - mu0)
    u = torch.cat([first, -rest], -1)
    u = u / u.norm(dim=-1, keepdim=True).clamp_min(1e-150)  # u = 0 (H = I) when mu = e1
    return y - 2 * u * (u * y).sum(-1, keepdim=True)


class VonMisesFisher:
    """vMF(mu, kappa) on the unit sphere S^(p-1) in R^p (p >= 2).

    ``mu`` (..., p) unit vectors, ``kappa`` (...) > 0, broadcastable; float64 recommended (the
    sampler's and the normaliser's accuracy are stated for it). ``log_prob`` is the density with
    respect to the sphere's area measure. ``validate=False`` skips the argument checks (the VAE
    uses it so that a NaN reaches the loss and is reported as a divergence).
    """

    def __init__(self, mu, kappa, validate=True):
        mu = torch.as_tensor(mu)
        kappa = torch.as_tensor(kappa, dtype=mu.dtype, device=mu.device)
        if validate:
            _check_vmf_args(mu, kappa)
        self.p = mu.shape[-1]
        self.nu = self.p / 2 - 1
        batch = torch.broadcast_shapes(mu.shape[:-1], kappa.shape)
        self.mu = mu.broadcast_to((*batch, self.p))
        self.kappa = kappa.broadcast_to(batch)

    def mean_resultant_length(self):
        """A_p(kappa) = E[mu^T z] = I_(p/2)(kappa) / I_(p/2-1)(kappa)."""
        return bessel_ratio(self.nu, self.kappa)

    def log_normaliser(self):
        """log C_p(kappa) = -log area(S^(p-1)) - E_nu(kappa)."""
        return -log_sphere_area(self.p) - log_bessel_excess(self.nu, self.kappa)

    def kl_to_uniform(self):
        """KL(vMF || Uniform(S^(p-1))) = kappa A_p(kappa) - E_nu(kappa), in closed form."""
        return self.kappa * self.mean_resultant_length() - log_bessel_excess(self.nu, self.kappa)

    def log_prob(self, z):
        """log q(z) = kappa mu^T z + log C_p(kappa)."""
        return self.kappa * (self.mu * z).sum(-1) + self.log_normaliser()

    def rsample(self, n=None, generator=None, max_proposals=MAX_PROPOSALS):
        """Reparameterised samples (n, ..., p) (or (..., p) for ``n=None``)."""
        return self.rsample_with_log_ratio(n, generator, max_proposals)[0]

    def rsample_with_log_ratio(self, n=None, generator=None, max_proposals=MAX_PROPOSALS):
        """Samples z, log q(z) + log area(S^(p-1)) (the log ratio to the uniform density), and
        the number of rejection-sampler fallbacks.

        The log ratio takes its value from the sample, kappa (1 - v) - E_nu(kappa), and its
        gradient from the closed-form KL (its expectation)."""
        batch = self.kappa.shape if n is None else (int(n), *self.kappa.shape)
        kappa = self.kappa.expand(batch)
        A = self.mean_resultant_length()
        v0, fallbacks = wood_sample(kappa, self.p, generator, max_proposals)
        # implicit reparameterisation: the value v0, the gradient -dw/dkappa with respect to kappa
        v = v0 - dw_dkappa(v0, kappa, self.p, A.detach().expand(batch)) * (kappa - kappa.detach())
        direction = torch.randn((*batch, self.p - 1), generator=generator, dtype=kappa.dtype,
                                device=kappa.device)
        direction = direction / direction.norm(dim=-1, keepdim=True)
        y = torch.cat([(1 - v)[..., None],
                       torch.sqrt((v * (2 - v)).clamp_min(0))[..., None] * direction], -1)
        z = householder(self.mu.expand((*batch, self.p)), y)
        excess = log_bessel_excess(self.nu, kappa)
        kl = kappa * A - excess
        log_ratio = kl + (kappa * (1 - v0) - excess - kl).detach()
        return z, log_ratio, fallbacks


def _check_vmf_args(mu, kappa):
    if mu.ndim < 1 or mu.shape[-1] < 2:
        raise ValueError(f"mu must have shape (..., p) with p >= 2 (unit vectors of R^p), got "
                         f"{tuple(mu.shape)}")
    if not torch.isfinite(mu).all():
        raise ValueError("mu has NaN or inf entries")
    if not torch.allclose(mu.norm(dim=-1), torch.ones((), dtype=mu.dtype), atol=1e-6):
        raise ValueError("mu must be unit vectors (divide by the norm: mu / |mu|)")
    if not (torch.isfinite(kappa).all() and (kappa > 0).all()):
        raise ValueError("kappa must be finite and > 0")
    try:
        torch.broadcast_shapes(mu.shape[:-1], kappa.shape)
    except RuntimeError as err:
        raise ValueError(f"kappa of shape {tuple(kappa.shape)} does not broadcast to mu's batch "
                         f"shape {tuple(mu.shape[:-1])}") from err


# --------------------------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------------------------
class SphericalVAE(CompactVAE):
    """Hyperspherical VAE (S-VAE, Davidson et al. 2018): a scikit-learn transformer with latents on
    the sphere S^d in R^(d+1) (``rgd_utils.make_manifold("sphere", d)``; d = ``latent_dim``).

    Encoder: an MLP (the decoder's widths reversed) outputs d + 2 numbers: the first d + 1 divided
    by their norm are the mean direction mu, the last gives the concentration
    kappa = softplus(.) + ``min_concentration``. Posterior vMF(mu, kappa) (see the module
    docstring for the sampler, its gradients and the KL), prior uniform on S^d. Likelihood:
    Gaussian with the decoder output as mean and a per-feature standard deviation, fixed at
    ``likelihood_std`` (1.0) or learned (``"learned"``). The ELBO uses one sample per datum.
    ``transform`` gives mu, the posterior's mean direction (its Fréchet mean on the sphere; the
    Euclidean mean A_p(kappa) mu lies inside the ball). Latent computations in float64, networks
    in float32 (``rgd_utils.DECODER_DTYPE``).

    Training is the P-VAE's (:class:`rgdkit.baselines.pvae.PoincareVAE`): Adam on minibatches,
    early stopping on the validation ELBO (a fixed random stream) with ``patience``, the best state
    restored, ``kl_warmup`` epochs of KL warm-up. A non-finite loss or gradient stops training with
    a :class:`rgdkit.training.base.TrainingDiverged` warning and keeps the best state.
    ``failures_`` = {"nan_epochs", "rejection_fallbacks"}: diverged epochs and vMF draws whose
    rejection sampler accepted none of its ``MAX_PROPOSALS`` proposals.

    Parameters
    ----------
    latent_dim : int, default 2
        d, the sphere S^d (points are unit vectors in R^(d+1)).
    hidden : tuple of int, default (16, 32, 64, 128, 256)
        Decoder widths; the encoder uses them reversed.
    epochs : int, default 1000
        Most training epochs.
    batch_size : int, default 128
        Minibatch size.
    lr : float, default 1e-3
        Adam learning rate.
    seed : int, default 0
        Seeds the estimator's own ``torch.Generator`` (initial networks, minibatch order,
        posterior draws); the global random state is left untouched.
    device : str or None, default None
        "cuda" when available unless named.
    patience : int, default 50
        Epochs without a better validation ELBO before training stops.
    verbose : bool, default True
        Show a progress bar.
    likelihood_std : float or "learned", default 1.0
        Per-feature standard deviation of the Gaussian likelihood.
    min_concentration : float, default 1.0
        Added to softplus of the encoder's output: the smallest kappa. Near kappa = 0 the posterior
        is uniform and the loss no longer depends on the mean direction.
    kl_warmup : int, default 0
        Epochs of KL warm-up (0: off).

    Attributes
    ----------
    manifold_ : geoopt.Sphere
    net_, encoder_, decoder_ : torch.nn.Module
        The networks (float32).
    latents_, val_latents_ : ndarray of shape (n, d + 1)
        Posterior mean directions of the training and validation samples (float64).
    history_ : dict of lists
        Per epoch: ``epoch``, ``train_loss``, ``val_loss`` (negative ELBO per datum, nats),
        ``train_kl``, ``rejection_fallbacks``.
    failures_ : dict
        ``nan_epochs`` and ``rejection_fallbacks`` counted over the fit.
    best_epoch_ : int
        Epoch of the restored state (-1: the initial networks).
    diverged_at_ : int or None
    n_features_in_ : int
    """

    _estimator_name = "S-VAE"
    _count_name = "rejection_fallbacks"

    def __init__(self, latent_dim=2, hidden=(16, 32, 64, 128, 256), epochs=1000, batch_size=128,
                 lr=1e-3, seed=0, device=None, patience=50, verbose=True, likelihood_std=1.0,
                 min_concentration=1.0, kl_warmup=0):
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.device = device
        self.patience = patience
        self.verbose = verbose
        self.likelihood_std = likelihood_std
        self.min_concentration = min_concentration
        self.kl_warmup = kl_warmup

    def transform(self, X):
        """Posterior mean directions (N x (d + 1) unit vectors, float64); use with
        ``rgdkit.metrics.pairwise_distances(Z, manifold_)``."""
        return super().transform(X)

    def _make_manifold(self):
        return R.make_manifold("sphere", self.latent_dim)

    def _encoder_outputs(self):
        return int(self.latent_dim) + 2

    def _encode(self, x):
        """Mean directions (B, d + 1) and concentrations (B,)."""
        out = self.encoder_(x).to(self.dtype_)
        mu = unit_vectors(out[:, :-1])
        kappa = nn.functional.softplus(out[:, -1]) + self.min_concentration
        return mu, kappa

    def _log_joint_terms(self, x, n_samples, generator=None):
        """log p(x | z), log q(z | x) - log p(z) for ``n_samples`` draws each: (S, B), and the
        number of rejection-sampler fallbacks."""
        mu, kappa = self._encode(x)
        posterior = VonMisesFisher(mu, kappa, validate=False)
        z, log_ratio, fallbacks = posterior.rsample_with_log_ratio(n_samples, generator)
        return self._log_likelihood(x, z), log_ratio, fallbacks

    def _check_model_params(self):
        check_real(self.min_concentration, "min_concentration", positive=True)

    def _divergence_hint(self):
        return (f"lower lr ({self.lr}), raise min_concentration ({self.min_concentration}) or "
                "standardise the data.")

    def _describe(self):
        return f"S-VAE S^{self.latent_dim}"


__all__ = ["SphericalVAE", "VonMisesFisher", "log_bessel_iv", "log_bessel_excess", "bessel_ratio",
           "wood_sample", "dw_dkappa", "householder"]
