"""Run profiles: ``fast`` (minutes on a CPU), ``paper`` (the paper's settings) or ``smoke`` (CI).

A notebook's parameters cell reads its profile with :func:`current_profile` (``RGD_PROFILE``, default
``fast``), so ``jupyter nbconvert --execute`` runs the fast profile and ``RGD_PROFILE=paper`` the
paper's settings; papermill's ``-p PROFILE paper`` overrides it in a cell after the parameters
cell. The notebook then picks its settings with :func:`profile_settings`, which names the
profiles on a typo instead of failing with a ``KeyError``.

``smoke`` runs every cell of a notebook briefly (a few epochs, small subsamples, one seed, the
fewest settings a figure needs; 44-91 s per notebook under nbconvert on a busy 2-core machine,
20-36 s of it UMAP's first-call compilation), so that CI executes all of them; its numbers mean
nothing.
"""
from __future__ import annotations

import os

PROFILES = ("fast", "paper", "smoke")
PROFILE_VARIABLE = "RGD_PROFILE"


def check_profile(profile, source="profile"):
    """``profile`` if it is one of :data:`PROFILES`; else ValueError naming them (``source`` says
    where the value came from)."""
    if profile not in PROFILES:
        raise ValueError(f"{source}={profile!r} is not a profile; use one of "
                         f"{', '.join(map(repr, PROFILES))} (fast: minutes on a CPU, the default; "
                         "paper: the paper's settings; smoke: every cell briefly, for CI)")
    return profile


def current_profile(default="fast"):
    """The run profile from ``RGD_PROFILE`` (``default`` when unset or empty): ``fast``, ``paper``
    or ``smoke``. Any other value raises ValueError."""
    profile = os.environ.get(PROFILE_VARIABLE) or default
    return check_profile(profile, PROFILE_VARIABLE)


def profile_settings(profile, settings):
    """``settings[profile]`` of a notebook's ``{profile: settings}``; ValueError for an unknown
    profile or one the notebook has no settings for."""
    check_profile(profile, "PROFILE")
    if profile not in settings:
        raise ValueError(f"this notebook has no settings for profile {profile!r}; it has "
                         f"{', '.join(map(repr, settings))}")
    return settings[profile]
