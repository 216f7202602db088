"""Where a genome was sampled: country -> continent, for colouring the hmtDNA embeddings.

The GenBank table (``data/README.md``) names a ``Country`` for 3,565 of its 18,567 genomes and a
sub-national ``Region`` for 561. :func:`continent_of` maps them to one of :data:`CONTINENTS`, or
to :data:`UNKNOWN` where the country is missing, not in :data:`COUNTRY_CONTINENT`, or spans two
continents with no region that decides. :func:`add_continent` adds the result as a column.

Rules, kept small on purpose (this is a label for plots, not a gazetteer):

- the usual continents of the UN geoscheme, with the Americas split at Panama (Mexico, the
  Caribbean and Greenland are North America) and the Arabian Peninsula, Anatolia, the Levant
  and Taiwan in Asia; Egypt is Africa;
- a transcontinental country goes where nearly all of its people live (Turkey and Kazakhstan:
  Asia; Indonesia: Asia), except Russia, whose people are split: its genomes are Asia when the
  Region names Siberia or a region east of the Urals, Europe when it names a region west of
  them, and :data:`UNKNOWN` without such a region.
"""
from __future__ import annotations

import pandas as pd

AFRICA, EUROPE, ASIA, OCEANIA = "Africa", "Europe", "Asia", "Oceania"
NORTH_AMERICA, SOUTH_AMERICA = "North America", "South America"
CONTINENTS = (AFRICA, EUROPE, ASIA, OCEANIA, NORTH_AMERICA, SOUTH_AMERICA)
UNKNOWN = "unknown"  # missing country, a country not listed, or Russia with no deciding region

# Every country in the GenBank table's Country column (spelled as there), plus a few other
# spellings of the same countries
COUNTRY_CONTINENT = {
    **dict.fromkeys(["Egypt", "Ethiopia", "Libya", "Madagascar", "Mauritania", "Morocco",
                     "Nigeria", "Tanzania", "Tunisia"], AFRICA),
    **dict.fromkeys(["Belarus", "Czech Republic", "Czechia", "Finland", "Germany", "Italy",
                     "Poland", "Slovakia", "Spain", "Sweden", "United Kingdom", "UK"], EUROPE),
    **dict.fromkeys(["Cambodia", "China", "India", "Indonesia", "Japan", "Jordan", "Kazakhstan",
                     "Lebanon", "Mongolia", "Nepal", "Pakistan", "Philippines", "Saudi Arabia",
                     "South Korea", "Taiwan", "Thailand", "Turkey", "Viet Nam", "Vietnam",
                     "Yemen"], ASIA),
    **dict.fromkeys(["Australia", "Papua New Guinea", "Solomon Islands"], OCEANIA),
    **dict.fromkeys(["USA", "United States", "Mexico", "Dominican Republic", "Greenland"],
                    NORTH_AMERICA),
    **dict.fromkeys(["Brazil", "Ecuador"], SOUTH_AMERICA),
    "Russia": UNKNOWN,  # decided by the Region (see RUSSIAN_REGION_CONTINENT)
}

# Words in a Russian Region that place it: east of the Urals (Asia) or west of them (Europe).
# Covers every Russian Region in the GenBank table; checked as case-insensitive substrings.
RUSSIAN_REGION_CONTINENT = {
    **dict.fromkeys(["siberia", "altai", "amur", "tuva", "sakha", "yakut", "buryat", "chukot",
                     "kamchatka"], ASIA),
    **dict.fromkeys(["ossetia", "novgorod", "belgorod", "kalmyk", "volga", "northwestern",
                     "moscow", "caucasus"], EUROPE),
}


def continent_of(country, region="") -> str:
    """Continent of a ``country`` (GenBank spelling) and optional sub-national ``region``.

    One of :data:`CONTINENTS`, or :data:`UNKNOWN` for a missing or unlisted country and for
    Russia when the region does not place it (see the module docstring).
    ``continent_of("Nigeria")`` is ``"Africa"``; ``continent_of("Russia", "Central Siberia")``
    is ``"Asia"``.
    """
    name = _text(country)
    if name == "Russia":
        return _russian_continent(_text(region))
    return COUNTRY_CONTINENT.get(name, UNKNOWN)


def add_continent(table: pd.DataFrame, country_column="Country", region_column="Region",
                  column="continent") -> pd.DataFrame:
    """Copy of ``table`` with a ``continent`` column from its Country (and Region, if any).

    Raises KeyError when the table has no ``country_column``. Prints the countries that map to
    :data:`UNKNOWN` although they are named, so an unlisted spelling is noticed.
    """
    if country_column not in table:
        raise KeyError(f"the table has no {country_column!r} column (columns: "
                       f"{list(table.columns)}); a continent needs the sampling country")
    regions = table[region_column] if region_column in table else pd.Series("", index=table.index)
    result = table.copy()
    result[column] = [continent_of(c, r) for c, r in zip(table[country_column], regions)]
    unplaced = sorted({_text(c) for c, k in zip(table[country_column], result[column])
                       if k == UNKNOWN and _text(c) and _text(c) != "Russia"})
    if unplaced:
        print(f"data: countries with no continent in geography.COUNTRY_CONTINENT: {unplaced}")
    return result


def _russian_continent(region: str) -> str:
    lowered = region.lower()
    for word, continent in RUSSIAN_REGION_CONTINENT.items():
        if word in lowered:
            return continent
    return UNKNOWN


def _text(value) -> str:
    """A cell as stripped text; missing values (None, NaN) are ""."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value).strip()
