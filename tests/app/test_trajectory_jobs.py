"""A dynamics page's control answers at once: a trajectory not ready within ``GRACE_S`` is computed by a
background job (progress with done/total models, Cancel), the figure keeps the previous settings' trajectory
meanwhile and says so, and the new one replaces it without another click (synthetic demo, 5 models)."""

from __future__ import annotations

import pytest

from tests.app._gates import WAIT, Gate, progress_bars, session_jobs, wait_until
from tests.app.conftest import charts, errors

SPREAD = 0.85  # not the page's default: its trajectory is neither persisted nor computed before


class GatedRun(Gate):
    """``transvis.dynamics.run`` with the Spread & Attract trajectory at :data:`SPREAD` held, model by model,
    until the test lets each through (every other request runs as it is)."""

    def __init__(self, real):
        super().__init__()
        self.real, self.calls = real, 0

    def __call__(self, kind, *args, progress=None, **kwargs):
        if kind != "spread_attract" or kwargs.get("spread") != SPREAD or progress is None:
            return self.real(kind, *args, progress=progress, **kwargs)
        self.calls += 1

        last = [0]

        def gated(done, model):
            if done > last[0]:  # a model finished (not one starting): hold it until the test steps
                last[0] = done
                self.hold("this model")
            progress(done, model)

        return self.real(kind, *args, progress=gated, **kwargs)


@pytest.fixture
def gated(monkeypatch, fresh_results):
    import transvis.dynamics
    from transvis.dynamics._engine import clear_cache

    clear_cache()  # a trajectory an earlier test computed would come back at once
    gate = GatedRun(transvis.dynamics.run)
    monkeypatch.setattr(transvis.dynamics, "run", gate)
    return gate


def _jobs(at):
    return session_jobs(at, "trajectory_job:")


def _bars(at):
    return progress_bars(at, "Computing the trajectory")


def _shown(at):
    pool_key = at.session_state["pools"][at.session_state["active_pool"]].key
    return at.session_state[f"trajectory_shown:{pool_key}:spread_attract"]


def _open_then_move(app):
    at = app("pages/spread_attract.py")
    assert not at.exception and not errors(at) and "sa_anim" in charts(at)
    before = _shown(at)
    at.slider(key="w:sa_spread").set_value(SPREAD).run()
    assert not at.exception and not errors(at)
    [(key, job)] = list(_jobs(at).items())
    return at, before, key, job


def test_a_slow_trajectory_moves_to_the_background_and_replaces_the_figure_when_done(app, gated):
    at, before, key, job = _open_then_move(app)
    # the previous trajectory is still drawn, and the page says so
    assert "sa_anim" in charts(at) and _shown(at) is before and before.params["spread"] != SPREAD
    [note] = [c.value for c in at.caption if "still shows the trajectory at the previous settings" in c.value]
    assert f"spread {before.params['spread']:.3g}" in note
    [bar] = _bars(at)
    assert bar.text.startswith("Computing the trajectory: 0/5 models")
    gated.step()
    gated.step()
    wait_until(lambda: job.status().done >= 2, "two models done")
    at.run()
    [bar] = _bars(at)
    assert bar.value == 40 and "2/5 models" in bar.text
    for _ in range(3):
        gated.step()
    assert job.wait(WAIT).state == "done"
    at.run()
    assert not at.exception and not errors(at) and not _bars(at) and not _jobs(at)
    assert _shown(at).params["spread"] == SPREAD and "sa_anim" in charts(at)
    assert not [c for c in at.caption if "previous settings" in c.value]
    at.run()  # later reruns take it from the store: no new job
    assert not _jobs(at) and gated.calls == 1


def test_cancel_keeps_the_previous_figure_and_offers_to_compute_again(app, gated):
    at, before, key, job = _open_then_move(app)
    gated.step()
    wait_until(lambda: job.status().done >= 1, "one model done")
    at.button(key=f"{key}_cancel").click().run()
    assert job.status().state == "cancelling"
    gated.step()  # the running model finishes; nothing after it starts
    assert job.wait(WAIT).state == "cancelled"
    at.run()
    assert not at.exception and not _bars(at) and not _jobs(at)
    [warning] = [w.value for w in at.warning if "trajectory at these settings was not computed" in w.value]
    assert "Cancelled after 2 of 5 models: nothing was stored." in warning
    assert _shown(at) is before and "sa_anim" in charts(at)
    at.button(key=f"{key}_restart").click().run()
    [restarted] = list(_jobs(at).values())
    assert restarted is not job
    for _ in range(5):  # the restarted run computes every model again
        gated.step()
    assert restarted.wait(WAIT).state == "done"
    at.run()
    assert not at.exception and _shown(at).params["spread"] == SPREAD


def test_one_page_run_waits_one_budget_not_a_grace_per_result(app, gated, monkeypatch):
    """With the app's shared budget (1 s per page run): the held trajectory uses it up, so the point estimates at
    the new setting go to the background at once (the previous bars stay, said to be so) instead of waiting
    a second grace; both arrive without another click."""
    import pages._jobs

    monkeypatch.setattr(pages._jobs, "RUN_WAIT_BUDGET_S", 1.0)
    at, before, key, job = _open_then_move(app)
    run, waited = at.session_state["_page_run_waited"]
    assert run == at.session_state["_page_run"] and 0.99 <= waited < 1.5
    points = session_jobs(at, "point_job:")
    assert len(points) == 1 and [c for c in at.caption if "still show the previous settings" in c.value]
    for _ in range(5):
        gated.step()
    assert job.wait(WAIT).state == "done"
    [point_job] = points.values()
    assert point_job.wait(WAIT).state == "done"
    at.run()
    assert not at.exception and not errors(at) and not _jobs(at) and not session_jobs(at, "point_job:")
    assert _shown(at).params["spread"] == SPREAD
    assert not [c for c in at.caption if "previous settings" in c.value]
