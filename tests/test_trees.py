"""Neighbour-joining trees from distances: exact recovery from a tree metric, path distances,
clades, the table, the layout, PhyloTree distances between haplogroups."""
import numpy as np
import pytest
from skbio import TreeNode

from rgdkit.data import hmtdna
from rgdkit.data.phylotree import load_phylotree
from rgdkit.metrics import hamming_distances
from rgdkit.metrics import trees as T


def coalescent(n=24, seed=0, n_groups=4):
    """A random ultrametric tree on n tips: its distances (2 x height of the lowest common
    ancestor, computed while merging), the tree, and clade labels (the n_groups clusters just
    before the last n_groups - 1 merges)."""
    rng = np.random.default_rng(seed)
    names = [f"t{i}" for i in range(n)]
    D = np.zeros((n, n))
    clusters = [([i], TreeNode(name=names[i]), 0.0) for i in range(n)]
    height, labels = 0.0, None
    while len(clusters) > 1:
        if len(clusters) == n_groups:
            labels = [None] * n
            for g, (members, _, _) in enumerate(clusters):
                for i in members:
                    labels[i] = f"g{g}"
        height += rng.exponential(1.0 / len(clusters)) + 0.05  # no zero-length branches
        a, b = sorted(rng.choice(len(clusters), 2, replace=False))
        (ma, na, ha), (mb, nb, hb) = clusters[a], clusters[b]
        D[np.ix_(ma, mb)] = D[np.ix_(mb, ma)] = 2 * height
        na.length, nb.length = height - ha, height - hb
        merged = (ma + mb, TreeNode(children=[na, nb]), height)
        clusters = [c for k, c in enumerate(clusters) if k not in (a, b)] + [merged]
    return D, names, clusters[0][1], labels


def splits(tree, names):
    """The non-trivial bipartitions of an (unrooted) tree, each as the side without names[0]."""
    everything = frozenset(names)
    out = set()
    for node in tree.postorder():
        side = frozenset(tip.name for tip in node.tips()) if not node.is_tip() else {node.name}
        side = frozenset(side)
        if names[0] in side:
            side = everything - side
        if 2 <= len(side) <= len(names) - 2:
            out.add(side)
    return out


# --------------------------------------------------------------------------------------------
# Exact recovery from a tree metric
# --------------------------------------------------------------------------------------------
def test_nj_recovers_a_tree_metric_exactly():
    D, names, truth, labels = coalescent()
    tree = T.neighbour_joining(D, names)
    assert tree.negative_branches == 0 and tree.negative_length == 0.0
    assert splits(tree, names) == splits(truth, names)  # same unrooted topology
    np.testing.assert_allclose(T.tree_path_distances(tree, names), D, atol=1e-9)
    scores = T.compare_with_reference(tree, names, D, labels)
    assert scores["pearson"] == pytest.approx(1.0) and scores["spearman"] == pytest.approx(1.0)
    assert scores["clades_recovered"] == 1.0  # an ultrametric tree's midpoint is its root


def test_noise_lowers_the_scores():
    D, names, _, labels = coalescent(n=40, seed=1)
    z = np.triu(np.random.default_rng(2).normal(size=D.shape), 1)
    levels = [0.0, 0.05, 0.2, 0.6]  # multiplicative log-normal noise, same draw scaled
    table = T.nj_table({f"noise {s}": D * np.exp(s * (z + z.T)) for s in levels}, names, D,
                       labels)
    assert list(table.columns) == T.NJ_COLUMNS and (table["n_genomes"] == 40).all()
    assert table["distances"].tolist() == [f"noise {s}" for s in levels]
    exact = table.iloc[0]
    assert exact["pearson"] == pytest.approx(1.0) and exact["clades_recovered"] == 1.0
    for score in ("pearson", "spearman"):
        assert (np.diff(table[score]) < 0).all()  # measured 1, 0.996, 0.94, 0.45 (pearson)
    assert (np.diff(table["clades_recovered"]) <= 0).all()
    assert table["clades_recovered"].iloc[-1] < 1.0  # measured 1, 1, 0.67, 0.33
    noisy = D * np.exp(0.6 * (z + z.T))
    assert T.neighbour_joining(noisy, names).negative_branches > 0  # not additive: clamped


def test_names_order_is_respected():
    D, names, _, labels = coalescent(n=12, seed=3)
    order = np.random.default_rng(4).permutation(len(names))
    shuffled_names = [names[i] for i in order]
    tree = T.neighbour_joining(D[np.ix_(order, order)], shuffled_names)
    np.testing.assert_allclose(T.tree_path_distances(tree, names), D, atol=1e-9)
    np.testing.assert_allclose(T.tree_path_distances(tree, shuffled_names[::-1]),
                               D[np.ix_(order[::-1], order[::-1])], atol=1e-9)
    assert T.compare_with_reference(tree, names, D, labels)["clades_recovered"] == 1.0


def test_outgroup_rooting_when_the_midpoint_is_wrong():
    D, names, _, labels = coalescent(n=16, seed=5, n_groups=2)
    # lengthen the terminal branches of group g0 by 10: still a tree metric, but its two
    # farthest tips are now both in g0, so the midpoint root falls inside that group
    in_g0 = np.array([label == "g0" for label in labels])
    assert 2 <= in_g0.sum() <= len(names) - 2
    longer = D + 10.0 * (in_g0[:, None].astype(float) + in_g0[None, :])
    np.fill_diagonal(longer, 0.0)
    tree = T.neighbour_joining(longer, names)
    np.testing.assert_allclose(T.tree_path_distances(tree, names), longer, atol=1e-9)
    # finer labels: clades of the true tree below the root
    fine = coalescent(n=16, seed=5, n_groups=4)[3]
    assert T.clades_recovered(tree, names, fine) < 1.0
    outgroup = [n for n, g in zip(names, in_g0) if not g]
    assert T.clades_recovered(tree, names, fine, outgroup=outgroup) == 1.0


def test_clade_labels_skip_singletons_missing_and_everything():
    D, names, _, _ = coalescent(n=6, seed=6)
    tree = T.neighbour_joining(D, names)
    assert np.isnan(T.clades_recovered(tree, names, ["a", "b", "c", None, float("nan"), "d"]))
    assert np.isnan(T.clades_recovered(tree, names, ["all"] * 6))
    with pytest.raises(ValueError, match="5 clade labels for 6 names"):
        T.clades_recovered(tree, names, ["a"] * 5)


# --------------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------------
def test_bad_distance_matrices_and_names_raise():
    D, names, _, _ = coalescent(n=6, seed=7)
    asymmetric = D.copy()
    asymmetric[0, 1] += 0.5
    with pytest.raises(ValueError, match="not symmetric"):
        T.neighbour_joining(asymmetric, names)
    with_nan = D.copy()
    with_nan[0, 1] = with_nan[1, 0] = np.nan
    with pytest.raises(ValueError, match="2 NaN or inf"):
        T.neighbour_joining(with_nan, names)
    negative = D.copy()
    negative[0, 1] = negative[1, 0] = -1.0
    with pytest.raises(ValueError, match="2 negative entries"):
        T.neighbour_joining(negative, names)
    with pytest.raises(ValueError, match=r"1 are repeated \(first: \['t0'\]\)"):
        T.neighbour_joining(D, names[:5] + ["t0"])
    with pytest.raises(ValueError, match="must be 5 x 5"):
        T.neighbour_joining(D, names[:5])
    with pytest.raises(ValueError, match="non-zero diagonal"):
        T.neighbour_joining(D + np.eye(6), names)
    with pytest.raises(ValueError, match="at least 3 taxa"):
        T.neighbour_joining(D[:2, :2], names[:2])
    tree = T.neighbour_joining(D, names)
    with pytest.raises(KeyError, match=r"1 names are not tips.*'x'"):
        T.tree_path_distances(tree, names[:5] + ["x"])


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------
def test_layout_is_consistent():
    D, names, _, _ = coalescent(n=15, seed=8)
    tree = T.rooted(T.neighbour_joining(D, names))
    tips, x, y = T.tree_layout(tree)
    assert sorted(tips) == sorted(names)
    nodes = list(tree.traverse(include_self=True))
    assert set(x) == set(y) == set(nodes)
    assert sorted(y[tip] for tip in tree.tips()) == list(range(len(names)))
    for node in nodes:
        if node.parent is not None:
            assert x[node.parent] < x[node]  # every branch has positive length here
        if node.children:
            ys = [y[child] for child in node.children]
            assert min(ys) <= y[node] <= max(ys)
    assert min(x.values()) == x[tree] == 0.0


# --------------------------------------------------------------------------------------------
# PhyloTree distances between haplogroups
# --------------------------------------------------------------------------------------------
def test_phylotree_distances_on_a_small_tree(tmp_path):
    (tmp_path / "t.xml").write_text("""<phylotree><haplogroup name="root">
      <haplogroup name="A"><haplogroup name="A1"><haplogroup name="A1a"/></haplogroup>
      <haplogroup name="A2"/></haplogroup><haplogroup name="B"/></haplogroup></phylotree>""")
    tree = load_phylotree(tmp_path / "t.xml")
    D = T.phylotree_distances(tree, ["A1a", "B", "A1+16189", "A2", "A1a"])
    np.testing.assert_array_equal(D, [[0, 4, 1, 3, 0], [4, 0, 3, 3, 4], [1, 3, 0, 2, 1],
                                      [3, 3, 2, 0, 3], [0, 4, 1, 3, 0]])
    with pytest.raises(KeyError, match="1 haplogroups are not in the tree"):
        T.phylotree_distances(tree, ["A1", "Q7"])


def test_nj_of_1000_genomes_hamming_distances_matches_phylotree(shared_data):
    """Real data: NJ on Hamming distances of 150 genomes against PhyloTree edge counts."""
    folder = shared_data / "hmtdna"
    rsrs = load_phylotree(folder / "phylotree-rsrs-17.0.xml")
    table = hmtdna.load_variant_table(folder / "1kgp_rcrs_haplogrep.txt.gz")
    table = table[[T.resolve_haplogroup(h, rsrs) is not None for h in table["Haplogroup"]]]
    table = hmtdna.sample_genomes(table.reset_index(drop=True), 150, seed=0)
    X, _, _ = hmtdna.one_hot_variants(table, min_frequency=0.0)
    names = list(table["SampleID"])
    reference = T.phylotree_distances(rsrs, table["Haplogroup"])
    groups = [hmtdna.first_letter_group(h) for h in table["Haplogroup"]]
    result = T.nj_table({"hamming": hamming_distances(X)}, names, reference, groups).iloc[0]
    print(f"1000 Genomes, 150 genomes, NJ on Hamming vs PhyloTree edge counts: pearson "
          f"{result['pearson']:.3f}, spearman {result['spearman']:.3f}, first-letter clades "
          f"recovered {result['clades_recovered']:.2f}")
    assert result["pearson"] > 0.6 and result["spearman"] > 0.6
    assert result["clades_recovered"] > 0.3
