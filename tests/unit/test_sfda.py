"""SFDA (Shao et al., ECCV 2022): reusable pieces, agreement with a plain transcription of the official
algorithm (generalised eigenproblem, per-class covariances, in-place ConfMix on a copy), robustness."""

import numpy as np
import pytest
import scipy.linalg
import scipy.special

from tests.metric_calls import gaussian_classes
from transvis.metrics import ClassStats, compute
from transvis.metrics.sfda import (
    ShrinkageLDA,
    _confmix_moments,
    adaptive_shrinkage,
    confmix,
    confmix_weights,
    outer_class_means,
    power_iteration_top_eigenvalue,
    sfda,
    shrink,
)


# -- a plain transcription of ALGORITHMS.md §1 (the official computation, written out naively) ----------
def _power_iteration(a, steps=3):
    x = a.sum(axis=1)
    for _ in range(steps):
        y = a @ x / np.linalg.norm(a @ x)
        x = a @ y / np.linalg.norm(a @ y)
    return x @ a @ y


def _lda_fit_predict(x, y, lam=None):
    classes = np.unique(y)
    priors = np.array([(y == c).mean() for c in classes])
    means = np.array([x[y == c].mean(axis=0) for c in classes])
    within = sum(p * np.cov(x[y == c].T, bias=True) for p, c in zip(priors, classes))
    if lam is None:
        lam = max(np.exp(-5 * _power_iteration(within)), 1e-10)
    d = x.shape[1]
    shrunk_total = (1 - lam) * np.cov(x.T, bias=True) + lam * np.trace(np.cov(x.T, bias=True)) / d * np.eye(d)
    shrunk_within = (1 - lam) * within + lam * np.trace(within) / d * np.eye(d)
    evals, evecs = scipy.linalg.eigh(shrunk_total - shrunk_within, shrunk_within)
    evecs = evecs[:, np.argsort(evals)[::-1]]
    coef = means @ evecs @ evecs.T
    intercept = -0.5 * np.diag(means @ coef.T) + np.log(priors)
    return scipy.special.softmax(x @ coef.T + intercept, axis=1), lam, np.sort(evals)[::-1]


def _reference_sfda(x, y):
    x = np.array(x, dtype=np.float64)  # the official code mixes in place: work on a copy
    n, c = len(y), y.max() + 1
    post, lam, _ = _lda_fit_predict(x, y)
    soft = np.exp(post) / np.exp(post).sum(axis=1, keepdims=True)
    means = np.array([x[y == k].mean(axis=0) for k in range(c)])
    for k in range(c):
        rows = np.where(y == k)[0]
        p = soft[rows, k][:, None]
        x[rows] = p * x[rows] + (1 - p) * (means.sum(axis=0) - means[k]) / (c - 1)
    post2, _, _ = _lda_fit_predict(x, y, lam)
    return post2[np.arange(n), y].mean(), lam


CASES = {
    "balanced": dict(counts=[30, 30, 30, 30], n_dims=12, separation=1.0, scale=1.0),
    "imbalanced": dict(counts=[5, 60, 20], n_dims=8, separation=1.5, scale=0.3),
    "raw_scale": dict(counts=[25, 25, 25], n_dims=10, separation=2.0, scale=30.0),  # λ at its floor
    "tiny_scale": dict(counts=[20, 20], n_dims=6, separation=1.0, scale=1e-3),  # λ ≈ 1
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_transcription_of_official(case):
    kw = CASES[case]
    x, y = gaussian_classes(kw["counts"], kw["n_dims"], seed=3, separation=kw["separation"], scale=kw["scale"])
    expected, lam = _reference_sfda(x, y)
    result = compute("sfda", x, y)
    np.testing.assert_allclose(result.score, expected, rtol=1e-10)
    np.testing.assert_allclose(result.trace["shrinkage"], lam, rtol=1e-10)
    if case == "raw_scale":
        assert result.trace["shrinkage"] == 1e-10
    if case == "tiny_scale":
        assert result.trace["shrinkage"] > 0.99


def test_does_not_modify_float64_input():
    x, y = gaussian_classes([20, 20, 20], 5, seed=1)
    x_before, y_before = x.copy(), y.copy()
    assert x.flags.writeable
    sfda(x, y)
    compute("sfda", x, y)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(y, y_before)


def test_shrinkage_lda_posteriors_and_fisher_space():
    x, y = gaussian_classes([15, 25, 20], 6, seed=4, separation=1.0)
    expected_post, lam, expected_evals = _lda_fit_predict(x, y)
    model = ShrinkageLDA().fit(x, y)
    assert model.shrinkage_ == pytest.approx(lam, rel=1e-12)
    np.testing.assert_allclose(model.predict_proba(x), expected_post, rtol=1e-9, atol=1e-14)
    np.testing.assert_array_equal(model.predict(x), expected_post.argmax(axis=1))
    np.testing.assert_allclose(model.fisher_eigenvalues_, expected_evals, rtol=1e-8, atol=1e-12)
    v = model.scalings_
    stats = ClassStats(x, y)
    between = shrink(stats.between_scatter, lam)
    np.testing.assert_allclose(v.T @ model.shrunk_covariance_ @ v, np.eye(6), atol=1e-9)
    np.testing.assert_allclose(v.T @ between @ v, np.diag(model.fisher_eigenvalues_), atol=1e-9)
    projected = model.transform(x)
    assert projected.shape == (60, 2)  # min(C − 1, D)
    np.testing.assert_allclose(projected, (x - x.mean(axis=0)) @ v[:, :2], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="n_components"):
        model.transform(x, n_components=7)


def test_from_moments_equals_fit():
    x, y = gaussian_classes([12, 18, 10], 5, seed=8)
    stats = ClassStats(x, y)
    fitted = ShrinkageLDA(0.3).fit(x, y)
    from_moments = ShrinkageLDA.from_moments(stats.class_means, stats.priors, stats.within_scatter, shrinkage=0.3)
    np.testing.assert_allclose(from_moments.predict_proba(x), fitted.predict_proba(x), rtol=1e-12)
    np.testing.assert_allclose(from_moments.fisher_eigenvalues_, fitted.fisher_eigenvalues_, rtol=1e-9)


def test_power_iteration_and_adaptive_shrinkage():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 7))
    sym = a.T @ a / 40
    assert power_iteration_top_eigenvalue(sym) == pytest.approx(_power_iteration(sym), rel=1e-13)
    assert power_iteration_top_eigenvalue(sym, 50) == pytest.approx(np.linalg.eigvalsh(sym)[-1], rel=1e-10)
    lam, lam_max = adaptive_shrinkage(sym)
    assert lam == pytest.approx(np.exp(-5 * lam_max))
    assert adaptive_shrinkage(sym * 1e3)[0] == 1e-10
    # Rows summing to exactly zero (A·1 = 0): the official iteration divides by zero; the exact value is used.
    laplacian = 3.0 * np.eye(3) - np.ones((3, 3))
    assert power_iteration_top_eigenvalue(laplacian) == pytest.approx(3.0, rel=1e-12)
    assert power_iteration_top_eigenvalue(np.zeros((3, 3))) == 0.0


def test_confmix_pieces():
    x, y = gaussian_classes([10, 14, 6], 4, seed=2)
    stats = ClassStats(x, y)
    outer = outer_class_means(stats.class_means)
    np.testing.assert_allclose(outer[1], (stats.class_means[0] + stats.class_means[2]) / 2)
    post = ShrinkageLDA().fit(x, y).predict_proba(x)
    weights = confmix_weights(post, y)
    c = 3
    assert weights.min() >= 1 / (np.e + c - 1) - 1e-15 and weights.max() <= np.e / (np.e + c - 1) + 1e-15
    mixed = confmix(x, y, weights)
    np.testing.assert_allclose(mixed[0], weights[0] * x[0] + (1 - weights[0]) * outer[y[0]])
    # The O(ND) moments equal those of the explicitly mixed features.
    mixed_stats = ClassStats(mixed, y)
    means, resid = _confmix_moments(stats, weights)
    np.testing.assert_allclose(means, mixed_stats.class_means, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(resid.T @ resid / len(y), mixed_stats.within_scatter, rtol=1e-10, atol=1e-13)


def test_trace_is_consistent_with_score():
    x, y = gaussian_classes([20, 35, 15, 30], 6, seed=5, separation=1.2)
    result = sfda(x, y, spectrum=True)
    stats = ClassStats(x, y)
    assert result.score == pytest.approx(stats.priors @ result.trace["class_posterior"], rel=1e-12)
    for key in ("confusion", "confusion_first"):
        np.testing.assert_allclose(result.trace[key].sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(result.trace["confusion"]), result.trace["class_posterior"])
    assert result.trace["mixing_weights"].shape == (100,)
    assert result.trace["eigenvalues"].shape == (6,)
    assert np.all(np.diff(result.trace["eigenvalues"]) <= 0)
    assert "eigenvalues" not in sfda(x, y).trace
    plain = sfda(x, y, confmix=False)
    post, _, _ = _lda_fit_predict(x, y)
    assert plain.score == pytest.approx(post[np.arange(100), y].mean(), rel=1e-10)
    assert "mixing_weights" not in plain.trace
    # ConfMix makes the task harder: the second pass is less confident than the first.
    assert result.score < plain.score


def test_fixed_shrinkage():
    x, y = gaussian_classes([20, 20, 20], 5, seed=6)
    result = sfda(x, y, shrinkage=0.5)
    assert result.trace["shrinkage"] == 0.5 and result.trace["lambda_max"] is None
    assert result.score != pytest.approx(sfda(x, y).score)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sfda(x, y, shrinkage=1.5)


def _robustness_cases():
    rng = np.random.default_rng(11)
    x, y = gaussian_classes([10, 10, 10], 40, seed=1)  # N < D
    yield "n_lt_d", x, y
    xd = gaussian_classes([30, 30, 30], 8, seed=2)[0]
    xd[:, :3] = 0.0
    yield "dead_dims", xd, gaussian_classes([30, 30, 30], 8, seed=2)[1]
    xc, yc = gaussian_classes([30, 30], 6, seed=3)
    xc[:, 2] = 7.0
    yield "constant_dim", xc, yc
    yield "all_constant", np.full((12, 4), 3.0), np.repeat([0, 1, 2], 4)
    xs, ys = gaussian_classes([1, 20, 20], 5, seed=4)
    yield "single_sample_class", xs, ys
    yield "two_classes", *gaussian_classes([25, 25], 5, seed=5)
    yield "imbalanced", *gaussian_classes([3, 200, 8], 6, seed=6)
    yield "huge_scale", *gaussian_classes([20, 20, 20], 6, seed=7, scale=1e6)
    yield "tiny_scale", *gaussian_classes([20, 20, 20], 6, seed=7, scale=1e-6)
    yield "point_mass_classes", np.repeat(rng.normal(size=(3, 5)), 4, axis=0), np.repeat([0, 1, 2], 4)
    xl = rng.normal(size=(30, 50)) @ rng.normal(size=(50, 50))
    xl = np.maximum(xl, 0) * 100.0  # raw-scale ReLU-like, singular S_W
    yield "singular_raw", xl, np.arange(30) % 3


@pytest.mark.parametrize("name,x,y", list(_robustness_cases()), ids=[c[0] for c in _robustness_cases()])
def test_robust_inputs_give_a_valid_probability(name, x, y):
    result = compute("sfda", x, y)
    assert np.isfinite(result.score) and 0.0 < result.score <= 1.0 + 1e-12, (name, result.score)
    for key in ("class_posterior", "class_posterior_first", "mixing_weights"):
        assert np.all(np.isfinite(result.trace[key])), key
    if name == "all_constant":  # nothing separates the classes: posteriors equal the priors
        assert result.score == pytest.approx(1 / 3)
    if name == "point_mass_classes":  # every class a single point: perfectly separable
        assert result.score == pytest.approx(1.0)


def test_scale_dependence_of_shrinkage():
    x, y = gaussian_classes([20, 20, 20], 6, seed=9)
    lams = [compute("sfda", x * s, y).trace["shrinkage"] for s in (1e-3, 1.0, 1e3)]
    assert lams[0] > 0.99 and lams[2] == 1e-10 and lams[0] > lams[1] > lams[2]


def test_torch_backend_matches_numpy():
    pytest.importorskip("torch")
    x, y = gaussian_classes([30, 20, 25, 25], 16, seed=10, separation=1.0)
    a = compute("sfda", x, y, backend="numpy")
    b = compute("sfda", x, y, backend="torch")
    np.testing.assert_allclose(b.score, a.score, rtol=1e-9)
    np.testing.assert_allclose(b.trace["class_posterior"], a.trace["class_posterior"], rtol=1e-9)
    model_np = ShrinkageLDA(backend="numpy").fit(x, y)
    model_t = ShrinkageLDA(backend="torch").fit(x, y)
    np.testing.assert_allclose(model_t.fisher_eigenvalues_, model_np.fisher_eigenvalues_, rtol=1e-9)


def test_translation_invariant_even_with_a_large_offset():
    # Centred logits: a common offset (raw features far from the origin) does not cost precision.
    x, y = gaussian_classes([20, 30, 25], 6, seed=12, separation=0.7)
    base = compute("sfda", x, y)
    shifted = compute("sfda", x + 1e5, y)
    np.testing.assert_allclose(shifted.score, base.score, rtol=1e-8)
    np.testing.assert_allclose(shifted.trace["class_posterior"], base.trace["class_posterior"], rtol=1e-7)
