"""Exports carry the noise: the JSON's tiers, plausible ranks, τ intervals and headline verdicts, and the HTML
report's ± table, interval table, τ intervals and the noise's assumptions."""

from __future__ import annotations

import json

import pytest

from transvis.demo import synthetic_demo
from transvis.headline import noise_summary
from transvis.ranking import rank_models
from transvis.uncertainty import Resampling
from transvis.viz.export import html_report, noise_sections


@pytest.fixture(scope="module")
def ranked():
    demo = synthetic_demo(n_models=4, n_classes=4, n_per_class=30, n_dims=8)
    accuracy = demo.groundtruth["ncm_heldout"]
    n_test = {m: 800 for m in accuracy}
    table = rank_models(demo.features, ["logme", "hscore"], groundtruth=accuracy, groundtruth_n=n_test,
                        resamples=Resampling(n_replicates=5))
    return table, n_test


def test_noise_summary_is_json_with_tiers_ranks_tau_and_verdicts(ranked):
    table, n_test = ranked
    summary = noise_summary(table, groundtruth_n=n_test)
    payload = json.loads(json.dumps({**table.to_dict(), **summary}, allow_nan=False))
    assert payload["tiers"]["logme"] == table.noise_groups("logme")
    assert sorted(sum(payload["tiers"]["logme"], [])) == sorted(table.models)
    best, worst = payload["plausible_ranks"]["logme"][table.models[0]]
    assert 1 <= best <= worst <= len(table.models)
    assert payload["tau_text"]["logme"] == table.tau_text("logme") and "[" in payload["tau_text"]["logme"]
    assert payload["tau_intervals"]["logme"]["low"] <= payload["tau_intervals"]["logme"]["high"]
    assert set(payload["headline"]) == {"consensus", "best_by_groundtruth", "most_trustworthy_metric"}
    assert {p["verdict"] for p in payload["headline"].values()} <= {"clear", "within noise", "noise unknown"}
    assert payload["noise"]["logme"]["models"][table.models[0]]["se"] > 0
    assert payload["groundtruth_tiers"] and "jackknife" in payload["method"]


def test_report_shows_every_score_with_its_noise_and_the_assumptions(ranked):
    table, n_test = ranked
    sections = noise_sections(table, n_test, str.upper, "ncm_heldout")
    headings = [h for h, _ in sections]
    assert headings[0] == "Headline" and headings[-1] == "How the noise is estimated"
    assert "Correlation with ground truth: ncm_heldout" in headings
    page = html_report("report", sections)
    assert "±" in page and "weighted τ [interval]" in page and "Every score with its interval" in page
    assert page.count("<p>") >= 5  # the headline and the assumptions, one paragraph each
    assert "independent draws" in page  # assumption (1), in plain words
    headline = dict(sections)["Headline"]
    assert headline.count("Consensus pick") == 1 and ("(clear)" in headline or "(within noise)" in headline)


@pytest.mark.parametrize("label, sizes, name", [
    ("linear_probe", {"a": 900, "b": 900}, "linear probe (frozen features), 900 test images per model"),
    ("finetune", {"a": 300, "b": 3000}, "fine-tuning (whole network), 300–3,000 test images per model"),
    ("linear_probe", None, "linear probe (frozen features), test-set size unknown"),
    ("uploaded: my_accuracies", {"a": 50}, "my_accuracies (uploaded), 50 test images per model"),
    ("uploaded: linear probe (measured here)", {"a": 72}, "linear probe (measured here), 72 test images per model"),
])
def test_groundtruth_name_says_what_the_correlations_were_computed_against(label, sizes, name):
    from transvis.viz.export import groundtruth_name

    assert groundtruth_name(label, sizes) == name


def test_the_report_heading_names_the_ground_truth_in_words(ranked):
    from transvis.viz.export import groundtruth_name

    table, n_test = ranked
    name = groundtruth_name("linear_probe", n_test)
    headings = [h for h, _ in noise_sections(table, n_test, str, name)]
    assert "Correlation with ground truth: linear probe (frozen features), 800 test images per model" in headings
    assert not any("None" in h for h in headings)
