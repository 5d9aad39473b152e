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
