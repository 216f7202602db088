"""Finished fits kept on disk: a rerun with the same settings and data loads them instead of
fitting, anything else fits again, and a damaged file is refitted, not trusted."""
import numpy as np
import pytest

import rgd_utils as R
from rgdkit.experiments import loop as E
from rgdkit.files import fit_cache
from tests.test_together import SMALL, blobs

SPLIT = (np.arange(0, 80), np.arange(80, 95), np.arange(95, 110))
MODELS = {"S²": dict(manifold="sphere"), "R²": dict(manifold="euclidean")}


def reference(idx):
    return np.abs(idx[:, None] - idx[None, :]).astype(float)


def _fit(X, models=MODELS, seeds=(0, 1)):
    return E.fit_models(models, X, SPLIT, reference, list(seeds), workers=1, **SMALL)[0]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(fit_cache.CACHE_VARIABLE, str(tmp_path))
    return tmp_path


@pytest.fixture
def count_fits(monkeypatch):
    calls = []
    original = E._fit_chunk

    def counted(members, *data):
        calls.append(len(members))
        return original(members, *data)
    monkeypatch.setattr(E, "_fit_chunk", counted)
    return calls


def test_a_rerun_loads_every_fit_and_scores_the_same(cache, count_fits, capsys):
    X = blobs(110)
    first = _fit(X)
    assert sum(count_fits) == 4 and len(list(cache.glob("*.pkl"))) == 2
    second = _fit(X)
    assert sum(count_fits) == 4  # nothing fitted again
    assert "4 fit(s) restored from the fit cache" in capsys.readouterr().out
    for a, b in zip(first, second):
        assert (a["model"], a["seed"]) == (b["model"], b["seed"])
        assert b["train_pearson"] == a["train_pearson"] and b["test_pearson"] == a["test_pearson"]


def test_other_settings_or_data_fit_again(cache, count_fits):
    X = blobs(110)
    _fit(X)
    _fit(X, seeds=(0, 2))
    assert sum(count_fits) == 8  # a new seed makes a new group for each model
    _fit(X + 1e-3)
    assert sum(count_fits) == 12


def test_a_damaged_file_is_refitted_with_a_warning(cache, count_fits):
    X = blobs(110)
    _fit(X, models={"S²": MODELS["S²"]})
    (kept,) = cache.glob("*.pkl")
    kept.write_bytes(kept.read_bytes()[:20])
    with pytest.warns(UserWarning, match="could not be read"):
        _fit(X, models={"S²": MODELS["S²"]})
    assert sum(count_fits) == 4


def test_without_the_variable_nothing_is_written(tmp_path, monkeypatch, count_fits):
    monkeypatch.delenv(fit_cache.CACHE_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    _fit(blobs(110), models={"S²": MODELS["S²"]})
    _fit(blobs(110), models={"S²": MODELS["S²"]})
    assert sum(count_fits) == 4 and not any(tmp_path.iterdir())


def test_the_key_ignores_verbosity_but_not_a_parameter():
    X = blobs(20)
    key = fit_cache.fit_key([R.RiemannianDecoder(seed=0, verbose=True)], X, None)
    assert fit_cache.fit_key([R.RiemannianDecoder(seed=0, verbose=False)], X, None) == key
    assert fit_cache.fit_key([R.RiemannianDecoder(seed=0, noise_std=0.1)], X, None) != key
    assert fit_cache.fit_key([R.RiemannianDecoder(seed=0)], X, X) != key
