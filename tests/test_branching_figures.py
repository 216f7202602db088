"""The branching notebook's figure helpers (rgdkit.plotting.branching): one colour bar per
colouring, one scale across panels, fixed colours per label, marked geodesic endpoints."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PathCollection, QuadMesh

from rgdkit.geometry import pullback
from rgdkit.plotting import branching as B


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def colorbar_axes(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_a_grid_gets_one_labelled_colour_bar():
    fig, axes = plt.subplots(2, 3)
    bar = B.shared_colorbar(fig, axes.ravel(), B.depth_norm([0, 3, 6]), B.DEPTH_CMAP, "tree depth")
    assert len(colorbar_axes(fig)) == 1
    assert bar.ax.get_ylabel() == "tree depth" and bar.norm.vmin == 0 and bar.norm.vmax == 6
    with pytest.raises(ValueError, match="needs a label"):
        B.shared_colorbar(fig, axes.ravel(), B.depth_norm([6]), B.DEPTH_CMAP, "")


def test_two_volume_fields_share_one_scale():
    _, coords, shape = pullback.chart_grid("lorentz", 5)
    low, high = np.full(len(coords), 1e-2), np.full(len(coords), 1e3)
    scale = B.volume_norm(low, high)
    assert (scale.vmin, scale.vmax) == pytest.approx((-2, 3))
    fig, axes = plt.subplots(1, 2)
    meshes = [B.plot_log_volume(ax, coords, v, shape, scale) for ax, v in zip(axes, (low, high))]
    assert all(m.norm is scale for m in meshes)
    assert np.allclose(meshes[1].get_array(), 3)
    with pytest.raises(ValueError, match="do not match"):
        B.plot_log_volume(axes[0], coords, low[:-1], shape, scale)


def test_each_sigma_keeps_its_colour():
    assert B.sigma_colour(1) == B.sigma_colour(1.0) == B.SIGMA_COLOURS[1.0]
    assert len(set(B.SIGMA_COLOURS.values())) == len(B.SIGMA_COLOURS)
    with pytest.raises(KeyError, match="add it to SIGMA_COLOURS"):
        B.sigma_colour(0.3)


def test_geodesics_have_distinct_start_and_end_markers():
    fig, ax = plt.subplots()
    curves = [np.array([[0.0, 0.0], [0.5, 0.2], [1.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 1.0]])]
    B.draw_geodesics(ax, curves, "pullback geodesic")
    B.mark_endpoints(ax, curves)
    starts, ends = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert np.allclose(starts.get_offsets(), [[0, 0], [0, 1]])
    assert np.allclose(ends.get_offsets(), [[1, 0], [1, 1]])
    assert not np.allclose(starts.get_facecolor(), ends.get_facecolor())
    assert starts.get_zorder() > ends.get_zorder() > 4  # above the curves, starts on top
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["pullback geodesic", "geodesic start", "geodesic end"]
    with pytest.raises(KeyError, match="unknown curve kind"):
        B.draw_geodesics(ax, curves, "straight line")


def test_shepard_panels_count_every_pair_on_one_scale():
    rng = np.random.default_rng(0)
    tree = rng.integers(0, 5, size=200).astype(float)
    panels = [("a", tree, tree + rng.normal(size=200)), ("b", tree, rng.normal(size=200))]
    fig, axes = plt.subplots(1, 2)
    bar = B.shepard_panels(fig, axes, panels, bins=10)
    meshes = [next(c for c in ax.collections if isinstance(c, QuadMesh)) for ax in axes]
    assert all(m.norm is bar.norm for m in meshes) and len(colorbar_axes(fig)) == 1
    assert all(m.get_array().sum() == 200 for m in meshes)  # every pair in a bin
    # one bin per integer tree distance
    assert np.allclose(meshes[0].get_coordinates()[0, :, 0], np.arange(-0.5, 5.0))
    assert [ax.get_title() for ax in axes] == ["a", "b"]
    with pytest.raises(ValueError, match="same pairs"):
        B.shepard_panels(fig, axes[:1], [("c", tree, tree[:-1])])
