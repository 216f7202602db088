"""Human mitochondrial DNA (hmtDNA) data: haplogrep tables, one-hot variants, haplogroup labels,
the notebooks' loaders, and a simulated table as the offline fallback.

The pipeline the RSRS and rCRS notebooks share:

1. a table of samples with their variants (:func:`load_hmtdna_table`): any text table with the
   columns ``SampleID, Haplogroup, Quality, Input_Sample`` (:func:`load_variant_table`), such as
   a haplogrep3 ``--extend-report`` (:func:`load_haplogrep_report`) or the GenBank table
   (optional ``Country``, ``Region``; see ``data/README.md``), the paper's Hub tables
   (:func:`load_hub_table`), or, with no data at all, a table simulated from the tree
   (:func:`simulate_haplogroup_table`);
2. :func:`filter_quality`, optionally :func:`sample_genomes` (a seeded subset, for a CPU), and
   :func:`one_hot_variants` turn it into a binary sample x variant matrix;
3. a PhyloTree (:func:`load_phylotrees`, :mod:`rgdkit.data.phylotree`) gives each haplogroup's
   variant profile, its lineage, and the colouring labels (:func:`first_letter_group`,
   :func:`region_of`, :func:`group_lineage_edges`); variant lists move between the two
   references with :func:`rgdkit.data.phylotree.reexpress_table`.
"""
from __future__ import annotations

import os
import pickle
import re
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse

from rgdkit.data.phylotree import (MT_GENOME_LENGTH, REFERENCES, PhyloTree, check_reference,
                                   load_phylotree, parse_variant, reexpress_table, reference_of,
                                   sort_variants)
from rgdkit.data.sources import (CorruptDataError, DataNotAvailableError, corrupt_file_fix,
                                  existing_file, fetch_data_file, is_known_content, known_file)
from rgdkit.files.atomic import write_atomically
from rgdkit.notebooks.environment import use_shared_data

HMTDNA_TABLES = {"rsrs": "hmtDNA/rsrs.pkl", "rcrs": "hmtDNA/rcrs.pkl"}  # Hub paths not confirmed
PHYLOTREE_FILES = {"rsrs": "hmtdna/phylotree-rsrs-17.0.xml", "rcrs": "hmtdna/phylotree-fu-rcrs-1.2.xml"}
# the same files' Hub paths, whose size and sha256 are known (sources.KNOWN_HUB_FILES)
PHYLOTREE_HUB_PATHS = {"rsrs": "hmtDNA/trees/phylotree-rsrs/17.0/tree.xml",
                       "rcrs": "hmtDNA/trees/phylotree-fu-rcrs/1.2/tree.xml"}
PICKLE_SUFFIXES = (".pkl", ".pkl.gz", ".pickle")
HMTDNA_TABLE_ENV = "RGD_HMTDNA_TABLE"
PHYLOTREE_ENVS = {"rsrs": "RGD_PHYLOTREE_RSRS", "rcrs": "RGD_PHYLOTREE_RCRS"}

REPORT_COLUMNS = ["SampleID", "Range", "Haplogroup", "Rank", "Quality", "Not_Found_Polys",
                  "Found_Polys", "Remaining_Polys", "AAC_In_Remainings", "Input_Sample"]
# What the pipeline needs from a table; every other column (the report's Range, Rank and *_Polys,
# the GenBank table's Country and Region) is optional
REQUIRED_COLUMNS = ["SampleID", "Haplogroup", "Quality", "Input_Sample"]
GENBANK_COLUMNS = REQUIRED_COLUMNS + ["Country", "Region"]  # Country and Region may be empty
VARIANT_TABLE_LAYOUTS = ("a haplogrep3 --extend-report, or a table with the columns "
                         + ", ".join(REQUIRED_COLUMNS) + " and optional Country, Region "
                         "(the GenBank table; tab separated, one row per genome)")
GEO_COLUMNS = ["main_geo_loc", "sub_geo_loc", "latitude", "longitude", "distance_to_sudan"]
HUB_COLUMNS = REPORT_COLUMNS + GEO_COLUMNS


# --------------------------------------------------------------------------------------------
# Tables: haplogrep reports and the paper's Hub pickles
# --------------------------------------------------------------------------------------------
def load_haplogrep_report(path, invalid="raise") -> pd.DataFrame:
    """Read a haplogrep3 ``classify --extend-report`` table (tab separated, quoted, gz accepted).

    ``Input_Sample`` becomes a list of variant strings, ``Quality`` a float and ``Rank`` an int;
    the other poly columns stay space-separated strings as haplogrep wrote them. The rows are
    checked at the door (:func:`check_variant_table`, ``invalid`` as there).
    """
    path = existing_file(path, "a haplogrep3 extended report (haplogrep3 classify ... "
                                "--extend-report; scripts/scrape_mtdna.py prints the command)")
    expected = "a haplogrep3 --extend-report table (tab separated, one row per sample)"
    table = _read_text_table(path, expected)
    _require_columns(table, REPORT_COLUMNS, path, expected)
    return _typed_variant_table(table, path, invalid)


def load_variant_table(path, invalid="raise") -> pd.DataFrame:
    """Read any hmtDNA variant table: a haplogrep3 extended report or the GenBank layout.

    Tab separated (quoted or not, gz accepted), one row per genome, with at least the columns
    :data:`REQUIRED_COLUMNS` (``SampleID, Haplogroup, Quality, Input_Sample``); the report's
    ``Range``, ``Rank`` and ``*_Polys`` columns and the GenBank table's ``Country`` and
    ``Region`` are kept when present and needed nowhere. Types as in
    :func:`load_haplogrep_report`; missing text values are empty strings. A table with neither
    layout raises ValueError naming the required columns; the rows are checked at the door
    (:func:`check_variant_table`, ``invalid`` as there).
    """
    path = existing_file(path, VARIANT_TABLE_LAYOUTS)
    table = _read_text_table(path, VARIANT_TABLE_LAYOUTS)
    _require_columns(table, REQUIRED_COLUMNS, path, VARIANT_TABLE_LAYOUTS)
    return _typed_variant_table(table, path, invalid)


# the first bytes of compressed and binary files, and pandas' name for the compression
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"),
          (b"PK\x03\x04", "zip"), (b"\x28\xb5\x2f\xfd", "zstd"))
_SUFFIX_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip", ".zst": "zstd"}


def _read_text_table(path, expected: str) -> pd.DataFrame:
    """A tab-separated table as strings (empty cells stay ""), or CorruptDataError.

    The compression is read from the file's first bytes, not its name: a gzipped table named
    without ``.gz`` is read as what it is. A file named ``.gz`` that is not gzip, a pickle or
    another binary file gets an error that says so."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    compression = next((name for magic, name in _MAGIC if head.startswith(magic)), None)
    named = _SUFFIX_COMPRESSION.get(Path(path).suffix.lower())
    if named and compression != named and head:
        raise CorruptDataError(
            f"{path} is empty or unreadable: its name ends in {Path(path).suffix} but it is not "
            f"{named}-compressed (it starts with {head[:12]!r}); expected {expected}. Rename it "
            "without the suffix if it is plain text, or replace it with a good copy")
    if compression is None and head[:1] == b"\x80":
        raise CorruptDataError(
            f"{path} is a Python pickle, not a text table; expected {expected}. A pickle runs "
            "code when loaded: read it only if you trust it, under a name ending in .pkl "
            "(load_hmtdna_table(..., trust_pickle=True)), or convert it once with "
            "hmtdna.save_table_tsv")
    if compression is None and b"\x00" in head:
        raise CorruptDataError(
            f"{path} is a binary file (it starts with {head[:12]!r}), not a text table; "
            f"expected {expected}. Pass the haplogrep3 report or TSV itself")
    try:
        return pd.read_csv(path, sep="\t", quotechar='"', dtype=str, keep_default_na=False,
                           compression=compression)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, EOFError,
            OSError) as err:  # OSError: a truncated .gz
        raise CorruptDataError(f"{path} is empty or unreadable ({str(err).strip()[:200]}); "
                               f"expected {expected}. Rerun haplogrep3 classify --extend-report, "
                               "or pass another file") from err


# haplogroups whose genome is a reference sequence: the only ones with no variants against it
REFERENCE_HAPLOGROUPS = {"rcrs": "H2a2a1", "rsrs": "mtMRCA"}
INVALID_POLICIES = ("raise", "drop", "keep")


def check_variant_table(table: pd.DataFrame, path, invalid="raise") -> pd.DataFrame:
    """``table`` checked at the door, with ``Quality`` (and ``Rank``) as numbers and
    ``Input_Sample`` as lists (index reset). Errors (ValueError) name the file, the column, the
    rows (0-based, after the header) with their SampleIDs, and the fix:

    - no rows; an empty or repeated ``SampleID``; an empty ``Haplogroup``;
    - ``Quality`` that is not a number or lies outside [0, 1] (haplogrep's Quality is a
      fraction; 95.3 is a percentage: divide by 100);
    - ``Rank`` (when present) that is empty or not a whole number;
    - variant calls that are not haplogrep notation with a definite allele (``XYZ``, the IUPAC
      ambiguity ``16311Y``, a bare ``8289``) or whose position lies outside 1-16569 (``99999A``);
    - an empty variant list where the haplogroup is not a reference's own (H2a2a1 for the rCRS,
      mtMRCA for the RSRS): that genome would read as identical to the reference.

    ``invalid`` decides the last two: "raise" (default); "drop" removes the bad calls, then the
    rows left with no variants, and prints how many; "keep" leaves them as written (bad calls
    then become one-hot columns of their own).
    """
    if invalid not in INVALID_POLICIES:
        raise ValueError(f"invalid={invalid!r}; choose one of {INVALID_POLICIES}")
    if table.empty:
        raise ValueError(f"{path} has a header but no samples; rerun haplogrep3 classify "
                         "--extend-report on a FASTA/VCF with samples, or pass another file")
    table = table.reset_index(drop=True)
    ids = table["SampleID"].map(_text)
    _fail_where(ids == "", table, path, "SampleID", "empty identifiers",
                "give every genome an identifier")
    repeated = ids.duplicated(keep=False)
    _fail_where(repeated, table, path, "SampleID",
                f"repeated identifiers ({', '.join(sorted(set(ids[repeated]))[:5])})",
                "keep one row per genome, e.g. table.drop_duplicates('SampleID'), or give each "
                "its own identifier")
    _fail_where(table["Haplogroup"].map(_text) == "", table, path, "Haplogroup",
                "empty haplogroups", "classify these genomes (haplogrep3) or drop them")
    quality = table["Quality"] = _numbers(table["Quality"], "Quality", path, table)
    outside = (quality < 0) | (quality > 1)
    if outside.any():
        percent = bool(((quality >= 0) & (quality <= 100)).all())
        _fail_where(outside, table, path, "Quality",
                    f"values outside [0, 1] (e.g. {quality[outside].iloc[0]:g})",
                    "haplogrep's Quality is a fraction; these look like percentages: divide the "
                    "column by 100" if percent else
                    "haplogrep's Quality is a fraction in [0, 1]; correct these values")
    if "Rank" in table:
        table["Rank"] = _numbers(table["Rank"], "Rank", path, table, integer=True)
    table["Input_Sample"] = table["Input_Sample"].map(_as_variant_list)
    return _checked_variants(table, path, invalid)


def _checked_variants(table, path, invalid):
    """Invalid calls and empty variant lists, as ``invalid`` says (see check_variant_table)."""
    calls = table["Input_Sample"].explode().dropna()
    unique = pd.unique(calls.to_numpy())
    invalid_calls = {c for c, ok in zip(unique, map(_valid_call, unique)) if not ok}
    bad_calls = (table["Input_Sample"].map(lambda row: [c for c in row if c in invalid_calls])
                 if invalid_calls else pd.Series([[]] * len(table), index=table.index))
    has_bad = bad_calls.map(bool)
    if has_bad.any() and invalid == "raise":
        counts = Counter(c for calls in bad_calls for c in calls)
        examples = ", ".join(c for c, _ in counts.most_common(5))
        _fail_where(has_bad, table, path, "Input_Sample",
                    f"{sum(counts.values())} variant calls that are not haplogrep notation "
                    f"with a definite allele at a position 1-{MT_GENOME_LENGTH} (e.g. {examples};"
                    " an IUPAC code such as Y names no definite allele)",
                    "correct them (notation: 263G, 8281d, 2156.1A), or pass invalid='drop' to "
                    "drop these calls (invalid='keep' keeps them as written)")
    if has_bad.any() and invalid == "drop":
        print(f"data: {path}: dropped {int(bad_calls.map(len).sum())} variant calls that are not "
              f"valid haplogrep notation, from {int(has_bad.sum())} genomes (invalid='drop')")
        table["Input_Sample"] = [[c for c in row if c not in invalid_calls]
                                 for row in table["Input_Sample"]]
    own = table["Haplogroup"].map(_text).isin(REFERENCE_HAPLOGROUPS.values())
    empty = (table["Input_Sample"].map(len) == 0) & ~own
    if empty.any() and invalid == "raise":
        _fail_where(empty, table, path, "Input_Sample",
                    "no variant calls although the haplogroup is not a reference's own (H2a2a1 "
                    "for the rCRS, mtMRCA for the RSRS): the genome would read as identical to "
                    "the reference", "fill in their variants, or pass invalid='drop' to drop these "
                    "rows (invalid='keep' keeps them)")
    if empty.any() and invalid == "drop":
        print(f"data: {path}: dropped {int(empty.sum())} genomes with no variant calls "
              "(invalid='drop')")
        table = table[~empty].reset_index(drop=True)
    return table


def _valid_call(text) -> bool:
    """A definite haplogrep variant at a position of the genome (1-16569)."""
    variant = parse_variant(text)
    return variant is not None and 1 <= int(variant.site.split(".")[0]) <= MT_GENOME_LENGTH


def _text(value) -> str:
    return "" if value is None or (np.isscalar(value) and pd.isna(value)) else str(value).strip()


def _fail_where(mask, table, path, column, problem, fix):
    """ValueError naming the file, the column, the rows where ``mask`` holds and the fix."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return
    rows = np.flatnonzero(mask)
    ids = [_text(table["SampleID"].iloc[r]) for r in rows[:5]] if "SampleID" in table else []
    named = f" (SampleID {', '.join(ids)})" if ids else ""
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    raise ValueError(f"{path}, column {column}: {problem} ({len(rows)} rows: "
                     f"{rows[:5].tolist()}{more}{named}, 0-based after the header). Fix: {fix}")


def _typed_variant_table(table: pd.DataFrame, path, invalid="raise") -> pd.DataFrame:
    """Variant lists, float Quality and (when present) int Rank, checked
    (:func:`check_variant_table`)."""
    return check_variant_table(table, path, invalid)


def _numbers(column: pd.Series, name: str, path, table, integer=False) -> pd.Series:
    """``column`` as floats (or ints): ValueError naming the file, the column and the rows whose
    cells are empty or not numbers (or not whole numbers)."""
    values = pd.to_numeric(column.map(lambda v: v.strip() if isinstance(v, str) else v),
                           errors="coerce").astype(float)
    bad = ~np.isfinite(values)
    if integer:
        bad |= values % 1 != 0
    if bad.any():
        shown = _text(column[bad].iloc[0])
        kind = "whole numbers" if integer else "numbers"
        what = "empty cells" if shown == "" else repr(shown)
        _fail_where(bad, table, path, name, f"must hold {kind}, found {what}",
                    f"fill in {name} (haplogrep writes it for every sample) or drop these rows")
    return values.astype(int) if integer else values


def load_hub_table(path, trusted: bool = False, invalid="raise") -> pd.DataFrame:
    """Read one of the paper's Hub tables (``hmtDNA/rsrs.pkl``, ``hmtDNA/rcrs.pkl``).

    They are gzip-compressed pandas pickles, and unpickling runs code stored in the file. Pass
    ``trusted=True`` only for a file whose sha256 was verified or one the user chose to trust
    (:func:`load_hmtdna_table` decides this). :func:`save_table_tsv` converts a table to a safe
    text format once.
    """
    path = existing_file(path, "the paper's hmtDNA table (hmtDNA/rsrs.pkl or hmtDNA/rcrs.pkl from "
                                "the HuggingFace dataset yhsure/riemannian-generative-decoder)")
    if not trusted:
        raise PermissionError(
            f"refusing to unpickle {path}: loading a pickle can run arbitrary code. Call "
            "load_hub_table(path, trusted=True) only for a file you trust, or read a TSV copy "
            "(save_table_tsv) instead.")
    with open(path, "rb") as handle:
        is_gzip = handle.read(2) == b"\x1f\x8b"
    try:
        table = pd.read_pickle(path, compression="gzip" if is_gzip else None)
    except (pickle.UnpicklingError, EOFError, OSError, zlib.error) as err:  # empty or truncated
        raise CorruptDataError(f"{path} is not a complete table pickle ({type(err).__name__}: "
                               f"{err}); {corrupt_file_fix(path)}") from err
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{path} holds a {type(table).__name__}, expected a pandas DataFrame "
                         "(the paper's hmtDNA table)")
    _require_columns(table, HUB_COLUMNS, path,
                     "the paper's hmtDNA table: haplogrep3 extended-report columns plus "
                     + ", ".join(GEO_COLUMNS))
    return check_variant_table(table.copy(), path, invalid)


def save_table_tsv(table: pd.DataFrame, path):
    """Write a hmtDNA table as tab-separated text that :func:`load_haplogrep_report` reads back.

    ``Input_Sample`` lists become space-separated strings. Text runs no code when read, unlike a
    pickle: convert a pickle you trust once, then use the TSV. Returns ``path``.
    """
    text = table.assign(Input_Sample=table["Input_Sample"].map(" ".join))
    return write_atomically(path, lambda temporary: text.to_csv(temporary, sep="\t", index=False))


def _require_columns(table: pd.DataFrame, columns, path, expected: str):
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}; expected {expected} with columns "
                         f"{list(columns)}")


def _as_variant_list(value) -> list[str]:
    """Space-separated string (report) or sequence (Hub pickle) -> list of variant strings."""
    if isinstance(value, str):
        return value.split()
    if value is None or (np.isscalar(value) and pd.isna(value)):
        return []
    return [str(v) for v in value]


def filter_quality(table: pd.DataFrame, min_quality: float = 0.9) -> pd.DataFrame:
    """Rows whose haplogrep ``Quality`` is at least ``min_quality``, index reset."""
    return table[table["Quality"] >= min_quality].reset_index(drop=True)


# A CPU fits the paper profile's hmtDNA models on this many genomes in reasonable time (the paper
# used ~60k on a GPU); the notebooks pass it to sample_genomes
CPU_SAMPLE_SIZE = 8000


def sample_genomes(table: pd.DataFrame, n: int | None, seed: int = 0) -> pd.DataFrame:
    """A seeded random sample of ``n`` genomes (rows) of ``table``, drawn without replacement.

    Call it after :func:`filter_quality`, so the sample is of the genomes the models would see.
    The rows keep the table's order (a sample of a sorted table stays sorted), the index is
    reset, and ``attrs["sample"]`` records ``n``, the table's size and the seed. The same
    ``(table, n, seed)`` always gives the same rows. ``n`` of None, or at least the table's size,
    returns the whole table (a copy). Used to run the paper profile on a CPU with
    :data:`CPU_SAMPLE_SIZE` genomes.
    """
    if n is not None and n < 0:
        raise ValueError(f"sample size must be >= 0, got {n}")
    if n is None or n >= len(table):
        return table.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(table), size=n, replace=False))
    sample = table.iloc[rows].reset_index(drop=True)
    sample.attrs["sample"] = {"n": n, "of": len(table), "seed": seed}
    print(f"data: a random sample of {n} of {len(table)} genomes (seed {seed})")
    return sample


def genbank_sample(reference="rsrs", samples=CPU_SAMPLE_SIZE, min_quality=0.9,
                   min_frequency=0.0005):
    """The hmtDNA notebooks' data as a CPU run sees it: the table they read
    (``RGD_HMTDNA_SOURCE``, default the GenBank table in ``../shared/data/hmtdna/``), genomes of
    Quality >= ``min_quality``, a sample of ``samples`` of them drawn with seed 0
    (:func:`sample_genomes`), and their variants at frequency >= ``min_frequency``.

    Returns ``(X, kept, description)``: ``X`` float32 (genomes x variants), ``kept`` the sampled
    rows of the table (their ``Haplogroup`` labels the rows of ``X``), and the table's description.
    """
    use_shared_data()
    table, description = load_hmtdna_table(
        reference, load_phylotrees(), os.environ.get("RGD_HMTDNA_SOURCE", "auto"),
        os.environ.get("RGD_HMTDNA_SOURCE_REFERENCE"), 20000)
    kept = sample_genomes(filter_quality(table, min_quality), samples, seed=0)
    X, _, _ = one_hot_variants(kept, min_frequency)
    return X.astype(np.float32), kept, description


def one_hot_variants(table: pd.DataFrame, min_frequency: float = 0.0005, sparse: bool = False):
    """Binary sample x variant matrix of ``Input_Sample``, keeping common variants only.

    A variant is kept when the fraction of samples carrying it is at least ``min_frequency``.
    Columns are in genome order. On the paper's tables (Quality >= 0.9, min_frequency 0.0005)
    this gave 61,665 x 6,298 for RSRS and 57,385 x 5,366 for rCRS (about 390 MB dense as uint8;
    ``sparse=True`` returns a scipy CSR matrix instead, under 1% of that).

    Returns ``(X, variants, n_kept)``: ``X`` uint8 (N, V), the V variant names, and per sample
    the number of its variants that were kept (the row sums of ``X``).
    """
    calls = table["Input_Sample"].reset_index(drop=True).explode().dropna()
    # one (row, variant) pair per call; a variant listed twice in a sample counts once
    pairs = pd.DataFrame({"row": calls.index, "variant": calls.to_numpy()}).drop_duplicates()
    frequency = pairs["variant"].value_counts() / max(len(table), 1)
    variants = sort_variants(frequency.index[frequency >= min_frequency])
    column_of = pd.Series(np.arange(len(variants)), index=variants, dtype=np.int64)
    kept = pairs[pairs["variant"].isin(column_of.index)]
    rows = kept["row"].to_numpy()
    columns = column_of[kept["variant"]].to_numpy()
    n_kept = np.bincount(rows, minlength=len(table)).astype(np.int64)
    shape = (len(table), len(variants))
    if sparse:
        ones = np.ones(len(rows), dtype=np.uint8)
        return scipy.sparse.csr_matrix((ones, (rows, columns)), shape=shape), variants, n_kept
    X = np.zeros(shape, dtype=np.uint8)
    X[rows, columns] = 1
    return X, variants, n_kept


REFERENCE_NAMES = {"rsrs": "RSRS", "rcrs": "rCRS"}


def variants_per_genome(table: pd.DataFrame, reference: str, trees) -> dict[str, np.ndarray]:
    """How many variants each genome of ``table`` carries against each reference sequence (the
    paper's Figure S1, mutations per sequence): ``{"RSRS": counts, "rCRS": counts}``, int64 (N,)
    each, in the table's row order.

    ``table``'s ``Input_Sample`` lists are relative to ``reference`` ("rsrs" or "rcrs"); the
    other reference's lists come from :func:`rgdkit.data.phylotree.reexpress_table` with both
    ``trees`` (:func:`load_phylotrees`). Every call counts, kept by the frequency cut or not.
    """
    check_reference(reference)
    other = "rcrs" if reference == "rsrs" else "rsrs"
    expressed = {reference: table,
                 other: reexpress_table(table, reference, other, rsrs_tree=trees["rsrs"],
                                        rcrs_tree=trees["rcrs"])}
    return {REFERENCE_NAMES[name]: expressed[name]["Input_Sample"].map(len).to_numpy(np.int64)
            for name in ("rsrs", "rcrs")}


# --------------------------------------------------------------------------------------------
# Haplogroup labels for colouring
# --------------------------------------------------------------------------------------------
# Clade names made of two capitals are clades of their own (HV is the parent of H and V).
_TWO_LETTER_CLADES = ("HV", "JT", "CZ")

# Continent where each top-level clade is (by far) most frequent; coarse by design.
_REGION_OF_GROUP = {
    **{f"L{i}": "Africa" for i in range(7)}, "L": "Africa",
    **dict.fromkeys(["H", "HV", "V", "J", "JT", "T", "U", "K", "I", "W", "X"], "Europe"),
    **dict.fromkeys(["M", "N", "R", "A", "B", "C", "CZ", "D", "E", "F", "G", "Y", "Z"], "Asia"),
    **dict.fromkeys(["O", "P", "Q", "S"], "Oceania"),
}
# Native American founder lineages, checked before the top-level map
_AMERICAN_CLADES = ("A2", "B2", "C1b", "C1c", "C1d", "D1", "D4h3a", "X2a")


def first_letter_group(haplogroup: str) -> str:
    """Top-level group label of a haplogroup, for colouring.

    ``L0``..``L6`` keep their digit (the deep African clades); the composite ancestors such as
    ``L3'4`` and the root ``mtMRCA`` are ``L``; ``HV``, ``JT`` and ``CZ`` are their own labels;
    every other haplogroup is labelled by its first letter (``M7b`` -> ``M``, ``H2a2a1`` -> ``H``,
    ``R0a`` -> ``R``). Unparseable names give ``"?"``.
    """
    name = haplogroup.strip()
    if name.replace("-", "") == "mtMRCA":
        return "L"
    match = re.match(r"L(\d)(?!['\d])", name)
    if match:
        return match.group(0)
    if name.startswith("L") and not name[1:2].isalpha():
        return "L"
    for clade in _TWO_LETTER_CLADES:
        if name.startswith(clade):
            return clade
    return name[0] if name[:1].isalpha() and name[:1].isupper() else "?"


def region_of(haplogroup: str) -> str:
    """Coarse continent of origin of a haplogroup: Africa, Asia, Europe, Americas or Oceania.

    Mostly from the top-level group (:func:`first_letter_group`): L Africa; H, HV, V, J, T, U, K,
    I, W, X Europe (West Eurasia); M, N, R and A-G, Y, Z Asia; O, P, Q, S Oceania. The Native
    American founders A2, B2, C1b/c/d, D1, D4h3a and X2a are Americas. This is where a clade is
    most frequent, not where a sample was taken; ``"?"`` for unknown labels.
    """
    name = haplogroup.strip()
    if any(_has_clade_prefix(name, clade) for clade in _AMERICAN_CLADES):
        return "Americas"
    return _REGION_OF_GROUP.get(first_letter_group(name), "?")


def _has_clade_prefix(name: str, clade: str) -> bool:
    """``name`` is ``clade`` or below it: ``A2b`` is under ``A2``, ``A22`` is not."""
    if not name.startswith(clade):
        return False
    following = name[len(clade):len(clade) + 1]
    return not following or following.isdigit() != clade[-1].isdigit()


def group_lineage_edges(tree: PhyloTree, groups) -> list[tuple[str, str]]:
    """Parent -> child edges between top-level groups, for lines between group medians.

    A group's node is the haplogroup named like the group (``L3``, ``M``, ``HV``; ``L`` is the
    root). The parent of a group is the nearest group among ``groups`` above its node, so with
    L3, M, N, R, H given the edges are L3 -> M, L3 -> N, N -> R, R -> H; groups with no such
    ancestor get no edge. Needs the RSRS-rooted tree, whose edges run forward in time.
    """
    if reference_of(tree) != "rsrs":
        raise ValueError(f"group lineage needs the RSRS-rooted tree, got one rooted at "
                         f"{tree.root}")
    group_node = {group: (tree.root if group == "L" else group) for group in groups}
    node_group = {node: group for group, node in group_node.items() if node in tree}
    edges = []
    for group, node in group_node.items():
        if node not in tree:
            continue
        ancestor = tree.parent[node]
        while ancestor is not None and ancestor not in node_group:
            ancestor = tree.parent[ancestor]
        if ancestor is not None:
            edges.append((node_group[ancestor], group))
    return edges


# --------------------------------------------------------------------------------------------
# Offline fallback: a simulated haplogrep table
# --------------------------------------------------------------------------------------------
def simulate_haplogroup_table(tree: PhyloTree, n_samples: int, seed: int = 0,
                              private_rate: float = 2.0, missing_rate: float = 0.02
                              ) -> pd.DataFrame:
    """A haplogrep-report-like table of samples drawn from ``tree``: the offline fallback.

    Each sample is a uniformly drawn leaf haplogroup. Its expected variants are the leaf's
    profile relative to the tree's root (so the table is relative to that reference); each is
    lost with probability ``missing_rate``, and Poisson(``private_rate``) private substitutions
    at other positions are added. ``Quality`` is the fraction of expected variants kept. The table
    is marked simulated: ``attrs["simulated"]``, ``attrs["reference"]`` and a ``Source`` column.
    Deterministic for a given seed.
    """
    rng = np.random.default_rng(seed)
    leaves = tree.leaves
    rows = []
    for i, haplogroup in enumerate(rng.choice(leaves, size=n_samples)):
        expected = sort_variants(tree.profile(haplogroup))
        missing = rng.random(len(expected)) < missing_rate
        found = [v for v, lost in zip(expected, missing) if not lost]
        private = _private_mutations(rng, rng.poisson(private_rate), tree.allele_states(haplogroup))
        rows.append({
            "SampleID": f"sim{i:06d}", "Range": f"1-{MT_GENOME_LENGTH}",
            "Haplogroup": haplogroup, "Rank": 1,
            "Quality": round(len(found) / len(expected), 4) if expected else 1.0,
            "Not_Found_Polys": " ".join(v for v, lost in zip(expected, missing) if lost),
            "Found_Polys": " ".join(found), "Remaining_Polys": " ".join(private),
            "AAC_In_Remainings": "", "Input_Sample": sort_variants(found + private),
        })
    table = pd.DataFrame(rows, columns=REPORT_COLUMNS)
    table["Source"] = f"simulated from PhyloTree rooted at {tree.root}"
    table.attrs.update(simulated=True, reference=reference_of(tree))
    return table


def _private_mutations(rng: np.random.Generator, count: int, occupied: dict) -> list[str]:
    """``count`` random substitutions at distinct positions not already mutated."""
    positions = {}  # a dict keeps the draw order, so the result is deterministic
    while len(positions) < count:
        position = int(rng.integers(1, MT_GENOME_LENGTH + 1))
        if str(position) not in occupied:
            positions[position] = None
    return [f"{p}{rng.choice(list('ACGT'))}" for p in positions]


# --------------------------------------------------------------------------------------------
# Loading for the notebooks: a named file, data/, the Hub, or the simulated fallback
# --------------------------------------------------------------------------------------------
def load_phylotrees():
    """Both PhyloTrees, ``{"rsrs": tree, "rcrs": tree}``: ``$RGD_PHYLOTREE_RSRS`` /
    ``$RGD_PHYLOTREE_RCRS``, else ``data/hmtdna/`` (PhyloTree 17 RSRS, FU rCRS 1.2 XML files)."""
    trees = {}
    for reference, relpath in PHYLOTREE_FILES.items():
        path = fetch_data_file(relpath, env_var=PHYLOTREE_ENVS[reference], allow_hub=False,
                               **known_file(PHYLOTREE_HUB_PATHS[reference]))
        trees[reference] = load_phylotree(path)
    return trees


def load_hmtdna_table(reference, trees, source="auto", source_reference=None,
                      n_simulated=3000, seed=0, trust_pickle=False, invalid="raise"):
    """Samples with their variants relative to ``reference`` ("rsrs" or "rcrs"), and a description.

    ``source``:

    - ``"auto"``: ``$RGD_HMTDNA_TABLE``, else the paper's table ``data/hmtDNA/<reference>.pkl``,
      else the same file from the Hub (revision :func:`rgdkit.data.sources.hub_revision`,
      unpinned by default), else a table simulated from the tree;
    - ``"simulated"``: :func:`simulate_haplogroup_table` on ``trees[reference]``;
    - a path: a haplogrep3 extended report or a table saved by :func:`save_table_tsv` (text),
      or a table pickle (``.pkl``).

    A pickle runs code when loaded, so one is unpickled only when its sha256 is one of the known
    files (:data:`rgdkit.data.sources.KNOWN_HUB_FILES`; none of the hmtDNA pickles is yet) or
    with ``trust_pickle=True`` in this call; otherwise PermissionError.

    ``source_reference`` is the reference the file's variants are relative to (default:
    ``reference``; the 1000 Genomes report is "rcrs"); a table on the other reference is
    re-expressed with the two trees (:func:`reexpress_table`). A table that declares another
    reference (:func:`declared_reference`: its file name, a ``Reference`` column) or whose
    variants clearly match the other tree (:func:`infer_reference`, with both trees given)
    raises ValueError naming the fix, instead of being described as what it is not.

    The rows are checked at the door (:func:`check_variant_table`; ``invalid`` says what to do
    with variant calls that are not valid and genomes without any).
    """
    check_reference(reference)
    if source_reference is not None:
        check_reference(source_reference)
    if source == "simulated":
        return _simulated_hmtdna(trees[reference], n_simulated, seed, "requested")
    if source == "auto":
        try:
            path = fetch_data_file(HMTDNA_TABLES[reference], env_var=HMTDNA_TABLE_ENV,
                                   **known_file(HMTDNA_TABLES[reference]))
        except DataNotAvailableError:
            print("data: no hmtDNA table available; simulating one from the PhyloTree instead")
            return _simulated_hmtdna(trees[reference], n_simulated, seed, "offline fallback")
    else:
        path = Path(source)
    table = _read_hmtdna_file(path, trust_pickle, invalid)
    from_reference = source_reference or reference
    _check_table_reference(path, table, trees, from_reference,
                           "source_reference" if source_reference else
                           f"source_reference not given, so that of reference={reference!r}")
    description = f"{path} ({len(table)} samples, variants relative to {from_reference.upper()}"
    if from_reference == reference:
        description += ")"
    else:
        print(f"data: re-expressing variants from {from_reference.upper()} to {reference.upper()}")
        table = reexpress_table(table, from_reference, reference,
                                rsrs_tree=trees["rsrs"], rcrs_tree=trees["rcrs"])
        failures = reexpression_failures(table["Input_Sample"])
        table.attrs["not_reexpressed"] = failures
        description += (f", re-expressed to {reference.upper()}; "
                        f"{_describe_failures(failures)} could not be re-expressed)")
        print(f"data: {_describe_failures(failures)} could not be re-expressed (kept as written "
              f"or dropped; see hmtdna.reexpression_failures)")
    print(f"data: using {description}")
    return table, description


def declared_reference(path, table=None):
    """The reference a table declares for its variants, and how: ``table.attrs["reference"]``,
    else a ``Reference`` column with one value, else the word ``rcrs`` or ``rsrs`` in its file
    name (``1kgp_rcrs_haplogrep.txt.gz``, ``hmtDNA/rsrs.pkl``). ``(None, None)`` when it
    declares none or both."""
    if table is not None:
        if table.attrs.get("reference") in REFERENCES:
            return table.attrs["reference"], "the table's attrs['reference']"
        if "Reference" in table:
            values = {_text(v).lower() for v in table["Reference"]}
            if len(values) == 1 and values <= set(REFERENCES):
                return values.pop(), "its Reference column"
    words = set(re.findall(r"[a-z]+", Path(path).name.lower())) & set(REFERENCES)
    if len(words) == 1:
        return words.pop(), "its file name"
    return None, None


def infer_reference(table, trees, rows=200, seed=0):
    """The reference the variant lists are relative to, read from their content: on ``rows``
    genomes, the mean Jaccard overlap of a genome's calls with its haplogroup's profile on each
    tree (``trees["rsrs"]``, ``trees["rcrs"]``). Returns ``(reference or None, scores)``; None
    when fewer than 20 genomes could be placed or neither tree is clearly better (at least 0.4
    and twice the other). On the real GenBank and 1000 Genomes tables (rCRS) the scores are
    about 0.2 (RSRS) against 0.63-0.82 (rCRS); after re-expression to the RSRS, 0.83-0.90
    against 0.16-0.24."""
    if not all(isinstance(trees.get(r) if isinstance(trees, dict) else None, PhyloTree)
               for r in REFERENCES):
        return None, {}
    picked = np.random.default_rng(seed).permutation(len(table))[:rows]
    scores = {}
    for reference in REFERENCES:
        tree, overlaps = trees[reference], []
        for row in picked:
            node = _tree_node(table["Haplogroup"].iloc[row], tree)
            if node is None:
                continue
            profile, calls = tree.profile(node), set(table["Input_Sample"].iloc[row])
            union = profile | calls
            overlaps.append(len(profile & calls) / len(union) if union else 1.0)
        if len(overlaps) < 20:
            return None, {}
        scores[reference] = float(np.mean(overlaps))
    best = max(scores, key=scores.get)
    other = min(scores.values())
    clear = scores[best] >= 0.4 and scores[best] >= 2 * other
    return (best if clear else None), scores


def _tree_node(haplogroup, tree):
    """The node of ``haplogroup`` (haplogrep's ``H1+16189`` is ``H1``), or None."""
    name = _text(haplogroup)
    while name not in tree and "+" in name:
        name = name.rsplit("+", 1)[0]
    return name if name in tree else None


def _check_table_reference(path, table, trees, from_reference, asked_by):
    """ValueError when the table declares (or its content shows) another reference than the
    one its variants are about to be read as relative to."""
    declared, how = declared_reference(path, table)
    if declared is not None and declared != from_reference:
        raise ValueError(
            f"{path} declares its variants relative to {declared.upper()} ({how}), but they "
            f"would be read as relative to {from_reference.upper()} ({asked_by}). Pass "
            f"source_reference={declared!r} (RGD_HMTDNA_SOURCE_REFERENCE={declared}) to "
            "re-express them; if the declaration is wrong, rename the file")
    inferred, scores = infer_reference(table, trees)
    if inferred is not None and inferred != from_reference:
        shown = ", ".join(f"{r.upper()} {s:.2f}" for r, s in scores.items())
        raise ValueError(
            f"{path}: its variants match the {inferred.upper()} tree, not the "
            f"{from_reference.upper()} one they would be read as relative to ({asked_by}): "
            f"mean overlap of each genome's calls with its haplogroup's profile {shown}. Pass "
            f"source_reference={inferred!r} (RGD_HMTDNA_SOURCE_REFERENCE={inferred}) to "
            "re-express them")


def reexpression_failures(variant_lists) -> dict:
    """How many variant calls, and how many distinct variants, re-expression cannot carry over.

    :func:`rgdkit.data.phylotree.reexpress` keeps a call that names no definite allele
    (``16311Y``, a bare ``8289``) as written, still relative to the old reference, and keeps one
    allele per site, so a second call at a site already called is dropped. Both are counted
    (on the lists before or after re-expression; an unparseable call is in both). Returns
    ``{"calls": int, "variants": int, "examples": [up to 5 most frequent]}``. On the real GenBank
    and 1000 Genomes tables both counts are 0.
    """
    failed = Counter()
    for variants in variant_lists:
        seen_sites = set()
        for text in variants:
            variant = parse_variant(text)
            if variant is None or variant.site in seen_sites:
                failed[text] += 1
            else:
                seen_sites.add(variant.site)
    return {"calls": sum(failed.values()), "variants": len(failed),
            "examples": [text for text, _ in failed.most_common(5)]}


def _describe_failures(failures: dict) -> str:
    text = f"{failures['calls']} variant calls ({failures['variants']} distinct variants)"
    return text + (f", e.g. {', '.join(failures['examples'])}," if failures["examples"] else "")


def _read_hmtdna_file(path, trust_pickle=False, invalid="raise"):
    if not path.name.endswith(PICKLE_SUFFIXES):
        return load_variant_table(path, invalid)
    path = existing_file(path, "a hmtDNA table pickle")
    if is_known_content(path, HMTDNA_TABLES.values()):
        print(f"data: {path} matches a known sha256; unpickling it")
    elif trust_pickle:
        print(f"data: unpickling {path} because trust_pickle=True (its sha256 is not known; a "
              "pickle can run code)")
    else:
        raise PermissionError(
            f"refusing to unpickle {path}: its sha256 is not a known file's, and loading a "
            "pickle can run arbitrary code. Either pass trust_pickle=True to load_hmtdna_table "
            "if you trust this file, or convert it once where you trust it "
            "(hmtdna.save_table_tsv(hmtdna.load_hub_table(path, trusted=True), 'table.tsv')) "
            "and pass the .tsv instead.")
    return load_hub_table(path, trusted=True, invalid=invalid)


def _simulated_hmtdna(tree, n_samples, seed, why):
    table = simulate_haplogroup_table(tree, n_samples, seed=seed)
    description = (f"SIMULATED haplotypes ({why}) - not real data: {n_samples} samples drawn "
                   f"from the PhyloTree rooted at {tree.root}")
    print(f"data: using {description}")
    return table, description
