"""Neural-collapse statistics: the reference definitions in D×D form, a perfect simplex ETF, the NC3 stand-in."""

import numpy as np
import pytest
import scipy.spatial.distance

from tests.metric_calls import gaussian_classes
from transvis.metrics import compute


def _reference(x, y):
    """The refvectors README definitions, computed the slow D×D way."""
    n_classes = y.max() + 1
    means = np.stack([x[y == c].mean(0) for c in range(n_classes)])
    centred = means - means.mean(0)
    resid = x - means[y]
    sw = resid.T @ resid / len(y)
    sb = centred.T @ centred / n_classes
    w, v = np.linalg.eigh(sb)
    w, v = w[::-1][: n_classes - 1], v[:, ::-1][:, : n_classes - 1]
    nc1 = np.trace(sw @ (v / w) @ v.T) / n_classes
    norms = np.linalg.norm(centred, axis=1)
    cos = (centred / norms[:, None]) @ (centred / norms[:, None]).T
    upper = cos[np.triu_indices(n_classes, 1)]
    off = cos[~np.eye(n_classes, dtype=bool)]
    nearest = scipy.spatial.distance.cdist(x, means).argmin(1)
    return {
        "nc1": nc1,
        "nc2_equinorm": norms.std(ddof=1) / norms.mean(),
        "nc2_equiangular": upper.std(),
        "nc2_maxangle": np.abs(off + 1 / (n_classes - 1)).mean(),
        "nc4_ncc_accuracy": np.mean(nearest == y),
    }


@pytest.mark.parametrize("counts,dims", [([30, 45, 20, 60, 25], 12), ([6, 8, 7], 200)])
def test_statistics_match_the_reference_definitions(counts, dims):
    x, y = gaussian_classes(counts, dims, seed=2, separation=0.6)
    trace = compute("nc", x, y).trace
    for key, value in _reference(x, y).items():
        np.testing.assert_allclose(trace[key], value, rtol=1e-9, err_msg=key)


def test_per_class_breakdowns_add_up():
    x, y = gaussian_classes([30, 45, 20, 60], 10, seed=3, separation=0.8)
    result = compute("nc", x, y)
    t = result.trace
    np.testing.assert_allclose(t["nc1_per_class"].sum(), t["nc1"], rtol=1e-12)
    np.testing.assert_allclose(t["nc4_per_class"] @ np.bincount(y) / y.size, t["nc4_ncc_accuracy"])
    np.testing.assert_allclose(t["mean_gram"], t["mean_gram"].T)
    np.testing.assert_allclose(np.diag(t["mean_gram"]), 1.0)
    off = t["mean_gram"] - np.eye(4)
    np.testing.assert_allclose(t["per_class_mean_cosine"], off.sum(1) / 3)
    np.testing.assert_allclose(t["etf_distance"], np.linalg.norm(t["mean_gram"] - t["etf_gram"]))
    assert result.score == pytest.approx(1 / (1 + t["nc1"]))


def _simplex_etf(n_classes, dims):
    basis = np.linalg.qr(np.random.default_rng(0).normal(size=(dims, n_classes)))[0]
    return (np.eye(n_classes) - 1 / n_classes) @ basis.T * 5.0  # [C, D], centred, equal norms and angles


def test_a_perfect_simplex_etf_is_fully_collapsed():
    means = _simplex_etf(4, 7) + 3.0  # an offset must not matter
    y = np.repeat(np.arange(4), [5, 9, 6, 8])
    result = compute("nc", means[y], y)
    t = result.trace
    assert t["nc1"] < 1e-25 and result.score == pytest.approx(1.0)
    for key in ("nc2_equinorm", "nc2_equiangular", "nc2_maxangle", "etf_distance"):
        assert abs(t[key]) < 1e-12, key
    np.testing.assert_allclose(t["etf_gram"], np.where(np.eye(4) == 1, 1.0, -1 / 3))
    assert t["nc4_ncc_accuracy"] == 1.0 and t["nc4_classifier_mismatch"] == 0.0


def test_nc3_is_zero_when_the_within_class_covariance_is_isotropic():
    # Each class: μ_c ± s·e_d for every axis d, so Σ_W = (s²/D)·I exactly and LDA weights ∝ M̃.
    means = np.random.default_rng(1).normal(size=(3, 5)) * 4
    offsets = np.vstack([np.eye(5), -np.eye(5)]) * 0.7
    x = np.vstack([m + offsets for m in means])
    y = np.repeat(np.arange(3), 10)
    trace = compute("nc", x, y).trace
    assert trace["nc3"] < 1e-20
    assert "stand-in" in trace["nc3_classifier"]


def test_nc3_grows_when_the_within_class_covariance_is_anisotropic():
    x, y = gaussian_classes([40, 40, 40], 6, seed=4, separation=1.0)
    stretched = x * np.array([1.0, 1.0, 1.0, 1.0, 1.0, 30.0])
    assert compute("nc", stretched, y).trace["nc3"] > compute("nc", x, y).trace["nc3"] + 0.05


def test_nc3_can_be_skipped():
    x, y = gaussian_classes([10, 10], 4, seed=5)
    trace = compute("nc", x, y, nc3_classifier=None).trace
    assert np.isnan(trace["nc3"]) and trace["nc3_classifier"] is None
    with pytest.raises(ValueError, match="nc3_classifier"):
        compute("nc", x, y, nc3_classifier="logistic")


def test_coinciding_class_means():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(90, 4))
    y = np.arange(90) % 3
    x = x - np.stack([x[y == c].mean(0) for c in range(3)])[y]  # every class mean at the origin
    result = compute("nc", x, y)
    assert result.trace["nc1"] == np.inf and result.score == 0.0
    # Two of three means coincide: Σ_B has rank 1 and is pseudo-inverted, not divided by round-off.
    x2 = x + np.array([[0, 0, 0, 0], [0, 0, 0, 0], [3.0, 0, 0, 0]])[y]
    trace = compute("nc", x2, y).trace
    assert trace["between_eigenvalues"].size == 1 and np.isfinite(trace["nc1"])


def test_torch_backend_equals_numpy():
    x, y = gaussian_classes([30, 40, 35], 90, seed=9, separation=0.3)
    a = compute("nc", x, y, backend="numpy").trace
    b = compute("nc", x, y, backend="torch").trace
    for key in ("nc1", "nc2_equinorm", "nc2_equiangular", "nc2_maxangle", "nc3", "nc4_ncc_accuracy"):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-9, err_msg=key)


def test_stand_in_shrinkage_is_ledoit_wolf_of_the_within_class_residuals():
    from sklearn.covariance import ledoit_wolf_shrinkage

    x, y = gaussian_classes([6, 7, 8], 50, seed=1)
    means = np.stack([x[y == c].mean(0) for c in range(3)])
    expected = ledoit_wolf_shrinkage(x - means[y], assume_centered=True)
    np.testing.assert_allclose(compute("nc", x, y).trace["lda_shrinkage"], expected, rtol=1e-10)
