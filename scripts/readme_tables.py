"""Write the README's headline tables from the committed CSVs in ``results/paper/``.

Each headline table in README.md sits between ``<!-- table: NAME -->`` and ``<!-- /table -->``,
where NAME is a table of :data:`LAYOUTS` (``results/paper/NAME.csv`` with its ``_vs_paper.csv``).
This script rewrites what lies between the markers, so every number in those tables is read from
a committed file; the prose around them is written by hand.

    python scripts/readme_tables.py           # rewrite README.md's tables
    python scripts/readme_tables.py --check   # exit 1 when they differ from the CSVs

Cells are ``train / test``, each ``mean ± std`` over seeds (``mean`` alone for one seed or a
published value without std); "—" where a value does not exist.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import pandas as pd

from rgdkit.files.atomic import write_atomically

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "results" / "paper"
README = ROOT / "README.md"
MISSING = "—"

# per table: the column headers after "model", and per metric the two header cells (ours, paper)
_PEARSON = {"metrics": ["pearson"], "headers": ["ours, train / test", "paper, train / test"]}
LAYOUTS = {
    "branching_table2": _PEARSON,
    "cellcycle_table1": {"metrics": ["pearson"],
                         "headers": ["ours, train / test", "paper (fibroblasts), train / test"]},
    **{f"hmtdna_{reference}_table3": {
        "metrics": ["pearson", "spearman", "f1"],
        "headers": ["Pearson, ours", "paper", "Spearman, ours", "paper", "F1, ours", "paper"]}
       for reference in ("rcrs", "rsrs")},
}
MARKERS = re.compile(r"(<!-- table: (?P<name>[\w]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)


def value(mean, std=math.nan):
    """``mean ± std`` to two decimals, ``mean`` alone when std is missing, "—" without a mean."""
    if mean is None or pd.isna(mean):
        return MISSING
    return f"{mean:.2f}" if std is None or pd.isna(std) else f"{mean:.2f} ± {std:.2f}"


def pair(train, test):
    """``train / test``, or "—" when neither exists."""
    return MISSING if train == test == MISSING else f"{train} / {test}"


def markdown_table(name, folder=COMMITTED):
    """The headline table of ``folder/name.csv`` and its ``_vs_paper.csv`` as Markdown lines."""
    layout = LAYOUTS[name]
    ours = pd.read_csv(folder / f"{name}.csv")
    published = pd.read_csv(folder / f"{name}_vs_paper.csv").set_index(["model", "metric"])
    lines = ["| model | " + " | ".join(layout["headers"]) + " |",
             "|---" * (1 + len(layout["headers"])) + "|"]
    for row in ours.itertuples(index=False):
        cells, one_seed = [row.model], row.n_seeds == 1  # no spread over one seed
        for metric in layout["metrics"]:
            cells.append(pair(*(value(getattr(row, f"{split}_{metric}_mean"),
                                      None if one_seed else getattr(row, f"{split}_{metric}_std"))
                                for split in ("train", "test"))))
            cells.append(pair(*(_published(published, row.model, f"{split}_{metric}")
                                for split in ("train", "test"))))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _published(published, model, metric):
    if (model, metric) not in published.index:
        return MISSING
    entry = published.loc[(model, metric)]
    return value(entry["paper"], entry["paper_std"])


def rewrite(text, folder=COMMITTED):
    """``text`` with every marked table rewritten from ``folder``; KeyError for an unknown name."""
    def table(match):
        if match["name"] not in LAYOUTS:
            raise KeyError(f"README marks a table {match['name']!r}; known: {', '.join(LAYOUTS)}")
        return match.group(1) + markdown_table(match["name"], folder) + match.group(4)
    return MARKERS.sub(table, text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 when README.md's tables differ from the CSVs")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    new = rewrite(text)
    if args.check:
        if new != text:
            print("README.md's headline tables differ from results/paper/: run "
                  "python scripts/readme_tables.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        write_atomically(README, lambda temporary: Path(temporary).write_text(new, encoding="utf-8"))
    print(f"{len(MARKERS.findall(text))} table(s) written to {README.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
