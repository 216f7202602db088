"""Issue 16, data side: every bad input to the loaders, writers, reference distances and the
scrape script is answered with an error that names the problem and the fix, or the right result.
"""
import functools
import gzip
import json
import os
import pathlib
import pickle
import signal
import stat
import subprocess
import sys
import time
import types
import urllib.error
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from rgdkit.data import branching, cellcycle, hmtdna, phylotree, sources
from rgdkit.data.sources import CorruptDataError
from rgdkit.files import results
from rgdkit.files.atomic import EmptyWriteError, write_atomically
from rgdkit.metrics.references import circular_distances, hamming_distances

ROOT = Path(__file__).resolve().parents[1]
QUICKGO = "cellcycle/QuickGO-annotations-human.tsv"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Empty data dir, no RGD_* variables, a Hub cache under tmp_path, and no network."""
    monkeypatch.setattr(sources, "DATA_DIR", tmp_path / "data")
    for name in (branching.BRANCHING_ENV, cellcycle.CELLCYCLE_ENV, cellcycle.QUICKGO_ENV,
                 hmtdna.HMTDNA_TABLE_ENV, *hmtdna.PHYLOTREE_ENVS.values(), "HF_HUB_OFFLINE",
                 sources.HUB_REVISION_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sources.hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(sources.hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    FakeHub().install(monkeypatch)


class FakeHub:
    """Hub stand-in: ``files`` maps a Hub path to a file (or a list, one per download)."""

    def __init__(self, files=None):
        self.files = files or {}
        self.downloads = []

    def metadata(self, url, timeout=None):
        if not self.files:
            raise OSError("[Errno -2] Name or service not known")
        return types.SimpleNamespace(size=None)

    def download(self, repo_id, filename, *, revision, force_download, local_files_only,
                 **kwargs):
        self.downloads.append((filename, revision, force_download))
        if filename not in self.files:
            raise OSError("[Errno -2] Name or service not known")
        found = self.files[filename]
        return str(found.pop(0) if isinstance(found, list) else found)

    def install(self, monkeypatch):
        monkeypatch.setattr(sources, "get_hf_file_metadata", self.metadata)
        monkeypatch.setattr(sources, "hf_hub_download", self.download)
        return self


def _write(path, content=b"payload"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _names(folder):
    return sorted(p.name for p in Path(folder).iterdir())


# --------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------
def test_np_save_writes_the_target_not_a_hidden_npy(tmp_path):
    path = tmp_path / "embedding.npy"
    write_atomically(path, lambda temporary: np.save(temporary, np.arange(3)))
    np.testing.assert_array_equal(np.load(path), np.arange(3))
    assert _names(tmp_path) == ["embedding.npy"]


def _append_suffix(temporary):
    np.save(temporary, np.arange(3))  # no .npy on the target, so np.save appends one


def _write_nothing(temporary):
    pass


def _delete_temporary(temporary):
    os.remove(temporary)


def _write_elsewhere(temporary):
    Path(temporary).with_name("elsewhere.txt").write_text("new")


@pytest.mark.parametrize("writer, fragment", [
    (_append_suffix, "it wrote ['.array."),
    (_write_nothing, "wrote nothing to its temporary path"),
    (_delete_temporary, "did not leave a file at its temporary path"),
    (_write_elsewhere, "wrote nothing to its temporary path"),
])
def test_a_writer_that_misses_its_path_raises_and_keeps_the_old_file(tmp_path, writer, fragment):
    path = tmp_path / "array"
    path.write_text("the user's results")
    with pytest.raises(EmptyWriteError, match="write to exactly the path it is given") as info:
        write_atomically(path, writer)
    assert fragment in str(info.value) and "was left unchanged" in str(info.value)
    assert path.read_text() == "the user's results"
    assert not [n for n in _names(tmp_path) if n.startswith(".")]


def test_an_intended_empty_file_is_written_when_allowed(tmp_path):
    path = _write(tmp_path / "empty.fasta", b"old")
    write_atomically(path, lambda temporary: Path(temporary).write_text(""), allow_empty=True)
    assert path.read_bytes() == b""


def test_writing_through_a_symlink_updates_its_target_and_keeps_the_link(tmp_path):
    target = _write(tmp_path / "real" / "table.csv", b"old")
    link = tmp_path / "table.csv"
    link.symlink_to(target)
    assert write_atomically(link, lambda t: Path(t).write_text("new")) == link
    assert link.is_symlink() and target.read_text() == "new"
    assert _names(tmp_path / "real") == ["table.csv"]


@pytest.mark.parametrize("before, mode, after", [(0o600, None, 0o600), (0o640, None, 0o640),
                                                 (None, None, 0o644), (0o600, 0o644, 0o644)])
def test_permission_bits_are_kept_unless_given(tmp_path, before, mode, after):
    path = tmp_path / "secret.csv"
    if before is not None:
        _write(path, b"old").chmod(before)
    write_atomically(path, lambda t: Path(t).write_text("new"), mode=mode)
    assert stat.S_IMODE(path.stat().st_mode) == after


def test_temporaries_of_dead_writers_and_of_older_runs_are_cleaned(tmp_path):
    path = _write(tmp_path / "table.csv", b"old")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale_dead = _write(tmp_path / f".table.csv.{dead}-abc123.tmp.csv")
    stale_old = _write(tmp_path / ".table.csv.k2j4_x.tmp")  # the format before process ids
    os.utime(stale_old, (time.time() - 3600, time.time() - 3600))
    alive = _write(tmp_path / f".table.csv.{os.getppid()}-zzz999.tmp.csv")  # a running writer
    other = _write(tmp_path / ".other.csv.k2j4_x.tmp")
    os.utime(other, (time.time() - 3600, time.time() - 3600))
    write_atomically(path, lambda t: Path(t).write_text("new"))
    assert not stale_dead.exists() and not stale_old.exists()
    assert alive.exists() and other.exists()


def test_a_sigkilled_writer_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    path = _write(tmp_path / "table.csv", b"old")
    code = ("import sys, time\nfrom rgdkit.files.atomic import write_atomically\n"
            "def write(t):\n    open(t, 'w').write('half')\n    print('writing', flush=True)\n"
            "    time.sleep(60)\nwrite_atomically(sys.argv[1], write)\n")
    child = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE,
                             text=True, cwd=ROOT)
    assert child.stdout.readline().strip() == "writing"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert len(_names(tmp_path)) == 2 and path.read_bytes() == b"old"
    write_atomically(path, lambda t: Path(t).write_text("new"))
    assert _names(tmp_path) == ["table.csv"] and path.read_text() == "new"


@pytest.mark.parametrize("name", ["../x", "sub/x", "..", "", "a\\b", "x/../../y"])
def test_save_table_refuses_names_that_leave_the_folder(tmp_path, name):
    with pytest.raises(ValueError, match="pass a plain file name such as 'table'.*folder="):
        results.save_table(pd.DataFrame({"a": [1]}), name, tmp_path / "results")
    assert not (tmp_path / "x.csv").exists()


def test_save_anndata_refuses_a_path_as_name(tmp_path):
    with pytest.raises(ValueError, match="save_anndata name '../cells' contains a path"):
        results.save_anndata(ad.AnnData(np.zeros((2, 2))), "../cells", tmp_path / "results")


# --------------------------------------------------------------------------------------------
# Reference distances
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("X, shown", [([[0, 2], [1, 0]], "[2]"), ([[0, -1], [1, 0]], "[-1]"),
                                      ([[0.5, 1], [1, 0]], "[0.5]"),
                                      ([[np.nan, 1], [1, 0]], "[nan]")])
def test_hamming_of_non_binary_data_is_an_error(X, shown):
    with pytest.raises(ValueError, match=r"non-binary values such as .*Binarise it first") as e:
        hamming_distances(np.array(X))
    assert shown in str(e.value)


def test_hamming_of_a_boolean_matrix_counts_differences():
    X = np.array([[True, False, True], [False, False, True]])
    np.testing.assert_array_equal(hamming_distances(X), [[0, 1], [1, 0]])


@pytest.mark.parametrize("phase", [[0.0, 3.0, 6.0], [-0.1, 0.5], [0.2, 1.0], [np.nan, 0.5]])
def test_circular_distances_outside_unit_range_is_an_error(phase):
    with pytest.raises(ValueError, match=r"needs phases in \[0, 1\).*divide by 2\*np.pi or "
                                         r"pass period=2\*np.pi"):
        circular_distances(phase)


def test_circular_distances_in_radians_with_a_period():
    distances = circular_distances([0.1, 2 * np.pi - 0.1, np.pi], period=2 * np.pi)
    np.testing.assert_allclose(distances[0], [0.0, 0.2, np.pi - 0.1])


# --------------------------------------------------------------------------------------------
# Phase units
# --------------------------------------------------------------------------------------------
def _cells(phase):
    obs = pd.DataFrame({"theta": phase}, index=[f"c{i}" for i in range(len(phase))])
    return ad.AnnData(X=np.ones((len(phase), 2)), obs=obs)


def test_radians_inside_unit_range_are_converted_when_said_so():
    phase = np.array([0.1, 0.5, 0.9])  # radians that happen to lie in [0, 1]
    prepared = cellcycle.prepare_phase_anndata(_cells(phase), "theta", phase_unit="radians")
    np.testing.assert_allclose(prepared.obs["cell_cycle_theta"], phase / (2 * np.pi))


def test_auto_unit_prints_its_guess_and_the_override(capsys):
    cellcycle.prepare_phase_anndata(_cells([0.1, 0.5, 0.9]), "theta")
    out = capsys.readouterr().out
    assert "read as a fraction of the cycle" in out and "pass phase_unit='radians'" in out


@pytest.mark.parametrize("phase, unit, error", [
    ([0.1, 3.0, 6.0], "fraction", "outside [0, 1], so it is not a fraction of the cycle; pass "
                                  "phase_unit='radians'"),
    ([0.1, 0.5], "degrees", "is not one of ('auto', 'fraction', 'radians')"),
    ([0.0, 40.0], "auto", "pass phase_unit='radians' for angles of any range"),
])
def test_bad_phase_units_are_errors(phase, unit, error):
    with pytest.raises(ValueError) as info:
        cellcycle.prepare_phase_anndata(_cells(phase), "theta", phase_unit=unit)
    assert error in str(info.value)


def test_load_cellcycle_passes_the_phase_unit(tmp_path):
    path = tmp_path / "cells.h5ad"
    _cells(np.array([0.1, 0.5, 0.9])).write_h5ad(path)
    adata, _ = cellcycle.load_cellcycle(path, phase_key="theta", phase_unit="radians")
    np.testing.assert_allclose(adata.obs["cell_cycle_theta"], np.array([0.1, 0.5, 0.9]) / (2 * np.pi))


# --------------------------------------------------------------------------------------------
# Corrupt files
# --------------------------------------------------------------------------------------------
def _h5ad_bytes(tmp_path):
    good = tmp_path / "good.h5ad"
    _cells(np.array([0.1, 0.5, 0.9])).write_h5ad(good)
    return good.read_bytes()


@pytest.mark.parametrize("damage", ["random", "empty", "truncated"])
def test_unreadable_h5ad_named_explicitly(tmp_path, damage):
    content = {"random": np.random.default_rng(0).bytes(4096), "empty": b"",
               "truncated": _h5ad_bytes(tmp_path)[:2000]}[damage]
    path = _write(tmp_path / "cells.h5ad", content)
    with pytest.raises(CorruptDataError, match="cells.h5ad is not a readable .h5ad file.*"
                                               "replace it with a good copy"):
        cellcycle.load_cellcycle(path)


def test_unreadable_h5ad_in_data_dir_says_delete_or_replace(tmp_path):
    path = _write(sources.DATA_DIR / cellcycle.CELLCYCLE_H5AD, b"\x89HDF\r\n garbage")
    with pytest.raises(CorruptDataError, match=f"delete or replace {path}"):
        cellcycle.load_cellcycle("hub")


def test_unreadable_h5ad_in_the_hub_cache_says_delete_it_to_download_again(tmp_path,
                                                                          monkeypatch):
    cached = _write(tmp_path / "hub-cache" / "datasets--x" / "snapshots" / "a" / "f.h5ad",
                    b"not hdf5")
    FakeHub({cellcycle.CELLCYCLE_H5AD: cached}).install(monkeypatch)
    with pytest.raises(CorruptDataError, match="damaged HuggingFace cache entry.*downloads it"):
        cellcycle.load_cellcycle("hub")


def test_corrupt_cached_download_of_a_known_file_is_fetched_again_once(shared_data, tmp_path,
                                                                       monkeypatch, capsys):
    bad = _write(tmp_path / "hub-cache" / "bad.tsv", b"GENE PRODUCT DB\tSYMBOL\n")
    good = shared_data / "cellcycle" / "QuickGO-annotations-human.tsv"
    hub = FakeHub({QUICKGO: [bad, good]}).install(monkeypatch)
    assert sources.fetch_data_file(QUICKGO, **sources.known_file(QUICKGO)) == good
    assert [force for _, _, force in hub.downloads] == [False, True]
    assert "expected 293934); downloading it again" in capsys.readouterr().out


def test_a_known_file_that_differs_is_not_used(tmp_path, monkeypatch, capsys):
    _write(sources.DATA_DIR / QUICKGO, b"x" * 293934)  # right size, wrong bytes
    genes, note = cellcycle._quickgo_gene_filter()
    assert genes is None and "not available" in note
    assert "corrupt (sha256" in capsys.readouterr().out


def test_a_modified_phylotree_named_by_variable_is_rejected(tmp_path, monkeypatch):
    tree = _write(tmp_path / "tree.xml", (ROOT / "data/hmtdna/phylotree-rsrs-17.0.xml")
                  .read_bytes().replace(b"263G", b"263C", 1))
    monkeypatch.setenv(hmtdna.PHYLOTREE_ENVS["rsrs"], str(tree))
    with pytest.raises(CorruptDataError, match=r"RGD_PHYLOTREE_RSRS .*tree.xml is corrupt "
                                               r"\(sha256.*replace it"):
        hmtdna.load_phylotrees()


@pytest.mark.parametrize("name, content", [
    ("report.txt", b""),
    ("report.txt.gz", gzip.compress(b"SampleID\tRange\n" * 50)[:30]),  # truncated gzip
    ("report.txt.gz", b"not gzip at all"),
])
def test_empty_or_unreadable_haplogrep_report(tmp_path, name, content):
    path = _write(tmp_path / name, content)
    with pytest.raises(CorruptDataError, match=f"{name} is empty or unreadable.*expected a "
                                               "haplogrep3 --extend-report table"):
        hmtdna.load_haplogrep_report(path)


def test_empty_report_error_names_the_fix(tmp_path):
    path = _write(tmp_path / "report.txt", b"")
    with pytest.raises(CorruptDataError, match="report.txt is empty or unreadable.*Rerun "
                                               "haplogrep3 classify --extend-report"):
        hmtdna.load_haplogrep_report(path)


def test_report_with_header_but_no_samples(tmp_path):
    path = _write(tmp_path / "report.txt", "\t".join(hmtdna.REPORT_COLUMNS).encode() + b"\n")
    with pytest.raises(ValueError, match="has a header but no samples; rerun haplogrep3"):
        hmtdna.load_haplogrep_report(path)


@pytest.mark.parametrize("cut", [0, 5000, -200])
def test_truncated_phylotree_xml(tmp_path, cut):
    text = (ROOT / "data/hmtdna/phylotree-rsrs-17.0.xml").read_bytes()
    path = _write(tmp_path / "tree.xml", text[:cut] if cut else b"")
    with pytest.raises(CorruptDataError, match="tree.xml is not a complete PhyloTree XML.*"
                                               "replace it with a good copy"):
        phylotree.load_phylotree(path)


@pytest.mark.parametrize("damage", ["random", "empty", "truncated"])
def test_corrupt_branching_npz(tmp_path, damage):
    good = tmp_path / "good.npz"
    np.savez(good, data=np.ones((4, 3)), labels=np.ones((4, 2)))
    content = {"random": np.random.default_rng(1).bytes(2048), "empty": b"",
               "truncated": good.read_bytes()[:300]}[damage]
    path = _write(tmp_path / "branching.npz", content)
    with pytest.raises(CorruptDataError, match="branching.npz is not a readable .npz file.*"
                                               "replace it"):
        branching.load_branching(path)


def test_empty_quickgo_export(tmp_path):
    path = _write(tmp_path / "go.tsv", b"")
    with pytest.raises(CorruptDataError, match="go.tsv is not a readable QuickGO export"):
        cellcycle.quickgo_cell_cycle_genes(path)


# --------------------------------------------------------------------------------------------
# Pickles: unpickled only when known or trusted in the call
# --------------------------------------------------------------------------------------------
def _hub_frame():
    table = pd.DataFrame({column: ["x", "y"] for column in hmtdna.HUB_COLUMNS})
    return table.assign(Input_Sample=[["73G", "263G"], ["16519C"]], Quality=[0.95, 0.8],
                        Rank=[1, 1], latitude=[15.0, 56.0])


def _evil_pickle(path, marker):
    class Payload:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as handle:
        pickle.dump(Payload(), handle)
    return path


@pytest.mark.parametrize("where", ["argument", "variable", "data", "hub cache"])
def test_an_unknown_pickle_is_not_unpickled(tmp_path, monkeypatch, where):
    marker = tmp_path / "code_ran"
    relpath = hmtdna.HMTDNA_TABLES["rsrs"]
    path = _evil_pickle({"argument": tmp_path / "mine.pkl", "variable": tmp_path / "env.pkl",
                         "data": sources.DATA_DIR / relpath,
                         "hub cache": tmp_path / "hub-cache" / "rsrs.pkl"}[where], marker)
    source = str(path) if where == "argument" else "auto"
    if where == "variable":
        monkeypatch.setenv(hmtdna.HMTDNA_TABLE_ENV, str(path))
    if where == "hub cache":
        FakeHub({relpath: path}).install(monkeypatch)
    with pytest.raises(PermissionError, match=f"refusing to unpickle {path}.*pass trust_pickle="
                                              "True.*save_table_tsv"):
        hmtdna.load_hmtdna_table("rsrs", {}, source)
    assert not marker.exists()


def test_a_pickle_trusted_in_the_call_is_read_and_said_so(tmp_path, capsys):
    path = tmp_path / "rsrs.pkl"
    _hub_frame().to_pickle(path, compression="gzip")
    table, _ = hmtdna.load_hmtdna_table("rsrs", {}, str(path), trust_pickle=True)
    assert table["Input_Sample"].tolist() == [["73G", "263G"], ["16519C"]]
    assert "because trust_pickle=True" in capsys.readouterr().out


def test_a_pickle_with_a_known_sha256_is_read_without_trust(tmp_path, monkeypatch, capsys):
    path = sources.DATA_DIR / hmtdna.HMTDNA_TABLES["rsrs"]
    path.parent.mkdir(parents=True)
    _hub_frame().to_pickle(path, compression="gzip")
    monkeypatch.setitem(sources.KNOWN_HUB_FILES, hmtdna.HMTDNA_TABLES["rsrs"],
                        (path.stat().st_size, sources._sha256_of(path)))
    table, _ = hmtdna.load_hmtdna_table("rsrs", {})
    assert len(table) == 2 and "matches a known sha256" in capsys.readouterr().out


@pytest.mark.parametrize("cut", [0, 100])
def test_an_empty_or_truncated_trusted_pickle_is_named(tmp_path, cut):
    path = tmp_path / "rsrs.pkl"
    _hub_frame().to_pickle(path, compression="gzip")
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(CorruptDataError, match="rsrs.pkl is not a complete table pickle.*"
                                               "replace it with a good copy"):
        hmtdna.load_hmtdna_table("rsrs", {}, str(path), trust_pickle=True)


def test_a_table_converted_to_tsv_reads_back_without_trust(tmp_path):
    path = hmtdna.save_table_tsv(_hub_frame(), tmp_path / "rsrs.tsv")
    table, description = hmtdna.load_hmtdna_table("rsrs", {}, str(path))
    assert table["Input_Sample"].tolist() == [["73G", "263G"], ["16519C"]]
    assert table["latitude"].tolist() == ["15.0", "56.0"] and "2 samples" in description


# --------------------------------------------------------------------------------------------
# Hub revision and known checksums
# --------------------------------------------------------------------------------------------
def test_hub_revision_is_unpinned_main_unless_the_variable_names_one(tmp_path, monkeypatch):
    good = _write(tmp_path / "f.bin")
    hub = FakeHub({"x/f.bin": good}).install(monkeypatch)
    assert sources.hub_revision() == "main"
    monkeypatch.setenv(sources.HUB_REVISION_ENV, "0123abc")
    sources.fetch_data_file("x/f.bin")
    assert hub.downloads[0][1] == "0123abc"


def test_known_checksums_match_the_hub_manifest(shared_data):
    manifest = json.loads((shared_data / "hub_manifest.json").read_text())
    known = {entry["hub_path"]: (entry["size"], entry["sha256"])
             for entry in manifest["files"] if entry["sha256"]}
    assert sources.KNOWN_HUB_FILES == known


# --------------------------------------------------------------------------------------------
# scripts/scrape_mtdna.py
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arguments, error", [
    (["--batch-size", "0"], "--batch-size: 0 is out of range; use a number between 1 and"),
    (["--batch-size", "-5"], "--batch-size: -5 is out of range"),
    (["--batch-size", "many"], "--batch-size: 'many' is not a whole number"),
    (["--batch-size", "20000"], "use a number between 1 and 10000"),
    (["--min-length", "0"], "--min-length: 0 is out of range; use a number at least 1"),
    (["--min-length", "16700", "--max-length", "15400"], "is above --max-length 15400; swap"),
])
def test_bad_arguments_are_rejected_before_any_search(scrape, monkeypatch, capsys, arguments,
                                                      error):
    monkeypatch.setattr(scrape, "entrez_search", lambda *a: pytest.fail("searched NCBI"))
    with pytest.raises(SystemExit) as exit_info:
        scrape.main(["--email", "me@example.org", *arguments])
    assert exit_info.value.code == 2 and error in capsys.readouterr().err


def test_out_that_is_a_file_is_rejected(scrape, tmp_path, capsys):
    path = _write(tmp_path / "out")
    with pytest.raises(SystemExit):
        scrape.main(["--email", "me@example.org", "--out", str(path)])
    assert "is a file; name a folder" in capsys.readouterr().err


def test_no_network_prints_one_line_and_exits_non_zero(scrape, tmp_path, monkeypatch, capsys):
    def offline(query, email):
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(scrape, "entrez_search", offline)
    assert scrape.main(["--email", "me@example.org", "--out", str(tmp_path / "o")]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert "cannot reach NCBI Entrez (URLError" in captured.err
    assert "Check the network" in captured.err


def test_real_entrez_client_offline_gives_up_within_seconds(scrape, tmp_path, monkeypatch,
                                                            capsys):
    from Bio import Entrez

    def unreachable(request):
        raise urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))

    sleeps = []
    monkeypatch.setattr(Entrez, "urlopen", unreachable)
    monkeypatch.setattr(Entrez.time, "sleep", sleeps.append)
    assert scrape.main(["--email", "me@example.org", "--out", str(tmp_path / "o")]) == 1
    assert sum(sleeps) <= 5  # Biopython's default: 2 x 15 s before the error
    assert "Temporary failure in name resolution" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# Issue 31: hmtDNA tables validated at the door
# --------------------------------------------------------------------------------------------
def _variant_rows(**changes):
    """A GenBank-layout table of three good genomes; ``changes`` maps a column to its values."""
    table = pd.DataFrame({"SampleID": ["AB1.1", "AB2.1", "AB3.1"],
                          "Haplogroup": ["H3u1", "L2a1", "H2a2a1"],
                          "Quality": ["0.95", "0.8", "1.0"],
                          "Input_Sample": ["263G 310C 750G", "73G 2156.1A 8281d", ""]})
    for column, values in changes.items():
        table[column] = values
    return table


def _variant_file(tmp_path, name="genomes.tsv", **changes):
    path = tmp_path / name
    _variant_rows(**changes).to_csv(path, sep="\t", index=False)
    return path


def test_a_good_variant_table_passes_the_door(tmp_path):
    table = hmtdna.load_variant_table(_variant_file(tmp_path))
    assert table["Input_Sample"].tolist() == [["263G", "310C", "750G"],
                                              ["73G", "2156.1A", "8281d"], []]
    assert table["Quality"].tolist() == [0.95, 0.8, 1.0]  # H2a2a1 (the rCRS) may be empty


@pytest.mark.parametrize("changes, message", [
    ({"Quality": ["95.3", "80", "100"]},
     r"genomes.tsv, column Quality: values outside \[0, 1\] \(e.g. 95.3\) \(3 rows: \[0, 1, 2\] "
     r"\(SampleID AB1.1, AB2.1, AB3.1\).*divide the column by 100"),
    ({"Quality": ["0.95", "-0.2", "1.0"]}, r"column Quality: values outside \[0, 1\] \(e.g. -0.2\)"
                                           r" \(1 rows: \[1\] \(SampleID AB2.1\).*correct these"),
    ({"Quality": ["0.95", "", "1.0"]}, r"column Quality: must hold numbers, found empty cells "
                                       r"\(1 rows: \[1\] \(SampleID AB2.1\)"),
    ({"Input_Sample": ["263G", "", "73G"]},
     r"column Input_Sample: no variant calls although the haplogroup is not a reference's own "
     r"\(H2a2a1 .*\(1 rows: \[1\] \(SampleID AB2.1\).*invalid='drop'"),
    ({"Input_Sample": ["263G XYZ", "73G", ""]},
     r"column Input_Sample: 1 variant calls that are not haplogrep notation .*e.g. XYZ.*\[0\] "
     r"\(SampleID AB1.1\).*Fix: correct them"),
    ({"Input_Sample": ["263G 16311Y", "73G 16311Y", ""]},
     r"2 variant calls .*e.g. 16311Y; an IUPAC code such as Y names no definite allele\) "
     r"\(2 rows: \[0, 1\]"),
    ({"Input_Sample": ["263G 99999A", "73G", ""]},
     r"at a position 1-16569 \(e.g. 99999A.*\(1 rows: \[0\] \(SampleID AB1.1\)"),
    ({"Input_Sample": ["0A", "73G", ""]}, r"\(e.g. 0A"),
    ({"SampleID": ["AB1.1", "AB2.1", "AB1.1"]},
     r"column SampleID: repeated identifiers \(AB1.1\) \(2 rows: \[0, 2\].*drop_duplicates"),
    ({"SampleID": ["AB1.1", "", "AB3.1"]}, r"column SampleID: empty identifiers \(1 rows: \[1\]"),
    ({"Haplogroup": ["H3u1", " ", "H2a2a1"]}, r"column Haplogroup: empty haplogroups \(1 rows"),
])
def test_bad_rows_are_named_by_file_column_and_row(tmp_path, changes, message):
    path = _variant_file(tmp_path, **changes)
    with pytest.raises(ValueError, match=message):
        hmtdna.load_variant_table(path)


def test_percent_quality_no_longer_passes_the_filter_silently(tmp_path):
    path = _variant_file(tmp_path, Quality=["95.3", "40.1", "99"])
    with pytest.raises(ValueError, match="these look like percentages"):
        hmtdna.load_hmtdna_table("rcrs", {}, str(path))


def test_invalid_drop_removes_bad_calls_then_empty_genomes_and_says_so(tmp_path, capsys):
    path = _variant_file(tmp_path, Input_Sample=["263G XYZ 99999A", "16311Y", ""])
    table = hmtdna.load_variant_table(path, invalid="drop")
    assert table["SampleID"].tolist() == ["AB1.1", "AB3.1"]
    assert table["Input_Sample"].tolist() == [["263G"], []]
    out = capsys.readouterr().out
    assert "dropped 3 variant calls" in out and "from 2 genomes" in out
    assert "dropped 1 genomes with no variant calls" in out


def test_invalid_keep_keeps_calls_as_written_and_a_bad_policy_is_named(tmp_path):
    path = _variant_file(tmp_path, Input_Sample=["263G 16311Y", "73G", ""])
    table = hmtdna.load_variant_table(path, invalid="keep")
    assert table["Input_Sample"].tolist()[0] == ["263G", "16311Y"]
    with pytest.raises(ValueError, match=r"invalid='skip'; choose one of \('raise', 'drop', "
                                         r"'keep'\)"):
        hmtdna.load_variant_table(path, invalid="skip")


@pytest.mark.parametrize("rank, message", [
    (["1", "", "1"], r"report.txt, column Rank: must hold whole numbers, found empty cells "
                     r"\(1 rows: \[1\] \(SampleID AB2.1\)"),
    (["1", "1.5", "1"], r"column Rank: must hold whole numbers, found '1.5'"),
    (["1", "first", "1"], r"column Rank: must hold whole numbers, found 'first'"),
])
def test_a_bad_rank_names_the_file_and_column(tmp_path, rank, message):
    table = _variant_rows()
    for column in set(hmtdna.REPORT_COLUMNS) - set(table.columns):
        table[column] = ""
    table["Range"], table["Rank"] = "1-16569", rank
    path = tmp_path / "report.txt"
    table[hmtdna.REPORT_COLUMNS].to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match=message):
        hmtdna.load_haplogrep_report(path)


def test_the_hub_table_is_checked_at_the_door_too(tmp_path):
    path = tmp_path / "rsrs.pkl"
    _hub_frame().assign(Quality=[95.0, 80.0]).to_pickle(path, compression="gzip")
    with pytest.raises(ValueError, match="rsrs.pkl, column Quality: values outside"):
        hmtdna.load_hub_table(path, trusted=True)


def test_a_gzipped_table_without_gz_is_read_as_what_it_is(tmp_path):
    plain = _variant_file(tmp_path)
    hidden = _write(tmp_path / "genomes.txt", gzip.compress(plain.read_bytes()))
    table = hmtdna.load_variant_table(hidden)
    assert table["SampleID"].tolist() == ["AB1.1", "AB2.1", "AB3.1"]


@pytest.mark.parametrize("name, content, message", [
    ("genomes.tsv.gz", b"SampleID\tHaplogroup\n", r"genomes.tsv.gz is empty or unreadable: its "
     r"name ends in .gz but it is not gzip-compressed \(it starts with b'SampleID.*Rename it"),
    ("genomes.tsv", pickle.dumps({"a": 1}), "genomes.tsv is a Python pickle, not a text table"),
    ("genomes.tsv", b"\x89HDF\r\n\x1a\n\x00\x00\x00", "genomes.tsv is a binary file"),
])
def test_a_misnamed_or_binary_table_gets_a_true_message(tmp_path, name, content, message):
    with pytest.raises(CorruptDataError, match=message) as info:
        hmtdna.load_variant_table(_write(tmp_path / name, content))
    assert "rerun haplogrep3" not in str(info.value).lower()


def test_an_rcrs_report_named_so_is_not_read_as_rsrs(shared_data, tmp_path):
    report = shared_data / "hmtdna" / "1kgp_rcrs_haplogrep.txt.gz"
    with pytest.raises(ValueError, match=r"1kgp_rcrs_haplogrep.txt.gz declares its variants "
                                         r"relative to RCRS \(its file name\), but they would be "
                                         r"read as relative to RSRS .*source_reference='rcrs'"):
        hmtdna.load_hmtdna_table("rsrs", {}, str(report))
    with pytest.raises(ValueError, match="declares its variants relative to RCRS"):
        hmtdna.load_hmtdna_table("rsrs", {}, str(report), source_reference="rsrs")


def test_an_undeclared_rcrs_table_is_recognised_by_its_content(shared_data, tmp_path):
    trees = {reference: phylotree.load_phylotree(shared_data / relpath) for reference, relpath
             in hmtdna.PHYLOTREE_FILES.items()}
    head = pd.read_csv(shared_data / "hmtdna" / "genbank_rcrs_shared.tsv.gz", sep="\t",
                       dtype=str, keep_default_na=False, nrows=300)
    path = tmp_path / "genomes.tsv"
    head.to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match=r"genomes.tsv: its variants match the RCRS tree, not the "
                                         r"RSRS one .*RCRS 0\.[6-9]\d, RSRS 0\.[0-3]\d.*"
                                         r"source_reference='rcrs'"):
        hmtdna.load_hmtdna_table("rsrs", trees, str(path))
    table, description = hmtdna.load_hmtdna_table("rsrs", trees, str(path), "rcrs")
    assert "re-expressed to RSRS" in description
    assert hmtdna.infer_reference(table, trees)[0] == "rsrs"


def test_an_unknown_source_reference_is_named(tmp_path):
    with pytest.raises(ValueError, match="reference must be one of"):
        hmtdna.load_hmtdna_table("rsrs", {}, str(_variant_file(tmp_path)), "hg19")


# --------------------------------------------------------------------------------------------
# Issue 31: branching data and the results folder
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("data, labels, message", [
    (np.array([[1.0, np.nan], [0.0, 1.0]]), np.array([[1, -1], [-1, 0]]),
     r"branching.npz: array data has NaN or inf in 1 rows \(first: \[0\]\); drop or impute"),
    (np.ones((2, 2)), np.array([[1, np.nan], [-1, 0]]), "array labels has NaN or inf in 1 rows"),
    (np.ones((2, 2)), np.array([[1, -1.5], [-1, 0]]), "labels has codes that are not whole"),
    (np.array([["a", "b"], ["c", "d"]]), np.array([[1, -1], [-1, 0]]),
     "array data holds <U1 values, expected numbers"),
])
def test_branching_file_with_nan_or_non_numbers_is_refused(tmp_path, data, labels, message):
    path = tmp_path / "branching.npz"
    np.savez(path, data=data, labels=labels)
    with pytest.raises(ValueError, match=message):
        branching.load_branching(path)


@pytest.mark.parametrize("where", ["argument", "variable", "below a file"])
def test_a_results_folder_that_is_a_file_is_named(tmp_path, monkeypatch, where):
    file = _write(tmp_path / "results", b"my notes")
    folder = file / "sub" if where == "below a file" else file
    if where == "variable":
        monkeypatch.setenv("RGD_RESULTS_DIR", str(file))
        call = functools.partial(results.save_table, pd.DataFrame({"a": [1]}), "t")
        expected = r"results go to a folder, but RGD_RESULTS_DIR=.*results is a file"
    else:
        call = functools.partial(results.save_table, pd.DataFrame({"a": [1]}), "t", folder)
        expected = ("a part of its path is a file" if where == "below a file"
                    else r"results go to a folder, but the folder .*results is a file")
    with pytest.raises(ValueError, match=expected + ".*pass another folder"):
        call()
    assert file.read_bytes() == b"my notes"


def test_write_atomically_into_a_file_names_the_folder(tmp_path):
    file = _write(tmp_path / "figures", b"x")
    with pytest.raises(NotADirectoryError, match=r"cannot write .*figures/f.png: its folder "
                                                 r".*figures is, or runs through, a file"):
        write_atomically(file / "f.png", lambda t: Path(t).write_bytes(b"png"))
