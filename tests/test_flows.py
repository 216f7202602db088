"""The Riemannian continuous normalising flow (rgdkit.generation.flows): the base density with a
zero field, a density that integrates to one for a random field (so the Riemannian divergence is
right), and fits that recover a known density's held-out log-likelihood on S² and H²."""
import math

import numpy as np
import pytest
import torch

from rgdkit.baselines.pvae import WrappedNormal
from rgdkit.generation import RiemannianFlowDensity
from rgdkit.generation import flows as F
from rgdkit.generation.density import sample_vmf, vmf_log_normaliser
from rgdkit.manifolds import check_on_manifold, make_manifold, random_points

MARGIN = 0.1  # nats: the fitted flow's held-out mean log-likelihood below the true density's
pytestmark = pytest.mark.usefixtures("one_thread")  # small flow networks


def random_field(flow, scale, seed=1):
    """Give an (unfitted) flow's network random weights, every layer N(0, scale² / fan_in)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for w in flow.network_.weights:
            w.copy_(torch.randn(w.shape, generator=generator, dtype=w.dtype)
                    * scale / math.sqrt(w.shape[1]))
        for b in flow.network_.biases:
            b.copy_(0.3 * torch.randn(b.shape, generator=generator, dtype=b.dtype))
    return flow


def sphere_grid(n_u=48, n_phi=96):
    """Gauss–Legendre in z = cos θ times uniform in φ: nodes on S² and weights of dA = dz dφ."""
    u, w = np.polynomial.legendre.leggauss(n_u)
    phi = np.arange(n_phi) * 2 * np.pi / n_phi
    U, P = np.meshgrid(u, phi, indexing="ij")
    s = np.sqrt(1 - U ** 2)
    points = np.stack([s * np.cos(P), s * np.sin(P), U], -1).reshape(-1, 3)
    weights = np.repeat(w, n_phi) * 2 * np.pi / n_phi
    return points, weights


def hyperbolic_grid(k, radius=10.0, n_r=64, n_theta=96):
    """Geodesic polar coordinates (r, θ) at the origin of Lorentz(k): points exp_o(r (cos θ,
    sin θ)) and weights of the hyperbolic area element sinh(r/√k) √k dr dθ (Gauss–Legendre in r)."""
    x, w = np.polynomial.legendre.leggauss(n_r)
    r, w = radius * (x + 1) / 2, w * radius / 2
    theta = np.arange(n_theta) * 2 * np.pi / n_theta
    R, T = np.meshgrid(r, theta, indexing="ij")
    sk = math.sqrt(k)
    points = np.stack([sk * np.cosh(R / sk), sk * np.sinh(R / sk) * np.cos(T),
                       sk * np.sinh(R / sk) * np.sin(T)], -1).reshape(-1, 3)
    weights = np.repeat(w * sk * np.sinh(r / sk), n_theta) * 2 * np.pi / n_theta
    return points, weights


def some_points(name, n=20, k=1.0):
    manifold = make_manifold(name, 2, curvature=None if name == "sphere" else k)
    return random_points(manifold, n, 2, std=0.7, generator=torch.Generator().manual_seed(0))


# --------------------------------------------------------------------------------------------
# the zero field
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sphere", "lorentz"])
def test_zero_field_gives_the_base_density_exactly(name):
    Z = some_points(name, k=2.0)
    options = {} if name == "sphere" else {"curvature": 2.0, "base_std": 0.7}
    flow = RiemannianFlowDensity(name, epochs=0, hidden=(8,), **options).fit(Z)
    assert float(flow.network_.weights[-1].detach().abs().max()) == 0  # the last layer starts at 0
    got = flow.score_samples(Z)
    if name == "sphere":
        expected = np.full(len(Z), -math.log(4 * math.pi))
    else:
        manifold = make_manifold("lorentz", 2, curvature=2.0)
        wn = WrappedNormal(manifold.origin(3, dtype=torch.float64), 0.7, manifold)
        expected = wn.log_prob(Z).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # and sampling is drawing from the base: on H² the base's own density scores the samples
    samples = flow.sample(500, seed=3)
    check_on_manifold(torch.as_tensor(samples), flow.manifold_, "samples")
    np.testing.assert_allclose(flow.score_samples(samples),
                               np.full(500, expected[0]) if name == "sphere"
                               else wn.log_prob(torch.as_tensor(samples)).numpy(), atol=1e-10)


# --------------------------------------------------------------------------------------------
# normalisation: the divergence term is right
# --------------------------------------------------------------------------------------------
def autograd_divergence(geometry, net, y, t, manifold_correction=True):
    """The field and its divergence by reverse-mode autograd, one vector-Jacobian product per
    coordinate: on S² tr(P_y ∂f/∂y) (or, without the correction, the ambient trace tr ∂f/∂y); in
    the chart of H² Σᵢ ∂ᵢfⁱ + f · ∇ log √|G| with ∇ log √|G| by autograd of (d - 1) log sinhc
    (or, without the correction, the Euclidean Σᵢ ∂ᵢfⁱ alone)."""
    with torch.enable_grad():
        y = y.detach().requires_grad_(True)
        f = geometry.field(net, y, t)
        rows = [torch.autograd.grad(f[:, k].sum(), y, retain_graph=True)[0]
                for k in range(f.shape[1])]
        jac = torch.stack(rows, 1)  # ∂f_k/∂y_j
        div = jac.diagonal(dim1=1, dim2=2).sum(1)
        if manifold_correction and isinstance(geometry, F._Sphere):
            div = div - (y.unsqueeze(1) @ jac @ y.unsqueeze(2))[:, 0, 0]
        elif manifold_correction:
            log_volume = (geometry.dim - 1) * F._log_sinhc(geometry.sqrt_c * y.norm(dim=1))
            grad, = torch.autograd.grad(log_volume.sum(), y)
            div = div + (f * grad).sum(1)
    return f.detach(), div.detach()


def random_flow(name, k=2.0, scale=1.0):
    Z = some_points(name, k=k)
    options = {} if name == "sphere" else {"curvature": k, "base_std": 1.0}
    return random_field(RiemannianFlowDensity(name, epochs=0, hidden=(16, 16), n_steps=6,
                                              **options).fit(Z), scale=scale)


@pytest.mark.parametrize("name", ["sphere", "lorentz"])
def test_divergence_matches_autograd(name):
    flow = random_flow(name)
    geometry = flow._geometry_
    points = some_points(name, n=50, k=2.0)
    y = geometry.prepare(geometry.to_state(points))
    if name == "sphere":  # also off the sphere, where RK4's stages evaluate it
        y = geometry.prepare(1.3 * y)
    with torch.no_grad():
        f, div = geometry.field_and_divergence(flow.network_, y, 0.4)
    f_ref, div_ref = autograd_divergence(geometry, flow.network_, y, 0.4)
    np.testing.assert_allclose(f, f_ref, atol=1e-12)
    np.testing.assert_allclose(div, div_ref, atol=1e-10)
    assert float(div.abs().max()) > 0.1  # a field that is not divergence-free
    if name == "sphere":  # tangent by construction
        assert float((f * y).sum(1).abs().max()) < 1e-12


@pytest.mark.parametrize("name", ["sphere", "lorentz"])
def test_random_field_density_integrates_to_one(name, monkeypatch):
    k = 2.0
    flow = random_flow(name, k=k)
    points, weights = sphere_grid() if name == "sphere" else hyperbolic_grid(k)
    log_p = flow.score_samples(points)
    # the field moves mass a lot (else a wrong divergence could pass) ...
    base = flow._geometry_.base_log_prob(flow._geometry_.to_state(torch.as_tensor(points)))
    assert np.abs(log_p - base.numpy()).max() > 1.0
    mass = float((weights * np.exp(log_p)).sum())
    # measured: 1 + 4e-6 (S²), 1 + 8e-6 (H², k = 2), the RK4 step error (24 steps: 1 + 3e-8)
    assert abs(mass - 1) < 1e-3, mass
    # ... and a divergence without the manifold's correction fails the same check
    wrong = lambda geometry, net, y, t: autograd_divergence(geometry, net, y, t, False)
    monkeypatch.setattr(type(flow._geometry_), "field_and_divergence", wrong)
    wrong_mass = float((weights * np.exp(flow.score_samples(points))).sum())
    assert abs(wrong_mass - 1) > 0.02, wrong_mass  # measured: 7.08 (S²), 1.14 (H²)


# --------------------------------------------------------------------------------------------
# fits to known densities
# --------------------------------------------------------------------------------------------
def test_fit_recovers_a_von_mises_fisher_on_the_sphere():
    kappa = 5.0
    mu = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    Z = sample_vmf(np.tile(mu, (3000, 1)), np.full(3000, kappa), np.random.default_rng(0))
    train, test = Z[:1000], Z[1000:]
    true = lambda X: vmf_log_normaliser(3, kappa) + kappa * (X @ mu - 1)
    flow = RiemannianFlowDensity("sphere", hidden=(32, 32), epochs=30, batch_size=500, n_steps=3,
                                 lr=2e-2, seed=0).fit(train)
    heldout, truth = flow.score(test), float(true(test).mean())
    assert heldout > truth - MARGIN, (heldout, truth)  # measured: -1.258 against -1.236
    assert flow.history_[-1] > flow.history_[0] + 1.0
    # the step error is small: more steps give the same log-likelihoods
    assert abs(float(flow.score_samples(test[:300], n_steps=12).mean())
               - float(flow.score_samples(test[:300]).mean())) < 0.01
    samples = flow.sample(2000, seed=1)
    check_on_manifold(torch.as_tensor(samples), flow.manifold_, "samples")
    np.testing.assert_allclose(np.linalg.norm(samples, axis=1), 1, atol=1e-12)
    # the samples follow the density: their mean is A₃(κ) μ, their true log-likelihood close
    resultant = 1 / math.tanh(kappa) - 1 / kappa
    assert np.linalg.norm(samples.mean(0) - resultant * mu) < 0.05
    assert float(true(samples).mean()) > truth - 0.15  # measured: -1.232
    np.testing.assert_array_equal(samples, flow.sample(2000, seed=1))


def test_fit_recovers_a_wrapped_normal_on_the_hyperboloid():
    k = 2.0
    manifold = make_manifold("lorentz", 2, curvature=k)
    origin = manifold.origin(3, dtype=torch.float64)
    centre = manifold.expmap(origin, torch.tensor([0.0, 0.8, 0.3], dtype=torch.float64))
    wn = WrappedNormal(centre, torch.tensor([0.6, 0.3], dtype=torch.float64), manifold)
    Z = wn.rsample(3000, generator=torch.Generator().manual_seed(0))
    train, test = Z[:1000], Z[1000:]
    flow = RiemannianFlowDensity(manifold, hidden=(32, 32), epochs=15, batch_size=200, n_steps=4,
                                 lr=1e-2, seed=0).fit(train)
    heldout, truth = flow.score(test), float(wn.log_prob(test).mean())
    assert heldout > truth - MARGIN, (heldout, truth)  # measured: -1.158 against -1.154
    samples = flow.sample(2000, seed=1)
    check_on_manifold(torch.as_tensor(samples), manifold, "samples")
    minkowski = (samples[:, 1:] ** 2).sum(1) - samples[:, 0] ** 2
    np.testing.assert_allclose(minkowski, -k, rtol=1e-10)
    assert float(wn.log_prob(torch.as_tensor(samples)).mean()) > truth - 0.15


# --------------------------------------------------------------------------------------------
# the estimator's habits
# --------------------------------------------------------------------------------------------
def test_seeded_and_leaves_the_global_random_state_alone():
    Z = some_points("sphere", n=40)
    state = torch.get_rng_state()
    a = RiemannianFlowDensity(hidden=(8,), epochs=2, batch_size=16, seed=4).fit(Z)
    b = RiemannianFlowDensity(hidden=(8,), epochs=2, batch_size=16, seed=4).fit(Z)
    assert torch.equal(state, torch.get_rng_state())
    np.testing.assert_array_equal(a.score_samples(Z), b.score_samples(Z))
    np.testing.assert_array_equal(a.sample(10), b.sample(10))
    assert not np.array_equal(a.sample(10, seed=1), a.sample(10, seed=2))
    assert len(a.history_) == a.n_iter_ == 2
    # float32 latents (1e-7 off the sphere) are accepted and scored in float64
    np.testing.assert_allclose(a.score_samples(Z.float()), a.score_samples(Z), atol=1e-5)


def test_bad_inputs_fail_with_their_fix():
    Z = some_points("sphere")
    with pytest.raises(ValueError, match="'sphere' or 'lorentz'"):
        RiemannianFlowDensity("torus")
    with pytest.raises(ValueError, match="curvature"):
        RiemannianFlowDensity("sphere", curvature=2.0)
    with pytest.raises(ValueError, match="lr"):
        RiemannianFlowDensity(lr=0)
    with pytest.raises(ValueError, match="not fitted"):
        RiemannianFlowDensity().score_samples(Z)
    with pytest.raises(ValueError, match="not on the Sphere"):
        RiemannianFlowDensity(epochs=0).fit(2 * Z)
    with pytest.raises(ValueError, match="not on the Lorentz"):
        RiemannianFlowDensity("lorentz", epochs=0).fit(Z)
    flow = RiemannianFlowDensity(epochs=0, hidden=(4,)).fit(Z)
    with pytest.raises(ValueError, match="fitted on 3"):
        flow.score_samples(np.ones((4, 5)) / math.sqrt(5))
    with pytest.raises(ValueError, match="NaN"):
        flow.score_samples(np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        RiemannianFlowDensity(epochs=0).fit(np.ones(3))
