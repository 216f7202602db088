"""Generation quality: densities on the latent manifold, sampling through the decoder, and the
classifier two-sample test; one end-to-end run on a small RGD model."""
import math

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.mixture import GaussianMixture

import rgd_utils as R
from rgdkit.baselines.deltavae import DiffusionVAE
from rgdkit.baselines.pvae import PoincareVAE
from rgdkit.baselines.svae import SphericalVAE
from rgdkit.data.branching import simulate_branching_diffusion
from rgdkit.generation import (ManifoldMixture, discrimination_accuracy, generate,
                               generation_table, likelihood_std, pvae_prior_sampler,
                               select_mixture)
from rgdkit.generation import density as D
from rgdkit.generation.discrimination import TABLE_COLUMNS, balanced_pair

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def xgboost():
    """The classifier of the discrimination score: pinned in requirements.txt, so a missing one
    fails here rather than skipping."""
    import xgboost as module

    return module


def unit(v):
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def vmf_mixture_points(n, means, kappa, seed):
    """n points of S² from an equal-weight mixture of vMF components (the sampler under test is
    checked on its own in test_vmf_sampler_has_the_right_mean_resultant)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(len(means), size=n)
    return D.sample_vmf(unit(means)[labels], np.full(n, kappa), rng)


def torus_points(n, seed):
    """Two clusters on the 2-torus, each circle a von Mises angle, as unit 2-vectors per circle."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.5, 2.0], [3.5, -1.0]])
    angles = centres[rng.integers(2, size=n)] + rng.vonmises(0.0, 3.0, size=(n, 2))
    return np.stack([np.cos(angles[:, 0]), np.sin(angles[:, 0]),
                     np.cos(angles[:, 1]), np.sin(angles[:, 1])], 1)


def hyperbolic_points(manifold, n, seed, centres=((0.0, 0.0), (1.2, 0.3), (-0.4, 1.3))):
    """Points of H² scattered around a few centres given in tangent coordinates at the origin."""
    rng = np.random.default_rng(seed)
    tangent = np.asarray(centres)[rng.integers(len(centres), size=n)] + 0.3 * rng.normal(size=(n, 2))
    origin = R.manifold_origin(manifold, 2).expand(n, -1)
    u = torch.cat([torch.zeros(n, 1, dtype=torch.float64), torch.as_tensor(tangent)], 1)
    return manifold.projx(manifold.expmap(origin, u)).numpy()


# ---- von Mises–Fisher pieces ------------------------------------------------------------------
@pytest.mark.parametrize("p", [2, 3, 5])
@pytest.mark.parametrize("kappa", [0.5, 8.0, 1e4])
def test_vmf_sampler_has_the_right_mean_resultant(p, kappa):
    """E[μᵀx] = A_p(κ); 4000 draws put the sample mean within 5 standard errors."""
    rng = np.random.default_rng(1)
    mu = unit(rng.normal(size=p))
    x = D.sample_vmf(np.tile(mu, (4000, 1)), np.full(4000, kappa), rng)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-12)
    dots = x @ mu
    expected = D.vmf_mean_resultant(p, kappa)
    assert abs(dots.mean() - expected) < 5 * dots.std() / math.sqrt(len(dots)) + 1e-9
    # the concentration solver inverts A_p
    assert D.vmf_concentration(expected, p) == pytest.approx(kappa, rel=1e-6)


# ---- densities integrate to one ---------------------------------------------------------------
def test_sphere_density_integrates_to_one():
    means = [[1, 0, 0], [0, 1, 1], [-1, -1, 0.5]]
    Z = vmf_mixture_points(600, means, 12.0, seed=0)
    mixture = ManifoldMixture(3, "sphere", seed=0).fit(Z)
    assert mixture.family_ == "von_mises_fisher"
    n_t, n_p = 400, 800  # midpoint rule in (polar θ, azimuth φ), dA = sin θ dθ dφ
    theta = (np.arange(n_t) + 0.5) * math.pi / n_t
    phi = (np.arange(n_p) + 0.5) * 2 * math.pi / n_p
    T, P = np.meshgrid(theta, phi, indexing="ij")
    grid = np.stack([np.sin(T) * np.cos(P), np.sin(T) * np.sin(P), np.cos(T)], -1).reshape(-1, 3)
    density = np.exp(mixture.log_prob(grid)).reshape(n_t, n_p)
    integral = (density * np.sin(T)).sum() * (math.pi / n_t) * (2 * math.pi / n_p)
    assert integral == pytest.approx(1.0, abs=2e-3)


def test_torus_density_integrates_to_one():
    mixture = ManifoldMixture(2, R.make_manifold("torus", 2), seed=0).fit(torus_points(500, 0))
    n = 400  # dvol = dθ₁ dθ₂ on the product of unit circles
    angles = (np.arange(n) + 0.5) * 2 * math.pi / n
    A, B = np.meshgrid(angles, angles, indexing="ij")
    grid = np.stack([np.cos(A), np.sin(A), np.cos(B), np.sin(B)], -1).reshape(-1, 4)
    integral = np.exp(mixture.log_prob(grid)).sum() * (2 * math.pi / n) ** 2
    assert integral == pytest.approx(1.0, abs=2e-3)


def test_hyperbolic_density_integrates_to_one():
    """On Lorentz(k) (curvature -1/k) in geodesic polar coordinates about the origin,
    dvol = √k sinh(r/√k) dr dφ: the wrapped normals' Jacobian term makes the mixture a density."""
    k = 1.5
    manifold = R.make_manifold("lorentz", 2, curvature=k)
    mixture = ManifoldMixture(2, manifold, seed=0).fit(hyperbolic_points(manifold, 300, 0))
    assert mixture.family_ == "wrapped_normal"
    n_r, n_p, r_max = 1200, 360, 12.0
    r = (np.arange(n_r) + 0.5) * r_max / n_r
    phi = (np.arange(n_p) + 0.5) * 2 * math.pi / n_p
    Rr, P = np.meshgrid(r, phi, indexing="ij")
    s = math.sqrt(k)
    grid = np.stack([s * np.cosh(Rr / s), s * np.sinh(Rr / s) * np.cos(P),
                     s * np.sinh(Rr / s) * np.sin(P)], -1).reshape(-1, 3)
    density = np.exp(mixture.log_prob(grid)).reshape(n_r, n_p)
    integral = (density * s * np.sinh(Rr / s)).sum() * (r_max / n_r) * (2 * math.pi / n_p)
    assert integral == pytest.approx(1.0, abs=3e-3)


# ---- Euclidean: an ordinary Gaussian mixture --------------------------------------------------
def test_euclidean_one_component_is_the_fitted_gaussian():
    rng = np.random.default_rng(0)
    Z = rng.multivariate_normal([1.0, -2.0, 0.5], [[2, 0.5, 0], [0.5, 1, 0.3], [0, 0.3, 0.5]], 400)
    mixture = ManifoldMixture(1, "euclidean").fit(Z)
    cov = np.cov(Z.T, bias=True) + 1e-6 * np.eye(3)
    expected = stats.multivariate_normal(Z.mean(0), cov).logpdf(Z)
    np.testing.assert_allclose(mixture.log_prob(Z), expected, rtol=1e-10)


def test_euclidean_mixture_matches_sklearn():
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [4, 0], [0, 5]])
    Z = centres[rng.integers(3, size=600)] + rng.normal(size=(600, 2)) * [0.7, 1.2]
    ours = ManifoldMixture(3, R.make_manifold("euclidean", 2), seed=0).fit(Z).score(Z)
    theirs = GaussianMixture(3, random_state=0, tol=1e-6, max_iter=500).fit(Z).score(Z)
    assert ours == pytest.approx(theirs, abs=0.02)


# ---- EM, sampling, selection ------------------------------------------------------------------
MANIFOLD_CASES = {
    "sphere": lambda: (R.make_manifold("sphere", 2),
                       vmf_mixture_points(300, [[1, 0, 0], [0, 0, 1]], 10.0, 2)),
    "torus": lambda: (R.make_manifold("torus", 2), torus_points(300, 2)),
    "lorentz": lambda: (R.make_manifold("lorentz", 2),
                        hyperbolic_points(R.make_manifold("lorentz", 2), 200, 2)),
    "poincare": lambda: (R.make_manifold("poincare", 2), None),
    "euclidean": lambda: (R.make_manifold("euclidean", 2),
                          np.random.default_rng(2).normal(size=(300, 2)) * [1, 3]),
}


def _case(name):
    manifold, Z = MANIFOLD_CASES[name]()
    if Z is None:  # the ball: the hyperboloid's points in ball coordinates
        H = hyperbolic_points(R.make_manifold("lorentz", 2), 200, 2)
        Z = H[:, 1:] / (1 + H[:, :1])
    return manifold, Z


@pytest.mark.parametrize("name", list(MANIFOLD_CASES))
def test_em_never_lowers_the_likelihood_and_samples_lie_on_the_manifold(name):
    manifold, Z = _case(name)
    mixture = ManifoldMixture(3, manifold, seed=0, max_iter=60).fit(Z)
    history = np.asarray(mixture.history_)
    assert len(history) > 3 and np.all(np.diff(history) >= -1e-10)
    assert mixture.score(Z) == pytest.approx(history[-1], rel=1e-9)
    samples = mixture.sample(500, seed=3)
    assert samples.shape == (500, Z.shape[1]) and samples.dtype == np.float64
    R.check_on_manifold(torch.as_tensor(samples), manifold, "samples")  # raises if off it
    R.check_on_manifold(torch.as_tensor(mixture.means_), manifold, "means")
    assert mixture.weights_.sum() == pytest.approx(1.0)


def test_samples_follow_the_density():
    """Samples of a fitted sphere mixture score like the data it was fitted on, and draws from a
    mixture refit on them recover its log-likelihood on the data (same family, same scale)."""
    Z = vmf_mixture_points(800, [[1, 0, 0], [0, 1, 0], [0, 0, 1]], 20.0, seed=4)
    mixture = ManifoldMixture(3, "sphere", seed=0).fit(Z)
    samples = mixture.sample(4000, seed=5)
    assert mixture.score(samples) == pytest.approx(mixture.score(Z), abs=0.1)
    refit = ManifoldMixture(3, "sphere", seed=1).fit(samples)
    assert refit.score(Z) == pytest.approx(mixture.score(Z), abs=0.05)


@pytest.mark.parametrize("name", ["sphere", "lorentz"])
def test_selection_prefers_several_components_for_a_three_component_mixture(name):
    if name == "sphere":
        manifold = "sphere"
        Z = vmf_mixture_points(600, [[1, 0, 0], [0, 1, 0], [0, 0, 1]], 25.0, seed=6)
    else:
        manifold = R.make_manifold("lorentz", 2)
        Z = hyperbolic_points(manifold, 400, 6, centres=((0, 0), (2.0, 0), (0, 2.0)))
    half = len(Z) // 2
    best, table = select_mixture(Z[:half], Z[half:], manifold, components=(1, 2, 3, 4), seed=0)
    assert list(table.columns) == ["components", "train_loglik", "heldout_loglik"]
    assert table["components"].tolist() == [1, 2, 3, 4]
    heldout = table.set_index("components")["heldout_loglik"]
    assert heldout.loc[2:].max() > heldout.loc[1] + 0.1
    assert best.n_components >= 2
    assert best.score(Z[half:]) == pytest.approx(heldout.max())


def test_seeds_make_fits_and_samples_reproducible_without_the_global_rng():
    Z = vmf_mixture_points(300, [[1, 0, 0], [0, 1, 0]], 10.0, seed=7)
    numpy_state, torch_state = np.random.get_state()[1].copy(), torch.random.get_rng_state()
    a = ManifoldMixture(4, "sphere", seed=3).fit(Z)
    b = ManifoldMixture(4, "sphere", seed=3).fit(Z)
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.sample(50), b.sample(50))
    np.testing.assert_array_equal(a.sample(50, seed=1), a.sample(50, seed=1))
    assert not np.array_equal(a.sample(50, seed=1), a.sample(50, seed=2))
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)
    assert torch.equal(torch.random.get_rng_state(), torch_state)


def test_bad_input_raises_with_the_fix():
    Z = vmf_mixture_points(50, [[1, 0, 0]], 5.0, seed=8)
    with pytest.raises(ValueError, match="n_components >= 1"):
        ManifoldMixture(0, "sphere")
    with pytest.raises(ValueError, match="n_components >= 1"):
        ManifoldMixture(2.5, "sphere")
    with pytest.raises(ValueError, match="not on the Sphere manifold.*projx"):
        ManifoldMixture(2, "sphere").fit(Z * 1.1)
    bad = Z.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf in 1 points.*drop them"):
        ManifoldMixture(2, "sphere").fit(bad)
    with pytest.raises(ValueError, match="fewer than n_components.*fewer components"):
        ManifoldMixture(60, "sphere").fit(Z)
    with pytest.raises(ValueError, match="supports the Euclidean space"):
        ManifoldMixture(2, R.make_manifold("stiefel", 2)).fit(np.eye(3)[None, :, :2])
    with pytest.raises(ValueError, match="not fitted yet; call fit"):
        ManifoldMixture(2, "sphere").sample(5)
    fitted = ManifoldMixture(2, "sphere").fit(Z)
    with pytest.raises(ValueError, match="fitted on 3"):
        fitted.log_prob(np.ones((4, 4)) / 2)
    with pytest.raises(ValueError, match="not on the Sphere"):
        fitted.score(Z * 2)
    with pytest.raises(ValueError, match="at least one number of components"):
        select_mixture(Z, Z, "sphere", components=())


# ---- sampling through a decoder ---------------------------------------------------------------
class LinearDecoder:
    """A fitted-model stand-in: latents on S², decoder x = W z (+ sigmoid for BCE)."""

    def __init__(self, loss="mse", n_features=6, n=400, seed=0):
        rng = np.random.default_rng(seed)
        self.manifold_ = R.make_manifold("sphere", 2)
        self.loss = loss
        self.W = rng.normal(size=(3, n_features))
        self.latents_ = vmf_mixture_points(n, [[1, 0, 0], [0, 1, 0]], 8.0, seed)
        self.n_features_in_ = n_features

    def inverse_transform(self, Z):
        Z = R.check_on_manifold(torch.as_tensor(np.asarray(Z)), self.manifold_).numpy()
        out = Z @ self.W
        return 1 / (1 + np.exp(-out)) if self.loss == "bce" else out


def test_likelihood_std_is_the_rms_residual():
    model = LinearDecoder()
    rng = np.random.default_rng(1)
    scale = np.linspace(0.1, 1.0, 6)
    X = model.inverse_transform(model.latents_) + rng.normal(size=(400, 6)) * scale
    sigma = likelihood_std(model, X)
    residuals = X - model.latents_ @ model.W
    np.testing.assert_allclose(sigma, np.sqrt((residuals ** 2).mean(0)))
    np.testing.assert_allclose(sigma, scale, rtol=0.15)
    with pytest.raises(ValueError, match="training data in the order"):
        likelihood_std(model, X[:10])


def test_generate_adds_gaussian_noise_of_the_likelihood_scale():
    model = LinearDecoder()
    mixture = ManifoldMixture(2, model.manifold_, seed=0).fit(model.latents_)
    sigma = np.linspace(0.2, 2.0, 6)
    X, Z = generate(model, mixture, n=3000, seed=4, noise_std=sigma, return_latents=True)
    np.testing.assert_array_equal(Z, mixture.sample(3000, seed=4))
    residual = X - model.inverse_transform(Z)
    np.testing.assert_allclose(residual.std(0), sigma, rtol=0.06)
    clean = generate(model, mixture, n=3000, seed=4, observation_noise=False)
    np.testing.assert_allclose(clean, model.inverse_transform(Z))
    # the scale implied by the training data, and determinism
    X_train = model.inverse_transform(model.latents_) + np.random.default_rng(2).normal(
        size=(400, 6)) * 0.5
    a = generate(model, mixture, n=100, seed=1, X_train=X_train)
    np.testing.assert_array_equal(a, generate(model, mixture, n=100, seed=1, X_train=X_train))
    assert not np.array_equal(a, generate(model, mixture, n=100, seed=2, X_train=X_train))


def test_generate_draws_bernoulli_data_for_bce():
    model = LinearDecoder(loss="bce")
    mixture = ManifoldMixture(1, model.manifold_).fit(model.latents_)
    X, Z = generate(model, mixture, n=4000, seed=0, return_latents=True)
    assert set(np.unique(X)) <= {0.0, 1.0}
    p = model.inverse_transform(Z)
    assert np.abs(X.mean(0) - p.mean(0)).max() < 0.03


def test_generate_needs_one_latent_source_and_a_noise_scale():
    model = LinearDecoder()
    mixture = ManifoldMixture(1, model.manifold_).fit(model.latents_)
    with pytest.raises(ValueError, match="exactly one source of latents"):
        generate(model, None, n=5)
    with pytest.raises(ValueError, match="exactly one source of latents"):
        generate(model, mixture, n=5, prior_sampler=lambda n, seed: None)
    with pytest.raises(ValueError, match="pass X_train="):
        generate(model, mixture, n=5)
    with pytest.raises(ValueError, match="fitted latent-variable model"):
        generate(object(), mixture, n=5)


def test_generate_from_the_pvae_prior():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    model = PoincareVAE(epochs=2, hidden=(8, 8), verbose=False, seed=0).fit(X)
    sampler = pvae_prior_sampler(model)
    Z = sampler(500, 3)
    np.testing.assert_array_equal(Z, sampler(500, 3))
    R.check_on_manifold(torch.as_tensor(Z), model.manifold_)
    generated, latents = generate(model, n=2000, seed=3, prior_sampler=sampler,
                                  return_latents=True)
    assert generated.shape == (2000, 5) and np.isfinite(generated).all()
    # the P-VAE's own likelihood scale (likelihood_std=1.0)
    residual = generated - model.inverse_transform(latents)
    np.testing.assert_allclose(residual.std(0), 1.0, rtol=0.08)


@pytest.mark.parametrize("make", [lambda: SphericalVAE(latent_dim=2),
                                  lambda: DiffusionVAE(manifold="torus", latent_dim=2)],
                         ids=["S-VAE sphere", "ΔVAE torus"])
def test_compact_vae_prior_is_uniform_and_generates(make):
    X = np.random.default_rng(0).normal(size=(120, 5))
    model = make().set_params(epochs=2, hidden=(8, 8), verbose=False).fit(X)
    Z = model.sample_prior(20000, seed=3)
    np.testing.assert_array_equal(Z, model.sample_prior(20000, seed=3))
    R.check_on_manifold(torch.as_tensor(Z), model.manifold_)
    # uniform on a sphere or circle: every coordinate averages to 0 (std of the mean < 0.007)
    assert np.abs(Z.mean(0)).max() < 0.03
    if Z.shape[1] == 4:  # torus: the two angles are independent
        angles = np.arctan2(Z[:, 1::2], Z[:, ::2])
        assert abs(stats.pearsonr(angles[:, 0], angles[:, 1])[0]) < 0.03
    generated = generate(model, n=300, seed=1, prior_sampler=model.sample_prior)
    assert generated.shape == (300, 5) and np.isfinite(generated).all()


# ---- discrimination ---------------------------------------------------------------------------
def test_same_distribution_is_near_chance(xgboost):
    """Under the null each of the 2m held-out predictions is right with probability 1/2, so the
    accuracy has standard deviation about 0.5 / sqrt(2m) (0.018 for m = 400): 4 of them margin."""
    rng = np.random.default_rng(0)
    m = 400
    mean, std = discrimination_accuracy(rng.normal(size=(m, 5)), rng.normal(size=(m, 5)))
    assert abs(mean - 0.5) < 4 * 0.5 / math.sqrt(2 * m)
    assert 0 <= std < 0.15


def test_shifted_distribution_is_detected(xgboost):
    """A shift of 4 standard deviations along one axis: the Bayes accuracy is Φ(2) = 0.977."""
    rng = np.random.default_rng(1)
    shifted = rng.normal(size=(300, 5))
    shifted[:, 2] += 4
    mean, _ = discrimination_accuracy(rng.normal(size=(300, 5)), shifted)
    assert mean > 0.9


def test_unequal_sizes_are_balanced_and_the_table_has_its_schema(xgboost):
    rng = np.random.default_rng(2)
    real, generated = rng.normal(size=(150, 4)), rng.normal(size=(700, 4)) + 3
    a, b = balanced_pair(real, generated, seed=0)
    assert a.shape == b.shape == (150, 4)
    np.testing.assert_array_equal(a, real)
    assert {tuple(row) for row in b} <= {tuple(row) for row in generated}
    table = generation_table({"shifted": (real, generated), "same": (real, real[::-1].copy())})
    assert list(table.columns) == TABLE_COLUMNS == [
        "model", "discrimination_accuracy_mean", "discrimination_accuracy_std"]
    assert table["model"].tolist() == ["shifted", "same"]
    assert table.loc[0, "discrimination_accuracy_mean"] > 0.9
    with pytest.raises(ValueError, match="3 features.*expecting 4"):
        discrimination_accuracy(real, generated[:, :3])
    with pytest.raises(ValueError, match="at least 5 real and 5 generated"):
        discrimination_accuracy(real[:3], generated)


# ---- end to end -------------------------------------------------------------------------------
def test_end_to_end_sphere_rgd(xgboost):
    """Fit a small sphere RGD on the branching process (300 samples), pick a mixture of its
    latents by the validation latents' likelihood, generate as many samples as the test set
    holds and score them against it."""
    X, _ = simulate_branching_diffusion(dim=50, depth=3, n_siblings=25, seed=0)
    order = np.random.default_rng(0).permutation(len(X))
    train, val, test = X[order[:250]], X[order[250:300]], X[order[300:]]
    model = R.RiemannianDecoder(manifold="sphere", latent_dim=2, epochs=15, min_epochs=0,
                                hidden=(16, 32), verbose=False, seed=0).fit(train, X_val=val)
    mixture, table = select_mixture(model.latents_, model.val_latents_, model.manifold_,
                                    components=(1, 2, 4), seed=0)
    assert len(table) == 3 and np.isfinite(table["heldout_loglik"]).all()
    generated = generate(model, mixture, n=len(test), seed=0, X_train=train)
    assert generated.shape == test.shape and np.isfinite(generated).all()
    mean, std = discrimination_accuracy(test, generated)
    assert 0.0 <= mean <= 1.0 and math.isfinite(std)
    table = generation_table({"RGD sphere": (test, generated)})
    assert table.loc[0, "discrimination_accuracy_mean"] == pytest.approx(mean)
    print(f"end-to-end discrimination accuracy {mean:.3f} ± {std:.3f}")


def test_discrimination_study_samples_each_model_from_its_own_source(xgboost):
    from rgdkit.experiments.generation_study import discrimination_study, latent_source

    X, _ = simulate_branching_diffusion(dim=20, depth=3, n_siblings=25, seed=0)
    train, val, test = X[:250], X[250:300], X[300:]
    rgd = R.RiemannianDecoder(manifold="sphere", latent_dim=2, epochs=5, min_epochs=0,
                              hidden=(16,), verbose=False, seed=0).fit(train, X_val=val)
    svae = SphericalVAE(epochs=2, hidden=(8,), verbose=False).fit(train)
    pvae = PoincareVAE(epochs=2, hidden=(8,), verbose=False).fit(train)
    table = discrimination_study({"RGD": rgd, "S-VAE": svae, "P-VAE": pvae}, test, train)
    assert table["model"].tolist() == ["RGD", "S-VAE", "P-VAE"]
    assert table["latents"].tolist()[1:] == ["uniform prior", "wrapped normal prior"]
    assert table["latents"][0].startswith("mixture of ")
    assert table["discrimination_accuracy_mean"].between(0, 1).all()
    no_val = R.RiemannianDecoder(manifold="sphere", epochs=2, min_epochs=0, hidden=(8,),
                                 verbose=False).fit(train)
    with pytest.raises(ValueError, match="no validation latents.*X_val="):
        latent_source(no_val)
