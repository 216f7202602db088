"""What a notebook says first: the profile, the data, the code and the machine that produced its
results."""
from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import torch

import rgd_utils as R
from rgdkit.experiments.profiles import PROFILES, check_profile
from rgdkit.files.results import results_dir

# committed outputs name data files relative to the folder that holds the project (no home paths)
_PROJECT_PARENT = str(Path(__file__).resolve().parents[3]) + "/"
_ROOT = Path(__file__).resolve().parents[2]
# what changes in a checkout without changing the code: the notebooks themselves (an in-place run
# rewrites them one after the other) and what they write under results/
_NOT_CODE = (":(exclude,top)*.ipynb", ":(exclude,top)results")


def code_version(root=_ROOT):
    """``"<commit>"`` of the checkout at ``root`` (12 hex digits), with ``" + uncommitted
    changes"`` when tracked or new files other than the notebooks and ``results/`` differ from
    it; ``"unknown (not a git checkout)"`` where git or the repository is missing."""
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=30, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        changed = git("status", "--porcelain", "--", ".", *_NOT_CODE)
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return commit + (" + uncommitted changes" if changed else "")


def header(profile, data, **details):
    """Print the notebook's first line (profile, data, further ``details``, the code's commit,
    device, versions) and return the results folder. Paths under the folder that holds the
    project are shown relative to it (``shared/data/...``), so outputs carry no machine paths.
    A profile not in :data:`PROFILES` raises ValueError."""
    check_profile(profile, "PROFILE")
    extra = "".join(f" | {key}: {value}" for key, value in details.items())
    line = (f"profile: {profile} | data: {data}{extra} | code: {code_version()} | "
            f"device: {R.pick_device()} | torch {torch.__version__}, python {platform.python_version()}")
    print(line.replace(_PROJECT_PARENT, ""))
    return results_dir()
