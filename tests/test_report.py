"""The first output of every notebook: profile, data, machine, and no machine paths."""
from pathlib import Path

import pytest

from rgdkit.experiments import report

ROOT = Path(__file__).resolve().parents[1]


def test_header_names_profile_and_data_without_the_machine_path(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RGD_RESULTS_DIR", str(tmp_path))
    data = ROOT.parent / "shared" / "data" / "branching" / "tensordataset.npz"
    assert report.header("paper", f"{data} (6350 x 50)", reference="RSRS") == tmp_path
    line = capsys.readouterr().out
    assert line.startswith("profile: paper | data: shared/data/branching/tensordataset.npz (6350 x 50)")
    assert "reference: RSRS" in line and str(ROOT.parent) + "/" not in line


def test_header_refuses_an_unknown_profile():
    with pytest.raises(ValueError, match="unknown profile 'quick'"):
        report.header("quick", "data")
