"""𝒩LEEP: the seeded scikit-learn recipe, both variants, and the documented fallbacks."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from tests.metric_calls import gaussian_classes
from transvis.metrics import compute, get_spec


def _recipe(x, y, seed=0, ratio=5):
    """refvectors README "NLEEP" recipe, verbatim in scikit-learn calls."""
    z = PCA(n_components=0.8).fit(x).transform(x)
    prob = GaussianMixture(n_components=ratio * (y.max() + 1), random_state=seed).fit(z).predict_proba(z)
    pyz = np.stack([prob[y == c].sum(0) / len(y) for c in range(y.max() + 1)])
    py_x = prob @ (pyz / pyz.sum(0)).T
    own = py_x[np.arange(len(y)), y]
    return np.mean(np.log(own)), own.mean(), z.shape[1]


def test_matches_the_seeded_recipe_in_both_variants():
    x, y = gaussian_classes([30, 25, 35], 12, seed=4, separation=0.8)
    log_value, mean_prob, dims = _recipe(x, y, seed=3, ratio=2)
    res_log = compute("nleep", x, y, seed=3, component_ratio=2)
    res_off = compute("nleep", x, y, seed=3, component_ratio=2, variant="official")
    np.testing.assert_allclose(res_log.score, log_value, rtol=1e-10)
    np.testing.assert_allclose(res_off.score, mean_prob, rtol=1e-10)
    assert res_log.trace["pca_dims"] == dims
    assert res_log.trace["mean_prob"] == res_off.score and res_off.trace["mean_log_prob"] == res_log.score
    assert res_log.variant == "log" and res_off.variant == "official"
    cond = res_log.trace["component_to_class"]
    assert cond.shape == (3, 6)
    np.testing.assert_allclose(cond.sum(axis=0), 1.0)
    assert res_log.trace["fallback"] is None


def test_separated_classes_score_near_the_maximum():
    x, y = gaussian_classes([30, 30, 30], 6, seed=1, separation=8.0)
    result = compute("nleep", x, y, component_ratio=1)
    assert -1e-3 < result.score <= 1e-12
    assert result.trace["mean_prob"] > 0.999


def test_same_seed_same_value_and_the_spec_says_stochastic():
    x, y = gaussian_classes([20, 20, 20], 5, seed=2, separation=1.0)
    assert compute("nleep", x, y, seed=7).score == compute("nleep", x, y, seed=7).score
    spec = get_spec("nleep")
    assert spec.stochastic and spec.variants == ("log", "official") and spec.default_variant == "log"


def test_more_components_than_samples_falls_back_to_n():
    x, y = gaussian_classes([4, 4, 4], 3, seed=3)  # 5·3 = 15 components > 12 samples
    result = compute("nleep", x, y)
    assert result.trace["requested_components"] == 15
    assert result.trace["n_components"] == 12
    assert "lowered" in result.trace["fallback"]
    assert np.isfinite(result.score)


def test_features_without_variance_give_the_prior_entropy():
    y = np.array([0, 0, 0, 1, 1, 2])
    result = compute("nleep", np.full((6, 4), 2.5), y, component_ratio=1)
    assert result.trace["pca_dims"] == 1
    assert "no variance" in result.trace["fallback"]
    # Every sample is the same point, so P(y|x) is the class prior.
    prior = np.bincount(y) / y.size
    np.testing.assert_allclose(result.score, np.mean(np.log(prior[y])), rtol=1e-9)


@pytest.mark.parametrize("bad", [{"variant": "mean"}, {"component_ratio": 0}])
def test_bad_parameters_are_value_errors(bad):
    x, y = gaussian_classes([5, 5], 2, seed=0)
    with pytest.raises(ValueError):
        compute("nleep", x, y, **bad)
