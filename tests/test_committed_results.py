"""The committed paper-profile tables under results/paper/: the issue's schema, every paper row
with the paper's seeds, and the numbers of README.md and docs/ taken from them (not typed in by
hand)."""
import importlib.util

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from rgdkit.experiments import paper

COMMITTED = ROOT / "results" / "paper"
PAPER_TABLES = sorted(p for p in COMMITTED.glob("*.csv") if p.stem in paper.TABLES)
README = (ROOT / "README.md").read_text(encoding="utf-8")
DIFFERENCES = ROOT / "docs" / "differences.md"


def assert_shows(cells, text=README, name="README.md"):
    missing = [cell for cell in cells if cell not in text]
    assert not missing, f"{name} lacks {missing}"


def differences_page():
    return DIFFERENCES.read_text(encoding="utf-8")


def test_the_paper_profile_tables_are_committed():
    assert {"branching_table2", "cellcycle_table1"} <= {p.stem for p in PAPER_TABLES}


@pytest.mark.parametrize("path", PAPER_TABLES, ids=lambda p: p.stem)
def test_committed_table_has_every_paper_row_and_column(path):
    table, frame = paper.table(path.stem), pd.read_csv(path)
    columns = ["model", "in_paper", "n_seeds"] + [f"{c}_{s}" for c in table.columns()
                                                  for s in ("mean", "std")]
    assert list(frame.columns[:len(columns)]) == columns
    rows = frame[frame.in_paper]
    assert rows.model.tolist() == table.labels()
    assert (rows.n_seeds == len(table.seeds)).all()
    assert np.isfinite(rows[columns[3:]].to_numpy(float)).all()
    assert not frame[~frame.in_paper].model.isin(table.labels()).any()


def pearson_cell(row):
    """Train / test Pearson as the README prints them: mean ± std, the std only over seeds."""
    def one(split):
        text = f"{row[f'{split}_pearson_mean']:.2f}"
        return text + (f" ± {row[f'{split}_pearson_std']:.2f}" if row["n_seeds"] > 1 else "")
    return f"{one('train')} / {one('test')}"


@pytest.mark.parametrize("path", PAPER_TABLES, ids=lambda p: p.stem)
def test_readme_shows_the_committed_pearsons_of_every_row(path):
    missing = [f"{row['model']}: {pearson_cell(row)}" for _, row in pd.read_csv(path).iterrows()
               if f"| {row['model']} | {pearson_cell(row)} |" not in README]
    assert not missing, f"README.md lacks (or rounds differently) {missing}"


def paper_cell(published, split):
    row = published[published.metric == f"{split}_pearson"].iloc[0]
    return f"{row.paper:.2f}" + ("" if pd.isna(row.paper_std) else f" ± {row.paper_std:.2f}")


@pytest.mark.parametrize("path", PAPER_TABLES, ids=lambda p: p.stem)
def test_readme_shows_the_papers_pearsons_beside_ours(path):
    """Each paper row's headline cells: ours, then the paper's values as the committed
    <table>_vs_paper.csv holds them."""
    versus = pd.read_csv(path.with_name(f"{path.stem}_vs_paper.csv"))
    cells = [f"| {row['model']} | {pearson_cell(row)} | "
             f"{paper_cell(versus[versus.model == row['model']], 'train')} / "
             f"{paper_cell(versus[versus.model == row['model']], 'test')} |"
             for _, row in pd.read_csv(path).iterrows() if row["in_paper"]]
    assert len(cells) == len(paper.table(path.stem).labels())
    assert_shows(cells)


def test_readme_links_every_headline_csv_and_docs_page():
    for path in PAPER_TABLES:
        assert f"](results/paper/{path.name})" in README
    for page in ("api", "own_data", "results", "differences", "benchmarks", "data", "reliability"):
        assert f"](docs/{page}.md)" in README
        assert (ROOT / "docs" / f"{page}.md").is_file()


def test_readme_fits_on_220_lines():
    assert len(README.splitlines()) <= 220


@pytest.mark.skipif(not (COMMITTED / "differences.csv").exists(),
                    reason="the branching differences are not committed yet")
def test_differences_page_shows_the_committed_effect_of_every_difference():
    frame = pd.read_csv(COMMITTED / "differences.csv")
    cells = [f"{r.train_pearson_mean:.2f} ± {r.train_pearson_std:.2f} "
             f"({r.train_pearson_change:+.2f})" for r in frame.itertuples() if r.difference != "ours"]
    cells += [f"| none (ours) | {r.train_pearson_mean:.2f} ± {r.train_pearson_std:.2f} |"
              for r in frame.itertuples() if r.difference == "ours" and r.row.startswith("H²")]
    assert_shows(cells, differences_page(), "docs/differences.md")


@pytest.mark.skipif(not (COMMITTED / "noise_gradient_table2.csv").exists(),
                    reason="the noise-gradient check of Table 2 is not committed yet")
def test_differences_page_shows_table2_with_either_noise_gradient_as_committed():
    frame = pd.read_csv(COMMITTED / "noise_gradient_table2.csv")
    cell = {(r.row, r.gradient): f"{r.train_pearson_mean:.2f} ± {r.train_pearson_std:.2f} / "
                                 f"{r.train_mse_mean:.3f}" for r in frame.itertuples()}
    rows = [f"| {row} | {cell[row, 'fixed']} | {cell[row, 'pathwise']} |"
            for row in frame.row.unique()]
    assert len(rows) == 4
    assert_shows(rows, differences_page(), "docs/differences.md")


@pytest.mark.skipif(not (COMMITTED / "hmtdna_protocol_differences.csv").exists(),
                    reason="the hmtDNA protocol table is not committed yet")
def test_differences_page_shows_the_committed_hmtdna_protocol_table():
    frame = pd.read_csv(COMMITTED / "hmtdna_protocol_differences.csv")
    assert (frame.n_seeds == 3).all() and len(frame) == 12
    cells = [f"| {r.spearman_mean:.2f} ± {r.spearman_std:.2f} | {r.first_letter_accuracy_mean:.2f}"
             f" ± {r.first_letter_accuracy_std:.2f} |" for r in frame.itertuples()]
    assert_shows(cells, differences_page(), "docs/differences.md")


def test_readme_headline_tables_are_written_from_the_committed_csvs():
    """scripts/readme_tables.py rewrites the marked tables; the README must already be that."""
    spec = importlib.util.spec_from_file_location("readme_tables",
                                                  ROOT / "scripts" / "readme_tables.py")
    readme_tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(readme_tables)
    assert README.count("<!-- table: ") == len(readme_tables.LAYOUTS)
    assert readme_tables.rewrite(README) == README, "run python scripts/readme_tables.py"
    with pytest.raises(KeyError, match="known: branching_table2"):
        readme_tables.rewrite("<!-- table: table9 -->\n| x |\n<!-- /table -->")
