"""rank_models: one ClassStats per model shared by every metric, pool-level metrics, ranks, ground truth."""

import json
import math

import numpy as np
import pytest

import transvis.metrics._contract as contract
import transvis.metrics._stats as stats_module
from transvis.features.featureset import FeatureSet
from transvis.metrics import MetricResult, MetricSpec, available, compute, ensure_stats
from transvis.metrics.correlation import correlate
from transvis.ranking import RankingTable, rank_models


def _pool(n_models=4, n_classes=3, n_per_class=20, n_dims=6, seed=0, with_probs=False):
    """Models with growing class separation (model k separates classes more than model k-1)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    pool = {}
    for k in range(n_models):
        means = rng.normal(size=(n_classes, n_dims)) * (0.5 + k)
        x = means[labels] + rng.normal(size=(labels.size, n_dims))
        probs = rng.dirichlet(np.ones(5), size=labels.size) if with_probs else None
        pool[f"model-{k}"] = FeatureSet(
            features=x, labels=labels, class_names=[str(c) for c in range(n_classes)],
            model_id=f"model-{k}", dataset_id="toy", source_probs=probs,
        )
    return pool


def _fake(monkeypatch, name, fn, **spec_kwargs):
    """Register a throw-away metric for one test (the registry is restored afterwards)."""
    spec = MetricSpec(name=name, fn=fn, summary="test metric", citation="none", **spec_kwargs)
    monkeypatch.setitem(contract._REGISTRY, name, spec)
    return spec


def _mean_norm(features, labels, *, stats=None, offset=0.0):
    stats = ensure_stats(features, labels, stats)
    return MetricResult("toy_norm", float(np.linalg.norm(stats.class_means, axis=1).mean()) + offset)


def test_scores_equal_standalone_compute_and_ranks_are_one_for_best():
    pool = _pool()
    table = rank_models(pool, ["hscore", "hscore_shrinkage"])
    assert isinstance(table, RankingTable)
    assert table.models == list(pool) and table.metrics == ["hscore", "hscore_shrinkage"]
    for model, fs in pool.items():
        for metric in ("hscore", "hscore_shrinkage"):
            expected = compute(metric, fs.features, fs.labels).score
            assert table.scores.at[model, metric] == pytest.approx(expected, rel=1e-12)
            assert table.results[metric][model].score == pytest.approx(expected, rel=1e-12)
    # better-separated models score higher, so model-3 is ranked 1
    assert table.ranks["hscore"].tolist() == [4.0, 3.0, 2.0, 1.0]
    assert table.skipped == [] and table.failed == []
    assert (table.seconds.to_numpy() >= 0).all()


def test_ties_share_the_min_rank():
    pool = _pool(n_models=3)
    pool["copy-of-2"] = pool["model-2"]
    table = rank_models(pool, ["hscore"])
    assert table.scores.at["copy-of-2", "hscore"] == table.scores.at["model-2", "hscore"]
    assert table.ranks.at["model-2", "hscore"] == 1.0
    assert table.ranks.at["copy-of-2", "hscore"] == 1.0
    assert table.ranks.at["model-1", "hscore"] == 3.0
    assert table.ranks.at["model-0", "hscore"] == 4.0


def test_one_class_stats_per_model_shared_by_all_metrics(monkeypatch):
    built = []
    original = stats_module.ClassStats.__init__

    def counting_init(self, *args, **kwargs):
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(stats_module.ClassStats, "__init__", counting_init)
    seen = []

    def spy(features, labels, *, stats=None):
        seen.append(stats)
        return _mean_norm(features, labels, stats=stats)

    _fake(monkeypatch, "toy_spy", spy)
    pool = _pool(n_models=3)
    metrics = ["hscore", "hscore_shrinkage", "toy_spy"]
    if "transrate" in available():
        metrics.append("transrate")
    rank_models(pool, metrics)
    assert len(built) == 3  # one per model, none rebuilt by a metric
    assert all(s is not None for s in seen)


def test_metric_needing_source_probs_is_skipped_with_a_reason(monkeypatch):
    def needs_probs(features, labels, *, stats=None, source_probs=None):
        return MetricResult("toy_probs", float(np.asarray(source_probs).max()))

    _fake(monkeypatch, "toy_probs", needs_probs, needs_source_probs=True)
    pool = _pool(n_models=3)
    fs = pool["model-1"]
    rng = np.random.default_rng(3)
    pool["model-1"] = (fs.features, fs.labels, rng.dirichlet(np.ones(4), size=fs.n_samples))
    table = rank_models(pool, ["toy_probs", "hscore"])
    skipped_models = {m for m, metric, _ in table.skipped if metric == "toy_probs"}
    assert skipped_models == {"model-0", "model-2"}
    assert all("source_probs" in reason for _, _, reason in table.skipped)
    assert math.isnan(table.scores.at["model-0", "toy_probs"])
    assert not math.isnan(table.scores.at["model-1", "toy_probs"])
    assert table.ranks.at["model-1", "toy_probs"] == 1.0
    assert table.failed == []


@pytest.mark.skipif("leep" not in available(), reason="leep module not registered yet")
def test_real_leep_without_source_probs_is_skipped_not_a_crash():
    pool = _pool(n_models=3)
    table = rank_models(pool, ["leep", "hscore"])
    assert len(table.skipped) == 3 and table.failed == []
    assert table.scores["leep"].isna().all()
    pool_probs = _pool(n_models=3, with_probs=True)
    table = rank_models(pool_probs, ["leep"])
    assert table.skipped == [] and table.scores["leep"].notna().all()


def _minmax_pool(results):
    values = {m: r.score for m, r in results.items()}
    lo, hi = min(values.values()), max(values.values())
    return {m: 0.0 if hi == lo else (v - lo) / (hi - lo) for m, v in values.items()}


def test_pool_level_metric_is_combined_across_the_pool(monkeypatch):
    def raw(features, labels, *, stats=None):
        return MetricResult("toy_pool", _mean_norm(features, labels, stats=stats).score, {"raw": 1})

    _fake(monkeypatch, "toy_pool", raw, pool_combine=_minmax_pool)
    pool = _pool(n_models=4)
    full = rank_models(pool, ["toy_pool"])
    raw_scores = {m: compute("toy_pool", fs.features, fs.labels).score for m, fs in pool.items()}
    assert full.scores["toy_pool"].to_dict() == pytest.approx(_minmax_pool(
        {m: MetricResult("x", s) for m, s in raw_scores.items()}))
    assert full.scores["toy_pool"].min() == 0.0 and full.scores["toy_pool"].max() == 1.0
    assert full.results["toy_pool"]["model-1"].trace == {"raw": 1}  # trace kept, score replaced
    # dropping the best-scoring model changes the others' pool-level scores
    best = max(raw_scores, key=raw_scores.get)
    rest = [m for m in pool if m != best]
    smaller = rank_models({m: pool[m] for m in rest}, ["toy_pool"])
    middle = [m for m in rest if 0.0 < full.scores.at[m, "toy_pool"] < 1.0][0]
    assert smaller.scores.at[middle, "toy_pool"] > full.scores.at[middle, "toy_pool"] + 1e-6


@pytest.mark.skipif("ncti" not in available(), reason="ncti module not registered yet")
def test_real_ncti_depends_on_the_pool():
    pool = _pool(n_models=4, n_per_class=30, n_dims=8)
    full = rank_models(pool, ["ncti"])
    smaller = rank_models({m: pool[m] for m in ("model-0", "model-1", "model-2")}, ["ncti"])
    assert full.failed == [] and smaller.failed == []
    assert smaller.scores.at["model-1", "ncti"] != pytest.approx(full.scores.at["model-1", "ncti"])


def test_failures_are_recorded_or_raised(monkeypatch):
    def fragile(features, labels, *, stats=None):
        stats = ensure_stats(features, labels, stats)
        if stats.n_dims == 5:
            raise ArithmeticError("boom on D=5")
        return MetricResult("toy_fragile", float(stats.n_dims))

    _fake(monkeypatch, "toy_fragile", fragile)
    pool = _pool(n_models=2)
    rng = np.random.default_rng(0)
    pool["odd"] = (rng.normal(size=(30, 5)), np.repeat([0, 1, 2], 10))
    bad_x = rng.normal(size=(30, 6))
    bad_x[3, 2] = np.nan
    pool["broken"] = (bad_x, np.repeat([0, 1, 2], 10))
    table = rank_models(pool, ["toy_fragile", "hscore"])
    failed = {(m, metric): reason for m, metric, reason in table.failed}
    assert "ArithmeticError: boom on D=5" == failed[("odd", "toy_fragile")]
    assert ("odd", "hscore") not in failed
    assert failed[("broken", "hscore")].startswith("ValueError") and "NaN" in failed[("broken", "hscore")]
    assert failed[("broken", "toy_fragile")].startswith("ValueError")
    assert math.isnan(table.scores.at["broken", "hscore"])
    assert table.scores["hscore"].notna().sum() == 3
    with pytest.raises(ArithmeticError, match="boom"):
        rank_models(pool, ["toy_fragile"], on_error="raise")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"metrics": ["hscoer"]}, "Did you mean 'hscore'"),
        ({"metrics": ["hscore"], "params": {"hscore": {"nope": 1}}}, r"no parameter\(s\) \['nope'\]"),
        ({"metrics": ["hscore"], "params": {"sfda": {}}}, "not ranked"),
        ({"metrics": ["hscore"], "on_error": "ignore"}, "on_error"),
        ({"metrics": ["hscore", "hscore"]}, "unique"),
        ({"metrics": []}, "at least one metric"),
        ({"metrics": ["hscore"], "model_params": {"ghost": {"hscore": {}}}}, "not in the pool"),
        ({"metrics": ["hscore"], "model_params": {"model-0": {"hscore": {"nope": 2}}}}, "no parameter"),
    ],
)
def test_configuration_errors_fail_fast(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rank_models(_pool(n_models=2), **kwargs)


def test_unknown_variant_fails_fast(monkeypatch):
    def with_variant(features, labels, *, stats=None, variant="a"):
        return _mean_norm(features, labels, stats=stats)

    _fake(monkeypatch, "toy_variant", with_variant, variants=("a", "b"), default_variant="a")
    with pytest.raises(ValueError, match="no variant 'c'"):
        rank_models(_pool(n_models=2), ["toy_variant"], params={"toy_variant": {"variant": "c"}})
    table = rank_models(_pool(n_models=2), ["toy_variant"], params={"toy_variant": {"variant": "b"}})
    assert table.failed == []


def test_bad_pool_entries_raise():
    with pytest.raises(ValueError, match="FeatureSet or a tuple"):
        rank_models({"m": np.zeros((4, 2))}, ["hscore"])
    with pytest.raises(ValueError, match="non-empty"):
        rank_models({}, ["hscore"])


def test_params_and_model_params_reach_the_metric(monkeypatch):
    _fake(monkeypatch, "toy_norm", _mean_norm)
    pool = _pool(n_models=3)
    base = rank_models(pool, ["toy_norm"])
    shifted = rank_models(
        pool, ["toy_norm"], params={"toy_norm": {"offset": 1.0}},
        model_params={"model-0": {"toy_norm": {"offset": 100.0}}},
    )
    assert shifted.scores.at["model-1", "toy_norm"] == pytest.approx(base.scores.at["model-1", "toy_norm"] + 1.0)
    assert shifted.scores.at["model-0", "toy_norm"] == pytest.approx(base.scores.at["model-0", "toy_norm"] + 100.0)
    assert shifted.ranks.at["model-0", "toy_norm"] == 1.0


def test_lower_is_better_metric_ranks_ascending_and_correlates_with_its_sign(monkeypatch):
    def negated(features, labels, *, stats=None):
        return MetricResult("toy_low", -_mean_norm(features, labels, stats=stats).score)

    _fake(monkeypatch, "toy_low", negated, higher_is_better=False)
    _fake(monkeypatch, "toy_norm", _mean_norm)
    pool = _pool(n_models=4)
    gt = {f"model-{k}": 50.0 + 10 * k for k in range(4)}
    table = rank_models(pool, ["toy_low", "toy_norm"], groundtruth=gt)
    assert table.ranks["toy_low"].tolist() == table.ranks["toy_norm"].tolist()
    assert table.correlations["toy_low"]["weighted_tau"] == pytest.approx(
        table.correlations["toy_norm"]["weighted_tau"])


def test_groundtruth_correlations_and_json():
    pool = _pool(n_models=5)
    gt = {f"model-{k}": 60.0 + 5 * k for k in range(5)}
    gt["model-2"] = 90.0  # not monotone, so tau is not trivially 1
    table = rank_models(pool, ["hscore", "hscore_shrinkage"], groundtruth=gt)
    for metric in ("hscore", "hscore_shrinkage"):
        expected = correlate(table.scores[metric].to_dict(), gt)
        assert table.correlations[metric] == expected
        assert table.weighted_tau[metric] == pytest.approx(expected["weighted_tau"])
    data = json.loads(table.to_json())
    assert [entry["model"] for entry in data["models"]] == list(pool)
    first = data["models"][0]
    assert first["scores"]["hscore"] == pytest.approx(table.scores.at["model-0", "hscore"])
    assert isinstance(first["ranks"]["hscore"], int) and first["accuracy"] == 60.0
    assert data["weighted_tau"]["hscore"] == pytest.approx(table.correlations["hscore"]["weighted_tau"])


def test_correlation_needs_three_scored_models(monkeypatch):
    def probs_only(features, labels, *, stats=None, source_probs=None):
        return MetricResult("toy_p", float(np.asarray(source_probs)[:, 0].mean()))

    _fake(monkeypatch, "toy_p", probs_only, needs_source_probs=True)
    pool = _pool(n_models=4)
    for name in ("model-0", "model-1"):
        fs = pool[name]
        pool[name] = (fs.features, fs.labels, np.random.default_rng(1).dirichlet(np.ones(3), size=fs.n_samples))
    gt = {f"model-{k}": float(k) for k in range(4)}
    table = rank_models(pool, ["toy_p", "hscore"], groundtruth=gt)
    assert "toy_p" in table.correlation_skipped and "toy_p" not in table.correlations
    assert "hscore" in table.correlations
    data = json.loads(table.to_json())  # strict JSON even with NaN scores and a missing tau
    assert data["weighted_tau"]["toy_p"] is None
    assert data["models"][2]["scores"]["toy_p"] is None and data["models"][2]["ranks"]["toy_p"] is None


def test_inputs_are_not_modified():
    pool = _pool(n_models=3)
    tuples = {m: (fs.features.astype(np.float64), fs.labels.copy()) for m, fs in pool.items()}
    copies = {m: (x.copy(), y.copy()) for m, (x, y) in tuples.items()}
    rank_models(tuples, [m for m in ("hscore", "hscore_shrinkage", "sfda", "logme") if m in available()])
    for m, (x, y) in tuples.items():
        np.testing.assert_array_equal(x, copies[m][0])
        np.testing.assert_array_equal(y, copies[m][1])
        assert x.flags.writeable


def test_blas_threads_limit_is_scoped_and_validated():
    from threadpoolctl import threadpool_info

    pool = _pool(n_models=3)
    before = [info["num_threads"] for info in threadpool_info()]
    seen = []

    def spy(features, labels, *, stats=None):
        seen.append({info["num_threads"] for info in threadpool_info()})
        return _mean_norm(features, labels, stats=stats)

    reference = rank_models(pool, ["hscore", "sfda"])
    target = 2 if max(before) == 1 else 1  # a value different from the current one (tests run with 1)
    with pytest.MonkeyPatch().context() as patch:
        _fake(patch, "toy_threads", spy)
        limited = rank_models(pool, ["hscore", "sfda", "toy_threads"], blas_threads=target)
    assert len(seen) == 3 and all(threads == {target} for threads in seen)
    assert [info["num_threads"] for info in threadpool_info()] == before  # restored afterwards
    for metric in ("hscore", "sfda"):
        np.testing.assert_allclose(limited.scores[metric], reference.scores[metric], rtol=1e-12)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="blas_threads"):
            rank_models(pool, ["hscore"], blas_threads=bad)


def test_stats_cache_shares_statistics_across_calls(monkeypatch):
    from transvis import ranking
    from transvis.demo import synthetic_demo

    demo = synthetic_demo(n_models=3, seed=4)
    built = []
    real = ranking.ClassStats

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(ranking, "ClassStats", counting)
    cache = {}
    first = ranking.rank_models(demo.features, ["hscore"], stats_cache=cache)
    second = ranking.rank_models(demo.features, ["transrate"], stats_cache=cache)
    assert len(built) == 3 and set(cache) == set(demo.features)
    # Same numbers as without the cache.
    plain = ranking.rank_models(demo.features, ["hscore", "transrate"])
    assert first.scores["hscore"].equals(plain.scores["hscore"])
    assert np.allclose(second.scores["transrate"], plain.scores["transrate"], rtol=1e-12)


def test_saturated_sfda_and_ped_ties_are_reported_with_the_fix():
    """With N - C <= D the within-class scatter is singular: SFDA and PED (wrapping SFDA) classify every
    sample with certainty and tie at exactly 1.0; with N - C well above D the same models separate."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)  # N - C = 36 < D = 64
    pool = {f"m{i}": (rng.normal(size=(40, 64)) * 3 + labels[:, None] * 0.1, labels) for i in range(3)}
    table = rank_models(pool, ["sfda", "ped", "logme"])
    assert (table.scores["sfda"] == 1.0).all() and (table.scores["ped"] == 1.0).all()
    assert table.tied_scores() == {"sfda": [(1.0, ["m0", "m1", "m2"])], "ped": [(1.0, ["m0", "m1", "m2"])]}
    notes = table.tie_notes()
    assert set(notes) == {"sfda", "ped"}
    assert notes["sfda"].startswith("3 models score exactly 1. SFDA saturates at 1.0")
    assert "N - C <= D" in notes["sfda"] and "more images per class" in notes["sfda"]
    assert (table.ranks["sfda"] == 1).all()

    labels = np.repeat(np.arange(4), 60)  # N - C = 236 > D = 16
    pool = {f"m{i}": (rng.normal(size=(240, 16)) + labels[:, None] * (0.3 + 0.2 * i), labels) for i in range(3)}
    table = rank_models(pool, ["sfda", "ped"])
    assert table.tied_scores() == {} and table.tie_notes() == {}
    assert (table.scores["sfda"] < 1.0).all() and table.scores["sfda"].is_monotonic_increasing


def test_ties_without_a_saturation_hint_get_a_generic_note(monkeypatch):
    _fake(monkeypatch, "toy_const", lambda features, labels, *, stats=None: MetricResult("toy_const", 0.5, {}))
    table = rank_models(_pool(n_models=3), ["toy_const"])
    assert table.tied_scores() == {"toy_const": [(0.5, ["model-0", "model-1", "model-2"])]}
    assert table.tie_notes() == {"toy_const": "3 models score exactly 0.5. Tied models share a rank."}
