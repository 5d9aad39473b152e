"""Rank correlation of metric scores with ground-truth accuracies (transvis.metrics.correlation)."""

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from tests.refcases import REFVECTOR_DIR
from transvis.metrics.correlation import (
    correlate,
    kendall_tau,
    pearson,
    recall_at_k,
    rel_at_k,
    spearman,
    top1_regret,
    topk_overlap,
    weighted_tau,
)

TAU_FILE = Path(REFVECTOR_DIR) / "weighted_tau.json"
PAIRS = json.loads(TAU_FILE.read_text())["pairs"] if TAU_FILE.exists() else []


def _dicts(pair):
    return dict(zip(pair["models"], pair["scores"])), dict(zip(pair["models"], pair["accs"]))


def test_reference_pairs_are_present():
    assert len(PAIRS) >= 8


@pytest.mark.parametrize("pair", PAIRS, ids=[p["id"] for p in PAIRS])
def test_weighted_tau_reproduces_reference(pair):
    scores, accs = _dicts(pair)
    assert weighted_tau(scores, accs) == pytest.approx(pair["weightedtau"], abs=1e-12, rel=0)
    assert weighted_tau(pair["scores"], pair["accs"]) == pytest.approx(pair["weightedtau"], abs=1e-12, rel=0)
    # the defaults symmetrise: swapping the arguments changes nothing
    assert weighted_tau(accs, scores) == pytest.approx(pair["weightedtau_swapped_args"], abs=1e-12, rel=0)
    assert correlate(scores, accs)["weighted_tau"] == pytest.approx(pair["weightedtau"], abs=1e-12, rel=0)


@pytest.mark.parametrize(
    "pair", [p for p in PAIRS if p["reproduces_published_to_3dp"]],
    ids=[p["id"] for p in PAIRS if p["reproduces_published_to_3dp"]],
)
def test_weighted_tau_reproduces_published_table(pair):
    assert round(weighted_tau(*_dicts(pair)), 3) == pytest.approx(pair["published_weighted_tau"], abs=1e-9)


def test_dict_order_does_not_matter():
    pair = PAIRS[0]
    scores, accs = _dicts(pair)
    reversed_scores = dict(reversed(list(scores.items())))
    a, b = correlate(scores, accs), correlate(reversed_scores, accs)
    for key in a:
        if isinstance(a[key], float):
            assert a[key] == pytest.approx(b[key], abs=1e-14), key


def test_classical_coefficients_equal_scipy():
    rng = np.random.default_rng(0)
    s, a = rng.normal(size=9), rng.normal(size=9)
    assert kendall_tau(s, a) == pytest.approx(scipy.stats.kendalltau(s, a).statistic, abs=1e-15)
    assert spearman(s, a) == pytest.approx(scipy.stats.spearmanr(s, a).statistic, abs=1e-15)
    assert pearson(s, a) == pytest.approx(scipy.stats.pearsonr(s, a).statistic, abs=1e-15)
    out = correlate(list(s), list(a))
    assert out["kendall_tau"] == pytest.approx(scipy.stats.kendalltau(s, a).statistic, abs=1e-15)
    assert out["n_models"] == 9


def test_perfect_and_reversed_ranking():
    acc = {"a": 70.0, "b": 80.0, "c": 90.0, "d": 60.0}
    good = {"a": 0.2, "b": 0.3, "c": 0.9, "d": -1.0}
    bad = {m: -v for m, v in good.items()}
    out = correlate(good, acc)
    assert out["weighted_tau"] == pytest.approx(1.0)
    assert out["kendall_tau"] == pytest.approx(1.0)
    assert out["top1_regret"] == 0.0
    assert out["rel@1"] == 1.0 and out["recall@1"] == 1.0 and out["overlap@3"] == 1.0
    assert out["best_model"] == "c" and out["top1_model"] == "c"
    rev = correlate(bad, acc)
    assert rev["weighted_tau"] == pytest.approx(-1.0)
    assert rev["top1_model"] == "d"
    assert rev["top1_regret"] == pytest.approx(30.0)
    assert rev["rel@1"] == pytest.approx(60.0 / 90.0)
    assert rev["recall@3"] == 0.0
    assert "rel@5" not in rev  # k above the number of models is skipped


def _sfda_rel_k(score, acc, k):
    """The SFDA-family rel_k, written out (valid without ties)."""
    top = sorted(score, key=score.get, reverse=True)[:k]
    return max(acc[m] for m in top) / max(acc.values())


def test_rel_at_k_is_the_sfda_definition_without_ties():
    rng = np.random.default_rng(1)
    models = [f"m{i}" for i in range(8)]
    for _ in range(20):
        score = dict(zip(models, rng.normal(size=8)))
        acc = dict(zip(models, rng.uniform(50, 95, size=8)))
        for k in (1, 2, 3, 5):
            assert rel_at_k(score, acc, k) == pytest.approx(_sfda_rel_k(score, acc, k), rel=1e-15)


def _brute_force(score, acc, k):
    """Averages over every tie-break order (the definition the functions implement in closed form)."""
    n = len(score)
    rel, rec, ovl, regret, count = 0.0, 0.0, 0.0, 0.0, 0
    for tie_s in itertools.permutations(range(n)):
        for tie_a in itertools.permutations(range(n)):
            by_s = sorted(range(n), key=lambda i: (-score[i], tie_s[i]))
            by_a = sorted(range(n), key=lambda i: (-acc[i], tie_a[i]))
            top_s, top_a = set(by_s[:k]), set(by_a[:k])
            rel += max(acc[i] for i in top_s) / max(acc)
            rec += by_s[0] in top_a
            ovl += len(top_s & top_a) / k
            regret += max(acc) - acc[by_s[0]]
            count += 1
    return rel / count, rec / count, ovl / count, regret / count


@pytest.mark.parametrize("seed", range(6))
def test_ties_are_averaged_over_every_tie_break(seed):
    rng = np.random.default_rng(seed)
    n = 5
    score = rng.integers(0, 3, size=n).astype(float)
    acc = rng.integers(1, 4, size=n).astype(float) * 10
    if np.all(score == score[0]):
        score[0] += 1
    for k in (1, 2, 3):
        rel, rec, ovl, regret = _brute_force(list(score), list(acc), k)
        assert rel_at_k(score, acc, k) == pytest.approx(rel, rel=1e-12)
        assert recall_at_k(score, acc, k) == pytest.approx(rec, rel=1e-12, abs=1e-15)
        assert topk_overlap(score, acc, k) == pytest.approx(ovl, rel=1e-12, abs=1e-15)
        assert top1_regret(score, acc) == pytest.approx(regret, rel=1e-12, abs=1e-12)


def test_top1_tie_regret_is_the_mean_over_the_tied_models():
    scores = {"a": 1.0, "b": 1.0, "c": 0.0}
    accs = {"a": 90.0, "b": 80.0, "c": 85.0}
    assert top1_regret(scores, accs) == pytest.approx(5.0)
    out = correlate(scores, accs)
    assert sorted(out["top1_model"]) == ["a", "b"]
    assert out["rel@1"] == pytest.approx(85.0 / 90.0)


def test_constant_scores_give_nan_coefficients_not_errors():
    out = correlate({"a": 1.0, "b": 1.0, "c": 1.0}, {"a": 1.0, "b": 2.0, "c": 3.0})
    for key in ("weighted_tau", "kendall_tau", "spearman", "pearson"):
        assert math.isnan(out[key]), key
    assert out["top1_regret"] == pytest.approx(1.0)  # expected regret of a random pick: 3 − 2


def test_strict_false_uses_the_shared_models():
    scores = {"a": 1.0, "b": 2.0, "c": 3.0, "x": 9.0}
    accs = {"a": 1.0, "b": 2.0, "c": 3.0, "y": 0.0}
    with pytest.raises(ValueError, match="different models"):
        correlate(scores, accs)
    out = correlate(scores, accs, strict=False)
    assert out["n_models"] == 3 and out["kendall_tau"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "scores,accs,match",
    [
        ({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.0}, "at least 3"),
        ({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 1.0, "b": 2.0}, "different models"),
        ({"a": 1.0, "b": float("nan"), "c": 3.0}, {"a": 1.0, "b": 2.0, "c": 3.0}, r"NaN/inf for \['b'\]"),
        ({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 1.0, "b": float("inf"), "c": 3.0}, "accuracies contain NaN"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], "3 entries but accuracies has 2"),
        ({"a": 1.0, "b": 2.0, "c": 3.0}, [1.0, 2.0, 3.0], "both be"),
        ({"a": "x", "b": 2.0, "c": 3.0}, {"a": 1.0, "b": 2.0, "c": 3.0}, "real numbers"),
    ],
)
def test_invalid_inputs_raise_clear_errors(scores, accs, match):
    with pytest.raises(ValueError, match=match):
        correlate(scores, accs)


def test_k_must_be_valid():
    s, a = [1.0, 2.0, 3.0], [3.0, 2.0, 1.0]
    for bad in (0, 4, 1.5, True):
        with pytest.raises(ValueError, match="k must be"):
            rel_at_k(s, a, bad)
    with pytest.raises(ValueError, match="ks must"):
        correlate(s, a, ks=(0,))
    with pytest.raises(ValueError, match="positive"):
        rel_at_k(s, [-1.0, -2.0, -3.0], 1)


def test_inputs_are_not_modified():
    s, a = np.array([3.0, 1.0, 2.0, 5.0]), np.array([1.0, 2.0, 3.0, 4.0])
    s0, a0 = s.copy(), a.copy()
    correlate(s, a)
    np.testing.assert_array_equal(s, s0)
    np.testing.assert_array_equal(a, a0)
