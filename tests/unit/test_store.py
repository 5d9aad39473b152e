"""Feature store: keys, round trip, listing, atomic writes under crashes and concurrency, self-healing reads."""

import json
import multiprocessing
import os
import warnings

import numpy as np
import pytest

from transvis.features.featureset import FeatureSet
from transvis.store import CorruptEntryWarning, FeatureStore, cache_dir, key_parts, store_key


def _featureset(seed=0, n=40, d=6, probs=True):
    rng = np.random.default_rng(seed)
    p = rng.random((n, 5))
    return FeatureSet(
        features=rng.normal(size=(n, d)), labels=rng.integers(0, 3, n), class_names=["a", "b", "c"],
        model_id="timm/resnet18.a1_in1k", dataset_id="fashion-mnist:test/max10-seed0",
        source_probs=p / p.sum(1, keepdims=True) if probs else None,
        meta={"timing": {"seconds": 1.5, "images_per_s": 26.7}, "device": "cpu"},
    )


def _parts(**overrides):
    parts = key_parts("timm/resnet18.a1_in1k", "abc123", "fashion-mnist:test/max10-seed0", "max10-seed0",
                      {"input_size": [3, 224, 224], "interpolation": "bicubic"}, "pre_logits")
    parts.update(overrides)
    return parts


@pytest.fixture()
def store(tmp_path):
    return FeatureStore(tmp_path / "cache")


def _assert_same(a: FeatureSet, b: FeatureSet):
    assert np.array_equal(a.features, b.features) and a.features.dtype == b.features.dtype == np.float32
    assert np.array_equal(a.labels, b.labels) and b.labels.dtype == np.int64
    if a.source_probs is None:
        assert b.source_probs is None
    else:
        assert np.array_equal(a.source_probs, b.source_probs)
    assert (a.class_names, a.model_id, a.dataset_id, a.layer, a.meta) == (
        b.class_names, b.model_id, b.dataset_id, b.layer, b.meta)


def test_store_key_is_stable_and_sensitive_to_every_part():
    key = store_key(_parts())
    assert len(key) == 20 and all(ch in "0123456789abcdef" for ch in key)
    assert store_key(**_parts()) == key
    reordered = dict(reversed(list(_parts().items())))
    reordered["transform"] = {"interpolation": "bicubic", "input_size": (3, 224, 224)}  # tuple vs list, order
    assert store_key(reordered) == key
    changed = {
        store_key(_parts(**{name: value}))
        for name, value in [("model_id", "x"), ("weights_hash", "def"), ("dataset_id", "digits"),
                            ("subsample", None), ("transform", {"input_size": [3, 96, 96]}), ("layer", "stage3")]
    }
    assert key not in changed and len(changed) == 6
    with pytest.raises(ValueError, match="lack weights_hash"):
        store_key({"model_id": "m", "dataset_id": "d", "subsample": None, "transform": None, "layer": "x"})


def test_cache_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    assert FeatureStore().root == tmp_path / "c" / "features"
    monkeypatch.delenv("TRANSVIS_CACHE")
    assert cache_dir().parts[-2:] == (".cache", "transvis")


@pytest.mark.parametrize("probs", [True, False])
def test_round_trip_equality_and_sidecar(store, probs):
    fs = _featureset(probs=probs)
    parts = _parts()
    assert store.get(parts) is None and not store.has(parts)
    key = store.put(parts, fs)
    assert key == store_key(parts) and store.has(key) and store.has(parts)
    _assert_same(fs, store.get(parts))
    _assert_same(fs, store.get(key))
    sidecar = json.loads((store.root / key / "meta.json").read_text())
    assert sidecar["parts"]["dataset_id"] == parts["dataset_id"] and sidecar["model_id"] == fs.model_id
    assert sidecar["shapes"]["features"] == [40, 6]
    assert sidecar["shapes"]["source_probs"] == ([40, 5] if probs else None)
    assert "numpy" in sidecar["versions"] and sidecar["created"]
    assert sidecar["featureset_meta"]["timing"]["seconds"] == 1.5
    assert sorted(sidecar["files"]) == sorted(["features.npy", "labels.npy"] + (["source_probs.npy"] if probs else []))


def test_list_find_delete_clear(store):
    k1 = store.put(_parts(), _featureset(0))
    stage2 = _featureset(1)
    stage2.layer = "stage2"
    k2 = store.put(_parts(layer="stage2"), stage2)
    entries = {e.key: e for e in store.list()}
    assert set(entries) == {k1, k2}
    assert entries[k2].layer == "stage2" and entries[k1].shape == (40, 6) and entries[k1].size_bytes > 40 * 6 * 4
    assert [e.key for e in store.find(layer="stage2")] == [k2]
    assert store.resolve(k1[:8]) == k1
    with pytest.raises(ValueError, match="no cache entry"):
        store.resolve(next(c for c in "0123456789abcdef" if c not in (k1[0], k2[0])))
    assert store.delete(k1) and not store.delete(k1) and store.get(k1) is None
    assert store.clear() == 1 and store.list() == []


def test_put_keeps_existing_unless_overwrite(store):
    parts = _parts()
    store.put(parts, _featureset(0))
    store.put(parts, _featureset(1))
    _assert_same(_featureset(0), store.get(parts))
    store.put(parts, _featureset(1), overwrite=True)
    _assert_same(_featureset(1), store.get(parts))
    assert len(store.list()) == 1


def test_non_json_meta_is_refused_before_writing(store):
    fs = _featureset()
    fs.meta = {"bad": object()}
    with pytest.raises(ValueError, match="JSON"):
        store.put(_parts(), fs)
    assert store.list() == [] and not (store.root / ".tmp").exists()


@pytest.mark.parametrize("damage", ["truncate", "flip", "remove", "sidecar"])
def test_damaged_entry_is_detected_deleted_and_a_miss(store, damage):
    parts = _parts()
    key = store.put(parts, _featureset())
    entry = store.root / key
    target = entry / "features.npy"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:-17])
    elif damage == "flip":  # same size, one changed byte: only the checksum can tell
        data = bytearray(target.read_bytes())
        data[-3] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "remove":
        target.unlink()
    else:
        (entry / "meta.json").write_text("{ not json")
    with pytest.warns(CorruptEntryWarning, match=key):
        assert store.get(parts) is None
    assert not entry.exists() and not store.has(parts)
    store.put(parts, _featureset())  # recomputed and stored again
    _assert_same(_featureset(), store.get(parts))


def _die_between_temp_write_and_rename(cache, parts):
    import transvis.store.store as module

    def crash(src, dst):
        os._exit(17)  # a kill: no cleanup, no exception handlers

    module.os.rename = crash
    FeatureStore(cache).put(parts, _featureset())


def test_kill_between_temp_write_and_rename_leaves_no_entry(store):
    # spawn, not fork: forking a pytest worker that has loaded torch/OpenMP can wedge the child.
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_die_between_temp_write_and_rename, args=(store.cache_root, _parts()))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 17
    leftovers = list((store.root / ".tmp").iterdir())
    assert len(leftovers) == 1 and (leftovers[0] / "meta.json").is_file()  # fully written, never renamed
    assert store.get(_parts()) is None and not store.has(_parts()) and store.list() == []
    store.put(_parts(), _featureset())  # sweeps the dead writer's folder once past the grace for mkdir-flock
    _assert_same(_featureset(), store.get(_parts()))
    store.sweep(max_age_s=0)
    assert not any((store.root / ".tmp").iterdir())


def test_exception_during_write_cleans_up(store, monkeypatch):
    import transvis.store.store as module

    def broken_rename(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module.os, "rename", broken_rename)
    with pytest.raises(OSError, match="No space"):
        store.put(_parts(), _featureset())
    monkeypatch.undo()
    assert store.get(_parts()) is None and not any((store.root / ".tmp").iterdir())


def _writer(cache, seed_for_parts, rounds, barrier):
    barrier.wait()
    store = FeatureStore(cache)
    for i in range(rounds):
        store.put(_parts(), _featureset(), overwrite=(i % 2 == 1))
        got = store.get(_parts())
        if got is not None:
            _assert_same(_featureset(), got)


def test_concurrent_writers_of_the_same_key(store):
    # spawn, not fork: forking a pytest worker that has loaded torch/OpenMP can wedge the child.
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_writer, args=(store.cache_root, k, 6, barrier)) for k in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptEntryWarning)
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0], "a writer process failed or hung"
    assert [e.key for e in store.list()] == [store_key(_parts())]
    _assert_same(_featureset(), store.get(_parts()))
    assert not any((store.root / ".tmp").iterdir())


def test_parts_must_match_the_featureset(store):
    with pytest.raises(ValueError, match="does not match the FeatureSet's dataset_id"):
        store.put(_parts(dataset_id="digits"), _featureset())


def test_bad_key_string(store):
    with pytest.raises(ValueError, match="not a store key"):
        store.get("../../etc")


def _die_between_the_two_renames_of_an_overwrite(cache, parts):
    """An overwrite where no atomic swap exists: killed after parking the old entry, before the new is in."""
    import transvis.store.store as module

    store = FeatureStore(cache)
    store.put(parts, _featureset(seed=0))
    module._exchange = lambda a, b: "unsupported"
    real_rename, calls = module.os.rename, []

    def rename(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the first parked the old entry; the second would publish the new one
            os._exit(17)
        real_rename(src, dst)

    module.os.rename = rename
    store.put(parts, _featureset(seed=1), overwrite=True)


def test_overwrite_without_atomic_swap_puts_the_parked_old_entry_back(store):
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_die_between_the_two_renames_of_an_overwrite, args=(store.cache_root, _parts()))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 17
    assert not (store.root / store_key(_parts())).exists() and len(list((store.root / ".prev").iterdir())) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptEntryWarning)
        _assert_same(_featureset(seed=0), store.get(_parts()))  # the reader put the old entry back
    assert not any((store.root / ".prev").iterdir())


def test_overwrite_without_atomic_swap_replaces_the_entry(store, monkeypatch):
    import transvis.store.store as module

    monkeypatch.setattr(module, "_exchange", lambda a, b: "unsupported")
    store.put(_parts(), _featureset(seed=0))
    store.put(_parts(), _featureset(seed=1), overwrite=True)
    _assert_same(_featureset(seed=1), store.get(_parts()))
    assert not any((store.root / ".prev").iterdir()) and not any((store.root / ".tmp").iterdir())


def test_sweep_keeps_a_live_writers_temp_folder_and_removes_it_once_released(store):
    import time

    from transvis.store.store import _lock_dir

    live = store.root / ".tmp" / "0123456789abcdef0123-1-deadbeef"
    live.mkdir(parents=True)
    lock = _lock_dir(live)
    two_hours_ago = time.time() - 7200
    os.utime(live, (two_hours_ago, two_hours_ago))
    try:
        assert store.sweep() == 0 and store.sweep(max_age_s=0) == 0 and live.is_dir()
        assert store.clear() == 0 and live.is_dir()
    finally:
        os.close(lock)
    assert store.sweep() == 1 and not live.exists()


def test_sweep_waits_a_grace_period_for_a_writer_between_mkdir_and_flock(store):
    fresh = store.root / ".tmp" / "0123456789abcdef0123-1-deadbeef"
    fresh.mkdir(parents=True)
    assert store.sweep() == 0 and fresh.is_dir()
    assert store.sweep(max_age_s=0) == 1 and not fresh.exists()


@pytest.mark.parametrize("where", ["features", "source_probs"])
def test_put_refuses_non_finite_values(store, where):
    fs = _featureset()
    getattr(fs, where)[3, 1] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite value"):
        store.put(_parts(), fs)
    assert store.list() == [] and not (store.root / ".tmp").exists()


def test_stored_non_finite_features_are_damage(store, monkeypatch):
    import transvis.store.store as module

    fs = _featureset()
    fs.features[0, 0] = np.inf
    monkeypatch.setattr(module, "_check_finite", lambda name, array: None)  # as the store before the check
    key = store.put(_parts(), fs)
    monkeypatch.undo()
    with pytest.warns(CorruptEntryWarning, match="NaN or infinite"):
        assert store.get(_parts()) is None
    assert not (store.root / key).exists()


def test_entry_written_before_the_sidecar_digest_still_reads(store):
    key = store.put(_parts(), _featureset())
    sidecar = store.root / key / "meta.json"
    meta = json.loads(sidecar.read_text())
    del meta["meta_sha256"]
    sidecar.write_text(json.dumps(meta, indent=1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptEntryWarning)
        _assert_same(_featureset(), store.get(_parts()))


def test_damaged_npy_header_is_damage_not_a_huge_allocation(tmp_path):
    store = FeatureStore(tmp_path, verify=False)  # no checksum: only the header check can tell
    key = store.put(_parts(), _featureset(n=40))
    target = store.root / key / "features.npy"
    raw = target.read_bytes()
    end = raw.index(b"\n") + 1  # the header: a dict padded with spaces, then a newline
    header = raw[:end].replace(b"(40, 6)", b"(400000000000, 6)").replace(b" " * 10 + b"\n", b"\n")
    damaged = header + raw[end:]
    assert len(damaged) == len(raw) and b"400000000000" in damaged
    target.write_bytes(damaged)
    with pytest.warns(CorruptEntryWarning, match="features.npy holds"):
        assert store.get(_parts()) is None


def test_cache_usage_counts_each_area_and_clear_keeps_what_it_must(tmp_path):
    import time

    from transvis.store import cache_usage, clear_cache

    FeatureStore(tmp_path).put(_parts(), _featureset())
    for path, size in [("datasets/zip-0011/a/x.png", 1000), ("datasets/.tmp-zip-0022-ab/a/y.png", 300),
                       ("zoo/.resnet.safetensors.123.tmp", 70), ("zoo/resnet.safetensors", 5000),
                       ("wheels/.download-xyz/w.whl", 20), ("demo/manifest.json", 9), ("mine/notes.txt", 4)]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"x" * size)
    old = time.time() - 3600
    for path in [tmp_path / "zoo/.resnet.safetensors.123.tmp", *(tmp_path / "wheels").rglob("*")]:
        os.utime(path, (old, old))

    usage = {a.name: a for a in cache_usage(tmp_path)}
    assert [*usage] == ["features", "datasets", "temp", "demo", "zoo", "wheels", "other"]
    assert usage["features"].items == 1 and usage["features"].size_bytes > 0
    assert (usage["datasets"].size_bytes, usage["datasets"].items) == (1000, 1)
    assert (usage["temp"].size_bytes, usage["temp"].items) == (300 + 70 + 20, 3)
    assert (usage["zoo"].size_bytes, usage["zoo"].items) == (5000, 1)
    assert (usage["other"].size_bytes, usage["other"].items) == (4, 1)

    freed = clear_cache(cache_dir=tmp_path)
    assert freed["datasets"] == 1000 and freed["temp"] == 90  # the fresh .tmp-zip folder may be in use: kept
    assert (tmp_path / "datasets/.tmp-zip-0022-ab").is_dir() and (tmp_path / "zoo/resnet.safetensors").is_file()
    clear_cache(["all"], cache_dir=tmp_path)
    left = {a.name: a.size_bytes for a in cache_usage(tmp_path)}
    assert left == {"features": 0, "datasets": 0, "temp": 300, "demo": 0, "zoo": 0, "wheels": 0, "other": 4}
    with pytest.raises(ValueError, match="unknown cache area 'other'"):
        clear_cache(["other"], cache_dir=tmp_path)
