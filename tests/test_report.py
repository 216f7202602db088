"""The first output of every notebook: profile, data, code, machine, and no machine paths."""
import re
import shutil
import subprocess
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
    assert re.search(r"\| code: ([0-9a-f]{12}( \+ uncommitted changes)?|unknown \(not a git "
                     r"checkout\)) \|", line), line


def test_header_refuses_an_unknown_profile():
    with pytest.raises(ValueError, match="PROFILE='quick' is not a profile"):
        report.header("quick", "data")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_code_version_names_the_commit_and_uncommitted_code(tmp_path):
    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c",
                               "user.email=t@t", *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    assert report.code_version(tmp_path) == "unknown (not a git checkout)"
    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "1_A.ipynb").write_text("{}")
    git("add", ".")
    git("commit", "-q", "-m", "first")
    commit = git("rev-parse", "--short=12", "HEAD")
    assert report.code_version(tmp_path) == commit
    # what a run writes does not count: the notebooks themselves and results/
    (tmp_path / "1_A.ipynb").write_text("{ }")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "t.csv").write_text("a\n")
    assert report.code_version(tmp_path) == commit
    (tmp_path / "code.py").write_text("x = 2\n")
    assert report.code_version(tmp_path) == commit + " + uncommitted changes"
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "new.py").write_text("y = 1\n")
    assert report.code_version(tmp_path) == commit + " + uncommitted changes"
