"""Nearest-class-mean softmax, the "LDA" score of ETran / FSP (ALGORITHMS.md §5.12)."""

import numpy as np
import pytest
import scipy.special

from tests.metric_calls import gaussian_classes
from transvis.metrics import compute, get_spec
from transvis.metrics.ncm_softmax import ncm_posteriors, ncm_softmax


def _naive_posteriors(x, y):
    classes = np.unique(y)
    priors = np.array([(y == c).mean() for c in classes])
    means = np.array([x[y == c].mean(axis=0) for c in classes])
    return scipy.special.softmax(x @ means.T - 0.5 * (means**2).sum(axis=1) + np.log(priors), axis=1)


def _released_lda_score(x, y):
    """The released ``LDA_Score`` route: SFDA's shrunk scatters, then ``eigh`` of the non-symmetric
    ``inv(S_W^λ) S_B`` (which reads one triangle and returns an orthonormal V), ``coef_ = M V Vᵀ``."""
    n, d = x.shape
    classes = np.unique(y)
    priors = np.array([(y == c).mean() for c in classes])
    means = np.array([x[y == c].mean(axis=0) for c in classes])
    within = sum(p * np.cov(x[y == c].T, bias=True) for p, c in zip(priors, classes))
    lam = 0.2
    shrunk_w = (1 - lam) * within + lam * np.trace(within) / d * np.eye(d)
    total = np.cov(x.T, bias=True)
    shrunk_t = (1 - lam) * total + lam * np.trace(total) / d * np.eye(d)
    _, vecs = np.linalg.eigh(np.linalg.inv(shrunk_w) @ (shrunk_t - shrunk_w))
    coef = means @ vecs @ vecs.T
    intercept = -0.5 * np.diag(means @ coef.T) + np.log(priors)
    post = scipy.special.softmax(x @ coef.T + intercept, axis=1)
    return post[np.arange(n), y].mean()


def test_equals_naive_formula_and_released_route():
    x, y = gaussian_classes([20, 30, 25], 6, seed=1, separation=0.8, scale=0.5)
    result = compute("ncm_softmax", x, y)
    post = _naive_posteriors(x, y)
    assert result.score == pytest.approx(post[np.arange(75), y].mean(), rel=1e-12)
    assert result.score == pytest.approx(_released_lda_score(x, y), rel=1e-9)
    np.testing.assert_allclose(result.trace["confusion"].sum(axis=1), 1.0)
    priors = np.bincount(y) / len(y)
    assert result.score == pytest.approx(priors @ result.trace["class_posterior"], rel=1e-12)
    assert result.trace["accuracy"] == pytest.approx((post.argmax(axis=1) == y).mean())


def test_alias_lda():
    assert get_spec("lda").name == "ncm_softmax"
    x, y = gaussian_classes([10, 10], 3, seed=2)
    assert compute("lda", x, y).score == compute("ncm_softmax", x, y).score
    assert not get_spec("lda").scale_invariant


def test_scale_dependence_and_temperature():
    x, y = gaussian_classes([30, 30, 30], 5, seed=3, separation=1.0)
    scores = [compute("ncm_softmax", x * s, y).score for s in (1e-3, 1.0, 1e3)]
    priors = np.bincount(y) / len(y)
    assert scores[0] == pytest.approx(priors @ priors, rel=1e-4)  # flat posteriors: Σ π_c²
    result_big = compute("ncm_softmax", x * 1e3, y)
    assert scores[2] == pytest.approx(result_big.trace["accuracy"], abs=1e-9)  # saturated: NCC accuracy
    assert scores[0] < scores[1] < scores[2]
    # A temperature proportional to the squared scale removes the dependence.
    np.testing.assert_allclose(ncm_softmax(x * 10, y, temperature=100.0).score, scores[1], rtol=1e-12)
    with pytest.raises(ValueError, match="positive"):
        ncm_softmax(x, y, temperature=0.0)


def test_posteriors_independent_of_centre():
    x, y = gaussian_classes([10, 15, 5], 4, seed=4)
    means = np.array([x[y == c].mean(axis=0) for c in range(3)])
    priors = np.bincount(y) / len(y)
    a = ncm_posteriors(x, means, priors)
    b = ncm_posteriors(x, means, priors, center=np.full(4, 50.0))
    np.testing.assert_allclose(a, b, rtol=1e-10)
    np.testing.assert_allclose(a, _naive_posteriors(x, y), rtol=1e-10)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_robust_and_input_untouched(scale):
    x, y = gaussian_classes([1, 40, 3], 30, seed=5, scale=scale)  # N > D barely, a one-sample class
    x[:, :4] = 0.0
    before = x.copy()
    result = ncm_softmax(x, y)
    assert np.isfinite(result.score) and 0.0 < result.score <= 1.0
    np.testing.assert_array_equal(x, before)


def test_torch_backend_matches_numpy():
    pytest.importorskip("torch")
    x, y = gaussian_classes([20, 20, 20], 8, seed=6)
    np.testing.assert_allclose(compute("lda", x, y, backend="torch").score, compute("lda", x, y).score, rtol=1e-9)
