"""The manifolds the estimator takes by name, and what it needs to know of each.

Names map to geoopt classes (:func:`make_manifold`); for every supported class this module knows
the shape of one point, the real coordinates the decoder sees, the latent dtype (float64 for
hyperbolic latents: chosen here and nowhere else), a deterministic origin, random points near it,
and a RiemannianAdam-ready variant of the Siegel spaces. The noise and the estimator in
``rgd_utils`` are written against these functions.
"""
from __future__ import annotations

import copy
import math
import numbers

import geoopt
import torch

from rgdkit.validation import check_integer

MANIFOLDS = ("euclidean", "sphere", "torus", "lorentz", "poincare")
# every geoopt 0.5.1 manifold class the estimator takes by name (case-insensitive), beside MANIFOLDS
GEOOPT_MANIFOLDS = (
    "Euclidean", "ProductManifold", "Stiefel", "CanonicalStiefel", "EuclideanStiefel",
    "EuclideanStiefelExact", "Sphere", "SphereExact", "Stereographic", "StereographicExact",
    "PoincareBall", "PoincareBallExact", "SphereProjection", "SphereProjectionExact", "Scaled",
    "Lorentz", "SymmetricPositiveDefinite", "UpperHalf", "BoundedDomain")
# the curvature parameter's meaning per manifold name, and the range accepted: far outside it
# cosh and arcosh over- or underflow in float64
CURVED = {"lorentz": "k", "poincare": "c", "poincareball": "c", "poincareballexact": "c",
          "stereographic": "-kappa", "stereographicexact": "-kappa", "sphereprojection": "k",
          "sphereprojectionexact": "k"}
CURVATURE_RANGE = (1e-4, 1e4)
SUPPORTED_CLASSES = tuple(getattr(geoopt, name) for name in GEOOPT_MANIFOLDS)


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

    Parameters
    ----------
    name : str or geoopt manifold
        A short name, a geoopt class name, or an instance of one of those classes.
    dim : int
        Intrinsic dimension (vector manifolds) or matrix size (Stiefel, SPD, Siegel).
    curvature : float or None
        Only for the names in ``CURVED``, within ``CURVATURE_RANGE``; None means 1.

    Returns
    -------
    geoopt.manifolds.Manifold

    Raises
    ------
    ValueError
        An unknown name, a geoopt class outside ``GEOOPT_MANIFOLDS``, a curvature given for a
        manifold without one (it would be ignored), or outside ``CURVATURE_RANGE``.
    """
    if isinstance(name, geoopt.manifolds.Manifold):
        if not isinstance(name, SUPPORTED_CLASSES):
            raise ValueError(f"{type(name).__name__} is not supported as a latent manifold; use "
                             f"one of {', '.join(GEOOPT_MANIFOLDS)}")
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
    """The latents' dtype: ``dtype``, or :func:`default_dtype` when None.

    Raises
    ------
    TypeError
        ``dtype`` is neither None nor a torch.dtype.
    ValueError
        Latents of ``manifold`` cannot use it (half precision; real for the Siegel spaces).
    """
    if dtype is None:
        return default_dtype(manifold)
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype (e.g. torch.float64) or None, got {dtype!r}")
    allowed = tuple(d.to_complex() for d in LATENT_DTYPES) if is_complex_manifold(manifold) \
        else LATENT_DTYPES
    if dtype not in allowed:
        raise ValueError(f"dtype {dtype!r} is not supported for {type(manifold).__name__} latents; "
                         f"use one of {', '.join(map(str, allowed))} (None chooses "
                         f"{default_dtype(manifold)}): half precision cannot hold points on a "
                         "manifold through training")
    return dtype


def latent_manifold(manifold, dtype):
    """A copy of ``manifold`` for latents of ``dtype``: its curvature in the real dtype, and the
    Siegel spaces in their RiemannianAdam-ready class (:func:`adam_ready`)."""
    return adam_ready(copy.deepcopy(manifold).to(torch.empty((), dtype=dtype).real.dtype))


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
    if not is_builtin(manifold):
        noise = torch.randn((n, *origin.shape), dtype=dtype, device=device, generator=generator)
        base = origin.expand(n, *origin.shape)
        return exp_or_retr(manifold, base, std * manifold.proju(base, noise))
    v = torch.randn(n, dim, dtype=dtype, device=device, generator=generator) * std
    return manifold.expmap(origin.expand(n, -1), _embed_tangent_at_origin(manifold, v))


def is_builtin(manifold):
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


def is_torus(manifold):
    """Whether ``manifold`` is a product of circles (the torus of :func:`make_manifold`)."""
    return isinstance(manifold, geoopt.ProductManifold) and all(
        isinstance(m, geoopt.Sphere) for m in manifold.manifolds)


def check_has_distance(manifold, dim, needed_by, dtype=None):
    """Raise NotImplementedError, naming ``needed_by``, when geoopt has no geodesic distance for
    ``manifold`` (the Stiefel classes); Euclidean space always has one."""
    if isinstance(manifold, geoopt.Euclidean):
        return
    origin = manifold_origin(manifold, dim, dtype or default_dtype(manifold))
    try:
        manifold.dist(origin, origin)
    except NotImplementedError:
        raise NotImplementedError(f"{needed_by} needs geodesic distances, which geoopt does not "
                                  f"provide for {type(manifold).__name__}; use prior='none'") from None
