"""The parts of the RGD training engine that are bookkeeping, not method.

:func:`rgd_utils.fit_together` trains one model or many with the loop written there; this module
gives it the members' checks (:func:`check_members`), the decoders of several members run as one
batched product (:func:`stacked_decode`), each member's optimisers, schedules, best state and
early stopping (:class:`Member`), and the thread count a fit holds (:func:`held_threads`).
Each member keeps its own stock optimisers (``torch.optim.AdamW`` and geoopt's
``RiemannianAdam`` by default) over its own parameters, so members differ freely in learning
rates, weight decay, epochs and patience.
"""
from __future__ import annotations

import contextlib
import math
import warnings

import torch
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts

from rgdkit.training.base import EpochTracker, PoorFit, external_stacklevel

__all__ = ["VARYING", "VARYING_AT_TEST", "Member", "check_fitted_members", "check_members",
           "choose_threads", "group_key", "held_threads", "stacked_decode", "test_chunks"]

# parameters members trained together may differ in; every other parameter must agree
VARYING = ("seed", "noise_std", "lr_latent", "lr_decoder", "betas_latent", "weight_decay",
           "epochs", "patience", "min_epochs", "init_std", "prior_std", "verbose", "n_starts",
           "test_epochs", "prune_keep", "lr_test")
# ...and in test-time latents found together, only these
VARYING_AT_TEST = ("seed", "noise_std", "lr_latent", "lr_decoder", "betas_latent", "weight_decay",
                   "epochs", "patience", "min_epochs", "init_std", "verbose")
# elements of one batched activation (members x rows x width) at test time, about 0.8 GB in float32
TEST_CHUNK_ELEMENTS = 2e8
# on a CPU, one batched product beats one product per member only for small row counts
# (benchmarks/bench_together.py); above this many rows per member, members go one by one
CPU_BATCHED_ROWS = 4096
# multiply-adds of one decoder step below which one thread is faster than several on a CPU
# (threads then spend more time waiting on each other than computing; benchmarks/bench_threads.py)
ONE_THREAD_WORK = 5e7


def group_key(estimator, varying=VARYING):
    """What members of one run must share (class and all other parameters), as a hashable value."""
    params = estimator.get_params(deep=False)
    return (type(estimator),) + tuple((k, _comparable(v)) for k, v in sorted(params.items())
                                      if k not in varying)


def _comparable(value):
    if isinstance(value, torch.nn.Module):  # geoopt manifolds are modules
        return type(value).__name__, repr(value)
    if isinstance(value, (list, tuple)):
        return tuple(_comparable(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def check_members(estimators, varying=VARYING, expected_type=None):
    """The members as a list, after checking they can be trained (or transformed) together.

    Raises
    ------
    ValueError
        No members; one instance given twice (it would be trained twice over); two members whose
        class or a parameter outside ``varying`` differs (the error names it).
    TypeError
        A member that is not an ``expected_type``.
    """
    estimators = list(estimators)
    if not estimators:
        raise ValueError("fit_together needs at least one estimator")
    if expected_type is not None:
        wrong = [type(e).__name__ for e in estimators if not isinstance(e, expected_type)]
        if wrong:
            raise TypeError(f"fit_together trains {expected_type.__name__} estimators only, got "
                            f"{', '.join(sorted(set(wrong)))}")
    if len({id(e) for e in estimators}) < len(estimators):
        raise ValueError("the same estimator instance appears more than once; pass distinct "
                         "estimators (sklearn.base.clone(model) makes a copy)")
    first = estimators[0].get_params(deep=False)
    for i, est in enumerate(estimators[1:], 1):
        if type(est) is not type(estimators[0]):
            raise ValueError(f"estimator {i} is a {type(est).__name__}, estimator 0 a "
                             f"{type(estimators[0]).__name__}; members must be of one class")
        params = est.get_params(deep=False)
        for key in sorted(set(first) - set(varying)):
            if _comparable(params[key]) != _comparable(first[key]):
                raise ValueError(f"estimator {i} has {key}={params[key]!r} but estimator 0 has "
                                 f"{first[key]!r}; members trained together may differ only in "
                                 f"{', '.join(varying)} (group them with group_key)")
    return estimators


def test_chunks(estimators, n_samples):
    """The members in groups whose test-time latents are found together: one by one on a CPU
    above ``CPU_BATCHED_ROWS`` rows (samples x starts) each, else as many as keep one activation
    under ``TEST_CHUNK_ELEMENTS``."""
    first = estimators[0]
    rows = n_samples * min(int(first.n_starts), len(first.latents_))
    width = max(max(first.hidden, default=1), first.n_features_in_)
    size = max(1, int(TEST_CHUNK_ELEMENTS // (rows * width)))
    if first.device_.type == "cpu" and rows > CPU_BATCHED_ROWS:
        size = 1
    return [estimators[i:i + size] for i in range(0, len(estimators), size)]


def check_fitted_members(estimators, expected_type=None):
    """:func:`check_members` for test-time latents found together (``VARYING_AT_TEST``), all
    fitted, on data of one width (else ValueError naming the widths)."""
    estimators = check_members(estimators, VARYING_AT_TEST, expected_type)
    for est in estimators:
        est._check_fitted()
    widths = sorted({est.n_features_in_ for est in estimators})
    if len(widths) > 1:
        raise ValueError(f"the members were fitted on data of {widths} features; test-time "
                         "latents are found together only for members fitted on the same columns")
    return estimators


def stacked_decode(decoders, h):
    """Each member's decoder applied to its own rows: ``h`` (M, rows, in) -> (M, rows, out).

    ``decoders`` are ``nn.Sequential`` stacks of ``nn.Linear`` and elementwise activations of
    one architecture. One member is its own module; several run as one batched matrix product
    per layer, with their weights stacked on every call (so gradients reach each member's own
    parameters).
    """
    if len(decoders) == 1:
        return decoders[0](h[0]).unsqueeze(0)
    for i, layer in enumerate(decoders[0]):
        if isinstance(layer, torch.nn.Linear):
            weight = torch.stack([d[i].weight for d in decoders]).transpose(1, 2)
            bias = torch.stack([d[i].bias for d in decoders]).unsqueeze(1)
            h = torch.baddbmm(bias, h, weight)
        else:
            h = layer(h)
    return h


class Member:
    """One estimator's training state in a run: latents, optimisers, schedules and tracker.

    Parameters
    ----------
    est : RiemannianDecoder
        Prepared by its ``_prepare_fit``: ``decoder_`` built, generator seeded.
    z, z_val : ManifoldParameter
        Its training and (or None) validation latents.
    """

    def __init__(self, est, z, z_val):
        self.est, self.z, self.z_val, self.error = est, z, z_val, None
        latents = [z] + ([] if z_val is None else [z_val])
        self.decoder_optimiser, self.latent_optimiser = est.make_optimisers(
            list(est.decoder_.parameters()), latents)
        self.schedulers = [CosineAnnealingWarmRestarts(opt, int(est.restart_period))
                           for opt in (self.decoder_optimiser, self.latent_optimiser)]
        has_val = z_val is not None
        self.tracker = EpochTracker(
            est, self.get_state, self.set_state, has_validation=has_val,
            track_from=est.min_epochs if est.epochs > est.min_epochs and has_val else 0,
            stop_from=est.min_epochs, patience=est.stopping_patience())

    def get_state(self):
        """A copy of everything trained: decoder weights and latents."""
        return ({k: v.detach().clone() for k, v in self.est.decoder_.state_dict().items()},
                self.z.detach().clone(),
                None if self.z_val is None else self.z_val.detach().clone())

    def set_state(self, state):
        decoder, z, z_val = state
        self.est.decoder_.load_state_dict(decoder)
        with torch.no_grad():
            self.z.copy_(z)
            if z_val is not None:
                self.z_val.copy_(z_val)

    def latent_step(self):
        """The epoch's latent step (gradients accumulated over the epoch)."""
        self.latent_optimiser.step()

    def end_epoch(self, epoch):
        """After scoring: the latent step (unless the estimator takes it before scoring) and the
        schedules; True when the member stops after ``epoch`` (patience or its last epoch)."""
        if not self.est.latent_step_before_scoring:
            self.latent_step()
        for scheduler in self.schedulers:
            scheduler.step()
        return self.tracker.should_stop(epoch) or epoch >= int(self.est.epochs) - 1

    def score(self, epoch, train_loss, val_loss):
        """False when the member is done after this epoch's scoring (it diverged)."""
        try:
            return self.tracker.score(epoch, train_loss, val_loss)
        except FloatingPointError as err:  # diverged before any finite loss: nothing to keep
            self.error = err
            return False

    def finish(self, baseline):
        """Restore the best state into the estimator, warn about a poor fit, keep the latents.

        ``baseline`` is the loss of predicting the data mean (the data's variance for MSE)."""
        if self.error is not None:
            return
        self.tracker.finish()
        warn_poor_fit(self.est, baseline)
        if not torch.isfinite(self.z).all():
            raise FloatingPointError(f"RGD latents are not finite after training. Hint: "
                                     f"{self.est._divergence_hint()}")
        self.est.latents_ = self.z.detach().cpu().numpy()
        self.est.val_latents_ = None if self.z_val is None else self.z_val.detach().cpu().numpy()


def warn_poor_fit(est, baseline):
    """A :class:`PoorFit` warning, with the numbers, when the kept state's training loss is no
    better than the data mean's (a collapsed decoder) or the kept monitored loss is more than
    twice the first epoch's (the fit ended far worse than it started)."""
    history = est.history_
    if est.best_epoch_ < 0 or not history["epoch"]:
        return
    monitored = history["val_loss"] if not math.isnan(history["val_loss"][0]) else \
        history["train_loss"]
    row = history["epoch"].index(est.best_epoch_)
    kept_train, kept, first = history["train_loss"][row], monitored[row], monitored[0]
    name = est._estimator_name
    if math.isfinite(first) and kept > 2 * first:
        warnings.warn(f"{name} fit ended far worse than it started: loss {kept:.4g} at the kept "
                      f"epoch {est.best_epoch_}, against {first:.4g} after epoch 0. Hint: "
                      f"{est._divergence_hint()}", PoorFit, stacklevel=external_stacklevel())
    elif baseline is not None and kept_train >= 0.99 * baseline:
        warnings.warn(f"{name} fit is no better than the data mean (a collapsed or untrained "
                      f"decoder): training loss {kept_train:.4g} at the kept epoch "
                      f"{est.best_epoch_}, against {baseline:.4g} for predicting the mean. Hint: "
                      f"{est._collapse_hint()}", PoorFit, stacklevel=external_stacklevel())


def choose_threads(estimator, rows):
    """Threads for a fitted or prepared estimator's steps over ``rows`` rows (all members):
    its ``n_threads`` when set, else 1 when a step's multiply-adds (rows times decoder
    parameters) are below ``ONE_THREAD_WORK``, else torch's thread count (what the process
    was given: one in the notebooks' worker processes)."""
    if estimator.n_threads is not None:
        return int(estimator.n_threads)
    if rows * sum(p.numel() for p in estimator.decoder_.parameters()) < ONE_THREAD_WORK:
        return 1
    return torch.get_num_threads()


@contextlib.contextmanager
def held_threads(estimator, rows):
    """torch's intra-op threads set to :func:`choose_threads` ``(estimator, rows)`` for the block
    (on a CPU), as they were afterwards, whatever other libraries (numba, OpenMP) set before."""
    if estimator.device_.type != "cpu":
        yield
        return
    was = torch.get_num_threads()
    torch.set_num_threads(choose_threads(estimator, rows))
    try:
        yield
    finally:
        torch.set_num_threads(was)


def mean_prediction_loss(X, loss):
    """The loss of decoding every latent to the data's mean (a collapsed decoder)."""
    mean = X.mean(0, keepdim=True)
    if loss == "bce":
        p = mean.clamp(1e-7, 1 - 1e-7)
        return float(-(p * p.log() + (1 - p) * (1 - p).log()).mean())
    return float((X - mean).square().mean())
