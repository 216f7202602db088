"""Tests for figures.py: atomic saving, hyperbolic and torus coordinates, group positions, plots."""
import inspect
import os

import matplotlib

matplotlib.use("Agg")

import geoopt
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import Normalize
from matplotlib.patches import Circle
from mpl_toolkits.mplot3d.art3d import Line3DCollection

from rgdkit.plotting import figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def scatter_sizes(ax):
    """Number of points in each scatter drawn on ``ax``, in drawing order."""
    return [len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection)]


def small_figure():
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    return fig


# --------------------------------------------------------------------------------------------
# save_figure
# --------------------------------------------------------------------------------------------
def test_save_figure_writes_png_and_pdf_into_a_new_folder(tmp_path):
    folder = tmp_path / "nested" / "results"
    paths = figures.save_figure(small_figure(), "demo", results_dir=folder)
    assert [p.name for p in paths] == ["demo.png", "demo.pdf"]
    assert paths[0].read_bytes().startswith(PNG_MAGIC)
    assert paths[1].read_bytes().startswith(b"%PDF")
    assert all(p.stat().st_size > 100 for p in paths)
    assert sorted(os.listdir(folder)) == ["demo.pdf", "demo.png"]  # no temp files left over


@pytest.mark.parametrize("name", ["", "  ", ".", "..", "a/b", "../escape", "a\\b", None])
def test_save_figure_refuses_names_that_are_not_plain_file_stems(tmp_path, name):
    with pytest.raises(ValueError):
        figures.save_figure(small_figure(), name, results_dir=tmp_path)
    assert os.listdir(tmp_path) == []


def test_save_figure_refuses_a_format_with_a_separator(tmp_path):
    with pytest.raises(ValueError):
        figures.save_figure(small_figure(), "demo", results_dir=tmp_path, formats=("png/x",))


def test_save_figure_replaces_an_existing_file_instead_of_writing_into_it(tmp_path, monkeypatch):
    target = tmp_path / "demo.png"
    target.write_bytes(b"old figure")
    os.link(target, tmp_path / "old_link")  # shares the old file's inode
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(figures.os, "replace",
                        lambda src, dst: (replaced.append((src, dst)), real_replace(src, dst))[1])
    figures.save_figure(small_figure(), "demo", results_dir=tmp_path, formats=("png",))
    assert (tmp_path / "old_link").read_bytes() == b"old figure"  # old inode never written to
    assert target.read_bytes().startswith(PNG_MAGIC)
    assert len(replaced) == 1 and os.fspath(replaced[0][1]) == os.fspath(target)
    assert os.path.dirname(replaced[0][0]) == os.fspath(tmp_path)  # temp file in the same folder
    assert sorted(os.listdir(tmp_path)) == ["demo.png", "old_link"]


def test_failed_save_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "demo.png"
    target.write_bytes(b"old figure")

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(figures.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        figures.save_figure(small_figure(), "demo", results_dir=tmp_path, formats=("png",))
    assert target.read_bytes() == b"old figure"
    assert os.listdir(tmp_path) == ["demo.png"]


# --------------------------------------------------------------------------------------------
# lorentz_to_poincare
# --------------------------------------------------------------------------------------------
def lorentz_points(n, k, seed, dim=2, scale=1.5):
    """Random points on geoopt's Lorentz(k) (float64) as a torch tensor."""
    manifold = geoopt.Lorentz(k=torch.tensor(k, dtype=torch.float64))
    generator = torch.Generator().manual_seed(seed)
    v = torch.randn(n, dim, dtype=torch.float64, generator=generator) * scale
    origin = torch.zeros(n, dim + 1, dtype=torch.float64)
    origin[:, 0] = k ** 0.5
    return manifold.expmap(origin, torch.cat([torch.zeros(n, 1, dtype=torch.float64), v], 1))


def lorentz_distance(x, y, k):
    inner = -x[:, 0] * y[:, 0] + np.sum(x[:, 1:] * y[:, 1:], axis=1)
    return np.sqrt(k) * np.arccosh(np.maximum(-inner / k, 1.0))


def poincare_distance(p, q, k):
    """Distance in the ball of radius sqrt(k) with curvature -1/k."""
    gap = np.sum((p - q) ** 2, axis=1)
    denominator = (k - np.sum(p ** 2, axis=1)) * (k - np.sum(q ** 2, axis=1))
    return np.sqrt(k) * np.arccosh(1 + 2 * k * gap / denominator)


@pytest.mark.parametrize("k", [0.3, 1.0, 2.5])
def test_poincare_radius_is_sqrt_k_tanh_of_half_the_scaled_distance(k):
    r = np.linspace(0.0, 5.0, 11)
    u = np.stack([np.cos(r * 7), np.sin(r * 7)], axis=1)  # assorted unit directions
    x = np.column_stack([np.sqrt(k) * np.cosh(r), np.sqrt(k) * np.sinh(r)[:, None] * u])
    np.testing.assert_allclose(-x[:, 0] ** 2 + np.sum(x[:, 1:] ** 2, axis=1), -k)
    p = figures.lorentz_to_poincare(x, k=k)
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), np.sqrt(k) * np.tanh(r / 2), atol=1e-12)
    np.testing.assert_allclose(p / np.maximum(np.linalg.norm(p, axis=1), 1e-300)[:, None],
                               np.where(r[:, None] > 0, u, p), atol=1e-12)  # direction kept


@pytest.mark.parametrize("k", [0.3, 1.0, 2.5])
def test_poincare_map_preserves_hyperbolic_distance(k):
    x = lorentz_points(200, k, seed=1).numpy()
    y = lorentz_points(200, k, seed=2).numpy()
    p, q = figures.lorentz_to_poincare(x, k), figures.lorentz_to_poincare(y, k)
    assert np.all(np.linalg.norm(p, axis=1) < np.sqrt(k))
    expected = lorentz_distance(x, y, k)
    np.testing.assert_allclose(poincare_distance(p, q, k), expected, rtol=1e-8)
    # independent check against geoopt's ball of curvature -1/k, away from the rim where
    # geoopt's clamping costs it precision
    rim = 0.9 * np.sqrt(k)
    inner = (np.linalg.norm(p, axis=1) < rim) & (np.linalg.norm(q, axis=1) < rim)
    assert inner.sum() > 20
    ball = geoopt.PoincareBall(c=1.0 / k)
    np.testing.assert_allclose(ball.dist(torch.tensor(p[inner]), torch.tensor(q[inner])).numpy(),
                               expected[inner], rtol=1e-6)


def test_lorentz_to_poincare_accepts_torch_and_differs_from_the_klein_map():
    x = lorentz_points(50, 1.0, seed=3)
    p = figures.lorentz_to_poincare(x.requires_grad_())
    assert isinstance(p, np.ndarray) and p.shape == (50, 2)
    x = x.detach().numpy()
    np.testing.assert_allclose(p, figures.lorentz_to_poincare(x))
    klein = x[:, 1:] / x[:, :1]
    assert np.max(np.abs(p - klein)) > 0.1


def test_lorentz_to_poincare_rejects_nonpositive_k():
    with pytest.raises(ValueError):
        figures.lorentz_to_poincare(np.array([[1.0, 0.0, 0.0]]), k=0.0)


# --------------------------------------------------------------------------------------------
# torus_angles, node_means, node_medians
# --------------------------------------------------------------------------------------------
def test_torus_angles_round_trip_in_both_layouts_and_from_torch():
    rng = np.random.default_rng(0)
    angles = np.vstack([[-np.pi, 0.0], [0.5, -np.pi], rng.uniform(-np.pi, np.pi, (100, 2))])
    circles = np.stack([np.cos(angles), np.sin(angles)], axis=-1)  # (N, 2, 2)
    for Z in (circles, circles.reshape(-1, 4), torch.tensor(circles.reshape(-1, 4))):
        result = figures.torus_angles(Z)
        assert result.shape == angles.shape
        np.testing.assert_allclose(result, angles, atol=1e-12)


def test_torus_angles_puts_the_seam_at_minus_pi():
    Z = np.array([[[-1.0, 0.0], [-1.0, -0.0]]])  # atan2 gives +π and -π
    np.testing.assert_allclose(figures.torus_angles(Z), [[-np.pi, -np.pi]])


def test_torus_angles_rejects_other_shapes():
    with pytest.raises(ValueError):
        figures.torus_angles(np.zeros((5, 3)))


def test_node_means_and_medians_on_a_hand_made_example():
    Z = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [1.0, 1.0], [100.0, -3.0]])
    groups = ["b", "a", "b", "a", "b"]
    names, means = figures.node_means(Z, groups)
    assert list(names) == ["a", "b"]
    np.testing.assert_allclose(means, [[1.5, 0.5], [110 / 3, 7 / 3]])
    names, medians = figures.node_medians(torch.tensor(Z), np.array(groups))
    assert list(names) == ["a", "b"]
    np.testing.assert_allclose(medians, [[1.5, 0.5], [10.0, 0.0]])


def test_node_means_rejects_mismatched_groups():
    with pytest.raises(ValueError):
        figures.node_means(np.zeros((3, 2)), [0, 1])


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------
def disk_points(n=60, seed=0):
    rng = np.random.default_rng(seed)
    radius, angle = 0.9 * np.sqrt(rng.uniform(size=n)), rng.uniform(-np.pi, np.pi, n)
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])


def test_poincare_disk_with_categories_edges_and_node_labels():
    Z = disk_points()
    groups = np.repeat(["x", "y", "z"], 20)
    names, means = figures.node_means(Z, groups)
    ax = figures.plot_poincare_disk(Z, labels=groups, edges=[(0, 1), (1, 2)],
                                    node_positions=means, node_labels=names, radius=1.0)
    assert sum(scatter_sizes(ax)) == 60
    segments = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(segments) == 1 and len(segments[0].get_segments()) == 2
    np.testing.assert_allclose(segments[0].get_segments()[1], means[[1, 2]])
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(circles) == 1 and circles[0].get_radius() == 1.0
    assert [t.get_text() for t in ax.texts] == ["x", "y", "z"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["x", "y", "z"]
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    assert ax.get_aspect() == 1.0


def test_poincare_disk_with_values_uses_the_given_radius_and_adds_a_colorbar():
    Z = 2.0 * disk_points(30)
    ax = figures.plot_poincare_disk(torch.tensor(Z), colors=np.arange(30), radius=2.0,
                                    colorbar=True)
    assert scatter_sizes(ax) == [30]
    assert ax.get_xlim()[1] >= 2.0
    assert len(ax.figure.axes) == 2  # the colorbar


def test_plot_inputs_are_checked():
    Z = disk_points(10)
    with pytest.raises(ValueError):
        figures.plot_poincare_disk(Z, colors=np.arange(10), labels=np.zeros(10))
    with pytest.raises(ValueError):
        figures.plot_poincare_disk(Z, edges=[(0, 5)], node_positions=Z[:3])
    with pytest.raises(ValueError):
        figures.plot_poincare_disk(Z, colors=np.arange(9))
    with pytest.raises(ValueError):
        figures.plot_sphere(np.ones((4, 3)), ax=plt.subplots()[1])


def test_embedding_highlights_masked_points_on_a_shared_colour_scale():
    rng = np.random.default_rng(1)
    Z, phase = rng.normal(size=(50, 2)), rng.uniform(-np.pi, np.pi, 50)
    mask = np.arange(50) < 12
    ax = figures.plot_embedding(Z, phase, cmap=figures.phase_colormap(), highlight_mask=mask,
                                highlight_label="non-proliferating", colorbar=True)
    assert scatter_sizes(ax) == [38, 12]
    rest, marked = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert rest.norm.vmin == marked.norm.vmin == phase.min()
    assert rest.norm.vmax == marked.norm.vmax == phase.max()
    assert rest.get_paths()[0] is not marked.get_paths()[0]  # a different marker
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["non-proliferating"]


def test_embedding_without_highlight_draws_one_scatter():
    ax = figures.plot_embedding(np.zeros((7, 2)))
    assert scatter_sizes(ax) == [7]
    assert ax.get_legend() is None


def test_sphere_draws_points_over_a_wireframe():
    P = np.random.default_rng(2).normal(size=(40, 3))
    P /= np.linalg.norm(P, axis=1, keepdims=True)
    ax = figures.plot_sphere(P, np.arange(40))
    assert ax.name == "3d" and scatter_sizes(ax) == [40]
    assert any(isinstance(c, Line3DCollection) for c in ax.collections)
    ax = figures.plot_sphere(P, np.arange(40), wireframe=False)
    assert not any(isinstance(c, Line3DCollection) for c in ax.collections)


def test_torus_plots_draw_every_point():
    angles = np.random.default_rng(3).uniform(-np.pi, np.pi, (25, 2))
    ax = figures.plot_torus_3d(angles, angles[:, 0])
    assert ax.name == "3d" and scatter_sizes(ax) == [25]
    ax = figures.plot_torus_flat(angles, angles[:, 0])
    assert scatter_sizes(ax) == [25]
    assert ax.get_xlim()[0] < -np.pi and ax.get_xlim()[1] > np.pi
    assert len(ax.texts) == 6  # edge-identification arrows: 2 single, 2 double
    with pytest.raises(ValueError):
        figures.plot_torus_3d(angles, R=1.0, r=2.0)


def test_panel_grid_returns_the_used_axes_and_turns_off_the_rest():
    fig, axes = figures.panel_grid(5, 3, size=1.0)
    assert len(axes) == 5 and len(fig.axes) == 6
    assert all(ax.axison for ax in axes)
    assert not fig.axes[5].axison
    np.testing.assert_allclose(fig.get_size_inches(), [3.0, 2.0])
    fig, axes = figures.panel_grid(2, 4, subplot_kw={"projection": "3d"})
    assert len(fig.axes) == 2 and all(ax.name == "3d" for ax in axes)
    with pytest.raises(ValueError):
        figures.panel_grid(0, 3)


def test_phase_colormap_is_cyclic_and_the_default_for_angles():
    cmap = figures.phase_colormap()
    assert inspect.signature(figures.plot_torus_flat).parameters["cmap"].default is cmap
    np.testing.assert_allclose(cmap(0.0), cmap(1.0), atol=0.05)  # one of 256 hue steps apart
    assert np.max(np.abs(np.subtract(cmap(0.0), cmap(0.5)))) > 0.3


def test_a_grid_gets_one_labelled_colour_bar():
    fig, axes = plt.subplots(2, 3)
    bar = figures.shared_colorbar(fig, axes, Normalize(0, 6), "viridis", "tree depth")
    assert [ax.get_label() for ax in fig.axes].count("<colorbar>") == 1
    assert bar.ax.get_ylabel() == "tree depth" and (bar.norm.vmin, bar.norm.vmax) == (0, 6)
    with pytest.raises(ValueError, match="needs a label"):
        figures.shared_colorbar(fig, axes[0, 0], Normalize(0, 6), "viridis", "")


def test_geodesic_ends_get_distinct_markers_above_the_curves():
    fig, ax = plt.subplots()
    curves = [np.array([[0.0, 0.0], [0.5, 0.2], [1.0, 0.0]]), torch.tensor([[0.0, 1.0], [1.0, 1.0]])]
    figures.draw_curves(ax, curves, label="geodesic")
    figures.mark_endpoints(ax, curves)
    starts, ends = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert np.allclose(starts.get_offsets(), [[0, 0], [0, 1]])
    assert np.allclose(ends.get_offsets(), [[1, 0], [1, 1]])
    assert not np.allclose(starts.get_facecolor(), ends.get_facecolor())
    assert starts.get_zorder() > ends.get_zorder() > ax.collections[0].get_zorder()
    assert ax.get_legend_handles_labels()[1] == ["geodesic", "geodesic start", "geodesic end"]


def test_group_edges_reindexes_and_drops_missing_groups():
    Z = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [12.0, 10.0]])
    groups = np.array([5, 5, 7, 7])
    positions, edges, ids = figures.group_edges(Z, groups, [(5, 7), (7, 9)])
    assert list(ids) == [5, 7] and edges == [(0, 1)]
    np.testing.assert_allclose(positions, [[1.0, 0.0], [11.0, 10.0]])
    fig, ax = plt.subplots()
    figures.draw_edges(ax, positions, edges, node_labels=["a", "b"])
    assert len(ax.collections[0].get_segments()) == 1 and len(ax.texts) == 2
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# Pullback geometry: sphere chart, volume-element maps and curves
# --------------------------------------------------------------------------------------------
def test_sphere_lonlat_of_known_points():
    Z = np.array([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0]])
    expected = np.array([[0, 0], [np.pi / 2, 0], [0, np.pi / 2], [np.pi, 0]])
    assert np.allclose(figures.sphere_lonlat(Z), expected)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        figures.sphere_lonlat(np.zeros((4, 2)))


def test_volume_element_map_draws_log_values_on_the_grid():
    x, y = np.meshgrid(np.linspace(0, 1, 4), np.linspace(0, 1, 3), indexing="ij")
    coords, values = np.stack([x.ravel(), y.ravel()], 1), 10.0 ** np.arange(12)
    ax = figures.plot_volume_element(coords, values, (4, 3))
    (mesh,) = [c for c in ax.collections if c.get_array() is not None]
    assert np.allclose(np.sort(np.ravel(mesh.get_array())), np.arange(12))
    with pytest.raises(ValueError, match="do not match"):
        figures.plot_volume_element(coords, values, (3, 3))


def test_draw_curves_leaves_out_steps_across_the_seam():
    _, ax = plt.subplots()
    crossing = np.array([[3.0, 0], [3.1, 0], [-3.1, 0], [-3.0, 0]])
    figures.draw_curves(ax, [crossing, crossing[:2]], period=2 * np.pi)
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lines.get_segments()) == 2 + 1  # the middle step of the first curve is dropped
    _, ax = plt.subplots()
    figures.draw_curves(ax, [crossing])
    assert len(ax.collections[0].get_segments()) == 3


def _colorbar_labels(fig):
    """Labels of the colour bars of ``fig`` (axes that hold a colorbar)."""
    return [ax.get_ylabel() for ax in fig.axes if hasattr(ax, "_colorbar")]


@pytest.mark.parametrize("draw", [
    lambda ax, c: figures.plot_poincare_disk(np.zeros((5, 2)), colors=c, ax=ax, color_label="depth"),
    lambda ax, c: figures.plot_embedding(np.random.default_rng(0).normal(size=(5, 2)), colors=c, ax=ax,
                                         color_label="depth"),
    lambda ax, c: figures.plot_torus_flat(np.zeros((5, 2)), colors=c, ax=ax, color_label="depth"),
], ids=["disk", "embedding", "flat torus"])
def test_every_continuous_colouring_gets_a_labelled_colour_bar_by_default(draw):
    fig, ax = plt.subplots()
    draw(ax, np.arange(5.0))
    assert _colorbar_labels(fig) == ["depth"]
    plt.close(fig)


def test_3d_plots_label_their_colour_bars_and_categories_get_a_legend_instead():
    fig = plt.figure()
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    figures.plot_sphere(np.tile([[0.0, 0.0, 1.0]], (5, 1)), colors=np.arange(5.0), ax=ax,
                        color_label="phase")
    assert _colorbar_labels(fig) == ["phase"]
    ax2 = fig.add_subplot(1, 2, 2)
    figures.plot_embedding(np.zeros((4, 2)), labels=np.array(list("abab")), ax=ax2)
    assert ax2.get_legend() is not None and len(_colorbar_labels(fig)) == 1
    plt.close(fig)


@pytest.mark.parametrize("n", [21, 30, 45])
def test_many_categories_next_to_each_other_get_far_apart_colours(n):
    # the hmtDNA legends list H, HV, ... in order: neighbours must not share a hue and lightness
    colours = np.array(figures.category_palette(n))
    steps = np.linalg.norm(np.diff(colours, axis=0), axis=1)
    assert steps.min() > 0.3


def test_category_palette_never_repeats_a_colour():
    for n in (3, 12, 25, 40):
        colours = [tuple(np.round(c, 6)) for c in figures.category_palette(n)]
        assert len(set(colours)) == n


def test_labelled_curves_get_one_legend_entry_per_line_style():
    fig, ax = plt.subplots()
    curve = np.stack([np.linspace(0, 1, 5), np.zeros(5)], 1)
    figures.draw_curves(ax, [curve, curve + 1], label="pullback geodesic")
    figures.draw_curves(ax, [curve], linestyle="--", color="tab:blue", label="H² geodesic")
    labels = [t.get_text() for t in ax.legend().get_texts()]
    assert labels == ["pullback geodesic", "H² geodesic"]
    plt.close(fig)


def test_spread_labels_separates_colliding_labels_and_keeps_them_near_their_points():
    points = np.array([[0.0, 0.0], [0.001, 0.0], [1.0, 1.0], [0.0, 1.0]])
    moved = figures.spread_labels(points)
    distances = np.linalg.norm(moved[:, None] - moved[None], axis=-1) + np.eye(4)
    assert distances.min() >= 0.04 * 0.999
    assert np.abs(moved - points).max() < 0.05


def test_zoomed_disk_fits_the_points_and_says_so():
    fig, ax = plt.subplots()
    figures.plot_poincare_disk(np.array([[0.1, 0.1], [0.2, 0.3]]), labels=np.array(["a", "b"]),
                               radius=2.0, ax=ax, title="H²", zoom=True)
    assert ax.get_xlim()[1] < 0.5 and "zoomed" in ax.get_title()
    plt.close(fig)


def test_metric_by_setting_marks_settings_where_a_fit_diverged():
    records = [{"σ": s, "seed": seed, "train_pearson": 0.5 + s / 10 + seed / 100,
                "diverged_at": 40 if (s, seed) == (2.0, 1) else None}
               for s in (0.0, 1.0, 2.0) for seed in (0, 1)]
    fig, ax = plt.subplots()
    figures.plot_metric_by_setting(ax, records, "σ", "train_pearson", label="H²")
    legend = [t.get_text() for t in ax.legend().get_texts()]
    assert sorted(legend) == ["H²", "diverged (best state kept)"]
    assert ax.collections[-1].get_offsets().tolist() == [[2.0, pytest.approx(0.705)]]
    plt.close(fig)


def test_metric_by_setting_without_divergence_has_only_the_line():
    records = [{"σ": s, "train_pearson": s, "diverged_at": None} for s in (0.0, 1.0)]
    fig, ax = plt.subplots()
    figures.plot_metric_by_setting(ax, records, "σ", "train_pearson", label="H²")
    assert [t.get_text() for t in ax.legend().get_texts()] == ["H²"]
    plt.close(fig)


def test_frequency_histogram_marks_the_cut_in_its_legend():
    fig, ax = plt.subplots()
    figures.plot_frequency_histogram(ax, [0.0001, 0.0002, 0.01, 0.5], cut=0.0005)
    assert ax.get_legend().get_texts()[0].get_text() == "cut 0.0005: 2 kept, 2 dropped"
    plt.close(fig)


def test_accuracy_bars_mark_the_paper_and_chance_in_the_legend():
    table = pd.DataFrame({"model": ["S²", "S-VAE sphere", "ours only"],
                          "acc_mean": [0.6, 0.7, 0.9], "acc_std": [0.05, 0.02, 0.01]})
    fig, ax = plt.subplots()
    figures.plot_accuracy_bars(ax, table, "acc", "accuracy", reference={"S²": 0.58, "S-VAE sphere": 0.5},
                               chance=0.5)
    assert [t.get_text() for t in ax.get_yticklabels()] == table["model"].tolist()
    assert [b.get_width() for b in ax.patches] == pytest.approx([0.6, 0.7, 0.9])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(legend) == ["chance (0.5)", "ours, mean ± std over folds", "paper"]
    diamonds = ax.collections[-1].get_offsets()
    assert diamonds.tolist() == [[0.58, 0.0], [0.5, 1.0]]
    plt.close(fig)


def test_tree_drawing_has_a_branch_per_node_and_a_legend_per_category():
    from skbio import TreeNode

    tree = TreeNode.read(["((a:1,b:2):1,(c:1,d:1):0.5);"])
    fig, ax = plt.subplots()
    figures.plot_tree(ax, tree, {"a": "L", "b": "L", "c": "M", "d": "N"}, title="NJ")
    segments = ax.collections[0].get_segments()
    # 6 horizontal branches (every node but the root) and 3 vertical joins (internal nodes)
    assert len(segments) == 9
    tips = ax.collections[1].get_offsets()
    assert sorted(tips[:, 0].tolist()) == [1.5, 1.5, 2.0, 3.0]  # path lengths from the root
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["L", "M", "N"]
    plt.close(fig)
