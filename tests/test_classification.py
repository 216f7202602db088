"""Downstream classification of latents: features, targets, cross-validated accuracy, table."""
import geoopt
import numpy as np
import pandas as pd
import pytest
import torch

import rgd_utils as R
from rgdkit.data import hmtdna
from rgdkit.data.phylotree import load_phylotree
from rgdkit.metrics import classification as C


def clusters(n_per_class=60, n_classes=4, dim=2, spread=0.05, seed=0):
    """Well separated Gaussian clusters: centres on a circle of radius 1, tiny spread."""
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(n_classes) / n_classes
    centres = np.zeros((n_classes, dim))
    centres[:, 0], centres[:, 1] = np.cos(angles), np.sin(angles)
    labels = np.repeat(np.array([f"c{i}" for i in range(n_classes)]), n_per_class)
    X = np.repeat(centres, n_per_class, axis=0) + spread * rng.normal(size=(len(labels), dim))
    return X, labels


def lorentz_points(n=40, k=2.0, seed=0):
    """Points on Lorentz(k) (H²) up to hyperbolic radius ~4, by the exponential map at 0."""
    manifold = R.make_manifold("lorentz", 2, curvature=k)
    v = torch.as_tensor(np.random.default_rng(seed).normal(size=(n, 2)) * 1.5)
    tangent = torch.cat([torch.zeros(n, 1, dtype=v.dtype), v], dim=1)
    return manifold.expmap0(tangent), manifold


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------
def test_lorentz_features_are_the_isometric_poincare_ball():
    k = 2.0
    Z, manifold = lorentz_points(k=k)
    P = C.latent_features(Z, manifold)
    assert P.shape == (len(Z), 2) and P.dtype == np.float64
    assert (np.linalg.norm(P, axis=1) < np.sqrt(k)).all()  # inside the ball of radius sqrt(k)
    ball = geoopt.PoincareBall(c=1 / k)
    Pt = torch.as_tensor(P)
    d_ball = ball.dist(Pt[:, None], Pt[None]).numpy()
    d_lorentz = manifold.dist(Z[:, None], Z[None]).numpy()
    iu = np.triu_indices(len(Z), 1)
    np.testing.assert_allclose(d_ball[iu], d_lorentz[iu], rtol=1e-6, atol=1e-6)
    # hence the ordering of distances is the same
    np.testing.assert_array_equal(np.argsort(d_ball[iu]), np.argsort(d_lorentz[iu]))
    # and the same as geoopt's own map, scaled from the unit ball to radius sqrt(k)
    from geoopt.manifolds.lorentz import math as lorentz_math
    unit = lorentz_math.lorentz_to_poincare(Z, torch.tensor(k, dtype=Z.dtype)).numpy()
    np.testing.assert_allclose(P, np.sqrt(k) * unit, rtol=1e-12)


def test_other_manifolds_give_raw_coordinates_and_off_manifold_points_raise():
    sphere = R.make_manifold("sphere", 2)
    Z = sphere.projx(torch.randn(10, 3, dtype=torch.float64))
    np.testing.assert_array_equal(C.latent_features(Z, sphere), Z.numpy())
    X = np.random.default_rng(0).normal(size=(7, 2))
    np.testing.assert_array_equal(C.latent_features(X, "euclidean"), X)
    with pytest.raises(ValueError, match="not on the Sphere"):
        C.latent_features(2 * Z, sphere)
    Z_lorentz, lorentz = lorentz_points()
    with pytest.raises(ValueError, match="not on the Lorentz"):
        C.latent_features(Z_lorentz * 1.1, lorentz)


# --------------------------------------------------------------------------------------------
# Accuracy
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("classifier", C.CLASSIFIERS)
def test_separated_clusters_are_classified(classifier):
    X, y = clusters()
    accuracy = C.cross_validated_accuracy(X, y, classifier)
    assert accuracy.mean > 0.95 and len(accuracy.per_fold) == 5
    assert accuracy.std == pytest.approx(np.std(accuracy.per_fold))


@pytest.mark.parametrize("classifier", C.CLASSIFIERS)
def test_shuffled_labels_give_chance(classifier):
    # 4 balanced classes of 100: chance is 0.25 and the accuracy over all 400 held-out
    # predictions has a binomial standard error sqrt(0.25 * 0.75 / 400) = 0.022 under the null,
    # so 0.1 is a margin of ~4.5 standard errors (a false failure about once in 10^5 seeds)
    X, y = clusters(n_per_class=100)
    shuffled = np.random.default_rng(1).permutation(y)
    accuracy = C.cross_validated_accuracy(X, shuffled, classifier)
    assert abs(accuracy.mean - 0.25) < 0.1


def test_accuracy_is_deterministic_for_a_seed_and_accepts_tensors():
    X, y = clusters(spread=0.6)  # overlapping clusters, so the folds matter
    first = C.cross_validated_accuracy(torch.as_tensor(X), list(y), "xgboost", seed=3)
    again = C.cross_validated_accuracy(X, y, "xgboost", seed=3)
    np.testing.assert_array_equal(first.per_fold, again.per_fold)


def test_bad_inputs_raise_clear_errors():
    X, y = clusters()
    with pytest.raises(ValueError, match="unknown classifier 'forest'"):
        C.cross_validated_accuracy(X, y, "forest")
    with pytest.raises(ValueError, match="240 feature rows but 239 labels"):
        C.cross_validated_accuracy(X, y[:-1], "logistic")
    few = y.astype(object)
    few[:3] = "rare"
    with pytest.raises(ValueError, match=r"fewer members than the 5 folds \(\{'rare': 3\}\)"):
        C.cross_validated_accuracy(X, few, "logistic")
    bad = X.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in 1 rows \(first: \[5\]\)"):
        C.cross_validated_accuracy(bad, y, "logistic")
    missing = y.astype(object)
    missing[0] = None
    with pytest.raises(ValueError, match="1 labels are missing"):
        C.cross_validated_accuracy(X, missing, "logistic")
    with pytest.raises(ValueError, match="at least two classes"):
        C.cross_validated_accuracy(X, np.full(len(X), "a"), "logistic")
    with pytest.raises(ValueError, match="unknown classifiers"):
        C.classification_table({"m": (X, "euclidean")}, {"t": y}, classifiers=("svm",))


# --------------------------------------------------------------------------------------------
# Table and targets
# --------------------------------------------------------------------------------------------
def test_table_schema_and_missing_labels_dropped_per_target():
    X, y = clusters()
    Z_lorentz = R.make_manifold("lorentz", 2).expmap0(
        torch.cat([torch.zeros(len(X), 1, dtype=torch.float64), torch.as_tensor(X)], dim=1))
    partial = y.astype(object)
    partial[y == "c3"] = None  # this target leaves a class out
    table = C.classification_table({"euclid": (X, "euclidean"),
                                    "hyper": (Z_lorentz, R.make_manifold("lorentz", 2))},
                                   {"cluster": y, "partial": partial})
    assert list(table.columns) == C.TABLE_COLUMNS
    assert len(table) == 2 * 2 * 2
    assert table[["model", "target", "classifier"]].drop_duplicates().shape[0] == 8
    assert (table["accuracy_mean"] > 0.95).all() and (table["accuracy_std"] >= 0).all()
    with pytest.raises(ValueError, match="target 'short' has 10 labels but model 'euclid'"):
        C.classification_table({"euclid": (X, "euclidean")}, {"short": y[:10]})


def test_targets_from_a_small_table(tmp_path):
    tree_xml = """<phylotree><haplogroup name="root">
      <haplogroup name="A"><haplogroup name="A1"><haplogroup name="A1a"/></haplogroup></haplogroup>
      <haplogroup name="B"/></haplogroup></phylotree>"""
    (tmp_path / "t.xml").write_text(tree_xml)
    tree = load_phylotree(tmp_path / "t.xml")
    table = pd.DataFrame({"Haplogroup": ["A1a"] * 3 + ["A1+16189"] * 3 + ["B"] * 3 + ["Z9"],
                          "Country": ["Finland"] * 4 + ["Nigeria"] * 4 + ["", "Atlantis"]})
    targets = C.classification_targets(table, tree, min_class_size=3, depth_bins=2,
                                       verbose=False)
    assert set(targets) == {"first_letter", "region", "continent", "depth_bin"}
    assert all(len(v) == len(table) for v in targets.values())
    assert targets["first_letter"].tolist() == ["A"] * 6 + ["B"] * 3 + [None]  # Z: one member
    assert targets["continent"].tolist() == ["Europe"] * 4 + ["Africa"] * 4 + [None, None]
    np.testing.assert_array_equal(C.haplogroup_depths(table["Haplogroup"], tree),
                                  [3, 3, 3, 2, 2, 2, 1, 1, 1, np.nan])  # "+" suffix: A1
    # two quantile bins of the depths 3, 3, 3, 2, 2, 2, 1, 1, 1 split at the median 2
    assert targets["depth_bin"].tolist() == ["depth 3"] * 3 + ["depth 1-2"] * 6 + [None]


def test_rare_classes_are_dropped():
    labels = ["a"] * 20 + ["b"] * 19 + [None, float("nan")]
    kept = C.drop_rare_classes(labels)
    assert kept.tolist() == ["a"] * 20 + [None] * 21


# --------------------------------------------------------------------------------------------
# Real data: the 1000 Genomes report
# --------------------------------------------------------------------------------------------
def test_first_letter_is_predicted_from_variant_pcs_of_1000_genomes(shared_data):
    from sklearn.decomposition import PCA

    table = hmtdna.load_variant_table(shared_data / "hmtdna" / "1kgp_rcrs_haplogrep.txt.gz")
    table = hmtdna.sample_genomes(table, 1000, seed=0)
    X, _, _ = hmtdna.one_hot_variants(table, min_frequency=0.01)
    features = PCA(5, random_state=0).fit_transform(X.astype(np.float64))
    labels = C.classification_targets(table, verbose=False)["first_letter"]
    keep = np.array([v is not None for v in labels])
    majority = pd.Series(labels[keep]).value_counts(normalize=True).iloc[0]
    for classifier in C.CLASSIFIERS:
        accuracy = C.cross_validated_accuracy(features[keep], labels[keep], classifier)
        print(f"1000 Genomes, {keep.sum()} genomes, 5 variant PCs, first letter: {classifier} "
              f"{accuracy.mean:.3f} ± {accuracy.std:.3f} (majority class {majority:.3f})")
        assert accuracy.mean > majority + 0.4
