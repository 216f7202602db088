"""The branching notebook's pullback study with the uncertainty term
(rgdkit.experiments.pullback_study): what "near the data" means, the pairs, and a table whose three
distances are scored on the same pairs."""
import geoopt
import numpy as np
import pytest
import torch

import rgd_utils as R
from rgdkit.experiments import pullback_study
from rgdkit.geometry.uncertainty import fit_variance_head
from rgdkit.metrics import distance_correlation


def test_near_radius_is_a_quantile_of_nearest_neighbour_distances():
    Z = torch.tensor([[0.0], [1.0], [3.0], [7.0]], dtype=torch.float64)  # nearest: 1, 1, 2, 4
    manifold = geoopt.Euclidean(ndim=1)
    assert pullback_study.near_radius(Z, manifold, quantile=1.0) == pytest.approx(4.0)
    assert pullback_study.near_radius(Z, manifold, quantile=0.5, chunk_size=3) == pytest.approx(1.5)


def test_near_radius_on_the_hyperboloid_matches_the_distance_matrix():
    manifold = geoopt.Lorentz(k=5.0)
    tangent = torch.randn(40, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    Z = manifold.expmap0(torch.cat([torch.zeros(40, 1, dtype=torch.float64), tangent], 1))
    D = np.array(manifold.dist(Z[:, None], Z[None]))
    np.fill_diagonal(D, np.inf)
    expected = np.quantile(D.min(1), 0.9)
    assert pullback_study.near_radius(Z, manifold, quantile=0.9, chunk_size=7) == pytest.approx(expected)


@pytest.mark.parametrize("Z, quantile, message", [
    (np.zeros((1, 2)), 0.99, "at least 2 latents"),
    (np.zeros((3, 2)), 1.5, "quantile must lie in"),
])
def test_near_radius_refuses_bad_input(Z, quantile, message):
    with pytest.raises(ValueError, match=message):
        pullback_study.near_radius(Z, geoopt.Euclidean(ndim=1), quantile=quantile)


def test_random_pairs_are_distinct_ordered_and_capped():
    pairs = pullback_study.random_pairs(10, 12, seed=1)
    assert pairs.shape == (12, 2) and (pairs[:, 0] < pairs[:, 1]).all() and pairs.max() < 10
    assert len({tuple(p) for p in pairs}) == 12
    assert len(pullback_study.random_pairs(4, 100)) == 6  # all pairs of 4 points
    with pytest.raises(ValueError, match="at least 2 points"):
        pullback_study.random_pairs(1, 3)


@pytest.fixture(scope="module")
def fitted():
    """A small H² model of two clusters of data, its variance head and a scored subsample."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(40, 4)) + 3, rng.normal(size=(40, 4)) - 3]).astype(np.float32)
    model = R.RiemannianDecoder(manifold="lorentz", hidden=(16,), epochs=40, min_epochs=0,
                                verbose=False).fit(X)
    head = fit_variance_head(model, X, n_centres=6, epochs=100)
    groups = np.repeat([0, 1], 40)
    reference = lambda idx: (groups[idx][:, None] != groups[idx][None]).astype(float)
    scores, keep, lengths = pullback_study.pullback_scores(
        model, model.latents_, np.arange(80), reference, max_points=8, n_points=5, steps=3,
        progress=False)
    return model, head, reference, scores, keep, lengths


def study(fitted, radius, **kw):
    model, head, reference, _, keep, lengths = fitted
    pairs = pullback_study.random_pairs(len(keep), 3)
    return pullback_study.uncertainty_study(model, head, model.latents_, keep, reference(keep),
                                            lengths, radius, pairs, n_points=5, steps=3, **kw)


def test_the_three_distances_are_scored_on_the_same_pairs(fitted):
    model, _, reference, scores, keep, lengths = fitted
    table = study(fitted, radius=1.0)
    assert list(table.index) == list(pullback_study.CURVE_KINDS)
    manifold_row, pullback_row = table.loc["manifold geodesic"], table.loc["pullback geodesic"]
    expected = distance_correlation(model.latents_[keep], model.manifold_, reference(keep))
    assert (manifold_row.pearson, manifold_row.spearman) == pytest.approx(expected)
    assert pullback_row.pearson == pytest.approx(scores["pullback_pearson"])
    assert (table["n_points"] == len(keep)).all() and (table["n_share_pairs"] == 3).all()
    # the uncertainty term changes the metric, hence the lengths and their correlation
    assert table.loc["pullback geodesic with uncertainty"].pearson != pytest.approx(pullback_row.pearson)


def test_the_share_far_from_data_follows_the_radius(fitted):
    everywhere_near = study(fitted, radius=1e6)["mean_share_far_from_data"]
    nowhere_near = study(fitted, radius=0.0)["mean_share_far_from_data"]
    assert (everywhere_near == 0).all()
    assert nowhere_near.to_list() == pytest.approx([1.0] * 3)


def test_lengths_of_other_pairs_are_refused(fitted):
    model, head, reference, _, keep, lengths = fitted
    with pytest.raises(ValueError, match="pass pullback_scores' lengths with its keep"):
        pullback_study.uncertainty_study(model, head, model.latents_, keep, reference(keep),
                                         lengths[:-1], 1.0, [(0, 1)], n_points=5, steps=3)


def test_pair_table_uses_the_given_decode(fitted):
    model, head, *_ = fitted
    from rgdkit.geometry.uncertainty import with_uncertainty

    Z, pairs = model.latents_, [(0, 50)]
    plain, _, _ = pullback_study.geodesic_pair_table(model, Z, pairs, n_points=5, steps=0)
    uncertain, _, _ = pullback_study.geodesic_pair_table(model, Z, pairs, n_points=5, steps=0,
                                                         decode=with_uncertainty(model, head))
    # the same H² geodesic, longer under the metric with the uncertainty term added
    assert uncertain["manifold distance"][0] == pytest.approx(plain["manifold distance"][0])
    assert (uncertain["pullback length of the manifold geodesic"][0]
            > plain["pullback length of the manifold geodesic"][0])
