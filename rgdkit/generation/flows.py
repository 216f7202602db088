"""A Riemannian continuous normalising flow (Mathieu & Nickel 2020, "Riemannian continuous
normalizing flows"): a density on the sphere S^d or on hyperbolic space H^d fitted to latents by
maximum likelihood, beside the mixtures of :mod:`rgdkit.generation.density`.

The density is the push-forward of a base density p₀ by the time-1 flow of an ODE on the manifold,
dz/dt = f_θ(z, t), t ∈ [0, 1] (base at t = 0, data at t = 1). Along a trajectory the log density
with respect to the Riemannian volume changes by the Riemannian divergence of the field (the
continuous change of variables on a manifold):

    d/dt log p_t(z(t)) = -div f_θ(z(t), t),  so  log p₁(x) = log p₀(z(0)) - ∫₀¹ div f_θ(z(t), t) dt,

with z(1) = x. Scoring a point integrates (z, ∫ div) jointly from t = 1 back to t = 0; sampling
draws from p₀ and integrates forward from t = 0 to t = 1. All densities are with respect to the
Riemannian volume (surface measure on S^d, the hyperbolic volume on H^d), as in ``density``, so
held-out log-likelihoods of a flow and of a mixture on one manifold compare directly.

**Sphere** S^d (``geoopt.Sphere``, unit vectors of R^(d+1)). A network g_θ(y, t) : R^(d+1) × R →
R^(d+1) gives the field f(y, t) = (I - y yᵀ) g_θ(y, t), tangent by construction, evaluated at
y = z / |z| (so the field is defined, and still tangent to the sphere through z, at the
intermediate stages of a step, which sit O(h²) off the sphere). Its Riemannian divergence is the
trace of the ambient Jacobian over the tangent space (the ambient divergence of the projected
field, less its normal part): with J = ∂g/∂y and P_y = I - y yᵀ,

    div f = tr(P_y ∂f/∂y) = tr J - yᵀ J y - d (g · y).

The base p₀ is uniform, 1 / |S^d|.

**Hyperbolic space** H^d (``geoopt.Lorentz(k)``, -x₀² + |x₁:|² = -k, curvature -c with c = 1/k,
points in R^(d+1)). The flow runs in the chart of orthonormal tangent coordinates at the origin
o = (√k, 0, ..): v = log_o(z) ∈ R^d, z = exp_o(v), a global diffeomorphism. In these coordinates
the volume element is √|G(v)| = (sinh(√c r) / (√c r))^(d-1), r = |v| (geodesic polar
coordinates), and the field is any vector field on R^d, f(v, t) = s · g_θ(v / s, t) (s the base
scale, so the network sees coordinates of order one). Its Riemannian divergence is, in the chart,

    div f = |G|^(-1/2) Σᵢ ∂ᵢ(|G|^(1/2) fⁱ) = Σᵢ ∂ᵢfⁱ + f · ∇ log √|G|,
    ∇ log √|G|(v) = (d - 1) (√c r coth(√c r) - 1) / r² · v,

the first term from the network's Jacobian, the second in closed form. The base p₀ is the
wrapped normal at the origin with isotropic scale s, log p₀(v) = log N(v; 0, s² I)
- (d - 1) log sinhc(√c r) (the density of :class:`rgdkit.baselines.pvae.WrappedNormal`, written
out here so that this module needs nothing above ``rgdkit.manifolds``). ``base_std=None`` takes
s from the training latents (the maximum-likelihood s² = mean |v|² / d of a wrapped normal at
the origin).

**Divergence.** The trace is exact: the network's Jacobian ∂g/∂y (d + 1 columns on S^d, d on
H^d: three and two in 2-D) is carried forward through the layers by the chain rule beside the
activations (forward-mode differentiation, about d + 1 forward passes), an ordinary
differentiable expression, so training backpropagates through it once; the reverse-mode
alternative, one vector-Jacobian product per column with ``create_graph``, gives the same
numbers (the tests check it against autograd) with a double backward pass in training. The
divergence stays a function of the point y throughout (no tangent basis computed off the graph),
so the gradient of the likelihood through the trajectory is right. In higher dimensions the
Hutchinson estimator div f ≈ εᵀ (∂f/∂y) ε, ε Gaussian or Rademacher in the tangent space
(ε = P_y η on S^d), needs one vector-Jacobian product instead of d and is unbiased, as in FFJORD
and in Mathieu & Nickel; it is not implemented here (the latents are 2-D); it would make the
training objective stochastic, and scoring should stay exact.

**Integrator: a fixed-step classical Runge–Kutta (RK4), written here, not torchdiffeq.** (1) After
every step the state is projected back onto the manifold (on S^d, z ← z / |z|; the chart of H^d
needs none); torchdiffeq's adaptive solvers take their steps internally, with no hook to project
between them, and their error control would see the projection as error. (2) A fixed number of
steps makes the cost of a fit and of a score predictable and the log-likelihood a deterministic
function of θ (the same number whatever the batch, no tolerance-dependent step counts), and
backpropagating through the few steps directly is cheap for 2-D latents (torchdiffeq's adjoint
saves memory we do not need). (3) No new dependency. The price: the flow is exact only as the
step count grows (global error O(h⁴); ``n_steps`` sets h = 1 / n_steps); scoring (backwards) and
sampling (forwards) are inverse maps up to that error, and a field that changes fast in time or
space needs more steps (check by scoring with a larger ``n_steps``: :meth:`score_samples` takes
it as an argument). With the field zero the flow is the identity and the density is p₀ exactly.

Fitting maximises the mean log-likelihood of the training latents by Adam over minibatches,
backpropagating through the RK4 steps (no adjoint method). All randomness (initial weights,
minibatch order, base draws) comes from ``torch.Generator`` s of the density's own; the global
random state is neither used nor changed. The network's last layer starts at zero,
so an unfitted flow is its base density.
"""
from __future__ import annotations

import copy
import math
import numbers

import geoopt
import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from torch import nn

from rgdkit.manifolds import check_on_manifold, make_manifold
from rgdkit.validation import check_integer, check_real

__all__ = ["RiemannianFlowDensity", "sphere_log_volume"]

_LOG_2PI = math.log(2 * math.pi)
_MANIFOLDS = ("sphere", "lorentz")


def sphere_log_volume(d):
    """log |S^d| = log(2 π^((d+1)/2) / Γ((d+1)/2)), the log surface area of the unit sphere S^d
    (log 4π on S²)."""
    return math.log(2.0) + (d + 1) / 2 * math.log(math.pi) - math.lgamma((d + 1) / 2)


def _log_sinhc(x):
    """log(sinh(x) / x) for x >= 0, stable at 0 (→ x²/6) and for large x."""
    x = x.clamp_min(1e-12)
    return x + torch.log(-torch.expm1(-2 * x)) - torch.log(2 * x)


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------
class _FieldNetwork(nn.Module):
    """A tanh MLP (state, t) → R^out (smooth, so its divergence has gradients). The weights are
    drawn from ``generator`` (PyTorch's default uniform ±1/√fan_in), the last layer set to zero."""

    def __init__(self, n_in, n_out, hidden, generator, dtype):
        super().__init__()
        sizes = (n_in + 1, *hidden, n_out)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            bound = 1 / math.sqrt(a)
            last = i == len(sizes) - 2
            w = torch.zeros(b, a, dtype=dtype) if last else \
                (2 * torch.rand(b, a, generator=generator, dtype=dtype) - 1) * bound
            c = torch.zeros(b, dtype=dtype) if last else \
                (2 * torch.rand(b, generator=generator, dtype=dtype) - 1) * bound
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(c))

    def forward(self, y, t):
        h = torch.cat([y, torch.full_like(y[:, :1], float(t))], dim=1)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.nn.functional.linear(h, w, b)
            if i < last:
                h = torch.tanh(h)
        return h

    def with_jacobian(self, y, t):
        """The output g (B, out) and its Jacobian ∂g/∂y (B, out, n_in), exactly, by the chain
        rule carried forward through the layers (forward mode: n_in columns beside each layer's
        activations). An ordinary differentiable expression, so training backpropagates through
        it once, with no double backward pass."""
        h = torch.cat([y, torch.full_like(y[:, :1], float(t))], dim=1)
        n_in = y.shape[1]
        last = len(self.weights) - 1
        jac = None
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.nn.functional.linear(h, w, b)
            jac = w[:, :n_in].expand(len(y), -1, -1) if jac is None else torch.matmul(w, jac)
            if i < last:
                h = torch.tanh(h)
                jac = (1 - h * h).unsqueeze(2) * jac
        return h, jac


# --------------------------------------------------------------------------------------------
# Geometries: the state coordinates, the tangent field and its Riemannian divergence, the base
# --------------------------------------------------------------------------------------------
class _Sphere:
    """S^d in R^(d+1); the state is the point itself."""

    def __init__(self, manifold, dim):
        self.manifold, self.dim = manifold, dim
        self.n_state = dim + 1

    def to_state(self, Z):
        return Z / Z.norm(dim=1, keepdim=True)

    def to_points(self, x):
        return self.manifold.projx(x)

    def project(self, x):
        return x / x.norm(dim=1, keepdim=True)

    def prepare(self, x):
        """The network's input point y (the field is evaluated on the sphere through x)."""
        return x / x.norm(dim=1, keepdim=True)

    @staticmethod
    def field(net, y, t):
        g = net(y, t)
        return g - (g * y).sum(1, keepdim=True) * y

    def field_and_divergence(self, net, y, t):
        """f = P_y g and div f = tr(P_y ∂f/∂y) = tr(J) - yᵀ J y - d (g · y), J = ∂g/∂y (for the
        unit vector y: ∂f/∂y = J - y (Jᵀy + g)ᵀ - (g · y) I, and P_y y = 0, tr P_y = d)."""
        g, jac = net.with_jacobian(y, t)
        gy = (g * y).sum(1)
        div = (jac.diagonal(dim1=1, dim2=2).sum(1)
               - (y.unsqueeze(1) @ jac @ y.unsqueeze(2))[:, 0, 0] - self.dim * gy)
        return g - gy.unsqueeze(1) * y, div

    def base_log_prob(self, x):
        return torch.full((len(x),), -sphere_log_volume(self.dim), dtype=x.dtype, device=x.device)

    def base_sample(self, n, generator, dtype):
        x = torch.randn(n, self.n_state, generator=generator, dtype=dtype)
        return x / x.norm(dim=1, keepdim=True)


class _LorentzChart:
    """H^d as geoopt.Lorentz(k); the state is v = log_o(z) in orthonormal coordinates at the
    origin o = (√k, 0, ..), where the volume element is sinhc(√c |v|)^(d-1), c = 1/k."""

    def __init__(self, manifold, dim, scale):
        self.manifold, self.dim = manifold, dim
        self.n_state = dim
        self.sqrt_k = float(manifold.k) ** 0.5
        self.sqrt_c = 1 / self.sqrt_k
        self.scale = scale

    def to_state(self, Z):
        """log_o(z) = √k asinh(|x|/√k) x/|x| for z = (x₀, x), x ∈ R^d."""
        x = Z[:, 1:]
        s = x.norm(dim=1, keepdim=True) / self.sqrt_k
        safe = s.clamp_min(1e-8)
        ratio = torch.where(s < 1e-4, 1 - s ** 2 / 6, torch.asinh(safe) / safe)
        return x * ratio

    def to_points(self, v):
        """exp_o(v) = (√k cosh(|v|/√k), sinh(|v|/√k)/(|v|/√k) v), then projx."""
        a = v.norm(dim=1, keepdim=True) / self.sqrt_k
        spatial = v * torch.exp(_log_sinhc(a))
        return self.manifold.projx(torch.cat([self.sqrt_k * torch.cosh(a), spatial], dim=1))

    @staticmethod
    def project(v):
        return v

    @staticmethod
    def prepare(v):
        return v

    def field(self, net, v, t):
        return self.scale * net(v / self.scale, t)

    def field_and_divergence(self, net, v, t):
        """f = s g(v / s) and div f = |G|^(-1/2) Σᵢ ∂ᵢ(|G|^(1/2) fⁱ) = tr(∂f/∂v) + f · ∇ log √|G|
        (∂f/∂v = ∂g/∂u at u = v / s)."""
        g, jac = net.with_jacobian(v / self.scale, t)
        f = self.scale * g
        div = jac.diagonal(dim1=1, dim2=2).sum(1) + (f * self.grad_log_volume(v)).sum(1)
        return f, div

    def grad_log_volume(self, v):
        """∇ log √|G|(v) = (d - 1) (a r coth(a r) - 1) / r² · v, a = √c (→ (d-1) a²/3 · v at 0)."""
        r = v.norm(dim=1, keepdim=True)
        ar = self.sqrt_c * r
        safe = ar.clamp_min(1e-3)
        big = (safe / torch.tanh(safe) - 1) / safe ** 2
        small = 1 / 3 - ar ** 2 / 45
        return (self.dim - 1) * self.sqrt_c ** 2 * torch.where(ar < 1e-3, small, big) * v

    def base_log_prob(self, v):
        """Wrapped normal at the origin, scale s, w.r.t. the hyperbolic volume."""
        s = self.scale
        log_normal = (-0.5 * (v / s).square() - math.log(s) - 0.5 * _LOG_2PI).sum(1)
        return log_normal - (self.dim - 1) * _log_sinhc(self.sqrt_c * v.norm(dim=1))

    def base_sample(self, n, generator, dtype):
        return self.scale * torch.randn(n, self.dim, generator=generator, dtype=dtype)


# --------------------------------------------------------------------------------------------
# The density
# --------------------------------------------------------------------------------------------
class RiemannianFlowDensity:
    """A Riemannian continuous normalising flow on S^d or H^d, fitted by maximum likelihood (see
    the module docstring for the field, the divergence, the base and the integrator).

    Parameters
    ----------
    manifold : {"sphere", "lorentz"} or geoopt.Sphere / geoopt.Lorentz, default "sphere"
        The latent manifold: a name (dimension read off the data), or a fitted model's
        ``manifold_`` (its curvature used).
    curvature : float or None
        k of ``geoopt.Lorentz(k)`` (curvature -1/k) for ``manifold="lorentz"``; None means 1. Not
        for the sphere (unit radius) or a manifold instance (it carries its own).
    hidden : tuple of int, default (64, 64)
        Widths of the field network's hidden layers (tanh).
    epochs : int, default 100
        Passes over the training latents (0 leaves the flow at its base density). On 1500 points
        of a two-component vMF mixture on S² the defaults came within 0.01 nats of the true
        held-out log-likelihood in 50 s on one (shared) CPU thread; on small problems like this
        one ``torch.set_num_threads(1)`` can be much faster than many threads on a busy machine.
    lr : float, default 5e-3
        Adam's learning rate.
    batch_size : int, default 512
        Most points per minibatch (each epoch splits a shuffled order into equal batches).
    n_steps : int, default 6
        RK4 steps over t ∈ [0, 1], for fitting, scoring and sampling.
    base_std : float or None, default None
        Scale of the wrapped normal base on H^d (orthonormal tangent coordinates at the origin);
        None fits it to the training latents. Ignored on the sphere (uniform base).
    weight_decay : float, default 0.0
        Adam's L2 penalty on the network's weights.
    seed : int, default 0
        Seeds the initial weights, the minibatch order and, unless ``sample`` gets another, the
        sampler (``torch.Generator`` s of the density's own).
    chunk : int, default 4096
        Points per batch when scoring and sampling (bounds memory).

    Attributes
    ----------
    manifold_, dim_ (intrinsic dimension), n_features_in_ (coordinates per point), base_std_
    (H^d; None on the sphere), history_ (mean training log-likelihood per epoch, nats),
    n_iter_ (epochs run), network_ (the field's ``torch.nn.Module``).
    """

    def __init__(self, manifold="sphere", curvature=None, hidden=(64, 64), epochs=100, lr=5e-3,
                 batch_size=512, n_steps=6, base_std=None, weight_decay=0.0, seed=0, chunk=4096):
        self.manifold = manifold
        self.curvature = curvature
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            hidden = (hidden,)
        try:
            hidden = tuple(hidden)
        except TypeError:
            raise TypeError(f"hidden must be a tuple of layer widths, e.g. (64, 64), got "
                            f"{hidden!r}") from None
        if not hidden:
            raise ValueError("hidden must name at least one hidden layer width, e.g. (64, 64)")
        self.hidden = tuple(check_integer(h, "hidden layer width") for h in hidden)
        self.epochs = check_integer(epochs, "epochs", minimum=0)
        self.lr = check_real(lr, "lr", positive=True)
        self.batch_size = check_integer(batch_size, "batch_size")
        self.n_steps = check_integer(n_steps, "n_steps")
        self.base_std = None if base_std is None else check_real(base_std, "base_std",
                                                                 positive=True)
        self.weight_decay = check_real(weight_decay, "weight_decay")
        self.seed = check_integer(seed, "seed", minimum=0)
        self.chunk = check_integer(chunk, "chunk")
        self._resolve_manifold(None)  # a bad name or curvature fails here, before any data

    # ---- set-up -----------------------------------------------------------------------------
    def _resolve_manifold(self, dim):
        manifold = self.manifold
        if isinstance(manifold, geoopt.manifolds.Manifold):
            if not isinstance(manifold, (geoopt.Sphere, geoopt.Lorentz)):
                raise ValueError(f"RiemannianFlowDensity supports geoopt.Sphere and "
                                 f"geoopt.Lorentz, got {type(manifold).__name__}")
            if self.curvature is not None:
                raise ValueError("curvature applies to the names; a geoopt instance carries its "
                                 f"own (got curvature={self.curvature!r} with "
                                 f"{type(manifold).__name__})")
            return manifold
        key = manifold.lower() if isinstance(manifold, str) else None
        if key not in _MANIFOLDS:
            raise ValueError(f"manifold must be 'sphere' or 'lorentz' (or a geoopt.Sphere / "
                             f"geoopt.Lorentz, e.g. a fitted model's manifold_), got {manifold!r}")
        return make_manifold(key, max(dim or 2, 1), self.curvature)

    def _geometry(self, dim, scale):
        if isinstance(self._manifold64, geoopt.Sphere):
            return _Sphere(self._manifold64, dim)
        return _LorentzChart(self._manifold64, dim, scale)

    # ---- fitting ----------------------------------------------------------------------------
    def fit(self, Z, y=None):
        """Fit the flow to points ``Z`` (N, d + 1) of the manifold by maximum likelihood; returns
        self."""
        self.__dict__.pop("network_", None)  # a failed refit leaves the density unfitted
        Z = self._as_tensor(Z)
        if Z.ndim != 2 or Z.shape[1] < 2:
            raise ValueError(f"Z must be a 2-D array of points (N x coordinates, at least 2 "
                             f"coordinates), got shape {tuple(Z.shape)}")
        if len(Z) < 2:
            raise ValueError(f"Z has {len(Z)} point; a flow needs at least 2 training points")
        dim = Z.shape[1] - 1
        self.manifold_ = self._resolve_manifold(dim)
        # the maps run in float64, the curvature too
        self._manifold64 = copy.deepcopy(self.manifold_).to(torch.float64)
        self.dim_, self.n_features_in_ = dim, Z.shape[1]
        points = self._check_points(Z)
        geometry = self._geometry(dim, 1.0)
        states = geometry.to_state(points)
        if isinstance(geometry, _LorentzChart):
            scale = self.base_std if self.base_std is not None else float(
                (states.square().sum(1).mean() / dim).sqrt().clamp_min(1e-3))
            geometry.scale = self.base_std_ = scale
        else:
            self.base_std_ = None
        self._geometry_ = geometry
        generator = torch.Generator().manual_seed(self.seed)
        self.network_ = _FieldNetwork(geometry.n_state, geometry.n_state, self.hidden, generator,
                                      torch.float64)
        self.history_ = []
        self.n_iter_ = 0
        if self.epochs:
            self._train(states, generator)
        return self

    def _train(self, states, generator):
        opt = torch.optim.Adam(self.network_.parameters(), lr=self.lr,
                               weight_decay=self.weight_decay)
        n = len(states)
        n_batches = -(-n // self.batch_size)  # equal batches of at most batch_size points
        for epoch in range(self.epochs):
            order = torch.randperm(n, generator=generator)
            total = 0.0
            for index in torch.tensor_split(order, n_batches):
                batch = states[index]
                loss = -self._log_prob_states(batch, self.n_steps).mean()
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"the flow's log-likelihood became {-loss.item()} at epoch {epoch + 1}; "
                        f"lower lr (now {self.lr:g}) or raise n_steps (now {self.n_steps})")
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(batch)
            self.history_.append(-total / n)
            self.n_iter_ = epoch + 1

    # ---- the ODE ----------------------------------------------------------------------------
    def _dynamics(self, x, t, divergence):
        """The field at states x and, with ``divergence``, its Riemannian divergence."""
        geometry = self._geometry_
        y = geometry.prepare(x)
        if divergence:
            return geometry.field_and_divergence(self.network_, y, t)
        return geometry.field(self.network_, y, t), None

    def _integrate(self, x, t0, t1, n_steps, divergence=True):
        """RK4 from t0 to t1 of (x, ∫ div f dt), projecting x after each step."""
        h = (t1 - t0) / n_steps
        acc = torch.zeros(len(x), dtype=x.dtype, device=x.device) if divergence else None
        project = self._geometry_.project
        for i in range(n_steps):
            t = t0 + i * h
            k1, d1 = self._dynamics(x, t, divergence)
            k2, d2 = self._dynamics(x + h / 2 * k1, t + h / 2, divergence)
            k3, d3 = self._dynamics(x + h / 2 * k2, t + h / 2, divergence)
            k4, d4 = self._dynamics(x + h * k3, t + h, divergence)
            x = project(x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4))
            if divergence:
                acc = acc + h / 6 * (d1 + 2 * d2 + 2 * d3 + d4)
        return x, acc

    def _log_prob_states(self, x, n_steps):
        """log p₁ at states x (t = 1): integrate back to t = 0, where log p₁(x) = log p₀(z(0))
        + ∫₁⁰ div f dt."""
        x0, acc = self._integrate(x, 1.0, 0.0, n_steps)
        return self._geometry_.base_log_prob(x0) + acc

    # ---- density and sampling ---------------------------------------------------------------
    def score_samples(self, Z, n_steps=None):
        """Log density of each point of ``Z`` (N, d + 1) w.r.t. the Riemannian volume, (N,)
        float64; ``n_steps`` overrides the RK4 steps (e.g. to check the step error)."""
        self._check_fitted()
        n_steps = self.n_steps if n_steps is None else check_integer(n_steps, "n_steps")
        states = self._geometry_.to_state(self._check_points(self._as_tensor(Z)))
        with torch.no_grad():
            out = [self._log_prob_states(states[i:i + self.chunk], n_steps)
                   for i in range(0, len(states), self.chunk)]
        return torch.cat(out).numpy()

    log_prob = score_samples  # the name ManifoldMixture uses

    def score(self, Z, y=None):
        """Mean log-likelihood of ``Z`` (nats per point)."""
        return float(self.score_samples(Z).mean())

    def sample(self, n, seed=None):
        """``n`` points of the manifold (n, d + 1), float64: base draws (generator seeded with
        ``seed``, default the density's ``seed``) carried from t = 0 to t = 1 by the flow; the
        same seed gives the same points."""
        self._check_fitted()
        n = check_integer(n, "n", minimum=0)
        seed = self.seed if seed is None else check_integer(seed, "seed", minimum=0)
        generator = torch.Generator().manual_seed(seed)
        geometry = self._geometry_
        x = geometry.base_sample(n, generator, torch.float64)
        with torch.no_grad():
            out = [self._integrate(x[i:i + self.chunk], 0.0, 1.0, self.n_steps,
                                   divergence=False)[0] for i in range(0, n, self.chunk)]
            states = torch.cat(out) if out else x
            return geometry.to_points(states).numpy()

    # ---- checks -----------------------------------------------------------------------------
    @staticmethod
    def _as_tensor(Z):
        if torch.is_tensor(Z):
            return Z.detach().cpu()
        array = np.asarray(Z)
        if array.dtype.kind not in "fiu":
            raise ValueError(f"Z must hold real coordinates, got an array of dtype {array.dtype}")
        return torch.as_tensor(array if array.dtype.kind == "f" else array.astype(np.float64))

    def _check_points(self, Z):
        """Points as float64 on the manifold, after :func:`rgdkit.manifolds.check_on_manifold`
        (shape, NaN, the constraint at the input's precision) and the width fitted on."""
        if Z.is_complex() or not (Z.is_floating_point() or Z.dtype in (
                torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
            raise ValueError(f"Z must hold real coordinates, got dtype {Z.dtype}")
        if Z.ndim == 2 and Z.shape[1] != self.n_features_in_:
            raise ValueError(f"Z has {Z.shape[1]} coordinates but the flow was fitted on "
                             f"{self.n_features_in_}; pass points of the same manifold")
        if not Z.is_floating_point():
            Z = Z.to(torch.float64)
        check_on_manifold(Z, self.manifold_, "Z")
        with torch.no_grad():  # float32 latents sit ~1e-7 off the manifold: snap in float64
            return self._manifold64.projx(Z.to(torch.float64))

    def _check_fitted(self):
        if not hasattr(self, "network_"):
            raise NotFittedError("this RiemannianFlowDensity is not fitted yet; call fit(Z) first")

    def __repr__(self):
        name = self.manifold if isinstance(self.manifold, str) else type(self.manifold).__name__
        return (f"RiemannianFlowDensity(manifold={name}, hidden={self.hidden}, "
                f"epochs={self.epochs}, seed={self.seed})")
