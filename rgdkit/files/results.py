"""Where results go, and writing tables and AnnData there atomically."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from rgdkit.files.atomic import write_atomically


def results_dir():
    """Where tables and figures go: ``RGD_RESULTS_DIR`` or ``results/``."""
    path = Path(os.environ.get("RGD_RESULTS_DIR", "results"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_table(df, name, folder=None):
    """Write ``df`` as ``<folder>/<name>.csv`` atomically; returns the path.

    ``name`` is a plain file name: one with a path separator or ``..`` raises ValueError, so a
    table never lands outside the results folder.
    """
    name = _plain_name(name, "save_table")
    return _write_atomically(lambda path: df.to_csv(path), f"{name}.csv", folder)


def saved_records(name, key, folder=None):
    """Rows of ``<folder>/<name>.csv`` as dicts keyed by the tuple of their ``key`` columns,
    for a long run that keeps what an earlier run finished; empty when the file is missing or
    lacks a ``key`` column (written by an older version: fit again)."""
    folder = Path(folder) if folder is not None else results_dir()
    path = folder / f"{_plain_name(name, 'saved_records')}.csv"
    if not path.exists():
        return {}
    saved = pd.read_csv(path)
    if not set(key) <= set(saved.columns):
        return {}
    return {tuple(r[k] for k in key): r for r in saved.to_dict("records")}


def save_anndata(adata, name, folder=None):
    """Write ``adata`` as ``<folder>/<name>.h5ad`` atomically (to continue in scanpy); returns the path."""
    name = _plain_name(name, "save_anndata")
    return _write_atomically(lambda path: adata.write_h5ad(path), f"{name}.h5ad", folder)


def _write_atomically(write, filename, folder):
    folder = Path(folder) if folder is not None else results_dir()
    return write_atomically(folder / filename, write)


def _plain_name(name, function) -> str:
    """``name`` when it is a plain file name; a name with a folder part could land anywhere."""
    name = str(name)
    separators = {"/", "\\", os.sep, os.altsep} - {None}
    if not name or name in (".", "..") or ".." in name or any(s in name for s in separators):
        raise ValueError(f"{function} name {name!r} contains a path separator or '..' (or is "
                         "empty); pass a plain file name such as 'table' and choose the folder "
                         "with folder= or the RGD_RESULTS_DIR environment variable")
    return name
