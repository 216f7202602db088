"""What a notebook says first: the profile, the data and the machine that produced its results."""
from __future__ import annotations

import platform

import torch

import rgd_utils as R
from rgdkit.experiments.profiles import PROFILES
from rgdkit.files.results import results_dir


def header(profile, data, **details):
    """Print the notebook's first line (profile, data, further ``details``, device, versions) and
    return the results folder. A profile other than ``fast`` or ``paper`` raises ValueError."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of {PROFILES}")
    extra = "".join(f" | {key}: {value}" for key, value in details.items())
    print(f"profile: {profile} | data: {data}{extra} | device: {R.pick_device()} | "
          f"torch {torch.__version__}, python {platform.python_version()}")
    return results_dir()
