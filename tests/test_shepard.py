"""Shepard plots (rgdkit.plotting.shepard): every pair counted, on one scale with one colour bar,
whole-number references binned by whole numbers, the trend and correlations drawn."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import QuadMesh
from scipy.stats import spearmanr

from rgdkit.plotting.shepard import reference_edges, shepard_plot


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def meshes(fig, n):
    return [next(c for c in ax.collections if isinstance(c, QuadMesh)) for ax in fig.axes[:n]]


def test_every_pair_is_counted_on_one_scale_with_one_colour_bar():
    rng = np.random.default_rng(0)
    tree = rng.integers(0, 5, size=200).astype(float)
    fig = shepard_plot({"a": (tree, tree + rng.normal(size=200)), "b": (tree, rng.normal(size=200))},
                       "tree distance", bins=10)
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1 and bars[0].get_ylabel() == "pairs per bin"
    first, second = meshes(fig, 2)
    assert first.norm is second.norm
    assert first.get_array().sum() == second.get_array().sum() == 200
    assert first.norm.vmax == max(first.get_array().max(), second.get_array().max())
    # one bin per whole-number tree distance, centred on it
    assert np.allclose(first.get_coordinates()[0, :, 0], np.arange(-0.5, 5.0))


def test_titles_report_the_pairs_correlations_and_the_median_follows_the_trend():
    rng = np.random.default_rng(1)
    reference = rng.random(2000) * 0.5
    latent = 2 * reference + 0.1 * rng.normal(size=2000)
    fig = shepard_plot({"S²": (reference, latent), "flipped": (reference, -latent)}, "phase")
    pearson = np.corrcoef(reference, latent)[0, 1]
    spearman = spearmanr(reference, latent)[0]
    assert fig.axes[0].get_title() == f"S²\nPearson {pearson:.2f}, Spearman {spearman:.2f}"
    assert fig.axes[1].get_title().endswith(f"Pearson {-pearson:.2f}, Spearman {-spearman:.2f}")
    median = fig.axes[0].get_lines()[0].get_xydata()  # latent = 2 reference + noise: slope 2
    assert np.polyfit(median[:, 0], median[:, 1], 1)[0] == pytest.approx(2, abs=0.1)


def test_wide_integer_ranges_get_bins_of_one_integer_width():
    edges = reference_edges(np.arange(0, 200, dtype=float), bins=60)
    widths = np.diff(edges)
    assert np.all(widths == widths[0]) and widths[0] == 4 and edges[0] == -0.5
    assert len(reference_edges(np.linspace(0, 1, 50), bins=7)) == 8


def test_pairs_that_do_not_match_are_refused():
    with pytest.raises(ValueError, match="same pairs"):
        shepard_plot({"x": (np.arange(5.0), np.arange(4.0))}, "Hamming distance")
    with pytest.raises(ValueError, match="at least one panel"):
        shepard_plot({}, "Hamming distance")
