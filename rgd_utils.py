"""Riemannian generative decoder (Bjerregaard, Hauberg, Krogh; arXiv 2506.19133).

There is no encoder: every sample owns a latent point on a Riemannian manifold (a geoopt
``ManifoldParameter``) and a decoder network maps latents to data. Latents (RiemannianAdam) and
decoder (Adam) are fitted jointly by maximum a posteriori. Optional geometry-aware noise perturbs
latents during training. Held-out samples get latents by optimising them with the decoder frozen.

Sections: manifolds, geometry-aware noise, the decoder and estimator. Everything around the method
(metrics, data, baselines, plotting, the notebooks' experiment loop) lives in the ``rgdkit`` package.
"""
from __future__ import annotations

import copy
import functools
import math
import numbers

import geoopt
import numpy as np
import torch
from torch import nn
from tqdm import tqdm  # text bars: they render in committed notebooks and need no widgets

from rgdkit.metrics.reconstruction import reconstruction_errors
from rgdkit.training.base import (LatentEstimator, check_data, flushed_denormals, make_generator,
                                  progress_options)
from rgdkit.training.base import TrainingDiverged  # noqa: F401  (re-exported: R.TrainingDiverged)

MANIFOLDS = ("euclidean", "sphere", "torus", "lorentz", "poincare")
# every geoopt 0.5.1 manifold class the estimator takes by name (case-insensitive), beside MANIFOLDS
GEOOPT_MANIFOLDS = (
    "Euclidean", "ProductManifold", "Stiefel", "CanonicalStiefel", "EuclideanStiefel",
    "EuclideanStiefelExact", "Sphere", "SphereExact", "Stereographic", "StereographicExact",
    "PoincareBall", "PoincareBallExact", "SphereProjection", "SphereProjectionExact", "Scaled",
    "Lorentz", "SymmetricPositiveDefinite", "UpperHalf", "BoundedDomain")
NOISE_MODES = ("metric", "inverse_metric")
# how the loss's gradient meets the noise: through exp_z with the tangent noise held fixed, or also
# through the noise's dependence on z (the pathwise gradient, as the authors' code has it)
NOISE_GRADIENTS = ("pathwise", "fixed")
# the curvature parameter's meaning per manifold name, and the range accepted: curvature 1e-12 or
# inf made fits end in a misleading "diverged" (cosh/arcosh over- or underflow); the bounds are a
# conservative margin around the values used (1 to 5), not a measured limit
CURVED = {"lorentz": "k", "poincare": "c", "poincareball": "c", "poincareballexact": "c",
          "stereographic": "-kappa", "stereographicexact": "-kappa", "sphereprojection": "k",
          "sphereprojectionexact": "k"}
CURVATURE_RANGE = (1e-4, 1e4)


# --------------------------------------------------------------------------------------------
# Manifolds
# --------------------------------------------------------------------------------------------
def make_manifold(name="lorentz", dim=2, curvature=None):
    """A geoopt manifold of intrinsic dimension (or size) ``dim``; a geoopt instance is returned
    as is.

    Short names: ``"euclidean"`` R^dim; ``"sphere"`` S^dim in R^(dim+1); ``"torus"`` a product of
    ``dim`` circles in R^(2 dim); ``"lorentz"`` H^dim in R^(dim+1) with geoopt's ``Lorentz(k)``
    (-x0^2 + sum xi^2 = -k, sectional curvature -1/k); ``"poincare"`` the ball with geoopt's
    ``PoincareBall(c)`` (curvature -c). ``curvature`` is k or c and defaults to 1.

    geoopt class names (any case; see ``GEOOPT_MANIFOLDS``) give that class with these point
    shapes (:func:`point_shape`): "Euclidean", "Sphere", "Lorentz", "PoincareBall" are the short
    names above; "SphereExact" as "sphere"; "PoincareBallExact" (dim,); "Stereographic(Exact)"
    (dim,) with kappa = -curvature (default -1); "SphereProjection(Exact)" (dim,) with k =
    curvature (default 1); "Scaled" the sphere S^dim of radius 2; "ProductManifold" S^1 x H^dim,
    (2 + dim + 1,); the Stiefel classes (dim + 1) x dim orthonormal frames ("Stiefel" is geoopt's
    canonical one); "SymmetricPositiveDefinite" dim x dim; the Siegel spaces "UpperHalf" and
    "BoundedDomain" dim x dim complex symmetric matrices.

    ``curvature`` only applies to the names in ``CURVED``, within ``CURVATURE_RANGE``; for any
    other manifold (or an instance) it raises ValueError rather than being ignored.
    """
    if isinstance(name, geoopt.manifolds.Manifold):
        if curvature is not None:
            raise ValueError("curvature applies to manifold names; a geoopt instance carries its "
                             f"own (got curvature={curvature!r} with {type(name).__name__})")
        return name
    key = name.lower() if isinstance(name, str) else None
    if key not in _BUILDERS:
        raise ValueError(f"unknown manifold {name!r}; choose one of {', '.join(MANIFOLDS)}, a "
                         f"geoopt class name ({', '.join(GEOOPT_MANIFOLDS)}) or pass a geoopt "
                         "manifold instance")
    dim = check_integer(dim, "latent dimension")
    return _BUILDERS[key](dim, _check_curvature(key, curvature))


def check_integer(value, name, minimum=1):
    """``value`` as an int; integral floats (2.0) pass, anything else raises a clear error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or int(value) != value or value < minimum:
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def _check_curvature(key, curvature):
    if curvature is None:
        return 1.0
    if key not in CURVED:
        raise ValueError(f"curvature does not apply to {key!r} (its curvature is fixed); leave "
                         f"curvature=None or choose one of {', '.join(CURVED)}")
    if isinstance(curvature, bool) or not isinstance(curvature, numbers.Real):
        raise TypeError(f"curvature must be a real number, got {type(curvature).__name__} "
                        f"{curvature!r}")
    lo, hi = CURVATURE_RANGE
    if not curvature > 0:
        raise ValueError(f"curvature parameter must be positive, got {curvature!r}")
    if not lo <= curvature <= hi:
        raise ValueError(f"curvature parameter {CURVED[key]} = {curvature!r} is outside "
                         f"[{lo:g}, {hi:g}], where float64 geometry stays accurate; rescale the "
                         "data rather than the curvature")
    return float(curvature)


def _f64(value):
    # hyperbolic models run in float64; a float32 curvature would mix dtypes in geoopt's checks
    return torch.tensor(value, dtype=torch.float64)


_BUILDERS = {
    "euclidean": lambda dim, k: geoopt.Euclidean(ndim=1),
    "sphere": lambda dim, k: geoopt.Sphere(),
    "torus": lambda dim, k: geoopt.ProductManifold(*[(geoopt.Sphere(), 2)] * dim),
    "lorentz": lambda dim, k: geoopt.Lorentz(k=_f64(k)),
    "poincare": lambda dim, k: geoopt.PoincareBall(c=_f64(k)),
    "poincareball": lambda dim, k: geoopt.PoincareBall(c=_f64(k)),
    "poincareballexact": lambda dim, k: geoopt.PoincareBallExact(c=_f64(k)),
    "sphereexact": lambda dim, k: geoopt.SphereExact(),
    "stereographic": lambda dim, k: geoopt.Stereographic(k=_f64(-k)),
    "stereographicexact": lambda dim, k: geoopt.StereographicExact(k=_f64(-k)),
    "sphereprojection": lambda dim, k: geoopt.SphereProjection(k=_f64(k)),
    "sphereprojectionexact": lambda dim, k: geoopt.SphereProjectionExact(k=_f64(k)),
    "scaled": lambda dim, k: geoopt.Scaled(geoopt.Sphere(), 2.0),
    "productmanifold": lambda dim, k: geoopt.ProductManifold(
        (geoopt.Sphere(), 2), (geoopt.Lorentz(k=_f64(1.0)), dim + 1)),
    "stiefel": lambda dim, k: geoopt.Stiefel(),
    "canonicalstiefel": lambda dim, k: geoopt.CanonicalStiefel(),
    "euclideanstiefel": lambda dim, k: geoopt.EuclideanStiefel(),
    "euclideanstiefelexact": lambda dim, k: geoopt.EuclideanStiefelExact(),
    "symmetricpositivedefinite": lambda dim, k: geoopt.SymmetricPositiveDefinite(),
    "upperhalf": lambda dim, k: geoopt.UpperHalf(),
    "boundeddomain": lambda dim, k: geoopt.BoundedDomain(),
}
SIEGEL = (geoopt.UpperHalf, geoopt.BoundedDomain)


def point_shape(manifold, dim):
    """Shape of one latent point of ``manifold`` built for intrinsic dimension (or size) ``dim``:
    (ambient,) for vector manifolds, (dim + 1, dim) for Stiefel, (dim, dim) for SPD and the
    Siegel spaces (complex)."""
    if isinstance(manifold, geoopt.Scaled):
        return point_shape(manifold.base, dim)
    if isinstance(manifold, geoopt.ProductManifold):
        return (manifold.n_elements,)
    if isinstance(manifold, (geoopt.Sphere, geoopt.Lorentz)):
        return (dim + 1,)
    if isinstance(manifold, geoopt.Stiefel):
        return (dim + 1, dim)
    if isinstance(manifold, (geoopt.SymmetricPositiveDefinite, *SIEGEL)):
        return (dim, dim)
    return (dim,)


def point_ndim(manifold):
    """Number of trailing dimensions of one point (1 for vectors, 2 for matrices)."""
    if isinstance(manifold, geoopt.Scaled):
        return point_ndim(manifold.base)
    return getattr(manifold, "ndim", None) or 1


def is_complex_manifold(manifold):
    """Whether points are complex matrices (the Siegel spaces)."""
    if isinstance(manifold, geoopt.Scaled):
        return is_complex_manifold(manifold.base)
    return isinstance(manifold, SIEGEL)


def ambient_dim(manifold, dim):
    """Number of real coordinates of a point (what the decoder sees): complex entries count
    twice, matrices are flattened."""
    n = math.prod(point_shape(manifold, dim))
    return 2 * n if is_complex_manifold(manifold) else n


def decoder_coordinates(z, ndim=1):
    """Points (..., *point shape) as flat real coordinates (..., ambient_dim): matrices are
    flattened row by row and complex entries split into (real, imaginary)."""
    if z.is_complex():
        z, ndim = torch.view_as_real(z), ndim + 1
    return z.flatten(-ndim) if ndim > 1 else z


DECODER_DTYPE = torch.float32
# squared errors of float32 data stay finite below this (float32 max is 3.4e38)
MAX_DATA_MAGNITUDE = 1e18
LATENT_DTYPES = (torch.float32, torch.float64)  # complex64/128 for the Siegel spaces


def default_dtype(manifold):
    """The one place latent dtypes are chosen: float64 for hyperbolic models (alone or as a
    factor) and SPD matrices, complex128 for the Siegel spaces, else float32.

    geoopt advises float64 for hyperbolic manifolds (cosh/arcosh lose precision far from the
    origin); SPD and Siegel distances go through eigenvalues, which need it too. Only latents and
    manifold operations need it: the decoder runs in ``DECODER_DTYPE`` (float32), which halves the
    cost of the MLP on a CPU with no measurable loss of correlation.
    """
    if isinstance(manifold, geoopt.Scaled):
        return default_dtype(manifold.base)
    if isinstance(manifold, geoopt.ProductManifold):
        return max((default_dtype(m) for m in manifold.manifolds), key=lambda d: d.itemsize)
    if is_complex_manifold(manifold):
        return torch.complex128
    hyperbolic = isinstance(manifold, (geoopt.Lorentz, geoopt.PoincareBall, geoopt.Stereographic,
                                       geoopt.SymmetricPositiveDefinite))
    return torch.float64 if hyperbolic else torch.float32


def check_latent_dtype(dtype, manifold):
    """``dtype`` if latents of ``manifold`` can use it, else a ValueError saying which can."""
    allowed = tuple(d.to_complex() for d in LATENT_DTYPES) if is_complex_manifold(manifold) \
        else LATENT_DTYPES
    if dtype not in allowed:
        raise ValueError(f"dtype {dtype!r} is not supported for {type(manifold).__name__} latents; "
                         f"use one of {', '.join(map(str, allowed))} (None chooses "
                         f"{default_dtype(manifold)}): half precision cannot hold points on a "
                         "manifold through training")
    return dtype


def pick_device(device=None):
    """``cuda`` when available unless a device is named."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def manifold_origin(manifold, dim, dtype=torch.float64, device="cpu"):
    """A deterministic base point: 0, the north pole e0 of each sphere or circle, (sqrt k, 0, ..),
    or the manifold's own ``origin`` (the identity frame, I, iI, 0) with :func:`point_shape`."""
    if isinstance(manifold, geoopt.Scaled):
        return manifold_origin(manifold.base, dim, dtype, device)
    if isinstance(manifold, geoopt.ProductManifold) and not is_torus(manifold):
        return torch.cat([_factor_origin(m, shape, dtype, device)
                          for m, shape in zip(manifold.manifolds, manifold.shapes)])
    n = ambient_dim(manifold, dim)
    origin = torch.zeros(n, dtype=dtype, device=device)
    if isinstance(manifold, geoopt.ProductManifold):
        origin[0::2] = 1.0
    elif isinstance(manifold, geoopt.Sphere):
        origin[0] = 1.0
    elif isinstance(manifold, geoopt.Lorentz):
        return manifold.origin(n, dtype=dtype, device=device).detach()
    elif not isinstance(manifold, (geoopt.Euclidean, geoopt.Stereographic)):
        shape = point_shape(manifold, dim)
        return torch.as_tensor(manifold.origin(*shape, dtype=dtype, device=device)).detach()
    return origin


def _factor_origin(manifold, shape, dtype, device):
    """Origin of one factor of a product, flattened (its dimension read off its shape)."""
    dim = shape[-1] - 1 if isinstance(manifold, (geoopt.Sphere, geoopt.Lorentz)) else shape[-1]
    return manifold_origin(manifold, dim, dtype, device).reshape(-1)


def random_points(manifold, n, dim, std=1.0, dtype=torch.float64, device="cpu", generator=None):
    """``n`` points exp_o(v) with v ~ N(0, std^2 I) in the tangent space at the origin o.

    The five built-in manifolds draw v in intrinsic coordinates (orthonormal at o); any other
    manifold projects ambient Gaussian noise onto the tangent space at o and maps it by expmap,
    or by the retraction where geoopt has no expmap (Siegel spaces). All draws use ``generator``.
    """
    origin = manifold_origin(manifold, dim, dtype, device)
    if not _is_builtin(manifold):
        noise = torch.randn((n, *origin.shape), dtype=dtype, device=device, generator=generator)
        base = origin.expand(n, *origin.shape)
        return exp_or_retr(manifold, base, std * manifold.proju(base, noise))
    v = torch.randn(n, dim, dtype=dtype, device=device, generator=generator) * std
    return manifold.expmap(origin.expand(n, -1), _embed_tangent_at_origin(manifold, v))


def _is_builtin(manifold):
    """The five manifolds of ``MANIFOLDS`` (and their exact variants), with closed forms here."""
    return (is_torus(manifold) or type(manifold) in (geoopt.Euclidean, geoopt.Sphere,
                                                     geoopt.SphereExact, geoopt.Lorentz)
            or isinstance(manifold, geoopt.PoincareBall))


def exp_or_retr(manifold, x, u):
    """exp_x(u), or geoopt's retraction where the manifold has no exponential map."""
    try:
        return manifold.expmap(x, u)
    except NotImplementedError:
        return manifold.retr(x, u)


def _embed_tangent_at_origin(manifold, v):
    """Intrinsic coordinates v (n, dim) → ambient tangent vectors at the origin, orthonormally."""
    if isinstance(manifold, geoopt.ProductManifold):
        out = torch.zeros(v.shape[0], 2 * v.shape[1], dtype=v.dtype, device=v.device)
        out[:, 1::2] = v
        return out
    if isinstance(manifold, (geoopt.Sphere, geoopt.Lorentz)):
        return torch.cat([torch.zeros_like(v[:, :1]), v], dim=1)
    if isinstance(manifold, geoopt.PoincareBall):
        return v / 2.0  # the conformal factor at the origin is 2
    return v


# --------------------------------------------------------------------------------------------
# Points on the manifold
# --------------------------------------------------------------------------------------------
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
    points = points if torch.is_tensor(points) else torch.as_tensor(np.asarray(points))
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


# --------------------------------------------------------------------------------------------
# Geometry-aware noise
# --------------------------------------------------------------------------------------------
def geometric_noise(z, manifold, std, mode="inverse_metric", generator=None, normal=None):
    """Tangent noise at ``z`` whose covariance follows the metric G(z).

    ``mode="metric"`` samples eps ~ N(0, std^2 G^-1(z)), the paper's formula: a standard normal in
    an orthonormal frame of the tangent space. On the Poincare ball (G = lambda^2 I) that is
    std * n / lambda; on the Lorentz model it is the parallel transport of N(0, std^2 I) from the
    origin; on the sphere and torus it is the projection of isotropic ambient noise.

    ``mode="inverse_metric"`` is what the authors' code does: G^-1 applied to isotropic
    Euclidean noise, ``std * egrad2rgrad(z, n)``, i.e. covariance std^2 G^-2 on the Poincare ball.
    On the Lorentz model its covariance in an orthonormal frame E is std^2 E^T E (Euclidean Gram of
    the frame), which grows like cosh(2r) with the distance r from the origin. On the sphere,
    torus and Euclidean space both modes coincide.

    ``normal`` (optional, shaped like ``z``) is the standard normal draw to use instead of one
    from ``generator``; ``std`` may be a tensor that broadcasts against ``z`` (one σ per model
    when models are trained together).
    """
    if mode not in NOISE_MODES:
        raise ValueError(f"unknown noise mode {mode!r}; choose one of {NOISE_MODES}")
    if mode == "metric" and isinstance(manifold, geoopt.Scaled):
        return geometric_noise(z, manifold.base, std / manifold.scale, mode, generator)  # G = s² G_base
    if normal is not None and _draws_per_factor(manifold, mode):
        raise ValueError(f"noise={mode!r} on {type(manifold).__name__} draws per factor; pass a "
                         "generator instead of a normal draw")
    n = normal
    if n is None and not _draws_per_factor(manifold, mode):
        n = torch.randn(z.shape, dtype=z.dtype, device=z.device, generator=generator)
    if isinstance(manifold, geoopt.ProductManifold) and not is_torus(manifold):
        # factor by factor: geoopt's product egrad2rgrad hands a Lorentz factor a view of the
        # draw, which it negates in place, and autograd through the other factors then fails
        parts = [geometric_noise(manifold.take_submanifold_value(z, i), m, std, mode, generator,
                                 None if n is None else manifold.take_submanifold_value(n, i))
                 for i, m in enumerate(manifold.manifolds)]
        return torch.cat([p.reshape(*z.shape[:-1], -1) for p in parts], -1)
    if mode == "inverse_metric":  # geoopt's Lorentz egrad2rgrad negates x0 of its argument in place
        return std * manifold.egrad2rgrad(z, n if normal is None else n.clone())
    if isinstance(manifold, geoopt.Lorentz):
        return std * lorentz_transport_from_origin(z, n[..., 1:], manifold.k)
    if isinstance(manifold, geoopt.Stereographic):  # conformal: G = lambda² I
        return std * n / manifold.lambda_x(z, keepdim=True)
    if not _has_induced_metric(manifold):
        raise NotImplementedError(
            f"noise='metric' needs an orthonormal frame of the tangent space, which is not "
            f"available for {type(manifold).__name__}; use noise='inverse_metric'")
    return std * manifold.proju(z, n)


def _draws_per_factor(manifold, mode):
    """Whether :func:`geometric_noise` draws factor by factor (not one normal shaped like z)."""
    return mode == "metric" and (isinstance(manifold, geoopt.Scaled) or (
        isinstance(manifold, geoopt.ProductManifold) and not is_torus(manifold)))


def _has_induced_metric(manifold):
    """Embedded manifolds whose metric is the ambient Euclidean one: proju of isotropic noise
    is then a standard normal in an orthonormal frame."""
    return is_torus(manifold) or isinstance(manifold, (geoopt.Euclidean, geoopt.Sphere,
                                                       geoopt.EuclideanStiefel))


def lorentz_transport_from_origin(y, v, k):
    """Parallel transport of u = (0, v) from the origin o = (sqrt k, 0, ..) to y on Lorentz(k),
    in closed form: u + <y, u>_L / (k + sqrt(k) y0) (o + y)."""
    sqrt_k = k.sqrt()
    coef = (y[..., 1:] * v).sum(-1, keepdim=True) / (k + sqrt_k * y[..., :1])
    head = coef * (sqrt_k + y[..., :1])
    return torch.cat([head, v + coef * y[..., 1:]], dim=-1)


def perturb(z, manifold, std, mode="inverse_metric", generator=None, normal=None,
            gradient="pathwise"):
    """exp_z(eps) with eps from :func:`geometric_noise`.

    ``gradient="pathwise"`` (the default) keeps eps(z) under autograd (only the standard normal
    draw is fixed): the reparameterisation gradient of E[loss(exp_z(eps))], which includes how the
    noise's covariance G⁻¹(z) changes with z.

    ``gradient="fixed"`` draws eps without gradient: the loss's gradient reaches z through exp_z
    alone. On the sphere, torus and Lorentz model exp_z(eps) = a z + b for fixed eps, with a = cos
    or cosh of the noise norm; we return ``a * z + b`` so the value is exp_z(eps) and the gradient
    is exactly that of the expmap formula, at a fraction of autograd's cost through geoopt.
    Other manifolds go through ``manifold.expmap``, or the retraction where there is none. The
    same value as "pathwise" for the same draw.
    """
    if gradient not in NOISE_GRADIENTS:
        raise ValueError(f"unknown noise gradient {gradient!r}; choose one of {NOISE_GRADIENTS}")
    if gradient == "pathwise":
        return exp_or_retr(manifold, z, geometric_noise(z, manifold, std, mode, generator, normal))
    with torch.no_grad():
        eps = geometric_noise(z, manifold, std, mode, generator, normal)
        scale = _expmap_linear_factor(manifold, eps)
        if scale is not None:
            offset = manifold.expmap(z, eps) - scale * z
    if scale is None:
        return exp_or_retr(manifold, z, eps)
    return scale * z + offset


def _expmap_linear_factor(manifold, eps):
    """The factor a in exp_z(eps) = a z + b (per point, per circle on the torus), or None."""
    if isinstance(manifold, geoopt.Euclidean):
        return torch.ones_like(eps[..., :1])
    if isinstance(manifold, geoopt.Sphere):
        return torch.cos(eps.norm(dim=-1, keepdim=True))
    if isinstance(manifold, geoopt.Lorentz):
        sq = (eps[..., 1:].square().sum(-1, keepdim=True) - eps[..., :1].square()).clamp_min(0)
        return torch.cosh(sq.sqrt() / manifold.k.sqrt())
    if is_torus(manifold):
        circles = eps.unflatten(-1, (-1, 2)).norm(dim=-1)
        return torch.cos(circles).repeat_interleave(2, dim=-1)
    return None


class _SiegelAdamComponents:
    """geoopt 0.5.1's Siegel spaces hand RiemannianAdam a trace (one complex number per point)
    as ``component_inner``, which does not broadcast against the matrix-shaped Adam state. Here
    every entry gets the point's squared Riemannian gradient norm over the number of entries:
    Adam with one second moment per point, as Bécigneul & Ganea's Riemannian Adam."""

    def component_inner(self, x, u, v=None):
        sq = self.inner(x, u, u if v is None else v).real
        return (sq / (x.shape[-1] * x.shape[-2]))[..., None, None].expand(u.shape).to(u.dtype)


class AdamUpperHalf(_SiegelAdamComponents, geoopt.UpperHalf):
    """geoopt.UpperHalf whose ``component_inner`` suits RiemannianAdam."""


class AdamBoundedDomain(_SiegelAdamComponents, geoopt.BoundedDomain):
    """geoopt.BoundedDomain whose ``component_inner`` suits RiemannianAdam."""


def adam_ready(manifold):
    """``manifold`` itself, with the Siegel spaces' class switched to its Adam-ready subclass
    (same data and geometry; isinstance checks still hold)."""
    for base, fixed in ((geoopt.UpperHalf, AdamUpperHalf), (geoopt.BoundedDomain, AdamBoundedDomain)):
        if type(manifold) is base:
            manifold.__class__ = fixed
    return manifold


def check_real(value, name, positive=False):
    """A finite real number (``positive``: > 0, else >= 0), or a TypeError/ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or (value <= 0 if positive else value < 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'} and finite, got {value!r}")
    return float(value)


def is_torus(manifold):
    """Whether ``manifold`` is a product of circles (the torus of :func:`make_manifold`)."""
    return isinstance(manifold, geoopt.ProductManifold) and all(
        isinstance(m, geoopt.Sphere) for m in manifold.manifolds)


# --------------------------------------------------------------------------------------------
# Test-time latents
# --------------------------------------------------------------------------------------------
@flushed_denormals()
def optimise_starts(starts, manifold, loss, lr, steps, keep=None, verbose=True):
    """Multi-start Riemannian optimisation: the best of several starts per sample.

    ``starts`` (B, M, S, *shape) are S starts for each of M samples in B independent problems
    (models); ``loss(z, k)`` gives the per-row loss (B, M * k) of latents z (B, M * k, *shape)
    ordered sample by sample, k starts each. RiemannianAdam (``lr``) takes ``steps`` steps; with
    ``keep`` < S, after a quarter of them only the ``keep`` starts with the lowest loss per sample
    go on, with their optimiser state, so they follow exactly the path they had with all starts.
    Returns the lowest-loss point per sample, (B, M, *shape).
    """
    b, m, s, shape = *starts.shape[:3], starts.shape[3:]
    z = geoopt.ManifoldParameter(starts.reshape(b, m * s, *shape).clone(), manifold=manifold)
    opt = geoopt.optim.RiemannianAdam([z], lr=lr)
    prune_at = steps // 4 if keep is not None and int(keep) < s else None
    for step in tqdm(range(steps), desc="test-time latents", leave=False,
                     **progress_options(verbose)):
        if step == prune_at:
            z, opt, s = _keep_best_starts(z, opt, loss, (b, m, s), int(keep))
        opt.zero_grad()
        loss(z, s).sum().backward()
        opt.step()
    with torch.no_grad():
        best = loss(z, s).reshape(b, m, s).argmin(2)
    rows = torch.arange(b, device=z.device)[:, None]
    return z.detach().reshape(b, m, s, *shape)[rows, torch.arange(m, device=z.device), best]


def _keep_best_starts(z, opt, loss, sizes, keep):
    """The ``keep`` lowest-loss starts per sample of ``z``, as a new parameter whose optimiser
    carries over their Adam moments and step count."""
    b, m, s = sizes
    with torch.no_grad():
        order = loss(z, s).reshape(b, m, s).argsort(2)[..., :keep]

    def select(t):
        grid = t.reshape(b, m, s, *t.shape[2:])
        index = order.reshape(b, m, keep, *[1] * (t.dim() - 2)).expand(b, m, keep, *t.shape[2:])
        return grid.gather(2, index).reshape(b, m * keep, *t.shape[2:])

    kept = geoopt.ManifoldParameter(select(z.detach()), manifold=z.manifold)
    state = opt.state[z]
    new_opt = geoopt.optim.RiemannianAdam([kept], lr=opt.param_groups[0]["lr"])
    new_opt.state[kept] = {"step": state["step"], "exp_avg": select(state["exp_avg"]),
                           "exp_avg_sq": select(state["exp_avg_sq"])}
    return kept, new_opt, keep


class _MeanBinaryCrossEntropy(torch.autograd.Function):
    """Binary cross-entropy with logits, a mean over the last axis: softplus(o) - x·o, whose
    gradient in o is (sigmoid(o) - x) / features.

    The same numbers as ``binary_cross_entropy_with_logits(o, x).mean(-1)`` in three elementwise
    passes forward and three back, where the generic op takes 1.5 times as long: on the hmtDNA
    decoders (2,895 logits per genome) it was most of a training step's elementwise work.
    Gradients below ``TINY_GRADIENT`` are set to zero: far-negative logits would otherwise feed
    float32 denormals into the next matrix products, which ran about 150 times slower on this
    x86 CPU (``benchmarks/bench_denormals.py``).
    """

    TINY_GRADIENT = 1e-30

    @staticmethod
    def forward(ctx, out, x):
        ctx.save_for_backward(out, x)
        # the difference before the mean: two means of large logits would cancel
        return nn.functional.softplus(out).addcmul_(out, x, value=-1).mean(-1)

    @staticmethod
    def backward(ctx, grad):
        out, x = ctx.saved_tensors
        grad_out = torch.sigmoid(out).sub_(x).mul_(grad.unsqueeze(-1) / out.shape[-1])
        return nn.functional.hardshrink(grad_out, _MeanBinaryCrossEntropy.TINY_GRADIENT), None


def reconstruction_loss(out, x, loss, z):
    """Per-sample loss of decoder outputs ``out`` against ``x`` ("mse" or "bce" on logits), a
    mean over the last axis, in the real dtype of the latents ``z`` (complex for Siegel spaces)."""
    if loss == "bce":
        rec = _MeanBinaryCrossEntropy.apply(out, x.to(out.dtype).expand_as(out))
    else:
        rec = (out - x).square().mean(-1)
    return rec.to(z.real.dtype)


def squared_prior_distance(z, manifold, origin):
    """Squared distance of each latent to the prior's centre: geodesic, or |z|² on Euclidean."""
    if isinstance(manifold, geoopt.Euclidean):
        return z.square().sum(-1)
    return manifold.dist(origin, z).square()


def repeated_rows(X):
    """``k -> X`` with each row k times in a row (the targets of k starts per sample), each k
    computed once: a copy per step would cost as much as a step on wide data."""
    return functools.lru_cache(maxsize=2)(lambda k: X.repeat_interleave(k, dim=0))


# --------------------------------------------------------------------------------------------
# Decoder and estimator
# --------------------------------------------------------------------------------------------
class ELU(nn.ELU):
    """ELU (alpha 1) whose gradient comes from its output: exp(x) = ELU(x) + 1 for x ≤ 0, as torch
    computes it for the in-place op, which this is.

    A saturated unit (x below about -17) gets a gradient of exactly 0 in float32, where exp(x)
    is a denormal below x ≈ -87; denormals make the matrix products they enter about 150 times
    slower on x86 CPUs (``benchmarks/bench_denormals.py``) in every thread, where
    :func:`rgdkit.training.base.flushed_denormals` reaches only the calling one. Above x ≈ -17 the
    gradient differs from exp(x) by float32 rounding of ELU(x) + 1.
    """

    def __init__(self):
        super().__init__(alpha=1.0, inplace=True)


def make_decoder(in_features, out_features, hidden=(16, 32, 64, 128, 256), activation=ELU,
                 generator=None):
    """An MLP from ambient latent coordinates to data space (logits for the BCE loss).

    Weights follow PyTorch's default ``nn.Linear`` initialisation, drawn from ``generator`` (the
    global random state is not touched when one is given).
    """
    widths = [in_features, *hidden, out_features]
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [_linear(a, b, generator), activation()]
    return nn.Sequential(*layers[:-1])


def _linear(in_features, out_features, generator):
    if generator is None:
        return nn.Linear(in_features, out_features)
    layer = torch.nn.utils.skip_init(nn.Linear, in_features, out_features)
    with torch.no_grad():
        # nn.Linear.reset_parameters, with our generator
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
        bound = 1 / math.sqrt(in_features)
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


class RiemannianDecoder(LatentEstimator):
    """Riemannian generative decoder: latents on a manifold, a decoder, fitted jointly (MAP).

    A scikit-learn transformer: ``fit(X, X_val=...)`` learns the decoder and one latent point per
    sample, ``transform`` finds latents for new samples with the decoder frozen,
    ``inverse_transform`` decodes latents; ``clone``, ``get_params`` and pipelines work.

    Parameters
    ----------
    manifold : str or geoopt manifold, default "lorentz"
        Latent manifold: "euclidean", "sphere", "torus", "lorentz", "poincare", any geoopt class
        name of ``GEOOPT_MANIFOLDS`` in any case (see :func:`make_manifold` for each one's
        default), or an instance of one of those classes. Default point shapes at
        ``latent_dim=2``: Euclidean, Poincaré balls, Stereographic, SphereProjection (2,);
        Sphere(Exact), Lorentz, Scaled (a sphere of radius 2) (3,); torus (4,); ProductManifold
        S¹ x H² (5,); the Stiefel classes 3 x 2; SymmetricPositiveDefinite 2 x 2; UpperHalf and
        BoundedDomain (Siegel spaces) 2 x 2 complex. The decoder sees the flattened real
        coordinates (real and imaginary parts of complex entries).
    latent_dim : int, default 2
        Intrinsic latent dimension; for the matrix manifolds the size n of (n + 1) x n Stiefel
        frames and n x n SPD or Siegel matrices. Integral floats (2.0) are accepted.
    curvature : float or None, default None
        Lorentz k (curvature -1/k), Poincaré c (curvature -c), SphereProjection k (curvature k) or
        Stereographic kappa = -curvature; None means 1. Must lie in ``CURVATURE_RANGE``
        ([1e-4, 1e4]); for any other manifold a value raises ValueError (it would be ignored).
    noise_std : float, default 0.0
        Scale σ of the geometry-aware noise added to latents during training (0: none).
        noise="metric" raises NotImplementedError on manifolds without an orthonormal tangent
        frame here (CanonicalStiefel, SPD, Siegel spaces); "inverse_metric" works on all.
    noise : {"inverse_metric", "metric"}, default "inverse_metric"
        "inverse_metric" is the authors' code (G⁻¹ applied to isotropic noise, covariance σ² G⁻²
        on the Poincaré ball); "metric" is the paper's formula, covariance σ² G⁻¹ (see
        :func:`geometric_noise`). The default reproduces Table 2: on the published branching data,
        H² σ=1 reached train/test Pearson 0.80/0.75 and 0.79/0.77 (seeds 0, 1) against 0.69/0.63
        with "metric", whose noise fades far from the origin so latents drift outwards.
    noise_gradient : {"pathwise", "fixed"}, default "pathwise"
        "pathwise": the loss's gradient reaches the latents through exp_z and through the noise's
        dependence on z (the reparameterisation gradient of the noisy loss, as the authors' code
        has it; see :func:`perturb`); "fixed": through exp_z with the drawn tangent noise held
        fixed (our default before issue #18). On 8,000 GenBank genomes (H² σ = 0.5, 400 epochs,
        mean of seeds 0-2) "pathwise" raised the first-letter accuracy of a forest on the latents
        from 0.77 to 0.92 (the authors' loop: 0.80) at the same Spearman, 0.48
        (``scripts/hmtdna_protocol.py``); on the branching data (H² σ = 1, seeds 0-2) it raised
        train Pearson from 0.79 to 0.81 and lowered the MSE from 0.47 to 0.36
        (``scripts/branching_differences.py``).
    hidden : tuple of int, default (16, 32, 64, 128, 256)
        Widths of the decoder's hidden layers (ELU activations).
    loss : {"mse", "bce"}, default "mse"
        Reconstruction loss, a mean over features; "bce" for binary data (the decoder outputs
        logits, ``inverse_transform`` probabilities).
    epochs : int, default 750
        Most training epochs.
    batch_size : int, default 128
        Minibatch size of the decoder steps.
    lr_latent : float, default 0.1
        RiemannianAdam learning rate of the latents, stepped once per epoch on gradients
        accumulated over the epoch.
    lr_decoder : float, default 2e-3
        AdamW learning rate of the decoder, stepped per minibatch.
    betas_decoder : tuple, default (0.9, 0.995)
        AdamW betas.
    betas_latent : tuple, default (0.5, 0.7)
        RiemannianAdam betas, as the authors train.
    weight_decay : float, default 1e-3
        Decoupled weight decay of the decoder (coupled L2 at 1e-3 swamps the mean-over-features
        gradients and collapses the decoder to the data mean on the branching data).
    patience : int, default 85
        Epochs without a better validation loss before training stops.
    min_epochs : int, default 150
        The best state is tracked, and early stopping counted, from this epoch on (early epochs
        fit well but are unshaped).
    restart_period : int, default 40
        Period (epochs) of cosine annealing with warm restarts, for both learning rates.
    init_std : float, default 1e-3
        Latents start within this distance of the origin, as in the authors' code (a spread-out
        start left the tree folded: train Pearson 0.65 against 0.80).
    prior : {"auto", "normal", "none"}, default "auto"
        "auto": a standard Gaussian prior on Euclidean latents (d(o, z)² / 2 per sample, divided
        by the number of features like the likelihood), none on other manifolds; "normal": the
        squared geodesic distance to the origin on any manifold with one (geoopt has none for
        Stiefel: NotImplementedError); "none".
    prior_std : float, default 1.0
        Scale of that prior.
    n_starts : int, default 20
        Test-time latents: starts per new sample (the training latents whose decodings fit it
        best).
    test_epochs : int, default 400
        Test-time latents: optimisation steps.
    prune_keep : int or None, default 4
        Test-time latents: after a quarter of ``test_epochs`` only the ``prune_keep`` starts with
        the lowest loss per sample go on (None: all ``n_starts``). On the branching data (H²,
        20 starts, 400 steps) keeping 4 raised the final loss by 1.5e-5 on average (at most
        0.13 %) at 40 % of the cost (see :func:`optimise_starts`).
    lr_test : float, default 0.1
        Test-time latents: RiemannianAdam learning rate.
    seed : int, default 0
        Seeds the estimator's own ``torch.Generator`` (initial latents and decoder, minibatch
        order, noise); the global random state is left untouched.
    device : str or None, default None
        "cuda" when available unless named.
    dtype : torch.dtype or None, default None
        Latent dtype, float32 or float64 (complex64 or complex128 for the Siegel spaces); None:
        :func:`default_dtype` (float64 for hyperbolic manifolds and SPD, complex128 for Siegel).
    verbose : bool, default True
        Show a progress bar (``TQDM_DISABLE=1`` silences it too).

    Attributes
    ----------
    manifold_ : geoopt manifold
        The latent manifold, in the latents' dtype.
    decoder_ : torch.nn.Module
        The fitted decoder (float32).
    latents_ : ndarray of shape (n_samples, *latent_shape_)
        Training latents on the manifold (N x n x p for matrices, complex for Siegel spaces).
    latent_shape_ : tuple of int
        Shape of one latent point (:func:`point_shape`).
    val_latents_ : ndarray or None
        Latents of ``X_val`` (optimised with the decoder frozen), if given.
    history_ : dict of lists
        Per epoch: ``epoch``, ``train_loss``, ``val_loss`` (NaN without ``X_val``).
    best_epoch_ : int
        Epoch of the restored state.
    diverged_at_ : int or None
        Epoch where the loss became non-finite (training stopped there), else None.
    n_features_in_ : int
        Number of data features.
    dtype_, device_ : torch dtype and device used.
    """

    _estimator_name = "RGD"

    def __init__(self, manifold="lorentz", latent_dim=2, curvature=None, noise_std=0.0,
                 noise="inverse_metric", noise_gradient="pathwise", hidden=(16, 32, 64, 128, 256),
                 loss="mse", epochs=750, batch_size=128, lr_latent=0.1, lr_decoder=2e-3,
                 betas_decoder=(0.9, 0.995), betas_latent=(0.5, 0.7), weight_decay=1e-3,
                 patience=85, min_epochs=150, restart_period=40, init_std=1e-3, prior="auto",
                 prior_std=1.0, n_starts=20, test_epochs=400, prune_keep=4, lr_test=0.1, seed=0,
                 device=None, dtype=None, verbose=True):
        self.manifold = manifold
        self.latent_dim = latent_dim
        self.curvature = curvature
        self.noise_std = noise_std
        self.noise = noise
        self.noise_gradient = noise_gradient
        self.hidden = hidden
        self.loss = loss
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr_latent = lr_latent
        self.lr_decoder = lr_decoder
        self.betas_decoder = betas_decoder
        self.betas_latent = betas_latent
        self.weight_decay = weight_decay
        self.patience = patience
        self.min_epochs = min_epochs
        self.restart_period = restart_period
        self.init_std = init_std
        self.prior = prior
        self.prior_std = prior_std
        self.n_starts = n_starts
        self.test_epochs = test_epochs
        self.prune_keep = prune_keep
        self.lr_test = lr_test
        self.seed = seed
        self.device = device
        self.dtype = dtype
        self.verbose = verbose

    # ---- public API -------------------------------------------------------------------------
    def fit(self, X, y=None, *, X_val=None):
        """Fit decoder and latents to ``X`` (N x D); ``X_val`` drives early stopping. ``y`` is
        ignored (scikit-learn convention)."""
        X, z, X_val, z_val = self._prepare_fit(X, X_val)
        self._train(X, z, X_val, z_val)
        return self

    def _prepare_fit(self, X, X_val):
        """Check everything and draw the initial decoder and latents (own generator); returns
        the data and latents as tensors ``(X, z, X_val, z_val)``."""
        self._check_params()
        dim = int(self.latent_dim)
        manifold = make_manifold(self.manifold, dim, self.curvature)
        self.dtype_ = check_latent_dtype(self.dtype or default_dtype(manifold), manifold)
        # curvature in the latents' (real) dtype
        self.manifold_ = adam_ready(copy.deepcopy(manifold).to(
            torch.empty((), dtype=self.dtype_).real.dtype))
        self.latent_shape_ = point_shape(self.manifold_, dim)
        self._check_prior_distance()
        self.device_ = pick_device(self.device)
        X = self._as_data(X, "X")
        self.n_features_in_ = X.shape[1]
        X_val = None if X_val is None else self._as_data(X_val, "X_val", self.n_features_in_)
        self._generator = make_generator(self.seed, self.device_)
        self.decoder_ = make_decoder(ambient_dim(self.manifold_, dim),
                                     self.n_features_in_, self.hidden, generator=self._generator
                                     ).to(self.device_, DECODER_DTYPE)
        z = self._init_latents(len(X))
        z_val = None if X_val is None else self._init_latents(len(X_val))
        return X, z, X_val, z_val

    def transform(self, X):
        """Test-time latents: multi-start from the best-matching training latents, then Riemannian
        optimisation of the reconstruction loss with the decoder frozen; the best start is kept."""
        self._check_fitted()
        X = self._as_data(X, "X", self.n_features_in_)
        starts = self._start_candidates(X)  # (M, S, *latent_shape_)
        self.decoder_.requires_grad_(False)
        try:
            targets = repeated_rows(X)
            chosen = optimise_starts(starts[None], self.manifold_,
                                     lambda z, k: self._per_sample_loss(z[0], targets(k))[None],
                                     self.lr_test, int(self.test_epochs), self.prune_keep,
                                     self.verbose)
        finally:
            self.decoder_.requires_grad_(True)
        return chosen[0].cpu().numpy()

    def inverse_transform(self, Z):
        """Decode latents (N x ``latent_shape_``) to data space (probabilities for the BCE loss).

        Latents must lie on ``manifold_`` (:func:`check_on_manifold`); the decoder was only ever
        trained there."""
        self._check_fitted()
        # models fitted before latent_shape_ existed had vector latents of the decoder's width
        shape = getattr(self, "latent_shape_", (self.decoder_[0].in_features,))
        Z = check_on_manifold(Z, self.manifold_, "Z", shape=shape)
        with torch.no_grad():
            out = self.decode(Z.to(self.device_))
            out = torch.sigmoid(out) if self.loss == "bce" else out
        return out.cpu().numpy()

    def decode(self, z):
        """The decoder's raw output (logits for the BCE loss) for latents ``z`` (a tensor on the
        model's device), differentiable; the pullback geometry is that of this map. Matrix and
        complex latents reach the network as flat real coordinates (:func:`decoder_coordinates`)."""
        return self.decoder_(decoder_coordinates(z, point_ndim(self.manifold_)).to(DECODER_DTYPE))

    def reconstruction_errors(self, X, Z):
        """MAE and MSE of the decoded ``Z`` against ``X``."""
        return reconstruction_errors(X, self.inverse_transform(Z))

    # ---- training ---------------------------------------------------------------------------
    def _train(self, X, z, X_val, z_val):
        latent_groups = [{"params": [z]}] + ([] if z_val is None else [{"params": [z_val]}])
        self._opt_latent = geoopt.optim.RiemannianAdam(latent_groups, lr=self.lr_latent,
                                                       betas=self.betas_latent)
        self._opt_decoder = torch.optim.AdamW(self.decoder_.parameters(), lr=self.lr_decoder,
                                              betas=self.betas_decoder,
                                              weight_decay=self.weight_decay, fused=True)
        self._schedulers = [torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, self.restart_period)
                            for o in (self._opt_latent, self._opt_decoder)]
        self._data = (X, z, X_val, z_val)
        # the best state is taken from min_epochs on (early epochs fit well but are unshaped)
        track_from = self.min_epochs if self.epochs > self.min_epochs and X_val is not None else 0
        try:
            self._run_epochs(int(self.epochs), has_validation=X_val is not None,
                             track_from=track_from, stop_from=self.min_epochs,
                             patience=self.patience, description=f"RGD {self._describe()}")
        finally:
            del self._data, self._opt_latent, self._opt_decoder, self._schedulers
        self._keep_latents(z, z_val)

    def _keep_latents(self, z, z_val):
        if not torch.isfinite(z).all():
            raise FloatingPointError(f"RGD latents are not finite after training. Hint: "
                                     f"{self._divergence_hint()}")
        self.latents_ = z.detach().cpu().numpy()
        self.val_latents_ = None if z_val is None else z_val.detach().cpu().numpy()

    def _run_epoch(self, epoch):
        X, z, X_val, z_val = self._data
        self._opt_latent.zero_grad()
        train_loss = self._train_epoch(X, z, self._opt_decoder)
        val_loss = None if z_val is None else self._validation_step(X_val, z_val)
        return train_loss, val_loss, {}

    def _after_epoch(self, epoch):
        self._opt_latent.step()
        for sched in self._schedulers:
            sched.step()

    def _train_epoch(self, X, z, opt_decoder):
        perm = torch.randperm(len(X), device=self.device_, generator=self._generator)
        total = 0.0
        for idx in perm.split(int(self.batch_size)):
            per_sample = self._per_sample_loss(self._noisy(z[idx]), X[idx])
            opt_decoder.zero_grad(set_to_none=True)
            self._objective(per_sample).backward()  # latent gradients accumulate over the epoch
            opt_decoder.step()
            total += per_sample.mean().item() * len(idx)
        return total / len(X)

    def _validation_step(self, X_val, z_val):
        """Loss of the validation latents, and their gradient (the decoder is left untouched)."""
        per_sample = self._per_sample_loss(self._validation_input(z_val), X_val)
        (z_val.grad,) = torch.autograd.grad(self._objective(per_sample), [z_val])
        return per_sample.mean().item()

    # the three steps a variant of the training may change (scripts/hmtdna_protocol.py does)
    def _noisy(self, z):
        """Training latents as the decoder sees them: with geometry-aware noise when σ > 0."""
        if self.noise_std > 0:
            return perturb(z, self.manifold_, self.noise_std, self.noise, self._generator,
                           gradient=self.noise_gradient)
        return z

    def _validation_input(self, z_val):
        """Validation latents as the decoder sees them: without noise."""
        return z_val

    def _objective(self, per_sample):
        """The loss differentiated: the mean over the batch of the per-sample loss."""
        return per_sample.mean()

    def _per_sample_loss(self, z, x):
        """Reconstruction loss per sample (mean over features) plus the prior term, in z's dtype."""
        rec = reconstruction_loss(self.decode(z), x, self.loss, z)
        if self._prior_active():
            origin = manifold_origin(self.manifold_, int(self.latent_dim), z.dtype, z.device)
            rec = rec + squared_prior_distance(z, self.manifold_, origin) / (
                2 * self.prior_std ** 2 * self.n_features_in_)
        return rec

    def _check_prior_distance(self):
        """The prior needs geodesic distances, which geoopt lacks for the Stiefel manifolds."""
        if not self._prior_active() or isinstance(self.manifold_, geoopt.Euclidean):
            return
        origin = manifold_origin(self.manifold_, int(self.latent_dim), self.dtype_)
        try:
            self.manifold_.dist(origin, origin)
        except NotImplementedError:
            raise NotImplementedError(
                f"prior={self.prior!r} needs the geodesic distance to the origin, which geoopt does "
                f"not provide for {type(self.manifold_).__name__}; use prior='none'") from None

    def _prior_active(self):
        if self.prior == "auto":
            return isinstance(self.manifold_, geoopt.Euclidean)
        return self.prior == "normal"

    def _get_state(self):
        _, z, _, z_val = self._data
        return (copy.deepcopy(self.decoder_.state_dict()), z.detach().clone(),
                None if z_val is None else z_val.detach().clone())

    def _set_state(self, state):
        _, z, _, z_val = self._data
        decoder, zb, zvb = state
        self.decoder_.load_state_dict(decoder)
        with torch.no_grad():
            z.copy_(zb)
            if z_val is not None:
                z_val.copy_(zvb)

    def _divergence_hint(self):
        return (f"lower lr_latent ({self.lr_latent}), lr_decoder ({self.lr_decoder}) or noise_std "
                f"({self.noise_std}), or use dtype=torch.float64.")

    # ---- helpers ----------------------------------------------------------------------------
    def _init_latents(self, n):
        points = random_points(self.manifold_, n, int(self.latent_dim), self.init_std,
                               self.dtype_, self.device_, self._generator)
        return geoopt.ManifoldParameter(points, manifold=self.manifold_)

    def _start_candidates(self, X_new, max_reference=5000, chunk=1024):
        """For each new sample the ``n_starts`` training latents whose decodings fit it best."""
        Z = torch.as_tensor(self.latents_, device=self.device_)
        if len(Z) > max_reference:
            gen = torch.Generator().manual_seed(self.seed)
            Z = Z[torch.randperm(len(Z), generator=gen)[:max_reference].to(self.device_)]
        k = min(int(self.n_starts), len(Z))
        with torch.no_grad():
            decoded = self.decode(Z)
            if self.loss == "bce":
                decoded = torch.sigmoid(decoded)
            picks = [torch.cdist(xb, decoded).topk(k, largest=False).indices
                     for xb in X_new.split(chunk)]
        return Z[torch.cat(picks)]

    def _as_data(self, X, name, n_features=None):
        X = check_data(X, name, n_features, type(self).__name__)
        largest = float(np.abs(X).max())
        if largest > MAX_DATA_MAGNITUDE:
            raise ValueError(f"{name} has values up to {largest:.3g}: the decoder runs in float32, "
                             f"whose squared errors overflow beyond {MAX_DATA_MAGNITUDE:.0e}; "
                             "standardise or rescale the data")
        if self.loss == "bce" and (X.min() < 0 or X.max() > 1):
            raise ValueError(f"{name} must lie in [0, 1] for loss='bce' (binary data); use loss='mse'")
        return torch.as_tensor(X, dtype=DECODER_DTYPE, device=self.device_)

    def _check_params(self):
        """Every parameter up front, so bad values fail here with the fix rather than as a
        divergence many epochs later."""
        check_integer(self.latent_dim, "latent_dim")
        for name in ("epochs", "batch_size", "n_starts", "test_epochs", "restart_period"):
            check_integer(getattr(self, name), name)
        for name in ("patience", "min_epochs", "seed"):
            check_integer(getattr(self, name), name, minimum=0)
        for name in ("prior_std", "init_std"):
            check_real(getattr(self, name), name, positive=True)
        for name in ("noise_std", "weight_decay", "lr_latent", "lr_decoder", "lr_test"):  # 0 freezes
            check_real(getattr(self, name), name)
        if self.prune_keep is not None:
            check_integer(self.prune_keep, "prune_keep")
        if self.noise not in NOISE_MODES:
            raise ValueError(f"unknown noise {self.noise!r}; choose one of {NOISE_MODES}")
        if self.noise_gradient not in NOISE_GRADIENTS:
            raise ValueError(f"unknown noise_gradient {self.noise_gradient!r}; choose one of "
                             f"{NOISE_GRADIENTS}")
        if self.loss not in ("mse", "bce"):
            raise ValueError(f"unknown loss {self.loss!r}; choose 'mse' or 'bce'")
        if self.prior not in ("auto", "normal", "none"):
            raise ValueError(f"unknown prior {self.prior!r}; choose 'auto', 'normal' or 'none'")
        if self.dtype is not None and not isinstance(self.dtype, torch.dtype):
            raise TypeError(f"dtype must be a torch.dtype (e.g. torch.float64) or None, got "
                            f"{self.dtype!r}")

    def _describe(self):
        name = self.manifold if isinstance(self.manifold, str) else type(self.manifold).__name__
        return f"{name} σ={self.noise_std:g}"


def fit_together(estimators, X, X_val=None):
    """Fit many :class:`RiemannianDecoder` s (seeds, σ values, learning rates) in one batched run;
    each is afterwards fitted as if alone. See :mod:`rgdkit.training.together`."""
    from rgdkit.training import together  # imports this module: loaded on first use
    return together.fit_together(estimators, X, X_val)


def transform_together(estimators, X):
    """Test-time latents of ``X`` for many fitted members at once (one array per member)."""
    from rgdkit.training import together
    return together.transform_together(estimators, X)
