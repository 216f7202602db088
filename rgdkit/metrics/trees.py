"""Neighbour-joining trees from distance matrices (latent geodesic, Hamming, ...) and how well
they match a reference: path-distance correlation and recovered clades.

- :func:`neighbour_joining`: the NJ tree (scikit-bio) of a distance matrix;
- :func:`tree_path_distances`: its patristic (path-length) distances between tips;
- :func:`compare_with_reference`: Pearson/Spearman against reference distances, and the
  fraction of labelled groups (e.g. first-letter haplogroups) that form a clade;
- :func:`nj_table`: the same for several distance matrices, as a DataFrame;
- :func:`phylotree_distances`: the reference of edge counts between haplogroups on a PhyloTree;
- :func:`tree_layout`: coordinates for a rectangular drawing;
- :func:`mrca_depths`: a haplogroup's depth below the mt-MRCA, on one scale for both references,
  and :func:`median_by_depth_band` to summarise a value (a latent radius) by depth.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rgdkit.metrics.distances import correlate_distances

NJ_COLUMNS = ["distances", "pearson", "spearman", "clades_recovered", "n_genomes"]


def neighbour_joining(D, names):
    """Neighbour-joining tree (a scikit-bio ``TreeNode``) of the distance matrix ``D`` between
    the taxa ``names`` (tips named ``str(name)``).

    ``D`` must be a square, finite, symmetric (up to 1e-8 relative), non-negative matrix with a
    zero diagonal, one row per name; names must be unique once made strings, and NJ needs at
    least 3. The tree is unrooted (scikit-bio roots it at a trifurcation): root it with
    ``root_at_midpoint`` or ``root_by_outgroup`` before reading clades off it
    (:func:`compare_with_reference` does).

    NJ gives negative branch lengths where ``D`` is not additive (not a tree metric). They are
    clamped to 0 (zero-length branches: the nodes merge in length, not in topology) and
    counted: the tree's ``negative_branches`` attribute is their number and
    ``negative_length`` the total length removed (both 0 for a tree metric).
    """
    from skbio import DistanceMatrix
    from skbio.tree import nj

    ids = _check_names(names)
    D = check_distance_matrix(D, len(ids))
    D = (D + D.T) / 2
    np.fill_diagonal(D, 0.0)
    tree = nj(DistanceMatrix(D, ids), neg_as_zero=False)
    negative = [node for node in tree.traverse() if node.length is not None and node.length < 0]
    tree.negative_branches = len(negative)
    tree.negative_length = float(-sum(node.length for node in negative))
    for node in negative:
        node.length = 0.0
    return tree


def _check_names(names):
    ids = [str(name) for name in names]
    if len(ids) < 3:
        raise ValueError(f"neighbour joining needs at least 3 taxa, got {len(ids)}")
    seen, duplicated = set(), []
    for name in ids:
        if name in seen:
            duplicated.append(name)
        seen.add(name)
    if duplicated:
        raise ValueError(f"names must be unique, {len(duplicated)} are repeated (first: "
                         f"{duplicated[:5]})")
    return ids


def check_distance_matrix(D, n):
    """``D`` as a float64 (n, n) array, after checking it is a distance matrix (ValueError)."""
    D = np.asarray(D, dtype=np.float64)
    if D.shape != (n, n):
        raise ValueError(f"the distance matrix must be {n} x {n} (one row per name), got "
                         f"{D.shape}")
    if not np.isfinite(D).all():
        raise ValueError(f"the distance matrix has {int((~np.isfinite(D)).sum())} NaN or inf "
                         "entries")
    if (D < 0).any():
        raise ValueError(f"the distance matrix has {int((D < 0).sum())} negative entries "
                         f"(min {D.min():.3g})")
    scale = max(float(np.abs(D).max()), 1.0)
    asymmetry = float(np.abs(D - D.T).max())
    if asymmetry > 1e-8 * scale:
        raise ValueError(f"the distance matrix is not symmetric (largest |D - D.T| "
                         f"{asymmetry:.3g})")
    if np.abs(np.diag(D)).max() > 1e-8 * scale:
        raise ValueError(f"the distance matrix has a non-zero diagonal (max "
                         f"{np.abs(np.diag(D)).max():.3g})")
    return D


def tree_path_distances(tree, names):
    """(n, n) float64 patristic distances (sums of branch lengths) between the tips ``names``
    of ``tree``, rows and columns in the order of ``names``; KeyError naming missing tips."""
    ids = [str(name) for name in names]
    tips = {tip.name for tip in tree.tips()}
    missing = [name for name in ids if name not in tips]
    if missing:
        raise KeyError(f"{len(missing)} names are not tips of the tree (first: {missing[:5]})")
    return np.asarray(tree.tip_tip_distances(ids).data, dtype=np.float64)


def rooted(tree, outgroup=None):
    """A rooted copy of ``tree``: at the midpoint of its two farthest tips, or with the tips
    ``outgroup`` (a name or a list of names) as outgroup, the root placed in the middle of the
    branch above their lowest common ancestor."""
    if outgroup is None:
        return tree.root_at_midpoint()
    outgroup = [str(outgroup)] if isinstance(outgroup, (str, int)) else [str(o) for o in outgroup]
    return tree.root_by_outgroup(outgroup)


def clades_recovered(tree, names, clade_labels, outgroup=None):
    """Fraction of the groups in ``clade_labels`` (one label per name; None/NaN for none) whose
    tips are exactly the tips below one node of the rooted tree (:func:`rooted`).

    Only groups of at least 2 and fewer than all of the names are scored (a single tip or the
    whole tree is a clade of any tree); NaN when no group qualifies. Note that a label which is
    not monophyletic in truth (first letter M includes none of C, D, ..., which descend from M)
    cannot be recovered by any tree.
    """
    groups = _groups(names, clade_labels)
    if not groups:
        return float("nan")
    clades = rooted(tree, outgroup).subsets()
    return float(np.mean([members in clades for members in groups.values()]))


def _groups(names, clade_labels):
    ids = [str(name) for name in names]
    labels = list(clade_labels)
    if len(labels) != len(ids):
        raise ValueError(f"{len(labels)} clade labels for {len(ids)} names; give one per name")
    groups = {}
    for name, label in zip(ids, labels):
        if label is None or (isinstance(label, float) and math.isnan(label)):
            continue
        groups.setdefault(label, set()).add(name)
    return {label: frozenset(members) for label, members in groups.items()
            if 2 <= len(members) < len(ids)}


def compare_with_reference(tree, names, reference_D, clade_labels, outgroup=None):
    """How well ``tree`` matches a reference geometry of its tips ``names``.

    Returns ``{"pearson", "spearman", "clades_recovered"}``: the correlations between the
    tree's path distances (:func:`tree_path_distances`, rounded to 1e-9 of the largest so that
    floating-point noise does not order tied distances) and ``reference_D`` over the upper
    triangle, and :func:`clades_recovered` of ``clade_labels`` in the tree rooted at the
    midpoint (default; NJ trees are unrooted and the midpoint needs no prior knowledge) or by
    ``outgroup``.
    """
    reference_D = check_distance_matrix(reference_D, len(names))
    paths = tree_path_distances(tree, names)
    # NJ's floating-point noise (~1e-15 relative) would break the reference's tied distances
    # in arbitrary order and lower Spearman: path distances are rounded to 1e-9 of the largest
    unit = 1e-9 * max(float(paths.max()), np.finfo(float).tiny)
    pearson, spearman = correlate_distances(np.round(paths / unit) * unit, reference_D)
    return {"pearson": pearson, "spearman": spearman,
            "clades_recovered": clades_recovered(tree, names, clade_labels, outgroup)}


def nj_table(distance_matrices, names, reference_D, clade_labels, outgroup=None):
    """For each ``{name: D}`` in ``distance_matrices``: the NJ tree of D compared with the
    reference (:func:`compare_with_reference`). A DataFrame with the columns
    ``distances, pearson, spearman, clades_recovered, n_genomes``."""
    rows = []
    for label, D in distance_matrices.items():
        tree = neighbour_joining(D, names)
        scores = compare_with_reference(tree, names, reference_D, clade_labels, outgroup)
        rows.append([label, scores["pearson"], scores["spearman"], scores["clades_recovered"],
                     len(names)])
    return pd.DataFrame(rows, columns=NJ_COLUMNS)


def phylotree_distances(tree, haplogroups, chunk_size=256):
    """Edge counts between the haplogroups ``haplogroups`` on a PhyloTree ``tree``
    (:class:`rgdkit.data.phylotree.PhyloTree`): level(a) + level(b) - 2 level(lca), int64 (n, n).

    A name not in the tree is looked up without its trailing ``+...`` suffixes (haplogrep's
    ``H1+16189`` is placed at ``H1``); KeyError naming the haplogroups still not found.
    """
    resolved = [resolve_haplogroup(h, tree) for h in haplogroups]
    missing = sorted({str(h) for h, r in zip(haplogroups, resolved) if r is None})
    if missing:
        raise KeyError(f"{len(missing)} haplogroups are not in the tree rooted at {tree.root} "
                       f"(first: {missing[:5]})")
    unique, inverse = np.unique(resolved, return_inverse=True)
    index = {name: i for i, name in enumerate(tree.parent)}
    lineages = [[index[n] for n in tree.lineage(name)] for name in unique]
    paths = np.full((len(unique), max(map(len, lineages))), -1, dtype=np.int64)
    for row, lineage in enumerate(lineages):
        paths[row, :len(lineage)] = lineage
    depth = (paths >= 0).sum(1) - 1
    between = np.empty((len(unique), len(unique)), dtype=np.int64)
    for i in range(0, len(unique), chunk_size):
        block = paths[i:i + chunk_size, None, :]
        same = (block == paths[None, :, :]) & (block >= 0)
        common = np.cumprod(same, axis=2).sum(2) - 1  # depth of the lowest common ancestor
        between[i:i + chunk_size] = depth[i:i + chunk_size, None] + depth[None, :] - 2 * common
    inverse = inverse.ravel()
    return between[np.ix_(inverse, inverse)]


def resolve_haplogroup(name, tree):
    """The node of ``tree`` for haplogroup ``name``: the name itself, else the name without its
    trailing ``+...`` suffixes (haplogrep's ``H1+16189`` is ``H1``); None when not found."""
    name = str(name).strip()
    while name not in tree and "+" in name:
        name = name.rsplit("+", 1)[0]
    return name if name in tree else None


def tree_layout(tree):
    """Coordinates for a rectangular drawing of ``tree``: ``(tips, x, y)``.

    ``tips`` are the tip names top to bottom; ``x`` and ``y`` map every node (the TreeNode
    object) to its coordinates: x its path length from the root (a missing length counts 0),
    y the tip's rank for a tip and the mean of its children's y for an internal node. Draw a
    horizontal line from (x[parent], y[node]) to (x[node], y[node]) and, per internal node, a
    vertical one at x[node] over its children's y.
    """
    x, y, tips = {}, {}, []
    for node in tree.preorder():
        x[node] = 0.0 if node.parent is None else x[node.parent] + (node.length or 0.0)
    for node in tree.postorder():
        if node.is_tip():
            y[node] = float(len(tips))
            tips.append(node.name)
        else:
            y[node] = float(np.mean([y[child] for child in node.children]))
    return tips, x, y


def mrca_depths(haplogroups, trees):
    """Edges from the mitochondrial most recent common ancestor (mt-MRCA, the RSRS) down to each
    haplogroup: float64 (n,), NaN where a name is in neither tree.

    ``trees`` is ``{"rsrs": tree, "rcrs": tree}`` (:func:`rgdkit.data.hmtdna.load_phylotrees`).
    A name found in the RSRS-rooted tree (:func:`resolve_haplogroup`: ``H1+16189`` is ``H1``)
    gets its level there; a name only the rCRS-rooted tree knows gets its edge count to that
    tree's ``mt-MRCA`` node. The depth is therefore on one scale whichever reference the genomes
    were called against: the rCRS tree's own levels count from H2a2a1, where H is shallow and L
    deep. ValueError when either tree is missing.
    """
    missing = {"rsrs", "rcrs"} - set(trees)
    if missing:
        raise ValueError(f"mrca_depths needs both PhyloTrees, {sorted(missing)} missing; pass "
                         "hmtdna.load_phylotrees()")
    rsrs, rcrs = trees["rsrs"], trees["rcrs"]
    mrca_path = rcrs.lineage(next(n for n in ("mt-MRCA", "mtMRCA") if n in rcrs))
    depths = {}
    for name in set(map(str, haplogroups)):
        node = resolve_haplogroup(name, rsrs)
        if node is not None:
            depths[name] = float(rsrs.level[node])
        elif (node := resolve_haplogroup(name, rcrs)) is not None:
            path = rcrs.lineage(node)
            shared = sum(1 for _ in _common_prefix(path, mrca_path))
            depths[name] = float(len(path) + len(mrca_path) - 2 * shared)
        else:
            depths[name] = math.nan
    return np.array([depths[str(h)] for h in haplogroups], dtype=np.float64)


def _common_prefix(first, second):
    for a, b in zip(first, second):
        if a != b:
            return
        yield a


def median_by_depth_band(values, depths, n_bands=4):
    """Median of ``values`` (e.g. each genome's distance from the disk's centre) per quantile
    band of ``depths`` (:func:`mrca_depths`), over the rows where both are finite: a DataFrame
    with the columns ``depth`` (``"a-b"``, edges from the mt-MRCA), ``genomes`` and ``median``,
    shallowest band first. Fewer bands where ties merge quantile edges. ValueError for
    mismatched lengths or no finite pair."""
    values, depths = np.asarray(values, dtype=float), np.asarray(depths, dtype=float)
    if values.shape != depths.shape:
        raise ValueError(f"{values.shape} values but {depths.shape} depths; they must match")
    known = np.isfinite(values) & np.isfinite(depths)
    if not known.any():
        raise ValueError("no row has both a finite value and a known depth")
    bands = pd.qcut(depths[known], q=n_bands, duplicates="drop")
    frame = pd.DataFrame({"band": bands, "depth": depths[known], "value": values[known]})
    grouped = frame.groupby("band", observed=True)
    return pd.DataFrame({"depth": [f"{int(g['depth'].min())}-{int(g['depth'].max())}"
                                   for _, g in grouped],
                         "genomes": grouped.size().to_numpy(),
                         "median": grouped["value"].median().to_numpy()})
