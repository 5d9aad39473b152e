"""The Leaderboard scores a newly chosen opt-in metric (NLEEP) on a big pool as a background job: the other
metrics at once, progress with done/total models, Cancel, and the metric in the table once every model is
scored (synthetic demo, 5 models, with the "big pool" threshold lowered to it)."""

from __future__ import annotations

import pytest

from tests.app.conftest import errors

WAIT = 120.0


@pytest.fixture
def big_pool(monkeypatch, fresh_results):
    import transvis.noise_jobs

    monkeypatch.setattr(transvis.noise_jobs, "BACKGROUND_MIN_CELLS", 0)


def _bars(at):
    return [b for b in at.get("progress") if b.text.startswith("Scoring with NLEEP")]


def _columns(at):
    """The metrics in the Leaderboard's table (its first column is the ground truth)."""
    table = next(f.value for f in at.dataframe if len(f.value.columns) and f.value.columns[0] == "ground truth")
    return set(table.columns) & {"logme", "hscore", "nleep"}


def test_nleep_is_scored_in_the_background_then_joins_the_table(app, big_pool):
    from transvis.demo import synthetic_demo
    from transvis.ranking import rank_models

    at = app()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "hscore", "nleep"]).run()
    assert not at.exception and not errors(at)
    job = at.session_state["lb_opt_in_job"]
    assert job.status().total == 5
    if job.status().state == "running":  # the table shows the other metrics meanwhile
        assert _columns(at) == {"logme", "hscore"} and _bars(at)
    assert job.wait(WAIT).state == "done"
    at.run()
    assert not at.exception and not errors(at)
    assert "lb_opt_in_job" not in at.session_state and not _bars(at)
    assert _columns(at) == {"logme", "hscore", "nleep"}
    # the scores are rank_models' own on the whole pool
    from pages._ui import opt_in_tables

    [(key, table)] = list(opt_in_tables().items())
    assert key[1] == "nleep"
    whole = rank_models(synthetic_demo().features, ["nleep"])
    # to round-off: the page's statistics may hold the full eigendecomposition another metric paid for, where
    # NLEEP alone takes the eigenvalues first (_mixture.pca_scores); the last bit of the PCA scores may differ
    assert table.scores["nleep"].to_dict() == pytest.approx(whole.scores["nleep"].to_dict(), rel=1e-12, abs=0)
    assert table.ranks["nleep"].to_dict() == whole.ranks["nleep"].to_dict()


def test_cancel_leaves_nleep_out_and_offers_to_score_it(app, big_pool, monkeypatch):
    import threading

    import transvis.ranking

    release = threading.Event()
    real = transvis.ranking.rank_models

    def held(unit, metrics, *args, **kwargs):
        if metrics == ["nleep"]:
            assert release.wait(WAIT)
        return real(unit, metrics, *args, **kwargs)

    monkeypatch.setattr(transvis.ranking, "rank_models", held)
    at = app()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "nleep"]).run()
    job = at.session_state["lb_opt_in_job"]
    [bar] = _bars(at)
    assert bar.text.startswith("Scoring with NLEEP: 0/5 models")
    assert _columns(at) == {"logme"}
    at.button(key="lb_opt_in_job_cancel").click().run()
    release.set()
    assert job.wait(WAIT).state == "cancelled"
    at.run()
    assert not at.exception and not errors(at)
    assert [w.value for w in at.warning if "NLEEP" in w.value] == [
        "NLEEP left out of the table: Cancelled after 1 of 5 models: nothing was stored."]
    assert _columns(at) == {"logme"} and "lb_opt_in_job" not in at.session_state
    at.button(key="lb_opt_in_restart").click().run()
    restarted = at.session_state["lb_opt_in_job"]
    assert restarted.wait(WAIT).state == "done"
    at.run()
    assert _columns(at) == {"logme", "nleep"}
