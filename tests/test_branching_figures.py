"""The branching notebook's figure helpers (rgdkit.plotting.branching): one volume scale across
panels, fixed colours per σ and per kind of geodesic."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from rgdkit.geometry import pullback
from rgdkit.plotting import branching as B


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


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


def test_geodesics_keep_their_kind_style_and_unknown_kinds_are_refused():
    fig, ax = plt.subplots()
    curves = [np.array([[0.0, 0.0], [0.5, 0.2], [1.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 1.0]])]
    B.draw_geodesics(ax, curves, "pullback geodesic")
    (lines,) = ax.collections
    assert lines.get_label() == "pullback geodesic" and lines.get_linewidth()[0] == 2.0
    with pytest.raises(KeyError, match="unknown curve kind"):
        B.draw_geodesics(ax, curves, "straight line")
