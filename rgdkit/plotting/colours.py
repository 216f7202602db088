"""Fixed colours for the hmtDNA labels: one colour per label in every figure.

A palette indexed by the categories present in one plot gives a label another colour in the next
plot (haplogroup H brown on one disk, purple on the tree). Here every label of a family has a
colour of its own, whichever labels a figure shows:

- ``"haplogroup"``: every label :func:`rgdkit.data.hmtdna.first_letter_group` returns, coloured
  by macro-lineage family, each family in its own hues with lightness varied inside it: the
  African L lineages in browns and oranges, M and its daughters (C, Z, D, E, G, Q) in greens,
  N and its non-R daughters (A, I, O, S, W, X, Y) in blues, R and its East-Asian and Oceanian
  daughters (B, F, P) in violets, HV, H and V in reds, JT, J and T in pinks, U and K in yellows.
  Hand-checked so that lineages next to each other in PhyloTree (a parent and its daughters,
  sisters) differ clearly (CIE76 ΔE, :func:`colour_difference`; tested in ``tests/test_hmtdna_figures.py``);
- ``"region"`` (:func:`rgdkit.data.hmtdna.region_of`) and ``"continent"``
  (:mod:`rgdkit.data.geography`): one place palette, so Africa has the same colour whether it is
  the region a clade comes from or the continent a genome was sampled in;
- ``"reference"``: the two reference sequences, RSRS and rCRS.

A label a family does not name (``"?"``, ``"unknown"``, a label never seen) is drawn in
:data:`OTHER_COLOUR`, a neutral grey, and named :data:`OTHER` in legends.
"""
from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgb, to_rgba_array
from matplotlib.lines import Line2D

OTHER = "other"
OTHER_COLOUR = "#a3a3a3"

# in PhyloTree order (L, then M and N with their daughters, then R's), which legends follow
HAPLOGROUP_COLOURS = {
    # the African L lineages: browns and oranges ("L": the root and composite ancestors)
    "L": "#3b2414", "L0": "#8c510a", "L1": "#d9a441", "L2": "#f6d8a8", "L3": "#ff7f0e",
    "L4": "#e08a6b", "L5": "#8c6d31", "L6": "#ffbb78",
    # M and its daughters: greens
    "M": "#2ca02c", "C": "#a1d99b", "CZ": "#5b7f1f", "Z": "#00441b", "D": "#006d2c",
    "E": "#d9ef8b", "G": "#78a51e", "Q": "#1b6e4f",
    # N and its daughters outside R: blues
    "N": "#1f77b4", "A": "#9ecae1", "I": "#08306b", "O": "#80deea", "S": "#3f51b5",
    "W": "#17becf", "X": "#00838f", "Y": "#7986cb",
    # R and its East-Asian and Oceanian daughters: violets
    "R": "#6a3d9a", "B": "#b39ddb", "F": "#d05ce3", "P": "#9c27b0",
    # HV, H, V: reds
    "HV": "#fb9a99", "H": "#d62728", "V": "#7f0000",
    # JT, J, T: pinks
    "JT": "#f6c6e0", "J": "#e7298a", "T": "#f48fb1",
    # U and K: yellows
    "U": "#ffd92f", "K": "#a89a00",
}

PLACE_COLOURS = {
    "Africa": "#8c510a", "Europe": "#d62728", "Asia": "#2ca02c", "Oceania": "#17becf",
    "Americas": "#6a3d9a", "North America": "#6a3d9a", "South America": "#e7298a",
}
REFERENCE_COLOURS = {"RSRS": "#1f77b4", "rCRS": "#ff7f0e"}

FAMILIES = {"haplogroup": HAPLOGROUP_COLOURS, "region": PLACE_COLOURS,
            "continent": PLACE_COLOURS, "reference": REFERENCE_COLOURS}


def palette(family: str) -> dict[str, str]:
    """The fixed ``{label: colour}`` of ``family`` (one of :data:`FAMILIES`), in legend order;
    labels that stand for no lineage map to :data:`OTHER_COLOUR`. ValueError for an unknown
    family, naming the known ones."""
    if family not in FAMILIES:
        raise ValueError(f"unknown label family {family!r}; use one of {sorted(FAMILIES)}")
    return FAMILIES[family]


def colour_of(label, family: str) -> str:
    """The colour of ``label`` in ``family``: its fixed colour, :data:`OTHER_COLOUR` when the
    family does not name it."""
    return palette(family).get(str(label), OTHER_COLOUR)


def display_label(label, family: str) -> str:
    """``label`` as legends name it: itself when ``family`` colours it, else :data:`OTHER`."""
    return str(label) if colour_of(label, family) != OTHER_COLOUR else OTHER


def label_colours(labels, family: str) -> np.ndarray:
    """Per-point RGBA colours (N, 4) of the labels (a length-N sequence) in ``family``, to pass
    as ``colors=`` to the scatter plots of :mod:`rgdkit.plotting.figures`."""
    labels = np.asarray(labels, dtype=object).ravel()
    known = palette(family)
    unique, index = np.unique(labels.astype(str), return_inverse=True)
    rgba = to_rgba_array([known.get(label, OTHER_COLOUR) for label in unique]).reshape(-1, 4)
    return rgba[index.ravel()]


def legend_handles(labels, family: str, marker="o") -> list[Line2D]:
    """One legend handle per label present in ``labels``, in the family's order, with one
    :data:`OTHER` handle last for every label the family does not colour."""
    present = {display_label(label, family) for label in np.asarray(labels, dtype=object).ravel()}
    named = [label for label, colour in palette(family).items()
             if label in present and colour != OTHER_COLOUR]
    named += [OTHER] if OTHER in present else []
    return [Line2D([], [], marker=marker, linestyle="", label=label,
                   color=OTHER_COLOUR if label == OTHER else palette(family)[label])
            for label in named]


def colour_difference(first, second) -> float:
    """CIE76 colour difference ΔE between two matplotlib colours: the Euclidean distance of
    their CIELAB coordinates (D65 white). About 2 is just noticeable; 20 and more reads as
    another colour at a glance."""
    return float(np.linalg.norm(_lab(first) - _lab(second)))


def _lab(colour) -> np.ndarray:
    """CIELAB (L*, a*, b*) of a matplotlib colour, from sRGB through linear RGB and XYZ."""
    rgb = np.array(to_rgb(colour))
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    to_xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                       [0.0193, 0.1192, 0.9505]])
    xyz = to_xyz @ linear / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])
