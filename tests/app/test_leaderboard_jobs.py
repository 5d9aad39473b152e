"""The Leaderboard's linear probe runs as a background job: progress with done/total and an ETA, Cancel, the page
usable meanwhile, and the measured ground truth in the table once it is done (synthetic demo, 5 models)."""

from __future__ import annotations

import pytest

from tests.app._gates import Gate, wait_until
from tests.app.conftest import errors

MEASURED = "uploaded: linear probe (measured here)"
WAIT = 60.0


class GatedProbe(Gate):
    """The real linear probe, each model's run held until the test lets it through."""

    def __init__(self, real):
        super().__init__(WAIT)
        self.real, self.started = real, []

    def __call__(self, features, **kwargs):
        self.started.append(features.model_id)
        self.hold("this model's probe")
        return self.real(features, **kwargs)


@pytest.fixture
def gated(monkeypatch):
    import transvis.groundtruth

    probe = GatedProbe(transvis.groundtruth.linear_probe)
    monkeypatch.setattr(transvis.groundtruth, "linear_probe", probe)
    return probe


def _job(at):
    return at.session_state["lb_probe_job"] if "lb_probe_job" in at.session_state else None


def _bar(at):
    bars = at.get("progress")
    return [b for b in bars if b.text.startswith("Linear probe:")]


def _groundtruth_column(at) -> dict[str, float]:
    table = next(f.value for f in at.dataframe if len(f.value.columns) and f.value.columns[0] == "ground truth")
    return table["ground truth"].to_dict()


def test_progress_then_cancel_leaves_no_ground_truth_and_the_page_usable(app, gated, fresh_results):
    at = app()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "hscore"]).run()
    gt_before = at.selectbox(key="w:lb_gt").value
    at.button(key="lb_measure_gt").click().run()
    assert not at.exception and not errors(at)
    job = _job(at)
    assert job is not None and job.status().state == "running"
    [bar] = _bar(at)
    assert bar.value == 0 and bar.text.startswith("Linear probe: 0/5 models · estimating the time left…")
    assert "lb_measure_gt" not in [b.key for b in at.button]  # no second start while it runs

    gated.step()
    gated.step()
    wait_until(lambda: job.status().done == 2, "two models probed")
    at.run()
    [bar] = _bar(at)
    assert bar.value == 40 and bar.text.startswith("Linear probe: 2/5 models · about ") and " s left" in bar.text
    assert "model-2" in bar.text  # the model being probed

    # the rest of the page answers while the job runs
    at.radio(key="w:lb_show").set_value("ranks").run()
    assert not at.exception and at.radio(key="w:lb_show").value == "ranks"
    assert _bar(at) and _job(at) is job

    at.button(key="lb_probe_job_cancel").click().run()
    assert job.status().state == "cancelling"
    assert any("Cancelling: stopping after" in c.value for c in at.caption)
    gated.step()  # model-2's probe finishes; model-3 never starts
    assert job.wait(WAIT).state == "cancelled" and not job.alive
    at.run()
    assert not at.exception and not errors(at)
    assert gated.started == ["synthetic/model-0", "synthetic/model-1", "synthetic/model-2"]
    assert _job(at) is None and not _bar(at)
    assert any("Cancelled after 3 of 5 models: nothing was stored." in c.value for c in at.caption)
    # nothing half-written: no measured ground truth, the ground-truth choice unchanged
    assert "linear probe (measured here)" not in at.session_state["groundtruth_uploads"]
    assert MEASURED not in at.selectbox(key="w:lb_gt").options
    assert at.selectbox(key="w:lb_gt").value == gt_before
    assert "lb_measure_gt" in [b.key for b in at.button]  # it can be started again


def test_a_finished_probe_becomes_the_ground_truth_without_another_click(app, fresh_results):
    from transvis.demo import synthetic_demo
    from transvis.groundtruth import linear_probe

    at = app()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "hscore"]).run()
    before = _groundtruth_column(at)
    at.button(key="lb_measure_gt").click().run()
    job = _job(at)
    if job is not None:  # still running after the click's run (the page polls it every second)
        assert job.wait(WAIT).state == "done"
        at.run()
    assert not at.exception and not errors(at)
    assert _job(at) is None and not _bar(at)
    assert at.selectbox(key="w:lb_gt").value == MEASURED
    # the same numbers as the probe run directly: accuracies and test sizes per model
    expected = {m: linear_probe(fs, seed=0) for m, fs in synthetic_demo().features.items()}
    measured = at.session_state["groundtruth_uploads"]["linear probe (measured here)"]
    assert measured == {m: float(p.accuracy) for m, p in expected.items()}
    assert at.session_state["groundtruth_sizes"][MEASURED] == {m: int(p.n_test) for m, p in expected.items()}
    assert before["model-0"] == pytest.approx(0.499167, abs=1e-6)
    # the table's ground-truth column is the measured probe now (it was the demo's held-out NCM accuracy)
    assert _groundtruth_column(at) == pytest.approx(
        {m.split("/", 1)[1]: float(p.accuracy) for m, p in expected.items()})


def test_a_failed_probe_says_why_and_stores_nothing(app, monkeypatch, fresh_results):
    import transvis.groundtruth

    def broken(features, **kwargs):
        raise ValueError("features hold NaN or infinite values; re-extract them before probing.")

    monkeypatch.setattr(transvis.groundtruth, "linear_probe", broken)
    at = app()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "hscore"]).run()
    at.button(key="lb_measure_gt").click().run()
    if (job := _job(at)) is not None:
        job.wait(WAIT)
        at.run()
    assert not at.exception
    assert errors(at) == ["The linear probe failed on model-0 after 0 of 5 units: ValueError: features hold NaN "
                          "or infinite values; re-extract them before probing. Nothing was kept; fix that and "
                          "start it again."]
    assert MEASURED not in at.selectbox(key="w:lb_gt").options
