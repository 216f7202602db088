"""Pullback geometry: tangent bases, Jacobians, the metric, volume element, grids, geodesics."""
import copy
import math

import geoopt
import numpy as np
import pytest
import torch
from torch import nn

from rgdkit.plotting import figures
import rgd_utils as R
import rgdkit.metrics as M
from rgdkit.geometry import pullback as P

F64 = torch.float64


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


def points(name, n=40, std=1.5, k=5.0):
    m = R.make_manifold(name, 2, curvature=k if name == "lorentz" else None)
    return m, R.random_points(m, n, 2, std=std)


def mlp(n_in, n_out=6, dtype=F64):
    return nn.Sequential(nn.Linear(n_in, 16), nn.ELU(), nn.Linear(16, n_out)).to(dtype)


def jacobian_loop(f, z):
    return torch.stack([torch.autograd.functional.jacobian(f, zi) for zi in z])


# ---- tangent bases -----------------------------------------------------------------------
def metric_gram(name, z, B, m):
    """Gram matrices (N, d, d) of the basis columns, written out per model (not via geoopt)."""
    if name == "lorentz":
        eta = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=F64))
        return B.transpose(1, 2) @ eta @ B
    gram = B.transpose(1, 2) @ B
    if name == "poincare":
        lam = 2 / (1 - float(m.c) * z.square().sum(1))
        gram = lam[:, None, None] ** 2 * gram
    return gram


def tangency(name, z, B):
    """<z, b> in the constraint's inner product, which must vanish for tangent vectors."""
    if name == "lorentz":
        return (z[:, 1:, None] * B[:, 1:]).sum(1) - z[:, :1] * B[:, 0]
    if name == "sphere":
        return (z[:, :, None] * B).sum(1)
    if name == "torus":
        return (z[:, :, None] * B).unflatten(1, (2, 2)).sum(2)  # per circle
    return torch.zeros(1)


@pytest.mark.parametrize("name", R.MANIFOLDS)
def test_tangent_basis_is_orthonormal_and_tangent(name):
    m, z = points(name)
    if name == "sphere":  # both hemispheres, the poles and the equator, where the frame switches
        z = torch.cat([z, torch.tensor([[1.0, 0, 0], [-1.0, 0, 0], [0, 0.6, 0.8], [-0.6, 0.8, 0]],
                                       dtype=F64)])
    if name == "lorentz":  # far from the origin, where the Euclidean norms are large
        z = torch.cat([z, R.random_points(m, 5, 2, std=6.0)])
    B = P.tangent_basis(z, m)
    assert B.shape == (len(z), R.ambient_dim(m, 2), 2) and torch.isfinite(B).all()
    eye = torch.eye(2, dtype=F64).expand(len(z), 2, 2)
    torch.testing.assert_close(metric_gram(name, z, B, m), eye, atol=1e-9, rtol=1e-9)
    assert float(tangency(name, z, B).abs().max()) < 1e-9
    for i in range(2 if name != "lorentz" else 0):  # geoopt's Lorentz check mixes dtypes
        m.assert_check_vector_on_tangent(z, B[:, :, i], atol=1e-7, rtol=1e-7)


def test_tangent_basis_accepts_names_and_numpy():
    _, z = points("torus", n=5)
    B = P.tangent_basis(z.numpy(), "torus")
    torch.testing.assert_close(B, P.tangent_basis(z, R.make_manifold("torus")))
    assert P.tangent_basis(torch.zeros(3, 5, dtype=F64), "euclidean").shape == (3, 5, 5)


def test_lorentz_basis_is_the_transported_origin_frame():
    """At the origin the frame is e_1, e_2; on the x1 axis it is the boosted frame."""
    k, r = 5.0, 1.2
    m = R.make_manifold("lorentz", curvature=k)
    z = torch.tensor([[math.sqrt(k), 0, 0], [math.sqrt(k) * math.cosh(r), math.sqrt(k) * math.sinh(r), 0]],
                     dtype=F64)
    B = P.tangent_basis(z, m)
    torch.testing.assert_close(B[0], torch.eye(3, dtype=F64)[:, 1:])
    boosted = torch.tensor([[math.sinh(r), 0], [math.cosh(r), 0], [0, 1]], dtype=F64)
    torch.testing.assert_close(B[1], boosted)


# ---- Jacobian, metric, volume ------------------------------------------------------------
def test_decoder_jacobian_matches_autograd_loop():
    _, z = points("lorentz", n=7)
    net = mlp(3)
    J = P.decoder_jacobian(net, z)
    assert J.shape == (7, 6, 3) and J.dtype == F64
    torch.testing.assert_close(J, jacobian_loop(net, z).detach())
    torch.testing.assert_close(P.decoder_jacobian(net, z, chunk_size=2), J)


def test_float32_decoder_with_float64_latents():
    """The cast: a float32 network differentiates float64 latents and returns float64."""
    _, z = points("lorentz", n=5)
    net32 = mlp(3, dtype=torch.float32)
    J = P.decoder_jacobian(net32, z)
    assert J.dtype == F64
    ref = jacobian_loop(copy.deepcopy(net32).double(), z).detach()
    torch.testing.assert_close(J, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["sphere", "lorentz", "poincare", "torus"])
def test_pullback_metric_of_linear_decoder(name):
    m, z = points(name, n=10)
    A = torch.randn(7, z.shape[1], dtype=F64)
    G = P.pullback_metric(lambda x: A @ x, z, m)
    B = P.tangent_basis(z, m).numpy()
    An = A.numpy()
    expected = np.einsum("nai,ba,bc,ncj->nij", B, An, An, B)
    np.testing.assert_allclose(G.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(G.numpy()) > 0)


def test_pullback_metric_is_identity_for_isometries():
    Q, _ = torch.linalg.qr(torch.randn(5, 2, dtype=F64))  # orthonormal columns: R² → R⁵ isometry
    z = torch.randn(20, 2, dtype=F64)
    torch.testing.assert_close(P.pullback_metric(lambda x: Q @ x, z, "euclidean"),
                               torch.eye(2, dtype=F64).expand(20, 2, 2))
    # the inclusions of S² in R³ and of the flat torus in R⁴ are isometric embeddings too
    for name in ("sphere", "torus"):
        m, zs = points(name, n=20)
        torch.testing.assert_close(P.pullback_metric(lambda x: x, zs, m),
                                   torch.eye(2, dtype=F64).expand(20, 2, 2))


def test_poincare_identity_decoder_gives_inverse_conformal_factor():
    """f = id on the ball: G = I/λ², so the volume element is 1/λ² in two dimensions."""
    m, z = points("poincare", n=20)
    lam = 2 / (1 - z.square().sum(1))
    G = P.pullback_metric(lambda x: x, z, m)
    torch.testing.assert_close(G, torch.eye(2, dtype=F64) / lam[:, None, None] ** 2)
    torch.testing.assert_close(P.volume_element(lambda x: x, z, m), lam ** -2)


@pytest.mark.parametrize("name", ["lorentz", "sphere"])
def test_volume_element_matches_independent_determinant(name):
    m, z = points(name, n=8)
    net = mlp(3)
    vol = P.volume_element(net, z, m)
    J = jacobian_loop(net, z).detach().numpy()
    B = P.tangent_basis(z, m).numpy()
    JB = J @ B
    expected = np.sqrt(np.linalg.det(np.transpose(JB, (0, 2, 1)) @ JB))
    assert vol.shape == (8,) and np.all(expected > 0)
    np.testing.assert_allclose(vol.numpy(), expected, rtol=1e-9)


def test_volume_element_of_singular_decoder_is_zero_not_nan():
    _, z = points("lorentz", n=6)
    vol = P.volume_element(lambda x: x[:1].repeat(4), z, R.make_manifold("lorentz", curvature=5.0))
    assert torch.isfinite(vol).all() and float(vol.max()) < 1e-6


def test_fitted_model_as_decoder():
    X = torch.rand(40, 6).numpy()
    model = R.RiemannianDecoder(manifold="lorentz", epochs=3, hidden=(8,), verbose=False).fit(X)
    G = P.pullback_metric(model, model.latents_, model.manifold_)
    assert G.shape == (40, 2, 2) and G.dtype == F64 and torch.isfinite(G).all()
    net64 = copy.deepcopy(model.decoder_).double()
    torch.testing.assert_close(G, P.pullback_metric(net64, model.latents_, model.manifold_),
                               rtol=1e-3, atol=1e-6)
    grads = [None if p.grad is None else p.grad.clone() for p in model.decoder_.parameters()]
    curve, _ = P.geodesic(model, model.latents_[0], model.latents_[1], model.manifold_, steps=3)
    assert torch.isfinite(curve).all()
    for p, g in zip(model.decoder_.parameters(), grads):  # the decoder's gradients are untouched
        assert (p.grad is None and g is None) or torch.equal(p.grad, g)


# ---- chart grids -------------------------------------------------------------------------
@pytest.mark.parametrize("name", R.MANIFOLDS)
def test_chart_grid_points_lie_on_manifold(name):
    m = R.make_manifold(name, 2, curvature=5.0 if name == "lorentz" else None)
    pts, coords, shape = P.chart_grid(m, resolution=12)
    assert shape == (12, 12) and pts.shape == (144, R.ambient_dim(m, 2)) and coords.shape == (144, 2)
    assert torch.isfinite(pts).all()
    m.assert_check_point_on_manifold(pts)
    if name == "lorentz":  # explicit constraint and the plotting convention of figures.py
        np.testing.assert_allclose((pts[:, 1:].square().sum(1) - pts[:, 0] ** 2).numpy(), -5.0)
        np.testing.assert_allclose(coords, figures.lorentz_to_poincare(pts, 5.0), atol=1e-12)
        assert np.isclose(np.linalg.norm(coords, axis=1).max(), 0.95 * math.sqrt(5.0))
    if name == "sphere":
        x = pts.numpy()
        lon, lat = np.arctan2(x[:, 1], x[:, 0]), np.arcsin(x[:, 2])
        inside = np.abs(coords[:, 1]) < np.pi / 2 - 1e-6  # longitude is undefined at the poles
        np.testing.assert_allclose(np.cos(lon - coords[:, 0])[inside], 1.0)
        np.testing.assert_allclose(lat, coords[:, 1], atol=1e-7)
    if name == "torus":
        np.testing.assert_allclose(np.cos(figures.torus_angles(pts) - coords), 1.0)


# ---- geodesics ---------------------------------------------------------------------------
def assert_energy_decreases(history):
    """Adam is not monotone step by step, so: the end beats the start, it is (up to round-off)
    the best value seen, and the means of ten consecutive blocks of steps never increase."""
    h = np.asarray(history)
    assert h[-1] < h[0]
    assert h[-1] <= h.min() + 1e-6 * h[0]
    blocks = h[: len(h) // 10 * 10].reshape(10, -1).mean(1)
    assert np.all(np.diff(blocks) <= 1e-6 * h[0])


def test_geodesic_of_isometry_returns_to_straight_line():
    Q, _ = torch.linalg.qr(torch.randn(5, 2, dtype=F64))
    a, b = torch.tensor([-1.0, 0.3], dtype=F64), torch.tensor([1.2, -0.4], dtype=F64)
    t = torch.linspace(0, 1, 12, dtype=F64)[:, None]
    bump = torch.sin(math.pi * t) * torch.tensor([0.2, 0.5], dtype=F64)  # zero at both ends
    init = a + t * (b - a) + bump
    decode = lambda x: Q @ x
    curve, history = P.geodesic(decode, a, b, "euclidean", n_points=12, steps=300, lr=2e-2, init=init)
    assert torch.equal(curve[0], a) and torch.equal(curve[-1], b)
    torch.testing.assert_close(curve, a + t * (b - a), atol=1e-3, rtol=0)  # evenly spaced too
    assert abs(P.curve_length(decode, curve) - float((Q @ (b - a)).norm())) < 1e-3
    assert P.curve_length(decode, init) > float((b - a).norm()) + 0.1  # the start was far off
    assert_energy_decreases(history)


def test_geodesic_on_sphere_with_isometric_decoder_is_great_circle():
    """f = inclusion S² ⊂ R³: from a perturbed curve the optimum returns to the great circle with
    equal chords, length (n-1)·2 sin(θ / 2(n-1)) for arc θ."""
    m = R.make_manifold("sphere")
    a, b = torch.tensor([1.0, 0, 0], dtype=F64), torch.tensor([0, 0.6, 0.8], dtype=F64)
    n, theta = 10, math.pi / 2
    t = torch.linspace(0, 1, n, dtype=F64)[:, None]
    bump = torch.sin(math.pi * t) * torch.tensor([0, 0.5, -0.3], dtype=F64)
    init = m.projx(m.expmap(a, t * m.logmap(a, b)) + bump)
    curve, history = P.geodesic(lambda x: x, a, b, m, n_points=n, steps=300, lr=2e-2, init=init)
    assert torch.equal(curve[0], a) and torch.equal(curve[-1], b)
    m.assert_check_point_on_manifold(curve)
    normal = torch.linalg.cross(a, b)
    assert float((curve @ normal).abs().max()) < 1e-3  # in the plane of the great circle
    expected = (n - 1) * 2 * math.sin(theta / (2 * (n - 1)))
    assert abs(P.curve_length(lambda x: x, curve) - expected) < 1e-3
    assert_energy_decreases(history)


@pytest.mark.parametrize("name", ["sphere", "lorentz", "torus", "poincare"])
def test_geodesic_with_mlp_keeps_endpoints_and_stays_on_manifold(name):
    m, z = points(name, n=2, std=1.0)
    net = mlp(z.shape[1], dtype=torch.float32)
    curve, history = P.geodesic(net, z[0], z[1], m, n_points=10, steps=150)
    assert curve.shape == (10, z.shape[1]) and curve.dtype == F64 and len(history) == 151
    assert torch.equal(curve[0], z[0]) and torch.equal(curve[-1], z[1])
    m.assert_check_point_on_manifold(curve)
    assert_energy_decreases(history)
    assert history[-1] < 0.999 * history[0]  # the manifold geodesic was not already optimal


def test_curve_length_of_polyline():
    curve = torch.tensor([[0.0, 0.0], [3.0, 4.0], [3.0, 6.0]], dtype=F64)
    assert P.curve_length(lambda x: x, curve) == pytest.approx(7.0)
    assert P.curve_length(lambda x: 2 * x, curve.numpy()) == pytest.approx(14.0)


def test_geodesic_distances_on_sphere_match_great_circle_distances():
    m, Z = points("sphere", n=5, std=0.8)
    lengths = P.geodesic_distances(lambda x: x, Z, m, n_points=24, steps=20, progress=False)
    exact = M.upper_triangle(M.pairwise_distances(Z, m))
    assert lengths.shape == (10,)
    np.testing.assert_allclose(lengths, exact, rtol=2e-3)  # chords of a 23-segment arc
    some = P.geodesic_distances(lambda x: x, Z, m, pairs=[(0, 3), (4, 1)], n_points=24, steps=20,
                                batch_size=1, progress=False)
    D = M.pairwise_distances(Z, m)
    np.testing.assert_allclose(some, [D[0, 3], D[4, 1]], rtol=2e-3)


# ---- bad input ---------------------------------------------------------------------------
def test_bad_manifolds_and_shapes_raise():
    z = torch.randn(4, 3, dtype=F64)
    with pytest.raises(ValueError, match="unknown manifold 'hyperbolic'.*lorentz"):
        P.tangent_basis(z, "hyperbolic")
    with pytest.raises(ValueError, match="no tangent basis for CanonicalStiefel.*Lorentz"):
        P.tangent_basis(z, geoopt.Stiefel())
    with pytest.raises(ValueError, match="2-D"):
        P.tangent_basis(z[0], "sphere")
    with pytest.raises(ValueError, match="torus of 2 circles have 4 coordinates, got 3"):
        P.tangent_basis(z, R.make_manifold("torus"))
    with pytest.raises(ValueError, match="one latent .* to a vector"):
        P.decoder_jacobian(lambda x: torch.outer(x, x), z)
    with pytest.raises(TypeError, match="callable"):
        P.decoder_jacobian(3, z)


def test_bad_geodesic_and_grid_arguments_raise():
    a, b = torch.zeros(2, dtype=F64), torch.ones(3, dtype=F64)
    with pytest.raises(ValueError, match="same shape"):
        P.geodesic(lambda x: x, a, b, "euclidean")
    with pytest.raises(ValueError, match="init must have shape"):
        P.geodesic(lambda x: x, a, a + 1, "euclidean", n_points=5, init=torch.zeros(4, 2))
    with pytest.raises(ValueError, match="n_points"):
        P.geodesic(lambda x: x, a, a + 1, "euclidean", n_points=2)
    with pytest.raises(ValueError, match=r"pairs must be .* \(P, 2\)"):
        P.geodesic_distances(lambda x: x, torch.zeros(3, 2), "euclidean", pairs=[0, 1])
    with pytest.raises(ValueError, match="pair indices"):
        P.geodesic_distances(lambda x: x, torch.zeros(3, 2), "euclidean", pairs=[(0, 3)])
    with pytest.raises(ValueError, match="torus has 3 circles"):
        P.chart_grid(R.make_manifold("torus", 3))
    with pytest.raises(ValueError, match=r"fraction .* \(0, 1\)"):
        P.chart_grid("lorentz", radius=1.5)
    with pytest.raises(ValueError, match="unknown manifold"):
        P.chart_grid("klein")


def test_a_curve_started_on_its_geodesic_is_returned_no_worse():
    # f(z) = z on the sphere: the great circle is already the pullback geodesic, and Adam's
    # lr-sized steps around a vanishing gradient would only make it longer
    m = geoopt.Sphere()
    a, b = torch.tensor([1.0, 0, 0], dtype=F64), torch.tensor([0, 1.0, 0], dtype=F64)
    start, _ = P.geodesic(lambda x: x, a, b, m, n_points=64, steps=0)
    curve, history = P.geodesic(lambda x: x, a, b, m, n_points=64, steps=20)
    assert max(history) > history[0]  # the optimiser did wander off
    assert history[-1] == pytest.approx(history[0]) and torch.allclose(curve, start)


def test_geodesics_of_many_pairs_are_each_pairs_own_geodesic():
    """Optimised together, each curve is the one optimised alone (the energy separates)."""
    m, z = points("lorentz", n=6, std=1.0)
    net = mlp(z.shape[1], dtype=torch.float32)
    curves, history = P.geodesics(net, z[:3], z[3:], m, n_points=8, steps=60)
    assert curves.shape == (3, 8, z.shape[1]) and len(history) == 61
    for p in range(3):
        alone, _ = P.geodesic(net, z[p], z[3 + p], m, n_points=8, steps=60)
        torch.testing.assert_close(curves[p], alone, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        P.geodesics(net, z[:3], z[3:5], m)
