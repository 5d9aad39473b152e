"""Issue 15: extraction as one Ray task per model × shard (assembled into the serial entry, resumed shard by
shard), scoring and probing where the features are (the driver reads no matrix), one progress report over all
tasks with failures recorded, never fatal for the pool."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from tests.cluster.test_cluster_extract import MODELS, SlowImages, _serial
from tests.unit.test_ranking_parallel import _relu_pool
from transvis.cluster import StoredFeatures, extract_on_cluster, reporting, shard_rows
from transvis.store import FeatureStore, key_parts

pytestmark = pytest.mark.xdist_group("ray")


class FlakyImages(SlowImages):
    """Images from row ``broken_from`` on fail to load while the file ``flag`` exists (a shard that fails)."""

    def __init__(self, flag: Path, broken_from: int, **kwargs):
        super().__init__(**kwargs)
        self.flag, self.broken_from = str(flag), broken_from

    def load_image(self, index):
        if index >= self.broken_from and Path(self.flag).exists():
            raise RuntimeError(f"image {index} is on a node that went away")
        return super().load_image(index)


def test_shard_rows_are_whole_batches_and_cover_every_image():
    assert shard_rows(12, 2, 4) == [(0, 8), (8, 12)]
    assert shard_rows(12, 3, 4) == [(0, 4), (4, 8), (8, 12)]
    assert shard_rows(10, 4, 4) == [(0, 4), (4, 8), (8, 10)]  # never a shard of a partial batch but the last


def test_a_gpu_batch_grows_with_the_gpus_memory_between_the_request_and_the_cap():
    from transvis.cluster import gpu_batch_size

    gib = 2**30
    assert gpu_batch_size(64, total_bytes=80 * gib) == 1024  # 16 per GiB = 1,280 → 1,024 (power of two, cap)
    assert gpu_batch_size(64, total_bytes=24 * gib) == 256
    assert gpu_batch_size(64, total_bytes=2 * gib) == 64  # never below the request
    assert gpu_batch_size(64, total_bytes=80 * gib, cap=512) == 512


def test_a_two_shard_extraction_is_the_serial_entry_and_resumes_shard_by_shard(local_ray, tmp_path):
    flag = tmp_path / "node-down"
    flag.touch()
    data = FlakyImages(flag, broken_from=8, n=12)
    updates = []
    with reporting(updates.append):
        first = extract_on_cluster("ray", MODELS[:1], data, cache_dir=tmp_path / "ray", input_size=32,
                                   batch_size=4, shards=2)
    # shard 1 (rows 8-12) failed: the model is recorded, shard 0 stays in the store for the next run
    assert list(first.failed) == MODELS[:1] and "No image" in first.failed[MODELS[0]] and first.keys == {}
    assert [(u.done, u.total) for u in updates] == [(1, 3), (2, 3), (3, 3)] and updates[-1].failed == 2
    store = FeatureStore(tmp_path / "ray")
    assert [e.parts["subsample"] for e in store.list()] == [{"of": None, "rows": [0, 8]}]

    flag.unlink()
    second = extract_on_cluster("ray", MODELS[:1], data, cache_dir=tmp_path / "ray", input_size=32,
                                batch_size=4, shards=2)
    assert second.failed == {} and second.extracted == MODELS[:1] and second.shards == {MODELS[0]: (1, 1)}
    key = second.keys[MODELS[0]]
    assert [e.key for e in store.list()] == [key]  # the shards were assembled and removed
    serial = _serial(tmp_path, MODELS[0], SlowImages(n=12))
    assert FeatureStore(tmp_path / "serial").has(key)  # identical store key
    stored = store.get(key)
    np.testing.assert_allclose(stored.features, serial.features, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(stored.labels, serial.labels)
    np.testing.assert_allclose(stored.source_probs, serial.source_probs, rtol=1e-12, atol=0)
    assert second.summaries[MODELS[0]].n_samples == 12 and second.summaries[MODELS[0]].problem is None
    third = extract_on_cluster("ray", MODELS[:1], data, cache_dir=tmp_path / "ray", input_size=32, batch_size=4,
                               shards=2)
    assert third.resumed == MODELS[:1] and third.extracted == [] and third.keys == second.keys


def _stored_pool(tmp_path, n_models=3):
    pool, _ = _relu_pool(n_models=n_models)
    store = FeatureStore(tmp_path)
    refs = {}
    for name, fs in pool.items():
        refs[name] = StoredFeatures(store.put(key_parts(name, "w", fs.dataset_id), fs), str(tmp_path))
    return pool, refs


def test_scoring_reads_features_where_the_tasks_run_and_a_missing_model_is_recorded(local_ray, tmp_path,
                                                                                      monkeypatch):
    from transvis.ranking import rank_models

    pool, refs = _stored_pool(tmp_path)
    serial = rank_models(pool, ["logme", "hscore"], backend="numpy", blas_threads=1)

    def no_reads(*args, **kwargs):
        raise AssertionError("the driver read a feature matrix from the store")

    monkeypatch.setattr(FeatureStore, "get", no_reads)  # the driver's store only: tasks run in Ray's workers
    refs["model-3"] = StoredFeatures("0" * 20, str(tmp_path))  # not in the store: its task fails
    updates = []
    with reporting(updates.append):
        through_ray = rank_models(refs, ["logme", "hscore"], backend="numpy", executor="ray")
    assert [u.done for u in updates] == [1, 2, 3, 4] and {u.total for u in updates} == {4}
    assert updates[-1].failed == 1 and updates[-1].what == "scoring"
    np.testing.assert_allclose(through_ray.scores.loc[list(pool)].to_numpy(), serial.scores.to_numpy(),
                               rtol=1e-12, atol=0)
    assert [(m, c) for m, c, _ in through_ray.failed] == [("model-3", "logme"), ("model-3", "hscore")]
    assert "not in the store" in through_ray.failed[0][2]


def test_linear_probes_on_the_cluster_equal_the_serial_probes(local_ray, tmp_path, monkeypatch):
    from transvis.cluster import linear_probes_on_cluster
    from transvis.groundtruth import linear_probe

    pool, refs = _stored_pool(tmp_path)
    serial = {m: linear_probe(fs, seed=0) for m, fs in pool.items()}
    monkeypatch.setattr(FeatureStore, "get", lambda *a, **k: pytest.fail("the driver read a feature matrix"))
    through_ray = linear_probes_on_cluster("ray", refs, seed=0)
    untimed = {m: dataclasses.replace(p, seconds=0.0) for m, p in through_ray.items()}
    assert untimed == {m: dataclasses.replace(p, seconds=0.0) for m, p in serial.items()}  # accuracy, C, splits
    assert 0.4 < through_ray["model-0"].accuracy < through_ray["model-2"].accuracy == 1.0


def test_cli_rank_with_cluster_shows_one_bar_per_stage_and_ranks_as_serially(local_ray, tmp_path, monkeypatch,
                                                                               capsys):
    import json

    from PIL import Image

    from transvis.cli import main

    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    root = tmp_path / "photos"
    for c, name in enumerate(("cats", "dogs", "owls")):
        (root / name).mkdir(parents=True)
        for i in range(8):
            pixels = np.clip(rng.normal(60 + 70 * c, 40, (16, 16, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    args = ["rank", "--dataset", str(root), "--models", ",".join(MODELS), "--input-size", "32", "--batch-size", "4",
            "--metrics", "logme,hscore", "--resamples", "0", "--groundtruth", "linear_probe"]
    assert main([*args, "--json", str(tmp_path / "serial.json")]) == 0
    capsys.readouterr()
    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path / "cluster-cache"))  # extracted again, on the cluster
    assert main([*args, "--cluster", "ray", "--json", str(tmp_path / "ray.json")]) == 0
    err = capsys.readouterr().err
    for stage, tasks in (("extraction", "2/2"), ("ground truth", "2/2"), ("scoring", "2/2")):
        assert f"{stage} [" in err and f"] {tasks} tasks · ETA 0 s · workers 0/2" in err, stage
    assert f"{MODELS[0]}: 24x" in err and "extracted on the cluster" in err
    serial = json.loads((tmp_path / "serial.json").read_text())
    through_ray = json.loads((tmp_path / "ray.json").read_text())
    assert [e["model"] for e in through_ray["models"]] == [e["model"] for e in serial["models"]] == MODELS
    for a, b in zip(serial["models"], through_ray["models"]):
        assert a["ranks"] == b["ranks"] and a["accuracy"] == b["accuracy"] is not None
        np.testing.assert_allclose(list(b["scores"].values()), list(a["scores"].values()), rtol=1e-12)
    assert through_ray["weighted_tau"] == serial["weighted_tau"]


def _pixel_features(model_id, dataset):
    """A model's 'features': its own fixed random projection of the images' pixels (deterministic)."""
    from transvis.features.featureset import FeatureSet

    pixels = np.stack([np.asarray(dataset[i][0], dtype=float).ravel() for i in range(len(dataset))])
    weights = np.random.default_rng(sum(map(ord, model_id))).normal(size=(pixels.shape[1], 6))
    return FeatureSet(features=pixels @ weights / 255.0, labels=dataset.labels, class_names=dataset.class_names,
                      model_id=model_id, dataset_id=dataset.dataset_id)


def test_measure_groundtruth_on_the_cluster_gives_the_serial_rows(local_ray, tmp_path):
    from tests.unit.test_groundtruth import _toy_images
    from transvis.groundtruth import measure_groundtruth, read_groundtruth_csv

    models = ["tiny/a", "tiny/b", "tiny/c"]
    kwargs = dict(regimes=("linear_probe",), seed=0, feature_fn=_pixel_features, probe_kw={"c_grid": (0.1, 1.0)})
    serial = measure_groundtruth(models, _toy_images(12), out_csv=tmp_path / "serial.csv", **kwargs)
    messages = []
    through_ray = measure_groundtruth(models, _toy_images(12), out_csv=tmp_path / "ray.csv", executor="ray",
                                      progress=messages.append, **kwargs)

    def untimed(rows):
        return [(r.model, r.regime, r.accuracy, r.protocol, {k: v for k, v in r.extra.items()
                                                             if k not in ("seconds", "created")}) for r in rows]

    assert untimed(through_ray) == untimed(serial) and [r.model for r in through_ray] == models
    assert untimed(read_groundtruth_csv(tmp_path / "ray.csv")) == untimed(read_groundtruth_csv(tmp_path / "serial.csv"))
    assert sorted(messages) == sorted(f"{r.model}: linear_probe accuracy {r.accuracy:.4f}" for r in serial)
