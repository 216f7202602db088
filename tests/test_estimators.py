"""Both estimators as scikit-learn estimators: parameters, cloning, pipelines, their own random
state, the shared training loop (best state = scored state), and scikit-learn's own checks."""
import inspect
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import rgd_utils as R
from rgdkit.baselines.pvae import PoincareVAE

TINY_RGD = dict(epochs=3, hidden=(8,), n_starts=2, test_epochs=3, min_epochs=0, verbose=False)
TINY_PVAE = dict(epochs=3, hidden=(8,), verbose=False)


def blobs(n=60, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) + 3 * (np.arange(n) % 3)[:, None]).astype(np.float32)


@pytest.mark.parametrize("estimator", [R.RiemannianDecoder(noise_std=0.5), PoincareVAE(curvature=2.0)],
                         ids=["RGD", "P-VAE"])
def test_clone_get_params_set_params_and_repr(estimator):
    copy = clone(estimator)
    assert copy is not estimator and copy.get_params() == estimator.get_params()
    copy.set_params(seed=3)
    assert copy.seed == 3 and estimator.seed == 0
    assert type(estimator).__name__ in repr(estimator)
    assert ("noise_std=0.5" in repr(estimator)) or ("curvature=2.0" in repr(estimator))


@pytest.mark.parametrize("cls", [R.RiemannianDecoder, PoincareVAE])
def test_fit_takes_y_then_validation_data_by_keyword(cls):
    parameters = inspect.signature(cls.fit).parameters
    assert list(parameters)[:3] == ["self", "X", "y"]
    assert parameters["X_val"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("cls,params", [(R.RiemannianDecoder, TINY_RGD), (PoincareVAE, TINY_PVAE)])
def test_fit_leaves_the_global_random_state_alone_and_is_reproducible(cls, params):
    X = blobs()
    torch.manual_seed(123)
    np.random.seed(123)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    first = cls(**params, seed=1).fit(X, X_val=X[:10]).latents_
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state)
    torch.manual_seed(999)  # a different global state must not change the fit
    assert np.array_equal(cls(**params, seed=1).fit(X, X_val=X[:10]).latents_, first)
    assert not np.array_equal(cls(**params, seed=2).fit(X, X_val=X[:10]).latents_, first)


def test_estimator_works_inside_a_pipeline():
    X = blobs()
    pipeline = make_pipeline(StandardScaler(), R.RiemannianDecoder(manifold="sphere", **TINY_RGD))
    Z = pipeline.fit_transform(X)
    assert Z.shape == (len(X), 3) and np.allclose(np.linalg.norm(Z, axis=1), 1, atol=1e-5)
    assert pipeline.transform(X[:4]).shape == (4, 3)


def test_restored_state_is_the_scored_state():
    """The snapshot is taken before the latent step, so the kept validation latents and decoder
    give exactly the validation loss recorded at the best epoch."""
    X = blobs(120)
    model = R.RiemannianDecoder(manifold="lorentz", epochs=12, hidden=(8,), min_epochs=0,
                                patience=100, verbose=False).fit(X[:100], X_val=X[100:])
    with torch.no_grad():
        z_val = torch.as_tensor(model.val_latents_, device=model.device_)
        X_val = torch.as_tensor(X[100:], device=model.device_)
        loss = R.map_loss([model], z_val[None], X_val[None]).mean().item()
    assert loss == pytest.approx(model.history_["val_loss"][model.best_epoch_], rel=1e-6)


def test_a_diverging_fit_never_returns_non_finite_latents():
    X = blobs(30)
    model = R.RiemannianDecoder(lr_latent=1e6, epochs=20, min_epochs=0, hidden=(8,), n_starts=2,
                                test_epochs=2, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", R.TrainingDiverged)
        try:
            model.fit(X[:24], X_val=X[24:])
        except FloatingPointError as err:  # no finite state at all: a clear error, not NaNs
            assert "Hint" in str(err)
            return
    assert np.isfinite(model.latents_).all() and np.isfinite(model.val_latents_).all()
    assert np.isfinite(model.transform(X[24:])).all()


# checks that cannot hold for a decoder-only model, and why
TRANSFORMER_CHECKS = {
    "check_transformer_general": "transform optimises test-time latents afresh, so they differ "
                                 "from fit_transform's training latents of the same data",
    "check_transformer_data_not_an_array": "as check_transformer_general",
    "check_transformer_preserve_dtypes": "latents have the manifold's dtype, not the data's",
    "check_methods_subset_invariance": "test-time latents of a subset go through float32 "
                                       "products of another size, which round differently in the "
                                       "last digits (the check asks for rtol 1e-7)",
}


def _expected_failures(estimator):
    return TRANSFORMER_CHECKS if isinstance(estimator, R.RiemannianDecoder) else {}


@parametrize_with_checks([R.RiemannianDecoder(manifold="sphere", **TINY_RGD), PoincareVAE(**TINY_PVAE)],
                         expected_failed_checks=_expected_failures)
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", R.TrainingDiverged)
        check(estimator)


def test_set_output_pandas_names_the_latent_coordinates():
    model = R.RiemannianDecoder(manifold="lorentz", **TINY_RGD).set_output(transform="pandas")
    frame = model.fit_transform(blobs())
    assert list(frame.columns) == ["riemanniandecoder0", "riemanniandecoder1",
                                   "riemanniandecoder2"]
    assert list(model.get_feature_names_out()) == list(frame.columns)
    np.testing.assert_array_equal(frame.to_numpy(), model.latents_)
