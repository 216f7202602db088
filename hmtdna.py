"""Human mitochondrial DNA (hmtDNA): haplogrep tables, PhyloTree trees, one-hot variants.

The pipeline the RSRS and rCRS notebooks share:

1. a table of samples with their variants: a haplogrep3 ``--extend-report``
   (:func:`load_haplogrep_report`), the paper's Hub tables (:func:`load_hub_table`), or, with no
   data at all, a table simulated from the tree (:func:`simulate_haplogroup_table`);
2. :func:`filter_quality` and :func:`one_hot_variants` turn it into a binary sample x variant
   matrix;
3. a PhyloTree (:func:`load_phylotree`) gives each haplogroup's variant profile, its lineage, and
   the colouring labels (:func:`first_letter_group`, :func:`region_of`,
   :func:`group_lineage_edges`);
4. :func:`reexpress` moves variant lists between the two references (rCRS <-> RSRS), so the RSRS
   notebook can run on rCRS-relative input such as the 1000 Genomes report.

Variant notation (PhyloTree / haplogrep)
----------------------------------------
``263A``      substitution: the base at position 263 is A.
``8281d``     deletion of the base at 8281 (``d`` is treated as one more allele of that base).
``2156.1A``   insertion: the first extra base after 2156 is A. ``573.XC`` is an insertion of
              unspecified length; ``.X`` is kept as its own site.
``263G!``     back-mutation: undoes the latest change at that site on the root path, restoring
              the state before it. The letter is not used: the RSRS tree writes the restored
              base, the re-rooted rCRS tree writes the mutation being undone. ``182T!!`` (a
              reversion of a reversion) is undone the same way. Where nothing on the path changed
              the site (8 entries of PhyloTree 17), the written allele is applied instead.
A *site* is the position plus the insertion index (``"263"``, ``"2156.1"``); a variant list holds at
most one allele per site. Tree entries that name no definite allele (a bare ``8289``, IUPAC
ambiguity codes such as ``16311Y``) are skipped when building profiles.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse

REPORT_COLUMNS = ["SampleID", "Range", "Haplogroup", "Rank", "Quality", "Not_Found_Polys",
                  "Found_Polys", "Remaining_Polys", "AAC_In_Remainings", "Input_Sample"]
GEO_COLUMNS = ["main_geo_loc", "sub_geo_loc", "latitude", "longitude", "distance_to_sudan"]
HUB_COLUMNS = REPORT_COLUMNS + GEO_COLUMNS

MT_GENOME_LENGTH = 16569  # rCRS length; positions are 1-based
REFERENCES = ("rcrs", "rsrs")
RCRS_HAPLOGROUP = "H2a2a1"  # the rCRS sequence sits at this node of the RSRS-rooted tree

_VARIANT = re.compile(r"^(?P<position>\d+)(?:\.(?P<insertion>\d+|X))?(?P<allele>[ACGT]+|d)"
                      r"(?P<back>!*)$")


# --------------------------------------------------------------------------------------------
# Variant strings
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """One parsed variant: ``site`` ("263", "2156.1"), ``allele`` ("A", "d", "CC"), ``back``
    (number of trailing ``!``)."""

    site: str
    allele: str
    back: int = 0


def parse_variant(text: str) -> Variant | None:
    """Parse a PhyloTree/haplogrep variant string; ``None`` where it names no definite allele."""
    match = _VARIANT.match(text.strip())
    if match is None:
        return None
    site = match["position"] + (f".{match['insertion']}" if match["insertion"] else "")
    return Variant(site, match["allele"], len(match["back"]))


def variant_sort_key(text: str) -> tuple:
    """Order variants along the genome: position, then insertion index, then the text."""
    match = re.match(r"^(\d+)(?:\.(\d+|X))?", text)
    if match is None:
        return (MT_GENOME_LENGTH + 1, 0, text)
    insertion = match[2]
    index = 0 if insertion is None else (10**6 if insertion == "X" else int(insertion))
    return (int(match[1]), index, text)


def sort_variants(variants) -> list[str]:
    """Variant strings in genome order."""
    return sorted(variants, key=variant_sort_key)


# --------------------------------------------------------------------------------------------
# Tables: haplogrep reports and the paper's Hub pickles
# --------------------------------------------------------------------------------------------
def load_haplogrep_report(path) -> pd.DataFrame:
    """Read a haplogrep3 ``classify --extend-report`` table (tab separated, quoted, gz accepted).

    ``Input_Sample`` becomes a list of variant strings, ``Quality`` a float and ``Rank`` an int;
    the other poly columns stay space-separated strings as haplogrep wrote them.
    """
    path = _existing_file(path, "a haplogrep3 extended report (haplogrep3 classify ... "
                                "--extend-report; scripts/scrape_mtdna.py prints the command)")
    table = pd.read_csv(path, sep="\t", quotechar='"', dtype=str, keep_default_na=False,
                        compression="infer")
    _require_columns(table, REPORT_COLUMNS, path,
                     "a haplogrep3 --extend-report table (tab separated, one row per sample)")
    table["Input_Sample"] = table["Input_Sample"].map(_as_variant_list)
    table["Quality"] = table["Quality"].astype(float)
    table["Rank"] = table["Rank"].astype(int)
    return table


def load_hub_table(path, trusted: bool = False) -> pd.DataFrame:
    """Read one of the paper's Hub tables (``hmtDNA/rsrs.pkl``, ``hmtDNA/rcrs.pkl``).

    They are gzip-compressed pandas pickles, and unpickling runs code stored in the file. Pass
    ``trusted=True`` only for a file from the pinned Hub revision or a path the user named.
    """
    path = _existing_file(path, "the paper's hmtDNA table (hmtDNA/rsrs.pkl or hmtDNA/rcrs.pkl from "
                                "the HuggingFace dataset yhsure/riemannian-generative-decoder)")
    if not trusted:
        raise PermissionError(
            f"refusing to unpickle {path}: loading a pickle can run arbitrary code. Call "
            "load_hub_table(path, trusted=True) only for a file from the pinned Hub revision "
            "or one you chose yourself.")
    with open(path, "rb") as handle:
        is_gzip = handle.read(2) == b"\x1f\x8b"
    table = pd.read_pickle(path, compression="gzip" if is_gzip else None)
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{path} holds a {type(table).__name__}, expected a pandas DataFrame "
                         "(the paper's hmtDNA table)")
    _require_columns(table, HUB_COLUMNS, path,
                     "the paper's hmtDNA table: haplogrep3 extended-report columns plus "
                     + ", ".join(GEO_COLUMNS))
    table = table.copy()
    table["Input_Sample"] = table["Input_Sample"].map(_as_variant_list)
    table["Quality"] = table["Quality"].astype(float)
    return table


def _existing_file(path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; expected {what}")
    return path


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


# --------------------------------------------------------------------------------------------
# PhyloTree
# --------------------------------------------------------------------------------------------
@dataclass
class PhyloTree:
    """A PhyloTree haplogroup tree.

    ``parent``, ``children``, ``level`` (depth, root = 0) and ``mutations`` (branch mutations into
    the node, as written in the XML) are dicts keyed by haplogroup name. The tree's root is its
    reference: ``mtMRCA`` (RSRS) for PhyloTree 17, ``H2a2a1`` (rCRS) for the FU rCRS tree.
    """

    root: str
    parent: dict[str, str | None]
    children: dict[str, list[str]]
    level: dict[str, int]
    mutations: dict[str, list[str]]
    _histories: dict = field(default_factory=dict, repr=False)

    def __contains__(self, name):
        return name in self.parent

    def __len__(self):
        return len(self.parent)

    @cached_property
    def leaves(self) -> list[str]:
        """Haplogroups without children, in document order."""
        return [name for name in self.parent if not self.children[name]]

    def lineage(self, name: str) -> list[str]:
        """Haplogroups from the root down to ``name`` (both included)."""
        self._check(name)
        path = []
        while name is not None:
            path.append(name)
            name = self.parent[name]
        return path[::-1]

    def allele_states(self, name: str) -> dict[str, str]:
        """Site -> allele where ``name`` differs from the root, by walking root -> node."""
        self._check(name)
        return {site: states[-1] for site, states in self._history(name).items()
                if states[-1] is not None}

    def _history(self, name: str) -> dict[str, tuple]:
        """Per site, its states in turn on the path root -> ``name`` (see ``_apply_mutation``).

        Cached per node, so the profiles of many nodes cost about one walk of the tree.
        """
        if name not in self._histories:
            parent = self.parent[name]
            history = dict(self._history(parent)) if parent is not None else {}
            for text in self.mutations[name]:
                _apply_mutation(history, parse_variant(text))
            self._histories[name] = history
        return self._histories[name]

    def profile(self, name: str) -> set[str]:
        """Variants of haplogroup ``name`` relative to the tree's root (see module notation)."""
        return {f"{site}{allele}" for site, allele in self.allele_states(name).items()}

    def _check(self, name):
        if name not in self.parent:
            raise KeyError(f"haplogroup {name!r} is not in the tree rooted at {self.root}")


def _apply_mutation(history: dict[str, tuple], variant: Variant | None):
    """Apply one branch mutation to the per-site state sequences (rules in the module docstring).

    A site's sequence lists its state after each change on the path; ``None`` is the root's
    allele, which the trees never spell out.
    """
    if variant is None:
        return
    states = history.get(variant.site, ())
    current = states[-1] if states else None
    if variant.back and states:
        new = states[-2] if len(states) > 1 else None  # undo the latest change
    else:
        # a plain mutation, or a back-mutation with nothing to undo on this path (the trees
        # have a few): the site takes the written allele
        new = variant.allele
    if new != current:
        history[variant.site] = states + (new,)


def load_phylotree(path) -> PhyloTree:
    """Parse a PhyloTree XML (nested ``haplogroup[@name]`` with ``details/poly`` children)."""
    path = _existing_file(path, "a PhyloTree XML such as phylotree-rsrs-17.0.xml (haplogrep3 "
                                "tree files)")
    document = ET.parse(path).getroot()
    top = document.findall("haplogroup")
    if len(top) != 1:
        raise ValueError(f"{path}: expected one top-level <haplogroup>, found {len(top)}")
    parent, children, level, mutations = {}, {}, {}, {}
    stack = [(top[0], None)]
    while stack:
        element, parent_name = stack.pop()
        name = element.get("name", "").strip()  # some names carry trailing blanks
        if not name or name in parent:
            raise ValueError(f"{path}: haplogroup name {name!r} is empty or repeated")
        parent[name] = parent_name
        children[name] = []
        level[name] = 0 if parent_name is None else level[parent_name] + 1
        mutations[name] = [poly.text.strip() for poly in element.findall("details/poly")
                           if poly.text and poly.text.strip()]
        if parent_name is not None:
            children[parent_name].append(name)
        # reversed so that popping visits children in document order
        stack.extend((child, name) for child in reversed(element.findall("haplogroup")))
    return PhyloTree(top[0].get("name").strip(), parent, children, level, mutations)


def reference_of(tree: PhyloTree) -> str:
    """``"rsrs"`` or ``"rcrs"`` for the two PhyloTree rootings, else the root's name."""
    if tree.root.replace("-", "") == "mtMRCA":
        return "rsrs"
    return "rcrs" if tree.root == RCRS_HAPLOGROUP else tree.root


def find_rsrs_node(tree: PhyloTree) -> str:
    """Name of the RSRS node (``mtMRCA``; ``mt-MRCA`` in the FU rCRS tree)."""
    for name in ("mtMRCA", "mt-MRCA"):
        if name in tree:
            return name
    raise KeyError(f"no mtMRCA (RSRS) node in the tree rooted at {tree.root}")


# --------------------------------------------------------------------------------------------
# Re-expression between the references
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReferenceShift:
    """The sites where rCRS and RSRS differ, with each reference's allele there.

    rCRS alleles come from the profile of H2a2a1 in the RSRS tree, RSRS alleles from the profile of
    mtMRCA in the rCRS tree; both trees must name the same sites.
    """

    rsrs_alleles: dict[str, str]
    rcrs_alleles: dict[str, str]

    @classmethod
    def from_trees(cls, rsrs_tree: PhyloTree, rcrs_tree: PhyloTree) -> ReferenceShift:
        if reference_of(rsrs_tree) != "rsrs" or reference_of(rcrs_tree) != "rcrs":
            raise ValueError(f"expected an RSRS-rooted and an {RCRS_HAPLOGROUP}-rooted tree, got "
                             f"roots {rsrs_tree.root} and {rcrs_tree.root}")
        rcrs_alleles = rsrs_tree.allele_states(RCRS_HAPLOGROUP)
        rsrs_alleles = rcrs_tree.allele_states(find_rsrs_node(rcrs_tree))
        if set(rcrs_alleles) != set(rsrs_alleles):
            raise ValueError("the two trees disagree on where rCRS and RSRS differ: "
                             f"{sort_variants(set(rcrs_alleles) ^ set(rsrs_alleles))}")
        return cls(rsrs_alleles, rcrs_alleles)

    def convert(self, variants, from_ref: str, to_ref: str) -> list[str]:
        """Re-express a variant list; see :func:`reexpress`."""
        check_reference(from_ref)
        check_reference(to_ref)
        if from_ref == to_ref:
            return sort_variants(variants)
        target = self.rsrs_alleles if to_ref == "rsrs" else self.rcrs_alleles
        source = self.rcrs_alleles if to_ref == "rsrs" else self.rsrs_alleles
        # sites away from the reference difference keep their call; the source reference's own
        # alleles are the starting point at the differing sites
        alleles = dict(source)
        kept_as_is = []
        for text in variants:
            variant = parse_variant(text)
            if variant is None:
                kept_as_is.append(text)
            else:
                alleles[variant.site] = variant.allele
        differing = [f"{site}{allele}" for site, allele in alleles.items()
                     if target.get(site) != allele]
        return sort_variants(differing + kept_as_is)


def check_reference(name: str):
    if name not in REFERENCES:
        raise ValueError(f"reference must be one of {REFERENCES}, got {name!r}")


def reexpress(variants, from_ref: str = "rcrs", to_ref: str = "rsrs", *,
              rsrs_tree: PhyloTree, rcrs_tree: PhyloTree) -> list[str]:
    """Re-express a sample's variants relative to the other reference.

    At a site where the two references agree, the call is unchanged. At a site where they differ,
    the sample's allele is its call there, or else the source reference's allele; it is listed
    if it differs from the target reference's allele. This is the symmetric difference of the
    sample's and the reference's variant sets, made exact at triallelic sites by the alleles the
    two trees give. Strings that are not definite variants (``16311Y``) pass through unchanged.
    Returns the variants in genome order. Check on the real trees: RSRS-tree profiles re-expressed
    to rCRS equal the FU rCRS tree's own profiles for 98% of the haplogroups both name (the rest
    differ between the two tree builds).
    """
    return ReferenceShift.from_trees(rsrs_tree, rcrs_tree).convert(variants, from_ref, to_ref)


def reexpress_table(table: pd.DataFrame, from_ref: str = "rcrs", to_ref: str = "rsrs", *,
                    rsrs_tree: PhyloTree, rcrs_tree: PhyloTree) -> pd.DataFrame:
    """Copy of ``table`` with ``Input_Sample`` re-expressed (see :func:`reexpress`).

    ``table.attrs["reference"]`` records the new reference.
    """
    shift = ReferenceShift.from_trees(rsrs_tree, rcrs_tree)
    result = table.copy()
    result["Input_Sample"] = [shift.convert(v, from_ref, to_ref) for v in table["Input_Sample"]]
    result.attrs["reference"] = to_ref
    return result


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
