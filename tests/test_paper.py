"""The one source of truth for the paper's experiments: rows, settings, numbers, saved tables."""
import numpy as np
import pandas as pd
import pytest

from rgdkit.experiments import paper


def test_table2_baselines_are_trained_without_noise_and_h2_rows_with_theirs():
    rows = paper.table("branching_table2").models()
    assert rows["R²"] == {"manifold": "euclidean", "noise_std": 0.0}
    assert rows["S²"] == {"manifold": "sphere", "noise_std": 0.0}
    for sigma in (0.1, 0.5, 1.0, 2.0):
        assert rows[f"H² σ={sigma}"] == {"manifold": "lorentz", "curvature": 5.0, "noise_std": sigma}
    assert rows["P-VAE B² c=1.2"]["curvature"] == 1.2
    assert list(paper.table("branching_table2").models("pvae")) == ["P-VAE B² c=1.2"]
    assert "P-VAE B² c=1.2" not in paper.table("branching_table2").models("rgd")


def test_table1_models_use_no_noise_and_table3_uses_bce():
    table1 = paper.table("cellcycle_table1")
    assert table1.training["noise_std"] == 0.0
    assert list(table1.models("rgd")) == ["S²", "torus", "R²", "R³"]
    vaes = {"S-VAE sphere": ("svae", None), "ΔVAE sphere": ("deltavae", "sphere"),
            "ΔVAE torus": ("deltavae", "torus")}
    assert {label: (s["estimator"], s.get("manifold")) for label, s in table1.models().items()
            if label not in table1.models("rgd")} == vaes
    for reference in ("rsrs", "rcrs"):
        table3 = paper.HMTDNA_TABLE3[reference]
        assert table3.training["loss"] == "bce" and len(table3.seeds) == 3
        assert table3.labels() == ["H² σ=0.1", "H² σ=0.5", "R²"]


@pytest.mark.parametrize("name", sorted(paper.TABLES))
def test_published_values_are_metrics_of_the_table(name):
    table = paper.table(name)
    for row in table.rows:
        for key, value in row.published.items():
            assert key.removesuffix("_std") in table.columns(), (row.label, key)
            assert -1 <= value <= 1 or "mse" in key or "mae" in key or "bce" in key


def test_unknown_table_names_the_known_ones():
    with pytest.raises(KeyError, match="branching_table2"):
        paper.table("table9")


def records(n_seeds=3):
    rng = np.random.default_rng(0)
    out = []
    for model in ("UMAP", "H² σ=1.0", "R²"):
        for seed in range(n_seeds):
            out.append({"model": model, "seed": seed, **{c: rng.uniform() for c in
                                                         paper.table("branching_table2").columns()}})
    return out


def test_paper_frame_puts_the_papers_rows_first_and_marks_ours():
    frame = paper.paper_table_frame(records(), paper.table("branching_table2"))
    assert frame.model.tolist() == ["R²", "H² σ=1.0", "UMAP"]
    assert frame.in_paper.tolist() == [True, True, False] and (frame.n_seeds == 3).all()
    values = pd.DataFrame(records())
    expected = values[values.model == "R²"].train_pearson
    assert frame.loc[0, "train_pearson_mean"] == pytest.approx(expected.mean())
    assert frame.loc[0, "train_pearson_std"] == pytest.approx(expected.std(ddof=0))


def test_comparison_lists_every_published_value_with_the_difference():
    table = paper.table("branching_table2")
    frame = paper.paper_table_frame(records(), table)
    beside = paper.comparison(frame, table)
    published = [(row.label, k) for row in table.rows for k in row.published if not k.endswith("_std")]
    assert list(zip(beside.model, beside.metric)) == published
    r2 = beside[(beside.model == "R²") & (beside.metric == "train_pearson")].iloc[0]
    assert r2.difference == pytest.approx(r2.ours - 0.53)
    assert beside[beside.model == "S²"].ours.isna().all()  # not run: no number, said so
    lines = paper.summary_lines(beside)
    assert any(line.startswith("S² train_pearson: not run here") for line in lines)


def test_save_paper_table_writes_results_and_the_paper_copy_only_in_the_paper_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("RGD_RESULTS_DIR", str(tmp_path))
    table = paper.table("branching_table2")
    paper.save_paper_table(records(), table, "fast")
    assert (tmp_path / "branching_table2.csv").exists() and not (tmp_path / "paper").exists()
    paper.save_paper_table(records(n_seeds=5), table, "paper")
    saved = pd.read_csv(tmp_path / "paper" / "branching_table2.csv")
    assert list(saved.columns[:3]) == ["model", "in_paper", "n_seeds"]
    assert (tmp_path / "paper" / "branching_table2_vs_paper.csv").exists()


def test_a_paper_profile_table_without_the_papers_seeds_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("RGD_RESULTS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match=r"have \[3, 3\] seeds, the paper 5"):
        paper.save_paper_table(records(n_seeds=3), paper.table("branching_table2"), "paper")
    assert not (tmp_path / "paper").exists()


def test_table3_r2_paper_row_is_the_authors_protocol_and_ours_is_a_row_of_ours():
    for table in paper.HMTDNA_TABLE3.values():
        assert table.models()["R²"]["switches"] == "hmtdna_r2_paper"
    (ours,) = paper.HMTDNA_OURS_ROWS.values()
    assert "switches" not in ours and ours["manifold"] == "euclidean"
    assert not set(paper.HMTDNA_OURS_ROWS) & set(paper.HMTDNA_TABLE3["rsrs"].labels())


def test_constant_columns_follow_n_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("RGD_RESULTS_DIR", str(tmp_path))
    table = paper.HMTDNA_TABLE3["rsrs"]
    records = [{"model": "R²", "seed": s, "train_pearson": 0.1 * s} for s in (0, 1, 2)]
    frame, _ = paper.save_paper_table(records, table, "fast", constants={"n_genomes": 8000})
    assert list(frame.columns[:4]) == ["model", "in_paper", "n_seeds", "n_genomes"]
    saved = pd.read_csv(tmp_path / f"{table.name}.csv")
    assert saved["n_genomes"].tolist() == [8000]


def test_saved_tables_name_the_commit_that_made_them(tmp_path, monkeypatch):
    from rgdkit.experiments import report

    monkeypatch.setenv("RGD_RESULTS_DIR", str(tmp_path))
    monkeypatch.setattr(paper, "code_version", lambda: "0123456789ab + uncommitted changes")
    paper.save_profile_table(pd.DataFrame({"x": [1.0, 2.0]}, index=["a", "b"]), "t", "paper")
    for folder in (tmp_path, tmp_path / "paper"):
        saved = pd.read_csv(folder / "t.csv")
        assert saved.columns[-1] == "code"
        assert set(saved["code"]) == {"0123456789ab + uncommitted changes"}
    assert report.code_version().split()[0] != "unknown"  # this checkout is a git repository


def test_rows_of_ours_in_extra_order_come_once_after_the_papers():
    table = paper.HMTDNA_TABLE3["rsrs"]
    records = [{"model": m, "seed": 0, "train_pearson": 0.1}
               for m in ("UMAP", "R² N(0, I) prior (ours)", "R²", "H² σ=0.5")]
    frame = paper.paper_table_frame(records, table, extra_order=["R² N(0, I) prior (ours)", "UMAP"])
    assert frame["model"].tolist() == ["H² σ=0.5", "R²", "R² N(0, I) prior (ours)", "UMAP"]
