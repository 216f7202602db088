"""The GenBank hmtDNA table as a source: the generic variant-table reader, re-expression counts,
seeded sampling of genomes, the notebooks' CPU data (genbank_sample), and country -> continent
labels."""
import gzip

import numpy as np
import pandas as pd
import pytest

from rgdkit.data import geography, hmtdna
from rgdkit.data.phylotree import load_phylotree

GENBANK = "hmtdna/genbank_rcrs_shared.tsv.gz"


@pytest.fixture(scope="module")
def genbank(shared_data):
    return hmtdna.load_variant_table(shared_data / GENBANK)


@pytest.fixture(scope="module")
def trees(shared_data):
    folder = shared_data / "hmtdna"
    return {"rsrs": load_phylotree(folder / "phylotree-rsrs-17.0.xml"),
            "rcrs": load_phylotree(folder / "phylotree-fu-rcrs-1.2.xml")}


def genbank_frame():
    return pd.DataFrame({"SampleID": ["AB1.1", "AB2.1", "AB3.1"],
                         "Haplogroup": ["H3u1", "S2", "L2a1"],
                         "Quality": ["0.95", "0.80", "1.0"],
                         "Country": ["Finland", "", "Nigeria"],
                         "Region": ["", "", ""],
                         "Input_Sample": ["263G 310C 750G", "", "73G 2156.1A 16311Y"]})


def write_gzip_tsv(table, path):
    with gzip.open(path, "wt") as handle:
        table.to_csv(handle, sep="\t", index=False)
    return path


# --------------------------------------------------------------------------------------------
# Reading either layout
# --------------------------------------------------------------------------------------------
def test_generic_reader_reads_the_genbank_layout_without_report_columns(tmp_path):
    # invalid="keep": the empty list of S2 and the ambiguous 16311Y as written (by default
    # both are refused at the door: test_bad_inputs_data)
    table = hmtdna.load_variant_table(write_gzip_tsv(genbank_frame(), tmp_path / "g.tsv.gz"),
                                      invalid="keep")
    assert set(table.columns) == set(hmtdna.GENBANK_COLUMNS)
    assert table["Input_Sample"].tolist() == [["263G", "310C", "750G"], [],
                                              ["73G", "2156.1A", "16311Y"]]
    assert table["Quality"].tolist() == [0.95, 0.8, 1.0]
    assert table["Country"].tolist() == ["Finland", "", "Nigeria"]  # missing stays ""
    assert "Rank" not in table


def test_generic_reader_reads_a_haplogrep_report_too(shared_data):
    table = hmtdna.load_variant_table(shared_data / "hmtdna" / "1kgp_rcrs_haplogrep.txt.gz")
    assert list(table.columns) == hmtdna.REPORT_COLUMNS and table["Rank"].dtype.kind == "i"


def test_a_table_of_neither_layout_names_the_required_columns(tmp_path):
    path = write_gzip_tsv(genbank_frame().drop(columns=["Haplogroup"]), tmp_path / "bad.tsv.gz")
    with pytest.raises(ValueError, match=r"\['Haplogroup'\].*SampleID, Haplogroup, Quality, "
                                         r"Input_Sample"):
        hmtdna.load_variant_table(path)
    # the report reader still insists on the report's own columns
    with pytest.raises(ValueError, match="Range.*extend-report"):
        hmtdna.load_haplogrep_report(write_gzip_tsv(genbank_frame(), tmp_path / "g.tsv.gz"))


def test_non_numeric_quality_is_named(tmp_path):
    path = write_gzip_tsv(genbank_frame().assign(Quality=["0.9", "high", "1"]), tmp_path / "q.gz")
    with pytest.raises(ValueError, match=r"q.gz, column Quality: must hold numbers, found "
                                         r"'high' \(1 rows: \[1\] \(SampleID AB2.1\)"):
        hmtdna.load_variant_table(path)


def test_real_genbank_table_counts(genbank):
    assert len(genbank) == 18567 and genbank["SampleID"].is_unique
    assert (genbank["Quality"] >= 0.9).sum() == 16440
    assert (genbank["Country"] != "").sum() == 3565 and (genbank["Region"] != "").sum() == 561
    assert genbank["Input_Sample"].map(len).median() > 20


# --------------------------------------------------------------------------------------------
# Re-expression to RSRS, with what could not be carried over
# --------------------------------------------------------------------------------------------
def test_reexpression_failures_known_answer():
    lists = [["73G", "16311Y", "263G"], ["16311Y", "8289"], ["150T", "150C"], []]
    assert hmtdna.reexpression_failures(lists) == {
        "calls": 4, "variants": 3, "examples": ["16311Y", "8289", "150C"]}


def test_loader_reports_what_could_not_be_reexpressed(tmp_path, trees, capsys):
    path = write_gzip_tsv(genbank_frame(), tmp_path / "g.tsv.gz")
    table, description = hmtdna.load_hmtdna_table("rsrs", trees, path, "rcrs", invalid="keep")
    assert table.attrs["not_reexpressed"] == {"calls": 1, "variants": 1, "examples": ["16311Y"]}
    assert "1 variant calls (1 distinct variants), e.g. 16311Y, could not be" in description
    assert "could not be re-expressed" in capsys.readouterr().out
    assert "Country" in table and len(table) == 3


def test_real_genbank_genomes_all_reexpress_to_rsrs(shared_data, trees, tmp_path):
    # a slice: re-expressing all 18,567 genomes takes ~20 s on a busy CPU
    head = pd.read_csv(shared_data / GENBANK, sep="\t", dtype=str, keep_default_na=False,
                       nrows=400)
    path = write_gzip_tsv(head, tmp_path / "head.tsv.gz")
    as_rcrs, _ = hmtdna.load_hmtdna_table("rcrs", trees, path)
    as_rsrs, description = hmtdna.load_hmtdna_table("rsrs", trees, path, "rcrs")
    assert as_rsrs.attrs["not_reexpressed"]["calls"] == 0
    assert "re-expressed to RSRS; 0 variant calls (0 distinct variants)" in description
    lengths = as_rsrs["Input_Sample"].map(len) - as_rcrs["Input_Sample"].map(len)
    # RSRS-relative lists are longer for the non-African genomes, shorter for L0/L1 ones
    assert (lengths > 0).mean() > 0.8 and lengths.median() > 10
    deep_african = as_rcrs["Haplogroup"].str.match(r"L[01]")
    assert deep_african.sum() >= 5 and (lengths[deep_african] < 0).all()


def test_whole_genbank_table_loads_on_rcrs(shared_data, trees):
    table, description = hmtdna.load_hmtdna_table("rcrs", trees, shared_data / GENBANK)
    assert len(table) == 18567 and "18567 samples, variants relative to RCRS)" in description


# --------------------------------------------------------------------------------------------
# Seeded samples of genomes
# --------------------------------------------------------------------------------------------
def numbered_table(n):
    return pd.DataFrame({"SampleID": [f"s{i}" for i in range(n)], "Quality": 1.0},
                        index=range(100, 100 + n))


def test_sample_is_seeded_ordered_and_recorded():
    table = numbered_table(1000)
    first, again = hmtdna.sample_genomes(table, 80, seed=3), hmtdna.sample_genomes(table, 80, 3)
    assert first["SampleID"].tolist() == again["SampleID"].tolist()
    assert len(first) == 80 and first["SampleID"].is_unique
    numbers = first["SampleID"].str[1:].astype(int)
    assert numbers.is_monotonic_increasing and list(first.index) == list(range(80))
    assert first.attrs["sample"] == {"n": 80, "of": 1000, "seed": 3}
    other = hmtdna.sample_genomes(table, 80, seed=4)
    assert other["SampleID"].tolist() != first["SampleID"].tolist()


def test_sample_of_the_whole_table_or_more_is_the_table():
    table = numbered_table(10)
    for n in (None, 10, 50):
        assert hmtdna.sample_genomes(table, n)["SampleID"].tolist() == table["SampleID"].tolist()
    with pytest.raises(ValueError, match=">= 0"):
        hmtdna.sample_genomes(table, -1)


def test_cpu_sample_of_the_real_table_after_the_quality_filter(genbank):
    kept = hmtdna.filter_quality(genbank, 0.9)
    sample = hmtdna.sample_genomes(kept, hmtdna.CPU_SAMPLE_SIZE, seed=0)
    assert len(sample) == 8000 and (sample["Quality"] >= 0.9).all()
    assert set(sample["SampleID"]) <= set(kept["SampleID"])


# --------------------------------------------------------------------------------------------
# Country -> continent
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("country, continent", [
    ("Nigeria", "Africa"), ("Japan", "Asia"), ("Brazil", "South America"),
    ("Finland", "Europe"), ("USA", "North America"), ("Papua New Guinea", "Oceania"),
    ("Yemen", "Asia"), ("Greenland", "North America"), ("", "unknown"), (None, "unknown"),
    (float("nan"), "unknown"), ("Atlantis", "unknown")])
def test_continent_spot_checks(country, continent):
    assert geography.continent_of(country) == continent


def test_russia_is_placed_by_its_region():
    assert geography.continent_of("Russia", "Central Siberia") == "Asia"
    assert geography.continent_of("Russia", "North Ossetia") == "Europe"
    assert geography.continent_of("Russia", "") == geography.UNKNOWN


def test_every_country_and_russian_region_in_the_real_table_has_a_continent(genbank):
    countries = set(genbank["Country"]) - {""}
    assert countries <= set(geography.COUNTRY_CONTINENT)
    for country in countries - {"Russia"}:
        assert geography.continent_of(country) in geography.CONTINENTS, country
    russian = genbank.loc[genbank["Country"] == "Russia", "Region"]
    for region in set(russian) - {""}:
        assert geography.continent_of("Russia", region) in geography.CONTINENTS, region


def test_add_continent_column(genbank, capsys):
    labelled = geography.add_continent(genbank)
    assert "continent" not in genbank and len(labelled) == len(genbank)
    assert set(labelled["continent"]) == set(geography.CONTINENTS) | {geography.UNKNOWN}
    named = labelled[labelled["Country"] != ""]
    # only the Russian genomes without a Siberian/European region stay unknown
    assert (named["continent"] == geography.UNKNOWN).sum() == (
        (named["Country"] == "Russia") & (named["Region"] == "")).sum()
    assert "no continent" not in capsys.readouterr().out
    geography.add_continent(pd.DataFrame({"Country": ["Atlantis"]}))
    assert "Atlantis" in capsys.readouterr().out
    with pytest.raises(KeyError, match="Country"):
        geography.add_continent(pd.DataFrame({"Haplogroup": ["H"]}))


def test_genbank_sample_is_the_notebooks_cpu_data(tmp_path, monkeypatch):
    from rgdkit.notebooks.runner import DEFAULT_SHARED_DATA, shared_data_environment

    # the loader fills these in; set here, they are restored after the test
    for variable, value in shared_data_environment(DEFAULT_SHARED_DATA).items():
        monkeypatch.setenv(variable, value)
    table = pd.DataFrame({"SampleID": [f"S{i}" for i in range(40)], "Haplogroup": "H1",
                          "Quality": [0.95] * 30 + [0.5] * 10, "Country": "", "Region": "",
                          "Input_Sample": ["263G 16311C" if i % 2 else "263G 750G"
                                           for i in range(40)]})
    monkeypatch.setenv("RGD_HMTDNA_SOURCE", str(write_gzip_tsv(table, tmp_path / "t.tsv.gz")))
    monkeypatch.setenv("RGD_HMTDNA_SOURCE_REFERENCE", "rcrs")
    X, kept, description = hmtdna.genbank_sample("rcrs", 20)
    assert X.dtype == np.float32 and X.shape == (20, 3)
    assert len(kept) == 20 and (kept["Quality"] >= 0.9).all() and str(tmp_path) in description
    # columns in genome order: 263G in every genome, then 750G or 16311C
    assert X[:, 0].all() and (X[:, 1] + X[:, 2] == 1).all()
