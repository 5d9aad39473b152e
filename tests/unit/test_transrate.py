"""TransRate against a direct slogdet transcription of TLlib's definition, a closed form, robustness,
inputs untouched and torch = numpy. The ``transrate`` reference key is in test_refvectors.py."""

import numpy as np
import pytest

from tests.synthetic import blobs, robustness_cases
from transvis.metrics import compute, get_spec
from transvis.metrics.transrate import transrate


def coding_rate(rows, eps):
    """½·log det(I_D + AᵀA/(n·ε)) in the D×D form, as the definition reads."""
    n, d = rows.shape
    sign, logdet = np.linalg.slogdet(np.eye(d) + rows.T @ rows / (n * eps))
    assert sign > 0
    return 0.5 * logdet


def transcribed(features, labels, eps=1e-4):
    centred = features - features.mean(axis=0)
    per_class = np.array([coding_rate(centred[labels == c], eps) for c in range(labels.max() + 1)])
    return coding_rate(centred, eps) - per_class.mean(), coding_rate(centred, eps), per_class


@pytest.mark.parametrize("n,d,c,eps", [(200, 10, 4, 1e-4), (30, 50, 3, 1e-4), (120, 16, 5, 1e-2), (40, 40, 2, 1.0)])
def test_matches_slogdet_transcription(n, d, c, eps):
    features, labels = blobs(n, d, c, seed=n + d)
    expected, global_rate, class_rates = transcribed(features, labels, eps)
    result = transrate(features, labels, eps=eps)
    np.testing.assert_allclose(result.score, expected, rtol=1e-9)
    np.testing.assert_allclose(result.trace["global_rate"], global_rate, rtol=1e-9)
    np.testing.assert_allclose(result.trace["class_rates"], class_rates, rtol=1e-9)
    assert result.params == {"eps": eps}


def test_both_gram_forms_per_class():
    """Classes smaller and larger than D take the n_c×n_c and the D×D route; both equal the definition."""
    rng = np.random.default_rng(4)
    labels = np.concatenate([np.zeros(5, int), np.ones(60, int), np.full(1, 2)])
    features = rng.normal(size=(labels.size, 12)) + 3.0 * labels[:, None]
    expected, _, class_rates = transcribed(features, labels)
    result = transrate(features, labels)
    np.testing.assert_allclose(result.trace["class_rates"], class_rates, rtol=1e-10)
    np.testing.assert_allclose(result.score, expected, rtol=1e-10)


def test_collapsed_classes_closed_form():
    """Two balanced classes collapsed to ±a: every rate is ½·log(1 + ‖a‖²/ε), so TrR = 0."""
    a = np.array([0.3, -0.2, 0.1])
    labels = np.arange(40) % 2
    features = np.where(labels[:, None] == 0, a, -a) + 7.0  # the offset is removed by centring
    result = transrate(features, labels)
    rate = 0.5 * np.log1p(a @ a / 1e-4)
    np.testing.assert_allclose(result.trace["global_rate"], rate, rtol=1e-10)
    np.testing.assert_allclose(result.trace["class_rates"], [rate, rate], rtol=1e-10)
    assert abs(result.score) < 1e-10


def test_eps_is_validated_and_passed_through_compute():
    features, labels = blobs(50, 6, 3)
    assert compute("transrate", features, labels, eps=1e-3).score == transrate(features, labels, eps=1e-3).score
    for bad in (0.0, -1e-4, np.nan):
        with pytest.raises(ValueError, match="positive"):
            transrate(features, labels, eps=bad)
    with pytest.raises(ValueError, match="eps"):
        compute("transrate", features, labels, epsilon=1e-3)


def test_not_scale_invariant():
    assert get_spec("transrate").scale_invariant is False
    features, labels = blobs(100, 8, 3)
    base = transrate(features, labels).score
    assert transrate(1e-3 * features, labels).score < 0.5 * base  # eigenvalues near ε
    # large scale, every class full rank: ½·(rank Z − mean rank Z_c)·log c² = 0, nearly invariant
    np.testing.assert_allclose(transrate(10 * features, labels).score, base, rtol=1e-3)
    # N < D: rank Z = N − 1 but rank Z_c = n_c, so the score shifts by ½·(N − 1 − N/C)·log c²
    few, few_labels = blobs(30, 60, 3)
    shift = transrate(10 * few, few_labels).score - transrate(few, few_labels).score
    np.testing.assert_allclose(shift, 0.5 * (29 - 10) * np.log(100.0), rtol=1e-3)


ROBUSTNESS = robustness_cases()


# errors for any warning, but a degenerate score (e.g. constant features) is reported, not an error here
@pytest.mark.filterwarnings("error", "ignore::transvis.metrics.DegenerateScoreWarning")
@pytest.mark.parametrize("case", sorted(ROBUSTNESS))
def test_robustness_matches_definition_and_inputs_untouched(case):
    features, labels = ROBUSTNESS[case]
    features_before, labels_before = features.copy(), labels.copy()
    result = compute("transrate", features, labels)
    np.testing.assert_array_equal(features, features_before)
    np.testing.assert_array_equal(labels, labels_before)
    assert np.isfinite(result.score)
    assert result.trace["class_rates"].shape == (labels.max() + 1,)
    assert np.all(result.trace["class_rates"] >= 0) and result.trace["global_rate"] >= 0
    expected, global_rate, _ = transcribed(features, labels)
    # absolute slack: round-off of the null directions' eigenvalues, ≈ D·eps·λ_max/(n·ε)
    np.testing.assert_allclose(result.score, expected, rtol=1e-8, atol=1e-9 * max(1.0, global_rate))


def test_all_constant_features_score_zero():
    result = transrate(np.full((30, 4), -1.5), np.arange(30) % 3)
    assert result.score == 0.0 and result.trace["global_rate"] == 0.0


@pytest.mark.parametrize("n,d", [(90, 16), (24, 60)])
def test_torch_backend_equals_numpy(n, d):
    features, labels = blobs(n, d, 3, seed=n)
    ref = compute("transrate", features, labels, backend="numpy")
    got = compute("transrate", features, labels, backend="torch")
    np.testing.assert_allclose(got.score, ref.score, rtol=1e-9)
    np.testing.assert_allclose(got.trace["class_rates"], ref.trace["class_rates"], rtol=1e-9)
    np.testing.assert_allclose(got.trace["global_rate"], ref.trace["global_rate"], rtol=1e-9)


@pytest.mark.parametrize("scale", [1e-5, 1e-3, 1.0, 1e3])
def test_cholesky_and_eigenvalue_paths_keep_relative_accuracy(scale):
    # Reference: ½·Σ log1p(λ/(nε)) over accurate eigenvalues, which keeps full relative accuracy even when
    # every λ/(nε) is tiny (there a Cholesky log-determinant of I + A would only be accurate to ~k·eps).
    features, labels = blobs(150, 12, 3, seed=4)
    features = features * scale

    def rate(rows):
        values = np.linalg.eigvalsh(rows.T @ rows)
        return 0.5 * np.log1p(np.maximum(values, 0.0) / (rows.shape[0] * 1e-4)).sum()

    centred = features - features.mean(axis=0)
    class_rates = np.array([rate(centred[labels == c]) for c in range(3)])
    result = transrate(features, labels)
    np.testing.assert_allclose(result.trace["class_rates"], class_rates, rtol=1e-9)
    np.testing.assert_allclose(result.trace["global_rate"], rate(centred), rtol=1e-9)
