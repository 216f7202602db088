"""Riemannian generative decoder (Bjerregaard, Hauberg, Krogh; arXiv 2506.19133), §3 on one page.

There is no encoder. Every sample i owns a latent point z_i on a Riemannian manifold (a geoopt
``ManifoldParameter``) and a decoder network f maps latents to data. Latents and decoder are
fitted jointly by maximum a posteriori:

    min over z, f of  sum_i  loss(f(z_i + noise), x_i) + prior(z_i)

with RiemannianAdam on the latents (one step per epoch, on gradients accumulated over the epoch)
and AdamW on the decoder (one step per minibatch), both on cosine schedules with warm restarts.
The geometry-aware noise exp_z(eps), eps ~ N(0, σ² G(z)^-2) (the authors' code; the paper writes
σ² G^-1), regularises the decoder's Jacobian so that latent distances follow the data's geometry.
Held-out samples get latents by optimising z with the decoder frozen, from several starts.

In order: the noise; the decoder and MAP objective; the training loop (:func:`fit_together`,
which also trains a lone fit); test-time latents; the estimator. What is not the method (the
manifold registry, numeric kernels, input checks, the run's bookkeeping) lives in
``rgdkit.manifolds``, ``.numerics``, ``.validation`` and ``.training``, which never import this.
"""
from __future__ import annotations

import math
import time

import rgdkit  # noqa: F401  first: it imports geoopt quietly (see rgdkit/__init__.py)
import geoopt
import numpy as np
import torch
from torch import nn
from tqdm import tqdm  # text bars: they render in committed notebooks and need no widgets

from rgdkit.manifolds import (DECODER_DTYPE, GEOOPT_MANIFOLDS, MANIFOLDS, ambient_dim,
                              check_latent_dtype, check_on_manifold, decoder_coordinates,
                              default_dtype, exp_or_retr, is_torus, latent_manifold,
                              make_manifold, manifold_origin, normals, point_ndim, point_shape,
                              random_points)
from rgdkit.manifolds.tangent import (draws_per_factor, exp_at_fixed_tangent, has_induced_metric,
                                      lorentz_transport_from_origin)
from rgdkit.numerics.kernels import ELU, flushed_denormals, mean_bce_with_logits
from rgdkit.training import engine
from rgdkit.training.base import (LatentEstimator, PoorFit, TrainingDiverged, loss_postfix,
                                  make_generator, progress_options)
from rgdkit.training.multistart import best_matching_latents, optimise_starts, repeated_rows
from rgdkit.validation import check_data, check_device as pick_device, check_parameters, \
    check_training_data

__all__ = ["ELU", "GEOOPT_MANIFOLDS", "MANIFOLDS", "NOISE_GRADIENTS", "NOISE_MODES", "PoorFit",
           "RiemannianDecoder", "TrainingDiverged", "check_on_manifold", "fit_together",
           "geometric_noise", "make_decoder", "make_manifold", "map_loss", "perturb",
           "pick_device", "random_points", "reconstruction_loss", "transform_together"]

NOISE_MODES = ("inverse_metric", "metric")
NOISE_GRADIENTS = ("pathwise", "fixed")


# ---- Geometry-aware noise ----------------------------------------------------------------------
def geometric_noise(z, manifold, std, mode="inverse_metric", generator=None, normal=None):
    """Tangent noise at ``z`` (shaped like it) whose covariance follows the metric G(z).

    ``"inverse_metric"`` (the authors' code): G(z)^-1 applied to isotropic noise,
    ``std * egrad2rgrad(z, n)``: covariance std² G^-2 on the Poincaré ball, growing like
    cosh(2r) with the distance r from the origin on the Lorentz model. ``"metric"`` (the paper's
    formula): N(0, std² G^-1), a standard normal in an orthonormal tangent frame (on the Lorentz
    model, parallel transport of N(0, std² I) from the origin). Both coincide on the sphere,
    torus and Euclidean space. ``std`` may be a tensor broadcasting against ``z``; ``normal``
    (shaped like ``z``) replaces the draw from ``generator``. Raises ValueError for an unknown
    mode, NotImplementedError for "metric" where no orthonormal frame is known here
    (CanonicalStiefel, SPD, Siegel spaces).
    """
    if mode not in NOISE_MODES:
        raise ValueError(f"unknown noise mode {mode!r}; choose one of {NOISE_MODES}")
    if mode == "metric" and isinstance(manifold, geoopt.Scaled):
        return geometric_noise(z, manifold.base, std / manifold.scale, mode, generator)  # G = s² G_base
    if normal is not None and draws_per_factor(manifold, mode):
        raise ValueError(f"noise={mode!r} on {type(manifold).__name__} draws per factor; pass a "
                         "generator instead of a normal draw")
    n = normal
    if n is None and not draws_per_factor(manifold, mode):
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
    if not has_induced_metric(manifold):
        raise NotImplementedError(
            f"noise='metric' needs an orthonormal frame of the tangent space, which is not "
            f"available for {type(manifold).__name__}; use noise='inverse_metric'")
    return std * manifold.proju(z, n)


def perturb(z, manifold, std, mode="inverse_metric", generator=None, normal=None,
            gradient="pathwise"):
    """exp_z(eps) with eps from :func:`geometric_noise` (the retraction where there is no exp).

    ``gradient="pathwise"``: eps(z) stays under autograd (only the standard normal draw is
    fixed), the reparameterisation gradient of E[loss(exp_z(eps))], as in the authors' code.
    ``"fixed"``: eps is drawn without gradient, so the loss reaches z through exp_z alone; on the
    sphere, torus and Lorentz model exp_z(eps) = a z + b for fixed eps, and ``a * z + b`` is
    returned (same value, the expmap formula's gradient, a fraction of autograd's cost).
    Both give the same value for the same draw. Raises ValueError for an unknown ``gradient``.
    """
    if gradient not in NOISE_GRADIENTS:
        raise ValueError(f"unknown noise gradient {gradient!r}; choose one of {NOISE_GRADIENTS}")
    if gradient == "pathwise":
        return exp_or_retr(manifold, z, geometric_noise(z, manifold, std, mode, generator, normal))
    with torch.no_grad():
        eps = geometric_noise(z, manifold, std, mode, generator, normal)
    return exp_at_fixed_tangent(manifold, z, eps)


# ---- The decoder and the MAP objective ---------------------------------------------------------
def make_decoder(in_features, out_features, hidden=(16, 32, 64, 128, 256), activation=ELU,
                 generator=None):
    """An MLP from ambient latent coordinates to data space (logits for the BCE loss):
    ``nn.Sequential`` of ``nn.Linear`` layers of widths ``[in_features, *hidden, out_features]``
    with ``activation()`` between them. Weights follow ``nn.Linear``'s default initialisation,
    drawn from ``generator`` when given (the global random state is then left untouched)."""
    widths = [in_features, *hidden, out_features]
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layer = torch.nn.utils.skip_init(nn.Linear, a, b)
        with torch.no_grad():  # nn.Linear.reset_parameters, with our generator
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            nn.init.uniform_(layer.bias, -1 / math.sqrt(a), 1 / math.sqrt(a), generator=generator)
        layers += [layer, activation()]
    return nn.Sequential(*layers[:-1])


def reconstruction_loss(out, x, loss):
    """Per-sample loss of decoder outputs ``out`` (..., D) against ``x``: the mean over features
    of the squared error (``"mse"``) or of the binary cross-entropy of logits (``"bce"``)."""
    if loss == "bce":
        return mean_bce_with_logits(out, x)
    return (out - x).square().mean(-1)


def map_loss(members, z, x):
    """Per-sample negative log posterior (M, rows) of each member's latents ``z[m]`` (M, rows,
    *shape) against data ``x`` (M, rows, D): reconstruction loss plus each member's prior
    penalty, in the latents' real dtype. One member or many: the same function."""
    first = members[0]
    out = engine.stacked_decode([m.decoder_ for m in members], first.decoder_input(z))
    rec = reconstruction_loss(out, x, first.loss).to(z.real.dtype)
    if first.prior_active():
        rec = rec + torch.stack([m.prior_penalty(zm) for m, zm in zip(members, z)])
    return rec


# ---- Training: one loop for one model or many --------------------------------------------------
def fit_together(estimators, X, X_val=None):
    """Fit :class:`RiemannianDecoder` s in one run (``fit`` is this with one member).

    Members may differ in the parameters of ``rgdkit.training.engine.VARYING`` (seed, σ,
    learning rates, epochs, ...) and must agree in the rest. Each draws its decoder, latents,
    minibatch orders and noise from its own generator, steps its own optimisers, stops early or
    on divergence alone (best state kept, :class:`TrainingDiverged` warned) and is afterwards an
    ordinary fitted estimator with ``fit_seconds_``, its share of the run's wall time. Raises
    ValueError or TypeError for members that cannot train together or bad data, and
    FloatingPointError when a member diverged before any finite loss (the others are fitted).
    """
    estimators = engine.check_members(estimators, expected_type=RiemannianDecoder)
    start = time.perf_counter()
    prepared = [est._prepare_fit(X, X_val) for est in estimators]
    X_t, X_val_t = prepared[0][0], prepared[0][2]
    first = estimators[0]
    with engine.held_threads(first, len(estimators) * int(first.batch_size)), flushed_denormals():
        _train([engine.Member(est, z, zv) for est, (_, z, _, zv) in zip(estimators, prepared)],
               X_t, X_val_t)
    for est in estimators:
        est.fit_seconds_ = (time.perf_counter() - start) / len(estimators)
    return estimators


def _train(members, X, X_val):
    """The epoch loop: minibatch steps of the decoders, the validation latents' gradients,
    scoring, then each member's latent step; members leave when they stop or diverge."""
    first, running = members[0].est, list(members)
    bar = tqdm(range(max(int(m.est.epochs) for m in members)), desc=f"RGD {first._describe()}"
               + (f", {len(members)} models" if len(members) > 1 else ""),
               **progress_options(first.verbose))
    for epoch in bar:
        train_losses = _train_epoch(running, X)
        val_losses = [None] * len(running) if X_val is None else _validation_step(running, X_val)
        if first.latent_step_before_scoring:
            for m in running:
                m.latent_step()
        # a member that diverged takes no latent step; the others step and may stop
        running = [m for m, t, v in zip(running, train_losses, val_losses)
                   if m.score(epoch, t, v) and not m.end_epoch(epoch)]
        bar.set_postfix(loss_postfix(train_losses[0], val_losses[0]) if len(members) == 1
                        else {"models": len(running)}, refresh=False)
        if not running:
            break
    bar.close()
    for m in members:
        m.finish(engine.mean_prediction_loss(X, first.loss))
    if any(m.error for m in members):
        raise FloatingPointError("; ".join(str(m.error) for m in members if m.error))


def _train_epoch(members, X):
    """One pass over the data in minibatches, each member in its own order; returns each
    member's mean training loss. Latent gradients accumulate over the epoch."""
    n, batch = len(X), int(members[0].est.batch_size)
    orders = torch.stack([torch.randperm(n, device=X.device, generator=m.est._generator)
                          for m in members])
    total = torch.zeros(len(members), dtype=torch.float64, device=X.device)
    for m in members:
        m.z.grad = None
    for idx in orders.split(batch, dim=1):
        z = torch.stack([m.est.noisy_latents(m.z[i]) for m, i in zip(members, idx)])
        per_sample = map_loss([m.est for m in members], z, X[idx])
        for m in members:
            m.decoder_optimiser.zero_grad(set_to_none=True)
        sum(m.est.objective(loss) for m, loss in zip(members, per_sample)).backward()
        for m in members:
            m.decoder_optimiser.step()
        total += per_sample.detach().sum(1).to(total.dtype)
    return (total / n).tolist()


def _validation_step(members, X_val):
    """Validation losses, and the validation latents' gradients (the decoders are untouched)."""
    z_val = torch.stack([m.est.validation_latents(m.z_val) for m in members])
    per_sample = map_loss([m.est for m in members], z_val, X_val.expand(len(members), -1, -1))
    objective = sum(m.est.objective(loss) for m, loss in zip(members, per_sample))
    grads = torch.autograd.grad(objective, [m.z_val for m in members])
    for m, grad in zip(members, grads):
        m.z_val.grad = grad
    return per_sample.detach().mean(1).tolist()


# ---- Test-time latents -------------------------------------------------------------------------
def transform_together(estimators, X):
    """Test-time latents of ``X`` for fitted members at once (``transform`` is this with one):
    per sample the ``n_starts`` training latents whose decodings fit it best, then RiemannianAdam
    on the MAP loss with the decoders frozen (:func:`rgdkit.training.multistart.optimise_starts`);
    the best start is kept. Members must agree in all parameters outside
    ``engine.VARYING_AT_TEST``. Returns one array (len(X), *latent_shape_) per member."""
    estimators = engine.check_fitted_members(estimators, RiemannianDecoder)
    X_t = estimators[0]._as_data(X, "X", estimators[0].n_features_in_)
    return [Z for chunk in engine.test_chunks(estimators, len(X_t))
            for Z in _transform_chunk(chunk, X_t)]


def _transform_chunk(estimators, X_t):
    first = estimators[0]
    starts = torch.stack([est._start_candidates(X_t) for est in estimators])  # (M, N, S, *shape)
    targets = repeated_rows(X_t)
    for est in estimators:
        est.decoder_.requires_grad_(False)
    try:
        with engine.held_threads(first, starts.shape[:3].numel()):
            chosen = optimise_starts(
                starts, first.manifold_,
                lambda z, k: map_loss(estimators, z, targets(k).expand(len(estimators), -1, -1)),
                first.lr_test, int(first.test_epochs), first.prune_keep, first.verbose)
    finally:
        for est in estimators:
            est.decoder_.requires_grad_(True)
    return list(chosen.cpu().numpy())


# ---- The estimator -----------------------------------------------------------------------------
class RiemannianDecoder(LatentEstimator):
    """Riemannian generative decoder: latents on a manifold and a decoder, fitted jointly (MAP).

    A scikit-learn transformer: ``fit(X, X_val=...)`` learns the decoder and one latent point per
    sample (``latents_``), ``transform`` finds latents of new samples with the decoder frozen,
    ``inverse_transform`` decodes latents. ``docs/api.md`` lists every parameter's effect and
    the manifolds' point shapes.

    Parameters
    ----------
    manifold : str or geoopt manifold, default "lorentz"
        "euclidean", "sphere", "torus", "lorentz", "poincare", a geoopt class name of
        ``GEOOPT_MANIFOLDS`` (any case), or an instance of one (:func:`make_manifold`).
    latent_dim : int, default 2
        Intrinsic dimension (the matrix size for Stiefel, SPD and Siegel manifolds).
    curvature : float or None, default None
        Lorentz k (curvature -1/k), Poincaré c (curvature -c), ...; None is 1.
    noise_std : float, default 0.0
        σ of the geometry-aware noise during training (0: none).
    noise : {"inverse_metric", "metric"}, default "inverse_metric"
        Covariance σ² G^-2 (the authors' code) or σ² G^-1 (the paper's formula).
    noise_gradient : {"pathwise", "fixed"}, default "pathwise"
        How the loss's gradient meets the noise (:func:`perturb`).
    hidden : tuple of int, default (16, 32, 64, 128, 256) (decoder widths, ELU activations)
    loss : {"mse", "bce"}, default "mse"
        Mean over features; "bce" for binary data (logits; ``inverse_transform`` gives
        probabilities).
    epochs, batch_size : int, default 750, 128
    lr_latent, lr_decoder : float, default 0.1, 2e-3
        RiemannianAdam (latents, a step per epoch) and AdamW (decoder, a step per minibatch).
    betas_decoder, betas_latent : tuple, default (0.9, 0.995), (0.5, 0.7)
    weight_decay : float, default 1e-3 (the decoder's decoupled, AdamW, weight decay)
    patience, min_epochs : int, default 85, 150
        Early stopping on ``X_val``: the best state is tracked, and patience counted, from
        ``min_epochs`` on.
    restart_period : int, default 40 (epochs of the cosine schedules with warm restarts)
    init_std : float, default 1e-3
        Latents start as exp_o(v), v ~ N(0, init_std² I) at the origin o.
    prior, prior_std : str, float, default "auto", 1.0
        "normal": d(o, z)² / (2 prior_std² D) per sample (D features); "wrapped_normal",
        "riemannian_normal": -log p(z) / D normalised (``rgdkit.manifolds.normals``; Lorentz,
        Poincaré, Euclidean); "auto": "normal" on Euclidean latents, else "none".
    n_starts, test_epochs, prune_keep, lr_test : default 20, 400, 4, 0.1
        Test-time latents: starts per sample, steps, starts kept after a quarter of the steps
        (None: all), learning rate.
    seed : int, default 0
        Seeds the estimator's own generator (the global random state is left untouched).
    device : str or None, default None (None: "cuda" when available, else "cpu")
    dtype : torch.dtype or None, default None
        Latent dtype; None: float64 for hyperbolic manifolds and SPD, complex128 for Siegel
        spaces, else float32 (``rgdkit.manifolds.default_dtype``). The decoder runs in float32.
    n_threads : int or None, default None
        CPU threads held by fit and transform; None: 1 for small steps, else torch's count.
    verbose : bool, default True (a progress bar; ``TQDM_DISABLE=1`` silences it too)

    Attributes
    ----------
    manifold_, decoder_, latents_ (n_samples, *latent_shape_), latent_shape_, val_latents_,
    history_ (per epoch: epoch, train_loss, val_loss), best_epoch_, diverged_at_ (or None),
    n_features_in_, dtype_, device_, fit_seconds_.

    Notes
    -----
    Extension points, honoured on every path (lone fit, :func:`fit_together`, ``transform``):
    ``build_decoder``, ``init_latents``, ``make_optimisers``, ``noisy_latents``,
    ``validation_latents``, ``objective``, ``prior_active``/``prior_penalty``,
    ``stopping_patience``, ``decoder_dtype`` and ``latent_step_before_scoring``
    (``rgdkit.training.authors_choices`` overrides them).
    """

    _estimator_name = "RGD"
    decoder_dtype = DECODER_DTYPE
    latent_step_before_scoring = False  # the latent step follows the epoch's scoring

    def __init__(self, manifold="lorentz", latent_dim=2, curvature=None, noise_std=0.0,
                 noise="inverse_metric", noise_gradient="pathwise", hidden=(16, 32, 64, 128, 256),
                 loss="mse", epochs=750, batch_size=128, lr_latent=0.1, lr_decoder=2e-3,
                 betas_decoder=(0.9, 0.995), betas_latent=(0.5, 0.7), weight_decay=1e-3,
                 patience=85, min_epochs=150, restart_period=40, init_std=1e-3, prior="auto",
                 prior_std=1.0, n_starts=20, test_epochs=400, prune_keep=4, lr_test=0.1, seed=0,
                 device=None, dtype=None, n_threads=None, verbose=True):
        for name, value in locals().items():
            if name != "self":
                setattr(self, name, value)

    def fit(self, X, y=None, *, X_val=None):
        """Fit decoder and latents to ``X`` (n_samples, n_features); ``X_val`` (keyword) drives
        early stopping; ``y`` is ignored. Returns self. Raises ValueError/TypeError for bad
        data or parameters, FloatingPointError if the loss is never finite."""
        if y is not None and np.ndim(y) == 2:
            raise TypeError("fit(X, y) got a 2-D y, which an unsupervised model ignores; pass "
                            "validation data by keyword: fit(X, X_val=X_val)")
        fit_together([self], X, X_val)
        return self

    def transform(self, X):
        """Latents (n_samples, *latent_shape_) of new samples, decoder frozen."""
        return transform_together([self], X)[0]

    def inverse_transform(self, Z):
        """Decode latents on ``manifold_`` (n, *latent_shape_) to data space (probabilities for
        the BCE loss). Raises ValueError for points of another shape or off the manifold."""
        self._check_fitted()
        Z = check_on_manifold(Z, self.manifold_, "Z", shape=self.latent_shape_)
        with torch.no_grad():
            out = self.decode(Z.to(self.device_))
        return (torch.sigmoid(out) if self.loss == "bce" else out).cpu().numpy()

    def decode(self, z):
        """The decoder's raw output (logits for BCE) for latent tensors ``z``, differentiable."""
        return self.decoder_(self.decoder_input(z))

    def decoder_input(self, z):
        """Latents (..., *point shape) as the decoder's flat real input in ``decoder_dtype``."""
        return decoder_coordinates(z, point_ndim(self.manifold_)).to(self.decoder_dtype)

    def reconstruction_errors(self, X, Z):
        """MAE and MSE of the decoded ``Z`` against ``X`` (dict)."""
        X = check_data(X, "X", self.n_features_in_, type(self).__name__)
        diff = X - self.inverse_transform(Z)
        return {"mae": float(np.abs(diff).mean()), "mse": float(np.square(diff).mean())}

    # ---- the extension points ------------------------------------------------------------------
    def build_decoder(self):
        """The decoder network (before training), drawn from the estimator's generator."""
        return make_decoder(ambient_dim(self.manifold_, int(self.latent_dim)),
                            self.n_features_in_, self.hidden, generator=self._generator)

    def init_latents(self, n):
        """``n`` initial latents near the origin, a ManifoldParameter."""
        points = random_points(self.manifold_, n, int(self.latent_dim), self.init_std,
                               self.dtype_, self.device_, self._generator)
        return geoopt.ManifoldParameter(points, manifold=self.manifold_)

    def make_optimisers(self, decoder_params, latent_params):
        """(AdamW over the decoder, RiemannianAdam over the latents, one group per tensor)."""
        return (torch.optim.AdamW(decoder_params, lr=self.lr_decoder, betas=self.betas_decoder,
                                  weight_decay=self.weight_decay, fused=True),
                geoopt.optim.RiemannianAdam([{"params": [p]} for p in latent_params],
                                            lr=self.lr_latent, betas=self.betas_latent))

    def noisy_latents(self, z):
        """Training latents as the decoder sees them: :func:`perturb` when σ > 0."""
        if self.noise_std > 0:
            return perturb(z, self.manifold_, self.noise_std, self.noise, self._generator,
                           gradient=self.noise_gradient)
        return z

    def validation_latents(self, z_val):
        """Validation latents as the decoder sees them: without noise."""
        return z_val

    def objective(self, per_sample):
        """The scalar differentiated: the mean of the per-sample loss."""
        return per_sample.mean()

    def prior_active(self):
        """Whether the MAP objective has a prior term ("auto": on Euclidean latents only)."""
        auto = self.prior == "auto" and isinstance(self.manifold_, geoopt.Euclidean)
        return auto or self.prior not in ("none", "auto")

    def prior_penalty(self, z):
        """-log prior per latent, divided by the number of features like the likelihood."""
        if self.prior in normals.KINDS:  # normalised densities (rgdkit.manifolds.normals)
            return -normals.log_prior(z, self.manifold_, self.prior, self.prior_std) / \
                self.n_features_in_
        if isinstance(self.manifold_, geoopt.Euclidean):
            sq = z.square().sum(-1)
        else:
            sq = self.manifold_.dist(manifold_origin(self.manifold_, int(self.latent_dim),
                                                     z.dtype, z.device), z).square()
        return sq / (2 * self.prior_std ** 2 * self.n_features_in_)

    def stopping_patience(self):
        """Epochs without a better validation loss before training stops."""
        return self.patience

    # ---- internals -------------------------------------------------------------------------------
    def _prepare_fit(self, X, X_val):
        """Check parameters and data, build the manifold, decoder and initial latents (own
        generator); returns tensors ``(X, z, X_val, z_val)``."""
        check_parameters(self, integers=("latent_dim", "epochs", "batch_size", "n_starts",
                                         "test_epochs", "restart_period", "prune_keep?",
                                         "n_threads?"),
                         counts=("patience", "min_epochs", "seed"),
                         positive=("prior_std", "init_std"),
                         non_negative=("noise_std", "weight_decay", "lr_latent", "lr_decoder",
                                       "lr_test"),
                         choices={"noise": NOISE_MODES, "noise_gradient": NOISE_GRADIENTS,
                                  "loss": ("mse", "bce"),
                                  "prior": ("auto", "normal", "none", *normals.KINDS)})
        manifold = make_manifold(self.manifold, int(self.latent_dim), self.curvature)
        self.dtype_ = check_latent_dtype(self.dtype, manifold)
        self.manifold_ = latent_manifold(manifold, self.dtype_)
        self.latent_shape_ = point_shape(self.manifold_, int(self.latent_dim))
        self.device_ = pick_device(self.device)
        X = self._as_data(X, "X")
        self.n_features_in_ = X.shape[1]
        X_val = None if X_val is None else self._as_data(X_val, "X_val", self.n_features_in_)
        if self.prior_active():
            normals.check_prior(self.manifold_, self.prior, int(self.latent_dim), self.dtype_)
        self._generator = make_generator(self.seed, self.device_)
        self.decoder_ = self.build_decoder().to(self.device_, self.decoder_dtype)
        z = self.init_latents(len(X))
        return X, z, X_val, None if X_val is None else self.init_latents(len(X_val))

    def _as_data(self, X, name, n_features=None):
        X = check_training_data(X, name, n_features, type(self).__name__, self.loss == "bce")
        return torch.as_tensor(X, dtype=self.decoder_dtype, device=self.device_)

    def _start_candidates(self, X_new):
        """For each new sample the ``n_starts`` training latents whose decodings fit it best."""
        decode = (lambda z: torch.sigmoid(self.decode(z))) if self.loss == "bce" else self.decode
        return best_matching_latents(decode, torch.as_tensor(self.latents_, device=self.device_),
                                     X_new, self.n_starts, self.seed)

    def _divergence_hint(self):
        return (f"lower lr_latent ({self.lr_latent}), lr_decoder ({self.lr_decoder}) or noise_std "
                f"({self.noise_std}), or use dtype=torch.float64.")

    def _collapse_hint(self):
        return (f"lower noise_std ({self.noise_std}) or weight_decay ({self.weight_decay}), or "
                "raise epochs; compare several seeds.")

    def _describe(self):
        return f"{getattr(self.manifold_, 'name', self.manifold)} σ={self.noise_std:g}"
