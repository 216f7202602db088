"""Finished fits kept on disk, so that a long run which is stopped resumes where it was.

A paper-profile hmtDNA notebook trains for hours on a CPU; without this, a run stopped in its
last cell starts again from nothing. With ``RGD_FIT_CACHE`` set to a folder, each finished group
of fits is pickled there under a key made of everything its result depends on (the estimators'
parameters and the data), and a later run with the same key loads it instead of fitting again.
Unset (the default), nothing is read or written. The key does not cover the code: delete the
folder after changing the training code.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import torch

from rgdkit.files.atomic import write_atomically

CACHE_VARIABLE = "RGD_FIT_CACHE"
# parameters that change how a fit is shown or where it runs, not what it finds
IGNORED_PARAMETERS = ("verbose", "device")


def cache_folder():
    """The folder of ``RGD_FIT_CACHE``, or None when fits are not kept."""
    value = os.environ.get(CACHE_VARIABLE, "")
    return Path(value) if value else None


def fit_key(estimators, *arrays):
    """A hex key of the estimators' parameters (class and ``get_params``, without
    :data:`IGNORED_PARAMETERS`) and the arrays' contents, shapes and dtypes (None allowed)."""
    digest = hashlib.sha256()
    for est in estimators:
        params = {k: v for k, v in est.get_params().items() if k not in IGNORED_PARAMETERS}
        digest.update(f"{type(est).__qualname__}{sorted(params.items())!r}".encode())
    for array in arrays:
        if array is None:
            digest.update(b"none")
            continue
        array = np.ascontiguousarray(array.cpu().numpy() if torch.is_tensor(array) else array)
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:32]


def load(folder, key):
    """The result kept under ``key``, or None when there is none or it cannot be read (a warning
    says so and the fit runs again)."""
    path = Path(folder) / f"{key}.pkl"
    if not path.exists():
        return None
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except Exception as error:  # a truncated or foreign file: fitting again is the fix
        warnings.warn(f"fit cache {path.name} could not be read ({error}); fitting again",
                      stacklevel=2)
        return None


def save(folder, key, result):
    """Keep ``result`` under ``key``, written atomically."""
    def write(temporary):
        with open(temporary, "wb") as handle:
            pickle.dump(result, handle)
    write_atomically(Path(folder) / f"{key}.pkl", write)
