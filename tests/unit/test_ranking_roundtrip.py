"""RankingTable.from_dict / from_json: the round trip of to_dict, with and without traces; select()."""

import json
import math

import numpy as np
import pandas as pd
import pytest

import transvis.metrics._contract as contract
from transvis.features.featureset import FeatureSet
from transvis.metrics import MetricResult, MetricSpec
from transvis.ranking import RankingTable, rank_models


def _pool(n_models=4, n_classes=3, n_per_class=15, n_dims=5, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    pool = {}
    for k in range(n_models):
        x = (rng.normal(size=(n_classes, n_dims)) * (0.5 + k))[labels] + rng.normal(size=(labels.size, n_dims))
        probs = rng.dirichlet(np.ones(4), size=labels.size) if k else None  # model-0 has no source head
        pool[f"model-{k}"] = FeatureSet(features=x, labels=labels, class_names=["a", "b", "c"],
                                        model_id=f"model-{k}", dataset_id="toy", source_probs=probs)
    return pool


def _odd_trace(features, labels, *, stats=None):
    """A metric whose trace holds every kind of value a trace may hold (and fails on one model)."""
    if features.shape[0] and abs(features[0, 0] - _odd_trace.fail_on) < 1e-12:
        raise RuntimeError("boom")
    return MetricResult(name="odd", score=float(features.mean()), trace={
        "matrix": np.arange(6, dtype=np.float32).reshape(2, 3), "ints": np.array([3, 1, 2], dtype=np.int64),
        "flags": np.array([True, False]), "nan": math.nan, "inf": -math.inf, "count": np.int64(7),
        "nested": {"value": np.float64(0.25), "items": [1, None, "x", math.nan]}, "tuple": (1, 2), "none": None,
    }, params={"alpha": 1.0})


@pytest.fixture
def table(monkeypatch):
    pool = _pool()
    _odd_trace.fail_on = float(pool["model-3"].features[0, 0])
    monkeypatch.setitem(contract._REGISTRY, "odd", MetricSpec(name="odd", fn=_odd_trace, summary="t", citation="t"))
    groundtruth = {"model-0": 0.5, "model-1": 0.6, "model-2": 0.7, "model-3": 0.9}
    return rank_models(pool, ["logme", "leep", "ncti", "odd"], groundtruth=groundtruth)


def test_to_json_from_json_round_trip_keeps_everything_the_pages_read(table):
    assert table.skipped and table.failed  # the fixture exercises both
    back = RankingTable.from_json(table.to_json(traces=True))
    pd.testing.assert_frame_equal(back.scores, table.scores)
    pd.testing.assert_frame_equal(back.ranks, table.ranks)
    assert back.skipped == table.skipped and back.failed == table.failed
    assert back.groundtruth == table.groundtruth
    assert back.correlation_skipped == table.correlation_skipped
    assert back.correlations.keys() == table.correlations.keys()
    for metric, stats in table.correlations.items():
        for name, value in stats.items():
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(back.correlations[metric][name])
            else:
                assert back.correlations[metric][name] == value
    assert back.weighted_tau == pytest.approx(table.weighted_tau, nan_ok=True)
    for metric, per_model in table.results.items():
        assert back.results[metric].keys() == per_model.keys()
        for model, result in per_model.items():
            got = back.results[metric][model]
            assert (got.name, got.score, got.variant, got.params) == (result.name, result.score, result.variant,
                                                                      result.params)
            assert got.trace.keys() == result.trace.keys()
            for name, value in result.trace.items():
                if isinstance(value, np.ndarray):
                    assert got.trace[name].dtype == value.dtype
                    np.testing.assert_array_equal(got.trace[name], value)
    odd = back.results["odd"]["model-1"].trace
    assert math.isnan(odd["nan"]) and odd["inf"] == -math.inf and odd["count"] == 7
    assert odd["nested"]["value"] == 0.25 and odd["nested"]["items"][:3] == [1, None, "x"]
    assert math.isnan(odd["nested"]["items"][3]) and odd["tuple"] == [1, 2] and odd["none"] is None
    # NCTI's pool-combined score is what the result carries, so pages drawing from results agree with the table
    assert back.results["ncti"]["model-2"].score == table.scores.at["model-2", "ncti"]


def test_the_json_is_strict_and_the_default_dict_has_no_results(table):
    text = table.to_json(traces=True)
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert "results" not in table.to_dict()


def test_from_dict_without_traces_gives_scores_and_empty_traces(table):
    back = RankingTable.from_dict(json.loads(table.to_json()))
    pd.testing.assert_frame_equal(back.scores, table.scores)
    assert set(back.results["leep"]) == {"model-1", "model-2", "model-3"}  # model-0 was skipped
    assert back.results["leep"]["model-2"].score == table.scores.at["model-2", "leep"]
    assert back.results["leep"]["model-2"].trace == {}


def test_select_keeps_one_metric_and_its_bookkeeping(table):
    leep = table.select(["leep"])
    assert leep.metrics == ["leep"] and list(leep.results) == ["leep"]
    assert all(metric == "leep" for _, metric, _ in leep.skipped) and leep.skipped
    assert leep.failed == [] and set(leep.correlations) <= {"leep"}
    pd.testing.assert_series_equal(leep.ranks["leep"], table.ranks["leep"])
    with pytest.raises(ValueError, match="no metric"):
        table.select(["sfda"])


@pytest.mark.parametrize("bad", [{}, {"metrics": []}, [], "text"])
def test_from_dict_rejects_what_to_dict_does_not_write(bad):
    with pytest.raises(ValueError, match="not a ranking table"):
        RankingTable.from_dict(bad)
    with pytest.raises(ValueError, match="invalid JSON"):
        RankingTable.from_json("{not json")
