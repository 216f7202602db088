"""Orthonormal tangent coordinates on the non-compact latent manifolds, in closed form.

A frame maps orthonormal coordinates v (..., d) at a point mu to the point exp_mu(PT_{o→mu} v)
and back (``exp``, ``log``), where o is the origin and PT the parallel transport along the
geodesic from o: the same coordinates the Gaussians of :mod:`rgdkit.manifolds.normals` and the
P-VAE baseline (:mod:`rgdkit.baselines.pvae`) are written in. The geodesic distance d(mu, z)
equals the Euclidean norm |v| of the coordinates of z. Three models:

* :class:`BallFrame`: geoopt.PoincareBall(c), curvature -c; the whole ball is the chart, so
  points can reach its boundary (``project`` moves them back, as geoopt's projx does);
* :class:`LorentzFrame`: geoopt.Lorentz(k), curvature -1/k (c = 1/k), no boundary;
* :class:`EuclideanFrame`: geoopt.Euclidean, c = 0, exp_mu(v) = mu + v.
"""
from __future__ import annotations

import math

import geoopt
import torch

from rgdkit.manifolds.tangent import lorentz_transport_from_origin

__all__ = ["BallFrame", "EuclideanFrame", "LAMBDA_0", "LorentzFrame", "orthonormal_frame",
           "project_into_ball"]

LAMBDA_0 = 2.0  # conformal factor of the Poincaré ball at the origin (any c)
# geoopt's margins: projx keeps points 1 - eps inside the boundary (eps by dtype), tanh clamps
# its argument at 15 and artanh at 1 - 1e-7 (stereographic.math); the closed forms below keep them
PROJECTION_EPS = {torch.float32: 4e-3, torch.float64: 1e-5}
TANH_MAX, ARTANH_MAX, MIN_NORM = 15.0, 1 - 1e-7, 1e-15


def project_into_ball(x, c):
    """Points beyond (1 - eps) / sqrt(c) scaled back to that radius (geoopt's projx), and their
    number; a NaN point is left as it is and not counted.

    Parameters
    ----------
    x : torch.Tensor
        Points (..., d) of R^d, float32 or float64.
    c : float
        The ball's curvature parameter (curvature -c, radius 1 / sqrt(c)).

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        The projected points (the others come back bit for bit) and the number moved (a 0-d
        long tensor).
    """
    max_norm = (1 - PROJECTION_EPS[x.dtype]) / math.sqrt(c)
    norm = x.norm(dim=-1, keepdim=True).clamp_min(MIN_NORM)
    moved = (norm > max_norm) & (norm < math.inf)  # NaN compares False
    # the factor is exactly 1 inside, so those points come back bit for bit
    return x * (max_norm / norm).clamp_max(1.0), moved.sum()


class BallFrame:
    """Orthonormal coordinates at the origin of geoopt.PoincareBall(c), in closed form (a handful
    of tensor operations each, which is what a training step spends its time on).

    With lambda_0 = 2 the conformal factor at the origin, a geoopt vector there is v / lambda_0;
    transporting it to mu multiplies it by lambda_0 / lambda_mu, and exp_mu divides by the same
    factor, so exp_mu(PT_{0→mu}(v)) = mu ⊕ exp_0(v / lambda_0) and, inversely, the coordinates of
    z are lambda_0 log_0((-mu) ⊕ z). The whole ball is the chart: points can hit its boundary
    (exp_0 saturates at a geodesic distance 2 * 15 / sqrt(c) from the origin, geoopt's clamp).
    """

    def __init__(self, ball):
        self.manifold, self.c = ball, float(ball.c)
        self.sqrt_c = math.sqrt(self.c)

    @staticmethod
    def dim(mu):
        """Intrinsic dimension d of points (..., d)."""
        return mu.shape[-1]

    def exp0(self, v):
        """exp_0(v / lambda_0): the point |v| from the origin in the direction of v."""
        n = self.sqrt_c * v.norm(dim=-1, keepdim=True).clamp_min(MIN_NORM)
        return v * ((n / LAMBDA_0).clamp_max(TANH_MAX).tanh() / n)

    def log0(self, z):
        """lambda_0 log_0(z), the inverse of :meth:`exp0`."""
        n = self.sqrt_c * z.norm(dim=-1, keepdim=True).clamp_min(MIN_NORM)
        return z * (LAMBDA_0 * n.clamp_max(ARTANH_MAX).atanh() / n)

    def exp(self, mu, v):
        """mu ⊕ exp_0(v / lambda_0) = exp_mu(PT_{0→mu}(v / lambda_0))."""
        return self.mobius_add(mu, self.exp0(v))

    def log(self, mu, z):
        """The coordinates v of z: lambda_0 log_0((-mu) ⊕ z)."""
        return self.log0(self.mobius_add(-mu, z))

    def mobius_add(self, x, y):
        """Möbius addition x ⊕ y on the ball of curvature -c."""
        c = self.c
        x2, y2 = x.square().sum(-1, keepdim=True), y.square().sum(-1, keepdim=True)
        a = 1 + 2 * c * (x * y).sum(-1, keepdim=True)
        return ((a + c * y2) * x + (1 - c * x2) * y) / (a + c * c * x2 * y2).clamp_min(MIN_NORM)

    def project(self, z):
        """:func:`project_into_ball` at this curvature."""
        return project_into_ball(z, self.c)

    def check_point(self, mu):
        """ValueError unless every point of ``mu`` lies strictly inside the ball."""
        if (self.c * mu.square().sum(-1) >= 1).any():
            raise ValueError(f"mu must lie inside the Poincaré ball (|mu| < 1/sqrt(c) = "
                             f"{self.c ** -0.5:.4g})")


class LorentzFrame:
    """Orthonormal coordinates at the origin (sqrt k, 0, ..) of geoopt.Lorentz(k), sectional
    curvature -1/k: the tangent vector of v is (0, v), transported to mu in closed form
    (:func:`rgdkit.manifolds.tangent.lorentz_transport_from_origin`). No boundary."""

    def __init__(self, lorentz):
        self.manifold, self.sqrt_c = lorentz, float(lorentz.k) ** -0.5
        self.c = self.sqrt_c ** 2

    @staticmethod
    def dim(mu):
        """Intrinsic dimension d of points (..., d + 1)."""
        return mu.shape[-1] - 1

    def tangent(self, mu, v):
        """The ambient tangent vector at mu of the coordinates v: PT_{o→mu}((0, v))."""
        return lorentz_transport_from_origin(mu, v, self.manifold.k.to(mu))

    def exp(self, mu, v):
        """exp_mu(u) = cosh(|v| / sqrt k) mu + sinh(|v| / sqrt k) / (|v| / sqrt k) u with
        u = PT_{o→mu}((0, v)), whose Minkowski norm is |v| (transport is an isometry). geoopt's
        expmap computes the same with the norm clamped at 1e-4, which leaves points closer than
        that to mu off the hyperboloid (by ~5e-9 k)."""
        x = (v.norm(dim=-1, keepdim=True) * self.sqrt_c).clamp_min(torch.finfo(v.dtype).tiny)
        return torch.cosh(x) * mu + (torch.sinh(x) / x) * self.tangent(mu, v)

    def log(self, mu, z):
        """The coordinates v of z: PT_{mu→o}(log_mu z) without its zero first entry."""
        return self.manifold.transp0back(mu, self.manifold.logmap(mu, z))[..., 1:]

    @staticmethod
    def project(z):
        """Nothing to project: z and a zero count."""
        return z, torch.zeros((), dtype=torch.long, device=z.device)

    def check_point(self, mu):
        """ValueError unless every point of ``mu`` lies on the upper sheet of the hyperboloid."""
        k = self.manifold.k.to(mu)
        minkowski = mu[..., 1:].square().sum(-1) - mu[..., 0].square()
        if mu.shape[-1] < 2 or (mu[..., 0] <= 0).any() or not torch.allclose(
                minkowski, -k.expand_as(minkowski), rtol=1e-6, atol=1e-6 * float(k)):
            raise ValueError(f"mu must lie on the hyperboloid -x0^2 + |x1:|^2 = -k = {-float(k):.4g}"
                             " with x0 > 0 (map a point there with manifold.projx)")


class EuclideanFrame:
    """Coordinates of R^d (geoopt.Euclidean): exp_mu(v) = mu + v, c = 0."""

    c = sqrt_c = 0.0

    def __init__(self, manifold=None):
        self.manifold = manifold

    @staticmethod
    def dim(mu):
        """Intrinsic dimension d of points (..., d)."""
        return mu.shape[-1]

    @staticmethod
    def exp(mu, v):
        """mu + v."""
        return mu + v

    @staticmethod
    def log(mu, z):
        """z - mu."""
        return z - mu

    @staticmethod
    def project(z):
        """Nothing to project: z and a zero count."""
        return z, torch.zeros((), dtype=torch.long, device=z.device)

    @staticmethod
    def check_point(mu):
        """ValueError unless every entry of ``mu`` is finite."""
        if not torch.isfinite(mu).all():
            raise ValueError("mu has NaN or inf entries")


def orthonormal_frame(manifold):
    """The frame of ``manifold``: :class:`BallFrame` for geoopt.PoincareBall (and its exact
    variant), :class:`LorentzFrame` for geoopt.Lorentz, :class:`EuclideanFrame` for
    geoopt.Euclidean; NotImplementedError for any other manifold."""
    if isinstance(manifold, geoopt.PoincareBall):
        return BallFrame(manifold)
    if isinstance(manifold, geoopt.Lorentz):
        return LorentzFrame(manifold)
    if type(manifold) is geoopt.Euclidean:
        return EuclideanFrame(manifold)
    raise NotImplementedError(f"no orthonormal frame in closed form for {type(manifold).__name__}; "
                              "supported: geoopt.Lorentz, geoopt.PoincareBall, geoopt.Euclidean")
