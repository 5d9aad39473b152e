"""Trajectories saved to one .npz and loaded back are equal to the computed ones, dtype for dtype."""

from __future__ import annotations

import numpy as np
import pytest

from transvis import dynamics
from transvis.demo import synthetic_demo
from transvis.dynamics import Overtake, load_trajectory, read_header, save_trajectories
from transvis.projection._linear import LinearProjection
from transvis.viz.animation import trajectory_view

REQUESTS = {
    "spread_attract": ("logme", {"variant": "paper", "mode": "both", "spread": 0.3, "attract": 0.3}),
    "fisher": ("sfda", {"shrinkage": None, "confmix": True, "sweep": "confmix"}),
    "ped": ("sfda", {"exit_ratio": 0.5, "time_step": 0.1, "max_steps": 6}),
    "collapse": ("logme", {"to_etf": False}),
}


@pytest.fixture(scope="module")
def pool():
    demo = synthetic_demo(n_models=3, n_classes=4, n_per_class=15, n_dims=8, seed=4)
    return {m: fs.features for m, fs in demo.features.items()}, demo.labels


@pytest.fixture(scope="module")
def computed(pool):
    features, labels = pool
    return {method: dynamics.run(method, features, labels, metric=metric, **params)
            for method, (metric, params) in REQUESTS.items()}


def assert_same(a, b, where="trajectory"):
    """Deep equality: same types (dict for any mapping), same dtypes and shapes, NaN equal to NaN."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} vs {list(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, LinearProjection):  # compared by the fitted linear map it keeps
        assert type(a) is type(b), where
        for name in ("mean_", "components_", "n_features_in_"):
            assert_same(getattr(a, name), getattr(b, name), f"{where}.{name}")
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} ({type(a).__name__}) vs {b!r} ({type(b).__name__})"


@pytest.mark.parametrize("method", list(REQUESTS))
def test_a_saved_trajectory_loads_back_equal(tmp_path, computed, method):
    traj = computed[method]
    path = save_trajectories(tmp_path / "t.npz", {method: traj}, header={"what": "test"})
    assert [p.name for p in tmp_path.iterdir()] == ["t.npz"]  # written atomically: no temporary left
    loaded = load_trajectory(path, method)
    for name in ("method", "metric", "metric_params", "params", "parameter", "models", "labels", "projection_name",
                 "projection_fixed", "scoring", "errors", "seconds"):
        assert_same(getattr(traj, name), getattr(loaded, name), name)
    assert_same({m: dict(v) for m, v in traj.info.items()}, loaded.info, "info")
    assert loaded.n_frames == traj.n_frames > 1
    for before, after in zip(traj.frames, loaded.frames):
        where = f"frame {before.index}"
        for name in ("index", "value", "label", "positions", "centres", "scores", "ranks", "rank_changes",
                     "overtakes"):
            assert_same(getattr(before, name), getattr(after, name), f"{where}.{name}")
        assert_same({m: dict(before.quantities[m]) for m in before.quantities}, after.quantities,
                    f"{where}.quantities")
        for name in ("predicted", "contribution"):
            lazy = getattr(before, name)
            assert_same(None if lazy is None else {m: lazy[m] for m in lazy}, getattr(after, name), f"{where}.{name}")
    assert loaded.all_overtakes() == traj.all_overtakes()
    assert traj.scores_table().equals(loaded.scores_table()) and traj.ranks_table().equals(loaded.ranks_table())
    model = traj.models[-1]
    view, view_loaded = trajectory_view(traj, model), trajectory_view(loaded, model)
    np.testing.assert_array_equal(view.positions, view_loaded.positions)
    assert view.frame_names == view_loaded.frame_names and view.projection == view_loaded.projection
    assert_same(traj.projections, loaded.projections, "projections")


def test_projections_still_transform_after_loading(tmp_path, pool, computed):
    features, _ = pool
    traj = computed["collapse"]
    loaded = load_trajectory(save_trajectories(tmp_path / "t.npz", {"c": traj}), "c")
    model = traj.models[0]
    np.testing.assert_allclose(loaded.projections[model].transform(features[model]), traj.frames[0].positions[model])


def test_the_header_names_what_a_file_holds_and_stale_files_read_as_none(tmp_path, computed):
    path = save_trajectories(tmp_path / "t.npz", {"sa": computed["spread_attract"], "ped": computed["ped"]},
                             header={"key": {"features": ["k1"]}})
    header = read_header(path)
    assert header["names"] == ["sa", "ped"] and header["header"] == {"key": {"features": ["k1"]}}
    assert read_header(tmp_path / "missing.npz") is None
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not a zip")
    assert read_header(tmp_path / "broken.npz") is None
    with pytest.raises(ValueError, match="holds no trajectory 'fisher'.*'ped', 'sa'"):
        load_trajectory(path, "fisher")


def test_values_a_trajectory_cannot_hold_are_refused_with_a_reason(tmp_path, computed):
    traj = computed["collapse"]
    traj_copy = dynamics.Trajectory(**{**traj.__dict__, "info": {traj.models[0]: {"bad": object()}}})
    with pytest.raises(ValueError, match="cannot save a value of type object"):
        save_trajectories(tmp_path / "t.npz", {"c": traj_copy})
    assert not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match="without '/'"):
        save_trajectories(tmp_path / "t.npz", {"a/b": traj})


def test_overtakes_survive_the_round_trip(tmp_path, computed):
    traj = computed["collapse"]
    frame = traj.frames[1]
    marked = dynamics.Trajectory(**{**traj.__dict__, "frames": [
        traj.frames[0], dynamics.Frame(**{**frame.__dict__, "overtakes": [Overtake("a", "b")]})]})
    loaded = load_trajectory(save_trajectories(tmp_path / "t.npz", {"c": marked}), "c")
    assert loaded.all_overtakes() == [(1, Overtake("a", "b"))]


def test_request_fills_in_defaults_so_equal_runs_have_equal_requests():
    assert dynamics.request("collapse", "logme") == dynamics.request("nc", "logme", to_etf=False)
    assert dynamics.request("collapse")["params"]["to_etf"] is False
    assert dynamics.request("collapse", to_etf=True) != dynamics.request("collapse")
    assert dynamics.request("fisher")["metric"] == "sfda" and dynamics.request("fisher")["projection"] == "fisher"
    with pytest.raises(ValueError, match="has no parameter"):
        dynamics.request("collapse", spread=1.0)
