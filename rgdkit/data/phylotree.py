"""PhyloTree: variant strings, the haplogroup tree with each node's variant profile, and re-expression
of variant lists between the two references (rCRS <-> RSRS).

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

import pandas as pd

from rgdkit.data.sources import CorruptDataError, corrupt_file_fix, existing_file

MT_GENOME_LENGTH = 16569  # rCRS length; positions are 1-based
REFERENCES = ("rcrs", "rsrs")
RCRS_HAPLOGROUP = "H2a2a1"  # the rCRS sequence sits at this node of the RSRS-rooted tree


_VARIANT = re.compile(r"^(?P<position>\d+)(?:\.(?P<insertion>\d+|X))?(?P<allele>[ACGT]+|d)"
                      r"(?P<back>!*)$")


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
    path = existing_file(path, "a PhyloTree XML such as phylotree-rsrs-17.0.xml (haplogrep3 "
                                "tree files)")
    try:
        document = ET.parse(path).getroot()
    except ET.ParseError as err:  # empty, truncated or not XML
        raise CorruptDataError(f"{path} is not a complete PhyloTree XML ({err}); "
                               f"{corrupt_file_fix(path)} (haplogrep3's tree files, or "
                               "data/hmtdna/ in this repository)") from err
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
