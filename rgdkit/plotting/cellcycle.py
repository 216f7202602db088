"""Figures of the cell-cycle notebook (``1_CellCycle.ipynb``): cell-cycle phase on white, the
sphere as two hemispheres, one phase colour bar per figure, Shepard plots of latent against phase
distances, marked geodesic ends and a reference line on the generation bars.

Phase colours: hues around the wheel at one lightness (husl, lightness ``PHASE_LIGHTNESS``), a
cyclic map whose every colour stands out on white (``twilight``, the package's cyclic map, fades
to white at both ends, so cells near phase 0 vanish); points get a thin dark edge as well. Every
function takes its axes, draws and returns what a colour bar needs; none calls ``plt.show``.
"""
from __future__ import annotations

import numpy as np
import seaborn as sns
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, LogNorm, Normalize

from rgdkit.plotting import figures

PHASE_LIGHTNESS = 0.6
PHASE_NORM = Normalize(0.0, 1.0)  # phase in [0, 1): 0 and 1 the same state, the same colour
EDGES = {"edgecolors": "0.15", "linewidths": 0.25}  # thin dark edges: light points on white
SPHERE_POINT_SIZE = 9


def phase_colormap():
    """A cyclic colour map for the cell-cycle phase: 256 husl hues at lightness
    ``PHASE_LIGHTNESS`` and saturation 0.9 (equal lightness, so no phase fades into white or
    stands out by brightness; the first and last colours meet)."""
    return ListedColormap(sns.husl_palette(256, h=0.0, s=0.9, l=PHASE_LIGHTNESS),
                          name="cell_cycle_phase")


def phase_style():
    """Keyword arguments of the :mod:`rgdkit.plotting.figures` scatter plots for phase colours
    on the fixed scale [0, 1], with edged points and no colour bar of their own (add one per
    figure with :func:`phase_colorbar`)."""
    return {"cmap": phase_colormap(), "norm": PHASE_NORM, "colorbar": False, **EDGES}


def phase_colorbar(fig, axes, label="cell-cycle phase", **colorbar_kw):
    """One colour bar for the phase beside ``axes`` (one axes or a list), labelled ``label``;
    returns it. ``colorbar_kw`` go to ``fig.colorbar`` (default ``shrink=0.8``)."""
    mappable = ScalarMappable(norm=PHASE_NORM, cmap=phase_colormap())
    return fig.colorbar(mappable, ax=axes, label=label, **{"shrink": 0.8, **colorbar_kw})


# --------------------------------------------------------------------------------------------
# The sphere as two hemispheres
# --------------------------------------------------------------------------------------------
def hemisphere_coordinates(Z, axis=(0.0, 0.0, 1.0)):
    """Equal-area views of points of S² from both ends of ``axis``: each hemisphere in
    Lambert's azimuthal equal-area projection about its pole, scaled to the unit disk (a point at
    angle θ from the pole lands at radius √2 sin(θ/2)), so the density of points on the page is
    their density on the sphere, up to the rim.

    Parameters
    ----------
    Z : array or torch tensor (N, 3)
        Points of the unit sphere (rows are renormalised).
    axis : sequence of 3 floats, default the z axis
        The viewing direction of the front view (any non-zero vector).

    Returns
    -------
    front : bool array (N,)
        Points on the hemisphere facing ``axis`` (Z · axis >= 0).
    xy : array (N, 2)
        Each point's position in the view of its own hemisphere: seen from +axis for the front,
        from -axis for the back (mirrored, as one sees the far side of a globe from behind), both
        in the unit disk with the same "up" direction.

    Raises
    ------
    ValueError
        When Z is not (N, 3) or ``axis`` is not a non-zero 3-vector.
    """
    Z = np.asarray(Z.detach().cpu() if hasattr(Z, "detach") else Z, dtype=float)
    if Z.ndim != 2 or Z.shape[1] != 3:
        raise ValueError(f"Z must be points of S² of shape (N, 3), got {Z.shape}")
    a = np.asarray(axis, dtype=float)
    if a.shape != (3,) or not np.linalg.norm(a) > 0:
        raise ValueError(f"axis must be a non-zero 3-vector, got {axis!r}")
    a = a / np.linalg.norm(a)
    Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    helper = np.eye(3)[np.argmin(np.abs(a))]  # the coordinate axis least parallel to a
    right = np.cross(helper, a)
    right /= np.linalg.norm(right)
    up = np.cross(a, right)
    along = Z @ a
    front = along >= 0
    x = Z @ right
    # the orthographic (x, y) has length sin θ; equal area wants √2 sin(θ/2) = sin θ / √(1 + cos θ)
    orthographic = np.stack([np.where(front, x, -x), Z @ up], 1)
    return front, orthographic / np.sqrt(1 + np.abs(along))[:, None]


def plot_hemispheres(Z, phase, axes, axis=(0.0, 0.0, 1.0), title="S²", s=SPHERE_POINT_SIZE):
    """Points of S² coloured by ``phase`` on two equal-area disks, the hemisphere facing ``axis``
    on ``axes[0]`` and the far one on ``axes[1]`` (:func:`hemisphere_coordinates`), each with
    circles 30° and 60° from the view's centre and meridians every 45°; no colour bar (see
    :func:`phase_colorbar`). ``phase`` (N,) in [0, 1]. Returns ``axes``."""
    if len(axes) != 2:
        raise ValueError(f"plot_hemispheres draws on two axes (front, back), got {len(axes)}")
    front, xy = hemisphere_coordinates(Z, axis)
    phase = np.asarray(phase, dtype=float)
    if phase.shape != (len(xy),):
        raise ValueError(f"phase of shape {phase.shape} for {len(xy)} points")
    for ax, side, name in ((axes[0], front, "near"), (axes[1], ~front, "far")):
        _draw_disk(ax)
        figures.plot_embedding(xy[side], colors=phase[side], ax=ax, s=s, **phase_style())
        ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), xticks=[], yticks=[])
        ax.set_aspect("equal", adjustable="box")
        ax.set_title(f"{title}\n{name} side ({int(side.sum())} of {len(xy)} points)",
                     fontsize="medium")
        for spine in ax.spines.values():
            spine.set_visible(False)
    return axes


def _draw_disk(ax):
    """The rim of a hemisphere's view, latitude circles 30° and 60° from its centre and
    meridians every 45°, in light grey."""
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="0.3", linewidth=1)
    for angle in (np.pi / 6, np.pi / 3):  # equal-area radius √2 sin(θ/2)
        radius = np.sqrt(2) * np.sin(angle / 2)
        ax.plot(radius * np.cos(t), radius * np.sin(t), color="0.8", linewidth=0.6)
    for angle in np.arange(4) * np.pi / 4:
        ax.plot([-np.cos(angle), np.cos(angle)], [-np.sin(angle), np.sin(angle)], color="0.8",
                linewidth=0.6)


# --------------------------------------------------------------------------------------------
# Shepard plots
# --------------------------------------------------------------------------------------------
def plot_shepard(ax, phase_distances, latent_distances, norm, bins=40, cmap="viridis"):
    """A 2-D histogram of pairs, circular phase distance (x) against latent geodesic distance
    (y), with the median and quartiles of the latent distance in each phase-distance bin drawn
    over it (red lines: the trend the counts' marginals hide) and the Pearson r of the pairs
    returned for a title.

    Parameters
    ----------
    ax : matplotlib axes
    phase_distances, latent_distances : arrays (P,)
        One entry per pair of cells (e.g. the upper triangles of two distance matrices).
    norm : matplotlib Normalize
        The counts' colour scale, shared by every panel of a figure so that one colour bar serves
        them all (e.g. ``LogNorm(1, most pairs in a bin)``).
    bins : int, default 40
        Bins per axis.
    cmap : str, default "viridis"
        Counts' colours (a map whose low end is not white: empty bins stay white).

    Returns
    -------
    (QuadMesh, float)
        The histogram (for a colour bar) and the Pearson r.

    Raises
    ------
    ValueError
        When the two have different lengths or fewer than 3 pairs.
    """
    x = np.asarray(phase_distances, dtype=float).ravel()
    y = np.asarray(latent_distances, dtype=float).ravel()
    if len(x) != len(y) or len(x) < 3:
        raise ValueError(f"need as many phase as latent distances, at least 3 pairs; got "
                         f"{len(x)} and {len(y)}")
    r = float(np.corrcoef(x, y)[0, 1])
    counts, x_edges, y_edges = np.histogram2d(x, y, bins=bins)
    masked = np.ma.masked_equal(counts.T, 0)  # empty bins stay white
    mesh = ax.pcolormesh(x_edges, y_edges, masked, cmap=cmap, norm=norm, rasterized=True)
    which = np.clip(np.digitize(x, x_edges) - 1, 0, bins - 1)
    filled = [b for b in range(bins) if (which == b).any()]
    centres = (x_edges[:-1] + x_edges[1:])[filled] / 2
    quartiles = np.array([np.percentile(y[which == b], [25, 50, 75]) for b in filled])
    ax.plot(centres, quartiles[:, 1], color="tab:red", linewidth=2,
            label="median latent distance per phase bin")
    ax.plot(centres, quartiles[:, 0], color="tab:red", linewidth=1, linestyle="--",
            label="quartiles")
    ax.plot(centres, quartiles[:, 2], color="tab:red", linewidth=1, linestyle="--")
    ax.set(xlabel="circular phase distance", ylabel="latent geodesic distance",
           xlim=(0, x_edges[-1]))
    return mesh, r


def shepard_norm(pair_counts):
    """A logarithmic colour scale from 1 to the largest of ``pair_counts`` (the most pairs any
    panel puts in one bin), for :func:`plot_shepard`."""
    return LogNorm(1, max(2, int(max(pair_counts))))


def most_pairs_in_a_bin(phase_distances, latent_distances, bins=40):
    """The largest bin count of the 2-D histogram :func:`plot_shepard` draws."""
    return int(np.histogram2d(np.ravel(phase_distances), np.ravel(latent_distances),
                              bins=bins)[0].max())


# --------------------------------------------------------------------------------------------
# Marks on other figures
# --------------------------------------------------------------------------------------------
def mark_curve_ends(ax, curves, period=None, color="tab:red"):
    """Mark where each 2-D curve (an (n, 2) array, e.g. a geodesic in chart coordinates) starts
    (a white disk with a ``color`` edge) and where it ends (a filled ``color`` arrowhead along
    its last three steps), with one legend entry each. With ``period`` (2π for longitudes) a
    curve whose last steps cross the chart's seam gets no arrowhead (it would point across the
    plot)."""
    curves = [np.asarray(c, dtype=float) for c in curves]
    starts = np.array([c[0] for c in curves])
    ax.scatter(*starts.T, s=70, facecolors="white", edgecolors=color, linewidths=2, zorder=6,
               label="geodesic start")
    for c in curves:
        tail = c[max(0, len(c) - 4):]  # the arrow runs along the last three steps
        if period is not None and np.abs(np.diff(tail, axis=0)).max() > period / 2:
            continue
        before = tail[0]
        ax.annotate("", xy=c[-1], xytext=before, zorder=6,
                    arrowprops={"arrowstyle": "-|>,head_length=0.8,head_width=0.45",
                                "color": color, "linewidth": 2, "shrinkA": 0, "shrinkB": 0})
    ax.plot([], [], marker=">", color=color, linestyle="-", label="geodesic end")
    return ax


def add_reference_line(ax, value, label, color="tab:green"):
    """A dotted vertical line at ``value`` named ``label`` in the legend below the axes of
    :func:`rgdkit.plotting.figures.plot_accuracy_bars` (redrawn with the new entry)."""
    ax.axvline(value, color=color, linestyle=":", linewidth=2, label=label)
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    return ax
