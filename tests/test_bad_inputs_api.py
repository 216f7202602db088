"""Bad inputs across the public API: each case raises a clear error (type and message fragment)
or gives the correct result, never a silent zero, NaN or a misleading "diverged" hint."""

import functools

import geoopt
import numpy as np
import pytest
import torch
from scipy import sparse

import rgd_utils as R
import rgdkit.metrics as M
from rgdkit.baselines.pvae import PoincareVAE, WrappedNormal
from rgdkit.geometry import pullback as P

F64 = torch.float64
X = np.random.default_rng(0).normal(size=(20, 3))
FAST = dict(epochs=2, hidden=(4,), n_starts=2, test_epochs=2, verbose=False)


def fit(**kw):
    return R.RiemannianDecoder(**{**FAST, **kw}).fit(X)


@functools.cache
def lorentz_model():
    return fit(manifold="lorentz")


def lorentz(k=1.0):
    return R.make_manifold("lorentz", 2, curvature=k)


def on_lorentz(n=5, std=1.0):
    return R.random_points(lorentz(), n, 2, std=std, generator=torch.Generator().manual_seed(0))


def far_lorentz_points():
    """Points at radius up to 15 (x0 ~ 1e6): the relative tolerance must accept them."""
    v = torch.tensor([[15.0, 0.0], [0.0, 14.0], [1.0, 1.0]], dtype=F64)
    origin = R.manifold_origin(lorentz(), 2)
    return lorentz().expmap(origin.expand(3, -1), torch.cat([torch.zeros(3, 1, dtype=F64), v], 1))


# ---- estimator parameters and data (RiemannianDecoder.fit) ---------------------------------
FIT_ERRORS = [
    ("data 1e39", dict(), X * 1e39, ValueError, "float32"),
    ("data 1e20", dict(), X * 1e20, ValueError, "standardise"),
    ("zero features", dict(), np.zeros((20, 0)), ValueError, "one feature"),
    ("sparse", dict(), sparse.csr_matrix(X), ValueError, "toarray"),
    ("noise_std inf", dict(noise_std=np.inf), X, ValueError, "noise_std must be >= 0 and finite"),
    ("noise_std nan", dict(noise_std=np.nan), X, ValueError, "noise_std must be >= 0"),
    ("noise_std str", dict(noise_std="0.5"), X, TypeError, "noise_std must be a real number"),
    ("curvature inf", dict(curvature=np.inf), X, ValueError, r"outside \[0.0001, 10000\]"),
    ("curvature 1e-12", dict(curvature=1e-12), X, ValueError, r"outside \[0.0001"),
    ("curvature nan", dict(curvature=np.nan), X, ValueError, "must be positive"),
    ("curvature str", dict(curvature="1"), X, TypeError, "curvature must be a real number"),
    ("curvature sphere", dict(manifold="sphere", curvature=2.0), X, ValueError,
     "does not apply to 'sphere'"),
    ("curvature euclidean", dict(manifold="euclidean", curvature=1.0), X, ValueError,
     "does not apply"),
    ("curvature torus", dict(manifold="torus", curvature=1.0), X, ValueError, "does not apply"),
    ("curvature instance", dict(manifold=geoopt.Sphere(), curvature=1.0), X, ValueError,
     "carries its own"),
    ("prior_std 0", dict(prior_std=0.0), X, ValueError, "prior_std must be > 0"),
    ("init_std 0", dict(init_std=0.0), X, ValueError, "init_std must be > 0"),
    ("lr_latent negative", dict(lr_latent=-0.1), X, ValueError, "lr_latent must be >= 0"),
    ("dtype float16", dict(dtype=torch.float16), X, ValueError, "half precision"),
    ("dtype bfloat16", dict(dtype=torch.bfloat16), X, ValueError, "not supported"),
    ("dtype str", dict(dtype="float64"), X, TypeError, "must be a torch.dtype"),
    ("dtype complex on sphere", dict(manifold="sphere", dtype=torch.complex64), X, ValueError,
     "float32, torch.float64"),
    ("dtype real on Siegel", dict(manifold="upperhalf", dtype=torch.float64), X, ValueError,
     "complex64"),
    ("latent_dim 2.5", dict(latent_dim=2.5), X, ValueError, "latent_dim must be a positive integer"),
    ("latent_dim str", dict(latent_dim="2"), X, TypeError, "latent_dim must be an integer"),
    ("epochs 2.5", dict(epochs=2.5), X, ValueError, "epochs must be a positive integer"),
    ("restart_period 2.5", dict(restart_period=2.5), X, ValueError, "restart_period"),
    ("patience -1", dict(patience=-1), X, ValueError, "patience must be a non-negative integer"),
    ("metric noise on Stiefel", dict(manifold="Stiefel", noise="metric", noise_std=0.1), X,
     NotImplementedError, "noise='inverse_metric'"),
    ("noise_gradient unknown", dict(noise_gradient="exact", noise_std=0.1), X, ValueError,
     "unknown noise_gradient 'exact'; choose one of"),
    ("prior on Stiefel", dict(manifold="stiefel", prior="normal"), X, NotImplementedError,
     "prior='none'"),
    ("unknown manifold", dict(manifold="klein"), X, ValueError, "geoopt class name"),
]


@pytest.mark.parametrize("kwargs,data,error,match", [c[1:] for c in FIT_ERRORS],
                         ids=[c[0] for c in FIT_ERRORS])
def test_fit_refuses_bad_parameters_and_data(kwargs, data, error, match):
    with pytest.raises(error, match=match):
        fit(**kwargs) if data is X else R.RiemannianDecoder(**{**FAST, **kwargs}).fit(data)


def test_integral_floats_are_accepted():
    model = fit(latent_dim=2.0, epochs=2.0, batch_size=8.0)
    assert model.latents_.shape == (20, 3) and len(model.history_["epoch"]) == 2


def test_names_are_case_insensitive():
    assert isinstance(fit(manifold="LORENTZ").manifold_, geoopt.Lorentz)


# ---- inverse_transform -----------------------------------------------------------------------
def _z(kind):
    Z = lorentz_model().latents_[:4]
    return {"wide": np.zeros((4, 4)), "off": Z * 1.5, "nan": np.where(np.eye(4, 3) > 0, np.nan, Z),
            "flat": Z[0], "lower sheet": -Z}[kind]


@pytest.mark.parametrize("kind,match", [
    ("wide", r"shape \(N, 3\)"),
    ("off", "not on the Lorentz manifold .*-x0²"),
    ("nan", "NaN or inf"),
    ("flat", "N x n"),
    ("lower sheet", "x0 > 0"),
])
def test_inverse_transform_refuses_points_off_the_manifold(kind, match):
    with pytest.raises(ValueError, match=match):
        lorentz_model().inverse_transform(_z(kind))


def test_inverse_transform_decodes_its_own_latents():
    model = lorentz_model()
    out = model.inverse_transform(model.latents_)
    assert out.shape == (20, 3) and np.isfinite(out).all()


# ---- distances ---------------------------------------------------------------------------------
def spd_points(bad):
    good = np.stack([np.eye(2), np.diag([2.0, 0.5])])
    return np.concatenate([good, bad[None]])


DISTANCE_ERRORS = [
    ("lorentz 2 columns", lambda: (np.random.default_rng(0).normal(size=(5, 2)),
                                   R.make_manifold("lorentz", 1)), "not on the Lorentz"),
    ("lorentz off hyperboloid", lambda: (np.random.default_rng(0).normal(size=(5, 3)), lorentz()),
     "worst, row"),
    ("lorentz 1 column", lambda: (np.ones((3, 1)), lorentz()), "at least 2 coordinates"),
    ("poincare outside", lambda: (np.array([[0.1, 0.0], [1.5, 0.0]]), R.make_manifold("poincare")),
     r"\|x\| < 1/sqrt\(c\)"),
    ("poincare boundary", lambda: (np.array([[0.1, 0.0], [1.0, 0.0]]), R.make_manifold("poincare")),
     "PoincareBall"),
    ("sphere not unit", lambda: (np.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]]),
                                 R.make_manifold("sphere")), r"\|x\| = 1"),
    ("torus odd width", lambda: (np.ones((3, 3)), R.make_manifold("torus")), "last dimension"),
    ("nan point", lambda: (np.array([[1.0, 0.0, 0.0], [np.nan, 0.0, 0.0]]),
                           R.make_manifold("sphere")), "NaN or inf"),
    ("3-D for vectors", lambda: (np.ones((2, 2, 2)), R.make_manifold("euclidean")), "N x n"),
    ("spd singular", lambda: (spd_points(np.zeros((2, 2))), geoopt.SymmetricPositiveDefinite()),
     "boundary of SymmetricPositiveDefinite"),
    ("spd indefinite", lambda: (spd_points(np.diag([1.0, -1.0])), geoopt.SymmetricPositiveDefinite()),
     "positive definite"),
    ("spd not symmetric", lambda: (spd_points(np.array([[1.0, 1.0], [0.0, 1.0]])),
                                   geoopt.SymmetricPositiveDefinite()), "symmetric"),
    ("siegel real input", lambda: (np.ones((2, 2, 2)), geoopt.UpperHalf()), "complex"),
    ("upper half Im not PD", lambda: (np.stack([1j * np.eye(2), 1j * np.diag([1.0, 0.0])]),
                                      geoopt.UpperHalf()), r"UpperHalf .*Im\(Z\) positive definite"),
    ("stiefel not orthonormal", lambda: (np.ones((2, 3, 2)), geoopt.Stiefel()), "XᵀX = I"),
    ("stiefel wide", lambda: (np.zeros((2, 2, 3)), geoopt.Stiefel()), "shape"),
]


@pytest.mark.parametrize("make,match", [c[1:] for c in DISTANCE_ERRORS],
                         ids=[c[0] for c in DISTANCE_ERRORS])
def test_pairwise_distances_refuse_points_off_the_manifold(make, match):
    Z, manifold = make()
    with pytest.raises(ValueError, match=match):
        M.pairwise_distances(Z, manifold)


def test_distance_correlation_checks_points_too():
    Z = np.random.default_rng(0).normal(size=(5, 3))
    with pytest.raises(ValueError, match="Lorentz"):
        M.distance_correlation(Z, lorentz(), np.ones((5, 5)))


def test_tolerance_follows_the_points_dtype():
    sphere = R.make_manifold("sphere")
    Z = R.random_points(sphere, 6, 2, generator=torch.Generator().manual_seed(0))
    D64 = M.pairwise_distances(Z, sphere)
    D32 = M.pairwise_distances(Z.float().numpy(), sphere)  # float32 rounding is within tolerance
    np.testing.assert_allclose(D32, D64, atol=1e-3)
    with pytest.raises(ValueError, match="tolerance 1e-08"):
        M.pairwise_distances(Z * (1 + 1e-6), sphere)


def test_far_hyperbolic_points_pass_the_relative_check():
    D = M.pairwise_distances(far_lorentz_points(), lorentz())
    assert np.isfinite(D).all() and D[0, 1] > 25


# ---- pullback geometry -----------------------------------------------------------------------
PULLBACK_ERRORS = [
    ("volume off sphere", lambda: P.volume_element(lambda z: z, torch.ones(3, 3, dtype=F64), "sphere"),
     "Sphere"),
    ("volume off hyperboloid", lambda: P.volume_element(lambda z: z, torch.ones(3, 3, dtype=F64),
                                                        lorentz()), "Lorentz"),
    ("basis outside ball", lambda: P.tangent_basis(torch.full((2, 2), 0.9, dtype=F64), "poincare"),
     "PoincareBall"),
    ("geodesic off sphere", lambda: P.geodesic(lambda z: z, torch.tensor([1.0, 0, 0], dtype=F64),
                                               torch.tensor([0.0, 2, 0], dtype=F64), "sphere"),
     "Sphere"),
]


@pytest.mark.parametrize("call,match", [c[1:] for c in PULLBACK_ERRORS],
                         ids=[c[0] for c in PULLBACK_ERRORS])
def test_pullback_refuses_points_off_the_manifold(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_pullback_on_the_manifold_still_works():
    z = on_lorentz(4)
    vol = P.volume_element(lambda x: torch.cat([x, x]), z, lorentz())
    assert vol.shape == (4,) and torch.isfinite(vol).all() and (vol > 0).all()


# ---- distributions -----------------------------------------------------------------------------
def test_wrapped_normal_log_prob_refuses_points_outside_the_ball():
    ball = R.make_manifold("poincare")
    dist = WrappedNormal(torch.zeros(2, dtype=F64), 1.0, ball)
    with pytest.raises(ValueError, match=r"z is not on the PoincareBall"):
        dist.log_prob(torch.tensor([[0.1, 0.0], [2.0, 0.0]], dtype=F64))


def test_wrapped_normal_log_prob_refuses_points_off_the_hyperboloid():
    dist = WrappedNormal(R.manifold_origin(lorentz(), 2), 1.0, lorentz())
    with pytest.raises(ValueError, match="Lorentz"):
        dist.log_prob(torch.tensor([[1.0, 1.0, 1.0]], dtype=F64))


def test_wrapped_normal_log_prob_on_the_manifold_and_unvalidated():
    dist = WrappedNormal(R.manifold_origin(lorentz(), 2), 1.0, lorentz())
    assert torch.isfinite(dist.log_prob(on_lorentz(3))).all()
    raw = WrappedNormal(torch.zeros(2, dtype=F64), 1.0, R.make_manifold("poincare"), validate=False)
    raw.log_prob(torch.tensor([[2.0, 0.0]], dtype=F64))  # validate=False: the VAE's fast path


@pytest.mark.parametrize("kwargs,match", [
    (dict(mu=torch.tensor([2.0, 0.0], dtype=F64), scale=1.0), "inside the Poincaré ball"),
    (dict(mu=torch.zeros(2, dtype=F64), scale=0.0), "scale must be finite and > 0"),
])
def test_wrapped_normal_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WrappedNormal(kwargs["mu"], kwargs["scale"], R.make_manifold("poincare"))


# ---- the Poincaré VAE baseline ---------------------------------------------------------------
@pytest.mark.parametrize("kwargs,error,match", [
    (dict(lr="0.1"), TypeError, "lr must be a real number"),
    (dict(prior_std=np.inf), ValueError, "prior_std must be > 0 and finite"),
    (dict(latent_dim=2.5), ValueError, "latent dimension must be a positive integer"),
    (dict(epochs=2.5), ValueError, "epochs must be a positive integer"),
    (dict(min_scale=np.nan), ValueError, "min_scale must be >= 0"),
])
def test_poincare_vae_refuses_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        PoincareVAE(**{"epochs": 1, "verbose": False, **kwargs}).fit(X)


def test_poincare_vae_takes_integral_floats():
    model = PoincareVAE(latent_dim=2.0, epochs=2.0, hidden=(4,), verbose=False).fit(X)
    assert model.latents_.shape == (20, 2)
    with pytest.raises(ValueError, match="inside the Poincaré ball"):
        model.inverse_transform(np.array([[0.0, 0.95]]))


# ---- issue 31: reference distances, distance correlation, manifold names, P-VAE ------------------
from rgdkit.metrics.references import check_path_codes  # noqa: E402

GOOD_CODES = [[1, 2, -1], [1, -2, 0], [-1, 0, 0], [2, 1, -3]]


@pytest.mark.parametrize("codes, error, match", [
    ([[1, np.nan, 0], [1, -1, 0]], ValueError, r"NaN or inf codes in 1 rows \(first: \[0\]"),
    ([[1, 1.5, -1], [1, -1, 0]], ValueError, "not whole numbers in 1 rows"),
    ([[1, -1, 2], [1, -1, 0]], ValueError, "non-zero code after the observation code"),
    ([[1, -1, -2], [1, -1, 0]], ValueError, "non-zero code after the observation code"),
    ([[0, 1, -1], [1, -1, 0]], ValueError, r"non-zero code after the observation code \(or after"),
    ([["a", "b"], ["a", "c"]], TypeError, "labels must be numeric path codes .* got <U1 values"),
    ([1, 2, -1], ValueError, "must be 2-D path codes"),
])
def test_tree_distances_refuse_bad_path_codes(codes, error, match):
    with pytest.raises(error, match=match):
        M.tree_distances(np.array(codes))
    with pytest.raises(error, match=match):
        M.tree_nodes(np.array(codes))


def test_tree_distances_of_good_codes_as_floats_or_ints():
    expected = [[0, 1, 2, 4], [1, 0, 1, 3], [2, 1, 0, 2], [4, 3, 2, 0]]  # nodes 12, 1, root, 21
    np.testing.assert_array_equal(M.tree_distances(np.array(GOOD_CODES)), expected)
    np.testing.assert_array_equal(M.tree_distances(np.array(GOOD_CODES, dtype=float)), expected)
    assert check_path_codes(np.array(GOOD_CODES, dtype=float)).dtype == np.int64


@pytest.mark.parametrize("n", [1, 2])
def test_distance_correlation_needs_three_points(n):
    Z = on_lorentz(n)
    with pytest.raises(ValueError, match=f"needs at least 3 points .* got {n}; score more"):
        M.distance_correlation(Z, lorentz(), np.zeros((n, n)))


def test_correlate_needs_two_pairs():
    with pytest.raises(ValueError, match="at least 2 pairs of distances .* got 1"):
        M.correlate([1.0], [2.0])


@pytest.mark.parametrize("triangle, which", [(np.tril, "lower"), (np.triu, "upper")])
def test_a_triangular_reference_matrix_is_refused_with_the_fix(triangle, which):
    Z = on_lorentz(6)
    D = M.pairwise_distances(Z, lorentz())
    D_ref = triangle(D + 1.0, k=-1 if which == "lower" else 1)
    with pytest.raises(ValueError, match=f"D_ref is {which}-triangular.*D_ref \\+ D_ref.T"):
        M.distance_correlation(Z, lorentz(), D_ref)
    pearson, spearman = M.distance_correlation(Z, lorentz(), D_ref + D_ref.T)
    assert np.isfinite(pearson) and np.isfinite(spearman)


def test_an_asymmetric_reference_matrix_is_refused():
    D_ref = np.arange(16.0).reshape(4, 4)
    with pytest.raises(ValueError, match=r"D_ref is not symmetric .*\(D_ref \+ D_ref.T\) / 2"):
        M.correlate_distances(np.zeros((4, 4)) + np.eye(4), D_ref)


@pytest.mark.parametrize("name, dim", [("lorentz", 2), ("Lorentz", 3), ("sphere", 2),
                                       ("poincare", 2), ("euclidean", 4)])
def test_pairwise_distances_take_manifold_names(name, dim):
    manifold = R.make_manifold(name, dim)
    Z = R.random_points(manifold, 6, dim, std=0.3, generator=torch.Generator().manual_seed(1))
    np.testing.assert_allclose(M.pairwise_distances(Z, name), M.pairwise_distances(Z, manifold))


def test_pairwise_distances_name_with_a_curvature():
    k2 = lorentz(2.0)
    Z = R.random_points(k2, 5, 2, std=0.5, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(M.pairwise_distances(Z, "lorentz", curvature=2.0),
                               M.pairwise_distances(Z, k2))


@pytest.mark.parametrize("manifold, error, match", [
    (3, TypeError, "manifold must be a geoopt manifold or a name such as 'lorentz', got int"),
    ("hyperbolic", ValueError, "unknown manifold 'hyperbolic'"),
    ("sphere", ValueError, "not on the Sphere manifold"),
])
def test_pairwise_distances_bad_manifold_arguments(manifold, error, match):
    with pytest.raises(error, match=match):
        M.pairwise_distances(on_lorentz(4), manifold)


def test_wrapped_normal_log_prob_of_the_wrong_width():
    ball = geoopt.PoincareBall(1.0)
    wn = WrappedNormal(torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64), ball)
    for width in (1, 3):
        with pytest.raises(ValueError, match=f"z has points of width {width} .* this "
                                             r"distribution's points have width 2.*\(\.\.\., 2\)"):
            wn.log_prob(torch.zeros(4, width, dtype=F64))
    unvalidated = WrappedNormal(torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64), ball,
                                validate=False)
    with pytest.raises(ValueError, match="z has points of width 1"):
        unvalidated.log_prob(torch.zeros(4, 1, dtype=F64))  # would broadcast silently
    hyperboloid = WrappedNormal(lorentz().origin(3, dtype=F64), torch.ones(2, dtype=F64),
                                lorentz())
    with pytest.raises(ValueError, match="width 2 .* width 3 .*2-dimensional Lorentz"):
        hyperboloid.log_prob(torch.zeros(4, 2, dtype=F64))


@pytest.mark.parametrize("n, error, match", [
    (-1, ValueError, "n must be a whole number of samples >= 0 .* got -1"),
    (2.5, ValueError, "got 2.5"), (float("nan"), ValueError, "got nan"),
    ("3", TypeError, "got str '3'"), (True, TypeError, "got bool"),
])
def test_wrapped_normal_rsample_counts(n, error, match):
    wn = WrappedNormal(torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64), geoopt.PoincareBall())
    with pytest.raises(error, match=match):
        wn.rsample(n)


def test_wrapped_normal_rsample_of_zero_and_integral_floats():
    wn = WrappedNormal(torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64), geoopt.PoincareBall())
    assert wn.rsample(0).shape == (0, 2) and wn.rsample(3.0).shape == (3, 2)
    assert wn.rsample(np.int64(2)).shape == (2, 2)


# ---- the estimator and the engine ----------------------------------------------------------
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_cuda_device_without_a_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA GPU.*device=None"):
        fit(device="cuda")


def test_an_unknown_device_string_is_a_clear_error():
    with pytest.raises(ValueError, match="not a torch device"):
        fit(device="gpu0")


def test_validation_data_given_positionally_is_refused_with_the_keyword():
    with pytest.raises(TypeError, match=r"fit\(X, X_val=X_val\)"):
        R.RiemannianDecoder(**FAST).fit(X, X[:5])


def test_a_label_vector_as_y_is_ignored_as_scikit_learn_does():
    model = R.RiemannianDecoder(**FAST, manifold="sphere").fit(X, np.arange(len(X)))
    assert model.latents_.shape == (len(X), 3)


def test_one_estimator_twice_in_fit_together_is_refused():
    model = R.RiemannianDecoder(**FAST)
    with pytest.raises(ValueError, match="more than once.*clone"):
        R.fit_together([model, model], X)


def test_a_geoopt_manifold_outside_the_supported_ones_is_refused():
    with pytest.raises(ValueError, match="BirkhoffPolytope is not supported"):
        fit(manifold=geoopt.BirkhoffPolytope())


def test_inverse_transform_of_strings_is_a_clear_error():
    with pytest.raises(ValueError, match="must hold numbers"):
        lorentz_model().inverse_transform(np.array([["a", "b", "c"]]))


def test_a_latent_of_the_wrong_width_names_the_model_shape():
    with pytest.raises(ValueError, match=r"shape \(N, 3\) for this Lorentz model"):
        lorentz_model().inverse_transform(np.zeros((2, 4)))


def test_reconstruction_errors_with_the_wrong_width():
    model = lorentz_model()
    with pytest.raises(ValueError, match="2 features.*expecting 3"):
        model.reconstruction_errors(X[:, :2], model.latents_)


def test_transform_together_over_members_of_different_widths():
    a = R.RiemannianDecoder(**FAST, manifold="sphere").fit(X)
    b = R.RiemannianDecoder(**FAST, manifold="sphere", seed=1).fit(X[:, :2])
    with pytest.raises(ValueError, match=r"\[2, 3\] features"):
        R.transform_together([a, b], X)


def test_a_fit_at_the_data_mean_warns_with_the_numbers():
    with pytest.warns(R.PoorFit, match=r"no better than the data mean.*training loss [\d.]+ "
                                       r"at the kept epoch \d+, against [\d.]+"):
        fit(manifold="euclidean", lr_decoder=0.0, lr_latent=0.0)


def test_a_fit_that_ends_far_worse_than_it_started_warns(monkeypatch):
    """The best state is kept from min_epochs on; a validation loss that grew tenfold by then
    is reported (the lr 1e3 Poincaré case ended at 503 against 0.79)."""
    val_losses = iter([0.5, 0.6, 5.0, 6.0])
    monkeypatch.setattr(R, "_validation_step", lambda members, X_val: [next(val_losses)])
    with pytest.warns(R.PoorFit, match="far worse than it started: loss 5 at the kept epoch 2, "
                                       "against 0.5 after epoch 0"):
        R.RiemannianDecoder(**{**FAST, "epochs": 4}, manifold="euclidean", min_epochs=2,
                            patience=5).fit(X, X_val=X[:5])


def test_poor_fit_warnings_point_at_the_callers_line():
    with pytest.warns(R.PoorFit) as caught:
        fit(manifold="euclidean", lr_decoder=0.0, lr_latent=0.0)
    assert caught[0].filename == __file__


def test_fit_on_an_anndata_names_the_ways_to_pass_it():
    anndata = pytest.importorskip("anndata")
    with pytest.raises(TypeError, match=r"adata\.X.*rgdkit\.tl\.rgd"):
        R.RiemannianDecoder(**FAST).fit(anndata.AnnData(X.astype(np.float32)))


def test_poor_fit_warnings_from_fit_transform_point_at_the_callers_line():
    model = R.RiemannianDecoder(**{**FAST, "lr_decoder": 0.0, "lr_latent": 0.0},
                                manifold="euclidean")
    with pytest.warns(R.PoorFit) as caught:
        model.fit_transform(X)
    assert caught[0].filename == __file__
