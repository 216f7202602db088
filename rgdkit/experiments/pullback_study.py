"""Pullback geometry of a fitted decoder against the manifold's own: correlations and chosen
geodesics, with and without the decoder's uncertainty term (:mod:`rgdkit.geometry.uncertainty`)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from rgdkit.experiments.loop import subsample
from rgdkit.geometry import pullback
from rgdkit.geometry.uncertainty import share_far_from_data, with_uncertainty
from rgdkit.metrics.distances import (correlate, distance_correlation, pairwise_distances,
                                      upper_triangle)
from rgdkit.validation import check_integer, check_real

# the three kinds of curves between two latents, in the order tables list them
CURVE_KINDS = ("manifold geodesic", "pullback geodesic", "pullback geodesic with uncertainty")


def pullback_scores(model, Z, idx, reference, max_points=200, seed=0, **geodesic_kw):
    """Do pullback geodesic distances follow ``reference`` better than manifold distances?

    On a subsample of at most ``max_points`` of the latents ``Z`` (rows ``idx`` of the full data),
    all pairs get their pullback geodesic length under the fitted ``model``'s decoder
    (:func:`pullback.geodesic_distances`, ``geodesic_kw``: n_points of the curve, steps, lr,
    batch_size) and their manifold distance. Returns ``(scores, keep, lengths)``: Pearson and
    Spearman of both with the reference, the subsample's positions in ``Z`` and the pullback
    lengths (in :func:`rgdkit.metrics.distances.upper_triangle` order).
    """
    keep = subsample(len(idx), max_points, seed)
    Z_kept = np.asarray(Z)[keep]
    D_ref = reference(np.asarray(idx)[keep])
    lengths = pullback.geodesic_distances(model, Z_kept, model.manifold_, **geodesic_kw)
    scores = {"n_points": len(keep)}
    scores["manifold_pearson"], scores["manifold_spearman"] = distance_correlation(
        Z_kept, model.manifold_, D_ref)
    scores["pullback_pearson"], scores["pullback_spearman"] = correlate(lengths, upper_triangle(D_ref))
    return scores, keep, lengths


def pullback_table(scores, distance="manifold distance", reference="reference"):
    """:func:`pullback_scores` as a table: Pearson and Spearman rows, one column for the manifold
    distance (named ``distance``, e.g. "H² distance") and one for the pullback geodesic distance."""
    return pd.DataFrame({
        distance: [scores["manifold_pearson"], scores["manifold_spearman"]],
        "pullback geodesic distance": [scores["pullback_pearson"], scores["pullback_spearman"]],
    }, index=[f"Pearson with {reference} ({scores['n_points']} points)", f"Spearman with {reference}"])


def geodesic_pair_table(model, Z, pairs, n_points=32, steps=300, decode=None):
    """Pullback geodesics between chosen pairs of latents ``Z`` beside the manifold's own geodesics.

    ``decode`` (default: ``model`` itself) is the map whose pullback metric is used, e.g.
    ``with_uncertainty(model, head)``; the manifold is ``model.manifold_``.
    Returns ``(table, geodesics, manifold_geodesics)``: per pair (i, j) in ``pairs`` the manifold
    distance, the pullback length of the manifold geodesic, the length of the optimised pullback
    geodesic and the curve energy before and after optimising (never higher after: the
    optimiser keeps each curve's best state); the curves (n_points x ambient) to draw.
    """
    manifold, decode = model.manifold_, model if decode is None else decode
    rows, geodesics, straight = [], [], []
    for i, j in pairs:
        curve, energy = pullback.geodesic(decode, Z[i], Z[j], manifold, n_points=n_points, steps=steps)
        line, _ = pullback.geodesic(decode, Z[i], Z[j], manifold, n_points=n_points, steps=0)
        geodesics.append(curve)
        straight.append(line)
        rows.append({"manifold distance": float(manifold.dist(torch.as_tensor(Z[i]), torch.as_tensor(Z[j]))),
                     "pullback length of the manifold geodesic": pullback.curve_length(decode, line),
                     "pullback geodesic length": pullback.curve_length(decode, curve),
                     "energy before": energy[0], "energy after": energy[-1]})
    return pd.DataFrame(rows), geodesics, straight


def near_radius(Z, manifold, quantile=0.99, chunk_size=512):
    """What "near the data" means: the ``quantile`` of the latents' distances to their nearest
    other latent. A point farther than this from every latent of ``Z`` sits in a wider gap than
    the one around each of a ``quantile`` share of the latents (99 % by default).

    Parameters
    ----------
    Z : array or Tensor (N >= 2, ambient), on ``manifold`` (a geoopt manifold with ``dist``)
    quantile : float in (0, 1], default 0.99
    chunk_size : int, rows of distances computed at once (memory: chunk_size x N)

    Returns
    -------
    float, a geodesic distance.
    """
    Z = torch.as_tensor(np.asarray(Z))
    if Z.ndim != 2 or len(Z) < 2:
        raise ValueError(f"near_radius needs at least 2 latents as (N, ambient), got shape {tuple(Z.shape)}")
    quantile = check_real(quantile, "quantile", positive=True)
    if quantile > 1:
        raise ValueError(f"quantile must lie in (0, 1], got {quantile}")
    nearest = []
    with torch.no_grad():
        for start in range(0, len(Z), chunk_size):
            block = manifold.dist(Z[start:start + chunk_size, None], Z[None])
            rows = torch.arange(start, start + len(block))
            block[torch.arange(len(block)), rows] = torch.inf  # not its own neighbour
            nearest.append(block.amin(1))
    return float(torch.quantile(torch.cat(nearest).double(), quantile))


def random_pairs(n, count, seed=0):
    """``count`` distinct index pairs (i < j) out of ``n`` points, drawn without replacement
    (all pairs when there are fewer); an int array (count, 2) in ``upper_triangle`` order."""
    n, count = check_integer(n, "n"), check_integer(count, "count")
    if n < 2:
        raise ValueError(f"pairs need at least 2 points, got {n}")
    pairs = np.stack(np.triu_indices(n, k=1), 1)
    return pairs[subsample(len(pairs), count, seed)]


def uncertainty_study(model, head, Z, keep, reference, pullback_lengths, radius, share_pairs,
                      batch_size=512, **geodesic_kw):
    """Manifold, pullback and pullback-with-uncertainty distances on the same pairs against a
    reference, and how much of each kind of curve runs far from the data.

    Parameters
    ----------
    model : fitted RiemannianDecoder; ``head`` its variance head (``fit_variance_head``)
    Z : array (N, ambient), the training latents: "near" is judged against all of them
    keep : int array (n,), positions in ``Z`` of the subsample whose pairs are correlated
        (``pullback_scores``' ``keep``)
    reference : array (n, n), the reference distances of ``Z[keep]``
    pullback_lengths : array (n (n - 1) / 2,), the pullback geodesic lengths of those pairs in
        ``upper_triangle`` order (``pullback_scores``' ``lengths``: they are not recomputed)
    radius : float, a curve is near the data within this geodesic distance of a latent
        (:func:`near_radius`)
    share_pairs : int array (P, 2), positions in ``keep`` of the pairs whose three curves are
        found one by one to measure their share far from the data (:func:`random_pairs`)
    batch_size : int, pairs optimised together for the lengths with uncertainty
    geodesic_kw : n_points, steps, lr of the pullback geodesics (as for ``pullback_lengths``)

    Returns
    -------
    DataFrame indexed by ``curve`` (:data:`CURVE_KINDS`) with ``pearson``, ``spearman``,
    ``n_points``, ``mean_share_far_from_data`` (over the ``share_pairs``), ``n_share_pairs``.

    Raises
    ------
    ValueError
        When ``pullback_lengths`` does not hold one length per pair of ``keep``.
    """
    manifold, Z = model.manifold_, np.asarray(Z)
    Z_kept = Z[np.asarray(keep)]
    n_pairs = len(keep) * (len(keep) - 1) // 2
    if len(pullback_lengths) != n_pairs:
        raise ValueError(f"pullback_lengths has {len(pullback_lengths)} entries for the {n_pairs} "
                         f"pairs of {len(keep)} points: pass pullback_scores' lengths with its keep")
    uncertain = with_uncertainty(model, head)
    lengths = {"manifold geodesic": upper_triangle(pairwise_distances(Z_kept, manifold)),
               "pullback geodesic": np.asarray(pullback_lengths),
               "pullback geodesic with uncertainty": pullback.geodesic_distances(
                   uncertain, Z_kept, manifold, batch_size=batch_size, **geodesic_kw)}
    curves = _curves_by_kind(model, uncertain, Z_kept, share_pairs, **geodesic_kw)
    reference = upper_triangle(reference)
    rows = []
    for kind in CURVE_KINDS:
        pearson, spearman = correlate(lengths[kind], reference)
        shares = [share_far_from_data(c, Z, manifold, radius) for c in curves[kind]]
        rows.append({"curve": kind, "pearson": pearson, "spearman": spearman,
                     "n_points": len(keep), "mean_share_far_from_data": float(np.mean(shares)),
                     "n_share_pairs": len(shares)})
    return pd.DataFrame(rows).set_index("curve")


def _curves_by_kind(model, uncertain, Z, pairs, n_points=16, **geodesic_kw):
    """The three curves of :data:`CURVE_KINDS` between each pair (i, j) of ``pairs``, the
    pullback ones optimised for all pairs at once."""
    manifold, Z = model.manifold_, torch.as_tensor(Z)
    pairs = np.asarray(pairs).reshape(-1, 2)
    starts, ends = Z[pairs[:, 0]], Z[pairs[:, 1]]
    curves = {"manifold geodesic": list(pullback.geodesics(model, starts, ends, manifold,
                                                           n_points=n_points, steps=0)[0])}
    for kind, decode in (("pullback geodesic", model),
                         ("pullback geodesic with uncertainty", uncertain)):
        curves[kind] = list(pullback.geodesics(decode, starts, ends, manifold, n_points=n_points,
                                               **geodesic_kw)[0])
    return curves
