"""The branching-diffusion generator reproduces the paper's published data set."""
import numpy as np
import pytest

from rgdkit.data import branching


def test_generator_reproduces_published_data(shared_data):
    with np.load(shared_data / "branching" / "tensordataset.npz") as ref:
        data, labels = branching.simulate_branching_diffusion(seed=0)
        np.testing.assert_array_equal(labels, ref["labels"])
        np.testing.assert_allclose(data, ref["data"], rtol=0, atol=1e-12)


def test_generator_structure_small_tree():
    data, labels = branching.simulate_branching_diffusion(dim=3, depth=2, n_siblings=4, seed=1)
    n_nodes = 1 + 2 + 4
    assert data.shape == (n_nodes * 4, 3) and labels.shape == (n_nodes * 4, 3)
    np.testing.assert_allclose(data.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(data.std(0), 1, atol=1e-12)
    # every row has exactly one negative code, at its node's depth, and zeros after it
    neg = labels < 0
    assert (neg.sum(1) == 1).all()
    depth_of = neg.argmax(1)
    assert all((labels[i, d + 1:] == 0).all() for i, d in enumerate(depth_of))


def test_generator_depends_on_seed():
    a, _ = branching.simulate_branching_diffusion(dim=3, depth=1, n_siblings=2, seed=0)
    b, _ = branching.simulate_branching_diffusion(dim=3, depth=1, n_siblings=2, seed=1)
    assert not np.allclose(a, b)


def test_load_branching_rejects_bad_file(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, data=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="labels"):
        branching.load_branching(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        branching.load_branching(tmp_path / "missing.npz")
