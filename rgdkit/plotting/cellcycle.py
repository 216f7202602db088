"""Figures of the cell-cycle notebook (``1_CellCycle.ipynb``): cell-cycle phase on white, the
sphere as two hemispheres, one phase colour bar per figure and a reference line on the
generation bars.

Phase colours come from :func:`rgdkit.plotting.figures.phase_colormap` (equal lightness, so no
phase vanishes on white); points get a thin dark edge as well. Nothing here saves or shows a
figure.
"""
from __future__ import annotations

import numpy as np
from matplotlib.colors import Normalize

from rgdkit.plotting import figures

PHASE_NORM = Normalize(0.0, 1.0)  # phase in [0, 1): 0 and 1 the same state, the same colour
EDGES = {"edgecolors": "0.15", "linewidths": 0.25}  # thin dark edges: light points on white
SPHERE_POINT_SIZE = 9


def phase_style():
    """Keyword arguments of the :mod:`rgdkit.plotting.figures` scatter plots for phase colours
    on the fixed scale [0, 1], with edged points and no colour bar of their own (add one per
    figure with :func:`phase_colorbar`)."""
    return {"cmap": figures.phase_colormap(), "norm": PHASE_NORM, "colorbar": False, **EDGES}


def phase_colorbar(fig, axes, label="cell-cycle phase", **colorbar_kw):
    """One colour bar for the phase beside ``axes`` (one axes or a list), labelled ``label``;
    returns it. ``colorbar_kw`` go to :func:`rgdkit.plotting.figures.shared_colorbar` (defaults
    ``shrink=0.8, fraction=0.15, pad=0.05``, matplotlib's own but for the shrink)."""
    return figures.shared_colorbar(fig, axes, PHASE_NORM, figures.phase_colormap(), label,
                                   **{"shrink": 0.8, "fraction": 0.15, "pad": 0.05,
                                      **colorbar_kw})


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
# Marks on other figures
# --------------------------------------------------------------------------------------------
def add_reference_line(ax, value, label, color="tab:green"):
    """A dotted vertical line at ``value`` named ``label`` in the legend below the axes of
    :func:`rgdkit.plotting.figures.plot_accuracy_bars` (redrawn with the new entry)."""
    ax.axvline(value, color=color, linestyle=":", linewidth=2, label=label)
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    return ax
