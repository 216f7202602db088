"""What a notebook says first: the profile, the data and the machine that produced its results."""
from __future__ import annotations

import platform
from pathlib import Path

import torch

import rgd_utils as R
from rgdkit.experiments.profiles import PROFILES
from rgdkit.files.results import results_dir

# committed outputs name data files relative to the folder that holds the project (no home paths)
_PROJECT_PARENT = str(Path(__file__).resolve().parents[3]) + "/"


def header(profile, data, **details):
    """Print the notebook's first line (profile, data, further ``details``, device, versions) and
    return the results folder. Paths under the folder that holds the project are shown relative
    to it (``shared/data/...``), so outputs carry no machine paths. A profile other than ``fast`` or ``paper`` raises ValueError."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of {PROFILES}")
    extra = "".join(f" | {key}: {value}" for key, value in details.items())
    line = (f"profile: {profile} | data: {data}{extra} | device: {R.pick_device()} | "
            f"torch {torch.__version__}, python {platform.python_version()}")
    print(line.replace(_PROJECT_PARENT, ""))
    return results_dir()
