"""New data from a fitted latent-variable model: latents from a density, decoded, with the
likelihood's observation noise.

RGD has no prior: its latents are drawn from a density fitted to the training latents on the
manifold (:class:`rgdkit.generation.density.ManifoldMixture`). A VAE (the P-VAE baseline) has
a prior, which is sampled instead (:func:`pvae_prior_sampler`, passed as ``prior_sampler``).

Observation noise is the model's likelihood:

- MSE (Gaussian likelihood; RGD with ``loss="mse"``): x = f(z) + ε, ε_j ~ N(0, σ_j²). RGD fits
  the decoder by MSE without a scale, so σ_j is the one its fit implies: the root mean square of
  the training reconstruction residuals of feature j, sqrt(mean_i (x_ij - f_j(z_i))²), which is
  the maximum-likelihood σ_j of N(x_j; f_j(z), σ_j²) with the decoder and latents fixed (equal to
  the residuals' standard deviation when they average to zero) — :func:`likelihood_std`.
  The P-VAE's σ_j is its own likelihood scale (``likelihood_std``, fixed or learned).
- BCE (Bernoulli likelihood; ``loss="bce"``): x_j ~ Bernoulli(f_j(z)), f the decoded
  probabilities.
"""
from __future__ import annotations

import numpy as np
import torch

import rgd_utils as R
from rgdkit.validation import check_integer
from rgdkit.validation import check_data


def likelihood_std(model, X, Z=None):
    """Per-feature σ_j of a Gaussian likelihood implied by an MSE fit: the root mean square of the
    reconstruction residuals X - model.inverse_transform(Z) (Z defaults to the training latents
    ``model.latents_``, so X must be the training data in the same order). Returns (D,)."""
    Z = model.latents_ if Z is None else Z
    X = check_data(X, "X", getattr(model, "n_features_in_", None), type(model).__name__)
    if len(X) != len(Z):
        raise ValueError(f"X has {len(X)} rows but there are {len(Z)} latents; pass the training "
                         "data in the order the model was fitted on (or the latents Z of X)")
    residuals = X - model.inverse_transform(Z)
    return np.sqrt((residuals ** 2).mean(0))


def pvae_prior_sampler(model):
    """``sampler(n, seed)`` drawing n latents from a fitted P-VAE's wrapped normal prior (at the
    origin of its ball, scale ``prior_std``), with a generator of its own."""
    from rgdkit.baselines.pvae import WrappedNormal  # the baseline is optional for RGD users

    origin = torch.zeros(int(model.latent_dim), dtype=torch.float64)
    prior = WrappedNormal(origin, float(model.prior_std), model.manifold_)

    def sampler(n, seed):
        return prior.rsample(int(n), torch.Generator().manual_seed(int(seed))).numpy()
    return sampler


def _gaussian_std(model, X_train, noise_std):
    """σ (scalar or per feature) for MSE models: ``noise_std`` if given, the P-VAE's likelihood
    scale, else the RMS residual of the training data."""
    if noise_std is not None:
        std = np.broadcast_to(np.asarray(noise_std, dtype=np.float64), (model.n_features_in_,))
        if not (np.isfinite(std).all() and (std >= 0).all()):
            raise ValueError("noise_std must be finite and >= 0")
        return std
    net = getattr(model, "net_", None)
    if net is not None and hasattr(net, "log_std"):  # P-VAE: the likelihood's own scale
        return net.log_std.detach().exp().double().cpu().numpy()
    if X_train is None:
        raise ValueError(f"observation noise for the MSE {type(model).__name__} needs its scale: "
                         "pass X_train= (the training data, in the order the model was fitted on; "
                         "σ_j is the RMS of its reconstruction residuals) or noise_std=, or use "
                         "observation_noise=False")
    return likelihood_std(model, X_train)


def generate(model, density=None, n=1000, seed=0, observation_noise=True, *, X_train=None,
             noise_std=None, prior_sampler=None, return_latents=False):
    """``n`` generated samples (n, D) from a fitted model with ``manifold_`` and
    ``inverse_transform``.

    Latents come from ``density.sample(n, seed=...)`` (e.g. a fitted
    :class:`~rgdkit.generation.density.ManifoldMixture`) or ``prior_sampler(n, seed)`` (e.g.
    :func:`pvae_prior_sampler` for the P-VAE); exactly one must be given. They are decoded with
    ``model.inverse_transform``. With ``observation_noise`` the likelihood's noise is added:
    Gaussian of per-feature scale σ_j for MSE models (``noise_std`` if given; the P-VAE's
    likelihood scale; else :func:`likelihood_std` of ``X_train``), Bernoulli draws for
    ``loss="bce"``. Latent draws use ``seed``; the noise a numpy generator seeded with
    (seed, 1); the global random state is not touched. ``return_latents`` also returns the
    latents.
    """
    if (density is None) == (prior_sampler is None):
        raise ValueError("pass exactly one source of latents: density= (a fitted density with "
                         "sample(n, seed=...), e.g. ManifoldMixture) or prior_sampler= "
                         "(a callable (n, seed) -> latents, e.g. pvae_prior_sampler(model))")
    for attribute in ("manifold_", "inverse_transform"):
        if not hasattr(model, attribute):
            raise ValueError(f"model must be a fitted latent-variable model with {attribute} "
                             f"(call fit first); got {type(model).__name__}")
    n = check_integer(n, "n")
    seed = check_integer(seed, "seed", minimum=0)
    Z = density.sample(n, seed=seed) if density is not None else prior_sampler(n, seed)
    Z = np.asarray(Z.detach().cpu() if torch.is_tensor(Z) else Z)
    mean = np.asarray(model.inverse_transform(Z), dtype=np.float64)
    X = mean
    if observation_noise:
        rng = np.random.default_rng([seed, 1])
        if getattr(model, "loss", "mse") == "bce":
            X = (rng.random(mean.shape) < mean).astype(np.float64)
        else:
            X = mean + rng.standard_normal(mean.shape) * _gaussian_std(model, X_train, noise_std)
    return (X, Z) if return_latents else X
