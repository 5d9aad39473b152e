"""FaCe (reconstruction): both terms' definitions, bounds, the fairness term's response, its NC1 link."""

import numpy as np
import pytest

from tests.metric_calls import gaussian_classes
from transvis.metrics import compute, get_spec


def test_terms_follow_their_definitions():
    x, y = gaussian_classes([30, 45, 20, 60], 10, seed=3, separation=0.8)
    result = compute("face", x, y, fairness_weight=0.5)
    t = result.trace
    n_classes = 4
    nc1 = compute("nc", x, y).trace["nc1"]
    np.testing.assert_allclose(t["nc1"], nc1, rtol=1e-12)
    # variance_collapse = r / (r + C·NC1) with r = C − 1 here.
    np.testing.assert_allclose(t["variance_collapse"], 3 / (3 + n_classes * nc1), rtol=1e-12)
    kappa = t["class_separation"] / (t["class_separation"] + t["class_spread"])
    np.testing.assert_allclose(t["class_collapse"], kappa)
    np.testing.assert_allclose(t["fairness"], -2 * kappa.std())
    np.testing.assert_allclose(result.score, t["variance_collapse"] + 0.5 * t["fairness"])
    # Whitened separations average to the rank of Σ_B; prior-weighted spreads to C·NC1.
    np.testing.assert_allclose(t["class_separation"].mean(), 3.0, rtol=1e-10)
    np.testing.assert_allclose(t["class_spread"] @ np.bincount(y) / y.size, n_classes * nc1, rtol=1e-10)
    assert t["reconstruction"] is True


def test_bounds_and_the_perfectly_collapsed_limit():
    y = np.repeat(np.arange(3), [4, 6, 5])
    means = np.random.default_rng(0).normal(size=(3, 6))
    collapsed = compute("face", means[y], y)
    assert collapsed.score == pytest.approx(1.0)
    x, y2 = gaussian_classes([20, 20, 20], 6, seed=1, separation=0.05)
    overlapping = compute("face", x, y2)
    assert -1.0 <= overlapping.score < 0.5
    assert 0.0 <= overlapping.trace["variance_collapse"] <= 1.0 and -1.0 <= overlapping.trace["fairness"] <= 0.0


def test_fairness_penalises_one_class_that_has_not_collapsed():
    rng = np.random.default_rng(2)
    means = rng.normal(size=(4, 8)) * 4
    y = np.repeat(np.arange(4), 40)
    noise = rng.normal(size=(160, 8))
    fair = means[y] + 0.5 * noise
    unfair = means[y] + np.where(y == 2, 3.0, 0.3)[:, None] * noise  # class 2 stays spread out
    f, u = compute("face", fair, y).trace, compute("face", unfair, y).trace
    assert u["fairness"] < f["fairness"] - 0.2
    assert u["least_collapsed_class"] == 2
    assert u["class_collapse"][2] < np.delete(u["class_collapse"], 2).min()


def test_fairness_weight_zero_leaves_the_variance_term():
    x, y = gaussian_classes([15, 25, 35], 5, seed=4, separation=0.7)
    result = compute("face", x, y, fairness_weight=0.0)
    assert result.score == result.trace["variance_collapse"]
    with pytest.raises(ValueError, match="fairness_weight"):
        compute("face", x, y, fairness_weight=-1.0)


def test_coinciding_means_score_zero():
    x = np.random.default_rng(5).normal(size=(30, 3))
    y = np.arange(30) % 3
    x = x - np.stack([x[y == c].mean(0) for c in range(3)])[y]
    assert compute("face", x, y).score == 0.0


def test_registry_entry_says_reconstruction():
    spec = get_spec("face")
    assert "RECONSTRUCTION" in spec.summary and spec.scale_invariant
    assert "reconstruction" in spec.fn.__doc__.lower()


def test_torch_backend_equals_numpy():
    x, y = gaussian_classes([30, 40, 35], 90, seed=9, separation=0.3)
    a = compute("face", x, y, backend="numpy").score
    b = compute("face", x, y, backend="torch").score
    np.testing.assert_allclose(b, a, rtol=1e-9)
