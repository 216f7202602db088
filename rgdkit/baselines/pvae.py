"""Poincaré VAE baseline (Mathieu et al. 2019, "Continuous hierarchical representations with
Poincaré variational auto-encoders"), used as a comparison to the Riemannian generative decoder.

An encoder MLP maps a sample to a wrapped normal posterior on the Poincaré ball of curvature -c
(geoopt's ``PoincareBall(c)``); a decoder MLP maps latents back to data. Prior and posterior are
wrapped normals; the model is trained on the ELBO with one reparameterised sample per datum.

Conventions. All densities are with respect to the Riemannian volume measure of the ball,
dvol(z) = lambda(z)^d dz with lambda(z) = 2 / (1 - c |z|^2); multiply by lambda(z)^d to get a
density with respect to Lebesgue measure in ball coordinates. Prior and posterior share that
base measure, so the ELBO and IWAE bounds are bounds on log p(x) whichever measure is used.

* tangent vectors are written in orthonormal coordinates (Riemannian norm = Euclidean norm of the
  coordinates). At the origin the ball's metric is lambda_0^2 I = 4 I, so the geoopt (ambient)
  vector of orthonormal coordinates v is v / 2;
* ``WrappedNormal(mu, scale, manifold)``: v ~ N(0, diag(scale^2)) at the origin, transported to
  mu and mapped by exp_mu. The geodesic distance d(mu, z) equals |v|. The axes of ``scale`` are the
  ball's coordinate axes transported from the origin. As c -> 0 the ball becomes R^d with metric
  4 I, so 2 z ~ N(2 mu, diag(scale^2)): the posterior spread in ball coordinates is scale / 2.
  The same distribution is defined on the Lorentz model geoopt.Lorentz(k) (c = 1/k), where the
  orthonormal coordinates v at the origin (sqrt k, 0, ..) are the tangent vector (0, v).
"""
from __future__ import annotations

import copy
import math
import warnings

import geoopt
import numpy as np
import torch
from torch import nn

import rgd_utils as R
from rgdkit.validation import check_integer, check_real
from rgdkit.training.base import LatentEstimator, make_generator
from rgdkit.validation import check_data
from rgdkit.manifolds.frames import LAMBDA_0, BallFrame, LorentzFrame, project_into_ball  # noqa: F401
from rgdkit.manifolds.normals import log_sinhc, wrapped_normal_log_density  # noqa: F401 (re-exported)

_LOG_2PI = math.log(2 * math.pi)


# --------------------------------------------------------------------------------------------
# The wrapped normal distribution
# --------------------------------------------------------------------------------------------
# The orthonormal frames of the ball and the hyperboloid, the boundary projection, log sinhc and
# the wrapped normal's density in coordinates are shared with the priors of
# rgdkit.manifolds.normals; the private names stay for this module's callers.
_BallFrame, _LorentzFrame, _project = BallFrame, LorentzFrame, project_into_ball


def project_to_ball(x, ball):
    """``ball.projx(x)`` and the number of finite points it moved (those at the boundary)."""
    return _project(x, float(ball.c))


def _frame(manifold):
    if isinstance(manifold, geoopt.PoincareBall):
        return _BallFrame(manifold)
    if isinstance(manifold, geoopt.Lorentz):
        return _LorentzFrame(manifold)
    raise ValueError(f"manifold must be a geoopt.PoincareBall or geoopt.Lorentz, "
                     f"got {type(manifold).__name__}")


class WrappedNormal:
    """Wrapped (Riemannian-volume) normal on hyperbolic space: ``manifold`` is the Poincaré ball
    geoopt.PoincareBall(c) or the Lorentz model geoopt.Lorentz(k) (curvature c = 1/k).

    ``mu`` (..., n) is a point of the manifold (n = d on the ball, d + 1 on the hyperboloid);
    ``scale`` (> 0, broadcastable to (..., d)) is the standard deviation of the Gaussian in
    orthonormal tangent coordinates at the origin. ``log_prob`` is the log density with respect
    to the Riemannian volume measure:

        log p(z) = log N(v; 0, diag(scale^2)) + (d - 1) log(sqrt(c) r / sinh(sqrt(c) r)),

    with v = PT_{mu→0}(log_mu z) in orthonormal coordinates and r = |v| = d(mu, z). The two models
    are isometric, so both give the same density and, for the same random stream, the same
    samples. ``validate=False`` skips the argument checks (the VAE uses it so that a NaN reaches
    the loss and is reported as a divergence rather than raised). The curvature is read once, as
    a constant.
    """

    def __init__(self, mu, scale, manifold, validate=True):
        self.frame = _frame(manifold)
        self.manifold = manifold
        mu = torch.as_tensor(mu)
        scale = torch.as_tensor(scale, dtype=mu.dtype, device=mu.device)
        if validate:
            _check_distribution_args(mu, scale, self.frame)
        self.validate = validate
        self.dim = self.frame.dim(mu)
        self.scale = scale.broadcast_to(torch.broadcast_shapes((*mu.shape[:-1], self.dim), scale.shape))
        self.mu = mu.broadcast_to((*self.scale.shape[:-1], mu.shape[-1]))
        self.sqrt_c = self.frame.sqrt_c

    def rsample(self, n=None, generator=None):
        """Reparameterised samples, shape (n, *mu.shape) (or mu.shape for ``n=None``); ``n`` a
        whole number >= 0 (ValueError otherwise)."""
        return self.sample_and_count(n, generator)[0]

    def sample_and_count(self, n=None, generator=None):
        """:meth:`rsample` and the number of samples that had to be projected off the ball's
        boundary (always 0 on the hyperboloid)."""
        z, _, hits = self._draw(n, generator)
        return z, hits

    def rsample_with_log_prob(self, n=None, generator=None):
        """:meth:`sample_and_count` with the log density of each sample, ``(z, log_prob, hits)``.

        The density comes from the coordinates v = scale * eps the sample was drawn with (the
        logarithmic map would give them back), so it equals ``log_prob(z)`` up to rounding; a
        sample projected off the boundary keeps the density of the point drawn."""
        z, v, hits = self._draw(n, generator)
        return z, self._log_density(v), hits

    def _draw(self, n, generator):
        """Samples (projected into the ball), their tangent coordinates v, the projection count."""
        shape = self.scale.shape if n is None else (_sample_count(n), *self.scale.shape)
        eps = torch.randn(shape, generator=generator, dtype=self.mu.dtype, device=self.mu.device)
        v = self.scale * eps  # at mu, exp_mu moves |v| along the transported direction
        z, hits = self.frame.project(self.frame.exp(self.mu, v))
        return z, v, hits

    def tangent_coordinates(self, z):
        """Orthonormal coordinates v at the origin of the point z: PT_{mu→0}(log_mu z)."""
        return self.frame.log(self.mu, z)

    def log_prob(self, z):
        """Log density at z with respect to the Riemannian volume; shape broadcast(...).

        With ``validate`` (the default) z must lie on the manifold: a ValueError names the
        constraint and the worst point (off it the density would be a silent number or NaN). A
        point of another width than ``mu``'s is a ValueError whether or not ``validate``."""
        z = torch.as_tensor(z)
        width = self.mu.shape[-1]
        if z.ndim == 0 or z.shape[-1] != width:
            raise ValueError(f"z has points of width {z.shape[-1] if z.ndim else 0} (shape "
                             f"{tuple(z.shape)}), but this distribution's points have width "
                             f"{width} (mu's last dimension: {self.dim}-dimensional "
                             f"{type(self.manifold).__name__}); pass points of shape "
                             f"(..., {width})")
        if self.validate:
            R.check_on_manifold(z.reshape(-1, z.shape[-1]) if z.ndim else z, self.manifold, "z")
        return self._log_density(self.tangent_coordinates(z))

    def _log_density(self, v):
        """log N(v; 0, diag(scale^2)) - (d - 1) log sinhc(sqrt(c) |v|) at coordinates v."""
        return wrapped_normal_log_density(v, self.scale, self.sqrt_c)


def _sample_count(n):
    """``n`` samples as an int: a whole number >= 0, else TypeError/ValueError with the fix."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer, float, np.floating)):
        raise TypeError(f"n must be a whole number of samples (or None for one per mu), got "
                        f"{type(n).__name__} {n!r}")
    if not math.isfinite(n) or n < 0 or int(n) != n:
        raise ValueError(f"n must be a whole number of samples >= 0 (or None for one per mu), "
                         f"got {n!r}")
    return int(n)


def _check_distribution_args(mu, scale, frame):
    if mu.ndim < 1 or frame.dim(mu) < 1:
        raise ValueError(f"mu must have shape (..., n) with a latent dimension of at least 1, "
                         f"got {tuple(mu.shape)}")
    if not torch.isfinite(mu).all():
        raise ValueError("mu has NaN or inf entries")
    frame.check_point(mu)
    if not (torch.isfinite(scale).all() and (scale > 0).all()):
        raise ValueError("scale must be finite and > 0")
    try:
        torch.broadcast_shapes((*mu.shape[:-1], frame.dim(mu)), scale.shape)
    except RuntimeError as err:
        raise ValueError(f"scale of shape {tuple(scale.shape)} does not broadcast to "
                         f"{(*mu.shape[:-1], frame.dim(mu))} (mu's batch shape, latent dimension)"
                         ) from err


# --------------------------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------------------------
class _Networks(nn.Module):
    """Encoder, decoder and the likelihood's log standard deviation (parameter or fixed buffer)."""

    def __init__(self, n_features, latent_dim, hidden, likelihood_std, generator=None):
        super().__init__()
        self.encoder = R.make_decoder(n_features, 2 * latent_dim, tuple(reversed(hidden)),
                                      generator=generator)
        self.decoder = R.make_decoder(latent_dim, n_features, hidden, generator=generator)
        if likelihood_std == "learned":
            self.log_std = nn.Parameter(torch.zeros(n_features))
        else:
            self.register_buffer("log_std", torch.full((n_features,), math.log(likelihood_std)))


class PoincareVAE(LatentEstimator):
    """Poincaré VAE (Mathieu et al. 2019) with wrapped normal prior and posterior: the baseline of
    the paper's Table 2, a scikit-learn transformer like :class:`rgd_utils.RiemannianDecoder`.

    Encoder: an MLP (the decoder's widths reversed) outputs 2 d numbers; the first d are the
    orthonormal tangent coordinates at the origin of the posterior mean, mu = exp_0(h / lambda_0)
    (so |h| = d(0, mu)); the last d give the posterior scale softplus(.) + ``min_scale``. Prior:
    wrapped normal at the origin with scale ``prior_std`` (1). Likelihood: Gaussian with the
    decoder output as mean and a per-feature standard deviation, fixed at ``likelihood_std`` (1.0,
    the default; suits standardised data) or learned (``likelihood_std="learned"``, initialised
    at 1). The ELBO uses one sample per datum and Monte Carlo estimates of log q - log p.
    Networks run in float32 (``rgd_utils.DECODER_DTYPE``), latents in float64.

    Training: Adam (``lr``, fused) on minibatches. With ``X_val``, the validation ELBO (one sample
    per datum, a fixed random stream so epochs are comparable) drives early stopping: training stops
    ``patience`` epochs after the best epoch and the best state is restored; without ``X_val`` the
    epoch with the lowest training loss is kept. ``history_`` holds per-epoch ``train_loss`` and
    ``val_loss`` (negative ELBO per datum, nats), ``train_kl`` (log q - log p) and
    ``boundary_projections``.

    ``kl_warmup`` (0: off) weights the KL term by beta = min(1, (epoch + 1) / (kl_warmup + 1)) in
    the training steps; recorded losses and the validation ELBO always use beta = 1, and early
    stopping waits for the warm-up to end. Without it the deep, narrow encoder starts with an
    almost data-independent output and some seeds collapse to the prior (KL ~ 0); a warm-up of
    5-10 epochs avoided that on small synthetic clusters.

    Numerical failures: a non-finite loss or gradient stops training with a
    :class:`rgd_utils.TrainingDiverged` warning naming the epoch; no step is taken on it and the
    best state (or the initial one) is restored. Means or samples that reach the ball's boundary
    are projected inside as ``ball.projx`` does and counted. ``failures_`` =
    {"nan_epochs", "boundary_projections"} counts both; ``diverged_at_`` is the epoch or None.

    Parameters
    ----------
    latent_dim : int, default 2
        Dimension of the Poincaré ball.
    curvature : float, default 1.2
        c, the ball's curvature is -c (radius 1 / sqrt(c)).
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
    prior_std : float, default 1.0
        Scale of the wrapped normal prior at the origin.
    min_scale : float, default 1e-3
        Added to the posterior scale (keeps it away from 0).
    kl_warmup : int, default 0
        Epochs of KL warm-up (0: off).

    Attributes
    ----------
    manifold_ : geoopt.PoincareBall
    net_, encoder_, decoder_ : torch.nn.Module
        The networks (float32).
    latents_, val_latents_ : ndarray of shape (n, latent_dim)
        Posterior means of the training and validation samples.
    history_ : dict of lists
        Per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``train_kl``, ``boundary_projections``.
    failures_ : dict
        ``nan_epochs`` and ``boundary_projections`` counted over the fit.
    best_epoch_ : int
        Epoch of the restored state (-1: the initial networks).
    diverged_at_ : int or None
    n_features_in_ : int
    """

    _estimator_name = "P-VAE"
    _count_name = "boundary_projections"  # the sampler's failure count in failures_ and history_

    def __init__(self, latent_dim=2, curvature=1.2, hidden=(16, 32, 64, 128, 256), epochs=1000,
                 batch_size=128, lr=1e-3, seed=0, device=None, patience=50, verbose=True,
                 likelihood_std=1.0, prior_std=1.0, min_scale=1e-3, kl_warmup=0):
        self.latent_dim = latent_dim
        self.curvature = curvature
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.device = device
        self.patience = patience
        self.verbose = verbose
        self.likelihood_std = likelihood_std
        self.prior_std = prior_std
        self.min_scale = min_scale
        self.kl_warmup = kl_warmup

    # ---- public API -------------------------------------------------------------------------
    def fit(self, X, y=None, *, X_val=None):
        """Fit on ``X`` (N x D); ``X_val`` drives early stopping on its ELBO; ``y`` is ignored."""
        self._check_params()
        # make_manifold validates latent_dim and curvature; the curvature is kept in float64
        self.manifold_ = R.make_manifold("poincare", self.latent_dim, self.curvature)
        self.dtype_ = R.default_dtype(self.manifold_)
        self.device_ = R.pick_device(self.device)
        self._ball = _BallFrame(self.manifold_)
        origin = torch.zeros(int(self.latent_dim), dtype=self.dtype_, device=self.device_)
        self._prior = WrappedNormal(origin, self.prior_std, self.manifold_, validate=False)
        X = self._as_data(X, "X")
        self.n_features_in_ = X.shape[1]
        X_val = None if X_val is None else self._as_data(X_val, "X_val", self.n_features_in_)
        self._generator = make_generator(self.seed, self.device_)
        self.net_ = _Networks(self.n_features_in_, int(self.latent_dim), self.hidden,
                              self.likelihood_std, self._generator).to(self.device_, R.DECODER_DTYPE)
        self.encoder_, self.decoder_ = self.net_.encoder, self.net_.decoder
        self._train(X, X_val)
        self.latents_ = self._transform_tensor(X)
        self.val_latents_ = None if X_val is None else self._transform_tensor(X_val)
        return self

    def transform(self, X):
        """Posterior means on the ball (N x d, float64); use with ``pairwise_distances(Z, manifold_)``."""
        self._check_fitted()
        return self._transform_tensor(self._as_data(X, "X", self.n_features_in_))

    def inverse_transform(self, Z):
        """Decoder means (N x D) of latents ``Z`` (N x d) in the ball."""
        self._check_fitted()
        Z = self._as_latents(Z)
        with torch.no_grad():
            return self.decoder_(Z.to(R.DECODER_DTYPE)).cpu().numpy()

    def elbo(self, X, n_samples=1, seed=None):
        """Per-datum ELBO (N,), nats, averaged over ``n_samples`` posterior draws.

        Draws come from a generator seeded with ``seed`` (default: the model's ``seed``), so
        ``elbo`` and :meth:`iwae_bound` with the same seed and count use the same draws.
        """
        return self._log_weights(X, n_samples, seed).mean(0).numpy()

    def iwae_bound(self, X, k=64, seed=None):
        """Per-datum importance-weighted bound (N,), nats: log (1/k) sum_i p(x, z_i) / q(z_i | x).

        It is >= the ELBO for the same draws (Jensen) and tends to log p(x) as k grows.
        """
        log_w = self._log_weights(X, k, seed)
        return (torch.logsumexp(log_w, 0) - math.log(k)).numpy()

    # ---- model ------------------------------------------------------------------------------
    def _encode(self, x):
        """Posterior means (projected into the ball), scales, and the number of projections."""
        out = self.encoder_(x).to(self.dtype_)
        d = int(self.latent_dim)  # integral floats (2.0) are accepted
        h, raw = out[:, :d], out[:, d:]
        mu, hits = self._ball.project(self._ball.exp0(h))
        scale = nn.functional.softplus(raw) + self.min_scale
        return mu, scale, hits

    def _log_joint_terms(self, x, n_samples, generator=None):
        """log p(x | z), log q(z | x) - log p(z) for ``n_samples`` draws each: (S, B), and hits."""
        mu, scale, hits = self._encode(x)
        posterior = WrappedNormal(mu, scale, self.manifold_, validate=False)
        z, log_q, z_hits = posterior.rsample_with_log_prob(n_samples, generator)
        out = self.decoder_(z.to(R.DECODER_DTYPE))
        log_std = self.net_.log_std
        log_lik = (-0.5 * ((x - out) * torch.exp(-log_std)).square() - log_std
                   - 0.5 * _LOG_2PI).sum(-1).to(self.dtype_)
        return log_lik, log_q - self._prior_log_prob(z), hits + z_hits

    def _prior_log_prob(self, z):
        """``self._prior.log_prob(z)``; at the origin the coordinates of z are lambda_0 log_0(z),
        without the Möbius subtraction of the general case."""
        return self._prior._log_density(self._ball.log0(z))

    def _log_weights(self, X, k, seed=None):
        """log p(x, z) - log q(z | x) for k draws per datum: (k, N) float64 CPU tensor."""
        self._check_fitted()
        return self._evaluate(self._as_data(X, "X", self.n_features_in_), k, seed)[0]

    def _evaluate(self, X, k, seed=None, chunk=None):
        """Log weights (k, N) for checked data ``X`` and the number of boundary projections."""
        if int(k) != k or k < 1:
            raise ValueError(f"the number of samples must be a positive integer, got {k!r}")
        k = int(k)
        generator = torch.Generator(device=self.device_).manual_seed(
            self.seed if seed is None else int(seed))
        chunk = chunk or max(1, 65536 // k)
        parts, hits = [], 0
        with torch.no_grad():
            for xb in X.split(chunk):
                log_lik, log_ratio, h = self._log_joint_terms(xb, k, generator)
                parts.append((log_lik - log_ratio).cpu())
                hits += int(h)
        return torch.cat(parts, 1), hits

    # ---- training ---------------------------------------------------------------------------
    def _train(self, X, X_val):
        # fused: one kernel for all parameters, and it can skip a step without a device sync
        self._params = list(self.net_.parameters())
        self._opt = torch.optim.Adam(self._params, lr=self.lr, fused=True)
        self._data = (X, X_val)
        self.failures_ = {"nan_epochs": 0, self._count_name: 0}
        try:
            self._run_epochs(int(self.epochs), has_validation=X_val is not None,
                             stop_from=self.kl_warmup, patience=self.patience, keep_initial=True,
                             description=self._describe())
        finally:
            del self._opt, self._data, self._params
            self.failures_["nan_epochs"] += getattr(self, "diverged_at_", None) is not None

    def _run_epoch(self, epoch):
        X, X_val = self._data
        beta = min(1.0, (epoch + 1) / (self.kl_warmup + 1))
        train_loss, kl, hits = self._train_epoch(X, self._opt, beta)
        val_loss = None
        if X_val is not None and math.isfinite(train_loss):
            log_w, val_hits = self._evaluate(X_val, 1)
            val_loss, hits = -float(log_w.mean()), hits + val_hits
        self.failures_[self._count_name] += hits
        return train_loss, val_loss, {"train_kl": kl, self._count_name: hits}

    def _train_epoch(self, X, opt, beta=1.0):
        """One pass over shuffled minibatches: (mean -ELBO, mean KL term, boundary projections).

        Steps follow -(log p(x|z) - beta (log q - log p)); the returned loss is the -ELBO (beta 1).

        A non-finite loss or gradient ends the epoch's training: no step is taken on it or after
        it (the remaining batches run without effect, so that nothing waits for the device per
        batch) and the loss is nan; projections are counted up to that batch.
        """
        perm = torch.randperm(len(X), device=self.device_, generator=self._generator)
        # 1 once a batch failed; the fused Adam reads it as GradScaler's found_inf and skips
        failed = opt.found_inf = torch.zeros((), device=self.device_)
        totals = torch.zeros(3, dtype=self.dtype_, device=self.device_)  # -ELBO, KL, projections
        for idx in perm.split(int(self.batch_size)):
            log_lik, log_ratio, h = self._log_joint_terms(X[idx], 1, self._generator)
            loss = self._batch_loss(log_lik, log_ratio, beta)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            with torch.no_grad():
                batch = [(log_ratio - log_lik).sum(), log_ratio.sum(), h * (1 - failed)]
                totals += torch.stack(batch)
            self._flag_non_finite(loss, failed)
            opt.step()
        elbo, kl, hits = totals.tolist()
        if failed:
            return math.nan, math.nan, int(hits)
        return elbo / len(X), kl / len(X), int(hits)

    def _flag_non_finite(self, loss, failed):
        """Set ``failed`` to 1 if the loss or a gradient has a NaN or inf, on the device: the
        check GradScaler uses (its unscaling by 1 leaves the gradients as they are)."""
        tensors = [loss.detach().to(R.DECODER_DTYPE)]  # the check takes one dtype per call
        tensors += [p.grad for p in self._params if p.grad is not None]
        torch._amp_foreach_non_finite_check_and_unscale_(tensors, failed, failed.new_ones(()))

    @staticmethod
    def _batch_loss(log_lik, log_ratio, beta=1.0):
        """Negative ELBO averaged over the batch (one draw per datum); beta < 1 during warm-up."""
        return (beta * log_ratio - log_lik).mean()

    def _divergence_hint(self):
        return (f"lower lr ({self.lr}), raise min_scale ({self.min_scale}) or standardise the "
                "data.")

    def _get_state(self):
        return copy.deepcopy(self.net_.state_dict())

    def _set_state(self, state):
        self.net_.load_state_dict(state)

    def _transform_tensor(self, X, chunk=8192):
        with torch.no_grad():
            Z = torch.cat([self._encode(xb)[0] for xb in X.split(chunk)]).cpu().numpy()
        bad = ~np.isfinite(Z).all(1)
        if bad.any():
            warnings.warn(f"{bad.sum()} posterior means are not finite (the encoder overflowed); "
                          "check the scale of the data", RuntimeWarning, stacklevel=3)
        return Z

    # ---- checks -----------------------------------------------------------------------------
    def _as_data(self, X, name, n_features=None):
        X = check_data(X, name, n_features, type(self).__name__)
        return torch.as_tensor(X, dtype=R.DECODER_DTYPE, device=self.device_)

    def _as_latents(self, Z):
        Z = Z.detach() if torch.is_tensor(Z) else torch.as_tensor(np.asarray(Z, dtype=np.float64))
        if Z.ndim != 2 or Z.shape[1] != self.latent_dim:
            raise ValueError(f"Z must be N x {self.latent_dim} points of the ball, got shape "
                             f"{tuple(Z.shape)}")
        Z = Z.to(self.device_, self.dtype_)
        if not torch.isfinite(Z).all():
            raise ValueError("Z has NaN or inf entries")
        if (self.manifold_.c * Z.square().sum(1) >= 1).any():
            raise ValueError(f"Z must lie inside the Poincaré ball of radius "
                             f"{float(self.manifold_.c) ** -0.5:.4g}")
        return Z

    def _check_params(self):
        """Every parameter up front, so bad values fail here rather than as a divergence."""
        check_integer(self.latent_dim, "latent dimension")
        for name in ("epochs", "batch_size"):
            check_integer(getattr(self, name), name)
        for name in ("patience", "kl_warmup", "seed"):
            check_integer(getattr(self, name), name, minimum=0)
        for name in ("lr", "prior_std"):
            check_real(getattr(self, name), name, positive=True)
        check_real(self.min_scale, "min_scale")
        if not (self.likelihood_std == "learned" or (
                isinstance(self.likelihood_std, (int, float)) and self.likelihood_std > 0)):
            raise ValueError(f"likelihood_std must be a positive number or 'learned', "
                             f"got {self.likelihood_std!r}")
        if self.curvature is None or not self.curvature > 0:
            raise ValueError(f"curvature parameter c must be positive (the ball has curvature -c), "
                             f"got {self.curvature!r}")

    def _describe(self):
        return f"P-VAE d={self.latent_dim} c={self.curvature:g}"
