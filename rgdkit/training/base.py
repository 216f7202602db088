"""The training skeleton of the estimators: scikit-learn parameters, own random generator, the
per-epoch tracker (best state, early stopping, divergence) and, for the VAE baselines, the epoch
loop.

:class:`LatentEstimator` is a scikit-learn estimator (``clone``, ``get_params``, ``set_params``,
``repr``, pipelines) that owns its randomness (a ``torch.Generator`` seeded with ``seed``; the
global torch and numpy random states are left as they were) and runs the epoch loop: recording,
early stopping on a validation loss, divergence handling and best-state restore. A subclass
says what one epoch is and what its state is:

- ``_run_epoch(epoch) -> (train_loss, val_loss or None, extras)``: one pass; ``extras`` (a dict)
  is appended to ``history_``;
- ``_after_epoch(epoch)``: steps taken after the epoch was scored; the best
  state is snapshotted before them, so the state kept is the one that was scored;
- ``_get_state()`` / ``_set_state(state)``: a copy of everything trained, and restoring it;
- ``_divergence_hint()``: what to change when the loss becomes non-finite.
"""
from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import NotFittedError
from tqdm import tqdm  # text bars: they render in committed notebooks and need no widgets

from rgdkit.numerics.kernels import flushed_denormals


class TrainingDiverged(RuntimeWarning):
    """The loss became NaN or infinite; training stopped and the best state was kept."""


class PoorFit(RuntimeWarning):
    """Training ended at the data mean or far worse than it started; the best state was kept."""


def progress_options(verbose):
    """tqdm keyword arguments: silent when not ``verbose``; otherwise tqdm's default, which
    ``TQDM_DISABLE=1`` overrides (CI)."""
    return {} if verbose else {"disable": True}


def external_stacklevel():
    """The ``stacklevel`` that makes a warning point at the first caller outside this project's
    code (``rgd_utils`` and ``rgdkit``) and scikit-learn's wrappers: the user's line."""
    ours = (str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2]
                                                           / "rgd_utils.py"),
            str(Path(sklearn.__file__).parent))
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(ours):
        frame, level = frame.f_back, level + 1
    return level


def loss_postfix(train_loss, val_loss=None):
    """A progress bar's losses: ``train`` and, with validation data, ``val``."""
    shown = {"train": f"{train_loss:.4f}"}
    if val_loss is not None:
        shown["val"] = f"{val_loss:.4f}"
    return shown


def make_generator(seed, device):
    """A ``torch.Generator`` on ``device`` seeded with ``seed``: every random draw of a fit uses
    it, so fitting never touches (or depends on) the global random state."""
    return torch.Generator(device=device).manual_seed(int(seed))


class LatentEstimator(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base of the estimators: parameter handling from scikit-learn, the epoch loop from here.
    ``get_feature_names_out`` names the latent coordinates (``<classname>0``, ...), so
    ``set_output(transform="pandas")`` works for vector latents."""

    _estimator_name = "model"

    @property
    def _n_features_out(self):
        """Number of latent coordinates (one point's entries)."""
        return int(np.prod(self.latents_.shape[1:]))

    def fit_transform(self, X, y=None, *, X_val=None):
        """Fit and return the training latents."""
        return self.fit(X, y, X_val=X_val).latents_

    def _check_fitted(self):
        if not hasattr(self, "history_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X) first")

    @flushed_denormals()
    def _run_epochs(self, epochs, *, has_validation, track_from=0, stop_from=0, patience=None,
                    keep_initial=False, description=""):
        """The epoch loop: each epoch is scored by an :class:`EpochTracker` (best state, early
        stopping, divergence), then ``_after_epoch`` runs. Sets ``history_``, ``best_epoch_``,
        ``diverged_at_``."""
        tracker = EpochTracker(self, self._get_state, self._set_state,
                               has_validation=has_validation, track_from=track_from,
                               stop_from=stop_from, patience=patience, keep_initial=keep_initial)
        bar = tqdm(range(epochs), desc=description, **progress_options(self.verbose))
        for epoch in bar:
            train_loss, val_loss, extras = self._run_epoch(epoch)
            if not tracker.score(epoch, train_loss, val_loss, extras):
                break
            self._after_epoch(epoch)
            if epoch % 10 == 0 or epoch == epochs - 1:
                # refresh=False: tqdm's own rate limit decides when to redraw
                bar.set_postfix(loss_postfix(train_loss, val_loss), refresh=False)
            if tracker.should_stop(epoch):
                # a bar left short of its total reads as an interrupted run
                bar.set_postfix_str(f"stopped early, best epoch {tracker.best_epoch}", refresh=False)
                break
        bar.close()
        tracker.finish()

    # ---- what a subclass provides -----------------------------------------------------------
    def _run_epoch(self, epoch):
        raise NotImplementedError

    def _after_epoch(self, epoch):
        """Nothing by default."""

    def _get_state(self):
        raise NotImplementedError

    def _set_state(self, state):
        raise NotImplementedError

    def _divergence_hint(self):
        raise NotImplementedError


class EpochTracker:
    """Per-epoch bookkeeping of one fit: history, best state, early stopping, divergence.

    The best state (lowest validation loss, else training loss) is kept from epoch
    ``track_from`` on (before it, the best early state is a fallback); with validation data,
    training stops ``patience`` epochs after the best epoch, counted from ``stop_from``. A
    non-finite loss ends training with a :class:`TrainingDiverged` warning and the best state (or,
    with ``keep_initial``, the initial one) is restored; with no state to keep,
    FloatingPointError. ``get_state``/``set_state`` copy and restore everything trained, so one
    tracker serves a model trained alone or as a member of a batch of models.
    """

    def __init__(self, estimator, get_state, set_state, *, has_validation, track_from=0,
                 stop_from=0, patience=None, keep_initial=False):
        self.estimator, self._get_state, self._set_state = estimator, get_state, set_state
        self.has_validation, self.track_from = has_validation, track_from
        self.stop_from, self.patience = stop_from, patience
        estimator.history_ = {"epoch": [], "train_loss": [], "val_loss": []}
        estimator.diverged_at_ = None
        self.best = get_state() if keep_initial else None
        self.best_loss, self.best_epoch = math.inf, -1

    def score(self, epoch, train_loss, val_loss, extras=None):
        """Record the epoch and keep the state if it is the best; False when the loss is not
        finite (the caller stops; the best state is restored and the warning given)."""
        self._record(epoch, train_loss, val_loss, extras or {})
        monitored = train_loss if val_loss is None else val_loss
        if not (math.isfinite(train_loss) and math.isfinite(monitored)):
            self._diverged(epoch)
            return False
        settled = epoch >= self.track_from
        if monitored < self.best_loss or (settled and self.best_epoch < self.track_from):
            self.best, self.best_loss, self.best_epoch = self._get_state(), monitored, epoch
        return True

    def should_stop(self, epoch):
        """Whether ``patience`` epochs have passed since the best one (validation data only)."""
        return (self.has_validation and self.patience is not None and epoch >= self.stop_from
                and epoch - self.best_epoch > self.patience)

    def finish(self):
        """Restore the best state; sets ``best_epoch_``."""
        if self.best is not None:
            self._set_state(self.best)
        self.estimator.best_epoch_ = self.best_epoch
        self.best = None

    def _record(self, epoch, train_loss, val_loss, extras):
        history = self.estimator.history_
        history["epoch"].append(epoch)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(math.nan if val_loss is None else val_loss)
        for key, value in extras.items():
            history.setdefault(key, []).append(value)

    def _diverged(self, epoch):
        estimator = self.estimator
        estimator.diverged_at_ = epoch
        name = estimator._estimator_name
        if self.best is None:
            raise FloatingPointError(f"{name} training diverged at epoch {epoch} before any finite "
                                     f"loss. Hint: {estimator._divergence_hint()}")
        kept = f"epoch {self.best_epoch}" if self.best_epoch >= 0 else "the initial networks"
        warnings.warn(f"{name} training diverged at epoch {epoch} (non-finite loss); stopped and "
                      f"kept the best state ({kept}). Hint: {estimator._divergence_hint()}",
                      TrainingDiverged, stacklevel=external_stacklevel())
