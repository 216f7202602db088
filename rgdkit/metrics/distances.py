"""Geodesic distance matrices on a manifold, and their correlation with a reference geometry."""
from __future__ import annotations

import geoopt
import numpy as np
import torch
from scipy import stats

from rgdkit.manifolds import check_on_manifold, is_builtin, is_torus, make_manifold, point_shape


def pairwise_distances(Z, manifold, chunk_size=2048, curvature=None):
    """Geodesic distance matrix (N x N, float64 numpy) of points ``Z`` on ``manifold``.

    ``manifold`` is a geoopt manifold or a name the estimator takes (``"lorentz"``,
    ``"sphere"``, a geoopt class name; :func:`rgdkit.manifolds.make_manifold`), whose dimension
    is read from the points' shape and whose ``curvature`` (k or c, default 1) is given here.

    ``Z`` is N x n (N x n x p for matrix manifolds, complex for the Siegel spaces) and must lie on
    the manifold (:func:`rgdkit.manifolds.check_on_manifold` raises ValueError otherwise:
    off-manifold points would give silent zeros or NaN). Closed forms from inner products for
    the five built-in manifolds (vectorised, chunked by rows); other geoopt manifolds use
    ``manifold.dist`` on broadcast chunks, except the Stiefel manifolds, for which geoopt has no
    geodesic distance: there it is the chordal distance |X - Y|_F of the embedding (a lower
    bound of the geodesic one that agrees with it to second order).
    """
    manifold = resolve_manifold(manifold, Z, curvature)
    # checked in the given dtype: its tolerance is the one the points were computed with
    Z = _as_points(check_on_manifold(Z, manifold, "Z"))
    if not is_builtin(manifold):
        chunk_size = max(1, min(chunk_size, 2 ** 20 // len(Z)))  # broadcast temporaries
    rows = [_distance_block(Z[i:i + chunk_size], Z, manifold)
            for i in range(0, len(Z), chunk_size)]
    D = torch.cat(rows).double()
    # a point's distance to itself is 0; rounding in the inner products (arccos, arccosh near 1
    # turn ~1e-16 into ~1e-8) and geoopt's clamping (~1e-4) would leave it slightly positive
    D.fill_diagonal_(0.0)
    return D.numpy()


def resolve_manifold(manifold, Z, curvature=None):
    """``manifold`` itself when it is a geoopt manifold; for a name, the manifold of that name
    whose points have the shape of ``Z``'s rows (``"lorentz"`` with Z of shape (N, 3) is H²)."""
    if isinstance(manifold, geoopt.manifolds.base.Manifold):
        if curvature is not None:
            raise ValueError("curvature is read from a geoopt manifold; pass it only with a "
                             "manifold name")
        return manifold
    if not isinstance(manifold, str):
        raise TypeError(f"manifold must be a geoopt manifold or a name such as 'lorentz', got "
                        f"{type(manifold).__name__}")
    # manifold names: rgdkit.manifolds.make_manifold
    shape = tuple(np.shape(Z.detach().cpu() if torch.is_tensor(Z) else np.asarray(Z))[1:])
    tried = set()
    for dim in range(1, max(shape, default=1) + 1):
        candidate = make_manifold(manifold, dim, curvature)
        found = tuple(point_shape(candidate, dim))
        if found == shape:
            return candidate
        tried.add(found)
    raise ValueError(f"Z's points have shape {shape}, which is no dimension of {manifold!r} "
                     f"(its points have shapes such as {sorted(tried)[:3]}); pass points of "
                     "that manifold, or the geoopt manifold itself")


def _as_points(Z):
    """A float64 (complex128) tensor of points; real inputs are promoted, complex kept."""
    Z = Z.detach().cpu() if torch.is_tensor(Z) else torch.as_tensor(np.asarray(Z))
    return Z.to(torch.complex128 if Z.is_complex() else torch.float64)


def _distance_block(A, B, manifold):
    if not is_builtin(manifold):
        return _generic_block(A, B, manifold)
    if isinstance(manifold, geoopt.Euclidean):
        return torch.cdist(A, B)
    if isinstance(manifold, geoopt.Sphere):
        return torch.arccos((A @ B.T).clamp(-1.0, 1.0))
    if is_torus(manifold):
        angles = [torch.arccos((manifold.take_submanifold_value(A, i) @
                                manifold.take_submanifold_value(B, i).T).clamp(-1.0, 1.0))
                  for i in range(len(manifold.manifolds))]
        return torch.stack(angles).square().sum(0).sqrt()
    if isinstance(manifold, geoopt.Lorentz):
        k = manifold.k.to(A)
        # -<a, b>_L = a0 b0 - <a', b'>, then in place: the N x N temporaries dominate the time
        minus_inner = torch.addmm(A[:, :1] @ B[:, :1].T, A[:, 1:], B[:, 1:].T, alpha=-1)
        return minus_inner.div_(k).clamp_min_(1.0).arccosh_().mul_(k.sqrt())
    if isinstance(manifold, geoopt.PoincareBall):
        c = manifold.c.to(A)
        sq = torch.cdist(A, B).square()
        denom = (1 - c * A.square().sum(1, keepdim=True)) * (1 - c * B.square().sum(1))
        return torch.arccosh(1 + 2 * c * sq / denom) / c.sqrt()


def _generic_block(A, B, manifold):
    """Distances between rows of A and all of B by broadcasting one point dimension."""
    a, b = A[:, None], B[None, :]
    if isinstance(manifold, geoopt.Stiefel):
        return (a - b).flatten(2).norm(dim=-1)  # chordal: geoopt has no Stiefel distance
    with torch.no_grad():
        D = manifold.dist(a, b)
    return D.real if D.is_complex() else D


def upper_triangle(D):
    """The strictly upper-triangular entries of a square matrix, as a vector."""
    D = np.asarray(D)
    return D[np.triu_indices(len(D), k=1)]


def distance_correlation(Z, manifold, D_ref):
    """(Pearson, Spearman) between latent geodesic distances and a reference distance matrix.

    ``manifold`` as in :func:`pairwise_distances`. Needs at least 3 points (3 pairs); ``D_ref``
    must be a symmetric N x N matrix (a triangular one raises ValueError with the fix)."""
    D_ref = np.asarray(D_ref)
    if len(Z) < 3:
        raise ValueError(f"distance_correlation needs at least 3 points (3 pairs of distances) "
                         f"to correlate, got {len(Z)}; score more samples")
    if D_ref.shape != (len(Z), len(Z)):
        raise ValueError(f"D_ref must be {len(Z)} x {len(Z)} to match Z, got {D_ref.shape}")
    return correlate_distances(pairwise_distances(Z, manifold), D_ref)


def correlate_distances(D, D_ref):
    """(Pearson, Spearman) over the upper triangles of two distance matrices; both must be
    square and symmetric (ValueError otherwise: only one triangle is read)."""
    for name, matrix in (("D", D), ("D_ref", D_ref)):
        check_symmetric(matrix, name)
    return correlate(upper_triangle(D), upper_triangle(D_ref))


def check_symmetric(D, name="D"):
    """ValueError when ``D`` is not a square matrix equal to its transpose (NaN aside); a
    triangular matrix gets the fix ``D + D.T``."""
    D = np.asarray(D)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise ValueError(f"{name} must be a square distance matrix, got shape {D.shape}")
    if D.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got {D.dtype}")
    values = D.astype(np.float64)
    scale = max(float(np.nanmax(np.abs(values))) if values.size else 0.0, 1.0)
    if np.nanmax(np.abs(values - values.T), initial=0.0) <= 1e-8 * scale:
        return
    upper, lower = np.triu(values, 1), np.tril(values, -1)
    if not np.any(upper) or not np.any(lower):
        which = "lower" if not np.any(upper) else "upper"
        raise ValueError(f"{name} is {which}-triangular: only its upper triangle is read, so the "
                         f"correlations would be NaN or wrong. Pass the full symmetric matrix, "
                         f"{name} + {name}.T")
    raise ValueError(f"{name} is not symmetric (largest |{name} - {name}.T| "
                     f"{np.nanmax(np.abs(values - values.T)):.3g}); a distance matrix is. "
                     f"Symmetrise it, e.g. ({name} + {name}.T) / 2, if the asymmetry is rounding")


def correlate(a, b):
    """(Pearson, Spearman) between two vectors of paired distances (at least 2 pairs)."""
    a, b = np.asarray(a), np.asarray(b)
    if len(a) != len(b):
        raise ValueError(f"correlate needs paired distances, got {len(a)} and {len(b)}")
    if len(a) < 2:
        raise ValueError(f"correlate needs at least 2 pairs of distances (3 points), got "
                         f"{len(a)}; score more samples")
    return float(stats.pearsonr(a, b)[0]), float(stats.spearmanr(a, b)[0])
