"""Core method: manifolds, geometry-aware noise, the estimator and the distance metrics."""

import geoopt
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
import torch
from scipy.spatial.distance import cdist

import rgd_utils as R
from rgdkit.manifolds.tangent import expmap_linear_factor
from rgdkit.data import branching
import rgdkit.metrics as M

DIM = {"euclidean": 2, "sphere": 2, "torus": 2, "lorentz": 2, "poincare": 2}
AMBIENT = {"euclidean": 2, "sphere": 3, "torus": 4, "lorentz": 3, "poincare": 2}


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


def small_tree(seed=0):
    """620 x 50 branching data (31 nodes, 20 observations each) with its path codes."""
    return branching.simulate_branching_diffusion(depth=4, n_siblings=20, seed=seed)


# ---- manifolds ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", R.MANIFOLDS)
def test_origin_and_random_points_lie_on_manifold(name):
    m = R.make_manifold(name, 2, curvature=5 if name == "lorentz" else None)
    assert R.ambient_dim(m, 2) == AMBIENT[name]
    origin = R.manifold_origin(m, 2)
    m.assert_check_point_on_manifold(origin)
    pts = R.random_points(m, 500, 2, std=1.5)
    assert pts.shape == (500, AMBIENT[name]) and torch.isfinite(pts).all()
    m.assert_check_point_on_manifold(pts)


def test_make_manifold_errors_and_passthrough():
    with pytest.raises(ValueError, match="unknown manifold 'hyperbolic'.*lorentz"):
        R.make_manifold("hyperbolic")
    with pytest.raises(ValueError, match="curvature"):
        R.make_manifold("lorentz", curvature=-1.0)
    ball = geoopt.PoincareBall(c=2.0)
    assert R.make_manifold(ball) is ball
    assert float(R.make_manifold("lorentz", curvature=5).k) == 5.0


def test_dtype_policy():
    assert R.default_dtype(R.make_manifold("lorentz")) == torch.float64
    assert R.default_dtype(R.make_manifold("poincare")) == torch.float64
    assert R.default_dtype(R.make_manifold("sphere")) == torch.float32


# ---- geometry-aware noise ----------------------------------------------------------------
def test_lorentz_closed_form_transport_matches_geoopt():
    m = R.make_manifold("lorentz", curvature=5.0)
    y = R.random_points(m, 64, 2, std=2.0)
    v = torch.randn(64, 2, dtype=torch.float64)
    ours = R.lorentz_transport_from_origin(y, v, m.k)
    ref = m.transp0(y, torch.cat([torch.zeros(64, 1, dtype=torch.float64), v], 1))
    torch.testing.assert_close(ours, ref)


def _empirical_cov(samples):
    samples = samples - samples.mean(0)
    return (samples.T @ samples / len(samples)).numpy()


@pytest.mark.parametrize("mode,power", [("metric", 1), ("inverse_metric", 2)])
def test_poincare_noise_covariance(mode, power):
    """G = lambda^2 I on the ball: covariance sigma^2 G^-1 (paper) or sigma^2 G^-2 (authors' code)."""
    ball = R.make_manifold("poincare")
    z = torch.tensor([[0.5, -0.3]], dtype=torch.float64).expand(200_000, 2)
    sigma = 0.7
    eps = R.geometric_noise(z, ball, sigma, mode)
    lam = float(ball.lambda_x(z[:1]))
    expected = sigma ** 2 * lam ** (-2 * power) * np.eye(2)
    # 200k samples: the standard error of each entry is about 0.3% of the variance
    np.testing.assert_allclose(_empirical_cov(eps), expected, rtol=0.03, atol=0.015 * expected[0, 0])


@pytest.mark.parametrize("mode", R.NOISE_MODES)
def test_lorentz_noise_covariance_in_orthonormal_frame(mode):
    """In a Minkowski-orthonormal frame E at z: covariance sigma^2 I (paper), sigma^2 E^T E (code)."""
    k, r, sigma = 5.0, 1.2, 0.5
    m = R.make_manifold("lorentz", curvature=k)
    z = torch.tensor([[np.sqrt(k) * np.cosh(r), np.sqrt(k) * np.sinh(r), 0.0]], dtype=torch.float64)
    m.assert_check_point_on_manifold(z)
    frame = torch.tensor([[np.sinh(r), np.cosh(r), 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    for e in frame:  # the frame is orthonormal and tangent in the Minkowski inner product
        assert abs(float(m.inner(z[0], e, e)) - 1.0) < 1e-12
        assert abs(float(m.inner(z[0], z[0], e))) < 1e-12
    eps = R.geometric_noise(z.expand(200_000, 3), m, sigma, mode)
    assert float(m.inner(z, z.expand_as(eps), eps).abs().max()) < 1e-9  # tangent
    coords = torch.stack([m.inner(z, eps, e.expand_as(eps)) for e in frame], 1)
    gram = (frame @ frame.T).numpy()
    expected = sigma ** 2 * (np.eye(2) if mode == "metric" else gram)
    np.testing.assert_allclose(_empirical_cov(coords), expected, rtol=0.03, atol=2e-3)
    if mode == "inverse_metric":
        assert np.isclose(gram[0, 0], np.cosh(2 * r))  # noise grows away from the origin


@pytest.mark.parametrize("name", ["sphere", "torus", "euclidean"])
def test_noise_modes_coincide_on_embedded_manifolds(name):
    m = R.make_manifold(name, 2)
    z = R.random_points(m, 10, 2, std=1.0)
    torch.manual_seed(3)
    a = R.geometric_noise(z, m, 0.4, "metric")
    torch.manual_seed(3)
    b = R.geometric_noise(z, m, 0.4, "inverse_metric")
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", R.MANIFOLDS)
def test_perturb_matches_expmap_and_has_its_linear_gradient(name):
    m = R.make_manifold(name, 2, curvature=5 if name == "lorentz" else None)
    z = R.random_points(m, 32, 2, std=0.8).requires_grad_(True)
    torch.manual_seed(0)
    out = R.perturb(z, m, 0.5, gradient="fixed")
    torch.manual_seed(0)
    eps = R.geometric_noise(z.detach(), m, 0.5)
    torch.testing.assert_close(out.detach(), m.expmap(z.detach(), eps))
    m.assert_check_point_on_manifold(out.detach())
    weights = torch.randn_like(out)
    (grad,) = torch.autograd.grad((out * weights).sum(), z)
    assert torch.isfinite(grad).all()
    factor = expmap_linear_factor(m, eps)
    if factor is not None:
        torch.testing.assert_close(grad, factor * weights)


@pytest.mark.parametrize("name", R.MANIFOLDS)
def test_pathwise_noise_has_the_same_value_and_the_autograd_gradient_of_the_whole_draw(name):
    m = R.make_manifold(name, 2, curvature=5 if name == "lorentz" else None)
    start = R.random_points(m, 32, 2, std=0.8)
    normal = torch.randn(start.shape, dtype=start.dtype, generator=torch.Generator().manual_seed(0))
    weights = torch.randn(start.shape, dtype=start.dtype, generator=torch.Generator().manual_seed(1))
    outs, grads = {}, {}
    for gradient in R.NOISE_GRADIENTS:
        z = start.clone().requires_grad_(True)
        outs[gradient] = R.perturb(z, m, 0.5, normal=normal, gradient=gradient)
        (grads[gradient],) = torch.autograd.grad((outs[gradient] * weights).sum(), z)
    torch.testing.assert_close(normal, torch.randn(start.shape, dtype=start.dtype,
                                                   generator=torch.Generator().manual_seed(0)))
    torch.testing.assert_close(outs["pathwise"].detach(), outs["fixed"].detach())
    # the reference: autograd through the noise drawn at z and the exponential map
    z = start.clone().requires_grad_(True)
    reference = m.expmap(z, R.geometric_noise(z, m, 0.5, normal=normal))
    (expected,) = torch.autograd.grad((reference * weights).sum(), z)
    torch.testing.assert_close(grads["pathwise"], expected)
    assert torch.isfinite(grads["pathwise"]).all()
    if name == "euclidean":  # the only one whose noise does not depend on z
        torch.testing.assert_close(grads["pathwise"], grads["fixed"])
    else:
        assert not torch.allclose(grads["pathwise"], grads["fixed"], rtol=1e-3)


def test_pathwise_noise_on_a_product_with_a_lorentz_factor_has_a_gradient():
    # geoopt's product egrad2rgrad negates a view of the draw in place (its Lorentz factor),
    # which broke autograd through the sphere factor
    m = R.make_manifold("ProductManifold", 2)
    start = R.random_points(m, 16, 2, std=0.5)
    normal = torch.randn(start.shape, dtype=start.dtype, generator=torch.Generator().manual_seed(0))
    z = start.clone().requires_grad_(True)
    noise = R.geometric_noise(z, m, 0.3, normal=normal)
    (grad,) = torch.autograd.grad(m.expmap(z, noise).square().sum(), z)
    torch.testing.assert_close(noise.detach(), 0.3 * m.egrad2rgrad(start, normal.clone()))
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_perturb_rejects_unknown_gradient():
    m = R.make_manifold("euclidean")
    with pytest.raises(ValueError, match="unknown noise gradient 'exact'.*pathwise"):
        R.perturb(torch.zeros(1, 2), m, 1.0, gradient="exact")


def test_geometric_noise_rejects_unknown_mode():
    with pytest.raises(ValueError, match="unknown noise mode"):
        R.geometric_noise(torch.zeros(1, 2), R.make_manifold("euclidean"), 1.0, "isotropic")


# ---- the estimator -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", R.MANIFOLDS)
def test_trained_latents_stay_on_manifold(name, dtype):
    X, _ = small_tree()
    model = R.RiemannianDecoder(manifold=name, curvature=5 if name == "lorentz" else None,
                                noise_std=0.5, epochs=15, lr_latent=0.2, dtype=dtype, verbose=False)
    Z = model.fit_transform(X[:400], X_val=X[400:500])
    assert Z.shape == (400, AMBIENT[name]) and np.isfinite(Z).all()
    model.manifold_.assert_check_point_on_manifold(torch.as_tensor(Z, dtype=dtype), atol=1e-4)
    assert model.latents_.dtype == np.dtype(str(dtype).split(".")[1])
    assert len(model.history_["train_loss"]) == 15
    assert np.isfinite(model.history_["val_loss"]).all()


def test_round_trip_fit_transform_inverse_transform():
    X, _ = small_tree()
    model = R.RiemannianDecoder(manifold="sphere", epochs=60, lr_latent=0.3, n_starts=5,
                                test_epochs=60, lr_test=0.1, verbose=False)
    Z = model.fit_transform(torch.as_tensor(X[:500]), X_val=X[500:])
    X_hat = model.inverse_transform(Z)
    assert X_hat.shape == (500, 50)
    train_err = M.reconstruction_errors(X[:500], X_hat)["mse"]
    assert train_err < 0.9  # learned something: the data have unit variance
    Z_new = model.transform(X[500:])
    assert Z_new.shape == (120, 3)
    model.manifold_.assert_check_point_on_manifold(torch.as_tensor(Z_new), atol=1e-4)
    assert model.reconstruction_errors(X[500:], Z_new)["mse"] < 0.9
    # re-finding the training samples' latents with the decoder frozen fits them as well as training
    Z_again = model.transform(X[:100])
    assert model.reconstruction_errors(X[:100], Z_again)["mse"] < 1.1 * M.reconstruction_errors(
        X[:100], X_hat[:100])["mse"]


def test_early_stopping_restores_best_state():
    X, _ = small_tree()
    model = R.RiemannianDecoder(manifold="euclidean", epochs=200, min_epochs=5, patience=3,
                                lr_latent=0.0, lr_decoder=0.0, verbose=False)
    model.fit(X[:300], X_val=X[300:400])
    assert len(model.history_["epoch"]) < 200  # nothing improves once the learning rates are 0
    assert model.best_epoch_ <= 5


def test_divergence_stops_warns_and_keeps_best_state(monkeypatch):
    X, _ = small_tree()
    model = R.RiemannianDecoder(manifold="lorentz", epochs=20, verbose=False)
    original = R._train_epoch
    calls = {"n": 0}

    def blow_up_at_epoch_4(*args):
        calls["n"] += 1
        losses = original(*args)
        return [float("nan")] * len(losses) if calls["n"] == 5 else losses

    monkeypatch.setattr(R, "_train_epoch", blow_up_at_epoch_4)
    with pytest.warns(R.TrainingDiverged, match="epoch 4.*lower lr_latent"):
        model.fit(X[:200])
    assert model.diverged_at_ == 4 and len(model.history_["epoch"]) == 5
    assert np.isfinite(model.latents_).all() and model.best_epoch_ < 4


@pytest.mark.parametrize("kwargs,X,match", [
    ({}, np.array([[0.0, 1.0], [np.nan, 2.0]]), "NaN or inf in 1 rows"),
    ({}, np.zeros(5), "2-D"),
    ({"manifold": "klein"}, np.zeros((4, 2)), "unknown manifold 'klein'"),
    ({"noise_std": -0.1}, np.zeros((4, 2)), "noise_std must be >= 0"),
    ({"noise": "iso"}, np.zeros((4, 2)), "unknown noise"),
    ({"loss": "bce"}, np.full((4, 2), 2.0), r"\[0, 1\]"),
])
def test_bad_inputs_raise_clear_errors(kwargs, X, match):
    with pytest.raises(ValueError, match=match):
        R.RiemannianDecoder(epochs=1, verbose=False, **kwargs).fit(X)


def test_transform_checks_fit_and_feature_count():
    model = R.RiemannianDecoder(epochs=2, verbose=False)
    with pytest.raises(NotFittedError, match="not fitted"):
        model.transform(np.zeros((2, 3)))
    model.fit(np.random.default_rng(0).normal(size=(20, 3)))
    with pytest.raises(ValueError, match="4 features, but RiemannianDecoder is expecting 3"):
        model.transform(np.zeros((2, 4)))


def test_hyperbolic_noise_improves_tree_correlation_on_fixed_seeds():
    """The paper's qualitative result on a small tree: H2 with noise beats H2 without.

    Noise-free fits vary a lot between seeds (Pearson 0.42-0.74 here), so the claim is tested on
    the mean over three seeds, and noisy fits must be good on every seed.
    """
    X, labels = small_tree(seed=0)
    D_tree = M.tree_distances(labels)
    scores = {0.0: [], 1.0: []}
    for sigma in scores:
        for seed in range(3):
            model = R.RiemannianDecoder(manifold="lorentz", curvature=5, noise_std=sigma, epochs=150,
                                        restart_period=50, seed=seed, verbose=False)
            Z = model.fit_transform(X)
            scores[sigma].append(M.distance_correlation(Z, model.manifold_, D_tree)[0])
    assert min(scores[1.0]) > 0.55
    assert np.mean(scores[1.0]) > np.mean(scores[0.0]) + 0.05


# ---- distances and metrics -----------------------------------------------------------------
@pytest.mark.parametrize("name", R.MANIFOLDS)
def test_pairwise_distances_match_geoopt(name):
    m = R.make_manifold(name, 2, curvature=5 if name == "lorentz" else None)
    Z = R.random_points(m, 60, 2, std=1.0)
    D = M.pairwise_distances(Z, m, chunk_size=17)
    ref = m.dist(Z[:, None, :], Z[None, :, :]).numpy()
    off = ~np.eye(60, dtype=bool)  # geoopt's clamping leaves ~1e-4 on its diagonal; ours is exact
    np.testing.assert_allclose(D[off], ref[off], atol=1e-6)
    assert np.abs(np.diag(D)).max() < 1e-6
    np.testing.assert_allclose(D, D.T, atol=1e-10)


def test_pairwise_distances_fallback_for_other_manifolds():
    m = geoopt.Stereographic(k=-0.5)
    Z = m.expmap0(torch.randn(30, 2, dtype=torch.float64) * 0.3)
    np.testing.assert_allclose(M.pairwise_distances(Z, m), m.dist(Z[:, None], Z[None]).numpy(),
                               atol=1e-8)


def test_distance_correlation_checks_and_perfect_agreement():
    m = R.make_manifold("euclidean")
    Z = np.random.default_rng(0).normal(size=(40, 2))
    p, s = M.distance_correlation(Z, m, cdist(Z, Z))
    assert p == pytest.approx(1.0) and s == pytest.approx(1.0)
    with pytest.raises(ValueError, match="40 x 40"):
        M.distance_correlation(Z, m, np.zeros((3, 3)))


def test_correlate_tells_pearson_from_spearman():
    a = np.arange(1.0, 11.0)
    p, s = M.correlate(a, np.exp(a))  # monotone but far from linear
    assert s == pytest.approx(1.0) and p < 0.9
    p, s = M.correlate(a, -2 * a)
    assert p == pytest.approx(-1.0) and s == pytest.approx(-1.0)


def test_tree_distances_hand_made_tree():
    #            root
    #         /        \
    #     child 1     child 2
    #       /
    #   grandchild (1, 1)
    labels = np.array([[-1, 0, 0], [-2, 0, 0], [1, -1, 0], [2, -3, 0], [1, 1, -1]])
    expected = np.array([[0, 0, 1, 1, 2],
                         [0, 0, 1, 1, 2],
                         [1, 1, 0, 2, 1],
                         [1, 1, 2, 0, 3],
                         [2, 2, 1, 3, 0]])
    np.testing.assert_array_equal(M.tree_distances(labels, chunk_size=2), expected)


def test_circular_and_hamming_distances():
    np.testing.assert_allclose(M.circular_distances([0.1, 0.9, 0.5])[0], [0.0, 0.2, 0.4])
    X = np.random.default_rng(1).integers(0, 2, size=(30, 12))
    np.testing.assert_allclose(M.hamming_distances(X), cdist(X, X, "cityblock"))


def test_reconstruction_errors():
    err = M.reconstruction_errors([[0.0, 2.0]], [[1.0, 0.0]])
    assert err == {"mae": 1.5, "mse": 2.5}


def test_tree_nodes_hand_made_tree():
    labels = np.array([[-1, 0, 0], [-2, 0, 0], [1, -1, 0], [2, -3, 0], [1, 1, -1]])
    node_of, edges, depth = M.tree_nodes(labels)
    assert node_of[0] == node_of[1] and len(set(node_of)) == 4
    root, child1, child2, grandchild = node_of[0], node_of[2], node_of[3], node_of[4]
    assert sorted(edges) == sorted([(root, child1), (root, child2), (child1, grandchild)])
    assert depth[root] == 0 and depth[grandchild] == 2


def test_binary_reconstruction_scores_by_hand():
    X = np.array([[1, 0, 1, 0], [0, 0, 0, 0]])
    P = np.array([[0.9, 0.6, 0.2, 0.1], [0.1, 0.1, 0.1, 0.1]])
    scores = M.binary_reconstruction_scores(X, P)
    # sample 1: predicted {0, 1}, true {0, 2}: F1 = 2*1/(2+2) = 0.5; sample 2: nothing either way: 1
    assert scores["f1"] == pytest.approx(0.75)
    expected_bce = -np.mean(np.where(X == 1, np.log(P), np.log(1 - P)))
    assert scores["bce"] == pytest.approx(expected_bce)
    torch_bce = torch.nn.functional.binary_cross_entropy(torch.tensor(P), torch.tensor(X, dtype=torch.float64))
    assert scores["bce"] == pytest.approx(float(torch_bce))
