"""The pullback metric with its uncertainty term (Arvanitidis, Hansen, Hauberg, "Latent space
oddity: on the curvature of deep generative models", ICLR 2018).

A decoder with observation noise x ~ N(f(z), diag σ(z)²) pulls back the metric

    G(z) = J_f(z)ᵀ J_f(z) + J_σ(z)ᵀ J_σ(z),

the expected metric of the stochastic map. Where σ grows away from the data, so does G, and
pullback geodesics avoid regions without training latents. σ here is a variance head on radial
basis functions of the latents, trained after the mean decoder (which stays frozen):

    β(z) = softplus(W) φ(z) + ζ,   φ_k(z) = exp(−λ_k d(z, c_k)²),   σ(z) = β(z)^(−1/2),

with centres c_k from k-means on the training latents (in ambient coordinates, then projected
onto the manifold), bandwidths λ_k = 1 / (2 (a h_k)²) from each cluster's mean distance h_k to
its centre, d the manifold's geodesic distance, and ζ = 1 / max_std² the precision far from
every centre. ``with_uncertainty(model, head)`` is a decode function whose pullback metric is
G above, for every function of :mod:`rgdkit.geometry.pullback`.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.cluster import KMeans
from torch import nn

from rgdkit.manifolds import check_on_manifold
from rgdkit.validation import check_integer, check_real


class VarianceHead(nn.Module):
    """σ(z) (..., D) from radial basis functions of latents on ``manifold`` (see the module).

    Parameters
    ----------
    manifold : geoopt manifold with ``dist``
    centres : Tensor (K, ambient), on the manifold
    bandwidths : Tensor (K,), the λ_k
    n_features : int, D
    max_std : float, σ far from every centre
    """

    def __init__(self, manifold, centres, bandwidths, n_features, max_std):
        super().__init__()
        self.manifold = manifold
        self.register_buffer("centres", centres)
        self.register_buffer("bandwidths", bandwidths)
        self.floor = 1.0 / max_std ** 2
        # softplus(-4) ~ 0.018: a small precision per centre to start from
        self.raw_weights = nn.Parameter(torch.full((len(centres), n_features), -4.0,
                                                   dtype=centres.dtype))

    def features(self, z):
        """φ(z) (..., K)."""
        sq = self.manifold.dist(z.unsqueeze(-2), self.centres).square()
        return torch.exp(-self.bandwidths * sq)

    def forward(self, z):
        precision = self.features(z) @ nn.functional.softplus(self.raw_weights) + self.floor
        return precision.rsqrt()


def fit_variance_head(model, X, Z=None, n_centres=32, spread=1.0, max_std=None, epochs=500,
                      lr=0.05, seed=0):
    """A :class:`VarianceHead` for a fitted :class:`rgd_utils.RiemannianDecoder`, trained after
    its mean (the decoder stays frozen) by maximum likelihood of the residuals X − f(Z) under
    N(0, diag σ(Z)²).

    Parameters
    ----------
    model : fitted RiemannianDecoder (``loss="mse"``)
    X : array (N, D), the data ``Z`` encodes
    Z : array (N, *latent shape), optional; default the training latents ``model.latents_``
    n_centres : int, K of k-means (at most N)
    spread : float, a in the bandwidths: larger centres reach further
    max_std : float or None; σ far from the data; None: 10 times the data's largest feature std
    epochs, lr : Adam on the weights
    seed : k-means' seed

    Returns
    -------
    VarianceHead, in the latents' dtype, on the model's device.

    Raises
    ------
    ValueError
        A binary-loss model (no Gaussian noise to model), latents off the manifold, or mismatched
        lengths of X and Z.
    """
    if model.loss != "mse":
        raise ValueError("a variance head models Gaussian observation noise; this model was "
                         f"fitted with loss={model.loss!r}")
    n_centres, epochs = check_integer(n_centres, "n_centres"), check_integer(epochs, "epochs")
    spread, lr = check_real(spread, "spread", positive=True), check_real(lr, "lr", positive=True)
    Z = check_on_manifold(model.latents_ if Z is None else Z, model.manifold_, "Z").to(
        model.device_)
    X = torch.as_tensor(np.asarray(X, dtype=np.float64), device=model.device_).to(Z.dtype)
    if len(X) != len(Z):
        raise ValueError(f"X has {len(X)} rows, Z {len(Z)}: pass the data the latents encode")
    with torch.no_grad():
        residual = X - model.decode(Z).to(Z.dtype)
    centres, bandwidths = _rbf_centres(model.manifold_, Z, min(n_centres, len(Z)), spread, seed)
    if max_std is None:
        max_std = 10 * float(X.std(0).max())
    head = VarianceHead(model.manifold_, centres, bandwidths, X.shape[1],
                        check_real(max_std, "max_std", positive=True)).to(model.device_)
    optimiser = torch.optim.Adam(head.parameters(), lr=lr)
    for _ in range(epochs):
        optimiser.zero_grad()
        variance = head(Z).square()
        nll = 0.5 * (variance.log() + residual.square() / variance).mean()
        nll.backward()
        optimiser.step()
    return head.requires_grad_(False)


def _rbf_centres(manifold, Z, k, spread, seed):
    """k-means centres (projected onto the manifold) and bandwidths 1 / (2 (spread h_k)²)."""
    flat = Z.detach().cpu().double().numpy()
    labels = KMeans(k, n_init=4, random_state=seed).fit(flat).labels_
    centres = torch.stack([Z[torch.as_tensor(labels == j)].mean(0) for j in range(k)])
    centres = manifold.projx(centres)
    distances = manifold.dist(Z, centres[torch.as_tensor(labels)])
    counts = torch.bincount(torch.as_tensor(labels), minlength=k).to(Z)
    mean_distance = torch.zeros(k, dtype=Z.dtype).index_add_(0, torch.as_tensor(labels), distances)
    # a lone point (or exact duplicates) gets the median spread of the others
    h = mean_distance / counts
    h = torch.where(h > 0, h, h[h > 0].median() if (h > 0).any() else torch.ones_like(h))
    return centres, 1.0 / (2 * (spread * h) ** 2)


def with_uncertainty(model, head):
    """A decode function of one latent (ambient,) -> (2 D,): the fitted ``model``'s output and
    ``head``'s σ side by side; the pullback functions of :mod:`rgdkit.geometry.pullback` then
    use G = J_fᵀ J_f + J_σᵀ J_σ."""
    def decode(z):
        return torch.cat([model.decode(z.to(model.device_)).to(z), head(z).to(z)], dim=-1)
    return decode


def share_far_from_data(curve, Z, manifold, radius):
    """Share of a discrete curve's length (on ``manifold``) spent farther than ``radius`` from
    every latent of ``Z``: segments weighted by their geodesic length, judged at their midpoints.

    Parameters
    ----------
    curve : Tensor (n >= 2, ambient) on the manifold
    Z : Tensor (N, ambient), e.g. the training latents
    radius : float, geodesic distance

    Returns
    -------
    float in [0, 1] (0 for a curve of zero length).
    """
    curve, Z = torch.as_tensor(curve), torch.as_tensor(Z).to(curve)
    if curve.ndim != 2 or len(curve) < 2:
        raise ValueError(f"a curve is (points >= 2, ambient), got shape {tuple(curve.shape)}")
    start, end = curve[:-1], curve[1:]
    lengths = manifold.dist(start, end)
    middles = manifold.expmap(start, 0.5 * manifold.logmap(start, end))
    nearest = manifold.dist(middles.unsqueeze(1), Z.unsqueeze(0)).amin(1)
    total = float(lengths.sum())
    return float(lengths[nearest > radius].sum()) / total if total > 0 else 0.0
