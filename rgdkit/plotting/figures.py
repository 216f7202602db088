"""Plots shared by the notebooks, and ``save_figure``, the one place figures are written to disk.

The point plots (``plot_embedding``, ``plot_poincare_disk``, ``plot_sphere``, ``plot_torus_*``)
take an optional ``ax`` (one is created when it is None) and return it; helpers that add to a plot (curves, endpoints, edges, bars, colour bars) take the axes first.
None calls ``plt.show``. Coordinates may be numpy arrays or torch tensors. Point colours follow
one rule everywhere (see ``_scatter``): ``colors`` are values mapped through ``cmap`` (or
matplotlib colour specs), ``labels`` are categories drawn in a qualitative palette with a legend;
give one or the other.
"""
import math
import os
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from geoopt.manifolds.lorentz import math as lorentz_math
from matplotlib.collections import LineCollection
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Rectangle

from rgdkit.files.atomic import write_atomically

# angles (cell-cycle phase, torus coordinates): 256 husl hues at one lightness and saturation
# 0.9, a cyclic map (first and last colours meet) in which no angle fades into white or stands out
# by brightness (matplotlib's ``twilight`` fades to white at both ends)
CYCLIC_CMAP = ListedColormap(sns.husl_palette(256, h=0.0, s=0.9, l=0.6), name="cyclic_husl")
POINT_SIZE = 6
# geodesic endpoints: starts above ends, so a start sharing its spot with another curve's end
# shows; each edged in the other's colour, so both stand out on light and dark backgrounds
ENDPOINT_MARKERS = {
    "start": dict(marker="o", facecolor="white", edgecolor="black", size=70, zorder=7),
    "end": dict(marker="s", facecolor="black", edgecolor="white", size=45, zorder=6)}


# --------------------------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------------------------
def save_figure(fig, name, results_dir="results", formats=("png", "pdf"), dpi=150):
    """Write ``fig`` to ``<results_dir>/<name>.<fmt>`` for each format; return the written paths.

    Each file goes through :func:`rgdkit.files.atomic.write_atomically`, so a reader never sees a
    half-written figure and an interrupted save leaves the previous version intact. ``name`` is a bare file stem: empty names, path separators and
    ``.``/``..`` are refused with ValueError. The folder is created when missing.
    """
    _check_file_stem(name, "figure name")
    for fmt in formats:
        _check_file_stem(fmt, "figure format")
    folder = Path(results_dir)  # write_atomically creates it when missing
    return [_save_atomically(fig, folder / f"{name}.{fmt}", fmt, dpi) for fmt in formats]


def _check_file_stem(stem, what):
    separators = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    if not isinstance(stem, str) or stem.strip() in ("", ".", "..") \
            or any(sep in stem for sep in separators) or "\0" in stem:
        raise ValueError(f"{what} must be a plain, non-empty file name without separators, "
                         f"got {stem!r}")


def _save_atomically(fig, path, fmt, dpi):
    return write_atomically(path, lambda temporary: fig.savefig(temporary, format=fmt, dpi=dpi,
                                                                bbox_inches="tight"))


# --------------------------------------------------------------------------------------------
# Colours and layout
# --------------------------------------------------------------------------------------------
def phase_colormap():
    """The cyclic colour map of angles such as the cell-cycle phase (:data:`CYCLIC_CMAP`).

    A phase of 0 and of a full cycle are the same state: a cyclic map gives both the same
    colour, where a linear map such as viridis would paint them in opposite colours.
    """
    return CYCLIC_CMAP


def shared_colorbar(fig, axes, norm, cmap, label, **colorbar_kw):
    """One labelled colour bar for every panel in ``axes`` drawn with ``norm`` and ``cmap``.

    Parameters
    ----------
    fig : matplotlib Figure
    axes : Axes or sequence of Axes
        The panels the bar stands for (it takes space from all of them).
    norm : matplotlib Normalize
        The colour scale every panel used.
    cmap : str or Colormap
    label : str
        What the colour means.
    **colorbar_kw
        Passed to ``fig.colorbar`` (defaults ``shrink=0.6, fraction=0.03, pad=0.02``).

    Returns
    -------
    matplotlib Colorbar

    Raises
    ------
    ValueError
        When ``label`` is empty.
    """
    if not label:
        raise ValueError("a colour bar needs a label saying what the colour means")
    axes = [axes] if isinstance(axes, matplotlib.axes.Axes) else list(np.ravel(axes))
    style = {"shrink": 0.6, "fraction": 0.03, "pad": 0.02, **colorbar_kw}
    return fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, label=label, **style)


def panel_grid(n_panels, ncols, size=3.0, subplot_kw=None):
    """A figure with ``n_panels`` axes in rows of ``ncols`` (σ ablations, curvature × σ grids).

    Returns ``(fig, axes)`` with ``axes`` a flat list of the ``n_panels`` axes in reading order;
    the leftover cells of the last row are turned off. Each panel is ``size`` inches square.
    ``subplot_kw`` goes to ``plt.subplots`` (``{"projection": "3d"}`` for sphere or torus panels).
    """
    if int(n_panels) != n_panels or n_panels < 1 or int(ncols) != ncols or ncols < 1:
        raise ValueError(f"need positive integer n_panels and ncols, got {n_panels!r}, {ncols!r}")
    ncols = min(int(ncols), int(n_panels))
    nrows = math.ceil(n_panels / ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size), squeeze=False,
                             subplot_kw=subplot_kw)
    axes = list(grid.ravel())
    for unused in axes[n_panels:]:
        unused.set_axis_off()
    return fig, axes[:n_panels]


# --------------------------------------------------------------------------------------------
# Coordinates
# --------------------------------------------------------------------------------------------
def lorentz_to_poincare(x, k=1.0):
    """Map hyperboloid points to the Poincaré ball of radius sqrt(k); returns numpy.

    ``x`` has shape (..., d+1) on geoopt's ``Lorentz(k)``: -x0² + Σ xi² = -k, curvature -1/k.
    The result is sqrt(k) · x[1:] / (sqrt(k) + x0), the stereographic projection from
    (-sqrt(k), 0, ..., 0), which is an isometry onto the ball of radius sqrt(k) with the
    curvature -1/k metric: a point at hyperbolic distance ρ from the origin lands at radius
    sqrt(k) tanh(ρ / (2 sqrt(k))). For k = 1 this is the usual unit disk; divide by sqrt(k)
    to draw any curvature in the unit disk.

    This is the Poincaré map. The authors' published plots used x[1:] / x0, which is the
    Beltrami–Klein model (geodesics become straight chords, angles are distorted and points
    crowd towards the rim), not the Poincaré disk the figures are labelled with.
    """
    if not k > 0:
        raise ValueError(f"k must be positive, got {k!r}")
    x = _to_numpy(x)
    if x.shape[-1] < 2:
        raise ValueError(f"hyperboloid points need at least 2 coordinates, got shape {x.shape}")
    # geoopt's map, x[1:] / (x0 + sqrt k), lands in the ball of radius 1; scale it to sqrt(k)
    disk = lorentz_math.lorentz_to_poincare(torch.as_tensor(x, dtype=torch.float64),
                                            torch.tensor(float(k), dtype=torch.float64))
    return math.sqrt(float(k)) * disk.numpy()


def torus_angles(Z):
    """Angles in [-π, π) of torus latents given as unit circle points; returns (N, 2) numpy.

    ``Z`` is (N, 2, 2) or (N, 4): one (cos, sin) pair per circle factor, the layout of geoopt's
    product of two ``Sphere()`` factors in R². Angle 0 is the point (1, 0) of each circle.
    """
    Z = _to_numpy(Z)
    if Z.ndim == 2 and Z.shape[1] == 4:
        Z = Z.reshape(-1, 2, 2)
    if Z.ndim != 3 or Z.shape[1:] != (2, 2):
        raise ValueError(f"torus latents must have shape (N, 2, 2) or (N, 4), got {Z.shape}")
    angles = np.arctan2(Z[..., 1], Z[..., 0])
    return np.where(angles >= np.pi, angles - 2 * np.pi, angles)


def node_means(Z, groups):
    """Coordinate-wise mean position of each group: ``(unique_groups, means)``, groups sorted.

    A plain Euclidean mean of the given coordinates (e.g. Poincaré-disk positions, for placing
    tree nodes or labels on a plot), not a Fréchet mean on the manifold.
    """
    return _reduce_by_group(Z, groups, np.mean)


def node_medians(Z, groups):
    """Coordinate-wise median position of each group: ``(unique_groups, medians)``, groups sorted.

    Robust to the few stray samples of a group (e.g. lineage medians of cell types).
    """
    return _reduce_by_group(Z, groups, np.median)


def group_edges(Z, groups, edges, reducer=np.mean):
    """Group positions (mean by default) and ``edges`` between group ids re-indexed to their rows.

    Returns ``(positions, edges_by_row, group_ids)`` for :func:`draw_edges`; edges whose ends have
    no samples in ``groups`` are dropped.
    """
    ids, positions = _reduce_by_group(Z, groups, reducer)
    row = {g: i for i, g in enumerate(np.asarray(ids).tolist())}
    kept = [(row[a], row[b]) for a, b in edges if a in row and b in row]
    return positions, kept, ids


def _reduce_by_group(Z, groups, reducer):
    Z = _to_numpy(Z)
    groups = np.asarray(groups)
    if Z.ndim != 2 or groups.shape != (len(Z),):
        raise ValueError(f"need Z of shape (N, d) and N groups, got {Z.shape} and {groups.shape}")
    unique_groups, index = np.unique(groups, return_inverse=True)
    positions = np.stack([reducer(Z[index == g], axis=0) for g in range(len(unique_groups))])
    return unique_groups, positions


def sphere_lonlat(Z):
    """(longitude, latitude) in radians of points of S² (unit vectors in R³); returns (N, 2) numpy.

    The chart of ``pullback.chart_grid`` for the sphere: the pole on the last axis, longitude in
    [-π, π] measured from the first axis.
    """
    Z = _points(Z, 3)
    return np.stack([np.arctan2(Z[:, 1], Z[:, 0]), np.arcsin(np.clip(Z[:, 2], -1, 1))], 1)


def _to_numpy(x):
    """Float numpy copy of a numpy array, list or (possibly GPU, grad-tracking) torch tensor."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


# --------------------------------------------------------------------------------------------
# 2-D plots
# --------------------------------------------------------------------------------------------
def plot_poincare_disk(Z_disk, colors=None, labels=None, ax=None, radius=1.0, edges=None,
                       node_positions=None, node_labels=None, cmap=CYCLIC_CMAP, s=POINT_SIZE,
                       title=None, legend=True, colorbar=True, color_label=None, zoom=False,
                       **scatter_kw):
    """Scatter Poincaré-disk points (e.g. from ``lorentz_to_poincare``) inside the boundary circle.

    ``radius`` is the disk radius (sqrt(k) for unscaled ``lorentz_to_poincare`` output).
    ``edges`` are (i, j) index pairs into ``node_positions`` drawn as straight segments (not
    geodesic arcs), e.g. tree edges between ``node_means`` or lineage edges between
    ``node_medians``; ``node_labels`` puts one text label at each node position (moved apart
    where labels collide). ``zoom`` fits the view to the points instead of the whole disk and
    says so in the title. Equal aspect, no ticks. Extra keywords go to ``ax.scatter``.
    """
    ax = _axes_2d(ax)
    ax.add_patch(Circle((0, 0), radius, fill=False, color="0.3", linewidth=1))
    if edges is not None or node_labels is not None:
        draw_edges(ax, node_positions, edges, node_labels)
    _scatter(ax, _points(Z_disk, 2), colors, labels, cmap, s, legend, colorbar, scatter_kw,
             color_label)
    points = _points(Z_disk, 2)
    if zoom:  # fit the view to the points; the title says so
        centre = (points.max(0) + points.min(0)) / 2
        half = 0.55 * np.ptp(points, axis=0).max()
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] - half, centre[1] + half)
        title = f"{title} (zoomed to the points)" if title else "zoomed to the points"
    else:
        ax.set_xlim(-1.03 * radius, 1.03 * radius)
        ax.set_ylim(-1.03 * radius, 1.03 * radius)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_embedding(Z2, colors=None, ax=None, labels=None, cmap=None, s=POINT_SIZE,
                   highlight_mask=None, highlight_marker="x", highlight_label=None, title=None,
                   legend=True, colorbar=True, color_label=None, xlabel=None, ylabel=None, **scatter_kw):
    """Plain 2-D scatter (UMAP, PCA, an R² latent space).

    Pass ``cmap=phase_colormap()`` for angles. Points where ``highlight_mask`` is True (e.g.
    non-proliferating cells) are drawn on top with ``highlight_marker``, coloured on the same
    scale as the rest, and named ``highlight_label`` in the legend when one is given.
    Extra keywords go to ``ax.scatter``.
    """
    ax = _axes_2d(ax)
    _scatter(ax, _points(Z2, 2), colors, labels, cmap, s, legend, colorbar, scatter_kw, color_label,
             highlight_mask, highlight_marker, highlight_label)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return ax


def plot_torus_flat(angles, colors=None, ax=None, labels=None, cmap=CYCLIC_CMAP, s=POINT_SIZE,
                    title=None, legend=True, colorbar=True, color_label=None, **scatter_kw):
    """Scatter torus angles (from ``torus_angles``) on the flat square [-π, π)².

    The torus is this square with opposite edges glued: the arrows on the border follow the
    usual notation (single arrows: left = right edge, double arrows: bottom = top edge), so
    clusters cut by an edge continue on the opposite side.
    """
    ax = _axes_2d(ax)
    _draw_flat_torus_border(ax)
    _scatter(ax, _points(angles, 2), colors, labels, cmap, s, legend, colorbar, scatter_kw,
             color_label)
    ticks, tick_labels = [-np.pi, 0, np.pi], ["−π", "0", "π"]
    ax.set(xlim=(-1.08 * np.pi, 1.08 * np.pi), ylim=(-1.08 * np.pi, 1.08 * np.pi),
           xticks=ticks, yticks=ticks, xticklabels=tick_labels, yticklabels=tick_labels,
           xlabel="θ₁", ylabel="θ₂", title=title)
    ax.set_aspect("equal")
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax


def _draw_flat_torus_border(ax):
    ax.add_patch(Rectangle((-np.pi, -np.pi), 2 * np.pi, 2 * np.pi, fill=False, color="0.3"))
    arrow = dict(arrowstyle="-|>", color="0.3", mutation_scale=12, linewidth=0)
    for x in (-np.pi, np.pi):  # left and right: one arrow pointing up
        ax.annotate("", xy=(x, 0.25), xytext=(x, -0.25), arrowprops=arrow)
    for y in (-np.pi, np.pi):  # bottom and top: two arrows pointing right
        for x in (-0.15, 0.15):
            ax.annotate("", xy=(x + 0.25, y), xytext=(x - 0.25, y), arrowprops=arrow)


def draw_edges(ax, node_positions, edges=None, node_labels=None):
    """Straight segments between rows of ``node_positions`` for each (i, j) in ``edges``, and
    optional text labels at the nodes (tree edges, lineage edges) on any 2-D plot."""
    if node_positions is None:
        raise ValueError("edges and node_labels need node_positions")
    nodes = _points(node_positions, 2)
    if edges is not None:
        edges = np.asarray(edges, dtype=int).reshape(-1, 2)
        if edges.size and (edges.min() < 0 or edges.max() >= len(nodes)):
            raise ValueError(f"edge indices must lie in [0, {len(nodes)}), "
                             f"got {edges.min()}..{edges.max()}")
        ax.add_collection(LineCollection(nodes[edges], colors="0.2", linewidths=0.8, zorder=3))
    if node_labels is not None:
        if len(node_labels) != len(nodes):
            raise ValueError(f"{len(node_labels)} node labels for {len(nodes)} node positions")
        for (x, y), text in zip(spread_labels(nodes), node_labels):
            ax.text(x, y, str(text), fontsize=7, ha="center", va="center", zorder=4,
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none",
                              alpha=0.7))


def spread_labels(positions, min_distance=None, steps=200):
    """Label positions moved apart until no two are closer than ``min_distance`` (default 4 % of
    the positions' extent): pairs that collide push each other along the line between them, so
    each label stays near its own point."""
    points = np.array(_points(positions, 2), dtype=float)
    if len(points) < 2:
        return points
    extent = np.ptp(points, axis=0).max() or 1.0
    min_distance = 0.04 * extent if min_distance is None else min_distance
    rng = np.random.default_rng(0)  # breaks ties between labels at the same spot
    points += rng.normal(scale=1e-6 * extent, size=points.shape)
    for _ in range(steps):
        delta = points[:, None, :] - points[None, :, :]
        distance = np.linalg.norm(delta, axis=-1) + np.eye(len(points))
        overlap = np.clip(min_distance - distance, 0, None) * (1 - np.eye(len(points)))
        if not overlap.any():
            break
        points += 0.5 * (delta / distance[..., None] * overlap[..., None]).sum(1)
    return points


def plot_volume_element(coords, values, shape, ax=None, log=True, cmap="Greys", colorbar=True,
                        title=None):
    """Heat map of a scalar field on a chart grid, e.g. the pullback volume element sqrt(det G).

    ``coords`` (M, 2), ``values`` (M,) and ``shape`` (with M = shape[0] · shape[1]) are as returned
    by ``pullback.chart_grid`` and ``pullback.volume_element``; polar grids (the Poincaré disk)
    work as well as rectangular ones. ``log`` draws log10 of the values, which span orders of
    magnitude. Draw latents and curves on top afterwards.
    """
    coords, values, shape = _points(coords, 2), _to_numpy(values).ravel(), tuple(int(n) for n in shape)
    if len(shape) != 2 or shape[0] * shape[1] != len(coords) or len(values) != len(coords):
        raise ValueError(f"coords {coords.shape}, values {values.shape} and grid shape {shape} "
                         "do not match; pass chart_grid's coords and shape with one value per point")
    if log:
        values = np.log10(np.maximum(values, np.finfo(float).tiny))
    ax = _axes_2d(ax)
    grid = coords.reshape(*shape, 2)
    mesh = ax.pcolormesh(grid[..., 0], grid[..., 1], values.reshape(shape), shading="gouraud",
                         cmap=cmap, zorder=0, rasterized=True)  # rasterised: small PDFs
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, shrink=0.8, label="log₁₀ √det G" if log else "√det G")
    if title is not None:
        ax.set_title(title)
    return ax


def draw_curves(ax, curves, period=None, color="tab:red", linewidth=1.5, label=None, **line_kw):
    """Draw 2-D curves (a sequence of (n, 2) arrays, e.g. geodesics in chart coordinates).

    With ``period`` (2π for longitude or torus angles), a step whose first or second coordinate
    jumps by more than half the period crosses the chart's seam and is left out instead of being
    drawn across the plot. ``label`` names the curves in the axes' legend (one entry for all).
    Extra keywords go to the ``LineCollection``.
    """
    segments = []
    for curve in curves:
        curve = _points(curve, 2)
        steps = np.stack([curve[:-1], curve[1:]], 1)  # (n - 1, 2 ends, 2 coordinates)
        if period is not None:
            jump = np.abs(steps[:, 1] - steps[:, 0]).max(1)
            steps = steps[jump <= period / 2]
        segments.extend(steps)
    ax.add_collection(LineCollection(segments, colors=color, linewidths=linewidth, zorder=4,
                                     label=label, **line_kw))
    return ax


def mark_endpoints(ax, curves):
    """Distinct markers at the start (white circle) and the end (white-edged black square) of each
    2-D curve (an (n, 2) array in plot coordinates), above everything else (starts above ends),
    each named once in the legend."""
    curves = [_points(c, 2) for c in curves]
    for end, style in ENDPOINT_MARKERS.items():
        points = np.array([c[0 if end == "start" else -1] for c in curves]).reshape(-1, 2)
        ax.scatter(*points.T, s=style["size"], marker=style["marker"], c=style["facecolor"],
                   edgecolors=style["edgecolor"], linewidths=1.2, zorder=style["zorder"],
                   label=f"geodesic {end}")
    return ax


def plot_metric_by_setting(ax, records, setting, metric, label=None, **errorbar_kw):
    """Mean ± std over seeds of ``metric`` against a numeric ``setting`` (e.g. noise σ), from
    fit records (dicts or a DataFrame with one row per fit); one error-bar line. Settings where a
    fit diverged (a ``diverged_at`` epoch in its record) get a red cross with a legend entry:
    their values come from the best state kept before the divergence."""
    frame = pd.DataFrame(records)
    stats = frame.groupby(setting)[metric].agg(["mean", "std"]).fillna(0.0)
    ax.errorbar(stats.index, stats["mean"], yerr=stats["std"], marker="o", capsize=3,
                label=label, **errorbar_kw)
    if "diverged_at" in frame:
        diverged = frame.loc[frame["diverged_at"].notna(), setting].unique()
        if len(diverged):
            ax.scatter(diverged, stats.loc[diverged, "mean"], marker="x", s=80, color="tab:red",
                       zorder=3, label="diverged (best state kept)")
    ax.set(xlabel=setting, ylabel=metric_label(metric))
    return ax


def metric_label(metric):
    """``train_pearson`` -> ``train Pearson r``: axis labels for the metrics the tables use."""
    split, _, name = metric.partition("_")
    names = {"pearson": "Pearson r", "spearman": "Spearman ρ", "mae": "MAE", "mse": "MSE",
             "bce": "BCE", "f1": "F1"}
    return f"{split} {names.get(name, name)}" if name else metric


def whole_number_edges(values, bins):
    """About ``bins`` histogram edges for whole-number ``values``, centred on the integers, each
    bin the same number of integers wide (bins of unequal integer width would stripe a
    histogram)."""
    low, high = float(np.min(values)), float(np.max(values))
    width = max(1, int(np.ceil((high - low + 1) / bins)))
    return np.arange(low, high + width + 1, width) - 0.5


def plot_frequency_histogram(ax, frequencies, cut, bins=60):
    """Histogram of variant frequencies on a log axis, with the frequency ``cut`` below which
    variants are dropped drawn as a dashed line (in the legend with the counts on each side)."""
    frequencies = np.asarray(frequencies, dtype=float)
    frequencies = frequencies[frequencies > 0]
    edges = np.logspace(np.log10(frequencies.min()), 0, bins)
    ax.hist(frequencies, bins=edges, color="0.5")
    kept = int((frequencies >= cut).sum())
    ax.axvline(cut, color="tab:red", linestyle="--",
               label=f"cut {cut:g}: {kept} kept, {len(frequencies) - kept} dropped")
    ax.set(xscale="log", xlabel="fraction of genomes carrying the variant", ylabel="variants")
    ax.legend(fontsize="small")
    return ax


def plot_accuracy_bars(ax, table, value, label, reference=None, reference_label="paper",
                       chance=None):
    """Horizontal bars of ``table[value + "_mean"]`` ± ``table[value + "_std"]``, one per row of
    ``table`` (labelled by its ``model`` column), the axis labelled ``label``. ``reference``
    ({model: number}) marks published values as black diamonds, ``chance`` draws a dashed
    vertical line; each has a legend entry."""
    frame = table.reset_index(drop=True)
    y = np.arange(len(frame))
    ax.barh(y, frame[f"{value}_mean"], xerr=frame[f"{value}_std"], color="0.7", capsize=3,
            label="ours, mean ± std over folds")
    ax.set_yticks(y, frame["model"])
    ax.invert_yaxis()
    if reference:
        known = [(i, reference[m]) for i, m in enumerate(frame["model"]) if m in reference]
        if known:
            ax.scatter([v for _, v in known], [i for i, _ in known], marker="D", color="k",
                       zorder=3, label=reference_label)
    if chance is not None:
        ax.axvline(chance, color="tab:red", linestyle="--", label=f"chance ({chance:g})")
    ax.set(xlabel=label, xlim=(0, 1.02))
    # below the axis: bars reach across the whole width
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)
    return ax


def plot_tree(ax, tree, tip_labels, title=None, legend=True, tip_colors=None):
    """A rectangular drawing of a scikit-bio ``tree`` (:func:`rgdkit.metrics.trees.tree_layout`),
    branch lengths along x; each tip's leaf drawn as a dot coloured by its category in
    ``tip_labels`` ({tip name: label}), with one legend entry per category beside the axes.
    ``tip_colors`` ({tip name: colour}, e.g. from a fixed palette such as
    :mod:`rgdkit.plotting.colours`) colours the tips instead of the palette of the categories
    present; then draw the legend yourself (``legend`` is ignored)."""
    from rgdkit.metrics.trees import tree_layout

    tips, x, y = tree_layout(tree)
    segments = []
    for node in tree.preorder():
        if node.parent is not None:
            segments.append([(x[node.parent], y[node]), (x[node], y[node])])
        if node.children:
            ys = [y[child] for child in node.children]
            segments.append([(x[node], min(ys)), (x[node], max(ys))])
    ax.add_collection(LineCollection(segments, colors="0.35", linewidths=0.5))
    leaves = {node.name: node for node in tree.tips()}
    points = np.array([[x[leaves[name]], y[leaves[name]]] for name in tips])
    labels = np.array([str(tip_labels[name]) for name in tips])
    colors, handles = _category_colors(labels, len(points))
    if tip_colors is not None:
        colors = [tip_colors[name] for name in tips]
    ax.scatter(*points.T, c=colors, s=6, zorder=3)
    ax.set(xlabel="path length from the root", yticks=[], title=title)
    ax.autoscale_view()
    if legend and tip_colors is None:
        ax.legend(handles=handles, fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5),
                  frameon=False)
    return ax


def plot_grid_heatmap(ax, table, value_label, fmt=".2f", cmap="viridis"):
    """A (rows x columns) table of numbers, e.g. train Pearson over curvature x σ, as an annotated
    seaborn heatmap with a labelled colour bar."""
    sns.heatmap(table, annot=True, fmt=fmt, cmap=cmap, ax=ax, cbar_kws={"label": value_label})
    return ax


def _axes_2d(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    return ax


# --------------------------------------------------------------------------------------------
# 3-D plots
# --------------------------------------------------------------------------------------------
def plot_sphere(Z, colors=None, ax=None, labels=None, cmap=CYCLIC_CMAP, wireframe=True,
                elev=20, azim=-60, s=POINT_SIZE, title=None, legend=True, colorbar=True, color_label=None,
                **scatter_kw):
    """Scatter points of S² (unit vectors in R³) on 3-D axes over a light wireframe sphere."""
    ax = _axes_3d(ax)
    if wireframe:
        u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 25), np.linspace(0, np.pi, 13))
        ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v),
                          color="0.6", linewidth=0.3, alpha=0.6)
    _scatter(ax, _points(Z, 3), colors, labels, cmap, s, legend, colorbar, scatter_kw,
             color_label)
    ax.set(xlim=(-1, 1), ylim=(-1, 1), zlim=(-1, 1), title=title)
    _finish_3d(ax, (1, 1, 1), elev, azim)
    return ax


def plot_torus_3d(angles, colors=None, ax=None, labels=None, R=2.0, r=0.8, cmap=CYCLIC_CMAP,
                  elev=35, azim=-60, s=POINT_SIZE, title=None, legend=True, colorbar=True, color_label=None,
                  **scatter_kw):
    """Scatter torus angles (from ``torus_angles``) on a lightly drawn torus in R³.

    ``angles[:, 0]`` runs around the central axis (major radius ``R``), ``angles[:, 1]`` around
    the tube (minor radius ``r``). Points sit just outside the surface so it does not hide them.
    """
    if not R > r > 0:
        raise ValueError(f"need R > r > 0, got R={R!r}, r={r!r}")
    ax = _axes_3d(ax)
    u, v = np.meshgrid(np.linspace(-np.pi, np.pi, 49), np.linspace(-np.pi, np.pi, 25))
    surface = _torus_xyz(u, v, R, r)
    ax.plot_surface(*surface, color="0.85", alpha=0.2, linewidth=0, shade=True)
    ax.plot_wireframe(*surface, rstride=3, cstride=3, color="0.6", linewidth=0.3, alpha=0.5)
    angles = _points(angles, 2)
    points = np.stack(_torus_xyz(angles[:, 0], angles[:, 1], R, 1.04 * r), axis=1)
    _scatter(ax, points, colors, labels, cmap, s, legend, colorbar, scatter_kw, color_label)
    ax.set(xlim=(-R - r, R + r), ylim=(-R - r, R + r), zlim=(-r, r), title=title)
    _finish_3d(ax, (R + r, R + r, r), elev, azim)
    return ax


def _torus_xyz(major, minor, R, r):
    ring = R + r * np.cos(minor)
    return ring * np.cos(major), ring * np.sin(major), r * np.sin(minor)


def _axes_3d(ax):
    if ax is None:
        ax = plt.figure(figsize=(4, 4)).add_subplot(projection="3d")
    elif ax.name != "3d":
        raise ValueError("this plot needs 3-D axes: create them with projection='3d'")
    return ax


def _finish_3d(ax, box_aspect, elev, azim):
    ax.set_box_aspect(box_aspect, zoom=1.25)
    ax.view_init(elev=elev, azim=azim)
    ax.set_axis_off()


# --------------------------------------------------------------------------------------------
# Scatter with one colouring rule for every plot
# --------------------------------------------------------------------------------------------
def _points(Z, dim):
    Z = _to_numpy(Z)
    if Z.ndim != 2 or Z.shape[1] != dim:
        raise ValueError(f"expected points of shape (N, {dim}), got {Z.shape}")
    return Z


def _scatter(ax, points, colors, labels, cmap, s, legend, colorbar, scatter_kw, color_label=None,
             highlight_mask=None, highlight_marker="x", highlight_label=None):
    """Draw ``points`` (N, 2 or 3) coloured by values ``colors`` or by categories ``labels``.

    Values go through ``cmap`` on one scale shared by all points, with a colour bar labelled
    ``color_label`` (unless ``colorbar`` is False);
    categories get a qualitative palette and, when ``legend``, a legend outside the axes.
    Points in ``highlight_mask`` form a second scatter with ``highlight_marker``. Large point
    sets are rasterized so PDFs stay small.
    """
    if colors is not None and labels is not None:
        raise ValueError("give colors (values) or labels (categories), not both")
    style = {"s": s, "linewidths": 0, "rasterized": len(points) > 2000, **scatter_kw}
    handles = []
    if labels is not None:
        colors, handles = _category_colors(labels, len(points))
    elif colors is not None:
        colors = _check_colors(colors, len(points))
        if _are_values(colors):
            style["cmap"] = cmap
            if not {"norm", "vmin", "vmax"} & set(scatter_kw):
                style["norm"] = Normalize(np.nanmin(colors), np.nanmax(colors))
    mask = (np.zeros(len(points), bool) if highlight_mask is None
            else _check_mask(highlight_mask, len(points)))
    drawn = ax.scatter(*points[~mask].T, c=_subset(colors, ~mask), **style)
    if mask.any():
        marked = {**style, "s": 1.5 * s, "marker": highlight_marker, "linewidths": 0.8,
                  "label": highlight_label}
        marked_colors = "0.3" if colors is None else _subset(colors, mask)
        highlighted = ax.scatter(*points[mask].T, c=marked_colors, **marked)
        handles += [highlighted] if highlight_label is not None else []
    if legend and handles:  # many categories go beside the axes, a lone highlight entry inside
        placement = ({"loc": "center left", "bbox_to_anchor": (1.0, 0.5), "frameon": False}
                     if labels is not None else {"loc": "best"})
        ax.legend(handles=handles, fontsize="small", **placement)
    if colorbar and _are_values(colors):
        ax.figure.colorbar(drawn, ax=ax, shrink=0.7, label=color_label or "value")
    return drawn


def _category_colors(labels, n_points):
    """Per-point RGBA colours for categorical ``labels`` and one legend handle per category."""
    labels = np.asarray(labels)
    if labels.shape != (n_points,):
        raise ValueError(f"labels of shape {labels.shape} for {n_points} points")
    categories, index = np.unique(labels, return_inverse=True)
    rgba = np.array([(*rgb, 1.0) for rgb in category_palette(len(categories))]).reshape(-1, 4)
    handles = [Line2D([], [], marker="o", linestyle="", color=rgba[i], label=str(category))
               for i, category in enumerate(categories)]
    return rgba[index], handles


def category_handles(labels):
    """Legend handles (one per category, in the colours every plot here gives it) for a legend
    shared by several panels."""
    labels = np.asarray(labels)
    return _category_colors(labels, len(labels))[1]


PALETTE_LIGHTNESS = (0.32, 0.55, 0.75)  # husl lightness of the three rings of a large palette


def category_palette(n):
    """``n`` distinct colours (RGB): seaborn's tab10 or tab20 while they suffice; beyond that
    three lightness rings (husl) of evenly spaced hues. Category i takes ring i mod 3, a third of
    the wheel from its neighbours' hues, and consecutive categories of one ring take hue slots
    about 0.4 of the wheel apart, so categories next to each other in the legend (alphabetical:
    H and HV, L0 and L1) differ in hue and lightness, where evenly spaced hues in order would
    give them nearly the same colour."""
    if n <= 20:
        return sns.color_palette("tab10" if n <= 10 else "tab20", n)
    rings = len(PALETTE_LIGHTNESS)
    slots = math.ceil(n / rings)
    stride = next(s for s in range(round(0.4 * slots), slots) if math.gcd(s, slots) == 1)
    return [sns.husl_palette(1, h=((i // rings * stride) % slots / slots + (i % rings) / rings
                                   + (i % rings) / (rings * slots)) % 1,
                             s=0.9, l=PALETTE_LIGHTNESS[i % rings])[0] for i in range(n)]


def _check_colors(colors, n_points):
    colors = colors if isinstance(colors, str) else np.asarray(colors)
    if np.ndim(colors) > 0 and len(colors) != n_points:
        raise ValueError(f"{len(colors)} colours for {n_points} points")
    return colors.astype(float) if _are_values(colors) else colors


def _are_values(colors):
    """True for a 1-D numeric array (mapped through a colormap), False for colour specs."""
    return isinstance(colors, np.ndarray) and colors.ndim == 1 and colors.dtype.kind in "biuf"


def _check_mask(mask, n_points):
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (n_points,):
        raise ValueError(f"highlight_mask of shape {mask.shape} for {n_points} points")
    return mask


def _subset(colors, keep):
    """The colours of the points in ``keep``; a single colour or None applies to all."""
    return colors if colors is None or np.ndim(colors) == 0 else colors[keep]
