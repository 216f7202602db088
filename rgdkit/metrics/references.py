"""The known geometries latent distances are scored against: tree, circular phase, Hamming."""
from __future__ import annotations

import numpy as np


def tree_distances(labels, chunk_size=1024):
    """Tree (edge count) distances between the nodes that samples belong to.

    ``labels`` are branching path codes (N x depth+1): positive branch choices down to the node,
    then one negative code (which observation of the node), then zeros. A sample's node is its
    prefix of positive codes; distance = depth(a) + depth(b) - 2 depth(lowest common ancestor).
    Observations of the same node are at distance 0.
    """
    path = _node_paths(labels)
    depth = (path > 0).sum(1)
    out = np.empty((len(path), len(path)), dtype=np.int64)
    for i in range(0, len(path), chunk_size):
        same = (path[i:i + chunk_size, None, :] == path[None, :, :]) & (path[i:i + chunk_size, None, :] > 0)
        common = np.cumprod(same, axis=2).sum(2)
        out[i:i + chunk_size] = depth[i:i + chunk_size, None] + depth[None, :] - 2 * common
    return out


def _node_paths(labels):
    """Each sample's node as its prefix of positive branch codes, zero-padded."""
    labels = check_path_codes(labels)
    return np.where(np.cumprod(labels > 0, axis=1).astype(bool), labels, 0)


def check_path_codes(labels):
    """``labels`` as an int64 (N, depth+1) array of branching path codes, after checking them.

    Each row must be positive branch choices, then at most one negative code (which observation
    of the node), then zeros: ``[1, 2, -7, 0]``. TypeError for text or other non-numeric labels;
    ValueError, naming the rows, for a shape that is not 2-D, NaN or inf, codes that are not
    whole numbers, and a non-zero code after the observation code (or after a 0), which the
    distances would silently cut off.
    """
    raw = np.asarray(labels)
    if raw.dtype.kind not in "biuf":
        example = raw.ravel()[:3].tolist() if raw.size else []
        raise TypeError(f"labels must be numeric path codes (N x depth+1 integers, as "
                        f"load_branching returns), got {raw.dtype} values such as {example}; "
                        "class names per sample are not path codes: for them use e.g. "
                        "hamming or phylotree distances, or map each node to its code")
    if raw.ndim != 2:
        raise ValueError(f"labels must be 2-D path codes (N x depth+1), got shape {raw.shape}")
    values = raw.astype(np.float64)
    _fail_rows(~np.isfinite(values).all(1), values, "NaN or inf codes",
               "every entry is a whole-number code")
    _fail_rows((values % 1 != 0).any(1), values, "codes that are not whole numbers",
               "path codes are integers")
    after_end = np.cumsum(values <= 0, axis=1) > 0  # at and after the first non-positive code
    first_end = np.argmax(values <= 0, axis=1)
    trailing = after_end.copy()
    trailing[np.arange(len(values)), first_end] = False  # the observation code (or 0) itself
    _fail_rows((trailing & (values != 0)).any(1), values,
               "a non-zero code after the observation code (or after a 0)",
               "a row is positive branch choices, then one negative observation code, then "
               "zeros; the codes after the end would be cut off")
    return values.astype(np.int64)


def _fail_rows(bad, values, problem, fix):
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(f"labels have {problem} in {len(rows)} rows (first: {rows[:5].tolist()},"
                         f" e.g. {values[rows[0]].tolist()}); {fix}")


def tree_nodes(labels):
    """The tree behind branching path codes.

    Returns ``(node_of_sample, edges, node_depth)``: each sample's node index, the (parent, child)
    node pairs, and each node's depth (root 0).
    """
    paths, node_of = np.unique(_node_paths(labels), axis=0, return_inverse=True)
    depth = (paths > 0).sum(1)
    index = {tuple(p): i for i, p in enumerate(paths)}
    edges = []
    for child, (p, d) in enumerate(zip(paths, depth)):
        if d > 0:
            parent = p.copy()
            parent[d - 1] = 0
            if tuple(parent) in index:
                edges.append((index[tuple(parent)], child))
    return node_of.ravel(), edges, depth


def circular_distances(phase, period=1.0):
    """Distances on a circle of length ``period``: min(|a - b|, period - |a - b|).

    ``phase`` must lie in [0, period): by default a fraction of the cycle in [0, 1). For angles
    in radians in [0, 2 pi) pass ``period=2 * np.pi`` (distances are then in radians) or divide
    by 2 pi first. Values outside the range raise ValueError instead of giving wrong distances.
    """
    phase = np.asarray(phase, dtype=np.float64)
    _check_phase_range(phase, period)
    diff = np.abs(phase[:, None] - phase[None, :]) % period
    return np.minimum(diff, period - diff)


def _check_phase_range(phase, period):
    if not period > 0:
        raise ValueError(f"period must be positive, got {period}")
    outside = ~((phase >= 0) & (phase < period))  # NaN counts as outside
    if outside.any():
        values = phase[outside]
        raise ValueError(
            f"circular_distances needs phases in [0, {period:g}); {outside.sum()} values are "
            f"outside it (e.g. {values[:3].tolist()}). Angles in radians: divide by 2*np.pi or "
            "pass period=2*np.pi; other phases: wrap them with np.mod(phase, period)")


def hamming_distances(X):
    """Hamming (L1) distances between rows of a binary 0/1 matrix, via two matrix products.

    Any other value (2, -1, 0.5, NaN) raises ValueError: the products would give wrong, even
    negative, distances.
    """
    X = np.asarray(X)
    binary = (X == 0) | (X == 1)
    if not binary.all():
        examples = np.unique(X[~binary])[:5].tolist()
        raise ValueError(f"hamming_distances needs a binary 0/1 matrix; X holds "
                         f"{(~binary).sum()} non-binary values such as {examples}. Binarise it "
                         "first, e.g. (X > 0).astype(np.uint8)")
    X = X.astype(np.float32)
    return X @ (1 - X).T + (1 - X) @ X.T
