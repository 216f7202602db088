"""Diffusion VAE, ΔVAE (Pérez Rey, Menkovski, Portegies 2019, "Diffusion variational
autoencoders"): the posterior is Brownian motion on a compact latent manifold, started at the
encoder's point z0 and run for the encoder's time t; the prior is uniform. A baseline for the
Riemannian generative decoder on the sphere S^2 and on tori (products of unit circles, as
``rgd_utils.make_manifold("torus", d)``: a point is d unit vectors of R^2, 2 d numbers).

Brownian motion here has generator Laplace-Beltrami / 2, so in a chart around z0 it spreads like a
Gaussian of variance t per dimension (E d(z0, z)^2 = d t + O(t^2)).

* Sampling (reparameterised in z0 and t): a geodesic random walk of ``n_steps`` (10) steps, each a
  standard Gaussian of the ambient space projected onto the tangent space, scaled by
  sqrt(t / n_steps) and followed by the exponential map (per circle on a torus), then a
  renormalisation against rounding. On a torus every step is an exact rotation by a N(0, t / N)
  angle, so the walk has exactly the Brownian law; on the sphere it converges to it as the steps
  shrink.
* Log density of the posterior (with respect to the Riemannian area), the heat kernel p_t(z0, z):
  on a torus exactly, a wrapped Gaussian of variance t per circle (images k = -K..K, K chosen so
  the dropped ones weigh < e^-40); on S^2 the short-time parametrix to first order in t,

      p_t(r) ~ (2 pi t)^-1 exp(-r^2 / (2 t)) sqrt(r / sin r) (1 + t/8 (1 + (1/r - cot r) / r)),

  r = d(z0, z): the Euclidean kernel, the Van Vleck-Morette factor u0 = sqrt(r / sin r) and the
  next coefficient u1 from the transport equation (r u1' + u1 = u0^-1 Laplacian(u0) for the
  generator Laplacian; on the unit S^2 it integrates to 1/4 + (1/r - cot r) / (4 r), which halves
  for Laplacian / 2 and gives the 1/6 = scalar curvature / 12 of the diagonal at r = 0).
  Accuracy against the exact kernel (the Legendre series sum (2l+1)/(4 pi) e^(-l(l+1) t/2)
  P_l(cos r)), measured: total mass about 1 - t^2 / 60 for small t (1 - 1.7e-6 at t = 0.01),
  1 - 2e-4 at t = 0.1, 1 - 4e-3 at t = 0.5, 1 - 0.019 at t = 1
  (1 - 0.043 at 1.5); |log p - log p_exact| at the 99 % quantile of r 2e-4 at t = 0.1, 6e-3 at
  0.5, 0.065 at 1. Hence t is kept in [``min_time``, ``max_time``] = [1e-4, 1] by default and
  ``max_time`` may not exceed 1 on the sphere. The kernel is singular at the antipode (the cut
  locus); a sample within 1e-6 of it has its distance clamped there and is counted
  (``cut_locus_clamps``; at t <= 1 the probability is below 1e-12).
* Time: log t = log min_time + (log max_time - log min_time) sigmoid(encoder output), a smooth
  squashing into the range rather than a hard clamp, which would stop the gradient of every datum
  that reaches a bound and could hold it there.

The loss is the ELBO with one sample: log p(x|z) + log p(z) - log q(z|x), log p(z) = -log area
(4 pi for S^2, (2 pi)^d for the torus) and log q(z|x) = log p_t(z0, z) at the sample, as in the
paper's Monte Carlo estimate of the KL term. On the sphere log q is the approximation above, so
the "ELBO" is approximate (by the numbers above, at most a few hundredths of a nat for t <= 1).
"""
from __future__ import annotations

import math

import torch

import rgd_utils as R
from rgdkit.validation import check_integer, check_real
from rgdkit.baselines.compact_vae import CompactVAE, unit_vectors

MANIFOLDS = ("sphere", "torus")
SPHERE_MAX_TIME = 1.0  # where the parametrix keeps 98 % of its mass (see the module docstring)
_CUT_LOCUS_MARGIN = 1e-6
_LOG_2PI = math.log(2 * math.pi)


def geodesic_random_walk(z0, t, n_steps, generator=None, n_factors=1):
    """Brownian motion on the sphere (``n_factors=1``) or a torus (``n_factors`` circles) started at
    z0 (..., n) and run for time t (broadcastable to z0's batch shape), as ``n_steps`` geodesic
    steps of tangent Gaussians of variance t / n_steps per dimension; differentiable in z0 and t.
    """
    z = z0.unflatten(-1, (n_factors, -1))
    scale = torch.sqrt(t / n_steps)[..., None, None]
    for _ in range(int(n_steps)):
        eps = torch.randn(z.shape, generator=generator, dtype=z.dtype, device=z.device)
        v = scale * (eps - (eps * z).sum(-1, keepdim=True) * z)  # tangent at z
        norm = v.norm(dim=-1, keepdim=True)
        z = torch.cos(norm) * z + torch.sinc(norm / math.pi) * v  # exp_z(v), sinc(x) = sin(pi x)/(pi x)
        z = z / z.norm(dim=-1, keepdim=True)
    return z.flatten(-2)


def _sphere_u1(r):
    """(1/r - cot r) / r = (sin r - r cos r) / (r^2 sin r); below r = 0.1 its Taylor series
    1/3 + r^2/45 + 2 r^4/945 + r^6/4725 + 2 r^8/93555 (next term ~2e-16 at 0.1), which avoids the
    cancellation of sin r - r cos r."""
    small = r.clamp_max(0.1).square()
    series = 1 / 3 + small * (1 / 45 + small * (2 / 945 + small * (1 / 4725 + small * 2 / 93555)))
    big = r.clamp_min(0.1)
    exact = (torch.sin(big) - big * torch.cos(big)) / (big.square() * torch.sin(big))
    return torch.where(r < 0.1, series, exact)


def sphere_heat_kernel_log(r, t):
    """log of the first-order parametrix of the heat kernel of Laplacian / 2 on the unit S^2 at
    geodesic distance r in [0, pi) and time t (see the module docstring)."""
    log_sinc = torch.log(torch.sinc(r / math.pi))  # log(sin r / r)
    return (-torch.log(2 * math.pi * t) - r.square() / (2 * t) - 0.5 * log_sinc
            + torch.log1p(t / 8 * (1 + _sphere_u1(r))))


def circle_images(max_time):
    """K such that wrapped-Gaussian images beyond |k| = K weigh < e^-40 for t <= max_time."""
    return max(1, math.ceil((math.sqrt(80 * max_time) + math.pi) / (2 * math.pi)))


def wrapped_normal_log(delta, t, images):
    """log sum_k N(delta + 2 pi k; 0, t) for angles delta in (-pi, pi], k = -images..images."""
    k = torch.arange(-images, images + 1, dtype=delta.dtype, device=delta.device)
    shifted = delta[..., None] + 2 * math.pi * k
    return torch.logsumexp(-shifted.square() / (2 * t[..., None]), -1) - 0.5 * torch.log(2 * math.pi * t)


class BrownianMotion:
    """The law of Brownian motion (generator Laplacian / 2) at time t started at z0, on the unit
    sphere S^2 (``manifold="sphere"``, z0 of shape (..., 3)) or on a torus of unit circles
    (``"torus"``, z0 (..., 2 d)). ``log_prob`` is the heat kernel with respect to the Riemannian
    area: exact on the torus, the first-order parametrix on the sphere (for t <= 1)."""

    def __init__(self, z0, t, manifold="sphere", n_steps=10, max_time=None):
        if manifold not in MANIFOLDS:
            raise ValueError(f"manifold must be one of {MANIFOLDS}, got {manifold!r}")
        self.z0, self.manifold, self.n_steps = z0, manifold, int(n_steps)
        self.t = torch.as_tensor(t, dtype=z0.dtype, device=z0.device).broadcast_to(z0.shape[:-1])
        self.n_factors = z0.shape[-1] // 2 if manifold == "torus" else 1
        bound = float(self.t.detach().max()) if max_time is None else max_time
        self.images = circle_images(bound)

    def log_area(self):
        """log of the manifold's area: log 4 pi for S^2, d log 2 pi for the d-torus."""
        return math.log(4 * math.pi) if self.manifold == "sphere" else self.n_factors * _LOG_2PI

    def rsample(self, n=None, generator=None):
        """Reparameterised samples (n, ..., n_ambient) (or (..., n_ambient) for ``n=None``)."""
        z0, t = self.z0, self.t
        if n is not None:
            z0, t = z0.expand(int(n), *z0.shape), t.expand(int(n), *t.shape)
        return geodesic_random_walk(z0, t, self.n_steps, generator, self.n_factors)

    def log_prob(self, z):
        """The heat kernel's log density at z (the z0's and t's batch shapes broadcast)."""
        return self.log_prob_and_count(z)[0]

    def log_prob_and_count(self, z):
        """:meth:`log_prob` and the number of points within 1e-6 of the antipode of z0 (their
        distance is clamped to pi - 1e-6; always 0 on a torus)."""
        if self.manifold == "torus":
            a = z.unflatten(-1, (self.n_factors, 2))
            b = self.z0.unflatten(-1, (self.n_factors, 2))
            delta = torch.atan2(b[..., 0] * a[..., 1] - b[..., 1] * a[..., 0], (a * b).sum(-1))
            t = self.t[..., None].expand(delta.shape)
            log_p = wrapped_normal_log(delta, t, self.images).sum(-1)
            return log_p, torch.zeros((), dtype=torch.long, device=z.device)
        r = self.distance(z)
        near = r > math.pi - _CUT_LOCUS_MARGIN
        log_p = sphere_heat_kernel_log(r.clamp_max(math.pi - _CUT_LOCUS_MARGIN), self.t)
        return log_p, near.sum()

    def distance(self, z):
        """Geodesic distance from z0 to z on the sphere: atan2(|z - (z0.z) z0|, z0.z)."""
        dot = (self.z0 * z).sum(-1)
        return torch.atan2((z - dot[..., None] * self.z0).norm(dim=-1), dot)


class DiffusionVAE(CompactVAE):
    """Diffusion VAE (ΔVAE, Pérez Rey et al. 2019): a scikit-learn transformer with latents on the
    sphere S^2 or on a torus, a Brownian-motion posterior and a uniform prior.

    Encoder: an MLP (the decoder's widths reversed) outputs n + 1 numbers for latents in R^n (3 for
    S^2, 2 d for the d-torus): the first n, divided by their norm (per circle on a torus), are the
    starting point z0; the last gives the time t in [``min_time``, ``max_time``] (see the module
    docstring for the sampler, the heat kernel and their accuracy). Likelihood: Gaussian with the
    decoder output as mean and a per-feature standard deviation, fixed at ``likelihood_std`` (1.0)
    or learned (``"learned"``). ``transform`` gives z0, the posterior's Fréchet mean. Latent
    computations in float64, networks in float32 (``rgd_utils.DECODER_DTYPE``).

    Training is the P-VAE's (:class:`rgdkit.baselines.pvae.PoincareVAE`): Adam on minibatches,
    early stopping on the validation ELBO (a fixed random stream) with ``patience``, the best state
    restored, ``kl_warmup`` epochs of KL warm-up. A non-finite loss or gradient stops training with
    a :class:`rgdkit.training.base.TrainingDiverged` warning and keeps the best state.
    ``failures_`` = {"nan_epochs", "cut_locus_clamps"}: diverged epochs and sphere samples whose
    distance to z0 was clamped short of the antipode.

    Parameters
    ----------
    manifold : {"sphere", "torus"}, default "sphere"
        The latent manifold: S^2 (unit vectors of R^3) or the ``latent_dim``-torus.
    latent_dim : int, default 2
        Dimension of the manifold; must be 2 on the sphere (the heat-kernel approximation is
        derived for S^2), any positive integer on the torus.
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
        random walks); the global random state is left untouched.
    device : str or None, default None
        "cuda" when available unless named.
    patience : int, default 50
        Epochs without a better validation ELBO before training stops.
    verbose : bool, default True
        Show a progress bar.
    likelihood_std : float or "learned", default 1.0
        Per-feature standard deviation of the Gaussian likelihood.
    n_steps : int, default 10
        Steps of the geodesic random walk that simulates the Brownian motion.
    min_time, max_time : float, default 1e-4 and 1.0
        Range of the diffusion time t; ``max_time`` <= 1 on the sphere.
    kl_warmup : int, default 0
        Epochs of KL warm-up (0: off).

    Attributes
    ----------
    manifold_ : geoopt.Sphere or geoopt.ProductManifold of circles
    net_, encoder_, decoder_ : torch.nn.Module
        The networks (float32).
    latents_, val_latents_ : ndarray of shape (n, 3) or (n, 2 d)
        Posterior starting points z0 of the training and validation samples (float64).
    history_ : dict of lists
        Per epoch: ``epoch``, ``train_loss``, ``val_loss`` (negative ELBO per datum, nats),
        ``train_kl`` (log q - log p), ``cut_locus_clamps``.
    failures_ : dict
        ``nan_epochs`` and ``cut_locus_clamps`` counted over the fit.
    best_epoch_ : int
        Epoch of the restored state (-1: the initial networks).
    diverged_at_ : int or None
    n_features_in_ : int
    """

    _estimator_name = "ΔVAE"
    _count_name = "cut_locus_clamps"

    def __init__(self, manifold="sphere", latent_dim=2, hidden=(16, 32, 64, 128, 256), epochs=1000,
                 batch_size=128, lr=1e-3, seed=0, device=None, patience=50, verbose=True,
                 likelihood_std=1.0, n_steps=10, min_time=1e-4, max_time=1.0, kl_warmup=0):
        self.manifold = manifold
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
        self.n_steps = n_steps
        self.min_time = min_time
        self.max_time = max_time
        self.kl_warmup = kl_warmup

    def transform(self, X):
        """Posterior starting points z0 (N x 3 on S^2, N x 2 d on the torus; float64); use with
        ``rgdkit.metrics.pairwise_distances(Z, manifold_)``."""
        return super().transform(X)

    def _make_manifold(self):
        return R.make_manifold(self.manifold, self.latent_dim)

    def _n_factors(self):
        return int(self.latent_dim) if self.manifold == "torus" else 1

    def _encoder_outputs(self):
        return self._ambient_dim() + 1

    def _encode(self, x):
        """Starting points z0 (B, n) and times t (B,)."""
        out = self.encoder_(x).to(self.dtype_)
        z0 = unit_vectors(out[:, :-1], self._n_factors())
        lo, hi = math.log(self.min_time), math.log(self.max_time)
        t = torch.exp(lo + (hi - lo) * torch.sigmoid(out[:, -1]))
        return z0, t

    def _log_joint_terms(self, x, n_samples, generator=None):
        """log p(x | z), log q(z | x) - log p(z) for ``n_samples`` walks each: (S, B), and the
        number of cut-locus clamps."""
        z0, t = self._encode(x)
        posterior = BrownianMotion(z0, t, self.manifold, self.n_steps, max_time=self.max_time)
        z = posterior.rsample(n_samples, generator)
        log_q, clamps = posterior.log_prob_and_count(z)
        return self._log_likelihood(x, z), log_q + posterior.log_area(), clamps

    def _check_model_params(self):
        if self.manifold not in MANIFOLDS:
            raise ValueError(f"manifold must be one of {MANIFOLDS}, got {self.manifold!r}")
        if self.manifold == "sphere" and self.latent_dim != 2:
            raise ValueError(f"latent_dim must be 2 on the sphere (the heat-kernel approximation is "
                             f"derived for S^2), got {self.latent_dim!r}; use manifold='torus' for "
                             "other dimensions")
        check_integer(self.n_steps, "n_steps")
        lo = check_real(self.min_time, "min_time", positive=True)
        hi = check_real(self.max_time, "max_time", positive=True)
        if not lo < hi:
            raise ValueError(f"min_time ({lo:g}) must be below max_time ({hi:g})")
        if self.manifold == "sphere" and hi > SPHERE_MAX_TIME:
            raise ValueError(f"max_time must be <= {SPHERE_MAX_TIME:g} on the sphere, got {hi:g}: "
                             "beyond it the short-time heat-kernel approximation loses more than 2 % "
                             "of its mass")

    def _divergence_hint(self):
        return f"lower lr ({self.lr}), raise min_time ({self.min_time:g}) or standardise the data."

    def _describe(self):
        return f"ΔVAE {self.manifold} d={self.latent_dim}"


__all__ = ["DiffusionVAE", "BrownianMotion", "geodesic_random_walk", "sphere_heat_kernel_log",
           "wrapped_normal_log"]
