"""The hmtDNA figures: fixed label colours, depth from the mt-MRCA on both references, variants
per genome against both references, the classification floor, and the figure functions."""
import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from rgdkit.data import geography, hmtdna  # noqa: E402
from rgdkit.metrics import classification as C  # noqa: E402
from rgdkit.metrics import trees as tree_metrics  # noqa: E402
from rgdkit.plotting import colours  # noqa: E402
from rgdkit.plotting import hmtdna as hmtdna_figures  # noqa: E402

REVIEWED_PAIRS = [("U", "L6"), ("M", "V"), ("M", "J"), ("V", "J"), ("L0", "O"), ("L0", "D"),
                  ("O", "D")]  # the pairs a reviewer could not tell apart in the old palette
CLEARLY_DIFFERENT = 15.0  # CIE76 ΔE; 2 is just noticeable


@pytest.fixture(scope="module")
def trees():
    return hmtdna.load_phylotrees()


def hexes(rgba):
    return [to_hex(c) for c in rgba]


# --------------------------------------------------------------------------------------------
# Fixed colours
# --------------------------------------------------------------------------------------------
def test_a_label_keeps_its_colour_whichever_labels_are_present():
    alone = hexes(colours.label_colours(["H"], "haplogroup"))
    among_few = hexes(colours.label_colours(["L0", "H", "M"], "haplogroup"))
    among_all = hexes(colours.label_colours(list(colours.HAPLOGROUP_COLOURS), "haplogroup"))
    h_everywhere = {alone[0], among_few[1], among_all[list(colours.HAPLOGROUP_COLOURS).index("H")]}
    assert h_everywhere == {to_hex(colours.HAPLOGROUP_COLOURS["H"])}
    assert colours.colour_of("Asia", "region") == colours.colour_of("Asia", "continent")


def test_every_group_first_letter_group_returns_has_its_own_colour(trees):
    returned = {hmtdna.first_letter_group(name) for name in trees["rsrs"].parent} - {"?"}
    assert returned <= set(colours.HAPLOGROUP_COLOURS)
    for family in ("haplogroup", "region", "continent"):
        labels = {"haplogroup": returned, "region": {"Africa", "Asia", "Europe", "Americas",
                                                     "Oceania"},
                  "continent": set(geography.CONTINENTS)}[family]
        colour_set = {colours.colour_of(label, family) for label in labels}
        assert len(colour_set) == len(labels) and colours.OTHER_COLOUR not in colour_set


def test_neighbouring_lineages_and_the_reviewed_pairs_differ_clearly(trees):
    palette = colours.HAPLOGROUP_COLOURS
    edges = hmtdna.group_lineage_edges(trees["rsrs"], list(palette))
    parent = {child: up for up, child in edges}
    sisters = [(a, b) for a, b in itertools.combinations(palette, 2)
               if parent.get(a) is not None and parent.get(a) == parent.get(b)]
    assert len(edges) > 25 and len(sisters) > 40
    for a, b in [*edges, *sisters, *itertools.combinations(palette, 2)]:
        assert colours.colour_difference(palette[a], palette[b]) >= CLEARLY_DIFFERENT, (a, b)
    for a, b in REVIEWED_PAIRS:
        assert colours.colour_difference(palette[a], palette[b]) >= 40, (a, b)


def test_unknown_labels_are_a_neutral_grey_named_other():
    assert colours.colour_of("?", "haplogroup") == colours.OTHER_COLOUR
    assert colours.colour_of("unknown", "continent") == colours.OTHER_COLOUR
    for colour in colours.HAPLOGROUP_COLOURS.values():
        assert colours.colour_difference(colour, colours.OTHER_COLOUR) >= 20
    handles = colours.legend_handles(["?", "H", "L0", "nonsense", "H"], "haplogroup")
    assert [h.get_label() for h in handles] == ["L0", "H", colours.OTHER]  # family order
    assert to_hex(handles[-1].get_color()) == to_hex(colours.OTHER_COLOUR)


def test_unknown_family_and_colour_difference_scale():
    with pytest.raises(ValueError, match="unknown label family"):
        colours.palette("haplogroups")
    assert colours.colour_difference("white", "black") == pytest.approx(100, abs=0.1)
    assert colours.colour_difference("#d62728", "#d62728") == 0


# --------------------------------------------------------------------------------------------
# Depth from the mt-MRCA
# --------------------------------------------------------------------------------------------
def test_depth_counts_from_the_mt_mrca_whichever_tree_knows_the_name(trees):
    names = ["L0", "H2a2a1", "H1+16189", "M7b", "not a haplogroup"]
    depths = tree_metrics.mrca_depths(names, trees)
    rsrs = trees["rsrs"].level
    assert depths[:4].tolist() == [rsrs["L0"], rsrs["H2a2a1"], rsrs["H1"], rsrs["M7b"]]
    assert np.isnan(depths[4])
    assert depths[1] > depths[0]  # H2a2a1 lies far below L0, not at the root as in the rCRS tree
    with pytest.raises(ValueError, match="both PhyloTrees"):
        tree_metrics.mrca_depths(["H"], {"rsrs": trees["rsrs"]})


def test_rcrs_tree_distance_to_the_mt_mrca_equals_the_rsrs_level(trees):
    only_rcrs = {"rsrs": trees["rsrs"].__class__("none", {"none": None}, {"none": []},
                                                 {"none": 0}, {"none": []}),
                 "rcrs": trees["rcrs"]}
    names = ["L0", "L3", "M", "H2a2a1", "U5a1"]
    assert tree_metrics.mrca_depths(names, only_rcrs).tolist() == \
        [float(trees["rsrs"].level[n]) for n in names]


def test_median_by_depth_band_orders_bands_and_counts_rows():
    depths = np.array([1, 1, 2, 2, 8, 8, 9, 9, np.nan])
    values = np.array([0.1, 0.3, 0.2, 0.2, 1.0, 1.2, 1.1, 1.1, 5.0])
    table = tree_metrics.median_by_depth_band(values, depths, n_bands=2)
    assert table["depth"].tolist() == ["1-2", "8-9"]
    assert table["genomes"].tolist() == [4, 4]
    assert table["median"].tolist() == pytest.approx([0.2, 1.1])
    with pytest.raises(ValueError, match="must match"):
        tree_metrics.median_by_depth_band(values[:3], depths)


# --------------------------------------------------------------------------------------------
# Variants per genome, classification floor
# --------------------------------------------------------------------------------------------
def test_variants_per_genome_against_both_references(trees):
    h2a2a1 = sorted(trees["rsrs"].profile("H2a2a1"))  # the rCRS, written against the RSRS
    table = pd.DataFrame({"Input_Sample": [h2a2a1, h2a2a1 + ["16519C"]]})
    counts = hmtdna.variants_per_genome(table, "rsrs", trees)
    assert counts["RSRS"].tolist() == [len(h2a2a1), len(h2a2a1) + 1]
    assert counts["rCRS"].tolist() == [0, 1]  # the rCRS itself has no variant against itself


def test_majority_accuracy_and_published_rows():
    assert C.majority_accuracy(["a", "a", "b", "a"]) == 0.75
    with pytest.raises(ValueError, match="missing"):
        C.majority_accuracy(["a", None])
    table = pd.DataFrame({"model": ["H² σ=0.5", "H² σ=0.5", "UMAP"],
                          "target": ["first_letter"] * 3,
                          "classifier": ["logistic", "xgboost", "xgboost"]})
    marked = C.mark_published(table, {"first_letter": {"H² σ=0.5": 0.85}})
    assert marked["in_paper"].tolist() == [False, True, False]


def test_classification_table_reports_the_majority_floor():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    y = np.array(["a"] * 70 + ["b"] * 30, dtype=object)
    y[:10] = None  # left out of this target
    table = C.classification_table({"m": (X, "euclidean")}, {"t": y}, classifiers=("logistic",),
                                   verbose=False)
    assert table["majority_accuracy"].tolist() == [60 / 90]
    assert table["n_genomes"].tolist() == [90]


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------
def test_variants_per_genome_histogram_overlays_both_references():
    fig, ax = plt.subplots()
    hmtdna_figures.plot_variants_per_genome(ax, {"RSRS": np.array([40, 41, 41, 60]),
                                                 "rCRS": np.array([2, 5, 30, 31])})
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["against the RSRS (median 41)", "against the rCRS (median 18)"]
    with pytest.raises(ValueError, match="non-empty"):
        hmtdna_figures.plot_variants_per_genome(ax, {"RSRS": np.array([])})
    plt.close(fig)


def test_classification_panel_draws_both_classifiers_floor_and_paper():
    table = pd.DataFrame({"model": ["H² σ=0.5", "H² σ=0.5", "R²", "R²"],
                          "target": ["first_letter"] * 4,
                          "classifier": ["logistic", "xgboost"] * 2,
                          "accuracy_mean": [0.6, 0.9, 0.5, 0.95], "accuracy_std": [0.01] * 4,
                          "majority_accuracy": [0.2] * 4})
    fig, ax = plt.subplots()
    hmtdna_figures.plot_classification(ax, table, {"H² σ=0.5": 0.85})
    widths = sorted(round(p.get_width(), 2) for p in ax.patches)
    assert widths == [0.5, 0.6, 0.9, 0.95]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "majority class (0.20)" in labels and "extended paper, XGBoost" in labels
    with pytest.raises(ValueError, match="one target"):
        hmtdna_figures.plot_classification(ax, table.assign(target=["a", "b"] * 2))
    plt.close(fig)


def test_sigma_sweep_marks_the_diverged_fit_and_draws_a_disk_per_sigma():
    sweep = pd.DataFrame({"σ": [0.1, 2.6], "train_f1": [0.9, 0.5], "train_spearman": [0.3, 0.1],
                          "diverged_at": [None, 547]})
    points = np.random.default_rng(0).uniform(-1, 1, (20, 2))
    labels = ["H"] * 10 + ["L0"] * 10
    fig = hmtdna_figures.plot_sigma_sweep(sweep, {0.1: points, 2.6: points}, labels, radius=2.0)
    titles = [ax.get_title() for ax in fig.get_axes()]
    assert "σ = 2.6\n(diverged at epoch 547; best state)" in titles and "σ = 0.1" in titles
    legends = [t.get_text() for ax in fig.get_axes() if ax.get_legend()
               for t in ax.get_legend().get_texts()]
    assert "diverged (best state kept)" in legends
    plt.close(fig)


def test_tree_tips_take_the_fixed_colours_given():
    from rgdkit.plotting import figures

    D = np.array([[0, 2, 6, 6], [2, 0, 6, 6], [6, 6, 0, 2], [6, 6, 2, 0]], dtype=float)
    tree = tree_metrics.neighbour_joining(D, ["a", "b", "c", "d"])
    labels = {"a": "H", "b": "H", "c": "L0", "d": "?"}
    tip_colors = dict(zip(labels, colours.label_colours(list(labels.values()), "haplogroup")))
    fig, ax = plt.subplots()
    figures.plot_tree(ax, tree, labels, tip_colors=tip_colors)
    drawn = {to_hex(c) for c in ax.collections[-1].get_facecolors()}
    assert drawn == {to_hex(colours.HAPLOGROUP_COLOURS["H"]),
                     to_hex(colours.HAPLOGROUP_COLOURS["L0"]), to_hex(colours.OTHER_COLOUR)}
    assert ax.get_legend() is None
    plt.close(fig)
