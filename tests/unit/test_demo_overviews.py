"""The prepared demo's persisted UMAP maps (transvis.demo.overview_cache) and the background UMAP job."""

import importlib
import sys
import threading

import numpy as np
import pytest

import transvis.demo as demo_module
from transvis.demo import (
    Demo, compute_demo_overviews, demo_overviews_path, demo_ranking_path, load_demo_overviews,
    load_prepared_overviews, save_demo_overviews, synthetic_demo)
from transvis.demo import overview_cache


def _demo(seed=4, target="fashion-mnist"):
    demo = synthetic_demo(n_models=3, n_classes=3, n_per_class=20, n_dims=6, seed=seed)
    demo.name, demo.target = f"demo-zoo/{target}", target
    demo.feature_keys = {m: f"{target}-key-{i}" for i, m in enumerate(demo.features)}
    return demo


def _maps(demo):
    """Stand-in maps (no UMAP fit): each model's first two feature columns."""
    return {m: fs.features[:, :2].astype(np.float32) for m, fs in demo.features.items()}


@pytest.fixture
def demo():
    return _demo()


@pytest.mark.slow
def test_the_persisted_maps_are_umap_overviews_at_their_defaults(tmp_path, demo):
    """One real fit per model of a 60-sample demo: what the page's UMAPOverview() draws, as float32."""
    from transvis.projection import UMAPOverview

    small = Demo(name=demo.name, features=dict(list(demo.features.items())[:2]),
                 feature_keys=dict(list(demo.feature_keys.items())[:2]), target=demo.target)
    seen = []
    maps = compute_demo_overviews(small, progress=lambda done, model: seen.append((done, model)))
    assert seen == [(1, list(small.features)[0]), (2, list(small.features)[1])]
    for model, fs in small.features.items():
        assert maps[model].dtype == np.float32 and maps[model].shape == (60, 2)
        np.testing.assert_array_equal(maps[model], UMAPOverview().fit(fs.features).embedding_.astype(np.float32))
    save_demo_overviews(small, maps, cache_dir=tmp_path)
    loaded = load_demo_overviews(small, cache_dir=tmp_path)
    assert list(loaded) == list(small.features)
    for model in small.features:
        np.testing.assert_array_equal(loaded[model], maps[model])


def test_persisted_maps_round_trip_beside_the_ranking(tmp_path, demo):
    maps = _maps(demo)
    path = save_demo_overviews(demo, maps, cache_dir=tmp_path)
    assert path == demo_overviews_path(tmp_path, "fashion-mnist") and path.parent == demo_ranking_path(tmp_path).parent
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # written atomically: no temporary left
    loaded = load_demo_overviews(demo, cache_dir=tmp_path)
    assert list(loaded) == list(demo.features)
    for model in demo.features:
        assert loaded[model].dtype == np.float32
        np.testing.assert_array_equal(loaded[model], maps[model])
    other = _demo(seed=5, target="mnist-5k")  # one file per target
    assert load_demo_overviews(other, cache_dir=tmp_path) is None
    save_demo_overviews(other, _maps(other), cache_dir=tmp_path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["fashion-mnist-umap.npz", "mnist-5k-umap.npz"]
    np.testing.assert_array_equal(load_demo_overviews(demo, cache_dir=tmp_path)[list(demo.features)[0]],
                                  maps[list(demo.features)[0]])


def test_stale_maps_are_not_used(tmp_path, demo, monkeypatch):
    assert load_demo_overviews(demo, cache_dir=tmp_path) is None  # nothing persisted yet
    save_demo_overviews(demo, _maps(demo), cache_dir=tmp_path)
    first = next(iter(demo.features))
    other_keys = Demo(name=demo.name, features=demo.features, target=demo.target,
                      feature_keys={**demo.feature_keys, first: "new"})
    assert load_demo_overviews(other_keys, cache_dir=tmp_path) is None
    no_keys = Demo(name=demo.name, features=demo.features, target=demo.target)
    assert load_demo_overviews(no_keys, cache_dir=tmp_path) is None
    with monkeypatch.context() as patch:
        patch.setattr(overview_cache, "_projection_code_digest", lambda: "edited-projection-code")
        assert load_demo_overviews(demo, cache_dir=tmp_path) is None
    with monkeypatch.context() as patch:
        patch.setattr(overview_cache, "DEMO_OVERVIEWS_FORMAT", overview_cache.DEMO_OVERVIEWS_FORMAT + 1)
        assert load_demo_overviews(demo, cache_dir=tmp_path) is None
    with monkeypatch.context() as patch:  # another umap-learn draws another map
        real = overview_cache.package_version
        patch.setattr(overview_cache, "package_version", lambda name: "9.9" if name == "umap-learn" else real(name))
        assert load_demo_overviews(demo, cache_dir=tmp_path) is None
    with monkeypatch.context() as patch:  # UMAPOverview's defaults changed
        patch.setattr(overview_cache, "overview_params", lambda: {"n_neighbors": 30})
        assert load_demo_overviews(demo, cache_dir=tmp_path) is None
    # the same store keys but other features (an app that loaded them before a preparation rewrote the store)
    changed = {m: fs for m, fs in demo.features.items()}
    import dataclasses

    changed[first] = dataclasses.replace(demo.features[first], features=demo.features[first].features + 1.0)
    assert load_demo_overviews(Demo(name=demo.name, features=changed, feature_keys=demo.feature_keys,
                                    target=demo.target), cache_dir=tmp_path) is None
    assert load_demo_overviews(demo, cache_dir=tmp_path) is not None  # unchanged inputs: used
    demo_overviews_path(tmp_path).write_bytes(b"truncated")
    assert load_demo_overviews(demo, cache_dir=tmp_path) is None


def test_maps_of_other_models_are_neither_saved_nor_used(tmp_path, demo):
    maps = _maps(demo)
    models = list(demo.features)
    with pytest.raises(ValueError, match="not the demo's models"):
        save_demo_overviews(demo, {m: maps[m] for m in models[:2]}, cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"finite float positions \[60, 2\]"):
        save_demo_overviews(demo, {**maps, models[0]: maps[models[0]][:10]}, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="no feature-store keys"):
        save_demo_overviews(Demo(name=demo.name, features=demo.features), maps, cache_dir=tmp_path)
    save_demo_overviews(demo, maps, cache_dir=tmp_path)
    fewer = Demo(name=demo.name, features={m: demo.features[m] for m in models[:2]},
                 feature_keys={m: demo.feature_keys[m] for m in models[:2]}, target=demo.target)
    assert load_demo_overviews(fewer, cache_dir=tmp_path) is None
    reordered = Demo(name=demo.name, features={m: demo.features[m] for m in models[::-1]},
                     feature_keys=demo.feature_keys, target=demo.target)
    assert load_demo_overviews(reordered, cache_dir=tmp_path) is None


def test_the_app_reads_the_maps_under_the_manifest_keys(tmp_path, demo, monkeypatch):
    save_demo_overviews(demo, _maps(demo), cache_dir=tmp_path)
    monkeypatch.setattr(overview_cache, "prepared_feature_keys", lambda target, cache_dir=None: None)
    assert load_prepared_overviews("fashion-mnist", demo.features, cache_dir=tmp_path) is None  # not prepared
    monkeypatch.setattr(overview_cache, "prepared_feature_keys",
                        lambda target, cache_dir=None: dict(demo.feature_keys) if target == "fashion-mnist" else None)
    loaded = load_prepared_overviews("fashion-mnist", demo.features, cache_dir=tmp_path)
    assert list(loaded) == list(demo.features)
    assert load_prepared_overviews("mnist-5k", demo.features, cache_dir=tmp_path) is None
    extra = {**demo.features, "offline/unknown": next(iter(demo.features.values()))}
    assert load_prepared_overviews("fashion-mnist", extra, cache_dir=tmp_path) is None


# --- the background UMAP job -----------------------------------------------------------------------------
class _Fitted:
    def __init__(self, embedding):
        self.embedding_ = embedding


def test_the_umap_job_reports_stages_and_returns_the_map(monkeypatch):
    module = importlib.import_module("transvis.projection.umap_overview")  # the module, not its function

    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    release, calls = threading.Event(), []

    def fit(features, *, cache_key=None, **params):
        calls.append((cache_key, params))
        release.wait(10)
        return _Fitted(np.asarray(features, dtype=np.float64)[:, ::-1])

    monkeypatch.setattr(module, "umap_overview", fit)
    monkeypatch.setitem(sys.modules, "umap", sys.modules.get("umap", object()))  # imported: no import stage
    job = module.umap_overview_job(x, cache_key=("pool", "m"), name="UMAP of m", tag="t", steps=10, tick_s=0.01,
                                   estimate=0.05, n_neighbors=5).start()
    statuses = []
    while len(statuses) < 400 and (not statuses or statuses[-1].done < 9):
        statuses.append(job.status())
        threading.Event().wait(0.01)
    running = job.status()
    assert running.state == "running" and running.done == 9 and running.total == 10  # never past total - 1
    assert running.label == "fit"
    release.set()
    final = job.wait(10)
    assert final.state == "done" and final.done == 10
    assert [s.done for s in statuses] == sorted(s.done for s in statuses)
    np.testing.assert_array_equal(job.result, x[:, ::-1])
    assert calls == [(("pool", "m"), {"n_neighbors": 5})] and job.tag == "t"


def test_a_cancelled_umap_job_keeps_nothing(monkeypatch):
    module = importlib.import_module("transvis.projection.umap_overview")  # the module, not its function

    release = threading.Event()

    def fit(features, **_):
        release.wait(10)
        return _Fitted(np.zeros((len(features), 2)))

    monkeypatch.setattr(module, "umap_overview", fit)
    monkeypatch.setitem(sys.modules, "umap", sys.modules.get("umap", object()))
    job = module.umap_overview_job(np.ones((5, 3)), steps=4, tick_s=0.01, estimate=100.0).start()
    job.cancel()
    assert job.status().state == "cancelling"  # the running fit cannot be interrupted
    release.set()
    assert job.wait(10).state == "cancelled"
    with pytest.raises(RuntimeError):
        job.result


def test_the_estimate_grows_with_the_samples_and_drops_the_paid_costs(monkeypatch):
    module = importlib.import_module("transvis.projection.umap_overview")  # the module, not its function

    monkeypatch.setitem(sys.modules, "umap", sys.modules.get("umap", object()))
    monkeypatch.setattr(module, "_FITTED_IN_PROCESS", True)
    warm = module.umap_seconds(3000)
    assert warm == pytest.approx(module.UMAP_FIT_S_PER_SAMPLE * 3000)
    assert module.umap_seconds(6000) == pytest.approx(2 * warm)
    monkeypatch.setattr(module, "_FITTED_IN_PROCESS", False)
    assert module.umap_seconds(3000) == pytest.approx(warm + module.UMAP_COMPILE_S)
    monkeypatch.delitem(sys.modules, "umap")
    assert module.umap_seconds(3000) == pytest.approx(warm + module.UMAP_COMPILE_S + module.UMAP_IMPORT_S)
