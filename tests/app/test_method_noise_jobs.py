"""A method page's control answers at once: the point estimates first, the sampling noise in a background job
(progress with done/total models, Cancel, the page usable meanwhile), the intervals once it is done (synthetic
demo, 5 models)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.app._gates import WAIT, GatedNoise, progress_bars, session_jobs, wait_until
from tests.app.conftest import charts, errors, values

PENDING = "Intervals pending: ranks shown without noise; differences are not judged yet."
SPREAD = 0.65  # not the page's default: this FSP table is neither precomputed nor scored before


@pytest.fixture
def gated(monkeypatch):
    """Every unit of the FSP table at :data:`SPREAD` held until the test lets it through (other estimates,
    e.g. the page's default table superseded by the slider, run as they are)."""
    import transvis.noise_jobs

    gate = GatedNoise(transvis.noise_jobs.score_noise,
                      lambda metric, params: params.get("fsp", {}).get("spread") == SPREAD)
    monkeypatch.setattr(transvis.noise_jobs, "score_noise", gate)
    return gate


def _jobs(at):
    return session_jobs(at, "noise_job:")


def _bars(at):
    return progress_bars(at, "Estimating the score noise of FSP")


def _captions(at, fragment):
    return [c.value for c in at.caption if fragment in c.value]


def _open_with_spread(app):
    at = app("pages/spread_attract.py")
    at.slider(key="w:sa_spread").set_value(SPREAD).run()
    assert not at.exception and not errors(at)
    return at


def _expected_fsp_noise(at):
    """rank_models' own noise of the page's FSP table (every model at once), to compare with the page."""
    from transvis.ranking import rank_models
    from transvis.uncertainty import DEFAULT_RESAMPLING

    pool = at.session_state["pools"][at.session_state["active_pool"]]
    params = {"metric": "logme", "variant": "paper", "spread": SPREAD,
              "attract": float(at.slider(key="w:sa_attract").value)}
    return rank_models(pool.features, ["fsp"], params={"fsp": params}, resamples=DEFAULT_RESAMPLING)


def test_point_estimates_at_once_then_the_intervals_without_another_click(app, gated, fresh_results):
    at = _open_with_spread(app)
    # the figures are drawn from the point estimates, while the noise is pending
    assert {"sa_scores", "sa_ranks"} <= set(charts(at))
    assert _captions(at, PENDING)
    [bar] = _bars(at)
    assert bar.value == 0 and bar.text.startswith("Estimating the score noise of FSP (Spread/Attract): 0/5 models")
    assert not _captions(at, "Score noise of FSP")
    [(key, job)] = [(k, j) for k, j in _jobs(at).items() if j.tag[1] == "fsp"]
    assert job.status().state == "running"

    gated.step()
    gated.step()
    wait_until(lambda: job.status().done >= 2, "two units done")
    at.run()
    [bar] = _bars(at)
    assert bar.value == 40 and "2/5 models · about " in bar.text and "model-2" in bar.text
    # the page answers meanwhile: another control, same job still running
    at.radio(key="w:sa_mode").set_value("spread").run()
    assert not at.exception and _jobs(at).get(key) is job and _bars(at)

    for _ in range(3):
        gated.step()
    assert job.wait(WAIT).state == "done"
    at.run()
    assert not at.exception and not errors(at)
    assert not _bars(at) and not _captions(at, PENDING) and key not in _jobs(at)
    assert [units for metric, units in gated.started] == [[f"synthetic/model-{i}"] for i in range(5)]
    # the intervals are rank_models' own (every model re-scored on the same 10 subsets)
    expected = _expected_fsp_noise(at)
    tiers = "; ".join(" ≈ ".join(m.split("/", 1)[1] for m in tier) for tier in expected.noise_groups("fsp"))
    [caption] = _captions(at, "Score noise of FSP")
    assert caption.startswith("Score noise of FSP (Spread/Attract): 95% intervals from 10 stratified subsets;")
    assert caption.endswith(f"Best first: {tiers}.")
    # the bars carry the intervals, and the bump chart names the models the noise cannot order
    perturbed = charts(at)["sa_scores"]["data"][1]
    crit = expected.noise["fsp"].resampling.critical_value()
    half = [crit * expected.noise["fsp"].se(m) for m in expected.scores.index]
    assert perturbed["name"].endswith("(whiskers: 95% interval)")
    np.testing.assert_allclose(values(perturbed["error_x"]["array"]).astype(float), half, rtol=1e-9)
    bump_hovers = " ".join(str(t.get("hovertext", ""))
                           for t in charts(at)["sa_ranks"]["data"])
    if any(len(tier) >= 2 for tier in expected.noise_groups("fsp")):
        assert "within noise" in bump_hovers
        assert _captions(at, "within noise of each other")
    # later reruns take the table with its noise from the cache: no new job
    at.run()
    assert not _jobs(at) and _captions(at, "Score noise of FSP")


def test_cancel_keeps_the_point_estimates_and_offers_to_start_again(app, gated, fresh_results):
    at = _open_with_spread(app)
    [(key, job)] = [(k, j) for k, j in _jobs(at).items() if j.tag[1] == "fsp"]
    scores_before = charts(at)["sa_scores"]
    gated.step()
    wait_until(lambda: len(gated.started) >= 2, "model-1 held in the gate")  # model-0 done
    at.button(key=f"{key}_cancel").click().run()
    assert job.status().state == "cancelling"
    assert _captions(at, "Cancelling: stopping after")
    gated.step()  # model-1 finishes; model-2 never starts
    assert job.wait(WAIT).state == "cancelled" and not job.alive
    at.run()
    assert not at.exception and not errors(at)
    assert not _bars(at) and not _jobs(at)
    [warning] = [w.value for w in at.warning if "Score noise of FSP" in w.value]
    assert warning == ("Score noise of FSP (Spread/Attract) not estimated: Cancelled after 2 of 5 models: nothing "
                       "was stored. Ranks are shown without noise, and differences between models are not judged.")
    assert charts(at)["sa_scores"] == scores_before  # the point estimates stay
    at.run()  # not started again by itself
    assert not _jobs(at) and [w for w in at.warning if "Score noise of FSP" in w.value]

    at.button(key=f"{key}_restart").click().run()
    [restarted] = [j for j in _jobs(at).values() if j.tag[1] == "fsp"]
    assert restarted is not job and _bars(at)
    for _ in range(5):
        gated.step()
    assert restarted.wait(WAIT).state == "done"
    at.run()
    assert not at.exception and not _bars(at) and not [w for w in at.warning if "Score noise of FSP" in w.value]
    assert _captions(at, "Score noise of FSP (Spread/Attract): 95% intervals")


def test_a_control_that_changes_the_parameters_again_cancels_the_superseded_estimate(app, gated, fresh_results):
    at = _open_with_spread(app)
    [(key, job)] = [(k, j) for k, j in _jobs(at).items() if j.tag[1] == "fsp"]
    at.slider(key="w:sa_spread").set_value(0.9).run()  # not gated: runs as it is
    assert not at.exception and not errors(at)
    assert job.status().state == "cancelling" and key not in _jobs(at)
    [newer] = [j for j in _jobs(at).values() if j.tag[1] == "fsp"]
    assert newer is not job and '"spread": 0.9' in newer.tag[2]
    gated.step()  # the superseded job's running unit ends; it stops there
    assert job.wait(WAIT).state == "cancelled"
    assert newer.wait(WAIT).state == "done"
    at.run()
    assert not _bars(at) and _captions(at, "Score noise of FSP (Spread/Attract): 95% intervals")
    # back to the first value: its estimate starts again by itself (it was superseded, not cancelled by the user)
    at.slider(key="w:sa_spread").set_value(SPREAD).run()
    assert [j for j in _jobs(at).values() if j.tag[1] == "fsp"] and _bars(at)
    assert not [w for w in at.warning if "Score noise of FSP" in w.value]
    for _ in range(5):
        gated.step()
