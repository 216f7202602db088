"""Every geoopt 0.5.1 manifold as the latent space: names, default shapes, initial latents,
noise, distances, and a short fit of each on the real branching data."""

import geoopt
import numpy as np
import pytest
import torch

import rgd_utils as R
from rgdkit.manifolds import latent_manifold
import rgdkit.metrics as M
from rgdkit.data.branching import load_branching

# latent_dim=2: the documented default point shape of each name
SHAPES = {
    "Euclidean": (2,), "ProductManifold": (5,), "Stiefel": (3, 2), "CanonicalStiefel": (3, 2),
    "EuclideanStiefel": (3, 2), "EuclideanStiefelExact": (3, 2), "Sphere": (3,),
    "SphereExact": (3,), "Stereographic": (2,), "StereographicExact": (2,), "PoincareBall": (2,),
    "PoincareBallExact": (2,), "SphereProjection": (2,), "SphereProjectionExact": (2,),
    "Scaled": (3,), "Lorentz": (3,), "SymmetricPositiveDefinite": (2, 2), "UpperHalf": (2, 2),
    "BoundedDomain": (2, 2),
}
NO_METRIC_FRAME = {"Stiefel", "CanonicalStiefel", "SymmetricPositiveDefinite", "UpperHalf",
                   "BoundedDomain"}


def test_the_list_is_complete():
    assert set(SHAPES) == set(R.GEOOPT_MANIFOLDS) and len(SHAPES) == 19


@pytest.mark.parametrize("name", R.GEOOPT_MANIFOLDS)
def test_names_any_case_shapes_and_classes(name):
    for spelling in (name, name.lower(), name.upper()):
        m = R.make_manifold(spelling, 2)
        assert R.point_shape(m, 2) == SHAPES[name]
    cls = getattr(geoopt, name)
    assert isinstance(m, cls if name != "Stiefel" else geoopt.CanonicalStiefel)


@pytest.mark.parametrize("name", R.GEOOPT_MANIFOLDS)
def test_initial_latents_are_deterministic_near_the_origin(name):
    m = R.make_manifold(name, 2)
    dtype = R.default_dtype(m)
    m = m.to(torch.empty((), dtype=dtype).real.dtype)
    draw = lambda: R.random_points(m, 50, 2, std=1e-2, dtype=dtype,
                                   generator=torch.Generator().manual_seed(3))
    torch.manual_seed(0)
    a = draw()
    torch.manual_seed(1)  # the global state plays no part
    b = draw()
    assert a.shape == (50, *SHAPES[name]) and torch.equal(a, b)
    m.assert_check_point_on_manifold(a)
    origin = R.manifold_origin(m, 2, dtype)
    assert (a - origin).abs().max() < 0.1


@pytest.mark.parametrize("name", R.GEOOPT_MANIFOLDS)
@pytest.mark.parametrize("mode", R.NOISE_MODES)
def test_noise_stays_on_the_manifold_or_says_why_not(name, mode):
    m = R.make_manifold(name, 2)
    dtype = R.default_dtype(m)
    m = latent_manifold(m, dtype)
    z = R.random_points(m, 20, 2, std=0.1, dtype=dtype, generator=torch.Generator().manual_seed(0))
    if mode == "metric" and name in NO_METRIC_FRAME:
        with pytest.raises(NotImplementedError, match="inverse_metric"):
            R.perturb(z, m, 0.1, mode)
        return
    out = R.perturb(z, m, 0.1, mode, generator=torch.Generator().manual_seed(1))
    assert out.shape == z.shape and m.check_point_on_manifold(out)


def test_scaled_and_product_metric_noise_follow_their_factors():
    sphere, scaled = geoopt.Sphere(), geoopt.Scaled(geoopt.Sphere(), 2.0)
    z = R.random_points(sphere, 4, 2, dtype=torch.float32, generator=torch.Generator().manual_seed(0))
    a = R.geometric_noise(z, scaled, 1.0, "metric", torch.Generator().manual_seed(5))
    b = R.geometric_noise(z, sphere, 0.5, "metric", torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b)  # metric 4 G: orthonormal noise is half as long


def test_instances_keep_their_own_parameters():
    ball = geoopt.PoincareBallExact(c=torch.tensor(2.0, dtype=torch.float64))
    model = R.RiemannianDecoder(manifold=ball, epochs=2, hidden=(4,), verbose=False)
    Z = model.fit_transform(np.random.default_rng(0).normal(size=(30, 3)))
    assert float(model.manifold_.c) == 2.0 and Z.shape == (30, 2)
    assert (2.0 * (Z ** 2).sum(1) < 1).all()


def test_curvature_reaches_the_new_hyperbolic_names():
    assert float(R.make_manifold("Stereographic", curvature=2.0).k) == -2.0
    assert float(R.make_manifold("sphereprojection", curvature=0.5).k) == 0.5
    assert float(R.make_manifold("PoincareBallExact", curvature=3.0).c) == 3.0


def test_matrix_latents_round_trip_through_the_api():
    X = np.random.default_rng(0).normal(size=(40, 4))
    model = R.RiemannianDecoder(manifold="upperhalf", epochs=3, hidden=(4,), n_starts=2,
                                test_epochs=2, verbose=False).fit(X)
    assert model.latents_.shape == (40, 2, 2) and np.iscomplexobj(model.latents_)
    assert model.decoder_[0].in_features == 8  # real and imaginary parts of 4 entries
    assert model.transform(X[:3]).shape == (3, 2, 2)
    assert model.inverse_transform(model.latents_[:5]).shape == (5, 4)
    D = M.pairwise_distances(model.latents_[:6], model.manifold_)
    p, _ = M.distance_correlation(model.latents_[:6], model.manifold_, D)
    assert p == pytest.approx(1.0)


def test_stiefel_prior_and_distance():
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(NotImplementedError, match="prior='none'"):
        R.RiemannianDecoder(manifold="stiefel", prior="normal", epochs=1, verbose=False).fit(X)
    m = geoopt.EuclideanStiefel()
    Z = R.random_points(m, 5, 2, std=0.3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    chordal = (Z[:, None] - Z[None]).flatten(2).norm(dim=-1).numpy()
    np.testing.assert_allclose(M.pairwise_distances(Z, m), chordal, atol=1e-12)


@pytest.fixture(scope="module")
def branching_subsample(shared_data):
    X, labels, _ = load_branching(shared_data / "branching" / "tensordataset.npz")
    idx = np.random.default_rng(0).choice(len(X), 300, replace=False)
    return X[idx]


@pytest.mark.parametrize("name", R.GEOOPT_MANIFOLDS)
def test_each_manifold_fits_the_branching_data(name, branching_subsample):
    # init_std 0.05: after 3 epochs from the default 1e-3, float32 sphere points are so close
    # that arccos of their inner product can round to 0 (the built-in formula is kept as it is)
    model = R.RiemannianDecoder(manifold=name, epochs=3, hidden=(8,), noise_std=0.1, init_std=0.05,
                                verbose=False).fit(branching_subsample)
    Z = model.latents_
    assert Z.shape == (300, *SHAPES[name]) and np.isfinite(Z).all()
    assert model.manifold_.check_point_on_manifold(torch.as_tensor(Z))
    D = M.pairwise_distances(Z, model.manifold_)
    off = D[~np.eye(len(D), dtype=bool)]
    # a point's distance to itself is exactly 0 (arccos / arccosh near 1 would leave ~1e-4)
    assert np.isfinite(D).all() and (off > 0).all() and (np.diag(D) == 0).all()
    model.set_params(n_starts=2, test_epochs=2)  # test-time latents stay on the manifold too
    Z_new = model.transform(branching_subsample[:3])
    assert Z_new.shape == (3, *SHAPES[name]) and model.manifold_.check_point_on_manifold(
        torch.as_tensor(Z_new))


@pytest.mark.parametrize("name,dtype", [
    ("ProductManifold", torch.float64), ("Stiefel", torch.float32), ("Scaled", torch.float32),
    ("Stereographic", torch.float64), ("SymmetricPositiveDefinite", torch.float64),
    ("UpperHalf", torch.complex128), ("BoundedDomain", torch.complex128),
])
def test_default_dtypes_of_the_new_manifolds(name, dtype):
    assert R.default_dtype(R.make_manifold(name)) == dtype
