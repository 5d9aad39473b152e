"""The Neural-collapse page's ETF toggle answers at once (issue 12): the new trajectory *and every frame's NC
statistics* are computed by the background job, the page says what is being computed while the previous
trajectory stays drawn, and once the job is done the page reads the statistics without computing any
(synthetic demo; the grace is set to 0 as on the prepared demo, where the statistics take ~15 s)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.app.conftest import charts, errors, values

WAIT = 120.0


@pytest.fixture
def no_grace(monkeypatch, fresh_results):
    import pages._dynamics
    import transvis.dynamics.collapse as collapse_module
    from transvis.dynamics._engine import clear_cache

    clear_cache()
    monkeypatch.setattr(pages._dynamics, "collapse_grace", lambda pool: 0.0)
    calls = []
    real = collapse_module.compute

    def counting(name, *args, **kwargs):
        calls.append((name, threading.current_thread().name))
        return real(name, *args, **kwargs)

    monkeypatch.setattr(collapse_module, "compute", counting)
    return calls


def _job(at):
    """The session's one running trajectory job."""
    [job] = [at.session_state[k] for k in at.session_state
             if str(k).startswith("trajectory_job:") and hasattr(at.session_state[k], "status")]
    return job


def _shown(at):
    pool_key = at.session_state["pools"][at.session_state["active_pool"]].key
    return at.session_state[f"trajectory_shown:{pool_key}:collapse"]


def test_the_etf_toggle_computes_the_statistics_in_the_background(app, no_grace):
    at = app("pages/neural_collapse.py")
    # the synthetic demo's default trajectory is not persisted: without grace it also comes from a job
    [info] = [i.value for i in at.info if "Computing the trajectory and its NC statistics" in i.value]
    assert _job(at).wait(WAIT).state == "done"
    at.run()
    del no_grace[:]
    at.select_slider(key="w:nc_t").set_value("t = 1.00").run()
    gram_before = values(charts(at)["nc_t_gram"]["data"][0]["z"]).astype(float)
    before = _shown(at)
    at.toggle(key="w:nc_to_etf").set_value(True).run()
    assert not at.exception and not errors(at)
    # the previous trajectory is drawn, and the page says what is being computed
    assert _shown(at) is before and before.params["to_etf"] is False and "nc_still" in charts(at)
    [note] = [c.value for c in at.caption if "Computing the trajectory and its NC statistics" in c.value]
    assert "still shows the trajectory at the previous settings" in note and "to etf off" in note
    [bar] = [b for b in at.get("progress") if b.text.startswith("Computing the trajectory and its NC statistics")]
    assert "models" in bar.text
    np.testing.assert_array_equal(values(charts(at)["nc_t_gram"]["data"][0]["z"]).astype(float), gram_before)
    job = _job(at)
    assert job.wait(WAIT).state == "done"
    traj = job.result
    assert all(isinstance(f.quantities, dict) and type(f.quantities) is dict for f in traj.frames)
    computed = len(no_grace)
    assert computed == 2 * len(traj.models) * len(traj.frames)  # "nc" and "face" of every model and frame
    assert all(thread.startswith("transvis-job") for _, thread in no_grace)  # none in the page run
    at.run()
    assert not at.exception and not errors(at)
    assert _shown(at).params["to_etf"] is True and len(no_grace) == computed  # read, not computed again
    assert not [c for c in at.caption if "previous settings" in c.value]
    gram = values(charts(at)["nc_t_gram"]["data"][0]["z"]).astype(float)
    etf = values(charts(at)["nc_t_gram"]["data"][1]["z"]).astype(float)
    assert np.abs(gram - etf).max() < 1e-6 < np.abs(gram_before - etf).max()  # the means reached the ETF
    assert (at.dataframe[0].value["nc1"] < 1e-12).all()


def test_collapse_grace_waits_only_where_the_statistics_can_be_ready():
    from types import SimpleNamespace

    from pages._dynamics import GRACE_S, collapse_grace

    def pool(n, d, c, models):
        return SimpleNamespace(n_samples=n, class_names=list(range(c)),
                               feature_arrays=lambda: {f"m{i}": np.zeros((1, d)) for i in range(models)})

    assert collapse_grace(pool(360, 32, 4, 5)) == GRACE_S  # the synthetic demo: milliseconds
    assert collapse_grace(pool(3000, 1280, 10, 12)) == 0.0  # the prepared demo: ~15 s of statistics


def test_a_control_that_leaves_the_figure_as_it_was_reuses_it(app, monkeypatch):
    import transvis.viz.animation as animation
    import transvis.viz.still as still

    built = {"animated": 0, "still": 0}

    def counted(name, real):
        def wrapper(*args, **kwargs):
            built[name] += 1
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(animation, "dynamics_figure", counted("animated", animation.dynamics_figure))
    monkeypatch.setattr(still, "still_frame", counted("still", still.still_frame))
    at = app("pages/neural_collapse.py")
    first = charts(at)["nc_still"]
    opened = dict(built)
    at.toggle(key="w:nc_teaching").set_value(False).run()  # nothing the figure shows changed
    assert not at.exception and built == opened and charts(at)["nc_still"] == first
    at.select_slider(key="w:nc_t").set_value("t = 0.50").run()  # another frame: a new still (and title)
    assert built["still"] == opened["still"] + 1 and charts(at)["nc_still"] != first
    at.select_slider(key="w:nc_t").set_value("t = 0.00").run()  # back: both kept
    assert built["still"] == opened["still"] + 1 and charts(at)["nc_still"] == first
    models = at.session_state["pools"][at.session_state["active_pool"]].models
    other = next(m for m in models if m != at.selectbox(key="w:nc_model").value)
    at.selectbox(key="w:nc_model").set_value(other).run()  # another model: built again
    assert built["animated"] == opened["animated"] + 2 and charts(at)["nc_still"] != first
