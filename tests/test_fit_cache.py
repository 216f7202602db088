"""Finished fits kept on disk: a rerun with the same settings, data and training code loads them
instead of fitting, anything else fits again, and a damaged, foreign or planted file is refitted,
never trusted nor executed (issue 31)."""
import json
import os
import pathlib
import pickle
import shutil

import geoopt
import numpy as np
import pytest
import torch

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


CODE_DIGEST = fit_cache.code_digest  # the real one, for the test of a change to the code


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A cache folder; the training code's digest is read once, so that an edit of the sources
    while the tests run (a change of the code: every key misses) does not fail them."""
    monkeypatch.setenv(fit_cache.CACHE_VARIABLE, str(tmp_path))
    digest = fit_cache.code_digest()
    monkeypatch.setattr(fit_cache, "code_digest", lambda *args, **kwargs: digest)
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
    assert sum(count_fits) == 4 and len(list(cache.glob("*.npz"))) == 2
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
    (kept,) = cache.glob("*.npz")
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


# --------------------------------------------------------------------------------------------
# Issue 31: data, not code; the training code in the key; the folder checked before any fit
# --------------------------------------------------------------------------------------------
def _planted_pickle(path, marker):
    class Payload:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    path.write_bytes(pickle.dumps(Payload()))
    return path


def test_a_planted_pickle_is_never_executed_and_is_a_miss_with_a_warning(cache, count_fits,
                                                                        tmp_path):
    X = blobs(110)
    _fit(X, models={"S²": MODELS["S²"]})
    (kept,) = cache.glob("*.npz")
    marker = tmp_path / "code_ran"
    _planted_pickle(kept, marker)  # where the fit is looked for
    _planted_pickle(cache / f"{kept.stem}.pkl", marker)  # where the old versions kept it
    with pytest.warns(UserWarning) as caught:
        _fit(X, models={"S²": MODELS["S²"]})
    messages = " | ".join(str(w.message) for w in caught)
    assert not marker.exists()
    assert "could not be read (it is a Python pickle, which is never unpickled" in messages
    assert "1 pickle file(s)" in messages and "never opened" in messages
    assert sum(count_fits) == 4  # fitted again, and kept again as data
    assert np.load(kept, allow_pickle=False)[fit_cache.META].dtype == np.uint8


@pytest.mark.parametrize("damage", ["foreign npz", "other version", "other key", "npy",
                                    "text", "empty", "object array"])
def test_anything_unexpected_in_the_folder_is_a_miss_with_a_warning(cache, count_fits, damage):
    X = blobs(110)
    _fit(X, models={"S²": MODELS["S²"]})
    (kept,) = cache.glob("*.npz")
    arrays = dict(np.load(kept, allow_pickle=False))
    meta = json.loads(arrays[fit_cache.META].tobytes())
    if damage == "foreign npz":
        np.savez(kept, weights=np.ones(3))
    elif damage in ("other version", "other key"):
        meta.update({"other version": {"version": 1}, "other key": {"key": "0" * 32}}[damage])
        arrays[fit_cache.META] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        with open(kept, "wb") as handle:
            np.savez(handle, **arrays)
    elif damage == "npy":
        with open(kept, "wb") as handle:
            np.save(handle, np.ones(3))
    elif damage == "object array":
        with open(kept, "wb") as handle:
            np.savez(handle, **{**arrays, "m0.latents_": np.array([None, 1], dtype=object)})
    else:
        kept.write_bytes({"text": b"hello", "empty": b""}[damage])
    with pytest.warns(UserWarning, match=f"fit cache {kept.name} could not be read"):
        _fit(X, models={"S²": MODELS["S²"]})
    assert sum(count_fits) == 4


def test_a_change_to_the_training_code_makes_every_kept_fit_a_miss(cache, count_fits, tmp_path,
                                                                   monkeypatch):
    copy = tmp_path / "repository"
    copy.mkdir()
    shutil.copy(fit_cache.SOURCE_ROOT / "rgd_utils.py", copy)
    shutil.copytree(fit_cache.SOURCE_ROOT / "rgdkit" / "training", copy / "rgdkit" / "training",
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fit_cache, "SOURCE_ROOT", copy)
    monkeypatch.setattr(fit_cache, "code_digest", CODE_DIGEST)
    X = blobs(110)
    _fit(X, models={"S²": MODELS["S²"]})
    _fit(X, models={"S²": MODELS["S²"]})
    assert sum(count_fits) == 2  # restored: the code did not change
    with open(copy / "rgd_utils.py", "a") as handle:
        handle.write("\n# a change to the training code\n")
    _fit(X, models={"S²": MODELS["S²"]})
    assert sum(count_fits) == 4
    (copy / "rgdkit" / "training" / "new_module.py").write_text("STEP = 2\n")
    _fit(X, models={"S²": MODELS["S²"]})
    assert sum(count_fits) == 6 and len(list(cache.glob("*.npz"))) == 3


def test_the_code_digest_covers_the_listed_files_and_folders(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "top.py").write_text("a = 1\n")
    (tmp_path / "pkg" / "m.py").write_text("b = 1\n")
    (tmp_path / "pkg" / "notes.txt").write_text("not code\n")
    sources = ("top.py", "pkg", "absent")
    digest = fit_cache.code_digest(tmp_path, sources)
    assert [name for name, _ in fit_cache.source_files(tmp_path, sources)] == ["pkg/m.py", "top.py"]
    (tmp_path / "pkg" / "notes.txt").write_text("changed\n")
    assert fit_cache.code_digest(tmp_path, sources) == digest
    (tmp_path / "pkg" / "m.py").write_text("b = 2\n")
    assert fit_cache.code_digest(tmp_path, sources) != digest
    assert "rgd_utils.py" in fit_cache.TRAINING_SOURCES
    assert "rgdkit/training" in fit_cache.TRAINING_SOURCES


def test_a_cache_folder_that_is_a_file_raises_before_any_fit(tmp_path, monkeypatch, count_fits):
    path = tmp_path / "cache"
    path.write_text("a file")
    monkeypatch.setenv(fit_cache.CACHE_VARIABLE, str(path))
    with pytest.raises(ValueError, match=r"the fit cache .*cache \(RGD_FIT_CACHE\) is a file, "
                                         r"not a folder; point RGD_FIT_CACHE at a folder"):
        _fit(blobs(110), models={"S²": MODELS["S²"]})
    assert count_fits == []
    monkeypatch.setenv(fit_cache.CACHE_VARIABLE, str(path / "below"))
    with pytest.raises(ValueError, match="a part of its path is a file"):
        _fit(blobs(110), models={"S²": MODELS["S²"]})
    assert count_fits == [] and path.read_text() == "a file"


def test_a_read_only_cache_folder_is_said_before_fitting_and_the_fits_are_used(
        cache, monkeypatch):
    def denied(folder):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(fit_cache, "_probe_write", denied)
    said_before_fit, original, recorder = [], E._fit_chunk, []
    monkeypatch.setattr(E, "_fit_chunk", lambda *task: said_before_fit.append(
        any("not writable" in str(w.message) for w in recorder[0])) or original(*task))
    with pytest.warns(UserWarning, match="is not writable .*Permission denied.*computed and used "
                                         "without being kept") as caught:
        recorder.append(caught)
        records = _fit(blobs(110), models={"S²": MODELS["S²"]})
    assert said_before_fit == [True] and len(records) == 2
    assert not list(cache.glob("*.npz"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_really_read_only_folder_warns_up_front(cache, count_fits):
    cache.chmod(0o555)
    try:
        with pytest.warns(UserWarning, match="is not writable"):
            _fit(blobs(110), models={"S²": MODELS["S²"]})
    finally:
        cache.chmod(0o755)
    assert sum(count_fits) == 2 and not list(cache.glob("*.npz"))


def test_a_failed_save_warns_and_keeps_the_results(cache, count_fits, monkeypatch):
    X = blobs(110)
    expected = _fit(X, models={"S²": MODELS["S²"]})
    for kept in cache.glob("*.npz"):
        kept.unlink()

    def full_disk(path, write, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(fit_cache, "write_atomically", full_disk)
    with pytest.warns(UserWarning, match="could not be kept in the fit cache.*No space left"):
        records = _fit(X, models={"S²": MODELS["S²"]})
    assert [r["train_pearson"] for r in records] == [r["train_pearson"] for r in expected]
    assert not list(cache.glob("*.npz"))


def test_fits_with_a_manifold_instance_are_used_but_not_kept(cache, count_fits):
    models = {"S²": dict(manifold=geoopt.Sphere())}
    with pytest.warns(UserWarning, match="cannot be kept in the fit cache.*parameter manifold is "
                                         "a geoopt.*Sphere"):
        records = _fit(blobs(110), models=models)
    assert len(records) == 2 and not list(cache.glob("*.npz"))


def test_a_rebuilt_estimator_transforms_and_decodes_as_the_fitted_one(tmp_path):
    X = blobs(60)
    members = [R.RiemannianDecoder(seed=seed, manifold="lorentz", **SMALL) for seed in (0, 1)]
    R.fit_together(members, X[:40], X[40:50])
    Z_tests = R.transform_together(members, X[50:])
    key = fit_cache.fit_key(members, X[:40], X[40:50], X[50:])
    assert fit_cache.save(tmp_path, key, (members, Z_tests))
    assert not list(tmp_path.glob("*.pkl"))
    rebuilt, Z_kept = fit_cache.load(tmp_path, key)
    for fitted, again, Z_test, Z_again in zip(members, rebuilt, Z_tests, Z_kept):
        assert again.get_params() == fitted.get_params()
        assert again is not fitted and again.latent_shape_ == fitted.latent_shape_
        np.testing.assert_array_equal(again.latents_, fitted.latents_)
        np.testing.assert_array_equal(Z_again, Z_test)
        assert json.dumps(again.history_) == json.dumps(fitted.history_)  # NaN too
        assert (again.best_epoch_, again.diverged_at_) == (fitted.best_epoch_, fitted.diverged_at_)
        np.testing.assert_array_equal(again.inverse_transform(Z_test),
                                      fitted.inverse_transform(Z_test))
        np.testing.assert_allclose(again.transform(X[50:]), fitted.transform(X[50:]))
        assert torch.equal(again._generator.get_state(), fitted._generator.get_state())
    # restored into the members asked for: copies of them, fitted
    asked = [R.RiemannianDecoder(seed=seed, manifold="lorentz", **SMALL) for seed in (0, 1)]
    restored, _ = fit_cache.load(tmp_path, key, asked)
    assert all(r is not a and not hasattr(a, "history_") for r, a in zip(restored, asked))
    other = [R.RiemannianDecoder(seed=seed, manifold="lorentz", **{**SMALL, "epochs": 13})
             for seed in (0, 1)]
    with pytest.warns(UserWarning, match="parameters differ from those asked for"):
        assert fit_cache.load(tmp_path, key, other) is None


def test_a_row_with_named_switches_is_kept_and_restored_as_its_own_class(cache, count_fits):
    """Table 3's R² paper row trains a SwitchedDecoder (the authors' batch prior, summed loss);
    its fits are kept by the switches' name and come back as the same class and latents."""
    from rgdkit.training.authors_choices import SwitchedDecoder

    X = blobs(110)
    models = {"R² paper": dict(manifold="euclidean", switches="hmtdna_r2_paper"),
              "R² ours": dict(manifold="euclidean")}
    first = E.fit_models(models, X, SPLIT, reference, [0], workers=1, **SMALL)
    second = E.fit_models(models, X, SPLIT, reference, [0], workers=1, **SMALL)
    assert sum(count_fits) == 2  # two groups (the switches differ), each fitted once
    for fits in (first[1], second[1]):
        model, Z_train, _ = fits["R² paper"]
        assert isinstance(model, SwitchedDecoder) and model.switches == "hmtdna_r2_paper"
        assert type(fits["R² ours"][0]) is R.RiemannianDecoder
    np.testing.assert_array_equal(second[1]["R² paper"][1], first[1]["R² paper"][1])
    assert not np.allclose(first[1]["R² paper"][1], first[1]["R² ours"][1])
