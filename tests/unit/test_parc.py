"""PARC: the official pipeline, the exact two-valued label RDM, stratified subsampling."""

import numpy as np
import pytest
import scipy.stats
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from tests.metric_calls import gaussian_classes
from transvis.metrics import compute
from transvis.metrics.parc import stratified_subsample


def _official_parc(x, y):
    """SFDA-repo PARC(n_dims=32) re-typed: randomized PCA, StandardScaler, corrcoef RDMs, spearmanr."""
    f = PCA(n_components=32, svd_solver="randomized", random_state=1919, iterated_power=1).fit_transform(x)
    f = StandardScaler().fit_transform(f)
    upper = np.triu_indices(len(y), 1)
    rdm_f = 1 - np.corrcoef(f)
    rdm_y = 1 - np.corrcoef(np.eye(y.max() + 1)[y])
    return scipy.stats.spearmanr(rdm_f[upper], rdm_y[upper])[0] * 100, rdm_f[upper]


def test_official_variant_reproduces_the_official_pipeline():
    x, y = gaussian_classes([40, 35, 45, 30, 50], 48, seed=2, separation=0.5)
    expected, _ = _official_parc(x, y)
    result = compute("parc", x, y, variant="official")
    np.testing.assert_allclose(result.score, expected, rtol=1e-9)
    assert result.variant == "official"


def test_exact_variant_is_spearman_with_the_same_class_indicator():
    x, y = gaussian_classes([40, 35, 45, 30, 50], 48, seed=2, separation=0.5)
    _, rdm_f = _official_parc(x, y)
    upper = np.triu_indices(len(y), 1)
    different = (y[upper[0]] != y[upper[1]]).astype(float)
    expected = scipy.stats.spearmanr(rdm_f, different)[0] * 100
    result = compute("parc", x, y)
    np.testing.assert_allclose(result.score, expected, rtol=1e-9)
    assert result.trace["n_used"] == y.size and not result.trace["subsampled"]
    assert result.trace["mean_within_dissimilarity"] < result.trace["mean_between_dissimilarity"]


def test_separation_raises_the_score():
    low = compute("parc", *gaussian_classes([30, 30, 30], 10, seed=4, separation=0.05)).score
    high = compute("parc", *gaussian_classes([30, 30, 30], 10, seed=4, separation=5.0)).score
    assert abs(low) < 10 and high > 40


def test_large_inputs_are_subsampled_stratified_and_deterministically():
    x, y = gaussian_classes([300, 100, 40], 8, seed=5)
    a = compute("parc", x, y, max_samples=110, seed=1)
    b = compute("parc", x, y, max_samples=110, seed=1)
    c = compute("parc", x, y, max_samples=110, seed=2)
    assert a.trace["subsampled"] and a.trace["n_used"] == 110
    assert a.score == b.score
    np.testing.assert_array_equal(a.trace["sample_indices"], b.trace["sample_indices"])
    assert not np.array_equal(a.trace["sample_indices"], c.trace["sample_indices"])
    kept = np.bincount(y[a.trace["sample_indices"]], minlength=3)
    np.testing.assert_array_equal(kept, [75, 25, 10])  # 110 · (300, 100, 40) / 440


def test_stratified_subsample_keeps_every_class():
    labels = np.repeat([0, 1, 2], [1000, 3, 1])
    rows = stratified_subsample(labels, 50, seed=0)
    assert rows.size == 50 and np.all(np.diff(rows) > 0)
    assert set(np.unique(labels[rows])) == {0, 1, 2}


def test_class_dissimilarity_trace():
    x, y = gaussian_classes([10, 12, 1], 6, seed=6)
    trace = compute("parc", x, y).trace
    block = trace["class_dissimilarity"]
    assert block.shape == (3, 3)
    np.testing.assert_allclose(block, block.T)
    assert np.isnan(block[2, 2])  # a single-sample class has no within-class pair
    assert np.all(np.isfinite(block[:2, :2]))


def test_features_without_variance_score_zero():
    assert compute("parc", np.ones((20, 5)), np.arange(20) % 4).score == 0.0


@pytest.mark.parametrize("bad", [{"variant": "fast"}, {"max_samples": 2}])
def test_bad_parameters_are_value_errors(bad):
    x, y = gaussian_classes([5, 5], 2, seed=0)
    with pytest.raises(ValueError):
        compute("parc", x, y, **bad)
