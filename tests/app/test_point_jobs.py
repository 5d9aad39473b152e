"""A method page's control answers at once even when the point estimates at the new settings take longer than
``POINT_GRACE_S``: the previous settings' figures stay drawn and say so, a background job scores every model
(progress with done/total models, Cancel), and the page redraws with the new scores without another click
(synthetic demo, 5 models)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.app._gates import WAIT, Gate, progress_bars, session_jobs, wait_until
from tests.app.conftest import charts, errors, values

SPREAD = 0.55  # not the page's default: this FSP table is neither precomputed nor scored before
STILL = "the figures and tables below still show the previous settings"


class GatedScoring(Gate):
    """``rank_models`` with the one-model FSP scorings at :data:`SPREAD` (a scoring job's units) held until the
    test lets each through; every other call runs as it is."""

    def __init__(self, real):
        super().__init__()
        self.real, self.units = real, []

    def __call__(self, features, metrics, *args, params=None, **kwargs):
        fsp = (params or {}).get("fsp") or {}
        if fsp.get("spread") != SPREAD or kwargs.get("resamples") or len(features) != 1:
            return self.real(features, metrics, *args, params=params, **kwargs)
        self.units.append(next(iter(features)))
        self.hold()
        return self.real(features, metrics, *args, params=params, **kwargs)


@pytest.fixture
def gated(monkeypatch, fresh_results):
    import transvis.ranking

    gate = GatedScoring(transvis.ranking.rank_models)
    monkeypatch.setattr(transvis.ranking, "rank_models", gate)
    return gate


def _point_jobs(at):
    return session_jobs(at, "point_job:")


def _bars(at):
    return progress_bars(at, "Scoring every model with FSP")


def test_slow_point_estimates_keep_the_previous_figures_until_every_model_is_scored(app, gated):
    at = app("pages/spread_attract.py")
    assert not at.exception and not errors(at)
    before = charts(at)["sa_scores"]
    at.slider(key="w:sa_spread").set_value(SPREAD).run()
    assert not at.exception and not errors(at)
    [job] = _point_jobs(at).values()
    assert charts(at)["sa_scores"] == before  # the previous settings' bars, said to be so
    assert [c for c in at.caption if STILL in c.value]
    [bar] = _bars(at)
    assert bar.text.startswith("Scoring every model with FSP (Spread/Attract): 0/5 models")
    for _ in range(5):
        gated.step()
    assert job.wait(WAIT).state == "done"
    at.run()
    assert not at.exception and not errors(at) and not _bars(at) and not _point_jobs(at)
    assert not [c for c in at.caption if STILL in c.value]
    after = charts(at)["sa_scores"]
    assert after != before and gated.units == [f"synthetic/model-{i}" for i in range(5)]


def test_cancel_keeps_the_previous_figures_and_offers_to_score_again(app, gated):
    at = app("pages/spread_attract.py")
    before = charts(at)["sa_scores"]
    at.slider(key="w:sa_spread").set_value(SPREAD).run()
    [(key, job)] = list(_point_jobs(at).items())
    gated.step()
    wait_until(lambda: len(gated.units) >= 2, "model-1 held in the gate")  # model-0 done
    at.button(key=f"{key}_cancel").click().run()
    gated.step()  # the running unit finishes; nothing after it starts
    assert job.wait(WAIT).state == "cancelled"
    at.run()
    assert not at.exception and not _bars(at)
    [warning] = [w.value for w in at.warning if "was not scored at the new settings" in w.value]
    assert "Cancelled after 2 of 5 models: nothing was stored." in warning
    assert charts(at)["sa_scores"] == before
    at.button(key=f"{key}_restart").click().run()
    [restarted] = list(_point_jobs(at).values())
    assert restarted is not job
    for _ in range(5):
        gated.step()
    assert restarted.wait(WAIT).state == "done"
    at.run()
    assert not at.exception and charts(at)["sa_scores"] != before


def test_a_persisted_default_table_stays_drawn_while_new_settings_are_scored(app, gated):
    """On the prepared demo a method page's default table comes from disk (``pool.precomputed``). Moving a
    control must still hand the new settings to the background and keep that table drawn, not score the whole
    pool in the page run (PED took 8 s there)."""
    from transvis.app_defaults import METHOD_DEFAULTS
    from transvis.session import add_precomputed

    at = app()
    pool = at.session_state["pools"][at.session_state["active_pool"]]
    params = dict(METHOD_DEFAULTS["fsp"])
    persisted = gated.real(pool.features, ["fsp"], params={"fsp": params})
    add_precomputed(pool, persisted, {"fsp": params})
    at.switch_page("pages/spread_attract.py").run()
    assert not at.exception and not errors(at)
    drawn = charts(at)["sa_scores"]
    np.testing.assert_allclose(values(drawn["data"][1]["x"]).astype(float),
                               [persisted.scores.at[m, "fsp"] for m in pool.models], rtol=1e-12)
    at.slider(key="w:sa_spread").set_value(SPREAD).run()
    assert not at.exception and not errors(at)
    [job] = _point_jobs(at).values()  # scored in the background, model by model
    assert charts(at)["sa_scores"] == drawn and [c for c in at.caption if STILL in c.value]
    for _ in range(5):
        gated.step()
    assert job.wait(WAIT).state == "done"
    at.run()
    assert not at.exception and charts(at)["sa_scores"] != drawn and not _point_jobs(at)
