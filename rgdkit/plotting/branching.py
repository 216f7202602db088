"""Figures of the branching-diffusion notebook: grids of Poincaré-disk panels with one colour bar,
the pullback volume element beside its version with uncertainty on one scale, geodesics with
marked endpoints, and Shepard plots of latent against tree distances.

Colours are fixed per label (:data:`CURVE_STYLES`, :data:`SIGMA_COLOURS`), never indexed by
which labels a figure happens to show, so a label looks the same in every figure and profile.
"""
from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LinearSegmentedColormap, LogNorm, Normalize
from matplotlib.ticker import MaxNLocator

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
# starts above ends: a pair's start sharing its spot with another pair's end stays visible
ENDPOINT_MARKERS = {"start": dict(marker="o", facecolor="white", size=70, zorder=7),
                    "end": dict(marker="s", facecolor="black", size=45, zorder=6)}
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


def shared_colorbar(fig, axes, norm, cmap, label, **colorbar_kw):
    """One labelled colour bar for every panel in ``axes`` drawn with ``norm`` and ``cmap``.

    Parameters
    ----------
    fig : matplotlib Figure
    axes : list of Axes, the panels the bar stands for (it takes space from all of them)
    norm : matplotlib Normalize, the scale every panel used
    cmap : str or Colormap
    label : str, the colour bar's label (what the colour means)
    colorbar_kw : passed to ``fig.colorbar`` (e.g. ``shrink``)

    Returns
    -------
    matplotlib Colorbar
    """
    if not label:
        raise ValueError("a colour bar needs a label saying what the colour means")
    mappable = ScalarMappable(norm=norm, cmap=cmap)
    style = {"shrink": 0.6, "fraction": 0.03, "pad": 0.02, **colorbar_kw}
    return fig.colorbar(mappable, ax=list(axes), label=label, **style)


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
    :func:`shared_colorbar` serves all panels). Returns the mesh."""
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


def mark_endpoints(ax, curves):
    """Distinct markers at the start (white circle) and the end (black square) of each curve,
    above everything else (starts above ends), each named once in the legend."""
    curves = [np.asarray(c, dtype=float) for c in curves]
    for end, style in ENDPOINT_MARKERS.items():
        points = np.array([c[0 if end == "start" else -1] for c in curves]).reshape(-1, 2)
        ax.scatter(*points.T, s=style["size"], marker=style["marker"], c=style["facecolor"],
                   edgecolors="black", linewidths=1.2, zorder=style["zorder"],
                   label=f"geodesic {end}")
    return ax


def legend_below(ax, ncol=2):
    """The axes' legend under it, where it hides no points or curves."""
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=ncol,
                     fontsize="small", frameon=False)


def shepard_panels(fig, axes, panels, reference_label="tree distance",
                   latent_label="latent geodesic distance", bins=60):
    """Shepard plots: for each (title, reference distances, latent distances) of ``panels``
    (matching 1-D arrays of the same pairs) a 2-D histogram of latent against reference
    distance on ``axes``, counts on one shared log colour scale with one labelled colour bar.

    Integer reference distances (tree edges) get one bin per integer. Returns the colour bar.
    """
    if len(axes) != len(panels):
        raise ValueError(f"{len(panels)} panels for {len(axes)} axes")
    histograms = []
    for title, reference, latent in panels:
        reference, latent = np.asarray(reference, float), np.asarray(latent, float)
        if reference.shape != latent.shape or reference.ndim != 1:
            raise ValueError(f"{title}: reference and latent distances must be 1-D arrays of the "
                             f"same pairs, got shapes {reference.shape} and {latent.shape}")
        histograms.append(np.histogram2d(reference, latent, bins=(_reference_bins(reference), bins)))
    norm = LogNorm(1, max(max(h[0].max() for h in histograms), 2))
    for ax, (title, *_), (counts, x_edges, y_edges) in zip(axes, panels, histograms):
        ax.pcolormesh(x_edges, y_edges, np.ma.masked_equal(counts, 0).T, cmap="magma_r", norm=norm,
                      rasterized=True)
        ax.set(xlabel=reference_label, ylabel=latent_label, title=title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return shared_colorbar(fig, axes, norm, "magma_r", "pairs per bin", shrink=0.8)


def _reference_bins(reference):
    """One bin per integer for integer distances, else 30 even bins."""
    if np.allclose(reference, np.round(reference)):
        return np.arange(reference.min() - 0.5, reference.max() + 1.5)
    return 30

