"""Feature extraction on a tiny in-memory dataset with timm's tiny test architectures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from transvis.features.extract import PRE_LOGITS, extract_features, select_device
from transvis.features.featureset import FeatureSet
from transvis.models import load_model, preprocessing_config


class Tiny:
    """Random images, 3 classes; items listed in ``bad`` raise like a corrupt file would."""

    def __init__(self, n=24, size=40, gray=False, bad=(), seed=0):
        rng = np.random.default_rng(seed)
        shape = (size, size) if gray else (size, size, 3)
        self.arrays = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]
        self.labels = (np.arange(n) % 3).astype(np.int64)
        self.class_names = ["a", "b", "c"]
        self.dataset_id = f"tiny-{n}-{size}-{'L' if gray else 'RGB'}"
        self.bad = set(bad)

    def __len__(self):
        return len(self.arrays)

    def __getitem__(self, index):
        if index in self.bad:
            raise OSError(f"image file is truncated ({index})")
        return Image.fromarray(self.arrays[index]), int(self.labels[index])


@pytest.fixture(scope="module")
def resnet():
    return load_model("test_resnet", pretrained=False)


def _reference(model, dataset, input_size):
    """Features and probabilities computed by hand with the model's own timm transform."""
    from timm.data import create_transform

    config = preprocessing_config(model, input_size)
    transform = create_transform(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
    x = torch.stack([transform(dataset[i][0].convert("RGB")) for i in range(len(dataset))])
    with torch.inference_mode():
        features = model.forward_features(x)
        return model.forward_head(features, pre_logits=True).numpy(), torch.softmax(model(x), 1).numpy()


def test_features_and_source_probs_match_a_hand_computed_forward(resnet):
    data = Tiny(n=10)
    out = extract_features(resnet, data, batch_size=4, device="cpu", input_size=48, num_workers=0, progress=False)
    assert isinstance(out, FeatureSet)
    features, probs = _reference(resnet, data, 48)
    np.testing.assert_allclose(out.features, features, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out.source_probs, probs, rtol=1e-4, atol=1e-6)
    assert out.features.dtype == np.float32 and out.features.shape == (10, resnet.num_features)
    np.testing.assert_array_equal(out.labels, data.labels)
    assert out.class_names == ["a", "b", "c"] and out.dataset_id == data.dataset_id
    assert out.model_id == "test_resnet.random_init" and out.layer == PRE_LOGITS
    meta = out.meta
    assert meta["preprocessing"]["input_size"] == [3, 48, 48] and meta["device"] == "cpu"
    assert meta["precision"] == "float32" and meta["skipped"] == [] and meta["n_kept"] == 10


def test_corrupt_items_are_skipped_and_labels_stay_aligned(resnet):
    data = Tiny(n=12, bad={0, 5, 11})
    out = extract_features(resnet, data, batch_size=4, device="cpu", input_size=32, num_workers=0, progress=False)
    kept = [i for i in range(12) if i not in data.bad]
    assert out.meta["skipped"] == [0, 5, 11]
    assert "truncated (5)" in out.meta["skipped_errors"]["5"]
    np.testing.assert_array_equal(out.labels, data.labels[kept])
    # Row k is the k-th readable image: compare against extraction of a dataset without the bad items.
    clean = Tiny(n=12)
    clean.arrays = [clean.arrays[i] for i in kept]
    clean.labels = clean.labels[kept]
    reference = extract_features(resnet, clean, batch_size=4, device="cpu", input_size=32, num_workers=0,
                                 progress=False)
    np.testing.assert_allclose(out.features, reference.features, rtol=1e-5, atol=1e-6)


def test_all_items_corrupt_is_a_clear_error(resnet):
    with pytest.raises(ValueError, match="No image of tiny-3.*truncated"):
        extract_features(resnet, Tiny(n=3, bad={0, 1, 2}), device="cpu", num_workers=0, progress=False)


def test_grayscale_images_become_three_channels(resnet):
    gray = Tiny(n=6, gray=True)
    out = extract_features(resnet, gray, device="cpu", input_size=32, num_workers=0, progress=False)
    rgb = Tiny(n=6)
    rgb.arrays = [np.repeat(a[:, :, None], 3, axis=2) for a in gray.arrays]
    same = extract_features(resnet, rgb, device="cpu", input_size=32, num_workers=0, progress=False)
    np.testing.assert_array_equal(out.features, same.features)


def test_worker_processes_give_the_same_features(resnet):
    data = Tiny(n=20, bad={7})
    serial = extract_features(resnet, data, batch_size=6, device="cpu", input_size=32, num_workers=0, progress=False)
    parallel = extract_features(resnet, data, batch_size=6, device="cpu", input_size=32, num_workers=2,
                                progress=False)
    assert parallel.meta["num_workers"] == 2 and parallel.meta["skipped"] == [7]
    np.testing.assert_array_equal(parallel.features, serial.features)
    np.testing.assert_array_equal(parallel.labels, serial.labels)


def test_progress_callback_reports_every_batch(resnet):
    calls = []
    extract_features(resnet, Tiny(n=10), batch_size=4, device="cpu", input_size=32, num_workers=0,
                     progress=lambda *args: calls.append(args))
    assert [(done, total) for done, total, _, _ in calls] == [(4, 10), (8, 10), (10, 10)]
    assert all(rate > 0 for _, _, rate, _ in calls)
    assert calls[-1][3] == 0.0 and calls[0][3] > 0


def test_out_of_memory_halves_the_batch_and_gives_identical_features(resnet, monkeypatch):
    data = Tiny(n=10)
    expected = extract_features(resnet, data, batch_size=8, device="cpu", input_size=32, num_workers=0,
                                progress=False)
    forward_features = resnet.forward_features
    seen = []

    def limited(x):
        seen.append(x.shape[0])
        if x.shape[0] > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return forward_features(x)

    monkeypatch.setattr(resnet, "forward_features", limited)
    with pytest.warns(UserWarning, match="batch size reduced") as caught:
        out = extract_features(resnet, data, batch_size=8, device="cpu", input_size=32, num_workers=0,
                               progress=False)
    assert [str(w.message).split(": ")[-1] for w in caught] == ["batch size reduced to 4", "batch size reduced to 2"]
    assert seen[:3] == [8, 4, 2] and max(seen[3:]) == 2
    assert out.meta["batch_size"] == 2 and out.meta["oom_backoffs"] == 2
    np.testing.assert_allclose(out.features, expected.features, rtol=1e-5, atol=1e-6)

    def always(x):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory.")

    monkeypatch.setattr(resnet, "forward_features", always)
    with pytest.raises(ValueError, match="even with one image"), pytest.warns(UserWarning):
        extract_features(resnet, data, batch_size=2, device="cpu", input_size=32, num_workers=0, progress=False)


def test_other_errors_are_not_mistaken_for_out_of_memory(resnet, monkeypatch):
    monkeypatch.setattr(resnet, "forward_features", lambda x: (_ for _ in ()).throw(RuntimeError("shape mismatch")))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        extract_features(resnet, Tiny(n=4), device="cpu", input_size=32, num_workers=0, progress=False)


@pytest.mark.parametrize("arch", ["test_resnet", "test_vit", "test_efficientnet"])
def test_intermediate_taps_are_pooled_and_named(arch):
    model = load_model(arch, pretrained=False)
    data = Tiny(n=5)
    out = extract_features(model, data, device="cpu", input_size=64, layers=[0, -1], num_workers=0, progress=False)
    n_taps = len(model.forward_intermediates(torch.zeros(1, 3, 64, 64), intermediates_only=True))
    assert list(out) == [PRE_LOGITS, "tap0", f"tap{n_taps - 1}"]
    last = out[f"tap{n_taps - 1}"]
    assert last.layer == f"tap{n_taps - 1}" and last.meta["tap_index"] == n_taps - 1 and last.source_probs is None
    np.testing.assert_array_equal(last.labels, data.labels)
    # The pre-logits features from the tapped pass equal those of a plain pass.
    plain = extract_features(model, data, device="cpu", input_size=64, num_workers=0, progress=False)
    np.testing.assert_allclose(out[PRE_LOGITS].features, plain.features, rtol=1e-5, atol=1e-6)
    # A tap is the global average of that stage's map.
    from timm.data import create_transform

    config = preprocessing_config(model, 64)
    transform = create_transform(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
    x = torch.stack([transform(data[i][0]) for i in range(5)])
    with torch.inference_mode():
        first = model.forward_intermediates(x, indices=[0], intermediates_only=True)[0]
    np.testing.assert_allclose(out["tap0"].features, first.mean(dim=(2, 3)).numpy(), rtol=1e-4, atol=1e-5)
    everything = extract_features(model, data, device="cpu", input_size=64, layers="all", num_workers=0,
                                  progress=False)
    assert len(everything) == n_taps + 1


def test_bad_layer_requests(resnet):
    with pytest.raises(ValueError, match="out of range"):
        extract_features(resnet, Tiny(n=2), device="cpu", input_size=32, layers=[99], progress=False)
    with pytest.raises(ValueError, match="'all'"):
        extract_features(resnet, Tiny(n=2), device="cpu", input_size=32, layers="last", progress=False)


def test_headless_models_have_no_source_probs():
    model = load_model("test_efficientnet", pretrained=False, num_classes=0)
    out = extract_features(model, Tiny(n=3), device="cpu", input_size=32, num_workers=0, progress=False)
    assert out.source_probs is None and out.meta["source_head"] is False
    assert out.features.shape == (3, model.num_features)


def test_model_ids_are_loaded(tmp_path):
    out = extract_features("test_vit.random_init", Tiny(n=3), device="cpu", input_size=32, num_workers=0,
                           progress=False)
    assert out.model_id == "test_vit.random_init" and out.source_probs.shape == (3, 1000)


def test_dataset_errors(resnet):
    empty = Tiny(n=0)
    with pytest.raises(ValueError, match="empty"):
        extract_features(resnet, empty, device="cpu", progress=False)

    no_id = Tiny(n=2)
    del no_id.dataset_id
    with pytest.raises(ValueError, match="dataset_id"):
        extract_features(resnet, no_id, device="cpu", progress=False)


def test_device_selection():
    assert select_device("cpu") == torch.device("cpu")
    auto = select_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else auto.type)
    if not torch.cuda.is_available():
        assert auto.type in ("mps", "cpu")
        with pytest.raises(ValueError, match="no CUDA GPU"):
            select_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_extraction_matches_cpu_within_mixed_precision(resnet):
    data = Tiny(n=16)
    cpu = extract_features(resnet, data, device="cpu", input_size=64, num_workers=0, progress=False)
    gpu = extract_features(load_model("test_resnet", pretrained=False), data, device="cuda", input_size=64,
                           num_workers=2, progress=False)
    assert gpu.meta["channels_last"] and gpu.meta["precision"] in ("bfloat16", "float16")
    np.testing.assert_allclose(gpu.features, cpu.features, rtol=0.05, atol=0.05)
    full = extract_features(load_model("test_resnet", pretrained=False), data, device="cuda", input_size=64,
                            amp=False, channels_last=False, num_workers=0, progress=False)
    np.testing.assert_allclose(full.features, cpu.features, rtol=1e-3, atol=1e-4)


def test_mixed_precision_and_channels_last_on_cpu_when_asked(resnet):
    """The GPU defaults (autocast, channels-last) run on the CPU too when asked for, so their code path is
    exercised on machines without a GPU: bfloat16 autocast stays within bfloat16 rounding of float32."""
    data = Tiny(n=8)
    full = extract_features(resnet, data, device="cpu", input_size=48, num_workers=0, progress=False)
    assert full.meta["precision"] == "float32" and not full.meta["channels_last"]
    half = extract_features(resnet, data, device="cpu", input_size=48, num_workers=0, progress=False, amp=True)
    assert half.meta["precision"] == "bfloat16"
    assert half.features.dtype == np.float32 and half.source_probs.dtype == np.float32
    assert not np.array_equal(half.features, full.features)  # autocast really ran in bfloat16
    scale = np.abs(full.features).max()
    np.testing.assert_allclose(half.features, full.features, atol=0.05 * scale)
    np.testing.assert_allclose(half.source_probs.sum(axis=1), 1.0, rtol=1e-5)
    model = load_model("test_resnet", pretrained=False)
    last = extract_features(model, data, device="cpu", input_size=48, num_workers=0, progress=False,
                            channels_last=True)
    assert last.meta["channels_last"] and last.meta["precision"] == "float32"
    np.testing.assert_allclose(last.features, full.features, rtol=1e-4, atol=1e-5)


def test_auto_num_workers(monkeypatch):
    from transvis.features.extract import auto_num_workers

    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert auto_num_workers(64, 64, "cpu") == 0  # a single batch: no processes to start
    assert auto_num_workers(1000, 64, "cpu") == 1
    assert auto_num_workers(1000, 64, "cuda") == 8
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert auto_num_workers(1000, 64, "cpu") == 0
    assert auto_num_workers(1000, 64, "cuda") == 1
