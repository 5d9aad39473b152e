"""rank_models(n_jobs=k): models scored in threads give the serial table (values, order, skips, failures)."""

import json

import numpy as np
import pytest

import transvis.metrics._contract as contract
from transvis.cli import main
from transvis.features.featureset import FeatureSet
from transvis.metrics import MetricResult, MetricSpec, ensure_stats
from transvis.ranking import rank_models

METRICS = ["logme", "hscore", "transrate", "sfda", "ped", "fsp", "ncti", "leep"]


def _relu_pool(n_models=5, n_classes=4, n_per_class=30, n_dims=24, seed=0):
    """ReLU features of growing class separation; every other model has source probabilities (for LEEP)."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(n_classes), n_per_class))
    pool, references = {}, {}
    for k in range(n_models):
        means = rng.normal(size=(n_classes, n_dims)) * (0.3 + 0.4 * k)
        x = np.maximum(means[labels] + rng.normal(size=(labels.size, n_dims)) + 0.2, 0.0).astype(np.float32)
        probs = rng.dirichlet(np.ones(6), size=labels.size) if k % 2 == 0 else None
        pool[f"model-{k}"] = FeatureSet(features=x, labels=labels, class_names=[str(c) for c in range(n_classes)],
                                        model_id=f"model-{k}", dataset_id="toy", source_probs=probs)
        references[f"model-{k}"] = {"ped": {"reference_features": np.abs(rng.normal(size=(40, n_dims)))}}
    return pool, references


def _assert_same_tables(a, b, *, exact=True):
    assert a.models == b.models and a.metrics == b.metrics
    if exact:
        np.testing.assert_array_equal(a.scores.to_numpy(), b.scores.to_numpy())
    else:
        np.testing.assert_allclose(a.scores.to_numpy(), b.scores.to_numpy(), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(a.ranks.to_numpy(), b.ranks.to_numpy())
    assert a.skipped == b.skipped
    assert a.failed == b.failed
    assert list(a.stats_seconds) == list(b.stats_seconds)
    np.testing.assert_array_equal(np.isnan(a.seconds.to_numpy()), np.isnan(b.seconds.to_numpy()))
    for metric in a.metrics:
        assert list(a.results[metric]) == list(b.results[metric])
        for model, result in a.results[metric].items():
            other = b.results[metric][model]
            assert (result.name, result.variant) == (other.name, other.variant)
            for key, value in result.trace.items():
                if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                    if exact:
                        np.testing.assert_array_equal(value, other.trace[key])
                    else:
                        np.testing.assert_allclose(value, other.trace[key], rtol=1e-10, atol=1e-12)


def test_threads_give_the_serial_table_bit_for_bit():
    pool, references = _relu_pool()
    kwargs = dict(params={"fsp": {"variant": "official"}}, model_params=references, backend="numpy", blas_threads=1)
    serial = rank_models(pool, METRICS, **kwargs)
    parallel = rank_models(pool, METRICS, n_jobs=2, **kwargs)
    _assert_same_tables(parallel, serial)
    # LEEP is skipped (no source probabilities) for the odd models, in pool order, in both.
    assert [s[:2] for s in parallel.skipped] == [("model-1", "leep"), ("model-3", "leep")]
    assert parallel.failed == []
    assert np.isfinite(parallel.scores.drop(columns="leep").to_numpy()).all()
    # NCTI's pool combination ran over the same per-model results.
    assert parallel.scores["ncti"].max() == pytest.approx(serial.scores["ncti"].max(), rel=0, abs=0)


def test_more_jobs_than_models_and_default_blas_setting_match_serial():
    pool, references = _relu_pool(n_models=3)
    serial = rank_models(pool, ["logme", "sfda", "ped"], model_params=references, backend="numpy")
    parallel = rank_models(pool, ["logme", "sfda", "ped"], model_params=references, backend="numpy", n_jobs=8)
    # n_jobs > 1 runs one BLAS thread per worker; the serial default may use more, which only changes the
    # order of floating-point sums.
    _assert_same_tables(parallel, serial, exact=False)


def _picky(features, labels, *, stats=None):
    """A metric that fails on models whose first feature is negative on average."""
    stats = ensure_stats(features, labels, stats)
    if stats.mean[0] < 0:
        raise ValueError("picky: negative first feature")
    return MetricResult("picky", float(stats.mean[0]))


def _failing_pool():
    pool, _ = _relu_pool(n_models=5)
    x_nan = pool["model-1"].features.copy()
    x_nan[3, 2] = np.nan
    pool["model-1"] = (x_nan, pool["model-1"].labels)
    x_neg = pool["model-3"].features.astype(np.float64) - 10.0
    pool["model-3"] = (x_neg, pool["model-3"].labels)
    single = np.zeros(pool["model-4"].labels.size, dtype=np.int64)
    pool["model-4"] = (pool["model-4"].features, single)
    return pool


def test_failures_are_recorded_per_model_in_pool_order(monkeypatch):
    monkeypatch.setitem(contract._REGISTRY, "picky", MetricSpec(name="picky", fn=_picky, summary="t", citation="t"))
    pool = _failing_pool()
    serial = rank_models(pool, ["hscore", "picky"], backend="numpy", blas_threads=1)
    parallel = rank_models(pool, ["hscore", "picky"], backend="numpy", blas_threads=1, n_jobs=3)
    _assert_same_tables(parallel, serial)
    failed = {(model, metric): reason for model, metric, reason in parallel.failed}
    assert [(m, c) for m, c, _ in parallel.failed] == [
        ("model-1", "hscore"), ("model-1", "picky"), ("model-3", "picky"), ("model-4", "hscore"),
        ("model-4", "picky"),
    ]
    assert "NaN" in failed[("model-1", "hscore")] and "single class" in failed[("model-4", "picky")]
    assert failed[("model-3", "picky")] == "ValueError: picky: negative first feature"
    # The failing models' healthy metrics still have scores; invalid models have none.
    assert np.isfinite(parallel.scores.at["model-3", "hscore"])
    assert np.isnan(parallel.scores.loc["model-1"]).all() and "model-1" not in parallel.stats_seconds


def test_raise_reports_the_first_failing_model_in_pool_order(monkeypatch):
    pool = _failing_pool()
    for jobs in (1, 2, 5):
        with pytest.raises(ValueError, match="NaN"):  # model-1's error, although model-4 fails too
            rank_models(pool, ["hscore"], backend="numpy", on_error="raise", n_jobs=jobs)


def test_stats_cache_is_filled_by_the_workers():
    pool, _ = _relu_pool(n_models=4)
    cache = {}
    first = rank_models(pool, ["hscore"], backend="numpy", stats_cache=cache, n_jobs=2)
    assert set(cache) == set(pool)
    assert all(cache[m].matches(pool[m].features, pool[m].labels) for m in pool)
    second = rank_models(pool, ["logme"], backend="numpy", stats_cache=cache, n_jobs=2)
    assert second.stats_seconds.keys() == first.stats_seconds.keys()
    assert all(cache[m].__dict__.get("total_eigh") is not None for m in pool)  # the cached stats were reused


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_n_jobs_must_be_a_positive_integer(bad):
    pool, _ = _relu_pool(n_models=2)
    with pytest.raises(ValueError, match="n_jobs must be a positive integer"):
        rank_models(pool, ["hscore"], n_jobs=bad)


def test_cli_rank_jobs_flag_gives_the_same_table(tmp_path):
    pool, _ = _relu_pool(n_models=3)
    paths = []
    for name, fs in pool.items():
        path = tmp_path / f"{name}.npz"
        np.savez(path, features=fs.features, labels=fs.labels)
        paths.append(str(path))
    outputs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}.json"
        code = main(["rank", "--features", *paths, "--metrics", "logme,sfda,hscore", "--backend", "numpy",
                     "--jobs", jobs, "--json", str(out)])
        assert code == 0
        outputs.append(json.loads(out.read_text()))
    assert [m["model"] for m in outputs[0]["models"]] == ["model-0", "model-1", "model-2"]
    for serial, parallel in zip(outputs[0]["models"], outputs[1]["models"]):
        assert parallel["model"] == serial["model"] and parallel["ranks"] == serial["ranks"]
        for metric, value in serial["scores"].items():
            assert parallel["scores"][metric] == pytest.approx(value, rel=1e-12)
    assert main(["rank", "--features", *paths, "--metrics", "logme", "--jobs", "0"]) == 2
