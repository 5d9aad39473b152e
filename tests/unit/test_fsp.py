"""FSP / Spread & Attract (Khoba et al., WACV 2025): the paper transforms' defining properties, the
official variant against a plain transcription of the released ``SA()``, and the wrapper contract."""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from tests.metric_calls import gaussian_classes
from transvis.metrics import ClassStats, compute, get_spec
from transvis.metrics.fsp import (
    attract_classes,
    fsp,
    gate,
    official_attract_displacement,
    official_pca,
    official_spread,
    spread_attract,
    spread_classes,
)


def _centres(x, y):
    return np.array([x[y == c].mean(axis=0) for c in range(y.max() + 1)])


def _rms_radius(x, y):
    return np.array([np.sqrt(((x[y == c] - x[y == c].mean(axis=0)) ** 2).sum(axis=1).mean())
                     for c in range(y.max() + 1)])


def _pair_distances(m):
    return np.linalg.norm(m[:, None] - m[None], axis=2)


# -- paper variant: the transforms -----------------------------------------------------------------
def test_spread_grows_radii_and_keeps_centres():
    x, y = gaussian_classes([10, 20, 15], 5, seed=1)
    out = spread_classes(x, y, 0.5)
    np.testing.assert_allclose(_centres(out, y), _centres(x, y), atol=1e-12)
    np.testing.assert_allclose(_rms_radius(out, y), 1.5 * _rms_radius(x, y), rtol=1e-12)
    np.testing.assert_array_equal(spread_classes(x, y, 0.0), x)
    collapsed = spread_classes(x, y, -1.0)
    np.testing.assert_allclose(collapsed, _centres(x, y)[y], atol=1e-12)
    with pytest.raises(ValueError, match=">= -1"):
        spread_classes(x, y, -2.0)


def test_attract_shrinks_centre_distances_and_keeps_offsets():
    x, y = gaussian_classes([10, 20, 15], 5, seed=2)
    out = attract_classes(x, y, 0.25)
    np.testing.assert_allclose(_pair_distances(_centres(out, y)), 0.75 * _pair_distances(_centres(x, y)), atol=1e-12)
    np.testing.assert_allclose(out - _centres(out, y)[y], x - _centres(x, y)[y], atol=1e-12)  # rigid per class
    np.testing.assert_allclose(out.mean(axis=0), x.mean(axis=0), atol=1e-12)
    np.testing.assert_array_equal(attract_classes(x, y, 0.0), x)
    together = _centres(attract_classes(x, y, 1.0), y)
    np.testing.assert_allclose(together, np.broadcast_to(x.mean(axis=0), together.shape), atol=1e-12)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        attract_classes(x, y, 1.5)


def test_spread_and_attract_commute():
    x, y = gaussian_classes([8, 12], 3, seed=3)
    a = spread_attract(x, y, 0.3, 0.2)
    b = spread_classes(attract_classes(x, y, 0.2), y, 0.3)
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_paper_variant_scores_perturbed_features_and_traces_geometry():
    x, y = gaussian_classes([20, 25, 30], 6, seed=4)
    result = compute("fsp", x, y, metric="sfda", spread=0.2, attract=0.3)
    assert result.variant == "paper"
    moved = spread_attract(x, y, 0.2, 0.3)
    assert result.score == pytest.approx(compute("sfda", moved, y).score, rel=1e-12)
    t = result.trace
    assert t["score_unperturbed"] == pytest.approx(compute("sfda", x, y).score, rel=1e-12)
    assert t["intra_class_spread_after"] == pytest.approx(1.2 * t["intra_class_spread_before"], rel=1e-12)
    assert t["mean_centre_distance_after"] == pytest.approx(0.7 * t["mean_centre_distance_before"], rel=1e-12)
    np.testing.assert_allclose(t["centres_after"], _centres(moved, y), atol=1e-12)
    priors = np.bincount(y) / len(y)
    assert t["intra_class_spread_before"] == pytest.approx(np.sqrt(priors @ _rms_radius(x, y) ** 2), rel=1e-12)
    assert t["gate_fired"] is None and t["space"] == "original"
    # The perturbation makes the task harder for a discriminability metric.
    assert result.score < t["score_unperturbed"]
    # Strength 0 is the identity.
    assert fsp(x, y, metric="sfda", spread=0.0, attract=0.0).score == pytest.approx(t["score_unperturbed"], rel=1e-12)


# -- official variant ----------------------------------------------------------------------------------
def _released_sa(x, y, wrapped, alpha=0.005, sigma=0.6):
    cov = np.cov(x.T, bias=True)
    top2 = np.sort(np.real(np.linalg.eig(cov)[0]))[::-1][:2]
    if not max(np.exp(-5 * top2.mean()), 1e-10) < 1e-9:
        return wrapped(x, y), False
    z = PCA(n_components=min(64, *x.shape), svd_solver="randomized", random_state=1919,
            iterated_power=1).fit_transform(x)
    c = y.max() + 1
    means = _centres(z, y)
    radii = np.array([np.sqrt(z[y == k].var(axis=0).sum()) for k in range(c)])
    delta = np.zeros_like(means)
    for i in range(c):
        for j in range(c):
            if i != j:
                diff = means[i] - means[j]
                dist = np.linalg.norm(diff)
                delta[i] += alpha * (dist - sigma * (radii[i] + radii[j])) * diff / dist
    return wrapped(z + delta[y], y), True


@pytest.mark.parametrize("scale,n_dims", [(0.2, 80), (20.0, 80), (20.0, 30)])
def test_official_matches_transcription(scale, n_dims):
    x, y = gaussian_classes([40, 40, 50], n_dims, seed=5, separation=1.0, scale=scale)
    expected, fired = _released_sa(x, y, lambda f, l: compute("sfda", f, l).score)
    result = compute("fsp", x, y, metric="sfda", variant="official")
    assert result.trace["gate_fired"] is fired
    assert fired is (scale > 1)
    assert result.score == pytest.approx(expected, rel=1e-9)
    cov_top2 = np.linalg.eigvalsh(np.cov(x.T, bias=True))[-2:].mean()
    assert result.trace["gate_top2_mean_eig"] == pytest.approx(cov_top2, rel=1e-10)
    if fired:
        assert result.trace["space"] == "pca" and result.trace["pca_dims"] == min(64, n_dims)
        assert result.trace["attract_amount"].shape == (3, 3)
    else:
        assert result.score == result.trace["score_unperturbed"]
        assert result.trace["attract_amount"] is None


def test_official_attract_pushes_separated_classes_apart():
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 1.0]])
    radii = np.array([1.0, 1.0, 1.0])
    shift, amount = official_attract_displacement(centres, radii, alpha=0.1, sigma=0.6)
    assert amount[0, 1] == pytest.approx(10.0 - 1.2) and amount[0, 2] == pytest.approx(1.0 - 1.2)
    moved = centres + shift
    assert np.linalg.norm(moved[0] - moved[1]) > 10.0  # "attract" separates the well-separated pair
    np.testing.assert_allclose(amount, amount.T)


def test_gate_and_pca_helpers():
    x, y = gaussian_classes([30, 30], 10, seed=6, scale=5.0)
    stats = ClassStats(x, y)
    fired, top2 = gate(stats)
    assert fired and top2 > np.log(1e9) / 5
    assert not gate(ClassStats(x / 10, y))[0]
    z = official_pca(x, 64)
    assert z.shape == (60, 10)  # capped at D (the released code would raise)
    small = official_pca(x[:8], 64)
    assert small.shape == (8, 8)


def test_pca64_variant():
    x, y = gaussian_classes([40, 40], 90, seed=7)
    result = compute("fsp", x, y, metric="hscore", variant="pca64")
    assert result.score == pytest.approx(compute("hscore", official_pca(x, 64), y).score, rel=1e-10)
    np.testing.assert_allclose(result.trace["centres_before"], result.trace["centres_after"])


def test_official_spread_guard():
    x = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0], [5.0, 5.0], [7.0, 5.0]])
    y = np.array([0, 0, 0, 1, 1])  # sample 2 sits exactly on its class centre
    out = official_spread(x, y, 1.0)
    np.testing.assert_allclose(out[:3], [[-1.0, 0.0], [3.0, 0.0], [1.0, 0.0]])
    assert np.all(np.isfinite(out))


def test_default_logme_and_official_logme_parameters():
    x, y = gaussian_classes([30, 30, 30], 70, seed=8, scale=20.0)
    expected, fired = _released_sa(
        x, y, lambda f, l: compute("logme", f, l, variant="official_fixed_point").score)
    assert fired
    result = fsp(x, y, variant="official", metric_params={"variant": "official_fixed_point"})
    assert result.trace["metric"] == "logme"
    assert result.score == pytest.approx(expected, rel=1e-9)
    assert get_spec("fsp").default_variant == "paper"


def test_errors_untouched_inputs_and_robustness():
    x, y = gaussian_classes([20, 20], 5, seed=9)
    with pytest.raises(ValueError, match="variant"):
        compute("fsp", x, y, variant="nope")
    with pytest.raises(ValueError, match="source model"):
        fsp(x, y, metric="leep")
    before = x.copy()
    for variant in ("paper", "official", "pca64"):
        fsp(x * 10, y, metric="sfda", variant=variant)
        fsp(x, y, metric="sfda", variant=variant)
    np.testing.assert_array_equal(x, before)
    cases = [
        gaussian_classes([5, 5, 5], 40, seed=1, scale=50.0),  # N < D, gate fires, PCA capped at N
        gaussian_classes([1, 30, 30], 5, seed=2),  # one-sample class
        gaussian_classes([25, 25], 5, seed=3, scale=1e6),
        gaussian_classes([25, 25], 5, seed=3, scale=1e-6),
    ]
    for features, labels in cases:
        features = features.copy()
        features[:, 1] = 0.0
        for variant in ("paper", "official", "pca64"):
            assert np.isfinite(fsp(features, labels, metric="sfda", variant=variant).score), variant
