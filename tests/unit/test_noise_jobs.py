"""Noise estimated one model at a time (transvis.noise_jobs) equals rank_models' noise over the whole pool."""

import numpy as np
import pytest

from tests.synthetic import blobs
from transvis.noise_jobs import POOL_UNIT, merge_noise, noise_job, noise_units, score_noise, with_noise
from transvis.ranking import rank_models
from transvis.uncertainty import Resampling

PLAN = Resampling(n_replicates=4)


def _pool(n_models=4):
    """Models of one dataset (same labels: paired subsets), features of different quality."""
    _, labels = blobs(120, 6, 4, seed=0)
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 12))
    return {f"m{i}": (centres[labels] + (0.6 + 0.4 * i) * rng.normal(size=(labels.size, 12)), labels)
            for i in range(n_models)}


def _assert_same_noise(merged, whole):
    assert list(merged.estimate) == list(whole.estimate)
    assert merged.estimate == whole.estimate
    for m in whole.estimate:
        np.testing.assert_array_equal(merged.replicates[m], whole.replicates[m])
    assert merged.factor == whole.factor and merged.signature == whole.signature
    assert merged.resampling == whole.resampling and merged.higher_is_better == whole.higher_is_better
    models = list(whole.estimate)
    assert merged.noise_groups() == whole.noise_groups()
    for a in models:
        assert merged.se(a) == whole.se(a)
        for b in models:
            if a != b:
                assert merged.difference_se(a, b) == whole.difference_se(a, b)


@pytest.mark.parametrize("metric, params", [("logme", None), ("fsp", {"fsp": {"spread": 0.35, "attract": 0.2}})])
def test_per_model_noise_merges_to_the_pools(metric, params):
    pool = _pool()
    whole = rank_models(pool, [metric], params=params, resamples=PLAN).noise[metric]
    units = noise_units(pool, metric)
    assert list(units) == list(pool) and all(list(u) == [m] for m, u in units.items())
    merged = merge_noise(score_noise(unit, metric, params, resamples=PLAN) for unit in units.values())
    _assert_same_noise(merged, whole)
    # paired: every model's subsets are the same samples
    assert len(set(merged.signature.values())) == 1


def test_a_pool_level_metric_is_one_unit_and_the_job_gives_the_pools_noise():
    pool = _pool()
    units = noise_units(pool, "ncti")
    assert list(units) == [POOL_UNIT] and list(units[POOL_UNIT]) == list(pool)
    job = noise_job(pool, "ncti", resamples=PLAN).start()
    status = job.wait(120)
    assert status.state == "done" and (status.done, status.total) == (1, 1)
    whole = rank_models(pool, ["ncti"], resamples=PLAN).noise["ncti"]
    _assert_same_noise(merge_noise(job.result.values()), whole)


def test_the_job_runs_one_model_per_unit_and_its_table_equals_rank_models():
    pool = _pool()
    cache = {}
    point = rank_models(pool, ["logme"], stats_cache=cache)
    assert point.noise == {}
    job = noise_job(pool, "logme", resamples=PLAN, stats_cache=cache).start()
    status = job.wait(120)
    assert status.state == "done" and (status.done, status.total) == (4, 4)
    table = with_noise(point, "logme", merge_noise(job.result.values()))
    whole = rank_models(pool, ["logme"], resamples=PLAN)
    _assert_same_noise(table.noise["logme"], whole.noise["logme"])
    assert table.score_se.equals(whole.score_se)
    assert table.noise_groups("logme") == whole.noise_groups("logme")
    assert point.noise == {}  # the point table is left as it was


def test_merge_refuses_mismatched_parts_and_keeps_none_for_nothing():
    pool = _pool(2)
    a = score_noise({"m0": pool["m0"]}, "logme", resamples=PLAN)
    b = score_noise({"m1": pool["m1"]}, "logme", resamples=Resampling(n_replicates=3))
    assert merge_noise([None, None]) is None
    assert merge_noise([a, None]).estimate == a.estimate
    with pytest.raises(ValueError, match="one resampling plan"):
        merge_noise([a, b])
    with pytest.raises(ValueError, match="disjoint models"):
        merge_noise([a, a])


def test_with_noise_refuses_noise_of_other_scores():
    pool = _pool(2)
    point = rank_models(pool, ["logme"])
    other = score_noise(pool, "logme", resamples=PLAN)
    assert with_noise(point, "logme", other).noise["logme"] is other
    shifted = merge_noise([other])
    shifted.estimate["m0"] += 1.0
    with pytest.raises(ValueError, match="does not belong to this table"):
        with_noise(point, "logme", shifted)
    assert with_noise(point, "logme", None).noise == {}


@pytest.mark.parametrize("metric", ["nleep", "parc"])
def test_an_opt_in_metric_scored_one_model_per_unit_equals_rank_models(metric):
    from transvis.noise_jobs import merge_model_tables, scoring_job

    pool = _pool()
    job = scoring_job(pool, metric).start()
    status = job.wait(300)
    assert status.state == "done" and (status.done, status.total) == (4, 4)
    merged = merge_model_tables(job.result[m] for m in pool)
    whole = rank_models(pool, [metric])
    assert merged.models == whole.models and merged.metrics == [metric]
    np.testing.assert_array_equal(merged.scores.to_numpy(), whole.scores.to_numpy())
    np.testing.assert_array_equal(merged.ranks.to_numpy(), whole.ranks.to_numpy())
    assert sorted(merged.ranks[metric]) == [1.0, 2.0, 3.0, 4.0]
    assert {m: r.score for m, r in merged.results[metric].items()} == {m: r.score for m, r in whole.results[metric].items()}
    assert merged.skipped == whole.skipped and merged.failed == whole.failed and merged.noise == {}


def test_merge_model_tables_refuses_a_pool_level_metric():
    from transvis.noise_jobs import merge_model_tables

    pool = _pool(2)
    with pytest.raises(ValueError, match="combine scores over the pool"):
        merge_model_tables([rank_models({m: pool[m]}, ["ncti"]) for m in pool])
