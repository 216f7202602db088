"""What a notebook finds beside the project: the real data in ``../shared/data``.

The folder is found from the repository (the folder that holds ``rgdkit/``), not from the working
directory, so ``jupyter nbconvert --execute`` of a notebook, or of a copy of it elsewhere, uses
the same files as the notebook runner. ``RGD_SHARED_DATA`` names another folder. Each file
present sets an environment variable that the notebooks' loaders read (``RGD_BRANCHING_NPZ``,
...); a variable that is already set wins, with the settings that go with it.

This module imports nothing heavy: the notebooks' parameters cells call :func:`use_shared_data`.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA_VARIABLE = "RGD_SHARED_DATA"
# real public data kept beside the project (see data/README.md): environment variable -> file,
# or -> files in order of preference (the first one present is used)
GENBANK_TABLE = "hmtdna/genbank_rcrs_shared.tsv.gz"
KGP_REPORT = "hmtdna/1kgp_rcrs_haplogrep.txt.gz"
SHARED_DATA_FILES = {
    "RGD_BRANCHING_NPZ": "branching/tensordataset.npz",
    "RGD_CELLCYCLE_SOURCE": "cellcycle/peco_ipsc_101genes.h5ad",
    # the hmtDNA notebooks' real data: the GenBank genomes (the paper's kind of data)
    "RGD_HMTDNA_SOURCE": (GENBANK_TABLE, KGP_REPORT),
    # a second, small real set (2,504 genomes) for fast tests
    "RGD_HMTDNA_SMALL_SOURCE": KGP_REPORT,
    "RGD_PHYLOTREE_RSRS": "hmtdna/phylotree-rsrs-17.0.xml",
    "RGD_PHYLOTREE_RCRS": "hmtdna/phylotree-fu-rcrs-1.2.xml",
}
# settings that go with a variable's file: (variable, file) -> more variables. Both hmtDNA tables
# are rCRS-relative. 16,440 of the 18,567 GenBank genomes reach the paper's Quality 0.9; of the
# 2,504 1000 Genomes ones only 42 do (1,739 reach 0.8), so that report is used at 0.8
SHARED_DATA_SETTINGS = {
    ("RGD_HMTDNA_SOURCE", GENBANK_TABLE): {"RGD_HMTDNA_SOURCE_REFERENCE": "rcrs",
                                           "RGD_MIN_QUALITY": "0.9"},
    ("RGD_HMTDNA_SOURCE", KGP_REPORT): {"RGD_HMTDNA_SOURCE_REFERENCE": "rcrs",
                                        "RGD_MIN_QUALITY": "0.8"},
    ("RGD_HMTDNA_SMALL_SOURCE", KGP_REPORT): {"RGD_HMTDNA_SMALL_SOURCE_REFERENCE": "rcrs",
                                              "RGD_HMTDNA_SMALL_MIN_QUALITY": "0.8"},
}


def shared_data_folder() -> Path:
    """``RGD_SHARED_DATA`` if set, else ``shared/data`` in the folder that holds the project."""
    return Path(os.environ.get(SHARED_DATA_VARIABLE) or ROOT.parent / "shared" / "data")


def shared_data_groups(folder: Path) -> dict[str, dict[str, str]]:
    """For each variable of :data:`SHARED_DATA_FILES` whose file is present in ``folder``: the
    variable and the settings that go with its file."""
    groups = {}
    for variable, relpaths in SHARED_DATA_FILES.items():
        candidates = (relpaths,) if isinstance(relpaths, str) else relpaths
        present = [relpath for relpath in candidates if (Path(folder) / relpath).is_file()]
        if present:
            groups[variable] = {variable: str(Path(folder) / present[0]),
                                **SHARED_DATA_SETTINGS.get((variable, present[0]), {})}
    return groups


def shared_data_environment(folder: Path) -> dict[str, str]:
    """Environment variables pointing the notebooks at the real data files present in ``folder``."""
    return {key: value for group in shared_data_groups(folder).values() for key, value in group.items()}


def use_shared_data(folder: Path | None = None) -> dict[str, str]:
    """Set the environment variables of the real data present in ``folder`` (default
    :func:`shared_data_folder`) in this process, leaving alone every variable already set (and
    the settings of its file: a user's own hmtDNA table keeps its own quality threshold).
    Returns the variables it set; prints nothing (a notebook's first output is its header)."""
    applied = {}
    for variable, group in shared_data_groups(folder or shared_data_folder()).items():
        if os.environ.get(variable):
            continue
        for key, value in group.items():
            if key not in os.environ:
                os.environ[key] = applied[key] = value
    return applied
