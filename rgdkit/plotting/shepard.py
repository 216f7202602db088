"""Shepard plots: latent distances against a reference distance (tree edges, circular phase,
Hamming) over the same pairs of samples, one panel per model, on one count scale.

Each panel is a 2-D histogram of the pairs (empty bins white) with the median and quartiles of
the latent distance in each reference bin drawn over it, the trend the counts' marginals hide;
its title gives the pairs' Pearson and Spearman correlation, the numbers the tables report.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from rgdkit.metrics.distances import correlate
from rgdkit.plotting.figures import shared_colorbar, whole_number_edges

TREND_COLOUR = "tab:red"


def shepard_plot(panels, reference_label, latent_label="latent geodesic distance",
                 pairs_label="pairs per bin", bins=60, cmap="viridis", panel_size=4.4):
    """One figure of Shepard plots, a panel per entry of ``panels``, with one colour bar.

    Parameters
    ----------
    panels : dict {title: (reference, latent)}
        Two 1-D arrays over the same pairs per panel, e.g. the upper triangles of a reference
        and a latent distance matrix.
    reference_label, latent_label : str
        The x and y axis labels.
    pairs_label : str, default "pairs per bin"
        The colour bar's label.
    bins : int, default 60
        Latent-distance bins; also reference bins, except that whole-number reference distances
        get bins of one common integer width (:func:`reference_edges`), so no bin holds more
        integers than another.
    cmap : str or Colormap, default "viridis"
        The counts' colours, on a logarithmic scale from 1 to the fullest bin of any panel.
    panel_size : float, default 4.4
        Width of a panel in inches.

    Returns
    -------
    matplotlib Figure
        Its first ``len(panels)`` axes are the panels, in the order of ``panels``.

    Raises
    ------
    ValueError
        When ``panels`` is empty or a panel's arrays are not 1-D over the same pairs.
    """
    if not panels:
        raise ValueError("shepard_plot needs at least one panel {title: (reference, latent)}")
    pairs = {title: _pairs(title, *arrays) for title, arrays in panels.items()}
    histograms = {title: np.histogram2d(reference, latent,
                                        bins=(reference_edges(reference, bins), bins))
                  for title, (reference, latent) in pairs.items()}
    norm = LogNorm(1, max(2, max(h[0].max() for h in histograms.values())))
    fig, axes = plt.subplots(1, len(panels), figsize=(panel_size * len(panels) + 1.2, 4.2),
                             layout="constrained", squeeze=False)
    for ax, (title, (counts, x_edges, y_edges)) in zip(axes[0], histograms.items()):
        reference, latent = pairs[title]
        ax.pcolormesh(x_edges, y_edges, np.ma.masked_equal(counts.T, 0), cmap=cmap, norm=norm,
                      rasterized=True)
        _draw_trend(ax, reference, latent, x_edges)
        pearson, spearman = correlate(latent, reference)
        ax.set(xlabel=reference_label, ylabel=latent_label, xlim=(x_edges[0], x_edges[-1]),
               title=f"{title}\nPearson {pearson:.2f}, Spearman {spearman:.2f}")
    axes[0, 0].legend(loc="upper left", fontsize="small")
    shared_colorbar(fig, axes[0], norm, cmap, pairs_label, shrink=0.85, fraction=0.05)
    return fig


def reference_edges(reference, bins):
    """Histogram edges for the reference distances: for whole numbers, about ``bins`` bins each
    the same number of integers wide and centred on them; otherwise ``bins`` even bins."""
    reference = np.asarray(reference, dtype=float)
    if np.allclose(reference, np.round(reference)):
        return whole_number_edges(reference, bins)
    return np.linspace(reference.min(), reference.max(), bins + 1)


def _pairs(title, reference, latent):
    """The two distance arrays as floats, checked to be 1-D over the same pairs."""
    reference, latent = np.asarray(reference, dtype=float), np.asarray(latent, dtype=float)
    if reference.ndim != 1 or reference.shape != latent.shape or len(reference) < 3:
        raise ValueError(f"{title}: reference and latent distances must be 1-D arrays over the "
                         f"same pairs (at least 3), got shapes {reference.shape} and {latent.shape}")
    return reference, latent


def _draw_trend(ax, reference, latent, edges):
    """The median (solid) and quartiles (dashed) of ``latent`` in each reference bin."""
    which = np.clip(np.digitize(reference, edges) - 1, 0, len(edges) - 2)
    filled = np.unique(which)
    centres = (edges[filled] + edges[filled + 1]) / 2
    quartiles = np.array([np.percentile(latent[which == b], [25, 50, 75]) for b in filled])
    ax.plot(centres, quartiles[:, 1], color=TREND_COLOUR, linewidth=2,
            label="median per reference bin")
    ax.plot(centres, quartiles[:, 0], color=TREND_COLOUR, linewidth=1, linestyle="--",
            label="quartiles")
    ax.plot(centres, quartiles[:, 2], color=TREND_COLOUR, linewidth=1, linestyle="--")
