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


@pytest.mark.parametrize("seed", [0, 3])
def test_posteriors_equal_scikit_learns_on_soft_overlapping_clusters(seed):
    points, _ = _overlapping(seed=seed)
    fit = fit_full_mixture(points, 8, seed=seed)
    reference = GaussianMixture(8, random_state=seed).fit(points)
    np.testing.assert_allclose(fit.posteriors, reference.predict_proba(points), rtol=1e-7, atol=1e-10)
    assert fit.n_iter == reference.n_iter_ > 2 and fit.converged == reference.converged_
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
