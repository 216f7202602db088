"""What the S-VAE and the ΔVAE share: a VAE whose latents live on a compact manifold embedded in
R^n (a sphere, or a torus as a product of unit circles) under a uniform prior.

:class:`CompactVAE` reuses the Poincaré VAE's training (:class:`rgdkit.baselines.pvae.PoincareVAE`:
minibatch Adam, KL warm-up, early stopping on the validation ELBO, divergence handling, ``elbo`` and
``iwae_bound``); a subclass says what its posterior is (``_encode``, ``_log_joint_terms``), on which
manifold, and what its sampler counts as a numerical failure (``_count_name``). Everything on the
latent side runs in float64 (Bessel functions and heat kernels need it; the tensors are small), the
networks in float32 (``rgd_utils.DECODER_DTYPE``).
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import nn

import rgd_utils as R
from rgdkit.validation import check_integer, check_real
from rgdkit.baselines.pvae import PoincareVAE
from rgdkit.training.base import make_generator

LATENT_DTYPE = torch.float64
_LOG_2PI = math.log(2 * math.pi)


class LatentNetworks(nn.Module):
    """Encoder (``n_features -> encoder_outputs``, the decoder's widths reversed), decoder
    (``decoder_inputs -> n_features``, widths ``hidden``) and the Gaussian likelihood's log
    standard deviation (a parameter when ``likelihood_std == "learned"``, else a fixed buffer)."""

    def __init__(self, n_features, encoder_outputs, decoder_inputs, hidden, likelihood_std,
                 generator=None):
        super().__init__()
        self.encoder = R.make_decoder(n_features, encoder_outputs, tuple(reversed(hidden)),
                                      generator=generator)
        self.decoder = R.make_decoder(decoder_inputs, n_features, tuple(hidden), generator=generator)
        if likelihood_std == "learned":
            self.log_std = nn.Parameter(torch.zeros(n_features))
        else:
            self.register_buffer("log_std", torch.full((n_features,), math.log(likelihood_std)))


def unit_vectors(raw, n_factors=1):
    """``raw`` (..., n_factors * k) with each consecutive block of k coordinates divided by its norm:
    points of the sphere S^(k-1) (one block) or of a torus (blocks of 2). A block of zeros gives
    NaN, which training reports as a divergence rather than hiding."""
    blocks = raw.unflatten(-1, (n_factors, -1))
    return (blocks / blocks.norm(dim=-1, keepdim=True)).flatten(-2)


def log_sphere_area(p):
    """log of the area of the unit sphere S^(p-1) in R^p: log(2 pi^(p/2) / Gamma(p/2))."""
    return math.log(2) + p / 2 * math.log(math.pi) - math.lgamma(p / 2)


class CompactVAE(PoincareVAE):
    """Base of :class:`~rgdkit.baselines.svae.SphericalVAE` and
    :class:`~rgdkit.baselines.deltavae.DiffusionVAE`; not an estimator on its own.

    A subclass sets ``_count_name`` (the key of its sampler's failure count in ``failures_`` and
    ``history_``) and provides ``_make_manifold``, ``_encoder_outputs``, ``_encode`` (posterior
    mean points, posterior parameters) and ``_log_joint_terms`` (log p(x|z) and
    log q(z|x) - log p(z) for ``n`` draws per datum, and the failure count), plus its own
    parameter checks in ``_check_model_params``.
    """

    _count_name = "sampler_fallbacks"

    # ---- public API -------------------------------------------------------------------------
    def fit(self, X, y=None, *, X_val=None):
        """Fit on ``X`` (N x D); ``X_val`` drives early stopping on its ELBO; ``y`` is ignored."""
        self._check_params()
        self.manifold_ = self._make_manifold()
        self.dtype_ = LATENT_DTYPE
        self.device_ = R.pick_device(self.device)
        X = self._as_data(X, "X")
        self.n_features_in_ = X.shape[1]
        X_val = None if X_val is None else self._as_data(X_val, "X_val", self.n_features_in_)
        self._generator = make_generator(self.seed, self.device_)
        self.net_ = LatentNetworks(self.n_features_in_, self._encoder_outputs(), self._ambient_dim(),
                                   self.hidden, self.likelihood_std, self._generator
                                   ).to(self.device_, R.DECODER_DTYPE)
        self.encoder_, self.decoder_ = self.net_.encoder, self.net_.decoder
        self._train(X, X_val)
        self.latents_ = self._transform_tensor(X)
        self.val_latents_ = None if X_val is None else self._transform_tensor(X_val)
        return self

    def inverse_transform(self, Z):
        """Decoder means (N x D) of latents ``Z`` (N x n points of ``manifold_``)."""
        return super().inverse_transform(Z)

    def sample_prior(self, n, seed=0):
        """``n`` latents (n x ambient, float64) from the uniform prior: each factor (the sphere, or
        each circle of a torus) a standard normal vector divided by its norm, which is uniform on
        it. Drawn with a generator of its own seeded with ``seed``; use as
        ``rgdkit.generation.generate(model, prior_sampler=model.sample_prior)``."""
        if not hasattr(self, "manifold_"):
            raise ValueError(f"{type(self).__name__} is not fitted: call fit first")
        generator = torch.Generator().manual_seed(check_integer(seed, "seed", minimum=0))
        raw = torch.randn(check_integer(n, "n"), self._ambient_dim(), generator=generator,
                          dtype=LATENT_DTYPE)
        return unit_vectors(raw, self._n_factors()).numpy()

    # ---- what a subclass provides -------------------------------------------------------------
    def _n_factors(self):
        """Number of unit-norm blocks of a latent: 1 on a sphere, one per circle on a torus."""
        return 1

    def _make_manifold(self):
        raise NotImplementedError

    def _encoder_outputs(self):
        raise NotImplementedError

    def _check_model_params(self):
        raise NotImplementedError

    def _ambient_dim(self):
        return R.ambient_dim(self.manifold_, int(self.latent_dim))

    # ---- training: P-VAE's, with this model's failure count ------------------------------------
    def _log_likelihood(self, x, z):
        """log p(x | z) (S, B) of the Gaussian likelihood for samples z (S, B, n)."""
        out = self.decoder_(z.to(R.DECODER_DTYPE))
        log_std = self.net_.log_std
        return (-0.5 * ((x - out) * torch.exp(-log_std)).square() - log_std
                - 0.5 * _LOG_2PI).sum(-1).to(self.dtype_)

    # ---- checks -----------------------------------------------------------------------------
    def _as_latents(self, Z):
        Z = Z.detach() if torch.is_tensor(Z) else torch.as_tensor(np.asarray(Z, dtype=np.float64))
        n = self._ambient_dim()
        if Z.ndim != 2 or Z.shape[1] != n:
            raise ValueError(f"Z must be N x {n} points of {self._manifold_words()}, got shape "
                             f"{tuple(Z.shape)}")
        Z = R.check_on_manifold(Z.to(self.dtype_), self.manifold_, "Z")
        return Z.to(self.device_)

    def _manifold_words(self):
        if R.is_torus(self.manifold_):
            return f"the {self.latent_dim}-torus (each pair of coordinates a unit vector)"
        return f"the sphere S^{self.latent_dim} (unit vectors in R^{int(self.latent_dim) + 1})"

    def _check_params(self):
        """Every parameter up front, so bad values fail here rather than as a divergence."""
        check_integer(self.latent_dim, "latent dimension")
        for name in ("epochs", "batch_size"):
            check_integer(getattr(self, name), name)
        for name in ("patience", "kl_warmup", "seed"):
            check_integer(getattr(self, name), name, minimum=0)
        check_real(self.lr, "lr", positive=True)
        if not (self.likelihood_std == "learned" or (
                isinstance(self.likelihood_std, numbers.Real)
                and not isinstance(self.likelihood_std, bool)
                and 0 < self.likelihood_std < math.inf)):
            raise ValueError(f"likelihood_std must be a positive number or 'learned', "
                             f"got {self.likelihood_std!r}")
        hidden = self.hidden
        if not (isinstance(hidden, (tuple, list)) and all(
                isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1
                for h in hidden)):
            raise ValueError(f"hidden must be a tuple of positive integers (the decoder's layer "
                             f"widths, e.g. (16, 32, 64, 128, 256)), got {hidden!r}")
        self._check_model_params()
