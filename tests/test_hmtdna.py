"""hmtdna: haplogrep tables, PhyloTree parsing, re-expression between references, simulation."""
import gzip
import pathlib
import pickle
import statistics
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from rgdkit.data import hmtdna
from rgdkit.data import phylotree

TINY_TREE = """<?xml version="1.0" encoding="UTF-8"?>
<phylotree>
  <haplogroup name="root">
    <details accessionNr="" reference=""></details>
    <haplogroup name="A ">
      <details><poly>100A</poly><poly>200T</poly><poly>500C</poly></details>
      <haplogroup name="A1">
        <details><poly>100G!</poly><poly>300d</poly><poly>310.1C</poly><poly>500T</poly>
        </details>
        <haplogroup name="A1a">
          <details><poly>300d!</poly><poly>100A!!</poly><poly>400Y</poly><poly>500T!</poly>
            <poly>8289</poly>
          </details>
        </haplogroup>
      </haplogroup>
    </haplogroup>
    <haplogroup name="B">
      <details><poly>200C</poly><poly>600G!</poly></details>
    </haplogroup>
  </haplogroup>
</phylotree>
"""


@pytest.fixture(scope="module")
def tiny_tree(tmp_path_factory):
    path = tmp_path_factory.mktemp("tree") / "tiny.xml"
    path.write_text(TINY_TREE)
    return phylotree.load_phylotree(path)


@pytest.fixture(scope="module")
def trees(shared_data):
    folder = shared_data / "hmtdna"
    return (phylotree.load_phylotree(folder / "phylotree-rsrs-17.0.xml"),
            phylotree.load_phylotree(folder / "phylotree-fu-rcrs-1.2.xml"))


@pytest.fixture(scope="module")
def report(shared_data):
    return hmtdna.load_haplogrep_report(shared_data / "hmtdna" / "1kgp_rcrs_haplogrep.txt.gz")


def report_row(sample_id, quality, variants):
    row = dict.fromkeys(hmtdna.REPORT_COLUMNS, "")
    row.update(SampleID=sample_id, Range="1-16569", Haplogroup="H", Rank="1",
               Quality=str(quality), Input_Sample=variants)
    return row


def write_report(path, rows, columns=hmtdna.REPORT_COLUMNS):
    pd.DataFrame(rows)[columns].to_csv(path, sep="\t", index=False, quoting=1)  # quote all


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------
def test_real_report_has_the_1000_genomes_samples_with_list_variants(report):
    assert len(report) == 2504
    assert list(report.columns) == hmtdna.REPORT_COLUMNS
    assert report["SampleID"].is_unique
    assert report["Quality"].dtype == float and report["Quality"].between(0, 1).all()
    assert all(isinstance(v, list) for v in report["Input_Sample"])
    calls = [c for variants in report["Input_Sample"] for c in variants]
    # quotes stripped and strings split: every call is one definite variant
    assert all(phylotree.parse_variant(c) is not None for c in calls)
    assert report["Input_Sample"].map(len).median() > 20


def test_report_reader_accepts_gzip_and_empty_variant_lists(tmp_path):
    # an empty list is the reference's own genome (rCRS: haplogroup H2a2a1, as NC_012920 in the
    # 1000 Genomes report); for any other haplogroup it is refused (test_bad_inputs_data)
    rows = [report_row("s1", 0.95, "73G 263G 2156.1A"),
            {**report_row("s2", 0.5, ""), "Haplogroup": "H2a2a1"}]
    write_report(tmp_path / "r.txt", rows)
    with open(tmp_path / "r.txt", "rb") as src, gzip.open(tmp_path / "r.txt.gz", "wb") as dst:
        dst.write(src.read())
    for name in ("r.txt", "r.txt.gz"):
        table = hmtdna.load_haplogrep_report(tmp_path / name)
        assert table["Input_Sample"].tolist() == [["73G", "263G", "2156.1A"], []]
        assert table["Quality"].tolist() == [0.95, 0.5]


def test_report_reader_names_missing_columns(tmp_path):
    columns = [c for c in hmtdna.REPORT_COLUMNS if c not in ("Quality", "Input_Sample")]
    write_report(tmp_path / "bad.txt", [report_row("s1", 1.0, "73G")], columns)
    with pytest.raises(ValueError, match="Quality.*Input_Sample.*extend-report"):
        hmtdna.load_haplogrep_report(tmp_path / "bad.txt")


def test_report_reader_missing_file_says_what_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="haplogrep3"):
        hmtdna.load_haplogrep_report(tmp_path / "absent.txt")


def hub_frame():
    table = pd.DataFrame([report_row("s1", 0.95, ["73G", "263G"]),
                          report_row("s2", 0.8, ["16519C"])])
    return table.assign(main_geo_loc=["Africa", "Europe"], sub_geo_loc=["Sudan", "Denmark"],
                        latitude=[15.0, 56.0], longitude=[30.0, 10.0],
                        distance_to_sudan=[0.0, 4500.0])


def test_hub_table_refuses_to_unpickle_without_trust_and_runs_no_code(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "rsrs.pkl"

    class Payload:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    with gzip.open(path, "wb") as handle:
        pickle.dump(Payload(), handle)
    with pytest.raises(PermissionError, match="trusted=True"):
        hmtdna.load_hub_table(path)
    assert not marker.exists()


def test_hub_table_reads_a_trusted_gzip_pickle_named_pkl(tmp_path):
    path = tmp_path / "rcrs.pkl"  # gzip content behind a plain .pkl name, like the Hub files
    hub_frame().to_pickle(path, compression="gzip")
    table = hmtdna.load_hub_table(path, trusted=True)
    assert table["Input_Sample"].tolist() == [["73G", "263G"], ["16519C"]]
    assert table["Quality"].tolist() == [0.95, 0.8]
    assert table["distance_to_sudan"].tolist() == [0.0, 4500.0]


def test_hub_table_schema_and_missing_file_errors(tmp_path):
    hub_frame().drop(columns="distance_to_sudan").to_pickle(tmp_path / "x.pkl",
                                                            compression="gzip")
    with pytest.raises(ValueError, match="distance_to_sudan"):
        hmtdna.load_hub_table(tmp_path / "x.pkl", trusted=True)
    with pytest.raises(FileNotFoundError, match="rsrs.pkl"):
        hmtdna.load_hub_table(tmp_path / "absent.pkl", trusted=True)


def test_filter_quality_keeps_rows_at_or_above_the_threshold():
    table = pd.DataFrame({"Quality": [0.95, 0.9, 0.89, 1.0], "SampleID": list("abcd")})
    kept = hmtdna.filter_quality(table, 0.9)
    assert kept["SampleID"].tolist() == ["a", "b", "d"]
    assert kept.index.tolist() == [0, 1, 2]


# --------------------------------------------------------------------------------------------
# One-hot encoding
# --------------------------------------------------------------------------------------------
def test_one_hot_known_answer_with_frequency_threshold():
    table = pd.DataFrame({"Input_Sample": [["73G", "263G"], ["73G", "16519C"],
                                           ["16519C", "73G", "73G"], []]})
    X, variants, n_kept = hmtdna.one_hot_variants(table, min_frequency=0.0)
    assert variants == ["73G", "263G", "16519C"]  # genome order, not text order
    assert X.dtype == np.uint8
    assert X.tolist() == [[1, 1, 0], [1, 0, 1], [1, 0, 1], [0, 0, 0]]
    # 73G in 3 of 4 samples (the double call counts once), 16519C in 2 of 4, 263G in 1 of 4
    X, variants, n_kept = hmtdna.one_hot_variants(table, min_frequency=0.5)
    assert variants == ["73G", "16519C"]
    assert n_kept.tolist() == [1, 2, 2, 0]
    assert hmtdna.one_hot_variants(table, min_frequency=0.75)[1] == ["73G"]
    sparse, sparse_variants, sparse_kept = hmtdna.one_hot_variants(table, 0.5, sparse=True)
    assert (sparse.toarray() == X).all() and sparse_variants == variants
    assert sparse_kept.tolist() == n_kept.tolist()


def test_one_hot_matches_a_naive_count_on_the_real_report(report):
    X, variants, n_kept = hmtdna.one_hot_variants(report, min_frequency=0.01)
    counts = Counter(v for sample in report["Input_Sample"] for v in set(sample))
    expected = {v for v, c in counts.items() if c / len(report) >= 0.01}
    assert set(variants) == expected and len(variants) == X.shape[1]
    assert X.shape[0] == len(report)
    assert (X.sum(0) == [counts[v] for v in variants]).all()
    assert (n_kept == X.sum(1)).all()
    row = 7
    assert {variants[j] for j in np.flatnonzero(X[row])} == \
        set(report["Input_Sample"][row]) & expected


def test_sort_variants_puts_insertions_after_their_position():
    assert phylotree.sort_variants(["2157G", "2156.1A", "573.XC", "2156A", "573.2C"]) == \
        ["573.2C", "573.XC", "2156A", "2156.1A", "2157G"]


# --------------------------------------------------------------------------------------------
# PhyloTree
# --------------------------------------------------------------------------------------------
def test_tiny_tree_structure(tiny_tree):
    assert tiny_tree.root == "root"
    assert tiny_tree.level == {"root": 0, "A": 1, "A1": 2, "A1a": 3, "B": 1}  # name stripped
    assert tiny_tree.parent["A1a"] == "A1" and tiny_tree.parent["root"] is None
    assert tiny_tree.lineage("A1a") == ["root", "A", "A1", "A1a"]
    assert tiny_tree.mutations["A1"] == ["100G!", "300d", "310.1C", "500T"]
    assert tiny_tree.leaves == ["A1a", "B"]
    with pytest.raises(KeyError, match="Z9"):
        tiny_tree.profile("Z9")


def test_tiny_tree_profiles_follow_the_notation_rules(tiny_tree):
    assert tiny_tree.profile("root") == set()
    assert tiny_tree.profile("A") == {"100A", "200T", "500C"}
    # 100G! undoes 100A; 500T replaces 500C; deletion and insertion are sites of their own
    assert tiny_tree.profile("A1") == {"200T", "300d", "310.1C", "500T"}
    # 300d! undoes the deletion; 100A!! undoes the reversion; 500T! restores 500C (the state
    # before the latest change), not the root; 400Y and a bare 8289 name no allele
    assert tiny_tree.profile("A1a") == {"100A", "200T", "310.1C", "500C"}
    # a back-mutation with nothing to undo on its path applies its allele
    assert tiny_tree.profile("B") == {"200C", "600G"}


def test_real_trees_levels_and_known_haplogroups(trees):
    for tree, root in zip(trees, ("mtMRCA", "H2a2a1")):
        assert tree.root == root and tree.level[root] == 0
        assert {"L0", "L1", "L2", "L3", "M", "N", "R", "HV", "H", "H2a2a1", "U", "K"} <= set(
            tree.parent)
        assert all(tree.level[n] == tree.level[p] + 1 for n, p in tree.parent.items()
                   if p is not None)
        assert sum(p is None for p in tree.parent.values()) == 1
    rsrs, rcrs = trees
    lineage = rsrs.lineage("H2a2a1")
    assert [g for g in lineage if g in ("L3", "N", "R", "HV", "H")] == ["L3", "N", "R", "HV", "H"]
    # the rCRS tree is re-rooted: the way to L0 climbs through H, R, N, L3
    assert {"H", "R", "N", "L3"} <= set(rcrs.lineage("L0"))


def test_real_back_mutation_and_known_rcrs_markers(trees):
    rsrs, rcrs = trees
    assert "263A" in rsrs.profile("L0")
    assert not any(v.startswith("263") for v in rsrs.profile("L0a'b'f'g"))  # 263G! undoes it
    rcrs_vs_rsrs = rsrs.profile("H2a2a1")
    # textbook markers of H2a2a1 (= rCRS) against the RSRS
    assert {"73A", "263A", "750A", "1438A", "2706A", "4769A", "7028C", "8860A", "11719G",
            "14766C", "15326A"} <= rcrs_vs_rsrs
    assert rcrs.profile("H2a2a1") == set()
    # both trees agree on where the two references differ, with different alleles there
    rsrs_vs_rcrs = rcrs.allele_states("mt-MRCA")
    assert set(rsrs_vs_rcrs) == set(rsrs.allele_states("H2a2a1"))
    assert all(rsrs_vs_rcrs[s] != a for s, a in rsrs.allele_states("H2a2a1").items())


# --------------------------------------------------------------------------------------------
# Re-expression
# --------------------------------------------------------------------------------------------
def test_reexpress_known_answer_with_a_triallelic_site():
    shift = phylotree.ReferenceShift(rsrs_alleles={"100": "A", "200": "G"},
                                  rcrs_alleles={"100": "G", "200": "T"})
    # 100A is the RSRS allele; the sample carries rCRS's 200T; 300C is away from the difference
    assert shift.convert(["100A", "300C"], "rcrs", "rsrs") == ["200T", "300C"]
    assert shift.convert(["100C", "16311Y"], "rcrs", "rsrs") == ["100C", "200T", "16311Y"]
    assert shift.convert([], "rsrs", "rcrs") == ["100A", "200G"]
    assert shift.convert(["200T"], "rsrs", "rcrs") == ["100A"]  # carries rCRS 200T
    with pytest.raises(ValueError, match="reference"):
        shift.convert([], "rcrs", "hg19")


def test_reexpress_reference_profiles_vanish(trees):
    rsrs, rcrs = trees
    kw = dict(rsrs_tree=rsrs, rcrs_tree=rcrs)
    assert phylotree.reexpress(rsrs.profile("H2a2a1"), "rsrs", "rcrs", **kw) == []
    assert phylotree.reexpress(rcrs.profile("mt-MRCA"), "rcrs", "rsrs", **kw) == []
    assert set(phylotree.reexpress([], "rcrs", "rsrs", **kw)) == rsrs.profile("H2a2a1")
    with pytest.raises(ValueError, match="rooted"):
        phylotree.reexpress([], rsrs_tree=rcrs, rcrs_tree=rsrs)


def test_reexpressed_tree_profiles_match_the_other_tree(trees):
    """RSRS-tree profiles moved to rCRS agree with the rCRS tree's own profiles.

    The two trees are different builds (17.0 and FU 1.2), so a few haplogroups differ in their
    recorded mutations; agreement is high but not total.
    """
    rsrs, rcrs = trees
    shift = phylotree.ReferenceShift.from_trees(rsrs, rcrs)
    shared = [name for name in rsrs.parent if name in rcrs]
    agree = sum(set(shift.convert(rsrs.profile(n), "rsrs", "rcrs")) == rcrs.profile(n)
                for n in shared)
    assert len(shared) > 5000 and agree / len(shared) > 0.975  # 98.3% measured


def test_reexpress_round_trip_on_1000_genomes(report, trees):
    rsrs, rcrs = trees
    to_rsrs = phylotree.reexpress_table(report, "rcrs", "rsrs", rsrs_tree=rsrs, rcrs_tree=rcrs)
    back = phylotree.reexpress_table(to_rsrs, "rsrs", "rcrs", rsrs_tree=rsrs, rcrs_tree=rcrs)
    assert to_rsrs.attrs["reference"] == "rsrs"
    assert [sorted(v) for v in back["Input_Sample"]] == [sorted(v) for v in report["Input_Sample"]]
    # in RSRS terms each sample sits near its haplogroup's profile and far from the root
    near = [len(set(v) ^ rsrs.profile(h)) for v, h in
            zip(to_rsrs["Input_Sample"], to_rsrs["Haplogroup"]) if h in rsrs]
    assert len(near) > 2000
    assert statistics.median(near) < 15 < statistics.median(to_rsrs["Input_Sample"].map(len))


# --------------------------------------------------------------------------------------------
# Labels and lineage edges
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("haplogroup, group, region", [
    ("L0a1a", "L0", "Africa"), ("L3e2b", "L3", "Africa"), ("L3'4", "L", "Africa"),
    ("L1'2'3'4'5'6", "L", "Africa"), ("mtMRCA", "L", "Africa"), ("M7b1a", "M", "Asia"),
    ("H2a2a1", "H", "Europe"), ("HV0a", "HV", "Europe"), ("R0a", "R", "Asia"),
    ("A2w", "A", "Americas"), ("A22", "A", "Asia"), ("C1b13", "C", "Americas"),
    ("C1a", "C", "Asia"), ("X2a1", "X", "Americas"), ("X2b", "X", "Europe"),
    ("P1", "P", "Oceania"), ("", "?", "?"),
])
def test_group_and_region_labels(haplogroup, group, region):
    assert hmtdna.first_letter_group(haplogroup) == group
    assert hmtdna.region_of(haplogroup) == region


def test_regions_of_the_1000_genomes_haplogroups(report):
    regions = report["Haplogroup"].map(hmtdna.region_of)
    assert set(regions) == {"Africa", "Asia", "Europe", "Americas"}  # no Oceanian panel


def test_group_lineage_edges_follow_the_tree(trees):
    rsrs, rcrs = trees
    groups = ["L0", "L1", "L2", "L3", "M", "N", "R", "HV", "H", "U", "K", "D"]
    edges = hmtdna.group_lineage_edges(rsrs, groups)
    assert {("L3", "M"), ("L3", "N"), ("N", "R"), ("R", "HV"), ("HV", "H"), ("R", "U"),
            ("U", "K"), ("M", "D")} == set(edges)
    for parent, child in edges:
        assert parent in rsrs.lineage(child)
    with_root = hmtdna.group_lineage_edges(rsrs, groups + ["L"])
    assert {("L", g) for g in ("L0", "L1", "L2", "L3")} <= set(with_root)
    assert ("R", "H") in hmtdna.group_lineage_edges(rsrs, ["R", "H"])  # skips absent HV
    with pytest.raises(ValueError, match="RSRS"):
        hmtdna.group_lineage_edges(rcrs, groups)


# --------------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------------
def test_simulated_table_schema_marking_and_determinism(tiny_tree):
    table = hmtdna.simulate_haplogroup_table(tiny_tree, 50, seed=3)
    assert list(table.columns[:10]) == hmtdna.REPORT_COLUMNS and "Source" in table
    assert table.attrs["simulated"] is True
    assert table["Source"].str.contains("simulated").all()
    assert table.equals(hmtdna.simulate_haplogroup_table(tiny_tree, 50, seed=3))
    assert not table.equals(hmtdna.simulate_haplogroup_table(tiny_tree, 50, seed=4))
    assert set(table["Haplogroup"]) == set(tiny_tree.leaves)


def test_simulated_samples_carry_their_root_path_mutations(trees):
    rsrs, _ = trees
    exact = hmtdna.simulate_haplogroup_table(rsrs, 30, seed=0, private_rate=0, missing_rate=0)
    assert exact.attrs["reference"] == "rsrs"
    for variants, haplogroup in zip(exact["Input_Sample"], exact["Haplogroup"]):
        assert set(variants) == rsrs.profile(haplogroup)
    noisy = hmtdna.simulate_haplogroup_table(rsrs, 200, seed=0, private_rate=3,
                                             missing_rate=0.1)
    n_private = 0
    for _, row in noisy.iterrows():
        profile = rsrs.profile(row["Haplogroup"])
        found, lost = set(row["Found_Polys"].split()), set(row["Not_Found_Polys"].split())
        private = set(row["Remaining_Polys"].split())
        assert found | lost == profile and not found & lost
        assert set(row["Input_Sample"]) == found | private
        assert not {v[:-1] for v in private} & set(rsrs.allele_states(row["Haplogroup"]))
        assert row["Quality"] == pytest.approx(len(found) / len(profile), abs=1e-4)
        n_private += len(private)
    assert 2.5 < n_private / len(noisy) < 3.5
    assert (noisy["Quality"] < 1).mean() > 0.5
