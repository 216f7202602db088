"""Where results go, and writing tables and AnnData there atomically."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from rgdkit.files.atomic import write_atomically


RESULTS_VARIABLE = "RGD_RESULTS_DIR"


def results_dir():
    """Where tables and figures go: ``RGD_RESULTS_DIR`` or ``results/`` (created when missing;
    ValueError when it is a file)."""
    named = RESULTS_VARIABLE in os.environ and os.environ[RESULTS_VARIABLE] != ""
    path = Path(os.environ.get(RESULTS_VARIABLE) or "results")
    return results_folder(path, f"{RESULTS_VARIABLE}={path}" if named else
                          f"the default results folder {path}")


def results_folder(path, named_by=None):
    """``path`` as an existing folder (created when missing). A path that is a file, or runs
    through one, raises ValueError naming it and the fix instead of "File exists"."""
    path = Path(path)
    named_by = named_by or f"the folder {path}"
    fix = (f"pass another folder (folder=..., or the {RESULTS_VARIABLE} environment variable), "
           "or move the file away")
    if path.exists() and not path.is_dir():
        raise ValueError(f"results go to a folder, but {named_by} is a file; {fix}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as error:
        raise ValueError(f"results go to a folder, but {named_by} cannot be one: a part of its "
                         f"path is a file ({error}); {fix}") from None
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
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"results go to a folder, but {folder} is a file; pass another folder "
                         f"(folder=..., or the {RESULTS_VARIABLE} environment variable)")
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
    folder = results_folder(folder) if folder is not None else results_dir()
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
