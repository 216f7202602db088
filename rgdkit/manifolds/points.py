"""Checking that points lie on a manifold: the one place that refuses points off it.

Results on unchecked points can be silently zero (arccosh clamped at 1) or NaN.
"""
from __future__ import annotations

import math

import geoopt
import numpy as np
import torch

from rgdkit.manifolds.registry import SIEGEL, is_complex_manifold, is_torus, point_ndim

def manifold_tolerance(dtype):
    """Relative tolerance of :func:`check_on_manifold`: sqrt(eps) of the points' real dtype
    (1.5e-8 in float64, 3.5e-4 in float32), loose enough for points a fit or a CSV round trip
    produced, tight enough that points off the manifold are never measured."""
    real = torch.empty((), dtype=dtype).real.dtype if dtype.is_complex else dtype
    return math.sqrt(torch.finfo(real).eps)


_CONSTRAINTS = (  # (class, the constraint in words), most specific first
    (geoopt.Lorentz, "-x0² + |x1:|² = -k with x0 > 0"),
    (geoopt.PoincareBall, "|x| < 1/sqrt(c)"),
    (geoopt.SphereProjection, "any point of R^n (stereographic chart)"),
    (geoopt.Stereographic, "|x| < 1/sqrt(-kappa) when kappa < 0"),
    (geoopt.Sphere, "|x| = 1"),
    (geoopt.Stiefel, "XᵀX = I"),
    (geoopt.SymmetricPositiveDefinite, "X symmetric positive definite"),
    (geoopt.UpperHalf, "Z complex symmetric with Im(Z) positive definite"),
    (geoopt.BoundedDomain, "Z complex symmetric with I - conj(Z) Z positive definite"),
    (geoopt.Euclidean, "finite coordinates"),
)


def describe_constraint(manifold):
    """The manifold's constraint in words, for error messages."""
    if is_torus(manifold):
        return "each pair (x_2i, x_2i+1) on the unit circle"
    if isinstance(manifold, geoopt.ProductManifold):
        return " x ".join(describe_constraint(m) for m in manifold.manifolds) + " (one per factor)"
    if isinstance(manifold, geoopt.Scaled):
        return describe_constraint(manifold.base)
    return next((text for cls, text in _CONSTRAINTS if isinstance(manifold, cls)),
                f"a point of {type(manifold).__name__}")


def check_on_manifold(points, manifold, name="Z", shape=None):
    """``points`` (N, *point shape) as a tensor, after checking that they lie on ``manifold``.

    Checks, each a ValueError naming the manifold and the constraint: the number of dimensions,
    the point ``shape`` when given (else geoopt's shape rules), real or complex entries as the
    manifold needs, finiteness, the constraint itself up to :func:`manifold_tolerance` (relative
    distance to ``manifold.projx`` of each point), and the open domains strictly (the Poincaré
    ball, SPD and Siegel spaces, where geoopt's projection does not move boundary points). The
    message gives the worst violation and its row. Results on unchecked points can be silently
    zero (arccosh clamped at 1) or NaN; this is the one place that refuses them.
    """
    if not torch.is_tensor(points):
        array = np.asarray(points)
        if array.dtype.kind not in "biufc":
            raise ValueError(f"{name} must hold numbers (coordinates of points), got an array "
                             f"of dtype {array.dtype}")
        points = torch.as_tensor(array)
    label = type(manifold).__name__
    _check_point_layout(points, manifold, name, shape, label)
    if not torch.isfinite(torch.view_as_real(points) if points.is_complex() else points).all():
        bad = _rows_with(~_finite_points(points))
        raise ValueError(f"{name} has NaN or inf in {len(bad)} points (first: {bad[:5]}); points "
                         f"of {label} must be finite")
    tol = manifold_tolerance(points.dtype)
    violation = _violation(points.detach(), manifold)
    if (violation > tol).any():
        worst = int(violation.argmax())
        raise ValueError(
            f"{name} is not on the {label} manifold ({describe_constraint(manifold)}): "
            f"{int((violation > tol).sum())} of {len(points)} points violate it; the worst, row "
            f"{worst}, by {float(violation[worst]):.3g} (relative; tolerance {tol:.1g} for "
            f"{points.dtype}). Pass latents fitted on this manifold, or map points onto it with "
            "manifold.projx")
    outside = _rows_with(~_strictly_inside(points.detach(), manifold, tol))
    if outside:
        raise ValueError(f"{name} has {len(outside)} of {len(points)} points on or beyond the "
                         f"boundary of {label} ({describe_constraint(manifold)}; first rows: "
                         f"{outside[:5]}), where distances are infinite or undefined")
    return points


def _check_point_layout(points, manifold, name, shape, label):
    ndim = point_ndim(manifold)
    layout = "N x n" if ndim == 1 else "N x n x p"
    if points.ndim != ndim + 1 or len(points) == 0:
        raise ValueError(f"{name} must be {layout} (points of {label}, each of shape "
                         f"{'(n,)' if ndim == 1 else '(n, p)'}), got shape {tuple(points.shape)}")
    if shape is not None and tuple(points.shape[1:]) != tuple(shape):
        raise ValueError(f"{name} must have shape (N, {', '.join(map(str, shape))}) for this "
                         f"{label} model, got {tuple(points.shape)}")
    ok, reason = manifold._check_shape(tuple(points.shape), name)
    minimum = 2 if isinstance(manifold, (geoopt.Sphere, geoopt.Lorentz)) else 1
    if not ok or points.shape[-1] < minimum or (is_torus(manifold) and points.shape[-1] % 2):
        need = "an even number of" if is_torus(manifold) else f"at least {minimum}"
        raise ValueError(f"{name} has shape {tuple(points.shape)}, which is not a batch of {label} "
                         f"points: {reason or f'they need {need} coordinates'}")
    if points.is_complex() != is_complex_manifold(manifold):
        kind = "complex" if is_complex_manifold(manifold) else "real"
        raise ValueError(f"points of {label} are {kind}, {name} has dtype {points.dtype}")
    if not (points.is_floating_point() or points.is_complex()):
        raise ValueError(f"{name} must hold floating-point coordinates, got {points.dtype}")


def _finite_points(points):
    flat = (torch.view_as_real(points) if points.is_complex() else points).reshape(len(points), -1)
    return torch.isfinite(flat).all(1)


def _rows_with(mask):
    return torch.nonzero(mask).flatten().tolist()


def _violation(points, manifold):
    """Per point: |projx(x) - x| / max(1, |x|), the relative distance to the manifold."""
    flat = lambda t: (torch.view_as_real(t) if t.is_complex() else t).reshape(len(t), -1)
    x = flat(points)
    with torch.no_grad():
        gap = (flat(manifold.projx(points)) - x).norm(dim=1)
    return gap / x.norm(dim=1).clamp_min(1.0)


def _strictly_inside(points, manifold, tol):
    """Per point, whether it lies inside an open domain: the ball, SPD and Siegel spaces, whose
    projx keeps boundary points (where distances are infinite or NaN). True elsewhere."""
    if isinstance(manifold, geoopt.Scaled):
        return _strictly_inside(points, manifold.base, tol)
    if isinstance(manifold, geoopt.Stereographic):
        k = manifold.k.to(points)
        return (-k) * points.square().sum(-1) < 1 if k < 0 else _all_true(points)
    if isinstance(manifold, geoopt.SymmetricPositiveDefinite):  # geoopt allows eigenvalues > -atol
        return torch.linalg.eigvalsh((points + points.transpose(-1, -2)) / 2).amin(-1) > 0
    if isinstance(manifold, SIEGEL):
        check = lambda x: bool(manifold._check_point_on_manifold(x, atol=tol, rtol=tol)[0])
        if check(points):
            return _all_true(points)
        return torch.tensor([check(x[None]) for x in points])  # only on the error path
    if isinstance(manifold, geoopt.ProductManifold):
        masks = [_strictly_inside(manifold.take_submanifold_value(points, i), m, tol)
                 for i, m in enumerate(manifold.manifolds)]
        return torch.stack(masks).all(0)
    return _all_true(points)


def _all_true(points):
    return torch.ones(len(points), dtype=torch.bool, device=points.device)


