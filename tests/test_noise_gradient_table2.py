"""scripts/noise_gradient_table2.py: which rows it fits, its table, and where it writes."""
import pandas as pd
import pytest

from conftest import load_script

G = load_script("noise_gradient_table2")


def test_it_fits_the_four_hyperbolic_rows_of_table2():
    rows = G.hyperbolic_rows()
    assert list(rows) == ["H² σ=0.1", "H² σ=0.5", "H² σ=1.0", "H² σ=2.0"]
    assert [params["noise_std"] for params in rows.values()] == [0.1, 0.5, 1.0, 2.0]


def test_summary_gives_each_gradient_its_change_from_fixed_of_the_same_row():
    records = [dict(row=row, gradient=gradient, seed=seed, train_pearson=base + shift + 0.01 * seed,
                    train_spearman=0.5, train_mse=0.4 - shift)
               for row, base in (("H² σ=0.1", 0.4), ("H² σ=1.0", 0.8))
               for gradient, shift in (("fixed", 0.0), ("pathwise", 0.02)) for seed in (0, 1)]
    table = G.summary_table(records)
    assert table.loc[("H² σ=1.0", "pathwise"), "train_pearson_change"] == pytest.approx(0.02)
    assert table.loc[("H² σ=0.1", "pathwise"), "train_mse_change"] == pytest.approx(-0.02)
    assert table.loc[("H² σ=0.1", "fixed"), "train_pearson_change"] == 0
    assert table.loc[("H² σ=0.1", "fixed"), "train_pearson_std"] == pytest.approx(0.005)
    assert (table["n_seeds"] == 2).all()


def test_reduced_run_writes_to_results_only(tmp_path, small_tree_data, capsys):
    assert G.main(["--seeds", "0", "--epochs", "2", "--workers", "1"]) == 0
    table = pd.read_csv(tmp_path / f"{G.TABLE}.csv")
    assert len(table) == 8 and set(table["gradient"]) == {"fixed", "pathwise"}
    assert table["train_pearson_mean"].abs().le(1).all() and (table["train_mse_mean"] > 0).all()
    assert len(pd.read_csv(tmp_path / f"{G.FITS}.csv")) == 8
    assert not (tmp_path / "paper").exists()
    assert "reduced settings" in capsys.readouterr().out
