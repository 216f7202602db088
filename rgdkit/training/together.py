"""Many RGD models trained as one batched model.

Seeds, σ values and learning rates of one experiment share everything that fixes the shapes
(manifold, latent dimension, decoder widths, batch size), so their decoders stack: layer ``l`` of
all M members is one (M, in, out) tensor and one batched matrix product runs them all. Each member
keeps what makes it itself: its own ``torch.Generator`` (initial decoder and latents, minibatch
order, noise draws, in the order a fit alone draws them), its latents and their RiemannianAdam,
its decoder's AdamW moments and learning rate, its early stopping, divergence and best state. A
member that stops leaves the stack; the others go on.
"""
from __future__ import annotations

import math
import time

import geoopt
import torch
from tqdm import tqdm

import rgd_utils as R
from rgdkit.training.base import EpochTracker, flushed_denormals, progress_options

# parameters that fix the shapes and the computation of a batched step; members must share them
SHARED = ("manifold", "latent_dim", "curvature", "hidden", "loss", "batch_size", "noise",
          "noise_gradient", "prior", "betas_decoder", "device", "dtype")
# test-time latents of members are found together when these agree too
SHARED_AT_TEST = ("n_starts", "test_epochs", "lr_test", "prune_keep")
# elements of one batched activation (members x rows x features) at test time, ~0.8 GB in float32
TEST_CHUNK_ELEMENTS = 2e8
# on a CPU, batched matrix products beat one product per member only for small row counts
# (5 decoders, forward and backward: 3.8 against 10 ms at 128 rows each, 72 against 74 ms at
# 4,000, 720 against 410 ms at 20,000); above this, test-time latents are found member by member
CPU_BATCHED_ROWS = 4096


def group_key(estimator, keys=SHARED):
    """What members of one batched fit must share, as a hashable value."""
    params = estimator.get_params(deep=False)
    return tuple(_comparable(params[k]) for k in keys)


def _comparable(value):
    if isinstance(value, geoopt.manifolds.base.Manifold):
        return type(value).__name__, repr(value)
    return value if not isinstance(value, list) else tuple(value)


def check_members(estimators, keys=SHARED):
    """The members as a list; ValueError naming the first parameter they do not share."""
    estimators = list(estimators)
    if not estimators:
        raise ValueError("fit_together needs at least one estimator")
    if not all(isinstance(e, R.RiemannianDecoder) for e in estimators):
        raise TypeError("fit_together trains RiemannianDecoder estimators only")
    first = estimators[0].get_params(deep=False)
    for i, est in enumerate(estimators[1:], 1):
        params = est.get_params(deep=False)
        for key in keys:
            if _comparable(params[key]) != _comparable(first[key]):
                raise ValueError(f"estimator {i} has {key}={params[key]!r} but estimator 0 has "
                                 f"{first[key]!r}; members trained together must share {keys} "
                                 "(group them with group_key)")
    return estimators


def fit_together(estimators, X, X_val=None):
    """Fit RiemannianDecoders that share ``SHARED`` parameters in one batched run.

    Seeds, ``noise_std``, learning rates, weight decay, epochs, patience and the other training
    settings may differ. Each member draws its initial decoder and latents, minibatch orders and
    noise from its own seed exactly as ``fit`` alone does, stops early or on divergence alone
    (best state kept, :class:`~rgdkit.training.base.TrainingDiverged` warned), and is afterwards
    an ordinary fitted estimator. Returns the estimators; each gets ``fit_seconds_``, its share of
    the batched run's wall time.
    """
    estimators = check_members(estimators)
    start = time.perf_counter()
    prepared = [est._prepare_fit(X, X_val) for est in estimators]
    X_t, X_val_t = prepared[0][0], prepared[0][2]
    run = _BatchedRun(estimators, [p[1] for p in prepared], [p[3] for p in prepared], X_t,
                      X_val_t)
    run.train()
    seconds = time.perf_counter() - start
    for est in estimators:
        est.fit_seconds_ = seconds / len(estimators)
    return estimators


def transform_together(estimators, X):
    """Test-time latents of ``X`` for every fitted member, the members' steps batched: the same
    multi-start optimisation as ``transform`` (starts, steps, learning rate, best start kept).
    Members must share ``SHARED`` and ``SHARED_AT_TEST`` parameters. On a CPU, more than
    ``CPU_BATCHED_ROWS`` rows (samples x starts) per member run member by member, which is faster
    there. Returns one array per member.
    """
    estimators = check_members(estimators, SHARED + SHARED_AT_TEST)
    for est in estimators:
        est._check_fitted()
    first = estimators[0]
    X_t = first._as_data(X, "X", first.n_features_in_)
    rows = len(X_t) * min(int(first.n_starts), len(first.latents_))
    if first.device_.type == "cpu" and rows > CPU_BATCHED_ROWS:
        return [est.transform(X) for est in estimators]
    width = max(max(first.hidden, default=1), first.n_features_in_)
    per_chunk = max(1, int(TEST_CHUNK_ELEMENTS // (rows * width)))
    out = []
    for i in range(0, len(estimators), per_chunk):
        out += _transform_chunk(estimators[i:i + per_chunk], X_t)
    return out


def _transform_chunk(estimators, X_t):
    first = estimators[0]
    starts = torch.stack([est._start_candidates(X_t) for est in estimators])  # (A, m, s, *shape)
    decoder = StackedDecoder([est.decoder_ for est in estimators], trainable=False)
    loss_of = _LossFunction(estimators)
    targets = R.repeated_rows(X_t)

    def loss(z, k):
        return loss_of(decoder, z, targets(k).expand(len(estimators), -1, -1))

    chosen = R.optimise_starts(starts, first.manifold_, loss, first.lr_test,
                               int(first.test_epochs), first.prune_keep, first.verbose)
    return list(chosen.cpu().numpy())


class StackedDecoder:
    """The decoders of M members as stacked layers: layer l's weights of all members are one
    (M, in, out) tensor and its biases one (M, 1, out) tensor, so one batched matrix product runs
    every member; member j is row j of each."""

    def __init__(self, decoders, trainable=True):
        linears = [[m for m in d if isinstance(m, torch.nn.Linear)] for d in decoders]
        self.activations = [m for m in decoders[0] if not isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            self.params = []
            for layer in zip(*linears):
                self.params.append(torch.stack([lin.weight.T for lin in layer]).contiguous())
                self.params.append(torch.stack([lin.bias[None] for lin in layer]))
        for p in self.params:
            p.requires_grad_(trainable)

    def __call__(self, h):
        """Decode ``h`` (M, rows, in) with each member's own weights."""
        for i in range(0, len(self.params), 2):
            h = torch.baddbmm(self.params[i + 1], h, self.params[i])
            if i // 2 < len(self.activations):
                h = self.activations[i // 2](h)
        return h

    def row(self, j):
        """Member j's weights (a copy)."""
        return [p[j].detach().clone() for p in self.params]

    def write(self, row, decoder):
        """Copy weights from :meth:`row` into ``decoder`` (an nn.Sequential of the same widths)."""
        linears = [m for m in decoder if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for lin, weight, bias in zip(linears, row[::2], row[1::2]):
                lin.weight.copy_(weight.T)
                lin.bias.copy_(bias[0])

    def keep(self, rows):
        """Only the members at ``rows`` stay."""
        self.params = [p.detach()[rows].requires_grad_(p.requires_grad) for p in self.params]


class StackedAdamW:
    """torch.optim.AdamW (decoupled weight decay) on the stacked layers, one learning rate and
    weight decay per member."""

    def __init__(self, decoder, weight_decays, betas, eps=1e-8):
        self.decoder, self.betas, self.eps, self.steps = decoder, betas, eps, 0
        first = decoder.params[0]
        self.weight_decay = torch.tensor(weight_decays, dtype=first.dtype, device=first.device)
        self.exp_avg = [torch.zeros_like(p) for p in decoder.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in decoder.params]

    @torch.no_grad()
    def step(self, lr):
        """One step with learning rates ``lr`` (one per member)."""
        params, (beta1, beta2) = self.decoder.params, self.betas
        grads = [p.grad for p in params]
        self.steps += 1
        lr = lr.to(params[0].dtype)[:, None, None]
        decay = 1 - lr * self.weight_decay[:, None, None]
        step_size = lr / (1 - beta1 ** self.steps)
        torch._foreach_lerp_(self.exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(self.exp_avg_sq, beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, value=1 - beta2)
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, math.sqrt(1 - beta2 ** self.steps))
        torch._foreach_add_(denom, self.eps)
        for p, m, d in zip(params, self.exp_avg, denom):
            p.mul_(decay).sub_(m.div(d).mul_(step_size))

    def keep(self, rows):
        self.weight_decay = self.weight_decay[rows]
        self.exp_avg = [m[rows] for m in self.exp_avg]
        self.exp_avg_sq = [v[rows] for v in self.exp_avg_sq]


class _LossFunction:
    """Per-sample loss of stacked latents (M, rows, *shape): ``RiemannianDecoder._per_sample_loss``
    for every member at once (reconstruction as a mean over features, plus each one's prior)."""

    def __init__(self, estimators):
        first = estimators[0]
        self.manifold, self.loss, self.ndim = first.manifold_, first.loss, R.point_ndim(first.manifold_)
        self.prior = first._prior_active()
        self.dtype, self.device = first.dtype_, first.device_
        self.set_prior_scale(estimators)
        self.origin = R.manifold_origin(self.manifold, int(first.latent_dim), first.dtype_,
                                        first.device_)

    def set_prior_scale(self, estimators):
        scale = [2 * e.prior_std ** 2 * e.n_features_in_ for e in estimators]
        self.prior_scale = torch.tensor(scale, dtype=self.dtype, device=self.device)[:, None]

    def __call__(self, decoder, z, x):
        out = decoder(R.decoder_coordinates(z, self.ndim).to(R.DECODER_DTYPE))
        rec = R.reconstruction_loss(out, x, self.loss, z)
        if self.prior:
            rec = rec + R.squared_prior_distance(z, self.manifold, self.origin) / self.prior_scale
        return rec


class StackedRiemannianAdam:
    """geoopt's RiemannianAdam (no weight decay, no AMSGrad) on stacked latents (M, n, *shape),
    with one learning rate and pair of betas per member: the same update, one call for all."""

    def __init__(self, manifold, points, betas, eps=1e-8):
        self.manifold, self.points, self.eps, self.steps = manifold, points, eps, 0
        shape = (-1,) + (1,) * (points[0].dim() - 1)
        beta = torch.tensor(betas, dtype=points[0].dtype, device=points[0].device)
        self.beta1, self.beta2 = beta[:, 0].view(shape), beta[:, 1].view(shape)
        self.exp_avg = [torch.zeros_like(p) for p in points]
        self.exp_avg_sq = [torch.zeros_like(p) for p in points]

    @torch.no_grad()
    def step(self, lr):
        """One step with learning rates ``lr`` (one per member)."""
        self.steps += 1
        lr = lr.to(self.beta1.dtype).view(self.beta1.shape)
        correction1, correction2 = 1 - self.beta1 ** self.steps, 1 - self.beta2 ** self.steps
        for point, exp_avg, exp_avg_sq in zip(self.points, self.exp_avg, self.exp_avg_sq):
            grad = self.manifold.egrad2rgrad(point, point.grad)
            exp_avg.mul_(self.beta1).add_((1 - self.beta1) * grad)
            exp_avg_sq.mul_(self.beta2).add_(
                (1 - self.beta2) * self.manifold.component_inner(point, grad))
            direction = exp_avg.div(correction1) / exp_avg_sq.div(correction2).sqrt_().add_(self.eps)
            new_point, new_avg = self.manifold.retr_transp(point, -lr * direction, exp_avg)
            point.copy_(new_point)
            exp_avg.copy_(new_avg)

    def keep(self, rows, points):
        """Only the members at ``rows`` stay; ``points`` are the kept latents."""
        self.points = points
        self.beta1, self.beta2 = self.beta1[rows], self.beta2[rows]
        self.exp_avg = [m[rows] for m in self.exp_avg]
        self.exp_avg_sq = [v[rows] for v in self.exp_avg_sq]


def cosine_restarts(base, period, epoch):
    """The learning rate of ``epoch`` under CosineAnnealingWarmRestarts(period), as a fit alone
    steps it once per epoch."""
    period = int(period)
    return base * (1 + math.cos(math.pi * (epoch % period) / period)) / 2


class _Member:
    """One estimator inside the batched run: its row in the stacks and its tracker."""

    def __init__(self, est, run):
        self.est, self.run, self.error, self.final = est, run, None, None
        has_val = run.z_val is not None
        self.tracker = EpochTracker(
            est, self.get_state, self.set_state, has_validation=has_val,
            track_from=est.min_epochs if est.epochs > est.min_epochs and has_val else 0,
            stop_from=est.min_epochs, patience=est.patience)

    def rates(self, epoch):
        """This epoch's learning rates of decoder and latents."""
        est = self.est
        return (cosine_restarts(est.lr_decoder, est.restart_period, epoch),
                cosine_restarts(est.lr_latent, est.restart_period, epoch))

    def get_state(self):
        row, run = self.run.row_of(self), self.run
        return (run.decoder.row(row), run.z[row].detach().clone(),
                None if run.z_val is None else run.z_val[row].detach().clone())

    def set_state(self, state):
        row, z, z_val = state
        self.run.decoder.write(row, self.est.decoder_)
        self.final = (z, z_val)

    def score(self, epoch, train_loss, val_loss):
        """False when this member is done after this epoch's scoring (diverged)."""
        try:
            return self.tracker.score(epoch, train_loss, val_loss)
        except FloatingPointError as err:  # diverged before any finite loss: nothing to keep
            self.error = err
            return False

    def finish(self):
        """Leave the stack: the best state goes into the estimator, which is then fitted."""
        if self.error is not None:
            return
        if self.tracker.best is None:  # no state was kept (no epoch ran): the current one
            self.set_state(self.get_state())
        self.tracker.finish()
        self.est._keep_latents(*self.final)


class _BatchedRun:
    """The epoch loop of members trained together."""

    def __init__(self, estimators, latents, val_latents, X, X_val):
        first = estimators[0]
        self.X, self.X_val, self.first = X, X_val, first
        self.manifold = first.manifold_
        self.decoder = StackedDecoder([est.decoder_ for est in estimators])
        self.adam = StackedAdamW(self.decoder, [est.weight_decay for est in estimators],
                                 first.betas_decoder)
        self.z = self._parameter(torch.stack([z.detach() for z in latents]))
        self.z_val = None if X_val is None else self._parameter(
            torch.stack([z.detach() for z in val_latents]))
        self.latent_adam = StackedRiemannianAdam(self.manifold, self._points(),
                                                 [est.betas_latent for est in estimators])
        self.members = [_Member(est, self) for est in estimators]
        self.loss_of = _LossFunction(estimators)
        self.noise_per_factor = R._draws_per_factor(self.manifold, first.noise)

    def _parameter(self, points, rows=None):
        """Latents as a parameter; with ``rows``, the kept members of ``points`` (a parameter),
        with their gradients."""
        if rows is None:
            return geoopt.ManifoldParameter(points, manifold=self.manifold)
        kept = geoopt.ManifoldParameter(points.detach()[rows], manifold=self.manifold)
        kept.grad = None if points.grad is None else points.grad[rows]
        return kept

    def _points(self):
        return [self.z] + ([] if self.z_val is None else [self.z_val])

    def row_of(self, member):
        return self.members.index(member)

    @flushed_denormals()
    def train(self):
        epochs = max(int(m.est.epochs) for m in self.members)
        bar = tqdm(range(epochs), desc=f"RGD {self.first._describe()}, {len(self.members)} models",
                   **progress_options(self.first.verbose))
        failed = []
        for epoch in bar:
            rates = torch.tensor([m.rates(epoch) for m in self.members], device=self.X.device)
            train_losses = self._train_epoch(rates[:, 0])
            val_losses = (self._validation_step() if self.z_val is not None
                          else [None] * len(self.members))
            done = [m for m, train_loss, val_loss in zip(self.members, train_losses, val_losses)
                    if not m.score(epoch, train_loss, val_loss)]
            failed += [m for m in done if m.error is not None]
            self._leave(done)  # a diverged member takes no latent step
            if not self.members:
                break
            self.latent_adam.step(torch.tensor([m.rates(epoch)[1] for m in self.members]))
            self._leave([m for m in self.members if m.tracker.should_stop(epoch)
                         or epoch >= int(m.est.epochs) - 1])
            if not self.members:
                # a bar left short of its total reads as an interrupted run
                bar.set_postfix_str("all stopped early", refresh=False)
                break
            bar.set_postfix(models=len(self.members), refresh=False)
        bar.close()
        self._leave(list(self.members))
        if failed:
            raise FloatingPointError("; ".join(str(m.error) for m in failed))

    def _leave(self, done):
        if not done:
            return
        for member in done:
            member.finish()
        rows = [i for i, m in enumerate(self.members) if m not in done]
        self.members = [self.members[i] for i in rows]
        self.decoder.keep(rows)
        self.adam.keep(rows)
        self.z = self._parameter(self.z, rows)
        self.z_val = None if self.z_val is None else self._parameter(self.z_val, rows)
        self.latent_adam.keep(rows, self._points())
        if self.members:
            self.loss_of.set_prior_scale([m.est for m in self.members])

    def _train_epoch(self, lr):
        members, n, z = self.members, len(self.X), self.z
        device = self.X.device
        perms = torch.stack([torch.randperm(n, device=device, generator=m.est._generator)
                             for m in members])
        z.grad = None  # latent gradients accumulate over the epoch, as alone
        sigma = [float(m.est.noise_std) for m in members]
        sigma_t = torch.tensor(sigma, dtype=z.dtype, device=device).view(-1, *[1] * (z.dim() - 1))
        rows = torch.arange(len(members), device=device)[:, None]
        total = torch.zeros(len(members), device=device, dtype=torch.float64)
        for idx in perms.split(int(self.first.batch_size), dim=1):
            zb = z[rows, idx]
            if any(sigma):
                zb = self._perturb(zb, sigma, sigma_t)
            loss = self.loss_of(self.decoder, zb, self.X[idx]).mean(1)
            for p in self.decoder.params:
                p.grad = None
            loss.sum().backward()
            self.adam.step(lr)
            total += loss.detach().to(total.dtype) * idx.shape[1]
        return (total / n).tolist()

    def _perturb(self, zb, sigma, sigma_t):
        """Each member's noise from its own generator, as its fit alone draws it."""
        members, manifold, mode = self.members, self.manifold, self.first.noise
        gradient = self.first.noise_gradient
        if self.noise_per_factor:
            return torch.stack([
                R.perturb(zb[i], manifold, s, mode, m.est._generator, gradient=gradient) if s > 0
                else zb[i] for i, (m, s) in enumerate(zip(members, sigma))])
        # members without noise are left out, as alone: the pathwise gradient of exp_z at a zero
        # tangent vector is NaN (the gradient of its norm at 0)
        active = [i for i, s in enumerate(sigma) if s > 0]
        normal = torch.stack([torch.randn(zb.shape[1:], dtype=zb.dtype, device=zb.device,
                                          generator=members[i].est._generator) for i in active])
        noisy = R.perturb(zb[active], manifold, sigma_t[active], mode, normal=normal,
                          gradient=gradient)
        if len(active) == len(members):
            return noisy
        rows = list(zb.unbind(0))
        for row, i in enumerate(active):
            rows[i] = noisy[row]
        return torch.stack(rows)

    def _validation_step(self):
        """Validation losses and the validation latents' gradients (decoder untouched)."""
        x_val = self.X_val.expand(len(self.members), -1, -1)
        loss = self.loss_of(self.decoder, self.z_val, x_val).mean(1)
        (self.z_val.grad,) = torch.autograd.grad(loss.sum(), [self.z_val])
        return loss.tolist()
