"""Pullback geometry of a trained decoder f: latent manifold → R^D.

The decoder pulls the Euclidean metric of data space back to the latent manifold:
G(z) = Bᵀ Jᵀ J B, with J the Jacobian of f in ambient latent coordinates and B an orthonormal
basis of the tangent space at z (orthonormal in the manifold's own metric, so G = I exactly
where f is a local isometry). From G come the volume element sqrt(det G) and pullback geodesics,
found by minimising the discrete curve energy of decoded curves.

``decode`` is either a function of one latent (ambient,) → (D,), an ``nn.Module`` (called per
point), or a fitted :class:`rgd_utils.RiemannianDecoder` (its raw network output: logits for
``loss="bce"``). Latents may be numpy arrays or tensors; results keep the latents' dtype.
"""
from __future__ import annotations

import math

import geoopt
import numpy as np
import torch
from torch import nn
from tqdm import tqdm  # text bars, as in rgd_utils

import rgd_utils as R
from rgdkit.manifolds import is_builtin


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------
def _as_points(z):
    return z if torch.is_tensor(z) else torch.as_tensor(np.asarray(z))


def _as_function(decode):
    """A function of one latent that runs the decoder in its own dtype and returns z's dtype."""
    if hasattr(decode, "decoder_"):  # a fitted RiemannianDecoder: float32 net, maybe float64 z
        return lambda z: decode.decode(z.to(decode.device_)).to(z)
    if isinstance(decode, nn.Module):
        param = next(decode.parameters(), None)
        if param is None:
            return decode
        return lambda z: decode(z.to(param)).to(z)
    if not callable(decode):
        raise TypeError(f"decode must be callable, an nn.Module or a fitted RiemannianDecoder, "
                        f"got {type(decode).__name__}")
    return decode


def _resolve(manifold, n_ambient):
    """A geoopt manifold; names are built with the intrinsic dimension implied by ``n_ambient``."""
    if isinstance(manifold, str):
        dim = {"sphere": n_ambient - 1, "lorentz": n_ambient - 1,
               "torus": n_ambient // 2}.get(manifold.lower(), n_ambient)
        return R.make_manifold(manifold, max(dim, 1))
    return R.make_manifold(manifold)  # instances pass through; anything else raises ValueError


def _check_points(z, manifold):
    if z.ndim != 2:
        raise ValueError(f"latents must be 2-D (points x ambient coordinates), got shape {tuple(z.shape)}")
    n = z.shape[1]
    if isinstance(manifold, (geoopt.Sphere, geoopt.Lorentz)) and n < 2:
        raise ValueError(f"{type(manifold).__name__} points need at least 2 coordinates, got {n}")
    if R.is_torus(manifold) and n != 2 * len(manifold.manifolds):
        raise ValueError(f"points of a torus of {len(manifold.manifolds)} circles have "
                         f"{2 * len(manifold.manifolds)} coordinates, got {n}")
    R.check_on_manifold(z, manifold, "latents")  # a metric off the manifold means nothing


# --------------------------------------------------------------------------------------------
# Tangent bases and the pullback metric
# --------------------------------------------------------------------------------------------
def tangent_basis(z, manifold):
    """Orthonormal tangent bases at points ``z`` (N, ambient): a tensor (N, ambient, d) whose
    columns are orthonormal in the manifold's metric."""
    z = _as_points(z)
    manifold = _resolve(manifold, z.shape[-1])
    if not is_builtin(manifold):
        raise ValueError(f"no tangent basis for {type(manifold).__name__}; supported: Euclidean, "
                         "Sphere, Lorentz, PoincareBall and products of circles (torus)")
    _check_points(z, manifold)
    n = z.shape[1]
    eye = torch.eye(n, dtype=z.dtype, device=z.device)
    if isinstance(manifold, geoopt.Euclidean):
        return eye.expand(len(z), n, n).clone()
    if isinstance(manifold, geoopt.PoincareBall):
        return eye / manifold.lambda_x(z, keepdim=True).to(z)[:, :, None]  # G = λ² I
    if isinstance(manifold, geoopt.Sphere):
        return _sphere_basis(z, eye)
    if isinstance(manifold, geoopt.Lorentz):
        # transport of e_1..e_d from the origin along geodesics: smooth and Minkowski-orthonormal
        frame = torch.cat([torch.zeros(n - 1, 1, dtype=z.dtype, device=z.device), eye[1:, 1:]], 1)
        return manifold.transp0(z[:, None, :], frame).to(z).transpose(1, 2)
    circles = z.unflatten(1, (-1, 2))  # the torus
    unit = torch.stack([-circles[..., 1], circles[..., 0]], -1)
    unit = unit / unit.norm(dim=-1, keepdim=True)
    m = circles.shape[1]
    blocks = unit[..., None] * torch.eye(m, dtype=z.dtype, device=z.device)[:, None, :]
    return blocks.reshape(len(z), n, m)


def _sphere_basis(z, eye):
    """Parallel transport of e_1..e_d from the nearer pole ±e_0 to z: orthonormal and tangent,
    smooth on each hemisphere (the antipodal pole, where it is undefined, is never used)."""
    sign = torch.where(z[:, :1] >= 0, 1.0, -1.0).to(z)
    pole = torch.zeros_like(z)
    pole[:, :1] = sign
    coef = z[:, 1:] / (1 + sign * z[:, :1])
    return eye[:, 1:] - (pole + z)[:, :, None] * coef[:, None, :]


def decoder_jacobian(decode, z, chunk_size=None):
    """Jacobians (N, D, ambient) of the decoder at each latent, by vmap over jacrev (detached).

    ``chunk_size`` bounds how many points are differentiated at once (memory)."""
    z = _as_points(z)
    if z.ndim != 2:
        raise ValueError(f"latents must be 2-D (points x ambient coordinates), got shape {tuple(z.shape)}")
    jac = torch.func.vmap(torch.func.jacrev(_as_function(decode)), chunk_size=chunk_size)(z)
    if jac.ndim != 3:
        raise ValueError("decode must map one latent (ambient,) to a vector (D,); its Jacobian "
                         f"has shape {tuple(jac.shape[1:])}")
    return jac.detach()  # values for analysis; no graph back into the decoder's parameters


def pullback_metric(decode, z, manifold, chunk_size=None):
    """G(z) = Bᵀ Jᵀ J B (N, d, d) in the orthonormal tangent basis B of :func:`tangent_basis`."""
    z = _as_points(z)
    basis = tangent_basis(z, manifold)
    jb = decoder_jacobian(decode, z, chunk_size) @ basis.to(z)
    return jb.transpose(1, 2) @ jb


def volume_element(decode, z, manifold, chunk_size=None):
    """sqrt(det G(z)) (N,): how much the decoder stretches a unit latent volume."""
    det = torch.linalg.det(pullback_metric(decode, z, manifold, chunk_size))
    return det.clamp_min(0).sqrt()  # round-off can make a singular G's determinant slightly negative


# --------------------------------------------------------------------------------------------
# Plotting grids
# --------------------------------------------------------------------------------------------
def chart_grid(manifold, resolution=50, radius=None):
    """A (resolution x resolution) grid over a 2-D latent manifold, for heat maps of e.g. the
    volume element.

    Returns ``(points, coords, shape)``: points on the manifold (M, ambient) as float64 tensor,
    plotting coordinates (M, 2) numpy, and the grid shape; ``coords.reshape(*shape, 2)`` suits
    ``pcolormesh``/``contourf``. Hyperbolic models use a polar grid in the Poincaré disk out to
    ``radius`` (a fraction of the boundary, default 0.95): for Lorentz(k) the coordinates are those
    of ``figures.lorentz_to_poincare`` (disk of radius sqrt k), for PoincareBall(c) the ball's own.
    The sphere uses (longitude, latitude) with the pole on the last axis, the torus the two angles
    in [-π, π] (as ``figures.torus_angles``), Euclidean space the box [-radius, radius]² (default 3).
    """
    manifold = R.make_manifold(manifold, 2)  # instances pass through, names get dimension 2
    if R.is_torus(manifold) and len(manifold.manifolds) != 2:
        raise ValueError(f"chart_grid draws 2-D latents; this torus has {len(manifold.manifolds)} circles")
    a, b = _grid_axes(manifold, resolution, radius)
    if isinstance(manifold, (geoopt.Lorentz, geoopt.PoincareBall)):
        points, coords = _disk_points(manifold, a, b)
    elif isinstance(manifold, geoopt.Sphere):
        points = torch.stack([b.cos() * a.cos(), b.cos() * a.sin(), b.sin()], -1)
        coords = torch.stack([a, b], -1)
    elif R.is_torus(manifold):
        points = torch.stack([a.cos(), a.sin(), b.cos(), b.sin()], -1)
        coords = torch.stack([a, b], -1)
    else:
        points = coords = torch.stack([a, b], -1)
    return points.reshape(-1, points.shape[-1]), coords.reshape(-1, 2).numpy(), tuple(a.shape)


def _grid_axes(manifold, resolution, radius):
    """The two grid coordinates (resolution x resolution) in the chart of each manifold."""
    if int(resolution) != resolution or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2, got {resolution!r}")
    disk = isinstance(manifold, (geoopt.Lorentz, geoopt.PoincareBall))
    radius = (0.95 if disk else 3.0) if radius is None else float(radius)
    if disk and not 0 < radius < 1:
        raise ValueError(f"radius is a fraction of the Poincaré disk and must lie in (0, 1), got {radius}")
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius}")
    line = lambda lo, hi: torch.linspace(lo, hi, int(resolution), dtype=torch.float64)
    if disk:
        first, second = line(0.0, radius), line(-math.pi, math.pi)  # radius, angle
    elif isinstance(manifold, geoopt.Sphere):
        first, second = line(-math.pi, math.pi), line(-math.pi / 2, math.pi / 2)
    elif R.is_torus(manifold):
        first, second = line(-math.pi, math.pi), line(-math.pi, math.pi)
    elif isinstance(manifold, geoopt.Euclidean):
        first, second = line(-radius, radius), line(-radius, radius)
    else:
        raise ValueError(f"chart_grid supports the 2-D built-in manifolds, not {type(manifold).__name__}")
    return torch.meshgrid(first, second, indexing="ij")


def _disk_points(manifold, r, theta):
    u = torch.stack([r * theta.cos(), r * theta.sin()], -1)  # unit-disk coordinates
    if isinstance(manifold, geoopt.PoincareBall):
        z = u / manifold.c.to(u).sqrt()
        return z, z
    # inverse of u = x[1:] / (sqrt k + x0)
    sqrt_k, sq = manifold.k.to(u).sqrt(), u.square().sum(-1, keepdim=True)
    x = sqrt_k * torch.cat([1 + sq, 2 * u], -1) / (1 - sq)
    return x, sqrt_k * u


# --------------------------------------------------------------------------------------------
# Geodesics
# --------------------------------------------------------------------------------------------
def geodesic(decode, z_start, z_end, manifold, n_points=16, steps=300, lr=2e-2, init=None):
    """The pullback geodesic from ``z_start`` to ``z_end`` (ambient,) as a discrete curve.

    Inner points start on the manifold's own geodesic (or at the inner points of ``init``,
    (n_points, ambient)) and are moved by RiemannianAdam, with cosine-annealed ``lr``, to minimise
    the energy (n_points - 1) Σ_t ‖f(c_{t+1}) - f(c_t)‖²; the endpoints stay fixed. Returns the
    lowest-energy curve seen (n_points, ambient) and the energy before each step, the last entry
    being that curve's energy (never above the first).
    """
    z_start, z_end = _as_points(z_start), _as_points(z_end)
    if z_start.ndim != 1 or z_start.shape != z_end.shape:
        raise ValueError("z_start and z_end must be single points of the same shape (ambient,), got "
                         f"{tuple(z_start.shape)} and {tuple(z_end.shape)}")
    if init is not None:
        init = _as_points(init).to(z_start)
        if init.shape != (n_points, len(z_start)):
            raise ValueError(f"init must have shape {(n_points, len(z_start))}, got {tuple(init.shape)}")
        init = init[None]
    curves, history = _optimise_curves(_as_function(decode), z_start[None], z_end[None], manifold,
                                       n_points, steps, lr, init)
    return curves[0], history


def geodesics(decode, starts, ends, manifold, n_points=16, steps=300, lr=2e-2):
    """Pullback geodesics between many endpoint pairs at once, as :func:`geodesic` finds one:
    ``starts`` and ``ends`` (P, ambient) give P curves (P, n_points, ambient), each the
    lowest-energy state of its own (the summed energy separates by curve). Returns the curves
    and the summed energy before each step. Raises ValueError for endpoint arrays of other
    shapes."""
    starts, ends = _as_points(starts), _as_points(ends)
    if starts.ndim != 2 or starts.shape != ends.shape:
        raise ValueError("starts and ends must be arrays of the same shape (pairs, ambient), got "
                         f"{tuple(starts.shape)} and {tuple(ends.shape)}")
    return _optimise_curves(_as_function(decode), starts, ends, manifold, n_points, steps, lr)


def _optimise_curves(f, starts, ends, manifold, n_points=16, steps=300, lr=2e-2, init=None):
    """Pullback geodesics between many endpoint pairs (P, ambient) at once: each curve's energy
    depends only on its own points, so minimising the sum optimises every curve independently."""
    if int(n_points) != n_points or n_points < 3:
        raise ValueError(f"n_points must be an integer >= 3 (a curve needs inner points), got {n_points!r}")
    manifold = _resolve(manifold, starts.shape[-1])
    _check_points(starts, manifold)
    _check_points(ends, manifold)
    inner0 = _manifold_geodesic(starts, ends, manifold, int(n_points)) if init is None else init[:, 1:-1]
    inner = geoopt.ManifoldParameter(inner0.detach().clone(), manifold=manifold)
    opt = geoopt.optim.RiemannianAdam([inner], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(int(steps), 1))
    best_inner = inner.detach().clone()
    best_energy = torch.full((len(starts),), torch.inf, dtype=inner.dtype, device=inner.device)
    history = []
    for step in range(int(steps) + 1):
        with torch.set_grad_enabled(step < steps):  # the last pass only scores the final curves
            energies = _energies(f, _full_curves(starts, inner, ends))
        # Adam's steps stay about lr long even where the gradient vanishes, so a curve that starts
        # at (or reaches) its geodesic can drift off it again: keep each curve's best state
        better = energies.detach() < best_energy
        best_energy = torch.where(better, energies.detach(), best_energy)
        best_inner[better] = inner.detach()[better]
        history.append(energies.sum().item())
        if step < steps:
            (inner.grad,) = torch.autograd.grad(energies.sum(), [inner])  # decoder's .grad untouched
            opt.step()
            schedule.step()
    history[-1] = best_energy.sum().item()
    curves = _full_curves(starts, best_inner, ends)
    return curves.detach(), history


def _manifold_geodesic(starts, ends, manifold, n_points):
    """Inner points exp_a(t log_a(b)), t in (0, 1), of the manifold geodesics (P, n_points-2, ambient)."""
    t = torch.linspace(0, 1, n_points, dtype=starts.dtype, device=starts.device)[1:-1, None]
    with torch.no_grad():
        v = manifold.logmap(starts, ends)
        return manifold.expmap(starts[:, None, :], t * v[:, None, :])


def _full_curves(starts, inner, ends):
    return torch.cat([starts[:, None, :], inner, ends[:, None, :]], 1)


def _decode_curves(f, curves):
    flat = torch.func.vmap(f)(curves.reshape(-1, curves.shape[-1]))
    return flat.reshape(*curves.shape[:-1], -1)


def _energies(f, curves):
    """Discrete energy per curve (P,): (n - 1) Σ ‖Δf‖², which tends to ∫‖J ċ‖² dt on [0, 1]."""
    steps = _decode_curves(f, curves).diff(dim=1)
    return (curves.shape[1] - 1) * steps.square().sum((1, 2))


def _lengths(f, curves):
    with torch.no_grad():
        return _decode_curves(f, curves).diff(dim=1).norm(dim=-1).sum(1)


def curve_length(decode, curve):
    """Pullback length Σ_t ‖f(c_{t+1}) - f(c_t)‖ of a discrete curve (n, ambient)."""
    curve = _as_points(curve)
    if curve.ndim != 2 or len(curve) < 2:
        raise ValueError(f"a curve is (points >= 2, ambient), got shape {tuple(curve.shape)}")
    return float(_lengths(_as_function(decode), curve[None])[0])


def geodesic_distances(decode, Z, manifold, pairs=None, batch_size=64, progress=True, **kw):
    """Pullback geodesic lengths (P,) numpy between latents ``Z`` for index ``pairs`` (P, 2).

    Without ``pairs`` all i < j pairs are used, in the order of ``rgdkit.metrics.distances.upper_triangle``, so
    the result can be correlated with ``upper_triangle(D_ref)``. ``batch_size`` pairs are
    optimised together; ``kw`` go to :func:`geodesic` (n_points, steps, lr).
    """
    Z = _as_points(Z)
    if Z.ndim != 2:
        raise ValueError(f"Z must be 2-D (points x ambient coordinates), got shape {tuple(Z.shape)}")
    pairs = np.stack(np.triu_indices(len(Z), k=1), 1) if pairs is None else np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise ValueError(f"pairs must be an integer array of shape (P, 2), got {pairs.shape} {pairs.dtype}")
    if pairs.size and (pairs.min() < 0 or pairs.max() >= len(Z)):
        raise ValueError(f"pair indices must lie in [0, {len(Z)}), got range [{pairs.min()}, {pairs.max()}]")
    f = _as_function(decode)
    lengths = [np.zeros(0)]
    bar = tqdm(range(0, len(pairs), batch_size), desc="pullback geodesics",
               **({} if progress else {"disable": True}))  # unset keeps TQDM_DISABLE working
    for i in bar:
        idx = torch.as_tensor(pairs[i:i + batch_size])
        curves, _ = _optimise_curves(f, Z[idx[:, 0]], Z[idx[:, 1]], manifold, **kw)
        lengths.append(_lengths(f, curves).double().cpu().numpy())
    return np.concatenate(lengths)
