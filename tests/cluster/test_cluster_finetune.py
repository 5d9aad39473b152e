"""Fine-tuning ground truth on Ray: one task per model × learning rate (then one per model for the fallback
learning rate when its whole grid failed), combined into the rows the serial path gives."""

import pytest

from tests.unit.test_finetune_combine import TINY_IDS, _tiny_net
from tests.unit.test_groundtruth import _toy_images
from transvis._threads import thread_limit
from transvis.cluster import reporting
from transvis.groundtruth import measure_groundtruth, read_groundtruth_csv

pytestmark = pytest.mark.xdist_group("ray")

MODELS = TINY_IDS


def _untimed(rows):
    return [(r.model, r.regime, r.accuracy, r.protocol, {k: v for k, v in r.extra.items()
                                                         if k not in ("seconds", "created")}) for r in rows]


def _both_ways(tmp_path, lrs, models=MODELS, **more):
    """(serial rows, Ray rows, Ray progress updates); the serial run with the one torch/BLAS thread a
    one-CPU Ray task gets, so that the numbers (and the protocol's ``torch_threads``) are the same."""
    kwargs = dict(regimes=("finetune",), seed=0, model_loader=_tiny_net,
                  finetune_kw={"lrs": lrs, "input_size": 16, "max_steps": 3, "batch_size": 8, "device": "cpu"})
    kwargs.update(more)
    with thread_limit(1):
        serial = measure_groundtruth(models, _toy_images(12), out_csv=tmp_path / "serial.csv", **kwargs)
    updates = []
    with reporting(updates.append):
        through_ray = measure_groundtruth(models, _toy_images(12), out_csv=tmp_path / "ray.csv", executor="ray",
                                          **kwargs)
    assert _untimed(read_groundtruth_csv(tmp_path / "ray.csv")) == \
        _untimed(read_groundtruth_csv(tmp_path / "serial.csv"))
    return serial, through_ray, updates


def _tasks(updates):
    """{kind of tasks: total} of a run's progress updates (every task reported once)."""
    totals = {}
    for update in updates:
        totals[update.what] = update.total
    assert all(sum(u.what == what for u in updates) == total for what, total in totals.items())
    return totals


def test_a_learning_rate_grid_runs_one_task_per_model_and_learning_rate_with_the_serial_rows(local_ray, tmp_path):
    serial, through_ray, updates = _both_ways(tmp_path, (1.0, 0.01))
    assert _untimed(through_ray) == _untimed(serial) and [r.model for r in through_ray] == MODELS
    assert _tasks(updates) == {"ground truth": len(MODELS) * 2}
    for row in through_ray:
        assert row.protocol["lrs_tried"] == [1.0, 0.01] and row.protocol["diverged_lrs"] == []
        assert row.protocol["val_accuracy"] == {"1": 1.0, "0.01": 0.5}  # 0.01 ends at chance in 3 steps
        assert row.protocol["best_lr"] == 1.0 and row.accuracy == 1.0 and row.protocol["torch_threads"] == 1
        assert row.extra["n_val"] == 4 and row.extra["n_test"] == 8


def test_both_regimes_one_probe_task_and_one_task_per_learning_rate_for_each_model(local_ray, tmp_path):
    from tests.cluster.test_cluster_shards import _pixel_features

    serial, through_ray, updates = _both_ways(tmp_path, (1.0, 0.01), regimes=("linear_probe", "finetune"),
                                              feature_fn=_pixel_features, probe_kw={"c_grid": (1.0,)})
    assert _untimed(through_ray) == _untimed(serial)
    assert [(r.model, r.regime) for r in through_ray] == [(m, r) for m in MODELS for r in ("linear_probe", "finetune")]
    assert _tasks(updates) == {"ground truth": len(MODELS) * (1 + 2)}


def test_a_grid_that_diverges_everywhere_gets_the_fallback_task_on_the_cluster(local_ray, tmp_path):
    serial, through_ray, updates = _both_ways(tmp_path, (1e11, 1e10))
    assert _untimed(through_ray) == _untimed(serial)
    assert _tasks(updates) == {"ground truth": len(MODELS) * 2, "ground truth (fallback lr)": len(MODELS)}
    for row in through_ray:
        assert row.protocol["diverged_lrs"] == [1e11, 1e10]
        assert row.protocol["lrs_tried"] == [1e11, 1e10, pytest.approx(1e9)]
        assert row.protocol["best_lr"] == pytest.approx(1e9) and list(row.protocol["val_accuracy"]) == ["1e+09"]


def test_a_model_diverging_at_the_fallback_too_raises_the_serial_error_after_the_others(local_ray, tmp_path):
    kwargs = dict(regimes=("finetune",), model_loader=_tiny_net, out_csv=tmp_path / "ray.csv", executor="ray",
                  finetune_kw={"lrs": (1e12,), "input_size": 16, "max_steps": 3, "batch_size": 8, "device": "cpu"})
    with pytest.raises(ValueError, match=r"diverged at every learning rate \[1000000000000.0, 100000000000.0\]; "
                                         "add smaller learning rates"):
        measure_groundtruth(MODELS[:1], _toy_images(12), **kwargs)
    assert not (tmp_path / "ray.csv").exists()  # nothing measured, nothing written
