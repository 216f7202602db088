"""The branching-diffusion data (the P-VAE's synthetic tree): the published file or its exact simulation."""
from __future__ import annotations

import random
import zipfile
import zlib
from collections import deque

import numpy as np

from rgdkit.data.sources import (CorruptDataError, DataNotAvailableError, corrupt_file_fix,
                                  fetch_data_file)

BRANCHING_FILE = "branching/tensordataset.npz"
BRANCHING_ENV = "RGD_BRANCHING_NPZ"


def simulate_branching_diffusion(dim=50, depth=6, n_children=2, sigma=1.0, param=1.0,
                                 n_siblings=50, factor_sibling=8.0, seed=0, standardize=True):
    """Noisy observations of a Gaussian random walk down a full tree (the P-VAE process).

    Nodes are visited breadth first from a root at the origin. Each node below ``depth`` gets
    ``n_children`` children at ``parent + N(0, sigma/param)``; then ``n_siblings`` noisy
    observations ``node + N(0, sigma/factor_sibling)`` are emitted for the node. Labels are path
    codes: branch choices 1..n_children before the node's depth, ``-k`` for observation k at its
    depth, 0 after. With the defaults and seed 0 this reproduces the paper's published data set
    (6350 x 50) to floating point precision; the draw order (children before observations) is what
    makes that so.

    Returns ``(data, labels)``: float64 arrays of shape (N, dim) and (N, depth + 1).
    """
    _seed_everything(seed)
    observations, labels = [], []
    queue = deque([(np.zeros(dim), np.zeros(depth + 1), 0)])
    while queue:
        node, label, level = queue.popleft()
        if level < depth:
            for i, child in enumerate(_gaussian_steps(node, n_children, sigma / param)):
                queue.append((child, _with_code(label, level, i + 1), level + 1))
        for i, obs in enumerate(_gaussian_steps(node, n_siblings, sigma / factor_sibling)):
            observations.append(obs)
            labels.append(_with_code(label, level, -(i + 1)))
    data = np.asarray(observations)
    if standardize:
        data = (data - data.mean(0)) / data.std(0)
    return data, np.asarray(labels)


def _seed_everything(seed):
    """Seed ``random``, ``numpy`` and (if installed) ``torch`` as the published data were made."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
        torch.manual_seed(seed)
    except ImportError:
        pass


def _gaussian_steps(point, n, variance):
    # One randn call per step, in order: the published data depend on this exact sequence.
    return [point + np.random.randn(point.shape[0]) * np.sqrt(variance) for _ in range(n)]


def _with_code(label, level, code):
    out = label.copy()
    out[level] = code
    return out


def load_branching(path=None):
    """The branching data: ``path``, else ``$RGD_BRANCHING_NPZ``, else ``data/``, else simulated.

    The file has arrays ``data`` and ``labels`` (see :func:`simulate_branching_diffusion`). There is
    no Hub step: the simulator with seed 0 regenerates the published data set exactly.
    Returns ``(data, labels, source)`` where ``source`` says where they came from.
    """
    try:
        path = fetch_data_file(BRANCHING_FILE, local_path=path, env_var=BRANCHING_ENV,
                               allow_hub=False)
    except DataNotAvailableError:
        print("data: simulating the published branching data set (P-VAE process, seed 0)")
        return (*simulate_branching_diffusion(), "simulated (P-VAE branching diffusion, seed 0)")
    return (*_read_branching_npz(path), str(path))


def _read_branching_npz(path):
    try:
        with np.load(path) as npz:
            data, labels = npz["data"], npz["labels"]
    except KeyError as err:
        raise ValueError(f"{path} lacks array {err}; expected arrays 'data' and 'labels' "
                         "(np.savez(path, data=..., labels=...))") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        # empty, truncated or not a zip: np.load and zipfile raise any of these
        raise CorruptDataError(f"{path} is not a readable .npz file ({err}); "
                               f"{corrupt_file_fix(path)}") from None
    if data.ndim != 2 or labels.ndim != 2 or len(data) != len(labels):
        raise ValueError(f"{path}: expected data (N, D) and labels (N, depth+1), got "
                         f"{data.shape} and {labels.shape}")
    for name, array in (("data", data), ("labels", labels)):
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{path}: array {name} holds {array.dtype} values, expected numbers "
                             "(data: float observations, labels: integer path codes)")
    _check_finite(path, "data", data, "drop or impute those rows (or regenerate the file with "
                  "simulate_branching_diffusion)")
    _check_finite(path, "labels", labels, "the path codes must be whole numbers; regenerate the "
                  "file with simulate_branching_diffusion")
    fractional = (labels % 1 != 0).any(axis=1)
    if fractional.any():
        rows = np.flatnonzero(fractional)
        raise ValueError(f"{path}: array labels has codes that are not whole numbers in "
                         f"{len(rows)} rows (first: {rows[:5].tolist()}, e.g. "
                         f"{labels[rows[0]].tolist()}); path codes are integers (branch choices, "
                         "then -k for observation k, then 0)")
    return data.astype(np.float64), labels


def _check_finite(path, name, array, fix):
    """ValueError naming the file, the array and its rows with NaN or inf, and the fix."""
    bad = ~np.isfinite(array.astype(np.float64)).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(f"{path}: array {name} has NaN or inf in {len(rows)} rows (first: "
                         f"{rows[:5].tolist()}); {fix}")
