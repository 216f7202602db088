"""Data for the three case studies: local files, the HuggingFace Hub, and offline simulators.

Every loader says aloud what it tried and what it used, so a reader of a notebook knows which
data produced its figures.

One resolver, :func:`fetch_data_file`, finds every data file, trying in order

1. a path the caller names (an argument, or an environment variable such as ``RGD_CELLCYCLE_H5AD``);
2. ``data/<relpath>`` in this repository;
3. the paper's HuggingFace Hub dataset ``yhsure/riemannian-generative-decoder`` (normal Hub cache);

and raises :class:`DataNotAvailableError` when none has it, so that a loader can fall back to a
simulator (branching diffusion, cycling cells) and say so.
"""
from __future__ import annotations

import hashlib
import os
import random
import re
from collections import deque
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from huggingface_hub import constants as hf_constants
from huggingface_hub import errors as hf_errors
from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
from scipy import sparse

import hmtdna

ROOT = Path(__file__).resolve().parent
DATA_DIR = ROOT / "data"  # read at call time, so tests can point it elsewhere

HUB_REPO_ID = "yhsure/riemannian-generative-decoder"
# Pinned by name only: the Hub was unreachable where this was written. Set it to the commit hash
# of the dataset once its files have been checked, so every run reads the same bytes.
HUB_REVISION = "main"
HUB_TIMEOUT_S = 5.0  # per request; the metadata request is not retried, so offline fails fast

BRANCHING_FILE = "branching/tensordataset.npz"
CELLCYCLE_H5AD = "cellcycle/velocity_anndata_human_fibroblast_DeepCycle_ISMARA.h5ad"
QUICKGO_TSV = "cellcycle/QuickGO-annotations-human.tsv"
HMTDNA_TABLES = {"rsrs": "hmtDNA/rsrs.pkl", "rcrs": "hmtDNA/rcrs.pkl"}  # Hub paths not confirmed
PHYLOTREE_FILES = {"rsrs": "hmtdna/phylotree-rsrs-17.0.xml", "rcrs": "hmtdna/phylotree-fu-rcrs-1.2.xml"}

BRANCHING_ENV = "RGD_BRANCHING_NPZ"
CELLCYCLE_ENV = "RGD_CELLCYCLE_H5AD"
QUICKGO_ENV = "RGD_QUICKGO_TSV"
HMTDNA_TABLE_ENV = "RGD_HMTDNA_TABLE"
PHYLOTREE_ENVS = {"rsrs": "RGD_PHYLOTREE_RSRS", "rcrs": "RGD_PHYLOTREE_RCRS"}

PHASE_COLUMN = "cell_cycle_theta"  # cell-cycle phase in [0, 1)
NONPROLIFERATING_LEIDEN = "1"  # leiden cluster of the non-proliferating fibroblasts

# Everything hf_hub_download / get_hf_file_metadata raise when a file cannot be had: missing
# repository, revision or file; HTTP errors; and transport errors (the HTTP client's HTTPError
# base class, re-exported by huggingface_hub), ConnectionError, TimeoutError, OfflineModeIsEnabled.
_HUB_ERRORS = (hf_errors.EntryNotFoundError, hf_errors.HTTPError, OSError)


class DataNotAvailableError(FileNotFoundError):
    """No usable copy of a data file was found locally, in ``data/``, or on the Hub."""


class CorruptDataError(ValueError):
    """A file the caller named explicitly has the wrong size or checksum."""


# --------------------------------------------------------------------------------------------
# Finding data files
# --------------------------------------------------------------------------------------------
def fetch_data_file(relpath, local_path=None, env_var=None, allow_hub=True, expected_size=None,
                    sha256=None) -> Path:
    """Path to the data file ``relpath`` (e.g. ``"cellcycle/QuickGO-annotations-human.tsv"``).

    Tries, printing each step and its outcome: ``local_path``, else the path in environment
    variable ``env_var`` (either must exist: a named file that is missing raises
    ``FileNotFoundError``); then ``DATA_DIR/relpath``; then, if ``allow_hub``, ``relpath`` in the
    Hub dataset :data:`HUB_REPO_ID` at :data:`HUB_REVISION`. Every file found is checked against
    ``expected_size`` (bytes) and ``sha256`` when given (on the Hub, against the size the Hub
    reports); a corrupt download is fetched again once, a corrupt file elsewhere is reported and
    skipped (or, when named explicitly, raises :class:`CorruptDataError`).

    Raises :class:`DataNotAvailableError` naming the file and the ways to provide it when no step
    has it; callers with an offline fallback catch it.
    """
    explicit = _explicit_path(local_path, env_var)
    if explicit is not None:
        return _checked_explicit_file(*explicit, expected_size, sha256)
    tried = []
    found = _data_dir_file(relpath, expected_size, sha256, tried)
    if found is None and allow_hub:
        found = _hub_file(relpath, expected_size, sha256, tried)
    if found is None:
        raise DataNotAvailableError(_not_available_message(relpath, env_var, allow_hub, tried))
    return found


def _report(where, outcome, tried=None):
    """Print one step of the search; also append it to ``tried`` for the final error message."""
    line = f"data: trying {where}: {outcome}"
    print(line)
    if tried is not None:
        tried.append(line)


def _explicit_path(local_path, env_var):
    """``(path, how it was named)`` from the argument or the environment, or None."""
    if local_path is not None:
        return Path(local_path), "path given"
    if env_var and os.environ.get(env_var):
        return Path(os.environ[env_var]), f"${env_var}"
    return None


def _checked_explicit_file(path, named_by, expected_size, sha256) -> Path:
    where = f"{named_by} {path}"
    if not path.is_file():
        _report(where, "does not exist")
        raise FileNotFoundError(f"{where} does not exist; name an existing file, or name none to "
                                f"use {DATA_DIR} or the Hub")
    problem = _integrity_problem(path, expected_size, sha256)
    if problem is not None:
        _report(where, f"corrupt ({problem})")
        raise CorruptDataError(f"{where} is corrupt ({problem}); replace it")
    _report(where, "found")
    return path


def _data_dir_file(relpath, expected_size, sha256, tried):
    path = DATA_DIR / relpath
    if not path.is_file():
        _report(path, "not there", tried)
        return None
    problem = _integrity_problem(path, expected_size, sha256)
    if problem is not None:
        _report(path, f"corrupt ({problem}); not used, delete or replace it", tried)
        return None
    _report(path, "found", tried)
    return path


def _hub_file(relpath, expected_size, sha256, tried):
    """Download ``relpath`` from the Hub (or take it from the Hub cache when offline), checked."""
    where = f"Hub {HUB_REPO_ID}@{HUB_REVISION} {relpath}"
    if _hub_offline():
        _report(where, "HF_HUB_OFFLINE=1, looking in the Hub cache only", tried)
        return _hub_download_checked(relpath, where, expected_size, sha256, tried, cache_only=True)
    try:
        hub_size = _hub_file_size(relpath)
    except _HUB_ERRORS as err:
        _report(where, _hub_failure(err), tried)
        if _missing_on_hub(err):
            return None
        return _hub_download_checked(relpath, where, expected_size, sha256, tried, cache_only=True)
    return _hub_download_checked(relpath, where, expected_size or hub_size, sha256, tried,
                                 cache_only=False)


def _hub_offline() -> bool:
    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return hf_constants.HF_HUB_OFFLINE or flag in {"1", "ON", "YES", "TRUE"}


def _hub_file_size(relpath):
    """Size in bytes the Hub reports for ``relpath``: one request, no retries, short timeout.

    ``hf_hub_download`` retries a failed connection with back-off for about 20 s; asking for
    the metadata first makes an unreachable Hub fail in well under a second.
    """
    url = hf_hub_url(HUB_REPO_ID, relpath, repo_type="dataset", revision=HUB_REVISION)
    return get_hf_file_metadata(url, timeout=HUB_TIMEOUT_S).size


def _hub_download_checked(relpath, where, expected_size, sha256, tried, cache_only):
    for force_download in ([False] if cache_only else [False, True]):
        try:
            path = Path(hf_hub_download(HUB_REPO_ID, relpath, repo_type="dataset",
                                        revision=HUB_REVISION, etag_timeout=HUB_TIMEOUT_S,
                                        force_download=force_download,
                                        local_files_only=cache_only))
        except _HUB_ERRORS as err:
            _report(where, _hub_failure(err), tried)
            return None
        problem = _integrity_problem(path, expected_size, sha256)
        if problem is None:
            how = "found in the Hub cache" if cache_only else "fetched"
            _report(where, f"{how}: {path}", tried)
            return path
        again = not (cache_only or force_download)
        _report(where, f"{path} is corrupt ({problem}); "
                       + ("downloading it again" if again else "not used"), tried)
    return None


def _missing_on_hub(err) -> bool:
    missing = (hf_errors.RepositoryNotFoundError, hf_errors.RevisionNotFoundError,
               hf_errors.EntryNotFoundError)
    return isinstance(err, missing) and not isinstance(err, hf_errors.LocalEntryNotFoundError)


def _hub_failure(err) -> str:
    """What an exception from the Hub client means, in a few words, with its type."""
    name = type(err).__name__
    if isinstance(err, hf_errors.LocalEntryNotFoundError):
        return f"not in the Hub cache ({name})"
    if _missing_on_hub(err):
        return f"not on the Hub ({name})"
    if isinstance(err, hf_errors.HfHubHTTPError):
        status = getattr(getattr(err, "response", None), "status_code", "?")
        return f"Hub answered HTTP {status} ({name})"
    return f"unreachable ({name})"


def _integrity_problem(path, expected_size, sha256):
    """Why ``path`` fails the size / sha256 check, or None when it passes (or nothing is known)."""
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        return f"{size} bytes, expected {expected_size}"
    if sha256 is not None:
        digest = _sha256_of(path)
        if digest != sha256.lower():
            return f"sha256 {digest[:12]}..., expected {sha256.lower()[:12]}..."
    return None


def _sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _not_available_message(relpath, env_var, allow_hub, tried) -> str:
    ways = ["pass its path to the loader (or local_path= to fetch_data_file)"]
    if env_var:
        ways.append(f"set the environment variable {env_var}=/path/to/{Path(relpath).name}")
    ways.append(f"put it at {DATA_DIR / relpath}")
    lines = [f"data file {relpath} is not available.", "Tried:", *(f"  {t}" for t in tried),
             "Provide it in one of these ways:", *(f"  - {w}" for w in ways)]
    if allow_hub:
        lines.append(f"or run where huggingface.co is reachable (without HF_HUB_OFFLINE=1) to "
                     f"download it from the Hub dataset {HUB_REPO_ID}@{HUB_REVISION}.")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Branching diffusion (P-VAE synthetic tree)
# --------------------------------------------------------------------------------------------
def simulate_branching_diffusion(dim=50, depth=6, n_children=2, sigma=1.0, param=1.0,
                                 n_siblings=50, factor_sibling=8.0, seed=0, standardize=True):
    """Noisy observations of a Gaussian random walk down a full tree (the P-VAE process).

    Nodes are visited breadth first from a root at the origin. Each node below ``depth`` gets
    ``n_children`` children at ``parent + N(0, sigma/param)``; then ``n_siblings`` noisy
    observations ``node + N(0, sigma/factor_sibling)`` are emitted for the node. Labels are path
    codes: branch choices 1..n_children before the node's depth, ``-k`` for observation k at its
    depth, 0 after. With the defaults and seed 0 this reproduces the paper's published data set
    (6350 x 50) to floating point precision; the draw order (children before observations) is what
    makes that so.

    Returns ``(data, labels)``: float64 arrays of shape (N, dim) and (N, depth + 1).
    """
    _seed_everything(seed)
    observations, labels = [], []
    queue = deque([(np.zeros(dim), np.zeros(depth + 1), 0)])
    while queue:
        node, label, level = queue.popleft()
        if level < depth:
            for i, child in enumerate(_gaussian_steps(node, n_children, sigma / param)):
                queue.append((child, _with_code(label, level, i + 1), level + 1))
        for i, obs in enumerate(_gaussian_steps(node, n_siblings, sigma / factor_sibling)):
            observations.append(obs)
            labels.append(_with_code(label, level, -(i + 1)))
    data = np.asarray(observations)
    if standardize:
        data = (data - data.mean(0)) / data.std(0)
    return data, np.asarray(labels)


def _seed_everything(seed):
    """Seed ``random``, ``numpy`` and (if installed) ``torch`` as the published data were made."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
        torch.manual_seed(seed)
    except ImportError:
        pass


def _gaussian_steps(point, n, variance):
    # One randn call per step, in order: the published data depend on this exact sequence.
    return [point + np.random.randn(point.shape[0]) * np.sqrt(variance) for _ in range(n)]


def _with_code(label, level, code):
    out = label.copy()
    out[level] = code
    return out


def load_branching(path=None):
    """The branching data: ``path``, else ``$RGD_BRANCHING_NPZ``, else ``data/``, else simulated.

    The file has arrays ``data`` and ``labels`` (see :func:`simulate_branching_diffusion`). There is
    no Hub step: the simulator with seed 0 regenerates the published data set exactly.
    Returns ``(data, labels, source)`` where ``source`` says where they came from.
    """
    try:
        path = fetch_data_file(BRANCHING_FILE, local_path=path, env_var=BRANCHING_ENV,
                               allow_hub=False)
    except DataNotAvailableError:
        print("data: simulating the published branching data set (P-VAE process, seed 0)")
        return (*simulate_branching_diffusion(), "simulated (P-VAE branching diffusion, seed 0)")
    return (*_read_branching_npz(path), str(path))


def load_phylotrees():
    """Both PhyloTrees, ``{"rsrs": tree, "rcrs": tree}``: ``$RGD_PHYLOTREE_RSRS`` /
    ``$RGD_PHYLOTREE_RCRS``, else ``data/hmtdna/`` (PhyloTree 17 RSRS, FU rCRS 1.2 XML files)."""
    trees = {}
    for reference, relpath in PHYLOTREE_FILES.items():
        path = fetch_data_file(relpath, env_var=PHYLOTREE_ENVS[reference], allow_hub=False)
        trees[reference] = hmtdna.load_phylotree(path)
    return trees


def load_hmtdna_table(reference, trees, source="auto", source_reference=None,
                      n_simulated=3000, seed=0):
    """Samples with their variants relative to ``reference`` ("rsrs" or "rcrs"), and a description.

    ``source``:

    - ``"auto"``: ``$RGD_HMTDNA_TABLE``, else the paper's table ``data/hmtDNA/<reference>.pkl``,
      else the same file from the pinned Hub revision, else a table simulated from the tree;
    - ``"simulated"``: :func:`hmtdna.simulate_haplogroup_table` on ``trees[reference]``;
    - a path: a haplogrep3 extended report (text) or a table pickle (``.pkl``) you chose.

    ``source_reference`` is the reference the file's variants are relative to (default:
    ``reference``; the 1000 Genomes report is "rcrs"); a table on the other reference is
    re-expressed with the two trees (:func:`hmtdna.reexpress_table`).
    """
    hmtdna.check_reference(reference)
    if source == "simulated":
        return _simulated_hmtdna(trees[reference], n_simulated, seed, "requested")
    if source == "auto":
        try:
            path = fetch_data_file(HMTDNA_TABLES[reference], env_var=HMTDNA_TABLE_ENV)
        except DataNotAvailableError:
            print("data: no hmtDNA table available; simulating one from the PhyloTree instead")
            return _simulated_hmtdna(trees[reference], n_simulated, seed, "offline fallback")
    else:
        path = Path(source)
    table = _read_hmtdna_file(path)
    from_reference = source_reference or reference
    if from_reference != reference:
        print(f"data: re-expressing variants from {from_reference.upper()} to {reference.upper()}")
        table = hmtdna.reexpress_table(table, from_reference, reference,
                                       rsrs_tree=trees["rsrs"], rcrs_tree=trees["rcrs"])
    description = (f"{path} ({len(table)} samples, variants relative to "
                   f"{from_reference.upper()}" + (f", re-expressed to {reference.upper()})"
                                                  if from_reference != reference else ")"))
    print(f"data: using {description}")
    return table, description


def _read_hmtdna_file(path):
    # a pickle runs code when loaded: only the pinned Hub revision or a file the user named
    # reaches this point
    if path.suffix == ".pkl" or path.name.endswith(".pkl.gz"):
        return hmtdna.load_hub_table(path, trusted=True)
    return hmtdna.load_haplogrep_report(path)


def _simulated_hmtdna(tree, n_samples, seed, why):
    table = hmtdna.simulate_haplogroup_table(tree, n_samples, seed=seed)
    description = (f"SIMULATED haplotypes ({why}) - not real data: {n_samples} samples drawn "
                   f"from the PhyloTree rooted at {tree.root}")
    print(f"data: using {description}")
    return table, description


def _read_branching_npz(path):
    try:
        with np.load(path) as npz:
            data, labels = npz["data"], npz["labels"]
    except KeyError as err:
        raise ValueError(f"{path} lacks array {err}; expected arrays 'data' and 'labels'") from None
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} is not a readable .npz file ({err}); delete it or pass another "
                         "path") from None
    if data.ndim != 2 or labels.ndim != 2 or len(data) != len(labels):
        raise ValueError(f"{path}: expected data (N, D) and labels (N, depth+1), got "
                         f"{data.shape} and {labels.shape}")
    return data.astype(np.float64), labels


# --------------------------------------------------------------------------------------------
# Cell cycle (DeepCycle human fibroblasts, or any AnnData with a phase column)
# --------------------------------------------------------------------------------------------
def load_cellcycle(source="auto", phase_key=PHASE_COLUMN, nonproliferating=None,
                   gene_filter=None, drop_nan_phase=False, simulate_options=None):
    """Cell-cycle data ready for the model, and a plain description of what it is.

    ``source``:

    - ``"auto"``: the paper's fibroblast file (``$RGD_CELLCYCLE_H5AD``, ``data/``, then the Hub;
      see :func:`fetch_data_file`), else simulated cycling cells (:func:`simulate_cellcycle`);
    - ``"hub"``: the paper's fibroblast file from the same places, with no simulated fallback;
    - ``"simulated"``: :func:`simulate_cellcycle` with ``simulate_options`` (a dict);
    - a path to any ``.h5ad`` whose ``obs[phase_key]`` holds the phase.

    For the fibroblast file and the simulator, ``nonproliferating`` defaults to leiden cluster
    "1"; for the fibroblast file ``gene_filter`` defaults to the QuickGO cell-cycle genes
    (GO:0007049, Ensembl-assigned) when that list is also available, which leaves the paper's
    189 genes. Other arguments as in :func:`prepare_phase_anndata`. Returns
    ``(adata, description)``; the description is also stored in ``adata.uns["description"]``.
    """
    if source == "simulated":
        adata = simulate_cellcycle(**(simulate_options or {}))
        description = "SIMULATED cycling cells (requested) - not real data"
        default_nonproliferating, default_genes = _leiden_nonproliferating, None
    elif source in ("auto", "hub"):
        try:
            path = fetch_data_file(CELLCYCLE_H5AD, env_var=CELLCYCLE_ENV)
        except DataNotAvailableError:
            if source == "hub":
                raise
            print("data: no real cell-cycle data available; simulating cycling cells instead")
            adata = simulate_cellcycle(**(simulate_options or {}))
            description = "SIMULATED cycling cells (offline fallback) - not real data"
            default_nonproliferating, default_genes = _leiden_nonproliferating, None
        else:
            adata = _read_h5ad(path)
            default_genes, gene_note = _quickgo_gene_filter()
            description = f"DeepCycle human fibroblasts ({path}), {gene_note}"
            default_nonproliferating = _leiden_nonproliferating
    else:
        adata = _read_h5ad(source)
        description = f"AnnData file {source}"
        default_nonproliferating, default_genes = None, None
    prepared = prepare_phase_anndata(
        adata, phase_key,
        nonproliferating=default_nonproliferating if nonproliferating is None else nonproliferating,
        gene_filter=default_genes if gene_filter is None else gene_filter,
        drop_nan_phase=drop_nan_phase)
    n_proliferating = int(prepared.obs["proliferating"].sum())
    description += (f": {prepared.n_obs} cells x {prepared.n_vars} genes, "
                    f"{n_proliferating} proliferating")
    prepared.uns["description"] = description
    print(f"data: using {description}")
    return prepared, description


def _read_h5ad(path) -> ad.AnnData:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cell-cycle AnnData {path} does not exist; pass an existing "
                                "'.h5ad' file or source='auto'")
    return ad.read_h5ad(path)


def _quickgo_gene_filter():
    """``(genes, note)``: the QuickGO cell-cycle genes if the list is available, else all genes."""
    try:
        path = fetch_data_file(QUICKGO_TSV, env_var=QUICKGO_ENV)
    except DataNotAvailableError:
        print("data: QuickGO list not available; keeping all genes (the paper keeps the 189 "
              "QuickGO cell-cycle genes)")
        return None, "all genes (QuickGO list not available)"
    return quickgo_cell_cycle_genes(path), "QuickGO GO:0007049 genes"


def _leiden_nonproliferating(adata) -> np.ndarray:
    if "leiden" not in adata.obs:
        raise ValueError("expected obs['leiden'] (cluster '1' = non-proliferating cells) in the "
                         f"fibroblast data; obs has {list(adata.obs.columns)}. Pass "
                         "nonproliferating= explicitly.")
    return (adata.obs["leiden"].astype(str) == NONPROLIFERATING_LEIDEN).to_numpy()


def quickgo_cell_cycle_genes(path) -> list[str]:
    """Sorted unique gene symbols of the Ensembl-assigned rows of a QuickGO annotation export.

    The file is QuickGO's tab-separated download (columns ``GENE PRODUCT DB``, ``SYMBOL``,
    ``GO TERM``, ``ASSIGNED BY``, ...); columns are renamed to snake_case before use.
    """
    table = pd.read_csv(path, sep="\t", dtype=str)
    table.columns = [_snake_case(column) for column in table.columns]
    missing = [column for column in ("symbol", "assigned_by") if column not in table.columns]
    if missing:
        raise ValueError(f"{path} is not a QuickGO annotation export: no column(s) {missing} "
                         f"(after renaming to snake_case); its columns are "
                         f"{list(table.columns)}")
    ensembl = table.loc[table["assigned_by"].str.strip() == "Ensembl", "symbol"].dropna()
    if ensembl.empty:
        raise ValueError(f"{path} has no rows assigned by Ensembl (assigned_by values: "
                         f"{sorted(table['assigned_by'].dropna().unique())[:10]})")
    return sorted(ensembl.str.strip().unique())


def _snake_case(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def prepare_phase_anndata(adata, phase_key=PHASE_COLUMN, nonproliferating=None, gene_filter=None,
                          drop_nan_phase=False) -> ad.AnnData:
    """A checked copy of ``adata`` with a dense float32 ``X`` and the phase in [0, 1).

    - ``obs[phase_key]`` must be numeric: a phase in [0, 1), or an angle in radians (values in
      [-pi, pi] or [0, 2 pi]), which is converted with a printed note. The [0, 1) phase is
      written to ``obs["cell_cycle_theta"]``. NaN phases raise, or with ``drop_nan_phase=True``
      their cells are dropped.
    - ``nonproliferating``: None (all cells proliferate), the name of a boolean obs column, a
      boolean mask over cells, or a callable ``adata -> mask``; stored as the boolean
      ``obs["proliferating"]`` (its negation).
    - ``gene_filter``: None, or gene names; only those among ``var_names`` are kept.
    - ``X`` (sparse or dense) becomes dense float32 and must be finite; other layers are kept.
    """
    phase = _phase_values(adata, phase_key)
    nonproliferating_mask = _nonproliferating_mask(adata, nonproliferating)
    cells = _cells_with_phase(phase, phase_key, drop_nan_phase)
    genes = _genes_kept(adata.var_names, gene_filter)
    prepared = adata[cells, genes].copy()
    prepared.X = _dense_finite_float32(prepared.X)
    prepared.obs[PHASE_COLUMN] = _unit_phase(phase[cells], phase_key)
    prepared.obs["proliferating"] = ~nonproliferating_mask[cells]
    return prepared


def _phase_values(adata, phase_key) -> np.ndarray:
    column = _obs_column(adata, phase_key, "the phase", "Pass phase_key=<the column with the phase>.")
    if not pd.api.types.is_numeric_dtype(column):
        raise ValueError(f"obs['{phase_key}'] must be numeric (a phase in [0, 1) or radians), "
                         f"got dtype {column.dtype}")
    return column.to_numpy(dtype=float)


def _obs_column(adata, key, role, fix) -> pd.Series:
    if key not in adata.obs:
        raise ValueError(f"no column obs['{key}'] for {role}; available obs columns: "
                         f"{list(adata.obs.columns)}. {fix}")
    return adata.obs[key]


def _cells_with_phase(phase, phase_key, drop_nan_phase) -> np.ndarray:
    missing = np.isnan(phase)
    if missing.any() and not drop_nan_phase:
        raise ValueError(f"obs['{phase_key}'] is NaN for {missing.sum()} of {len(phase)} cells; "
                         f"drop them (adata[adata.obs['{phase_key}'].notna()]) or pass "
                         "drop_nan_phase=True")
    if missing.all():
        raise ValueError(f"obs['{phase_key}'] is NaN for every cell")
    if missing.any():
        print(f"data: dropping {missing.sum()} of {len(phase)} cells with NaN obs['{phase_key}']")
    return ~missing


def _unit_phase(phase, phase_key) -> np.ndarray:
    low, high = phase.min(), phase.max()
    if low >= 0.0 and high <= 1.0:
        return _wrap_unit(phase)
    if low >= -np.pi and high <= 2 * np.pi:
        print(f"data: obs['{phase_key}'] spans [{low:.3g}, {high:.3g}]: read as radians and "
              "converted to a phase in [0, 1)")
        return _wrap_unit(phase / (2 * np.pi))
    raise ValueError(f"obs['{phase_key}'] spans [{low:.3g}, {high:.3g}]: neither a phase in "
                     "[0, 1) nor an angle in radians ([-pi, pi] or [0, 2 pi])")


def _wrap_unit(phase) -> np.ndarray:
    wrapped = np.mod(phase, 1.0)
    wrapped[wrapped >= 1.0] = 0.0  # np.mod(-1e-17, 1.0) rounds to 1.0
    return wrapped


def _nonproliferating_mask(adata, nonproliferating) -> np.ndarray:
    if nonproliferating is None:
        return np.zeros(adata.n_obs, dtype=bool)
    if isinstance(nonproliferating, str):
        column = _obs_column(adata, nonproliferating, "the non-proliferating cells",
                             "Pass nonproliferating=<a boolean column or mask>.")
        if not pd.api.types.is_bool_dtype(column):
            raise ValueError(f"obs['{nonproliferating}'] has dtype {column.dtype}, not boolean; "
                             "pass a boolean mask instead, e.g. "
                             f"adata.obs['{nonproliferating}'] == '1'")
        mask = column.to_numpy()
    elif callable(nonproliferating):
        mask = np.asarray(nonproliferating(adata))
    else:
        mask = np.asarray(nonproliferating)
    if mask.dtype != bool or mask.shape != (adata.n_obs,):
        raise ValueError(f"nonproliferating must give a boolean mask of shape ({adata.n_obs},), "
                         f"got dtype {mask.dtype} and shape {mask.shape}")
    return mask


def _genes_kept(var_names, gene_filter) -> np.ndarray:
    if gene_filter is None:
        return np.ones(len(var_names), dtype=bool)
    wanted = set(gene_filter)
    kept = var_names.isin(wanted)
    if not kept.any():
        raise ValueError(f"none of the {len(wanted)} genes in gene_filter is among the "
                         f"{len(var_names)} var_names (e.g. {list(var_names[:3])} vs "
                         f"{sorted(wanted)[:3]}); are both gene symbols, or both Ensembl IDs?")
    print(f"data: gene filter keeps {kept.sum()} of {len(var_names)} genes "
          f"({len(wanted) - kept.sum()} listed genes are not in the data)")
    return kept


def _dense_finite_float32(matrix) -> np.ndarray:
    dense = matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix)
    bad = ~np.isfinite(dense)
    if bad.any():
        raise ValueError(f"X has {bad.sum()} NaN or infinite values in {bad.any(1).sum()} cells; "
                         "remove or impute them before use")
    return dense.astype(np.float32)


def simulate_cellcycle(n_cells=1000, n_genes=100, nonproliferating_fraction=0.1,
                       seed=0) -> ad.AnnData:
    """Simulated counts of cycling cells, with the schema of the paper's fibroblast AnnData.

    Each gene g has a log-mean ``a_g ~ N(1.5, 0.5)``, an amplitude ``b_g ~ U(0.5, 1.5)`` and a
    peak phase ``phi_g ~ U[0, 1)``. A cycling cell with phase ``theta ~ U[0, 1)`` and size factor
    ``s ~ LogNormal(0, 0.25)`` has mean count ``s exp(a_g + b_g cos 2 pi (theta - phi_g))``; a
    non-proliferating cell has the flat, low mean ``s exp(a_g - 0.5 + 0.1 b_g cos ...)``, so
    its phase carries almost no signal. Counts are negative binomial (gamma-Poisson, shape 10).

    Returns an AnnData with ``layers["counts"]``, ``X = log1p`` of counts scaled to the median
    library size (float32), ``obs["cell_cycle_theta"]``, ``obs["leiden"]`` ("1" for the
    non-proliferating cells, "0" otherwise), the true gene parameters in ``var``
    (``log_mean``, ``amplitude``, ``peak_phase``), ``uns["simulated"] = True`` and
    ``uns["description"]``. The same ``seed`` gives the same data.
    """
    if not 0.0 <= nonproliferating_fraction < 1.0:
        raise ValueError(f"nonproliferating_fraction must be in [0, 1), got "
                         f"{nonproliferating_fraction}")
    rng = np.random.default_rng(seed)
    log_mean = rng.normal(1.5, 0.5, n_genes)
    amplitude = rng.uniform(0.5, 1.5, n_genes)
    peak_phase = rng.uniform(0.0, 1.0, n_genes)
    theta = rng.uniform(0.0, 1.0, n_cells)
    nonproliferating = rng.permutation(n_cells) < round(nonproliferating_fraction * n_cells)
    size_factor = rng.lognormal(0.0, 0.25, n_cells)

    wave = np.cos(2 * np.pi * (theta[:, None] - peak_phase[None, :]))
    log_rate = np.where(nonproliferating[:, None],
                        log_mean - 0.5 + 0.1 * amplitude * wave,
                        log_mean + amplitude * wave)
    mean = size_factor[:, None] * np.exp(log_rate)
    shape = 10.0
    counts = rng.negative_binomial(shape, shape / (shape + mean)).astype(np.float32)
    library = np.maximum(counts.sum(1, keepdims=True), 1.0)
    normalised = np.log1p(counts / library * np.median(library)).astype(np.float32)

    description = (f"SIMULATED cycling cells: {n_cells} cells x {n_genes} genes, "
                   f"{nonproliferating.sum()} non-proliferating (leiden '1'), seed {seed}")
    obs = pd.DataFrame({PHASE_COLUMN: theta,
                        "leiden": pd.Categorical(np.where(nonproliferating, "1", "0"),
                                                 categories=["0", "1"])},
                       index=[f"cell{i:05d}" for i in range(n_cells)])
    var = pd.DataFrame({"log_mean": log_mean, "amplitude": amplitude, "peak_phase": peak_phase},
                       index=[f"SIMGENE{g:04d}" for g in range(n_genes)])
    adata = ad.AnnData(X=normalised, obs=obs, var=var, layers={"counts": counts})
    adata.uns["simulated"] = True
    adata.uns["description"] = description
    return adata


# --------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------
def split_indices(n, fractions=(0.82, 0.09, 0.09), seed=0):
    """Random disjoint ``(train, val, test)`` index arrays covering ``range(n)``, each sorted.

    Sizes are ``round(fractions[0] * n)``, ``round(fractions[1] * n)`` and the rest; the same
    ``seed`` gives the same split.
    """
    fractions = np.asarray(fractions, dtype=float)
    if fractions.shape != (3,) or (fractions < 0).any() or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got "
                         f"{tuple(fractions)}")
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_val = min(int(round(fractions[1] * n)), n - n_train)
    return (np.sort(order[:n_train]), np.sort(order[n_train:n_train + n_val]),
            np.sort(order[n_train + n_val:]))
