"""LEEP and NCE: hand-computed values, an independent transcription of the official loops, traces."""

import numpy as np
import pytest

from tests.metric_calls import gaussian_classes
from transvis.metrics import compute, get_spec
from transvis.metrics.leep import leep
from transvis.metrics.nce import nce


def _random_probs(n, n_source, seed):
    logits = np.random.default_rng(seed).normal(size=(n, n_source)) * 2.0
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True)


def _leep_by_loops(probs, labels):
    """thuml/LogME LEEP.py, re-typed as explicit loops."""
    n, n_source = probs.shape
    n_target = labels.max() + 1
    joint = np.zeros((n_target, n_source))
    for i in range(n):
        joint[labels[i]] += probs[i] / n
    cond = joint / joint.sum(axis=0, keepdims=True)
    return np.mean([np.log(probs[i] @ cond[labels[i]]) for i in range(n)])


def test_leep_equals_the_official_formula():
    x, y = gaussian_classes([20, 30, 25], 4, seed=3)
    probs = _random_probs(y.size, 9, seed=4)
    result = compute("leep", x, y, source_probs=probs)
    np.testing.assert_allclose(result.score, _leep_by_loops(probs, y), rtol=1e-12)
    cond = result.trace["p_target_given_source"]
    assert cond.shape == (3, 9)
    np.testing.assert_allclose(cond.sum(axis=0), 1.0)
    np.testing.assert_allclose(result.trace["joint"].sum(), 1.0)
    counts = np.bincount(y)
    np.testing.assert_allclose(result.trace["per_class_log_likelihood"] @ counts / y.size, result.score)


def test_leep_is_zero_for_a_deterministic_source_to_target_map():
    # Source classes 0,1 -> target 0; 2 -> target 1; one-hot source predictions: P(y|x) = 1 exactly.
    source = np.array([0, 1, 2, 2, 0, 1, 2])
    labels = np.array([0, 0, 1, 1, 0, 0, 1])
    probs = np.eye(3)[source]
    assert compute("leep", np.zeros((7, 2)), labels, source_probs=probs).score == pytest.approx(0.0, abs=1e-15)


def test_leep_of_an_uninformative_source_is_minus_label_entropy():
    labels = np.array([0, 0, 0, 1])
    probs = np.full((4, 5), 0.2)  # identical predictions for every sample
    # P(y|z) = class prior for every z, so LEEP = mean log prior.
    expected = np.mean(np.log([0.75, 0.75, 0.75, 0.25]))
    assert compute("leep", np.ones((4, 1)), labels, source_probs=probs).score == pytest.approx(expected, rel=1e-12)


def test_nce_hand_computed():
    # z = 0 splits its samples 1:1 between two targets (H = log 2), z = 1 is pure (H = 0); P(z) = 1/2 each.
    source = np.array([0, 0, 1, 1])
    labels = np.array([0, 1, 1, 1])
    result = compute("nce", np.zeros((4, 3)), labels, source_probs=np.eye(2)[source])
    assert result.score == pytest.approx(-0.5 * np.log(2), rel=1e-12)
    np.testing.assert_allclose(result.trace["entropy_given_source"], [np.log(2), 0.0], atol=1e-15)
    np.testing.assert_allclose(result.trace["joint"], [[0.25, 0.0], [0.25, 0.5]])


def test_nce_argmax_ties_go_to_the_first_source_class():
    probs = np.array([[0.5, 0.5, 0.0], [0.25, 0.5, 0.25], [0.4, 0.2, 0.4]])
    result = compute("nce", np.zeros((3, 1)), np.array([0, 1, 1]), source_probs=probs)
    np.testing.assert_array_equal(result.trace["source_labels"], [0, 1, 0])


def test_nce_matches_a_direct_conditional_entropy():
    x, y = gaussian_classes([40, 35, 25, 30], 3, seed=8)
    probs = _random_probs(y.size, 6, seed=9)
    z = probs.argmax(axis=1)
    expected = 0.0
    for s in np.unique(z):
        in_s = y[z == s]
        p = np.bincount(in_s, minlength=4) / in_s.size
        p = p[p > 0]
        expected += in_s.size / y.size * (p * np.log(p)).sum()
    assert compute("nce", x, y, source_probs=probs).score == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", ["leep", "nce"])
def test_needs_source_probs_and_rejects_logits(name):
    x, y = gaussian_classes([5, 5], 2, seed=0)
    assert get_spec(name).needs_source_probs
    with pytest.raises(ValueError, match="source_probs"):
        compute(name, x, y)
    with pytest.raises(ValueError, match="logits"):
        compute(name, x, y, source_probs=np.random.default_rng(0).normal(size=(10, 3)))


@pytest.mark.parametrize("fn", [leep, nce])
def test_direct_call_validates_and_leaves_inputs_alone(fn):
    x, y = gaussian_classes([6, 6, 6], 3, seed=1)
    probs = _random_probs(18, 4, seed=2)
    before = probs.copy()
    direct = fn(x, y, source_probs=probs)
    assert direct.score == compute(fn.__name__, x, y, source_probs=probs).score
    np.testing.assert_array_equal(probs, before)
    with pytest.raises(ValueError, match="rows"):
        fn(x, y, source_probs=probs[:-1])


@pytest.mark.parametrize("name", ["leep", "nce"])
def test_unused_source_class_does_not_produce_nan(name):
    # A source class with zero probability everywhere (e.g. after float underflow) has P(z) = 0.
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0], [0.1, 0.9, 0.0]])
    result = compute(name, np.zeros((4, 2)), np.array([0, 1, 0, 1]), source_probs=probs)
    assert np.isfinite(result.score)
    assert np.all(np.isfinite(result.trace["p_target_given_source"]))
