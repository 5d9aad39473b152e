"""``run(..., eager_quantities=True)``: every frame's method quantities (the collapse's NC statistics) computed
inside each model's progress unit, equal to the lazily computed ones (issue 12: a page reading them all no
longer pays for them in its own run)."""

from __future__ import annotations

import numpy as np
import pytest

import transvis.dynamics.collapse as collapse_module
from transvis.demo import synthetic_demo
from transvis.dynamics import clear_cache, run
from transvis.dynamics._engine import read_quantities
from transvis.jobs import JobCancelled
from transvis.metrics._lazy import LazyMap


@pytest.fixture(scope="module")
def pool():
    demo = synthetic_demo(n_models=3, n_classes=4, n_per_class=30, n_dims=12)
    return {m: fs.features.astype(np.float64) for m, fs in demo.features.items()}, demo.labels


@pytest.fixture(autouse=True)
def _fresh():
    clear_cache()
    yield
    clear_cache()


def assert_identical(a, b, where=""):
    """Equal values, bit for bit (NaN equal to NaN), through dicts, lists and arrays."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    else:
        assert a == b, where


@pytest.mark.parametrize("method, params, metric", [
    ("collapse", {"to_etf": True}, "logme"),
    ("collapse", {}, "sfda"),
    ("spread_attract", {"variant": "official", "mode": "spread"}, "logme"),
    ("fisher", {}, "sfda"),
])
def test_eager_quantities_equal_the_lazy_ones(pool, method, params, metric):
    x, y = pool
    lazy = run(method, x, y, metric=metric, **params)
    eager = run(method, x, y, metric=metric, eager_quantities=True, **params)
    assert lazy is not eager  # no cache_key: two computations
    for a, b in zip(lazy.frames, eager.frames):
        assert isinstance(a.quantities, LazyMap) and not isinstance(b.quantities, LazyMap)
        assert_identical({m: dict(a.quantities[m]) for m in a.quantities}, dict(b.quantities), f"frame {a.index}")
        assert a.scores == b.scores
    assert lazy.errors == eager.errors
    nc1 = eager.quantity("nc1", next(iter(x))) if method == "collapse" else None
    if nc1 is not None:
        assert nc1[0] > 0 and nc1[-1] < 1e-20  # real statistics, not an empty dict


def test_eager_statistics_are_computed_inside_each_models_progress_unit(pool, monkeypatch):
    x, y = pool
    calls = []
    real = collapse_module.compute

    def counting(name, *args, **kwargs):
        calls.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(collapse_module, "compute", counting)
    seen = []
    traj = run("collapse", x, y, n_frames=4, eager_quantities=True,
               progress=lambda done, model: seen.append((done, model, calls.count("nc"))))
    # model k's 4 frames' NC statistics are done before progress(k + 1): a background job's bar means it
    assert [(d, n) for d, _, n in seen] == [(0, 0), (1, 4), (1, 4), (2, 8), (2, 8), (3, 12)]
    traj.quantity("nc1", "synthetic/model-2")  # reading them later computes nothing more
    assert calls.count("nc") == 12


def test_eager_run_of_a_cached_trajectory_computes_what_was_not_read(pool):
    x, y = pool
    lazy = run("collapse", x, y, n_frames=3, cache_key="pool")
    first = lazy.frames[1].quantities["synthetic/model-0"]
    seen = []
    eager = run("collapse", x, y, n_frames=3, cache_key="pool", eager_quantities=True,
                progress=lambda done, model: seen.append(done))
    assert eager is lazy and seen == [0, 1, 1, 2, 2, 3]
    assert all(sorted(f.quantities.computed()) == sorted(x) for f in eager.frames)
    assert eager.frames[1].quantities["synthetic/model-0"] is first  # read once, kept


def test_reading_quantities_stops_on_cancel(pool):
    x, y = pool
    traj = run("collapse", x, y, n_frames=3)
    with pytest.raises(JobCancelled):
        read_quantities(traj, cancelled=lambda: True)
    assert all(f.quantities.computed() == [] for f in traj.frames)
    with pytest.raises(JobCancelled):
        run("collapse", x, y, n_frames=3, eager_quantities=True, cancelled=lambda: True)
