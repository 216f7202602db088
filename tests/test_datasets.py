"""Data resolver (explicit path -> data/ -> Hub), cell-cycle loading and checks, simulator, splits.

Nothing here touches the network: an autouse fixture replaces the two Hub calls with stand-ins
that fail like an unreachable Hub, and tests that need the Hub install their own stand-ins.
"""
import hashlib
import importlib
import types
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from huggingface_hub import errors as hf_errors
from scipy import sparse

from rgdkit.data import branching
from rgdkit.data import cellcycle
from rgdkit.data import hmtdna
from rgdkit.data import sources
from rgdkit.data import splits

HUB_LOG = f"Hub {sources.HUB_REPO_ID}@{sources.HUB_REVISION}"
# the HTTP client huggingface_hub uses (its HTTPError is re-exported as errors.HTTPError)
http_client = importlib.import_module(hf_errors.HTTPError.__module__)


def _http_error(cls, status):
    request = http_client.Request("GET", "https://huggingface.co/x")
    return cls(f"HTTP {status}", response=http_client.Response(status, request=request))


class FakeHub:
    """Stand-ins for get_hf_file_metadata and hf_hub_download, recording their calls."""

    def __init__(self, files=None, metadata_error=None, download_error=None, sizes=None):
        self.files = files or {}  # relpath -> path, or a list of paths for successive calls
        self.metadata_error = metadata_error
        self.download_error = download_error
        self.sizes = sizes or {}
        self.downloads = []

    def metadata(self, url, timeout=None):
        assert timeout is not None and timeout <= 10
        if self.metadata_error is not None:
            raise self.metadata_error
        relpath = url.split(f"/resolve/{sources.HUB_REVISION}/")[1]
        return types.SimpleNamespace(size=self.sizes.get(relpath))

    def download(self, repo_id, filename, *, repo_type, revision, etag_timeout, force_download,
                 local_files_only):
        assert (repo_id, repo_type, revision) == (sources.HUB_REPO_ID, "dataset",
                                                  sources.HUB_REVISION)
        self.downloads.append({"filename": filename, "force_download": force_download,
                               "local_files_only": local_files_only})
        if self.download_error is not None:
            raise self.download_error
        if filename not in self.files:
            raise _http_error(hf_errors.RemoteEntryNotFoundError, 404)
        found = self.files[filename]
        return str(found.pop(0) if isinstance(found, list) else found)

    def install(self, monkeypatch):
        monkeypatch.setattr(sources, "get_hf_file_metadata", self.metadata)
        monkeypatch.setattr(sources, "hf_hub_download", self.download)
        return self


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Empty data dir, no RGD_* / HF offline variables, and a Hub that cannot be reached."""
    monkeypatch.setattr(sources, "DATA_DIR", tmp_path / "data")
    for name in (branching.BRANCHING_ENV, cellcycle.CELLCYCLE_ENV, cellcycle.QUICKGO_ENV,
                 hmtdna.HMTDNA_TABLE_ENV, *hmtdna.PHYLOTREE_ENVS.values(), "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sources.hf_constants, "HF_HUB_OFFLINE", False)
    offline = http_client.ConnectError("[Errno -2] Name or service not known")
    FakeHub(metadata_error=offline, download_error=hf_errors.LocalEntryNotFoundError("no cache"))\
        .install(monkeypatch)


def _write(path, content=b"payload"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# --------------------------------------------------------------------------------------------
# fetch_data_file: order of the steps
# --------------------------------------------------------------------------------------------
def test_explicit_path_then_env_var_then_data_dir(tmp_path, monkeypatch, capsys):
    hub = FakeHub(files={"x/f.bin": _write(tmp_path / "hub.bin")}).install(monkeypatch)
    in_data = _write(sources.DATA_DIR / "x" / "f.bin")
    given = _write(tmp_path / "given.bin")
    from_env = _write(tmp_path / "env.bin")
    monkeypatch.setenv("RGD_TEST_FILE", str(from_env))

    assert sources.fetch_data_file("x/f.bin", local_path=given, env_var="RGD_TEST_FILE") == given
    assert sources.fetch_data_file("x/f.bin", env_var="RGD_TEST_FILE") == from_env
    assert "$RGD_TEST_FILE" in capsys.readouterr().out
    monkeypatch.delenv("RGD_TEST_FILE")
    assert sources.fetch_data_file("x/f.bin", env_var="RGD_TEST_FILE") == in_data
    assert hub.downloads == []
    in_data.unlink()
    assert sources.fetch_data_file("x/f.bin") == tmp_path / "hub.bin"
    out = capsys.readouterr().out
    assert f"{in_data}: not there" in out and f"{HUB_LOG} x/f.bin: fetched" in out


def test_named_file_that_is_missing_raises_instead_of_falling_back(tmp_path, monkeypatch):
    _write(sources.DATA_DIR / "x" / "f.bin")
    with pytest.raises(FileNotFoundError, match="does not exist") as caught:
        sources.fetch_data_file("x/f.bin", local_path=tmp_path / "nope.bin")
    assert not isinstance(caught.value, sources.DataNotAvailableError)
    monkeypatch.setenv("RGD_TEST_FILE", str(tmp_path / "nope.bin"))
    with pytest.raises(FileNotFoundError, match=r"\$RGD_TEST_FILE .*nope.bin does not exist"):
        sources.fetch_data_file("x/f.bin", env_var="RGD_TEST_FILE")


def test_not_available_error_names_the_file_and_the_three_fixes(capsys):
    with pytest.raises(sources.DataNotAvailableError) as caught:
        sources.fetch_data_file("cellcycle/thing.h5ad", env_var="RGD_THING")
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    assert "cellcycle/thing.h5ad is not available" in message
    assert "pass its path" in message
    assert "RGD_THING=/path/to/thing.h5ad" in message
    assert str(sources.DATA_DIR / "cellcycle" / "thing.h5ad") in message
    assert "unreachable (ConnectError)" in message  # what was tried is in the message too
    with pytest.raises(sources.DataNotAvailableError) as caught:
        sources.fetch_data_file("x/y.bin", allow_hub=False)
    assert "Hub" not in str(caught.value) and "environment variable" not in str(caught.value)


# --------------------------------------------------------------------------------------------
# fetch_data_file: the Hub step
# --------------------------------------------------------------------------------------------
HUB_FAILURES = [
    (_http_error(hf_errors.RepositoryNotFoundError, 404), "not on the Hub"),
    (_http_error(hf_errors.RevisionNotFoundError, 404), "not on the Hub"),
    (_http_error(hf_errors.RemoteEntryNotFoundError, 404), "not on the Hub"),
    (hf_errors.EntryNotFoundError("gone"), "not on the Hub"),
    (hf_errors.LocalEntryNotFoundError("no connection"), "not in the Hub cache"),
    (_http_error(hf_errors.HfHubHTTPError, 503), "Hub answered HTTP 503"),
    (http_client.ConnectError("refused"), "unreachable"),
    (http_client.ConnectTimeout("slow"), "unreachable"),
    (ConnectionError("reset"), "unreachable"),
    (TimeoutError("slow"), "unreachable"),
    (hf_errors.OfflineModeIsEnabled("offline"), "unreachable"),
]
HUB_FAILURE_IDS = [type(error).__name__ for error, _ in HUB_FAILURES]


@pytest.mark.parametrize("error, phrase", HUB_FAILURES, ids=HUB_FAILURE_IDS)
def test_download_errors_fall_back_and_are_logged(error, phrase, monkeypatch, capsys):
    FakeHub(download_error=error).install(monkeypatch)
    with pytest.raises(sources.DataNotAvailableError):
        sources.fetch_data_file("x/f.bin")
    out = capsys.readouterr().out
    assert f"{HUB_LOG} x/f.bin: {phrase} ({type(error).__name__})" in out
    # and the cell-cycle loader falls back to the simulator, saying so
    cellcycle.load_cellcycle("auto", simulate_options={"n_cells": 50, "n_genes": 5})
    assert "SIMULATED cycling cells (offline fallback)" in capsys.readouterr().out


@pytest.mark.parametrize("error, phrase", HUB_FAILURES, ids=HUB_FAILURE_IDS)
def test_metadata_errors_skip_the_retrying_download(error, phrase, tmp_path, monkeypatch, capsys):
    hub = FakeHub(metadata_error=error, files={"x/f.bin": _write(tmp_path / "cached.bin")})
    hub.install(monkeypatch)
    missing = phrase == "not on the Hub"
    if missing:
        with pytest.raises(sources.DataNotAvailableError):
            sources.fetch_data_file("x/f.bin")
        assert hub.downloads == []
    else:  # unreachable: only the local Hub cache is consulted, and it has the file
        assert sources.fetch_data_file("x/f.bin") == tmp_path / "cached.bin"
        assert [d["local_files_only"] for d in hub.downloads] == [True]
    out = capsys.readouterr().out
    assert f"{HUB_LOG} x/f.bin: {phrase} ({type(error).__name__})" in out
    assert ("found in the Hub cache" in out) is not missing


def test_hf_hub_offline_uses_the_cache_only(tmp_path, monkeypatch, capsys):
    hub = FakeHub(files={"x/f.bin": _write(tmp_path / "cached.bin")},
                  metadata_error=AssertionError("network used while HF_HUB_OFFLINE=1"))
    hub.install(monkeypatch)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert sources.fetch_data_file("x/f.bin") == tmp_path / "cached.bin"
    assert hub.downloads == [{"filename": "x/f.bin", "force_download": False,
                              "local_files_only": True}]
    assert "HF_HUB_OFFLINE=1" in capsys.readouterr().out


def test_real_client_in_offline_mode_fails_fast(monkeypatch):
    """With the real huggingface_hub functions and HF_HUB_OFFLINE=1 the Hub step ends at once."""
    import time

    import huggingface_hub
    monkeypatch.setattr(sources, "get_hf_file_metadata", huggingface_hub.get_hf_file_metadata)
    monkeypatch.setattr(sources, "hf_hub_download", huggingface_hub.hf_hub_download)
    monkeypatch.setattr(sources, "HUB_TIMEOUT_S", 2.0)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # never reach out from the test suite
    start = time.perf_counter()
    with pytest.raises(sources.DataNotAvailableError):
        sources.fetch_data_file("cellcycle/not-a-real-file-for-tests.tsv")
    assert time.perf_counter() - start < 5


# --------------------------------------------------------------------------------------------
# fetch_data_file: corrupt files
# --------------------------------------------------------------------------------------------
def test_corrupt_download_is_fetched_again_once(tmp_path, monkeypatch, capsys):
    bad, good = _write(tmp_path / "bad.bin", b"xx"), _write(tmp_path / "good.bin", b"payload")
    hub = FakeHub(files={"x/f.bin": [bad, good]}, sizes={"x/f.bin": 7}).install(monkeypatch)
    assert sources.fetch_data_file("x/f.bin") == good
    assert [d["force_download"] for d in hub.downloads] == [False, True]
    assert "2 bytes, expected 7); downloading it again" in capsys.readouterr().out


def test_download_still_corrupt_after_retry_is_not_used(tmp_path, monkeypatch, capsys):
    bad = _write(tmp_path / "bad.bin", b"xx")
    digest = hashlib.sha256(b"payload").hexdigest()
    hub = FakeHub(files={"x/f.bin": [bad, bad, bad]}).install(monkeypatch)
    with pytest.raises(sources.DataNotAvailableError, match="corrupt"):
        sources.fetch_data_file("x/f.bin", sha256=digest)
    assert len(hub.downloads) == 2
    assert "not used" in capsys.readouterr().out


def test_corrupt_local_files_are_reported_not_used(tmp_path, monkeypatch, capsys):
    good = _write(tmp_path / "hub.bin", b"payload")
    FakeHub(files={"x/f.bin": good}).install(monkeypatch)
    _write(sources.DATA_DIR / "x" / "f.bin", b"truncated")
    digest = hashlib.sha256(b"payload").hexdigest()
    assert sources.fetch_data_file("x/f.bin", sha256=digest) == good
    assert "corrupt (sha256" in capsys.readouterr().out
    with pytest.raises(sources.CorruptDataError, match="9 bytes, expected 7"):
        sources.fetch_data_file("x/f.bin", local_path=sources.DATA_DIR / "x" / "f.bin",
                                 expected_size=7)
    assert sources.fetch_data_file("x/f.bin", local_path=good, expected_size=7,
                                    sha256=digest) == good


# --------------------------------------------------------------------------------------------
# QuickGO gene list
# --------------------------------------------------------------------------------------------
QUICKGO_HEADER = ("GENE PRODUCT DB\tGENE PRODUCT ID\tSYMBOL\tQUALIFIER\tGO TERM\tGO NAME\t"
                  "ECO ID\tGO EVIDENCE CODE\tREFERENCE\tWITH/FROM\tTAXON ID\tASSIGNED BY\t"
                  "ANNOTATION EXTENSION\tDATE")


def _quickgo_file(path, rows):
    lines = [QUICKGO_HEADER] + [
        f"UniProtKB\tP{i:05d}\t{symbol}\tinvolved_in\tGO:0007049\tcell cycle\tECO:1\tIEA\t"
        f"GO_REF:1\t\t9606\t{assigned}\t\t20240101" for i, (symbol, assigned) in enumerate(rows)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_quickgo_keeps_unique_ensembl_symbols_sorted(tmp_path):
    path = _quickgo_file(tmp_path / "go.tsv", [("CDK1", "Ensembl"), ("MKI67", "UniProt"),
                                               ("CCNB1", "Ensembl"), ("CDK1", "Ensembl"),
                                               ("TOP2A", "Reactome")])
    assert cellcycle.quickgo_cell_cycle_genes(path) == ["CCNB1", "CDK1"]


def test_quickgo_wrong_schema_is_a_clear_error(tmp_path):
    wrong = tmp_path / "wrong.tsv"
    wrong.write_text("gene,source\nCDK1,Ensembl\n")
    with pytest.raises(ValueError, match=r"not a QuickGO annotation export.*'symbol'"):
        cellcycle.quickgo_cell_cycle_genes(wrong)
    no_ensembl = _quickgo_file(tmp_path / "go.tsv", [("CDK1", "UniProt")])
    with pytest.raises(ValueError, match="no rows assigned by Ensembl"):
        cellcycle.quickgo_cell_cycle_genes(no_ensembl)


# --------------------------------------------------------------------------------------------
# Cell-cycle AnnData: real file, schema checks
# --------------------------------------------------------------------------------------------
def test_peco_file_loads_from_a_path(shared_data, capsys):
    path = shared_data / "cellcycle" / "peco_ipsc_101genes.h5ad"
    adata, description = cellcycle.load_cellcycle(path)
    assert adata.shape == (888, 101)
    assert adata.X.dtype == np.float32 and isinstance(adata.X, np.ndarray)
    phase = adata.obs["cell_cycle_theta"].to_numpy()
    assert phase.min() >= 0 and phase.max() < 1
    assert adata.obs["proliferating"].all()
    assert "counts" in adata.layers
    assert str(path) in description and "888 cells x 101 genes" in description
    # the radians column gives the same phase
    from_radians, _ = cellcycle.load_cellcycle(path, phase_key="theta")
    np.testing.assert_allclose(from_radians.obs["cell_cycle_theta"], phase, atol=1e-6)
    assert "read as radians" in capsys.readouterr().out


def _small_anndata(n_cells=40, n_genes=6, seed=0):
    rng = np.random.default_rng(seed)
    obs = pd.DataFrame({"cell_cycle_theta": rng.uniform(0, 1, n_cells),
                        "batch": ["a"] * n_cells}, index=[f"c{i}" for i in range(n_cells)])
    var = pd.DataFrame(index=[f"G{g}" for g in range(n_genes)])
    return ad.AnnData(X=rng.poisson(2.0, (n_cells, n_genes)).astype(np.float64), obs=obs,
                      var=var)


def test_missing_phase_key_lists_the_obs_columns():
    with pytest.raises(ValueError, match=r"obs\['phase'\].*\['cell_cycle_theta', 'batch'\]"):
        cellcycle.prepare_phase_anndata(_small_anndata(), phase_key="phase")


def test_nan_phase_is_an_error_unless_dropped(capsys):
    adata = _small_anndata()
    adata.obs.iloc[[3, 7, 11], 0] = np.nan
    with pytest.raises(ValueError, match="NaN for 3 of 40 cells.*drop_nan_phase=True"):
        cellcycle.prepare_phase_anndata(adata)
    prepared = cellcycle.prepare_phase_anndata(adata, drop_nan_phase=True)
    assert prepared.n_obs == 37 and "c3" not in prepared.obs_names
    assert "dropping 3 of 40 cells" in capsys.readouterr().out


def test_nonfinite_expression_is_an_error():
    adata = _small_anndata()
    adata.X[5, 2] = np.nan
    adata.X[6, 1] = np.inf
    with pytest.raises(ValueError, match="2 NaN or infinite values in 2 cells"):
        cellcycle.prepare_phase_anndata(adata)


def test_phase_out_of_range_and_non_numeric_are_errors():
    adata = _small_anndata()
    adata.obs["cell_cycle_theta"] *= 10
    with pytest.raises(ValueError, match="neither a phase"):
        cellcycle.prepare_phase_anndata(adata)
    with pytest.raises(ValueError, match="must be numeric"):
        cellcycle.prepare_phase_anndata(adata, phase_key="batch")


def test_sparse_expression_becomes_dense_float32():
    adata = _small_anndata()
    dense = adata.X.copy()
    adata.X = sparse.csr_matrix(dense)
    prepared = cellcycle.prepare_phase_anndata(adata)
    assert isinstance(prepared.X, np.ndarray) and prepared.X.dtype == np.float32
    np.testing.assert_array_equal(prepared.X, dense.astype(np.float32))


def test_gene_filter_keeps_listed_genes_and_rejects_an_empty_result():
    adata = _small_anndata()
    prepared = cellcycle.prepare_phase_anndata(adata, gene_filter=["G4", "G1", "NOT_THERE"])
    assert list(prepared.var_names) == ["G1", "G4"]
    with pytest.raises(ValueError, match="none of the 2 genes.*Ensembl"):
        cellcycle.prepare_phase_anndata(adata, gene_filter=["ENSG1", "ENSG2"])


def test_nonproliferating_as_column_mask_or_callable():
    adata = _small_anndata()
    mask = np.arange(adata.n_obs) % 4 == 0
    adata.obs["quiet"] = mask
    for spec in ("quiet", mask, lambda a: a.obs["quiet"].to_numpy()):
        prepared = cellcycle.prepare_phase_anndata(adata, nonproliferating=spec)
        np.testing.assert_array_equal(prepared.obs["proliferating"], ~mask)
    with pytest.raises(ValueError, match="not boolean"):
        cellcycle.prepare_phase_anndata(adata, nonproliferating="batch")
    with pytest.raises(ValueError, match="boolean mask of shape"):
        cellcycle.prepare_phase_anndata(adata, nonproliferating=mask[:5])


# --------------------------------------------------------------------------------------------
# Simulated cycling cells
# --------------------------------------------------------------------------------------------
def test_simulator_schema_and_determinism():
    adata = cellcycle.simulate_cellcycle(n_cells=200, n_genes=30, nonproliferating_fraction=0.1,
                                        seed=3)
    assert adata.shape == (200, 30)
    phase = adata.obs["cell_cycle_theta"].to_numpy()
    assert phase.min() >= 0 and phase.max() < 1
    assert (adata.obs["leiden"] == "1").sum() == 20
    assert adata.uns["simulated"] is True and "SIMULATED" in adata.uns["description"]
    counts = adata.layers["counts"]
    assert (counts >= 0).all() and np.array_equal(counts, np.round(counts))
    np.testing.assert_allclose(adata.X, np.log1p(
        counts / counts.sum(1, keepdims=True) * np.median(counts.sum(1))), rtol=1e-5)
    again = cellcycle.simulate_cellcycle(n_cells=200, n_genes=30, seed=3)
    np.testing.assert_array_equal(adata.layers["counts"], again.layers["counts"])
    other = cellcycle.simulate_cellcycle(n_cells=200, n_genes=30, seed=4)
    assert not np.array_equal(adata.layers["counts"], other.layers["counts"])


def test_simulated_expression_is_cyclic():
    adata = cellcycle.simulate_cellcycle(n_cells=3000, n_genes=50, seed=0)
    cycling = adata[adata.obs["leiden"] != "1"]
    phase = cycling.obs["cell_cycle_theta"].to_numpy()

    def mean_profile(centre):
        near = np.abs((phase - centre + 0.5) % 1 - 0.5) < 0.015
        assert near.sum() >= 30
        return cycling.X[near].mean(0)

    start, end, middle = mean_profile(0.01), mean_profile(0.99), mean_profile(0.5)
    assert np.linalg.norm(start - end) < 0.5 * np.linalg.norm(start - middle)


def test_simulated_nonproliferating_cells_are_flat():
    adata = cellcycle.simulate_cellcycle(n_cells=2000, n_genes=40, seed=1)
    quiet = adata.obs["leiden"].to_numpy() == "1"
    phase = adata.obs["cell_cycle_theta"].to_numpy()
    peak = adata.var["peak_phase"].to_numpy()
    # correlation of each gene's expression with its own cosine wave, per group
    wave = np.cos(2 * np.pi * (phase[:, None] - peak[None, :]))

    def mean_correlation(rows):
        x, w = adata.X[rows], wave[rows]
        return np.mean([np.corrcoef(x[:, g], w[:, g])[0, 1] for g in range(x.shape[1])])

    assert mean_correlation(~quiet) > 0.5
    assert abs(mean_correlation(quiet)) < 0.2


def test_load_cellcycle_simulated_applies_the_leiden_mask():
    adata, description = cellcycle.load_cellcycle(
        "simulated", simulate_options={"n_cells": 100, "n_genes": 8})
    np.testing.assert_array_equal(adata.obs["proliferating"], adata.obs["leiden"] != "1")
    assert description.startswith("SIMULATED cycling cells (requested)")
    assert adata.uns["description"] == description


# --------------------------------------------------------------------------------------------
# The paper's fibroblast file through the Hub code path
# --------------------------------------------------------------------------------------------
def _hub_schema_h5ad(path):
    """A tiny file with the Hub fibroblast file's schema: sparse X, symbols, leiden, X_umap."""
    rng = np.random.default_rng(0)
    n_cells, symbols = 30, ["CDK1", "CCNB1", "ACTB", "MKI67", "GAPDH"]
    leiden = np.array(["0", "1", "2"])[np.arange(n_cells) % 3]
    obs = pd.DataFrame({"cell_cycle_theta": rng.uniform(0, 1, n_cells),
                        "leiden": pd.Categorical(leiden)},
                       index=[f"AAAC{i}" for i in range(n_cells)])
    counts = rng.poisson(1.0, (n_cells, len(symbols))).astype(np.float32)
    adata = ad.AnnData(X=sparse.csr_matrix(np.log1p(counts)), obs=obs,
                       var=pd.DataFrame(index=symbols),
                       obsm={"X_umap": rng.normal(size=(n_cells, 2))},
                       layers={"spliced": sparse.csr_matrix(counts)})
    adata.write_h5ad(path)
    return path


def test_hub_fibroblast_file_gets_quickgo_genes_and_leiden_mask(tmp_path, monkeypatch, capsys):
    h5ad = _hub_schema_h5ad(tmp_path / "fibroblasts.h5ad")
    quickgo = _quickgo_file(tmp_path / "go.tsv", [("CDK1", "Ensembl"), ("CCNB1", "Ensembl"),
                                                  ("MKI67", "Ensembl"), ("ACTB", "UniProt"),
                                                  ("E2F1", "Ensembl")])
    hub = FakeHub(files={cellcycle.CELLCYCLE_H5AD: h5ad, cellcycle.QUICKGO_TSV: quickgo})
    hub.install(monkeypatch)
    # the small stand-in list is not the paper's file, whose sha256 every copy must match
    monkeypatch.delitem(sources.KNOWN_HUB_FILES, cellcycle.QUICKGO_TSV)
    adata, description = cellcycle.load_cellcycle("auto")
    assert sorted(adata.var_names) == ["CCNB1", "CDK1", "MKI67"]
    assert adata.n_obs == 30 and isinstance(adata.X, np.ndarray)
    np.testing.assert_array_equal(adata.obs["proliferating"], adata.obs["leiden"] != "1")
    assert adata.obs["proliferating"].sum() == 20
    assert "X_umap" in adata.obsm
    assert "DeepCycle human fibroblasts" in description and "QuickGO" in description
    assert "SIMULATED" not in description
    out = capsys.readouterr().out
    assert f"{HUB_LOG} {cellcycle.CELLCYCLE_H5AD}: fetched" in out
    assert "gene filter keeps 3 of 5 genes" in out
    assert [d["filename"] for d in hub.downloads] == [cellcycle.CELLCYCLE_H5AD,
                                                      cellcycle.QUICKGO_TSV]


def test_fibroblast_file_without_quickgo_keeps_all_genes(tmp_path, monkeypatch, capsys):
    h5ad = _hub_schema_h5ad(tmp_path / "fibroblasts.h5ad")
    monkeypatch.setenv(cellcycle.CELLCYCLE_ENV, str(h5ad))
    adata, description = cellcycle.load_cellcycle("hub")
    assert adata.n_vars == 5 and "QuickGO list not available" in description
    assert "QuickGO list not available" in capsys.readouterr().out


def test_hub_source_does_not_fall_back_to_simulated():
    with pytest.raises(sources.DataNotAvailableError, match=cellcycle.CELLCYCLE_ENV):
        cellcycle.load_cellcycle("hub")


def test_missing_h5ad_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cellcycle.load_cellcycle(tmp_path / "nothing.h5ad")


# --------------------------------------------------------------------------------------------
# Splits and the branching loader
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [888, 5367, 10])
def test_split_indices_are_disjoint_cover_all_and_sized(n):
    train, val, test = splits.split_indices(n, seed=1)
    together = np.concatenate([train, val, test])
    assert len(together) == n and set(together) == set(range(n))
    assert abs(len(train) - 0.82 * n) <= 1 and abs(len(val) - 0.09 * n) <= 1
    again = splits.split_indices(n, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again))
    assert not np.array_equal(train, splits.split_indices(n, seed=2)[0])


def test_split_indices_rejects_bad_fractions():
    with pytest.raises(ValueError, match="summing to 1"):
        splits.split_indices(10, fractions=(0.5, 0.2, 0.2))


def test_load_branching_order_env_then_data_dir_then_simulated(tmp_path, monkeypatch, capsys):
    def npz(path, value):
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, data=np.full((4, 2), value), labels=np.zeros((4, 3)))
        return path

    from_env = npz(tmp_path / "env.npz", 1.0)
    in_data = npz(sources.DATA_DIR / branching.BRANCHING_FILE, 2.0)
    monkeypatch.setenv(branching.BRANCHING_ENV, str(from_env))
    data, _, source = branching.load_branching()
    assert data[0, 0] == 1.0 and source == str(from_env)
    monkeypatch.delenv(branching.BRANCHING_ENV)
    data, _, source = branching.load_branching()
    assert data[0, 0] == 2.0 and source == str(in_data)
    in_data.unlink()
    data, labels, source = branching.load_branching()
    assert data.shape == (6350, 50) and labels.shape == (6350, 7)
    assert source.startswith("simulated")
    assert "Hub" not in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# hmtDNA tables and trees
# --------------------------------------------------------------------------------------------
@pytest.fixture
def real_trees(shared_data, monkeypatch):
    for reference, relpath in hmtdna.PHYLOTREE_FILES.items():
        monkeypatch.setenv(hmtdna.PHYLOTREE_ENVS[reference],
                           str(shared_data / "hmtdna" / Path(relpath).name))
    return hmtdna.load_phylotrees()


def test_missing_phylotree_names_the_file_and_the_variable():
    with pytest.raises(sources.DataNotAvailableError,
                       match=r"phylotree-rsrs-17.0.xml(.|\n)*RGD_PHYLOTREE_RSRS"):
        hmtdna.load_phylotrees()


def test_report_on_rcrs_is_reexpressed_to_rsrs(real_trees, shared_data, capsys):
    report = shared_data / "hmtdna" / "1kgp_rcrs_haplogrep.txt.gz"
    as_rcrs, _ = hmtdna.load_hmtdna_table("rcrs", real_trees, report)
    as_rsrs, description = hmtdna.load_hmtdna_table("rsrs", real_trees, report, "rcrs")
    assert "re-expressed to RSRS" in description and "re-expressing" in capsys.readouterr().out
    assert len(as_rsrs) == len(as_rcrs) == 2504
    # an rCRS genome (haplogroup H2a2a1) carries no rCRS variants but many RSRS ones
    lengths = as_rsrs["Input_Sample"].map(len) - as_rcrs["Input_Sample"].map(len)
    assert lengths.median() > 20


def test_auto_without_table_falls_back_to_a_labelled_simulation(real_trees, capsys):
    table, description = hmtdna.load_hmtdna_table("rsrs", real_trees, n_simulated=50)
    assert len(table) == 50 and table.attrs["simulated"]
    assert description.startswith("SIMULATED") and "offline fallback" in description
    assert "hmtDNA/rsrs.pkl: not there" in capsys.readouterr().out


def test_unknown_reference_is_rejected(real_trees):
    with pytest.raises(ValueError, match="reference must be one of"):
        hmtdna.load_hmtdna_table("hg19", real_trees)
