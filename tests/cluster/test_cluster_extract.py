"""extract_on_cluster: one Ray task per model writes into the store; a re-run resumes from the store; a worker
killed by PID mid-task is retried by Ray with identical features and no partial entry."""

import os
import shutil
import signal
import threading
import time

import numpy as np
import pytest

from transvis.cluster import extract_on_cluster
from transvis.data.base import ArrayImageDataset
from transvis.pipeline import get_features
from transvis.store import FeatureStore

pytestmark = pytest.mark.xdist_group("ray")

MODELS = ["test_resnet.random_init", "test_efficientnet.random_init"]  # timm's tiny test nets: no download


class SlowImages(ArrayImageDataset):
    """Random RGB images, 3 classes; each image takes ``delay`` seconds to load (a task long enough to kill)."""

    def __init__(self, n=12, delay=0.0, seed=0):
        rng = np.random.default_rng(seed)
        super().__init__(rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.arange(n) % 3,
                         ["a", "b", "c"], dataset_id=f"slow-{n}-{seed}")
        self.delay = delay

    def load_image(self, index):
        time.sleep(self.delay)
        return super().load_image(index)


def _serial(tmp_path, model, data):
    features, _ = get_features(model, data, input_size=32, device="cpu", batch_size=4,
                               store=FeatureStore(tmp_path / "serial"), progress=False)
    return features


def test_extraction_through_ray_stores_the_serial_features_and_resumes(local_ray, tmp_path):
    data = SlowImages()
    first = extract_on_cluster("ray", MODELS, data, cache_dir=tmp_path / "ray", input_size=32, batch_size=4)
    assert first.extracted == MODELS and first.resumed == [] and first.failed == {} and first.retried == {}
    store = FeatureStore(tmp_path / "ray")
    assert sorted(e.key for e in store.list()) == sorted(first.keys.values())
    for model in MODELS:
        serial = _serial(tmp_path, model, data)
        stored = store.get(first.keys[model])
        assert FeatureStore(tmp_path / "serial").has(first.keys[model])  # identical store keys
        np.testing.assert_allclose(stored.features, serial.features, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(stored.labels, serial.labels)
    # An interrupted run = some models stored: the next run computes only the missing ones.
    store_path = store.path_of(first.keys[MODELS[1]])
    created = (store_path / "meta.json").stat().st_mtime_ns
    shutil.rmtree(store.path_of(first.keys[MODELS[0]]))
    second = extract_on_cluster("ray", MODELS, data, cache_dir=tmp_path / "ray", input_size=32, batch_size=4)
    assert second.resumed == [MODELS[1]] and second.extracted == [MODELS[0]]
    assert (store_path / "meta.json").stat().st_mtime_ns == created  # the finished model's entry untouched
    assert second.keys == first.keys


def test_a_worker_killed_mid_task_is_retried_with_identical_features(local_ray, tmp_path):
    data = SlowImages(n=12, delay=0.25)
    attempts = tmp_path / "attempts"
    killed = []

    def kill_first_attempt():
        deadline = time.monotonic() + 60
        folder = attempts / "test_resnet.random_init"
        while time.monotonic() < deadline:
            files = list(folder.iterdir()) if folder.is_dir() else []
            if files:
                time.sleep(0.8)  # into the extraction (12 images × 0.25 s)
                pid = int(files[0].read_text())
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_attempt)
    killer.start()
    run = extract_on_cluster("ray", MODELS[:1], data, cache_dir=tmp_path / "ray", input_size=32, batch_size=4,
                             attempts_dir=attempts)
    killer.join()
    assert killed, "the task's worker was never seen"
    assert run.failed == {} and run.retried == {MODELS[0]: 2} and run.extracted == MODELS[:1]
    store = FeatureStore(tmp_path / "ray")
    assert [e.key for e in store.list()] == [run.keys[MODELS[0]]]  # one complete entry, nothing partial
    np.testing.assert_allclose(store.get(run.keys[MODELS[0]]).features,
                               _serial(tmp_path, MODELS[0], SlowImages(n=12)).features, rtol=1e-5, atol=1e-6)
