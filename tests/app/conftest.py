"""AppTest helpers: every page test runs the real router (app.py) on the synthetic demo, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
TIMEOUT = 240  # the first run of a worker scores the whole pool with every metric


@pytest.fixture(scope="session")
def _app_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("transvis-app-cache")


@pytest.fixture(autouse=True)
def _offline_app_env(monkeypatch, _app_cache):
    """Scoped to these tests (never leaked to other test files of the worker): the synthetic demo, no
    model hub, and a throw-away cache so uploads and extractions never land in the user's cache."""
    monkeypatch.setenv("TRANSVIS_APP_DEMO", "synthetic")
    # A page run's waits share a 1 s budget (pages._jobs.wait_in_run); on a loaded CI machine that would move
    # results the tests expect at once into the background. The tests get each wait's own grace (the budget of
    # two waits); tests/app/test_trajectory_jobs.py checks the shared budget itself.
    import pages._jobs

    monkeypatch.setattr(pages._jobs, "RUN_WAIT_BUDGET_S", 2.0)
    monkeypatch.setattr(pages._jobs, "PREDICT_WAITS", False)  # tests/app/test_wait_in_run.py checks it
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSVIS_CACHE", str(_app_cache))


@pytest.fixture
def app():
    """A function ``app(page=None)`` returning an AppTest that has run the router (and ``page``)."""
    from streamlit.testing.v1 import AppTest

    def make(page: str | None = None):
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.run()
        assert not at.exception, at.exception
        if page is not None:
            at.switch_page(page).run()
            assert not at.exception, at.exception
        return at

    return make


def activate_pool(at, pool) -> None:
    """Add ``pool`` to the AppTest session's pools and make it the active one (the next run shows it)."""
    at.session_state["pools"] = {**at.session_state["pools"], pool.key: pool}
    at.session_state["active_pool"] = pool.key


def open_tab(at, key: str, label: str):
    """Open the lazy tab ``label`` of the tabs keyed ``key`` (pages._ui.lazy_tabs) and rerun: a closed tab draws
    nothing, so its charts exist only once it is open."""
    at.session_state[key] = label
    return at.run()


def charts(at) -> dict[str, dict]:
    """{chart key or index: figure JSON} of every plotly chart on the page."""
    out = {}
    for i, element in enumerate(at.get("plotly_chart")):
        spec = json.loads(element.proto.spec)
        key = element.proto.id.rsplit("-", 1)[-1] if element.proto.id else str(i)
        out[str(i)] = spec
        out.setdefault(key, spec)
    return out


def chart(at, title_fragment: str) -> dict:
    """The figure whose title contains ``title_fragment``."""
    found = []
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        title = spec.get("layout", {}).get("title", {})
        text = title.get("text", "") if isinstance(title, dict) else str(title)
        if title_fragment.lower() in (text or "").lower():
            found.append(spec)
    assert found, f"no chart titled like {title_fragment!r}"
    return found[0]


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def values(data) -> "np.ndarray":
    """A plotly JSON array as numpy: plain lists, or plotly's typed arrays ``{"dtype", "bdata", "shape"}``."""
    import base64

    import numpy as np

    if isinstance(data, dict) and "bdata" in data:
        arr = np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
        shape = data.get("shape")
        if shape:
            dims = [int(s) for s in str(shape).split(",")] if isinstance(shape, str) else list(shape)
            arr = arr.reshape(dims)
        return arr
    if isinstance(data, list) and data and isinstance(data[0], dict) and "bdata" in data[0]:
        return np.stack([values(row) for row in data])
    return np.asarray(data)


@pytest.fixture
def fresh_results():
    """No background-job result finished earlier in this process (it would be reused instead of starting a
    job)."""
    from pages._jobs import finished_results

    finished_results.clear()
    yield
    finished_results.clear()
