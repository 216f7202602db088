"""scripts/pvae_settings.py: one row per setting, seeds pooled, the table saved under results/."""
import numpy as np
import pandas as pd

from rgdkit.data import branching
from conftest import load_script


def test_settings_table_pools_seeds_per_setting(tmp_path, monkeypatch, capsys):
    data, labels = branching.simulate_branching_diffusion(dim=8, depth=3, n_siblings=12)
    np.savez(tmp_path / "small.npz", data=data, labels=labels)
    monkeypatch.setenv("RGD_RESULTS_DIR", str(tmp_path))
    assert load_script("pvae_settings").main(["--data", str(tmp_path / "small.npz"), "--seeds", "0", "1",
                               "--variants", "at most 10 epochs", "at most 50 epochs"]) == 0
    table = pd.read_csv(tmp_path / "pvae_settings.csv", index_col=0)
    assert list(table.index) == ["at most 10 epochs", "at most 50 epochs"]
    assert list(table["n_seeds"]) == [2, 2]
    assert table.loc["at most 10 epochs", "epochs_run"] == "10.00 ± 0.00"
    assert (table[["nan_epochs", "boundary_projections"]] >= 0).all().all()
    assert "at most 10 epochs, seed 1: train r=" in capsys.readouterr().out
