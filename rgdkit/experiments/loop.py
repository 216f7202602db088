"""The experiment loop the notebooks share: fit over seeds, embed held-out samples, tabulate.

A model is fitted on the training split (validation split for early stopping), held-out samples
get test-time latents, and latent geodesic distances are correlated with a known reference
geometry (tree, circular phase, Hamming) on train and test. Tables are mean ± std over seeds.
"""
from __future__ import annotations

import contextlib
import time
import warnings

import numpy as np

import rgd_utils as R
from rgdkit.training import engine
from rgdkit.metrics.distances import distance_correlation, pairwise_distances
from rgdkit.metrics.reconstruction import binary_reconstruction_scores, reconstruction_errors
from rgdkit.experiments.workers import current_workers, run_tasks, split_evenly
from rgdkit.files import fit_cache
from rgdkit.training.authors_choices import SwitchedDecoder
from rgdkit.training.base import TrainingDiverged


def subsample(n, max_n, seed=0):
    """At most ``max_n`` sorted indices out of ``n``, drawn without replacement."""
    if n <= max_n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_n, replace=False))


def embedding_scores(Z_train, Z_test, manifold, reference, train_idx, test_idx, max_points=3000):
    """Pearson and Spearman of latent distances with ``reference(indices)`` on train and test.

    ``reference`` maps row indices of the full data to their reference distance matrix; at most
    ``max_points`` points per split enter (pairs grow quadratically). ``Z_test=None`` scores
    the training split only.
    """
    scores = {}
    for split, Z, idx in (("train", Z_train, train_idx), ("test", Z_test, test_idx)):
        if Z is None:
            continue
        keep = subsample(len(idx), max_points)
        p, s = distance_correlation(Z[keep], manifold, reference(np.asarray(idx)[keep]))
        scores[f"{split}_pearson"], scores[f"{split}_spearman"] = p, s
    return scores


def medoid(Z, manifold):
    """Row index of the point of ``Z`` with the smallest summed geodesic distance to the others:
    a representative of a group that, unlike a mean, is one of its members."""
    return int(pairwise_distances(Z, manifold).sum(1).argmin())


def make_rgd(seed, switches=None, **params):
    """A :class:`rgd_utils.RiemannianDecoder`; with ``switches`` (a name of
    :data:`rgdkit.training.authors_choices.NAMED_SWITCHES`, e.g. Table 3's R² row as the paper
    ran it) a :class:`~rgdkit.training.authors_choices.SwitchedDecoder` with those choices."""
    if switches is None:
        return R.RiemannianDecoder(seed=seed, **params)
    return SwitchedDecoder(switches, seed=seed, **params)


def fit_rgd(X, split, reference, seed, max_points=3000, scored=None, **params):
    """Fit one RGD model (:func:`make_rgd`); returns (record of metrics, fitted model, train
    latents, test latents).

    ``scored`` (boolean, one per sample of ``X``) restricts the distance correlations to those
    samples, e.g. the proliferating cells that have a cell-cycle phase.
    """
    model = make_rgd(seed, **params)
    return _fit_and_score(model, X, split, reference, seed, max_points, scored)


# the VAE baselines by the name their paper rows give in ``estimator``: (module, class)
VAE_ESTIMATORS = {"pvae": ("rgdkit.baselines.pvae", "PoincareVAE"),
                  "svae": ("rgdkit.baselines.svae", "SphericalVAE"),
                  "deltavae": ("rgdkit.baselines.deltavae", "DiffusionVAE")}


def fit_vae(X, split, reference, seed, estimator="pvae", max_points=3000, scored=None, **params):
    """Fit one VAE baseline (``estimator``: "pvae" the Poincaré VAE, "svae" the S-VAE, "deltavae"
    the ΔVAE; :data:`VAE_ESTIMATORS`) on the same split and metrics as :func:`fit_rgd`. Held-out
    samples are embedded by the encoder. The record also carries the numerical failures of the
    fit (``model.failures_``: ``nan_epochs`` and the sampler's own count, e.g.
    ``boundary_projections``) and ``diverged_at``."""
    import importlib  # the baselines are optional for RGD users

    if estimator not in VAE_ESTIMATORS:
        raise ValueError(f"unknown VAE estimator {estimator!r}; known: {', '.join(VAE_ESTIMATORS)}")
    module, name = VAE_ESTIMATORS[estimator]
    model = getattr(importlib.import_module(module), name)(seed=seed, **params)
    record, *fitted = _fit_and_score(model, X, split, reference, seed, max_points, scored)
    record.update(**model.failures_)  # diverged_at is in every record already
    return (record, *fitted)


def fit_models(models, X, split, reference, seeds, fit=fit_rgd, together=True, embed_test=True,
               workers=None, **common):
    """Fit every model of ``models`` (name -> parameters) for every seed with ``fit``.

    ``common`` goes to every fit (training settings, ``max_points``, ``scored``); a model's own
    parameters win. RGD fits (``fit=fit_rgd``) that share the manifold, decoder and batch size
    are trained together (:func:`rgd_utils.fit_together`), each one as it would
    be alone; ``together=False`` fits them one by one. ``embed_test=False`` skips the test-time
    latents of RGD fits trained together (the costly part of a small model) where only training
    metrics are used: their ``Z_test`` is None and their records have no test columns.
    ``workers`` processes (default ``RGD_WORKERS``, else 1) share the fits: a batched group is
    split between them, other fits are spread one per task; results do not depend on it. Prints
    one summary line per model. Returns
    ``(records, fitted)``: one record per fit, labelled with its ``model`` name, and each model's
    ``(model, Z_train, Z_test)`` of the first seed, for figures.
    """
    if fit is fit_rgd and together:
        runs = _fit_rgd_together(models, X, split, reference, seeds, embed_test, workers,
                                 **common)
    else:
        if not embed_test:
            raise ValueError("embed_test=False needs RGD fits trained together "
                             "(fit=fit_rgd, together=True)")
        jobs = [(name, seed) for name in models for seed in seeds]
        results = run_tasks(_fit_one, [(fit, X, split, reference, seed, {**common, **models[name]})
                                       for name, seed in jobs], workers)
        runs = {name: [] for name in models}
        for (name, _), result in zip(jobs, results):
            runs[name].append(result)
    records, fitted = [], {}
    for name, results in runs.items():
        model_records = [{"model": name, **record} for record, *_ in results]
        records += model_records
        fitted[name] = tuple(results[0][1:])
        print(summary_line(name, model_records))
    return records, fitted


@contextlib.contextmanager
def _divergence_left_to_summary():
    """Fits here warn no :class:`TrainingDiverged`: the model's summary line states it, seed and
    epoch, where a warning per fit would print the library's path and source line in a notebook."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingDiverged)
        yield


def _fit_one(fit, X, split, reference, seed, params):
    with _divergence_left_to_summary():
        return fit(X, split, reference, seed, **params)


def _fit_rgd_together(models, X, split, reference, seeds, embed_test=True, workers=None,
                      max_points=3000, scored=None, **common):
    """:func:`fit_rgd` for every model and seed, members that can share a batched run in one
    (split between ``workers`` processes): ``{name: [(record, model, Z_train, Z_test) per seed]}``."""
    train, val, test = split
    jobs = [(name, seed, make_rgd(seed, **{**common, **params}))
            for name, params in models.items() for seed in seeds]
    groups = {}
    for index, (_, _, model) in enumerate(jobs):
        key = engine.group_key(model, engine.VARYING_AT_TEST)
        groups.setdefault(key, []).append(index)
    workers = current_workers() if workers is None else workers
    chunks = [chunk for indices in groups.values() for chunk in split_evenly(indices, workers)]
    chunks.sort(key=len, reverse=True)  # the longest first, so the workers finish together
    X_test = X[test] if embed_test else None
    fitted = _fit_chunks_resumably([([jobs[i][2] for i in chunk], X[train], X[val], X_test)
                                    for chunk in chunks], workers)
    by_job = [None] * len(jobs)  # (fitted model, Z_test), back in the jobs' order
    for chunk, (members, Z_tests) in zip(chunks, fitted):
        for index, model, Z_test in zip(chunk, members, Z_tests):
            by_job[index] = (model, Z_test)
    results = {name: [] for name in models}
    for (name, seed, _), (model, Z_test) in zip(jobs, by_job):
        record = _score(model, X, split, reference, model.latents_, Z_test, max_points, scored)
        record.update(seed=seed, fit_seconds=model.fit_seconds_)
        results[name].append((record, model, model.latents_, Z_test))
    return results


def _fit_chunks_resumably(tasks, workers):
    """``run_tasks(_fit_chunk, tasks, workers)``; with a fit cache set
    (:mod:`rgdkit.files.fit_cache`), each finished chunk is kept there as it finishes and chunks
    already kept are loaded instead of fitted, so a stopped run resumes.

    The folder is checked before any fit: a file raises; a folder that cannot be written warns
    and its fits are used but not kept. A chunk that cannot be kept warns and stays in memory."""
    folder = fit_cache.cache_folder()
    if folder is None:
        return run_tasks(_fit_chunk, tasks, workers)
    writable = fit_cache.check_folder(folder)
    problems = {i: fit_cache.storable_problem(task[0]) for i, task in enumerate(tasks)}
    unstorable = {i for i, problem in problems.items() if problem}
    if unstorable and writable:
        warnings.warn(f"{len(unstorable)} group(s) of fits cannot be kept in the fit cache "
                      f"({fit_cache.CACHE_VARIABLE}): {problems[min(unstorable)]}; they are "
                      "computed and used but not kept. Pass the manifold by name "
                      "(manifold='lorentz', curvature=...) to have them kept",
                      UserWarning, stacklevel=3)
    keys = [fit_cache.fit_key(*task) for task in tasks]
    results = [fit_cache.load(folder, key, task[0]) for key, task in zip(keys, tasks)]
    todo = [i for i, result in enumerate(results) if result is None]
    if len(todo) < len(tasks):
        fits = sum(len(tasks[i][0]) for i, result in enumerate(results) if result is not None)
        print(f"{fits} fit(s) restored from the fit cache ({fit_cache.CACHE_VARIABLE}): finished "
              "by an earlier run with the same settings, data and training code, which was "
              "stopped")

    def keep(j, result):
        if writable and todo[j] not in unstorable:
            fit_cache.save(folder, keys[todo[j]], result)
    fresh = run_tasks(_fit_chunk, [tasks[i] for i in todo], workers, on_result=keep)
    for i, result in zip(todo, fresh):
        results[i] = result
    return results


def _fit_chunk(members, X_train, X_val, X_test):
    """Members of one batched group fitted together, and their test-time latents (or Nones)."""
    with _divergence_left_to_summary():
        R.fit_together(members, X_train, X_val)
    Z_tests = (R.transform_together(members, X_test) if X_test is not None
               else [None] * len(members))
    return members, Z_tests


def summary_line(name, runs):
    """One line for the fits of one model: mean ± std train/test Pearson, epochs, time."""
    def stat(key):
        if key not in runs[0]:
            return "not embedded"
        values = np.array([r[key] for r in runs], dtype=float)
        return f"{values.mean():.2f} ± {values.std():.2f}" if len(values) > 1 else f"{values[0]:.2f}"
    diverged = [f"seed {r['seed']} at epoch {r['diverged_at']}" for r in runs
                if r.get("diverged_at") is not None]
    note = f"; diverged ({', '.join(diverged)}), best state kept" if diverged else ""
    return (f"{name}: train r {stat('train_pearson')}, test r {stat('test_pearson')} "
            f"({len(runs)} seed{'s' * (len(runs) > 1)}, {np.mean([r['epochs_run'] for r in runs]):.0f} "
            f"epochs, {np.mean([r['fit_seconds'] for r in runs]):.0f} s per fit{note})")


def panel_title(prefix, record):
    """A figure panel's title for one fit: train Pearson and train MSE, and the epoch it diverged
    at, if it did (its panel then shows the best state before that; the caption says so)."""
    # short lines: in a grid of small panels a long one runs into the next panel's title
    title = f"{prefix}\nr = {record['train_pearson']:.2f}, MSE = {record['train_mse']:.2f}"
    if record.get("diverged_at") is not None:
        title += f"\nDIVERGED, epoch {record['diverged_at']}"
    return title


def _fit_and_score(model, X, split, reference, seed, max_points, scored=None):
    """Fit ``model`` on the training split (validation split for early stopping), embed the test
    split and score both: distance correlations (on the ``scored`` samples), reconstruction
    errors, epochs and time."""
    train, val, test = split
    start = time.perf_counter()
    Z_train = model.fit_transform(X[train], X_val=X[val])
    fit_seconds = time.perf_counter() - start
    Z_test = model.transform(X[test])
    record = _score(model, X, split, reference, Z_train, Z_test, max_points, scored)
    record.update(seed=seed, fit_seconds=fit_seconds)
    return record, model, Z_train, Z_test


def _score(model, X, split, reference, Z_train, Z_test, max_points, scored=None):
    """Distance correlations (on the ``scored`` samples), reconstruction errors, epochs and
    divergence of one fitted model."""
    train, _, test = split
    keep_train, keep_test = ((np.ones(len(train), bool), np.ones(len(test), bool)) if scored is None
                             else (np.asarray(scored)[train], np.asarray(scored)[test]))
    record = embedding_scores(Z_train[keep_train], None if Z_test is None else Z_test[keep_test],
                              model.manifold_, reference,
                              train[keep_train], test[keep_test], max_points)
    for name, idx, Z in (("train", train, Z_train), ("test", test, Z_test)):
        if Z is None:
            continue
        record.update({f"{name}_{k}": v for k, v in _reconstruction(model, X[idx], Z).items()})
    record.update(epochs_run=len(model.history_["epoch"]),
                  diverged_at=getattr(model, "diverged_at_", None))
    return record


def _reconstruction(model, X, Z):
    """MAE and MSE of the decoded latents; for binary data (BCE loss) also BCE and F1."""
    X_hat = model.inverse_transform(Z)
    scores = reconstruction_errors(X, X_hat)
    if getattr(model, "loss", "mse") == "bce":
        scores.update(binary_reconstruction_scores(X, X_hat))
    return scores


def latents_in_data_order(split, Z_train, Z_val, Z_test):
    """One (n, ambient) array with each split's latents back in the rows of the full data."""
    parts = [np.asarray(Z) for Z in (Z_train, Z_val, Z_test)]
    out = np.empty((sum(len(i) for i in split), parts[0].shape[1]), dtype=parts[0].dtype)
    for idx, Z in zip(split, parts):
        out[np.asarray(idx)] = Z
    return out
