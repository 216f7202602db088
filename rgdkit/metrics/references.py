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
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D path codes, got shape {labels.shape}")
    return np.where(np.cumprod(labels > 0, axis=1).astype(bool), labels, 0)


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


def circular_distances(phase):
    """Distances on the unit-length circle: min(|a - b|, 1 - |a - b|) for phases in [0, 1)."""
    phase = np.asarray(phase, dtype=np.float64)
    diff = np.abs(phase[:, None] - phase[None, :]) % 1.0
    return np.minimum(diff, 1.0 - diff)


def hamming_distances(X):
    """Hamming (L1) distances between rows of a binary matrix, via two matrix products."""
    X = np.asarray(X, dtype=np.float32)
    return X @ (1 - X).T + (1 - X) @ X.T
