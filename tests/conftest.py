"""Shared fixtures: the real public data beside the project (../shared/data), the scripts as
modules, and test settings."""
import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RGD_SHARED_DATA", ROOT.parent / "shared" / "data"))

os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture
def one_thread():
    """Torch on one thread for the test (restored after): small networks run faster so than on
    cores shared with other jobs."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of real data for tests; tests that need it are skipped where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (set RGD_SHARED_DATA)")
    return SHARED_DATA


def load_script(name):
    """``scripts/<name>.py`` imported as a module (the scripts are not part of the package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scrape():
    """scripts/scrape_mtdna.py as a module."""
    return load_script("scrape_mtdna")


@pytest.fixture
def small_tree_data(tmp_path, monkeypatch):
    """120 samples on five tree nodes in place of the branching data set, and results in
    ``tmp_path`` (for the scripts that load it)."""
    import numpy as np

    from rgdkit.data import branching

    rng = np.random.default_rng(0)
    # path codes of five tree nodes (positive branch codes, zero-padded), as the data set has
    nodes = np.array([[1, 0, 0], [1, 1, 0], [1, 2, 0], [1, 1, 1], [1, 1, 2]])
    labels = nodes[np.arange(120) % 5]
    X = (rng.normal(size=(120, 10)) + labels.sum(1)[:, None]).astype(np.float32)
    monkeypatch.setattr(branching, "load_branching", lambda path: (X, labels, "synthetic"))
    monkeypatch.setenv("RGD_RESULTS_DIR", str(tmp_path))


@pytest.fixture(scope="session")
def branching_data(shared_data):
    """The published branching-diffusion data (6350 x 50, float32) and path codes, rows in a
    seeded random order."""
    import numpy as np

    with np.load(shared_data / "branching" / "tensordataset.npz") as data:
        order = np.random.default_rng(0).permutation(len(data["data"]))
        return data["data"][order].astype(np.float32), data["labels"][order]
