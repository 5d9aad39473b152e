"""The deep dive's "Map: UMAP" never blocks the page: on the prepared demo it reads the maps persisted by
``transvis demo prepare`` at once; on any other pool it fits UMAP in a background job (progress, ETA, Cancel),
shows the PCA map meanwhile and shows UMAP once done without another click."""

from __future__ import annotations

import importlib
import threading

import numpy as np
import pytest

from tests.app.conftest import APP, TIMEOUT, charts, errors, open_tab, values

WAIT = 120.0
umap_module = importlib.import_module("transvis.projection.umap_overview")  # the module, not its function


def _positions(figure, n: int) -> np.ndarray:
    """The map [N, 2] drawn by the overview chart (each trace's points carry their sample index)."""
    out = np.full((n, 2), np.nan)
    for trace in figure["data"]:
        idx = [row[0] for row in trace["customdata"]]
        out[idx, 0], out[idx, 1] = values(trace["x"]), values(trace["y"])
    assert not np.isnan(out).any()
    return out


def _title(at) -> str:
    return charts(at)["dd_overview"]["layout"]["title"]["text"]


def _bars(at):
    return [b for b in at.get("progress") if b.text.startswith("UMAP of ")]


@pytest.fixture
def fresh_maps(fresh_results):
    """No UMAP map fitted or persisted-and-read earlier in this process."""
    umap_module._CACHE.clear()
    yield
    umap_module._CACHE.clear()


@pytest.fixture
def gated(monkeypatch):
    """The real umap_overview, held until the test lets it through."""
    real, release, calls = umap_module.umap_overview, threading.Event(), []

    def fit(features, **kwargs):
        calls.append(kwargs.get("cache_key"))
        assert release.wait(WAIT), "the test never released the UMAP fit"
        return real(features, **kwargs)

    monkeypatch.setattr(umap_module, "umap_overview", fit)
    fit.release, fit.calls = release, calls
    return fit


def test_umap_of_a_new_pool_runs_in_the_background_then_replaces_the_pca_map(app, gated, fresh_maps):
    from transvis.demo import synthetic_demo
    from transvis.projection import PCAProjection, UMAPOverview

    at = app("pages/deep_dive.py")
    pool = at.session_state["pools"][at.session_state["active_pool"]]
    model = at.session_state["w:dd_model_a"]
    assert "dd_overview" not in charts(at)  # its lazy tab is closed: no map drawn, no UMAP started
    open_tab(at, "w:dd_detail_tab", "Every sample on one map")
    at.radio(key="w:dd_projection").set_value("umap").run()
    assert not at.exception and not errors(at), (at.exception, errors(at))
    job = at.session_state["dd_umap_job"]
    assert job.status().state == "running" and job.tag == (pool.key, model)
    [bar] = _bars(at)
    assert bar.text.startswith(f"UMAP of {model.split('/', 1)[1]}: ") and "/100 %" in bar.text
    assert "dd_umap_job_cancel" in [b.key for b in at.button]
    assert any("is being computed in the background" in c.value and "The PCA map is shown meanwhile" in c.value
               for c in at.caption)
    features = synthetic_demo().features[model].features
    assert "PCA of all 360 samples" in _title(at)  # meanwhile: the PCA map
    np.testing.assert_allclose(_positions(charts(at)["dd_overview"], 360),
                               PCAProjection(2).fit(features).transform(features), rtol=1e-6, atol=1e-6)
    # the rest of the page answers while the fit runs
    at.radio(key="w:dd_overview_colour").set_value("hardness").run()
    assert not at.exception and at.session_state["dd_umap_job"] is job and _bars(at)
    at.radio(key="w:dd_overview_colour").set_value("true label").run()

    gated.release.set()
    assert job.wait(WAIT).state == "done"
    at.run()  # the panel's fragment asks for this rerun when the job ends
    assert not at.exception and not errors(at), (at.exception, errors(at))
    assert "dd_umap_job" not in at.session_state and not _bars(at)
    assert "UMAP of all 360 samples" in _title(at)
    np.testing.assert_allclose(_positions(charts(at)["dd_overview"], 360),
                               UMAPOverview().fit(features).embedding_, rtol=1e-5, atol=1e-5)
    assert gated.calls == [(pool.key, model)]
    at.radio(key="w:dd_projection").set_value("pca").run()
    at.radio(key="w:dd_projection").set_value("umap").run()  # fitted once: shown at once, no second job
    assert "dd_umap_job" not in at.session_state and "UMAP of all" in _title(at) and gated.calls == [(pool.key, model)]


def test_a_cancelled_umap_keeps_the_pca_map_and_can_be_started_again(app, gated, fresh_maps):
    at = app("pages/deep_dive.py")
    open_tab(at, "w:dd_detail_tab", "Every sample on one map")
    at.radio(key="w:dd_projection").set_value("umap").run()
    job = at.session_state["dd_umap_job"]
    at.button(key="dd_umap_job_cancel").click().run()
    assert job.status().state == "cancelling"
    gated.release.set()
    assert job.wait(WAIT).state == "cancelled"
    at.run()
    assert not at.exception and not errors(at), (at.exception, errors(at))
    assert "dd_umap_job" not in at.session_state and "PCA of all" in _title(at)
    assert any(c.value.endswith("cancelled: nothing was kept.") for c in at.caption)
    at.button(key="dd_umap_start").click().run()
    assert not at.exception
    if "dd_umap_job" in at.session_state:  # else done at once: the cancelled fit landed in umap_overview's cache
        assert at.session_state["dd_umap_job"].wait(WAIT).state == "done"
        at.run()
    assert "UMAP of all" in _title(at) and not at.exception and "dd_umap_job" not in at.session_state


def test_the_prepared_demo_shows_its_persisted_maps_at_once(monkeypatch, tmp_path, fresh_maps):
    """A synthetic pool standing for the prepared demo, with persisted maps (stand-in positions, no fit): UMAP
    draws them on the first run, for every model, without a job; a stale file falls back to the job."""
    from streamlit.testing.v1 import AppTest

    import transvis.demo
    from pages._ui import _load_demo_target_pool, load_default_pool
    from transvis.demo import overview_cache, save_demo_overviews, synthetic_demo

    monkeypatch.setenv("TRANSVIS_APP_DEMO", "auto")
    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path))
    demo = synthetic_demo(n_models=3, n_classes=3, n_per_class=30, n_dims=6, seed=7)
    demo.name, demo.target = "demo-zoo/fashion-mnist", "fashion-mnist"
    demo.feature_keys = {m: f"fashion-mnist-{i}" for i, m in enumerate(demo.features)}
    demo.groundtruth = {"linear_probe": dict(demo.groundtruth["ncm_heldout"])}
    maps = {m: (np.arange(180, dtype=np.float32).reshape(90, 2) * (i + 1)) for i, m in enumerate(demo.features)}
    save_demo_overviews(demo, maps, cache_dir=tmp_path)
    monkeypatch.setattr(transvis.demo, "load_demo", lambda target="fashion-mnist", cache_dir=None: demo)
    monkeypatch.setattr(overview_cache, "prepared_feature_keys",
                        lambda target, cache_dir=None: dict(demo.feature_keys) if target == demo.target else None)

    def never(*args, **kwargs):
        raise AssertionError("a persisted map was fitted again")

    monkeypatch.setattr(umap_module, "umap_overview", never)
    for cached in (load_default_pool, _load_demo_target_pool):
        cached.clear()
    try:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.run()
        at.session_state["w:dd_projection"] = "umap"
        at.session_state["w:dd_detail_tab"] = "Every sample on one map"
        for model in demo.features:
            at.session_state["w:dd_model_a"] = model
            at.switch_page("pages/deep_dive.py").run()
            assert not at.exception and not errors(at), (at.exception, errors(at))
            assert "dd_umap_job" not in at.session_state and not _bars(at)
            assert "UMAP of all 90 samples" in _title(at)
            np.testing.assert_array_equal(_positions(charts(at)["dd_overview"], 90), maps[model])
        # maps of other features (a preparation since): not used, fitted in the background instead
        other = dict(demo.feature_keys)
        other[next(iter(other))] = "another-key"
        save_demo_overviews(transvis.demo.Demo(name=demo.name, features=demo.features, feature_keys=other,
                                               target=demo.target), maps, cache_dir=tmp_path)
        at.session_state["w:dd_model_a"] = next(iter(demo.features))
        monkeypatch.setattr(umap_module, "umap_overview", lambda x, **kw: umap_module.UMAPOverview().fit(x))
        at.run()
        assert not at.exception
        assert "dd_umap_job" in at.session_state or "UMAP of all" in _title(at)
        if "dd_umap_job" in at.session_state:
            assert "PCA of all 90 samples" in _title(at)
            assert at.session_state["dd_umap_job"].wait(WAIT).state == "done"
            at.run()
        assert "UMAP of all 90 samples" in _title(at)
        assert not np.array_equal(_positions(charts(at)["dd_overview"], 90), maps[next(iter(demo.features))])
    finally:
        for cached in (load_default_pool, _load_demo_target_pool):
            cached.clear()
