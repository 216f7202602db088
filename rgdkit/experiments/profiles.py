"""Run profiles: ``fast`` (minutes on a CPU) or ``paper`` (the paper's settings)."""
from __future__ import annotations

import os


PROFILES = ("fast", "paper")


def current_profile(default="fast"):
    """The run profile from ``RGD_PROFILE``: ``fast`` (minutes on a CPU) or ``paper`` (paper settings)."""
    profile = os.environ.get("RGD_PROFILE", default)
    if profile not in PROFILES:
        raise ValueError(f"RGD_PROFILE={profile!r} is not a profile; use one of {PROFILES}")
    return profile
