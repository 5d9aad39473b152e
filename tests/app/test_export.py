"""Export page, issue 11: the ground truth the correlations were computed against is named (page, report, JSON),
and the exported animation is the one the user chose (dynamics kind and metric)."""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import APP, TIMEOUT

EXPORT = "pages/export.py"
GT_NAME = "ncm_heldout, test-set size unknown"  # the synthetic demo's ground truth, without test sizes


@pytest.fixture
def fresh_export():
    """A fresh session whose first page is Export (the Leaderboard never opened: no ground truth chosen)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page(EXPORT).run()
    assert not at.exception, at.exception
    return at


def test_a_fresh_session_names_the_ground_truth_it_correlated_with(fresh_export):
    at = fresh_export
    [caption] = [c.value for c in at.caption if "correlations against" in c.value]
    assert f"correlations against the ground truth: {GT_NAME}." in caption and "None" not in caption


def _capture_downloads(monkeypatch) -> dict:
    """{key: data} of every download button of the next runs (data: bytes, str or the callable building them)."""
    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator

    captured = {}
    real = DeltaGenerator.download_button

    def capture(self, label, data, *args, **kwargs):
        captured[kwargs.get("key")] = data
        return real(self, label, data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", capture)  # in columns
    monkeypatch.setattr(st, "download_button", lambda *a, **k: capture(st._main, *a, **k))
    return captured


def test_report_and_json_name_the_ground_truth(fresh_export, monkeypatch):
    """The report's heading and the JSON's pool entry, as the download buttons would produce them."""
    captured = _capture_downloads(monkeypatch)
    fresh_export.run()
    payload = json.loads(captured["ex_json"])
    assert payload["pool"]["groundtruth"] == GT_NAME and payload["pool"]["groundtruth_id"] == "ncm_heldout"
    report = captured["ex_report"]().decode()
    assert f"Correlation with ground truth: {GT_NAME}" in report and "(None)" not in report
    assert f"Ground truth: {GT_NAME}." in report


def test_the_exported_animation_is_the_chosen_kind_and_metric(app, monkeypatch):
    import pages._dynamics
    import transvis.viz.animation
    from transvis.app_defaults import DYNAMICS_DEFAULTS

    requests, labels = [], []
    real_trajectory, real_figure = pages._dynamics.trajectory, transvis.viz.animation.dynamics_figure

    def record_trajectory(pool, kind, metric, params, *args, **kwargs):
        requests.append((kind, metric, dict(params)))
        return real_trajectory(pool, kind, metric, params, *args, **kwargs)

    def record_figure(*args, **kwargs):
        labels.append((kwargs["metric_label"], kwargs["title"]))
        return real_figure(*args, **kwargs)

    monkeypatch.setattr(pages._dynamics, "trajectory", record_trajectory)
    monkeypatch.setattr(transvis.viz.animation, "dynamics_figure", record_figure)
    captured = _capture_downloads(monkeypatch)
    at = app(EXPORT)
    # the default: Neural collapse with its page's default metric (the persisted trajectory on the demo)
    assert requests[-1] == ("collapse", *DYNAMICS_DEFAULTS["collapse"])
    at.selectbox(key="w:ex_anim").set_value("spread_attract").run()
    assert at.selectbox(key="w:ex_anim_metric_spread_attract").value == DYNAMICS_DEFAULTS["spread_attract"][0]
    at.selectbox(key="w:ex_anim_metric_spread_attract").set_value("hscore").run()
    assert not at.exception, at.exception
    assert requests[-1] == ("spread_attract", "hscore", DYNAMICS_DEFAULTS["spread_attract"][1])
    # the animated figure is not shown on the page: it is built when the file is asked for, not in page runs
    assert labels == []
    html = captured["ex_anim_dl"]().decode()
    assert labels[-1][0] == "H-score" and labels[-1][1].startswith("Spread & Attract — H-score — ")
    assert "H-score" in html and "Plotly.newPlot" in html
    assert any("re-scoring every model with **H-score**" in c.value for c in at.caption)
    # the metric choice is per kind: PED keeps its own default
    at.selectbox(key="w:ex_anim").set_value("ped").run()
    assert requests[-1][:2] == ("ped", DYNAMICS_DEFAULTS["ped"][0])
