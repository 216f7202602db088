"""Figures of the branching-diffusion notebook: the colour scales of tree depth and of the pullback
volume element (one scale for the volume element with and without uncertainty), and the styles of
each kind of geodesic. Colour bars and endpoint marks come from :mod:`rgdkit.plotting.figures`.

Colours are fixed per label (:data:`CURVE_STYLES`, :data:`SIGMA_COLOURS`), never indexed by
which labels a figure happens to show, so a label looks the same in every figure and profile.
"""
from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LinearSegmentedColormap, Normalize

from rgdkit.plotting.figures import draw_curves

DEPTH_CMAP = "viridis"
# the volume element under the points: greys stopping short of black, so that the darkest
# points (tree depth 0 in viridis) stay visible where the decoder stretches most
VOLUME_SHADES = (0.05, 0.7)
CURVE_STYLES = {
    "H² geodesic": dict(color="tab:blue", linestyle="--", linewidth=1.5),
    "pullback geodesic": dict(color="tab:red", linestyle="-", linewidth=2.0),
    "pullback geodesic with uncertainty": dict(color="tab:orange", linestyle="-", linewidth=2.0),
}
# the noise scales of the paper's H² rows and ablations, each in its own colour in every figure
SIGMA_COLOURS = {0.0: "0.4", 0.1: "tab:blue", 0.4: "tab:cyan", 0.5: "tab:green", 0.9: "tab:olive",
                 1.0: "tab:orange", 1.6: "tab:pink", 2.0: "tab:red", 2.6: "tab:purple"}
# edged points: light and dark points alike stand out from the volume element behind them
EDGED_POINTS = dict(edgecolors="black", linewidths=0.25)


def sigma_colour(sigma):
    """The colour of noise scale ``sigma`` in every figure (:data:`SIGMA_COLOURS`).

    Raises
    ------
    KeyError
        For a σ without a colour: add it to ``SIGMA_COLOURS``.
    """
    if float(sigma) not in SIGMA_COLOURS:
        raise KeyError(f"σ = {sigma} has no colour; add it to SIGMA_COLOURS "
                       f"(known: {sorted(SIGMA_COLOURS)})")
    return SIGMA_COLOURS[float(sigma)]


def depth_norm(depths):
    """The tree-depth colour scale, 0 to the deepest node, shared by every panel."""
    return Normalize(0, float(np.max(depths)))


def volume_norm(*volumes):
    """One log₁₀ scale for several volume-element fields (each (M,), positive or zero)."""
    logs = np.concatenate([_log_volume(v) for v in volumes])
    return Normalize(float(logs.min()), float(logs.max()))


def _log_volume(values):
    values = np.asarray(values, dtype=float).ravel()
    return np.log10(np.maximum(values, np.finfo(float).tiny))


def plot_log_volume(ax, coords, values, shape, norm):
    """log₁₀ of a volume element on a chart grid (``pullback.chart_grid``'s coords and shape)
    as a heat map on the colour scale ``norm`` (:func:`volume_norm`), without a colour bar (one
    ``figures.shared_colorbar`` serves all panels). Returns the mesh."""
    coords = np.asarray(coords, dtype=float)
    values = _log_volume(values)
    if len(shape) != 2 or shape[0] * shape[1] != len(coords) or len(values) != len(coords):
        raise ValueError(f"coords {coords.shape}, values {values.shape} and grid shape {shape} "
                         "do not match; pass chart_grid's coords and shape with one value per point")
    grid = coords.reshape(*shape, 2)
    return ax.pcolormesh(grid[..., 0], grid[..., 1], values.reshape(shape), shading="gouraud",
                         cmap=volume_cmap(), norm=norm, zorder=0, rasterized=True)


def volume_cmap():
    """The volume element's colour map: matplotlib's Greys cut to :data:`VOLUME_SHADES`
    (darker: the decoder stretches more; no pure black or white)."""
    greys = colormaps["Greys"](np.linspace(*VOLUME_SHADES, 256))
    return LinearSegmentedColormap.from_list("volume", greys)


def draw_geodesics(ax, curves, kind):
    """Curves (each (n, 2) in plot coordinates) of one ``kind`` of :data:`CURVE_STYLES`, named
    ``kind`` once in the legend."""
    if kind not in CURVE_STYLES:
        raise KeyError(f"unknown curve kind {kind!r}; known: {', '.join(CURVE_STYLES)}")
    return draw_curves(ax, curves, label=kind, **CURVE_STYLES[kind])


def legend_below(ax, ncol=2):
    """The axes' legend under it, where it hides no points or curves."""
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=ncol,
                     fontsize="small", frameon=False)
