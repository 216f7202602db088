"""Scanpy-style tools: :func:`rgd` fits a Riemannian generative decoder to an AnnData and writes
its latents to ``adata.obsm``, as ``scanpy.tl.umap`` writes ``X_umap``.

    import scanpy as sc
    from rgdkit import tl

    model = tl.rgd(adata, use_rep="X_pca", latent_dim=2, curvature=1, noise_std=0.5, epochs=300)
    sc.pl.embedding(adata, basis="X_rgd_poincare", color="louvain")
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from anndata import AnnData
from scipy import sparse

import rgd_utils

__all__ = ["rgd", "poincare_coordinates"]


def rgd(adata, *, use_rep=None, manifold="lorentz", key_added="X_rgd", copy=False, **params):
    """Fit a :class:`rgd_utils.RiemannianDecoder` to the cells of ``adata`` and store its latents.

    The estimator is ``RiemannianDecoder(manifold=manifold, **params)`` fitted with
    ``fit(data)`` (no validation data, so every epoch runs and the state with the lowest
    training loss is kept); the latents written are its ``latents_``, exactly those of that fit.

    Parameters
    ----------
    adata : anndata.AnnData
        Cells x features. Not modified when ``copy=True``.
    use_rep : str or None, default None
        What is fitted: None or ``"X"``: ``adata.X`` (a sparse matrix is made dense); any other
        string: ``adata.obsm[use_rep]`` (``"X_pca"``, for instance).
    manifold : str or geoopt manifold, default "lorentz"
        The latent manifold (see :func:`rgd_utils.make_manifold`): "lorentz" (hyperbolic, the
        hyperboloid model), "poincare", "sphere", "torus", "euclidean", a geoopt class name.
    key_added : str, default "X_rgd"
        Name of the ``obsm`` entries and of the ``uns`` entry written.
    copy : bool, default False
        Work on a copy of ``adata`` and return it, leaving ``adata`` as it was.
    **params
        Any other :class:`rgd_utils.RiemannianDecoder` parameter (``latent_dim``, ``curvature``,
        ``noise_std``, ``epochs``, ``seed``, ``n_threads``, ...; ``docs/api.md``).

    Returns
    -------
    rgd_utils.RiemannianDecoder or anndata.AnnData
        With ``copy=False`` (the default), the fitted estimator (its ``transform`` gives latents of
        new cells, ``inverse_transform`` decodes latents, ``history_`` holds the losses), and
        ``adata`` is modified in place. With ``copy=True``, the modified copy of ``adata``; the
        estimator is then not returned (call ``rgd(adata.copy())`` to keep both). Scanpy's tools
        return None in place of the estimator.

    The AnnData (``adata`` or the copy) gains:

    - ``obsm[key_added]``: the latents as a 2-D array (n_obs, n_coords): the manifold's
      coordinates, matrix points flattened row by row and complex entries split into (real,
      imaginary), as the decoder sees them. H^d on the Lorentz model has d + 1 columns, the
      first the time-like x0, so drawing this entry directly shows a side view of the hyperboloid.
    - ``obsm[key_added + "_poincare"]``, for hyperbolic latents only (Lorentz, Poincaré ball, a
      Stereographic model of negative curvature): the same points in the Poincaré ball, scaled
      to the unit ball (:func:`poincare_coordinates`), (n_obs, d);
      ``sc.pl.embedding(adata, basis=key_added + "_poincare")`` draws them.
    - ``uns[key_added]``: ``{"params": ..., "losses": ...}``, both JSON-able (and h5ad-writable):
      ``params`` is ``get_params()`` with the manifold as a string, tuples as lists, the dtype as
      a string, plus ``use_rep``; ``losses`` holds ``best_epoch`` (the epoch whose state was
      kept), ``train_loss`` (its training loss, with the training noise), ``last_epoch`` and
      ``last_train_loss``, ``mean_loss`` (the loss of predicting every cell as the mean cell:
      for "mse" the data's mean variance), ``diverged_at`` (or None) and ``fit_seconds``.

    Raises
    ------
    TypeError
        ``adata`` is not an AnnData; a parameter that RiemannianDecoder does not have.
    ValueError
        ``use_rep`` names no ``obsm`` entry (the available keys are listed), ``adata.X`` is
        missing, ``key_added`` is not a non-empty string; and whatever
        :meth:`rgd_utils.RiemannianDecoder.fit` raises for the data or the parameters.
    """
    if not isinstance(adata, AnnData):
        hint = " (pass the AnnData itself)" if isinstance(adata, (np.ndarray, torch.Tensor)) or \
            sparse.issparse(adata) else ""
        raise TypeError(f"rgd expects an anndata.AnnData, got {type(adata).__name__}{hint}; for "
                        "an array use rgd_utils.RiemannianDecoder(...).fit(X)")
    if not isinstance(key_added, str) or not key_added:
        raise ValueError(f"key_added must be a non-empty string, got {key_added!r}")
    unknown = sorted(set(params) - set(rgd_utils.RiemannianDecoder._get_param_names()))
    if unknown:
        raise TypeError(f"RiemannianDecoder has no parameter {', '.join(map(repr, unknown))}; its "
                        f"parameters are {', '.join(rgd_utils.RiemannianDecoder._get_param_names())}")
    data = _representation(adata, use_rep)
    model = rgd_utils.RiemannianDecoder(manifold=manifold, **params)
    model.fit(data)

    if copy:
        adata = adata.copy()
    adata.obsm[key_added] = flat_latents(model.latents_)
    disk = poincare_coordinates(model.latents_, model.manifold_)
    if disk is not None:
        adata.obsm[key_added + "_poincare"] = disk
    adata.uns[key_added] = {"params": _jsonable_params(model, use_rep),
                            "losses": _losses(model, data)}
    return adata if copy else model


def flat_latents(latents):
    """Latents (n, *point shape) as a real 2-D array (n, n_coords): matrices flattened row by
    row, complex entries as (real, imaginary) pairs."""
    latents = np.asarray(latents)
    if np.iscomplexobj(latents):
        latents = np.stack([latents.real, latents.imag], axis=-1)
    return latents.reshape(len(latents), -1)


def poincare_coordinates(latents, manifold):
    """Hyperbolic latents in the unit Poincaré ball (numpy, (n, d)); None for other manifolds.

    Lorentz (H^d in R^(d+1), curvature -1/k): ``rgdkit.plotting.figures.lorentz_to_poincare``,
    divided by its ball radius sqrt(k). Poincaré ball (curvature -c) and Stereographic models
    of negative curvature kappa: the latents times sqrt(-kappa). Every curvature is drawn in the
    unit ball; the map is an isometry onto the ball of curvature -1 up to that scale (a point at
    distance r from the origin lands at radius tanh(r / (2 sqrt(k))) for Lorentz).
    """
    import geoopt

    latents = np.asarray(latents)
    if isinstance(manifold, geoopt.Lorentz):
        from rgdkit.plotting.figures import lorentz_to_poincare
        k = float(manifold.k)
        return lorentz_to_poincare(latents, k) / math.sqrt(k)
    if isinstance(manifold, geoopt.Stereographic) and float(manifold.k) < 0:
        return latents.astype(np.float64) * math.sqrt(-float(manifold.k))
    return None


def _representation(adata, use_rep):
    """The array fitted: ``adata.X`` (dense) or ``adata.obsm[use_rep]``."""
    if use_rep is None or use_rep == "X":
        X = adata.X
        if X is None:
            raise ValueError("adata.X is None; store the data in adata.X or pass use_rep= with "
                             f"one of adata.obsm's keys ({_keys(adata)})")
        return X.toarray() if sparse.issparse(X) else np.asarray(X)
    if not isinstance(use_rep, str):
        raise TypeError(f"use_rep must be None, 'X' or a key of adata.obsm, got "
                        f"{type(use_rep).__name__} {use_rep!r}")
    if use_rep not in adata.obsm:
        raise ValueError(f"use_rep={use_rep!r} is not in adata.obsm; available keys: "
                         f"{_keys(adata)} (or use_rep=None for adata.X)")
    rep = adata.obsm[use_rep]
    return rep.toarray() if sparse.issparse(rep) else np.asarray(rep)


def _keys(adata):
    return ", ".join(map(repr, adata.obsm.keys())) or "none"


def _jsonable(value):
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return str(value)  # torch dtypes, geoopt manifolds, devices


def _jsonable_params(model, use_rep):
    params = {name: _jsonable(value) for name, value in model.get_params(deep=False).items()}
    manifold = model.manifold
    params["manifold"] = manifold if isinstance(manifold, str) else type(manifold).__name__
    params["use_rep"] = "X" if use_rep is None else use_rep
    return params


def _losses(model, data):
    history = model.history_
    row = history["epoch"].index(model.best_epoch_) if model.best_epoch_ in history["epoch"] else -1
    X = np.asarray(data, dtype=np.float64)
    mean = X.mean(0, keepdims=True)
    if model.loss == "bce":
        p = np.clip(mean, 1e-7, 1 - 1e-7)
        mean_loss = float(-(p * np.log(p) + (1 - p) * np.log1p(-p)).mean())
    else:
        mean_loss = float(np.square(X - mean).mean())
    return {"best_epoch": int(model.best_epoch_),
            "train_loss": float(history["train_loss"][row]),
            "last_epoch": int(history["epoch"][-1]),
            "last_train_loss": float(history["train_loss"][-1]),
            "mean_loss": mean_loss,
            "diverged_at": None if model.diverged_at_ is None else int(model.diverged_at_),
            "fit_seconds": float(model.fit_seconds_)}
