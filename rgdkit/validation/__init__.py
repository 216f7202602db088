"""Input validation shared by the estimators and the analyses: every check raises a TypeError or
ValueError that names the argument, what was given and the fix."""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from scipy import sparse
from sklearn.utils.validation import check_array

__all__ = ["check_data", "check_device", "check_integer", "check_parameters", "check_real", "check_training_data"]


def check_integer(value, name, minimum=1):
    """``value`` as an int; integral floats (2.0) pass, anything else raises a clear error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or int(value) != value or value < minimum:
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def check_real(value, name, positive=False):
    """A finite real number (``positive``: > 0, else >= 0), or a TypeError/ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or (value <= 0 if positive else value < 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'} and finite, got {value!r}")
    return float(value)


def check_data(X, name="X", n_features=None, expected_by="the model"):
    """``X`` (array, tensor or DataFrame) as a validated 2-D float numpy array.

    scikit-learn's ``check_array`` checks the shape and the dtype; the finite check here names
    the offending rows, and ``n_features`` (when given) the width ``expected_by`` was fitted on. Sparse matrices are
    refused with the fix (the decoder works on dense data). Errors are ValueErrors that name the
    problem and the fix.
    """
    if sparse.issparse(X):
        raise ValueError(f"{name} is a sparse matrix; the decoder needs dense data: pass "
                         f"{name}.toarray() (or adata.X.toarray())")
    if torch.is_tensor(X):
        X = X.detach().cpu().numpy()
    try:
        X = check_array(X, dtype=(np.float64, np.float32), ensure_all_finite=False,
                        input_name=name)
    except ValueError as err:
        if "Expected 2D" in str(err) or "Found array with dim" in str(err):
            raise ValueError(f"{name} must be a 2-D array (samples x features): {err}") from None
        raise ValueError(f"{name} must be real and numeric, with at least one sample and one "
                         f"feature: {err}") from None
    if not X.flags.writeable:  # torch cannot wrap read-only memory
        X = X.copy()
    bad = ~np.isfinite(X).all(1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(f"{name} has NaN or inf in {len(rows)} rows (first: {rows[:5].tolist()}); "
                         "drop or impute them before fitting")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features, but {expected_by} is expecting "
                         f"{n_features} features as input (it was fitted on them); pass data "
                         "with the same columns")
    return X


def check_parameters(estimator, *, integers=(), counts=(), positive=(), non_negative=(),
                     choices=None):
    """Check an estimator's parameters up front, so a bad value fails with its fix rather than
    as a divergence many epochs later.

    Parameters
    ----------
    estimator : object
        Read with ``getattr``.
    integers, counts : sequence of str
        Names of parameters that must be integers >= 1 (``integers``) or >= 0 (``counts``);
        a None value is allowed for a name in ``integers`` ending in ``?``.
    positive, non_negative : sequence of str
        Names of finite real parameters > 0 or >= 0.
    choices : dict of str -> tuple, optional
        Parameters that must be one of the listed values.

    Raises
    ------
    TypeError, ValueError
        Naming the parameter, the value given and what it must be.
    """
    for name in integers:
        optional = name.endswith("?")
        value = getattr(estimator, name.rstrip("?"))
        if not (optional and value is None):
            check_integer(value, name.rstrip("?"))
    for name in counts:
        check_integer(getattr(estimator, name), name, minimum=0)
    for name in positive:
        check_real(getattr(estimator, name), name, positive=True)
    for name in non_negative:
        check_real(getattr(estimator, name), name)
    for name, allowed in (choices or {}).items():
        value = getattr(estimator, name)
        if not any(value is a or (isinstance(value, str) and value == a) for a in allowed):
            raise ValueError(f"unknown {name} {value!r}; choose one of "
                             f"{', '.join(map(repr, allowed))}")


def check_training_data(X, name, n_features=None, expected_by="the model", binary=False,
                        max_magnitude=1e18):
    """:func:`check_data`, refusing AnnData (with the way to pass it), values beyond
    ``max_magnitude`` (float32 squared errors would overflow) and, when ``binary``, values
    outside [0, 1]."""
    if type(X).__name__ == "AnnData":
        raise TypeError(f"{name} is an AnnData; pass adata.X (or adata.obsm[key]), or call "
                        "rgdkit.tl.rgd(adata), which writes the latents to adata.obsm")
    X = check_data(X, name, n_features, expected_by)
    largest = float(np.abs(X).max())
    if largest > max_magnitude:
        raise ValueError(f"{name} has values up to {largest:.3g}: the decoder runs in float32, "
                         f"whose squared errors overflow beyond {max_magnitude:.0e}; standardise "
                         "or rescale the data")
    if binary and (X.min() < 0 or X.max() > 1):
        raise ValueError(f"{name} must lie in [0, 1] for loss='bce' (binary data); use loss='mse'")
    return X


def check_device(device=None):
    """``device`` as a torch.device; None picks "cuda" when available, else "cpu".

    Raises
    ------
    ValueError
        A CUDA device named where torch sees no GPU, or an unknown device string.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device={device!r} is not a torch device ({err}); use 'cpu', 'cuda' or "
                         "None (cuda when available)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} was asked for, but torch sees no CUDA GPU here; "
                         "use device=None (the CPU here) or device='cpu'")
    return device
