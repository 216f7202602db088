"""Tangent-space kernels of the geometry-aware noise: orthonormal frames, closed-form parallel
transport from the origin, and the linear form of the exponential map (pure functions; the noise
itself is :func:`rgd_utils.geometric_noise`)."""
from __future__ import annotations

import geoopt
import torch

from rgdkit.manifolds.registry import exp_or_retr, is_torus

def draws_per_factor(manifold, mode):
    """Whether :func:`rgd_utils.geometric_noise` draws factor by factor (not one normal shaped like z)."""
    return mode == "metric" and (isinstance(manifold, geoopt.Scaled) or (
        isinstance(manifold, geoopt.ProductManifold) and not is_torus(manifold)))


def has_induced_metric(manifold):
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


def expmap_linear_factor(manifold, eps):
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


def exp_at_fixed_tangent(manifold, z, eps):
    """exp_z(eps) whose gradient reaches ``z`` through the exponential map alone (``eps`` held
    fixed). Where exp_z(eps) = a z + b for fixed eps (:func:`expmap_linear_factor`: Euclidean,
    sphere, torus, Lorentz), ``a * z + b`` gives the same value and the formula's gradient at a
    fraction of autograd's cost through geoopt; elsewhere expmap, or the retraction."""
    with torch.no_grad():
        scale = expmap_linear_factor(manifold, eps)
        if scale is not None:
            offset = manifold.expmap(z, eps) - scale * z
    if scale is None:
        return exp_or_retr(manifold, z, eps)
    return scale * z + offset
