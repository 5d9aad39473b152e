"""A dynamics page opens on the model that makes its point (transvis.demo.showcase), read from a persisted
trajectory only; without one it opens on the pool's first model."""

from __future__ import annotations

import pytest

from tests.app.conftest import activate_pool
from transvis.demo.showcase import Showcase


@pytest.fixture
def picked(monkeypatch):
    """rank_contrast stubbed to name the pool's third model as the one whose rank falls (its own logic is
    tested in tests/unit/test_showcase.py); records the trajectories it was asked about."""
    import transvis.demo.showcase as showcase

    seen = []

    def contrast(traj, **_):
        seen.append(traj)
        return Showcase(models=(traj.models[0], traj.models[2]), reason="stub")

    monkeypatch.setattr(showcase, "rank_contrast", contrast)
    return seen


def _persist_default(at, kind):
    """A copy of the session's pool (the cached one stays untouched) holding ``kind``'s default trajectory as
    the demo's persisted ones are held, made the active pool."""
    import dataclasses

    from transvis import dynamics
    from transvis.app_defaults import DYNAMICS_DEFAULTS
    from transvis.session import trajectory_request_key

    shown = at.session_state["pools"][at.session_state["active_pool"]]
    metric, params = DYNAMICS_DEFAULTS[kind]
    traj = dynamics.run(kind, shown.feature_arrays(), shown.labels, metric=metric, **params)
    pool = dataclasses.replace(shown, key=f"{shown.key}:persisted-{kind}",
                               trajectories={trajectory_request_key(kind, metric, params): traj})
    activate_pool(at, pool)
    return pool


@pytest.mark.parametrize("page, kind, key", [("pages/spread_attract.py", "spread_attract", "w:sa_model"),
                                             ("pages/fisher_space.py", "fisher", "w:fs_model")])
def test_the_page_opens_on_the_showcased_model_of_a_persisted_trajectory(app, picked, page, kind, key):
    at = app()
    pool = _persist_default(at, kind)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert picked and at.selectbox(key=key).value == pool.models[2] != pool.models[0]


def test_without_a_persisted_trajectory_the_page_opens_on_the_first_model(app, picked):
    at = app("pages/spread_attract.py")
    pool = at.session_state["pools"][at.session_state["active_pool"]]
    assert not picked and at.selectbox(key="w:sa_model").value == pool.models[0]


@pytest.fixture
def picked_by_kind(monkeypatch):
    """The neural-collapse and PED pickers stubbed to name the pool's third model (their logic is tested in
    tests/unit/test_showcase_kinds.py); records the kinds they were asked about."""
    import transvis.demo.showcase as showcase

    seen = []

    def stub(kind):
        def pick(traj, **_):
            seen.append((kind, traj.method))
            return Showcase(models=(traj.models[0], traj.models[2]), reason="stub")
        return pick

    for kind in ("collapse", "ped"):
        monkeypatch.setitem(showcase.PICKERS, kind, stub(kind))
    return seen


@pytest.mark.parametrize("page, kind, key", [("pages/neural_collapse.py", "collapse", "w:nc_model"),
                                             ("pages/ped_dynamics.py", "ped", "w:ped_model")])
def test_collapse_and_ped_open_on_their_own_pick(app, picked_by_kind, page, kind, key):
    at = app()
    pool = _persist_default(at, kind)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert (kind, kind) in picked_by_kind  # the kind's own picker, on the kind's trajectory
    assert at.selectbox(key=key).value == pool.models[2] != pool.models[0]


@pytest.fixture
def fresh_opening_pair():
    """The deep dive caches its opening pair per pool (pages/deep_dive.py::_opening_pair): a stubbed pick must
    neither read a real one cached before it nor leave itself cached for the tests after it."""
    import streamlit as st

    st.cache_data.clear()
    yield
    st.cache_data.clear()


def test_the_deep_dive_opens_on_the_ground_truths_contrast(app, monkeypatch, fresh_opening_pair):
    import transvis.demo.showcase as showcase

    asked = []

    def contrast(groundtruth, groundtruth_n=None, table=None, metrics=None, **_):
        asked.append((dict(groundtruth), table))
        models = sorted(groundtruth)
        return Showcase(models=(models[3], models[1]), reason="stub reason")

    monkeypatch.setattr(showcase, "groundtruth_contrast", contrast)
    at = app("pages/deep_dive.py")
    assert not at.exception, at.exception
    [(groundtruth, table)] = asked  # asked once, with the page's ground truth and its ranking table
    models = sorted(groundtruth)
    assert table is not None and set(table.models) == set(groundtruth)
    assert (at.selectbox(key="w:dd_model_a").value, at.selectbox(key="w:dd_model_b").value) == (models[3], models[1])
    assert any(c.value == "Opened on this pair: stub reason" for c in at.caption)
    at.selectbox(key="w:dd_model_b").set_value(models[0]).run()  # another pair: the reason is not repeated
    assert len(asked) == 1 and not any(c.value.startswith("Opened on this pair") for c in at.caption)
    # a new session of the same pool reads the cached pick: the contrast is not weighed again
    again = app("pages/deep_dive.py")
    assert len(asked) == 1 and again.selectbox(key="w:dd_model_a").value == models[3]
    assert any(c.value == "Opened on this pair: stub reason" for c in again.caption)


def test_the_deep_dives_real_pick_is_ordered_by_the_ground_truth(app):
    at = app("pages/deep_dive.py")
    a, b = at.selectbox(key="w:dd_model_a").value, at.selectbox(key="w:dd_model_b").value
    pool = at.session_state["pools"][at.session_state["active_pool"]]
    accuracy = next(iter(pool.groundtruth.values()))
    assert a != b and accuracy[a] > accuracy[b]  # the first model is the one the ground truth puts ahead
    assert any(c.value.startswith("Opened on this pair: The ground truth puts") for c in at.caption)
