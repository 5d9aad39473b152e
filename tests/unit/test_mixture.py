"""_mixture: NLEEP's PCA and Gaussian mixture agree with the scikit-learn calls they replace."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from transvis.metrics._mixture import fit_full_mixture, pca_scores
from transvis.metrics._stats import ClassStats


def _overlapping(n=400, d=12, c=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % c
    means = rng.normal(scale=1.5, size=(c, d))
    return means[labels] + rng.normal(size=(n, d)) * np.linspace(2.0, 0.2, d), labels


def _fit_like_scikit_learn(points, n_components, seed):
    """Our mixture and scikit-learn's on ``points``: same posteriors, iterations and convergence."""
    fit = fit_full_mixture(points, n_components, seed=seed)
    reference = GaussianMixture(n_components, random_state=seed).fit(points)
    np.testing.assert_allclose(fit.posteriors, reference.predict_proba(points), rtol=1e-7, atol=1e-10)
    assert fit.n_iter == reference.n_iter_ and fit.converged == reference.converged_
    return fit, reference


@pytest.mark.parametrize("seed", [0, 3])
def test_posteriors_equal_scikit_learns_on_soft_overlapping_clusters(seed):
    points, _ = _overlapping(seed=seed)
    fit, _ = _fit_like_scikit_learn(points, 8, seed)
    assert fit.n_iter > 2
    assert 0.05 < np.mean((fit.posteriors > 1e-3) & (fit.posteriors < 0.999)) * 8  # soft, not one-hot


def test_iteration_cap_and_regularisation_are_scikit_learns():
    points, _ = _overlapping(n=300, d=6, seed=1)
    fit = fit_full_mixture(points, 6, seed=0, max_iter=2, reg_covar=1e-2)
    reference = GaussianMixture(6, random_state=0, max_iter=2, reg_covar=1e-2).fit(points)
    np.testing.assert_allclose(fit.posteriors, reference.predict_proba(points), rtol=1e-7, atol=1e-10)
    assert fit.n_iter == 2 and not fit.converged


def test_a_singular_covariance_raises_scikit_learns_error():
    points = np.repeat(np.eye(3), 4, axis=0) * 1e4  # each component collapses onto one point
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        fit_full_mixture(points, 3, seed=0, reg_covar=0.0)
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        fit_full_mixture(points[:2], 3)


@pytest.mark.parametrize("share_eigh", [False, True])
def test_pca_scores_are_scikit_learns_up_to_column_signs(share_eigh):
    features, labels = _overlapping(n=200, d=30, c=5)
    stats = ClassStats(features, labels)
    if share_eigh:
        stats.total_eigh  # noqa: B018 - another metric already paid for the full eigendecomposition
    ours = pca_scores(stats, 0.8)
    theirs = PCA(n_components=0.8).fit_transform(features)
    assert ours.shape == theirs.shape and 1 < ours.shape[1] < 30
    signs = np.sign(np.sum(ours * theirs, axis=0))
    np.testing.assert_allclose(ours * signs, theirs, rtol=1e-8, atol=1e-9)


def _separated(n=600, d=40, c=6, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % c
    means = rng.normal(scale=6.0, size=(c, d))
    return means[labels] + rng.normal(size=(n, d)) * np.linspace(1.5, 0.3, d), labels


def test_pruned_e_step_rules_out_only_pairs_whose_responsibility_is_zero():
    from transvis.metrics import _mixture

    points, labels = _separated()
    resp = np.eye(12)[np.arange(points.shape[0]) % 12]
    model = _mixture._m_step(points, resp, 1e-6)
    model = _mixture._Components(model.weights / model.weights.sum(), model.means, model.cov_chol)
    factors = _mixture._precision_factors(model)
    offset = np.log(model.weights) + model.log_det_precision_chol - 0.5 * points.shape[1] * _mixture._LOG_2PI
    full = _mixture._full_log_weights(points, model.means, factors, offset)
    guess = full.argmax(axis=1)
    pruned = _mixture._pruned_log_weights(points, model, offset, guess)
    assert pruned is not None
    ruled_out = ~np.isfinite(pruned)
    assert 0.3 < ruled_out.mean() < 1  # the bound does rule pairs out here
    # every ruled-out pair is > 745 below its sample's best weight: its responsibility underflows to exactly 0
    gap = full.max(axis=1, keepdims=True) - full
    assert np.all(gap[ruled_out] > 745.2)
    np.testing.assert_allclose(pruned[~ruled_out], full[~ruled_out], rtol=1e-13)
    for g in (guess, (guess + 1) % 12):  # a wrong guess costs time, never the result
        log_norm, resp_pruned = _mixture._e_step(points, model, g)
        log_norm_full, resp_full = _mixture._e_step(points, model)
        np.testing.assert_allclose(log_norm, log_norm_full, rtol=1e-13)
        np.testing.assert_allclose(resp_pruned, resp_full, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("seed", [0, 2])
def test_posteriors_equal_scikit_learns_with_pruning_on_separated_clusters(seed):
    points, _ = _separated(seed=seed)
    _fit_like_scikit_learn(points, 12, seed)


@pytest.mark.parametrize("max_iter", [1, 2, 100])
def test_fixed_point_exit_matches_scikit_learn_and_skips_the_repeated_steps(monkeypatch, max_iter):
    """Well separated clusters with more dimensions than a component's samples: every responsibility is 0 or 1 and
    the first E-step returns k-means' assignment, so EM is at a fixed point. One M-step (k-means') and one E-step
    are enough; scikit-learn runs two more of each to the same posteriors and reports the same n_iter."""
    from transvis.metrics import _mixture

    points, _ = _separated(n=300, d=60, c=6, seed=1)
    calls = {"m": 0, "e": 0}
    for name, key in (("_m_step", "m"), ("_e_step", "e")):
        original = getattr(_mixture, name)

        def counted(*args, _original=original, _key=key, **kwargs):
            calls[_key] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(_mixture, name, counted)
    fit = fit_full_mixture(points, 12, seed=0, max_iter=max_iter)
    reference = GaussianMixture(12, random_state=0, max_iter=max_iter).fit(points)
    assert set(np.unique(reference.predict_proba(points))) == {0.0, 1.0}
    np.testing.assert_array_equal(fit.posteriors, reference.predict_proba(points))
    assert (fit.n_iter, fit.converged) == (reference.n_iter_, reference.converged_)
    assert calls == {"m": 1, "e": 1}
