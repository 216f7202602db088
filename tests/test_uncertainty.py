"""The pullback metric with its uncertainty term: σ(z) grows away from the training latents, the
metric with it is the mean term plus a positive semi-definite term, and it grows where there
are no data."""
import numpy as np
import pytest
import torch

import rgd_utils as R
from rgdkit.geometry import pullback
from rgdkit.geometry.uncertainty import fit_variance_head, with_uncertainty


@pytest.fixture(scope="module")
def fitted():
    """H² latents of two clusters of data, and the model."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(60, 4)) + 3, rng.normal(size=(60, 4)) - 3])
    model = R.RiemannianDecoder(manifold="lorentz", hidden=(16,), epochs=60, min_epochs=0,
                                verbose=False).fit(X.astype(np.float32))
    return model, X


def ray(model, length=4.0, steps=5):
    """Points from the training latents' centre outwards along one tangent direction."""
    manifold = model.manifold_
    z0 = manifold.projx(torch.as_tensor(model.latents_).mean(0))
    direction = manifold.proju(z0, torch.tensor([0.0, 1.0, 0.3], dtype=z0.dtype))
    direction = direction / manifold.norm(direction)
    return torch.stack([manifold.expmap(z0, t * direction) for t in np.linspace(0, length, steps)])


def test_sigma_grows_away_from_the_training_latents(fitted):
    model, X = fitted
    head = fit_variance_head(model, X, n_centres=8, epochs=300)
    Z = torch.as_tensor(model.latents_)
    far = ray(model, length=6.0)[-1:]
    assert head(far).mean() > 3 * head(Z).mean()
    # along a ray from the data's centre, σ ends far above where it starts
    sigma = head(ray(model, length=6.0, steps=7)).mean(-1)
    assert sigma[-1] > 5 * sigma[0]


def test_sigma_near_the_data_matches_the_residuals(fitted):
    model, X = fitted
    head = fit_variance_head(model, X, n_centres=8, epochs=400)
    Z = torch.as_tensor(model.latents_)
    with torch.no_grad():
        residual = X - model.decode(Z).double().numpy()
    rms = np.sqrt((residual ** 2).mean())
    fitted_sigma = float(head(Z).square().mean().sqrt())
    assert 0.5 * rms < fitted_sigma < 2 * rms


def test_the_metric_with_uncertainty_adds_a_positive_term(fitted):
    model, X = fitted
    head = fit_variance_head(model, X, n_centres=8, epochs=300)
    points = ray(model, length=5.0)
    mean_metric = pullback.pullback_metric(model, points, model.manifold_)
    full_metric = pullback.pullback_metric(with_uncertainty(model, head), points, model.manifold_)
    difference = torch.linalg.eigvalsh(full_metric - mean_metric)
    assert (difference > -1e-8).all()
    mean_volume = pullback.volume_element(model, points, model.manifold_)
    full_volume = pullback.volume_element(with_uncertainty(model, head), points, model.manifold_)
    assert (full_volume >= mean_volume - 1e-8).all()



def test_the_uncertainty_term_weighs_most_in_the_gap_between_clusters(fitted):
    model, X = fitted
    head = fit_variance_head(model, X, n_centres=8, epochs=300)
    manifold, Z = model.manifold_, torch.as_tensor(model.latents_)
    # a typical latent of each cluster (the data's first and second halves) and the midpoint
    a, b = (manifold.projx(Z[rows].median(0).values) for rows in (slice(0, 60), slice(60, 120)))
    middle = manifold.expmap(a, 0.5 * manifold.logmap(a, b))
    points = torch.stack([a, middle, b])
    share = (pullback.volume_element(with_uncertainty(model, head), points, manifold)
             / pullback.volume_element(model, points, manifold))
    assert share[1] > 1.5 * max(share[0], share[2])


def test_a_binary_model_has_no_variance_head():
    X = (np.random.default_rng(0).random((30, 5)) < 0.3).astype(np.float32)
    model = R.RiemannianDecoder(manifold="lorentz", loss="bce", hidden=(8,), epochs=2,
                                verbose=False).fit(X)
    with pytest.raises(ValueError, match="loss='bce'"):
        fit_variance_head(model, X)


def test_data_and_latents_of_different_lengths_are_refused(fitted):
    model, X = fitted
    with pytest.raises(ValueError, match="rows"):
        fit_variance_head(model, X[:10])


def test_share_far_from_data_sees_the_gap_only():
    from rgdkit.geometry.uncertainty import share_far_from_data

    manifold = R.make_manifold("lorentz", 2)
    origin = R.manifold_origin(manifold, 2)
    along = lambda t: manifold.expmap(origin, torch.tensor([0.0, t, 0.0], dtype=torch.float64))
    cluster_a = torch.stack([along(t) for t in np.linspace(0.0, 1.0, 11)])
    cluster_b = torch.stack([along(t) for t in np.linspace(3.0, 4.0, 11)])
    Z = torch.cat([cluster_a, cluster_b])
    through_gap = torch.stack([along(t) for t in np.linspace(0.0, 4.0, 41)])
    assert share_far_from_data(cluster_a, Z, manifold, radius=0.3) == 0.0
    # the gap (1, 3) lies more than 0.3 from both clusters over (1.3, 2.7): 1.4 of 4
    assert share_far_from_data(through_gap, Z, manifold, radius=0.3) == pytest.approx(1.4 / 4,
                                                                                        abs=0.05)
