"""scripts/branching_differences.py: which fits it plans, its table, and where it writes."""
import pandas as pd
import pytest

from conftest import load_script

D = load_script("branching_differences")


def test_plan_skips_the_prior_switch_on_h2_only():
    fits = D.plan(["H² σ=1.0", "R²"], ["ours", "prior"], [0, 1])
    assert ("R²", "prior", 1) in fits and ("H² σ=1.0", "ours", 0) in fits
    assert not [f for f in fits if f[0] == "H² σ=1.0" and f[1] == "prior"]
    assert len(fits) == 6


def test_summary_gives_each_difference_its_change_from_ours_of_the_same_row():
    records = [dict(row=row, difference=name, seed=seed, train_pearson=base + shift + 0.01 * seed,
                    train_spearman=0.5, train_mse=0.1)
               for row, base in (("R²", 0.4), ("H² σ=1.0", 0.8))
               for name, shift in (("ours", 0.0), ("activation", -0.1)) for seed in (0, 1)]
    table = D.summary_table(records)
    assert table.loc[("R²", "activation"), "train_pearson_change"] == pytest.approx(-0.1)
    assert table.loc[("H² σ=1.0", "ours"), "train_pearson_change"] == pytest.approx(0.0)
    assert table.loc[("H² σ=1.0", "ours"), "train_pearson_mean"] == pytest.approx(0.805)
    assert table.loc[("R²", "ours"), "train_pearson_std"] == pytest.approx(0.005)
    assert (table["n_seeds"] == 2).all()


def test_rows_beyond_the_default_two_are_a_check_not_the_full_table():
    args = D.parse_args(["--rows", "H² σ=0.5", "H² σ=1.0", "R²"])
    assert args.rows == ["H² σ=0.5", "H² σ=1.0", "R²"] and not D.is_full_run(args)
    assert D.is_full_run(D.parse_args([]))
    with pytest.raises(SystemExit):
        D.parse_args(["--rows", "H² σ=0.7"])


def test_every_variant_is_measured_from_the_fixed_noise_gradient(monkeypatch):
    # the table's "ours" is the baseline it was measured from, whatever the estimator's default
    built = []

    class Built(Exception):
        pass

    def record(switches, **params):
        built.append((switches, params))
        raise Built

    monkeypatch.setattr(D.AC, "SwitchedDecoder", record)
    for name in ("ours", "noise_gradient"):
        with pytest.raises(Built):
            D.fit_variant("H² σ=1.0", name, 0, None, None, (None, None, None), 2)
    assert [params["noise_gradient"] for _, params in built] == ["fixed", "fixed"]
    assert [switches.noise_gradient for switches, _ in built] == [False, True]


def test_reduced_run_writes_to_results_only(tmp_path, small_tree_data, capsys):
    assert D.main(["--seeds", "0", "--epochs", "2", "--rows", "R²", "--variants", "ours",
                   "prior", "--workers", "1"]) == 0
    table = pd.read_csv(tmp_path / f"{D.TABLE}.csv")
    assert table["difference"].tolist() == ["ours", "prior"]
    assert table["train_pearson_mean"].abs().le(1).all() and (table["train_mse_mean"] > 0).all()
    assert table.loc[0, "train_pearson_change"] == 0
    assert len(pd.read_csv(tmp_path / f"{D.FITS}.csv")) == 2
    assert not (tmp_path / "paper").exists()
    assert "reduced settings" in capsys.readouterr().out


def test_rerun_keeps_saved_fits_of_the_same_settings_and_fits_the_rest(tmp_path, small_tree_data,
                                                                         capsys):
    def run(*extra):
        D.main(["--seeds", "0", "--epochs", "2", "--rows", "R²", "--workers", "1", *extra])
        return capsys.readouterr().out

    run("--variants", "ours")
    first = pd.read_csv(tmp_path / f"{D.FITS}.csv")
    assert "1 fits in" in run("--variants", "ours", "prior")
    both = pd.read_csv(tmp_path / f"{D.FITS}.csv").set_index("difference")
    assert both.loc["ours", "fit_seconds"] == first.loc[0, "fit_seconds"]  # kept, not refitted
    assert "2 fits in" in run("--variants", "ours", "prior", "--restart")
    assert "1 fits in" in run("--variants", "ours", "--epochs", "3")
    assert len(pd.read_csv(tmp_path / f"{D.FITS}.csv")) == 3  # other settings' fits stay


def test_only_the_issue_settings_write_results_paper():
    assert D.is_full_run(D.parse_args([]))
    for reduced in (["--epochs", "20"], ["--seeds", "0"], ["--rows", "R²"],
                    ["--variants", "ours", "prior"]):
        assert not D.is_full_run(D.parse_args(reduced))
