"""Cell-cycle data: the paper's DeepCycle fibroblasts, any AnnData with a phase column, or simulated cells."""
from __future__ import annotations

import re
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
from scipy import sparse

from rgdkit.data.sources import (CorruptDataError, DataNotAvailableError, corrupt_file_fix,
                                  fetch_data_file, known_file)

CELLCYCLE_H5AD = "cellcycle/velocity_anndata_human_fibroblast_DeepCycle_ISMARA.h5ad"
QUICKGO_TSV = "cellcycle/QuickGO-annotations-human.tsv"
CELLCYCLE_ENV = "RGD_CELLCYCLE_H5AD"
QUICKGO_ENV = "RGD_QUICKGO_TSV"
PHASE_COLUMN = "cell_cycle_theta"  # cell-cycle phase in [0, 1)
PHASE_UNITS = ("auto", "fraction", "radians")
NONPROLIFERATING_LEIDEN = "1"  # leiden cluster of the non-proliferating fibroblasts


def load_cellcycle(source="auto", phase_key=PHASE_COLUMN, nonproliferating=None,
                   gene_filter=None, drop_nan_phase=False, simulate_options=None,
                   phase_unit="auto"):
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
    189 genes. Other arguments (``phase_unit`` included) as in :func:`prepare_phase_anndata`.
    A file that is not a readable ``.h5ad`` raises :class:`CorruptDataError`. Returns
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
        drop_nan_phase=drop_nan_phase, phase_unit=phase_unit)
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
    try:
        return ad.read_h5ad(path)
    except Exception as err:  # h5py and anndata raise OSError, KeyError, ValueError, ... here
        raise CorruptDataError(f"{path} is not a readable .h5ad file ({type(err).__name__}: "
                               f"{_first_line(err)}); it is empty, truncated or not HDF5. "
                               f"{corrupt_file_fix(path)}") from err


def _first_line(err) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else "no message"


def _quickgo_gene_filter():
    """``(genes, note)``: the QuickGO cell-cycle genes if the list is available, else all genes."""
    try:
        path = fetch_data_file(QUICKGO_TSV, env_var=QUICKGO_ENV, **known_file(QUICKGO_TSV))
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
    try:
        table = pd.read_csv(path, sep="\t", dtype=str)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise CorruptDataError(f"{path} is not a readable QuickGO export ({_first_line(err)}); "
                               f"{corrupt_file_fix(path)}") from err
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
                          drop_nan_phase=False, phase_unit="auto") -> ad.AnnData:
    """A checked copy of ``adata`` with a dense float32 ``X`` and the phase in [0, 1).

    - ``obs[phase_key]`` must be numeric; ``phase_unit`` says what it is: ``"fraction"`` of the
      cycle in [0, 1], ``"radians"`` (any range, wrapped), or ``"auto"``: values in [0, 1] are
      read as a fraction, values in [-pi, pi] or [0, 2 pi] otherwise as radians, and the guess
      is printed with how to override it (angles in radians that happen to lie in [0, 1] need
      ``phase_unit="radians"``). The [0, 1) phase is written to ``obs["cell_cycle_theta"]``.
      NaN phases raise, or with ``drop_nan_phase=True`` their cells are dropped.
    - ``nonproliferating``: None (all cells proliferate), the name of a boolean obs column, a
      boolean mask over cells, or a callable ``adata -> mask``; stored as the boolean
      ``obs["proliferating"]`` (its negation).
    - ``gene_filter``: None, or gene names; only those among ``var_names`` are kept.
    - ``X`` (sparse or dense) becomes dense float32 and must be finite; other layers are kept.
    """
    _check_phase_unit(phase_unit)
    phase = _phase_values(adata, phase_key)
    nonproliferating_mask = _nonproliferating_mask(adata, nonproliferating)
    cells = _cells_with_phase(phase, phase_key, drop_nan_phase)
    genes = _genes_kept(adata.var_names, gene_filter)
    prepared = adata[cells, genes].copy()
    prepared.X = _dense_finite_float32(prepared.X)
    prepared.obs[PHASE_COLUMN] = _unit_phase(phase[cells], phase_key, phase_unit)
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


def _check_phase_unit(phase_unit):
    if phase_unit not in PHASE_UNITS:
        raise ValueError(f"phase_unit={phase_unit!r} is not one of {PHASE_UNITS}; pass "
                         "'fraction' for a phase in [0, 1], 'radians' for an angle, or 'auto'")


def _unit_phase(phase, phase_key, phase_unit="auto") -> np.ndarray:
    """The phase as a fraction of the cycle in [0, 1), from the unit given or guessed."""
    low, high = phase.min(), phase.max()
    span = f"obs['{phase_key}'] spans [{low:.3g}, {high:.3g}]"
    if phase_unit == "radians":
        return _wrap_unit(phase / (2 * np.pi))
    if phase_unit == "fraction":
        if low < 0.0 or high > 1.0:
            raise ValueError(f"{span}, outside [0, 1], so it is not a fraction of the cycle; "
                             "pass phase_unit='radians' for an angle (or 'auto')")
        return _wrap_unit(phase)
    if low >= 0.0 and high <= 1.0:
        print(f"data: {span}: read as a fraction of the cycle in [0, 1) (phase_unit='auto'); "
              "if it is an angle in radians, pass phase_unit='radians'")
        return _wrap_unit(phase)
    if low >= -np.pi and high <= 2 * np.pi:
        print(f"data: {span}: read as radians and converted to a phase in [0, 1) "
              "(phase_unit='auto'); pass phase_unit='radians' to say so, or 'fraction'")
        return _wrap_unit(phase / (2 * np.pi))
    raise ValueError(f"{span}: neither a phase in [0, 1) nor an angle in radians ([-pi, pi] or "
                     "[0, 2 pi]); pass phase_unit='radians' for angles of any range, or rescale "
                     "the column")


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

    description = (f"SIMULATED cycling cells: {n_cells} cells x {n_genes} genes, "
                   f"{nonproliferating.sum()} non-proliferating (leiden '1'), seed {seed}")
    obs = pd.DataFrame({PHASE_COLUMN: theta,
                        "leiden": pd.Categorical(np.where(nonproliferating, "1", "0"),
                                                 categories=["0", "1"])},
                       index=[f"cell{i:05d}" for i in range(n_cells)])
    var = pd.DataFrame({"log_mean": log_mean, "amplitude": amplitude, "peak_phase": peak_phase},
                       index=[f"SIMGENE{g:04d}" for g in range(n_genes)])
    adata = ad.AnnData(X=counts.copy(), obs=obs, var=var, layers={"counts": counts})
    # library sizes scaled to their median, then log1p: scanpy's standard preprocessing
    sc.pp.normalize_total(adata, target_sum=float(np.median(counts.sum(1))))
    sc.pp.log1p(adata)
    adata.uns.pop("log1p", None)  # scanpy's bookkeeping; the description below says what was done
    adata.uns["simulated"] = True
    adata.uns["description"] = description
    return adata
