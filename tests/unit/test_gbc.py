"""GBC: an independent loop transcription of stable_transfer's get_gbc_score, both Gaussian types, traces."""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from tests.metric_calls import gaussian_classes
from transvis.metrics import compute


def _gbc_by_loops(z, y, gaussian_type):
    """get_gbc_score re-typed with explicit pair loops (numpy instead of TensorFlow)."""
    stats = {}
    for c in np.unique(y):
        zc = z[y == c]
        stats[c] = (zc.mean(0), np.maximum(zc.var(0), 1e-4))
    total = 0.0
    for i in stats:
        for j in stats:
            if i == j:
                continue
            (mi, si), (mj, sj) = stats[i], stats[j]
            if gaussian_type == "spherical":
                si, sj = si.mean(), sj.mean()
            avg = (si + sj) / 2
            db = np.sum((mi - mj) ** 2 / avg) / 8 + 0.5 * (
                np.sum(np.log(avg)) - 0.5 * np.sum(np.log(si)) - 0.5 * np.sum(np.log(sj)))
            total += np.exp(-db)
    return -total


@pytest.mark.parametrize("gaussian_type", ["spherical", "diagonal"])
def test_matches_the_official_formula_after_a_full_pca(gaussian_type):
    x, y = gaussian_classes([40, 50, 45, 35], 80, seed=5, separation=0.4)
    z = PCA(n_components=64, svd_solver="full").fit_transform(x)
    result = compute("gbc", x, y, gaussian_type=gaussian_type)
    np.testing.assert_allclose(result.score, _gbc_by_loops(z, y, gaussian_type), rtol=1e-9)
    assert result.trace["pca_dims"] == 64


@pytest.mark.parametrize("gaussian_type", ["spherical", "diagonal"])
def test_without_pca_uses_the_raw_features(gaussian_type):
    x, y = gaussian_classes([20, 25, 30], 5, seed=6, separation=0.5)
    result = compute("gbc", x, y, gaussian_type=gaussian_type, pca_dims=None)
    np.testing.assert_allclose(result.score, _gbc_by_loops(x, y, gaussian_type), rtol=1e-10)


def test_trace_is_the_overlap_matrix_and_its_row_sums():
    x, y = gaussian_classes([20, 20, 20, 20], 6, seed=7, separation=0.6)
    result = compute("gbc", x, y)
    overlap = result.trace["overlap"]
    assert overlap.shape == (4, 4)
    np.testing.assert_allclose(overlap, overlap.T, rtol=1e-12)
    np.testing.assert_array_equal(np.diag(overlap), 0.0)
    assert np.all((overlap > 0) & (overlap <= 1) | np.eye(4, dtype=bool))
    np.testing.assert_allclose(result.trace["per_class_overlap"], overlap.sum(axis=1))
    np.testing.assert_allclose(result.score, -overlap.sum())
    np.testing.assert_allclose(np.exp(-result.trace["bhattacharyya_distance"])[~np.eye(4, dtype=bool)],
                               overlap[~np.eye(4, dtype=bool)])


def test_identical_classes_overlap_fully_and_separated_ones_not_at_all():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    same = compute("gbc", np.vstack([x, x]), np.repeat([0, 1], 60), pca_dims=None)
    assert same.score == pytest.approx(-2.0, rel=1e-12)  # BC = 1 for the one pair, counted twice
    far = compute("gbc", np.vstack([x, x + 1e3]), np.repeat([0, 1], 60), pca_dims=None)
    assert far.score == 0.0


def test_pca_dims_is_capped_by_the_data():
    x, y = gaussian_classes([5, 6, 7], 30, seed=8)
    assert compute("gbc", x, y).trace["pca_dims"] == 18  # min(64, N=18, D=30)


@pytest.mark.parametrize("bad", [{"gaussian_type": "full"}, {"pca_dims": 0}])
def test_bad_parameters_are_value_errors(bad):
    x, y = gaussian_classes([5, 5], 2, seed=0)
    with pytest.raises(ValueError):
        compute("gbc", x, y, **bad)


def test_torch_backend_equals_numpy():
    x, y = gaussian_classes([30, 40, 35], 90, seed=9, separation=0.3)
    a = compute("gbc", x, y, backend="numpy").score
    b = compute("gbc", x, y, backend="torch").score
    np.testing.assert_allclose(b, a, rtol=1e-9)
