"""LogME: exact evidence against a dense Gaussian marginal likelihood, the official iterations against
independent dense transcriptions, the N ≤ D bias, robustness, inputs untouched, torch = numpy.

The reference keys (logme_exact, logme_official_fixed_point, logme_official_icml) are checked in
tests/unit/test_refvectors.py (``-k logme_``).
"""

import numpy as np
import pytest

from tests.synthetic import blobs, robustness_cases
from transvis.metrics import ClassStats, compute, get_spec
from transvis.metrics.logme import logme

VARIANTS = ("exact", "official_fixed_point", "official_icml")
SPREAD = 1.5  # the class blobs' noise in these tests


def dense_log_evidence(features, target, alpha, beta):
    """log N(y; 0, FFᵀ/α + I/β): the marginal likelihood written in sample space, no SVD involved."""
    n = features.shape[0]
    cov = features @ features.T / alpha + np.eye(n) / beta
    _, logdet = np.linalg.slogdet(cov)
    return -0.5 * target @ np.linalg.solve(cov, target) - 0.5 * logdet - n / 2 * np.log(2 * np.pi)


def dense_posterior_mean(features, target, alpha, beta):
    d = features.shape[1]
    a = alpha * np.eye(d) + beta * features.T @ features
    return beta * np.linalg.solve(a, features.T @ target)


def transcribed_fixed_point(features, labels):
    """The official fixed-point rule (ALGORITHMS.md §5.1) on a direct thin SVD of F.

    Returns (score, alphas, betas); the log-determinant sums over the min(N, D) singular values.
    """
    n, d = features.shape
    u, s, _ = np.linalg.svd(features, full_matrices=False)
    sigma = s**2
    scores, alphas, betas = [], [], []
    for c in range(labels.max() + 1):
        target = (labels == c).astype(float)
        proj2 = (u.T @ target) ** 2
        outside = target @ target - proj2.sum()
        alpha = beta = 1.0
        for _ in range(11):
            ratio = alpha / beta
            gamma = np.sum(sigma / (sigma + ratio))
            m_sq = np.sum(sigma * proj2 / (sigma + ratio) ** 2)
            resid = np.sum(proj2 * ratio**2 / (sigma + ratio) ** 2) + outside
            alpha, beta = gamma / (m_sq + 1e-5), (n - gamma) / (resid + 1e-5)
            if abs(alpha / beta - ratio) <= 1e-3 * ratio:
                break
        evidence = (d * np.log(alpha) + n * np.log(beta) - np.sum(np.log(alpha + beta * sigma))
                    - beta * resid - alpha * m_sq - n * np.log(2 * np.pi)) / 2
        scores.append(evidence / n)
        alphas.append(alpha)
        betas.append(beta)
    return np.mean(scores), np.array(alphas), np.array(betas)


def transcribed_icml(features, labels):
    """The ICML 2021 rule on the dense D×D problem: explicit m and residual ‖y − F m‖²."""
    n, d = features.shape
    eigvals, eigvecs = np.linalg.eigh(features.T @ features)
    eigvals = np.maximum(eigvals, 0.0)
    scores = []
    for c in range(labels.max() + 1):
        target = (labels == c).astype(float)
        proj = eigvecs.T @ (features.T @ target)
        alpha = beta = 1.0
        for _ in range(11):
            ratio = alpha / beta
            gamma = np.sum(eigvals / (eigvals + ratio))
            weights = eigvecs @ (proj * beta / (alpha + beta * eigvals))
            m_sq = weights @ weights + 1e-5
            resid = np.sum((target - features @ weights) ** 2) + 1e-5
            alpha, beta = gamma / m_sq, (n - gamma) / resid
            if abs(alpha / beta - ratio) < 1e-2 * ratio:
                break
        evidence = (d * np.log(alpha) + n * np.log(beta) - np.sum(np.log(alpha + beta * eigvals))
                    - beta * resid - alpha * m_sq - n * np.log(2 * np.pi)) / 2
        scores.append(evidence / n)
    return np.mean(scores)


@pytest.mark.parametrize("n,d,dead", [(40, 12, 0), (15, 40, 0), (40, 12, 3), (12, 12, 0)])
def test_exact_equals_dense_marginal_likelihood(n, d, dead):
    features, labels = blobs(n, d, 3, seed=n + d, spread=SPREAD)
    features[:, :dead] = 0.0
    result = logme(features, labels)
    for c in range(3):
        target = (labels == c).astype(float)
        alpha, beta = result.trace["alpha"][c], result.trace["beta"][c]
        expected = dense_log_evidence(features, target, alpha, beta) / n
        np.testing.assert_allclose(result.trace["evidence"][c], expected, rtol=1e-9)
        np.testing.assert_allclose(result.trace["weights"][c],
                                   dense_posterior_mean(features, target, alpha, beta), rtol=1e-7, atol=1e-10)
    assert result.score == pytest.approx(result.trace["evidence"].mean(), rel=1e-14)


@pytest.mark.parametrize("n,d", [(60, 10), (20, 50), (25, 25)])
def test_official_fixed_point_matches_transcription(n, d):
    features, labels = blobs(n, d, 4, seed=7 * n + d, spread=SPREAD)
    expected, alphas, betas = transcribed_fixed_point(features, labels)
    for variant in ("official_fixed_point", "exact"):  # exact uses the same α, β
        result = logme(features, labels, variant=variant)
        np.testing.assert_allclose(result.trace["alpha"], alphas, rtol=1e-9)
        np.testing.assert_allclose(result.trace["beta"], betas, rtol=1e-9)
    official = logme(features, labels, variant="official_fixed_point")
    np.testing.assert_allclose(official.score, expected, rtol=1e-9)


@pytest.mark.parametrize("n,d", [(60, 10), (20, 50)])
def test_official_icml_matches_dense_transcription(n, d):
    features, labels = blobs(n, d, 4, seed=3 * n + d, spread=SPREAD)
    np.testing.assert_allclose(logme(features, labels, variant="official_icml").score,
                               transcribed_icml(features, labels), rtol=1e-8)


def test_official_fixed_point_bias_is_d_minus_k_log_alpha():
    """Appending dead dimensions leaves exact and ICML unchanged; the official N ≤ D score grows by
    extra/(2N)·log α per class (its log-determinant misses them)."""
    n, d, extra = 20, 30, 25
    features, labels = blobs(n, d, 4, seed=11, spread=SPREAD)
    padded = np.hstack([features, np.zeros((n, extra))])
    for variant in ("exact", "official_icml"):
        np.testing.assert_allclose(logme(padded, labels, variant=variant).score,
                                   logme(features, labels, variant=variant).score, rtol=1e-10)
    base = logme(features, labels, variant="official_fixed_point")
    grown = logme(padded, labels, variant="official_fixed_point")
    np.testing.assert_allclose(grown.trace["alpha"], base.trace["alpha"], rtol=1e-10)
    expected_shift = np.mean(extra / (2 * n) * np.log(base.trace["alpha"]))
    np.testing.assert_allclose(grown.score - base.score, expected_shift, rtol=1e-8)
    # and the whole gap to exact is the missing (D − N)·log α term plus stale-value noise
    exact = logme(features, labels)
    gap = np.mean((d - n) / (2 * n) * np.log(exact.trace["alpha"]))
    np.testing.assert_allclose(base.score - exact.score, gap, rtol=0.05)


def test_n_greater_than_d_dead_dimensions_do_not_bias_official():
    features, labels = blobs(80, 10, 3, seed=5, spread=SPREAD)
    padded = np.hstack([features, np.zeros((80, 4))])
    for variant in VARIANTS:
        np.testing.assert_allclose(logme(padded, labels, variant=variant).score,
                                   logme(features, labels, variant=variant).score, rtol=1e-10)


@pytest.mark.parametrize("n,d", [(50, 8), (10, 30)])
def test_exact_is_rotation_invariant(n, d):
    features, labels = blobs(n, d, 3, seed=2, spread=SPREAD)
    rotation, _ = np.linalg.qr(np.random.default_rng(9).normal(size=(d, d)))
    np.testing.assert_allclose(logme(features @ rotation, labels).score, logme(features, labels).score,
                               rtol=1e-9)


def test_scale_is_only_roughly_invariant():
    assert get_spec("logme").scale_invariant is False
    features, labels = blobs(300, 20, 4, seed=0, spread=SPREAD)
    base = logme(features, labels).score
    np.testing.assert_allclose(logme(2.0 * features, labels).score, base, rtol=1e-5)
    np.testing.assert_allclose(logme(1e-6 * features, labels).score, base, rtol=1e-5)
    # the 1e-5 guard in the α update takes over when ‖m‖² is small
    assert abs(logme(100.0 * features, labels).score - base) > 0.01 * abs(base)


ROBUSTNESS = robustness_cases(SPREAD, duplicate_rows=True)


# errors for any warning, but a degenerate score (e.g. constant features) is reported, not an error here
@pytest.mark.filterwarnings("error", "ignore::transvis.metrics.DegenerateScoreWarning")
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", sorted(ROBUSTNESS))
def test_robustness_finite_and_inputs_untouched(case, variant):
    features, labels = ROBUSTNESS[case]
    features_before, labels_before = features.copy(), labels.copy()
    result = compute("logme", features, labels, variant=variant)
    np.testing.assert_array_equal(features, features_before)
    np.testing.assert_array_equal(labels, labels_before)
    assert features.flags.writeable
    n, d = features.shape
    n_classes = labels.max() + 1
    assert np.isfinite(result.score)
    for key in ("alpha", "beta", "evidence"):
        assert result.trace[key].shape == (n_classes,) and np.all(np.isfinite(result.trace[key]))
    assert np.all(result.trace["alpha"] > 0) and np.all(result.trace["beta"] > 0)
    assert result.trace["weights"].shape == (n_classes, d) and np.all(np.isfinite(result.trace["weights"]))
    singular_values = result.trace["singular_values"]
    assert singular_values.shape == (min(n, d),) and np.all(np.diff(singular_values) <= 0)
    assert result.trace["rank"] == np.linalg.matrix_rank(features)
    assert result.variant == variant


def test_all_zero_features():
    features, labels = np.zeros((20, 5)), np.arange(20) % 2
    result = logme(features, labels)
    beta = 20 / (10 + 1e-5)  # the official β update with no feature direction
    expected = (10 * np.log(beta) - beta / 2 * 10 - 10 * np.log(2 * np.pi)) / 20
    np.testing.assert_allclose(result.score, expected, rtol=1e-12)
    assert result.trace["rank"] == 0
    with pytest.raises(ValueError, match="all zero"):
        logme(features, labels, variant="official_fixed_point")


def test_unknown_variant_is_refused():
    features, labels = blobs(20, 4, 2, spread=SPREAD)
    with pytest.raises(ValueError, match="official_icml"):
        logme(features, labels, variant="icml")
    with pytest.raises(ValueError, match="official_fixed_point"):
        compute("logme", features, labels, variant="fixed_point")


@pytest.mark.parametrize("n,d", [(90, 16), (24, 60)])
@pytest.mark.parametrize("variant", VARIANTS)
def test_torch_backend_equals_numpy(n, d, variant):
    features, labels = blobs(n, d, 3, seed=n, spread=SPREAD)
    ref = compute("logme", features, labels, variant=variant, backend="numpy")
    got = compute("logme", features, labels, variant=variant, backend="torch")
    np.testing.assert_allclose(got.score, ref.score, rtol=1e-9)
    for key in ("alpha", "beta", "evidence", "singular_values"):
        np.testing.assert_allclose(got.trace[key], ref.trace[key], rtol=1e-9)
    scale = np.abs(ref.trace["weights"]).max()
    np.testing.assert_allclose(got.trace["weights"], ref.trace["weights"], rtol=0, atol=1e-9 * scale)


def test_shared_stats_give_the_same_result():
    features, labels = blobs(70, 12, 3, seed=8, spread=SPREAD)
    stats = ClassStats(features, labels)
    assert compute("logme", features, labels, stats=stats).score == logme(features, labels).score
    # N > D reads XᵀX's eigendecomposition, a rank-one update of the shared S_T one (no second XᵀX product)
    assert stats.__dict__.get("raw_gram_eigh") is not None
    assert stats.__dict__.get("total_eigh") is not None
