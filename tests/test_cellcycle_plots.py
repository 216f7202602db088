"""Figures of the cell-cycle notebook (rgdkit.plotting.cellcycle): phase colours that stay
visible on white, hemisphere views of S² and one phase colour bar."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgb

from rgdkit.plotting import cellcycle as C
from rgdkit.plotting import figures


def relative_luminance(rgb):
    """WCAG relative luminance of sRGB colours (..., 3)."""
    rgb = np.asarray(rgb)
    linear = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return linear @ [0.2126, 0.7152, 0.0722]


def test_every_phase_colour_contrasts_with_white_and_the_map_is_cyclic():
    colours = figures.phase_colormap()(np.linspace(0, 1, 101))[:, :3]
    contrast = 1.05 / (relative_luminance(colours) + 0.05)  # against white (luminance 1)
    assert contrast.min() > 2.0  # no phase fades into white
    assert np.abs(colours[0] - colours[-1]).max() < 0.05  # phase 0 and 1: the same colour
    assert np.abs(colours[0] - colours[50]).max() > 0.3   # half a cycle away: another colour


def test_hemispheres_split_the_points_and_keep_them_in_the_unit_disk():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(500, 3))
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    front, xy = C.hemisphere_coordinates(Z, axis=(0, 0, 2))
    np.testing.assert_array_equal(front, Z[:, 2] >= 0)
    # equal area: a point at angle θ from its view's pole sits at radius √2 sin(θ/2)
    theta = np.arccos(np.abs(Z[:, 2]))
    np.testing.assert_allclose(np.linalg.norm(xy, axis=1), np.sqrt(2) * np.sin(theta / 2))
    # so a uniform sample fills the disk uniformly: half the points of a side within radius √½
    inner = (np.linalg.norm(xy, axis=1) < np.sqrt(0.5)).mean()
    assert 0.42 < inner < 0.58
    # a point and its mirror through the equator sit at one spot of their two views... mirrored
    pair = np.array([[0.6, 0.0, 0.8], [0.6, 0.0, -0.8]])
    _, pair_xy = C.hemisphere_coordinates(pair)
    np.testing.assert_allclose(pair_xy[0], pair_xy[1] * [-1, 1])
    with pytest.raises(ValueError, match="non-zero 3-vector"):
        C.hemisphere_coordinates(Z, axis=(0, 0, 0))
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        C.hemisphere_coordinates(Z[:, :2])


def test_hemisphere_plot_draws_each_point_once_and_titles_the_counts():
    Z = np.array([[0, 0, 1.0], [0, 1.0, 0.1], [1.0, 0, -0.5]])
    fig, axes = plt.subplots(1, 2)
    C.plot_hemispheres(Z, np.array([0.1, 0.5, 0.9]), axes)
    drawn = [len(c.get_offsets()) for ax in axes for c in ax.collections]
    assert drawn == [2, 1]
    assert "2 of 3" in axes[0].get_title() and "1 of 3" in axes[1].get_title()
    with pytest.raises(ValueError, match="phase of shape"):
        C.plot_hemispheres(Z, np.zeros(2), axes)
    plt.close(fig)


def test_one_phase_colour_bar_serves_several_axes():
    fig, axes = plt.subplots(1, 3)
    bar = C.phase_colorbar(fig, list(axes))
    assert [ax.get_label() for ax in fig.axes].count("<colorbar>") == 1
    assert bar.ax.get_ylabel() == "cell-cycle phase" and (bar.norm.vmin, bar.norm.vmax) == (0, 1)
    plt.close(fig)
