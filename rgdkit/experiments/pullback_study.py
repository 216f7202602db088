"""Pullback geometry of a fitted decoder against the manifold's own: correlations and chosen geodesics."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from rgdkit.experiments.loop import subsample
from rgdkit.geometry import pullback
from rgdkit.metrics.distances import correlate, distance_correlation, upper_triangle


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


def geodesic_pair_table(model, Z, pairs, n_points=32, steps=300):
    """Pullback geodesics between chosen pairs of latents ``Z`` beside the manifold's own geodesics.

    Returns ``(table, geodesics, manifold_geodesics)``: per pair (i, j) in ``pairs`` the manifold
    distance, the pullback length of the manifold geodesic, the length of the optimised pullback
    geodesic and the curve energy before and after optimising (never higher after: the
    optimiser keeps each curve's best state); the curves (n_points x ambient) to draw.
    """
    manifold = model.manifold_
    rows, geodesics, straight = [], [], []
    for i, j in pairs:
        curve, energy = pullback.geodesic(model, Z[i], Z[j], manifold, n_points=n_points, steps=steps)
        line, _ = pullback.geodesic(model, Z[i], Z[j], manifold, n_points=n_points, steps=0)
        geodesics.append(curve)
        straight.append(line)
        rows.append({"manifold distance": float(manifold.dist(torch.as_tensor(Z[i]), torch.as_tensor(Z[j]))),
                     "pullback length of the manifold geodesic": pullback.curve_length(model, line),
                     "pullback geodesic length": pullback.curve_length(model, curve),
                     "energy before": energy[0], "energy after": energy[-1]})
    return pd.DataFrame(rows), geodesics, straight
