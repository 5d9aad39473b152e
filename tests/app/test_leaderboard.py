"""Leaderboard page (the page the app opens on), through the real router."""

import numpy as np
import pytest

from tests.app.conftest import charts, errors, open_tab, values

GT_TAB, BUMP_TAB, AGREE_TAB = "Metrics vs ground truth", "Rank bump chart", "Metric agreement"


def _in_tab(at, label: str) -> dict:
    """The charts of the leaderboard's lazy tab ``label``, opened (pages._ui.lazy_tabs)."""
    open_tab(at, "w:lb_tab", label)
    assert not at.exception, at.exception
    return charts(at)


def _table(at, first_column):
    for frame in at.dataframe:
        df = frame.value
        if len(df.columns) and df.columns[0] == first_column:
            return df
    raise AssertionError(f"no table starting with column {first_column!r}")


def test_opens_on_the_demo_leaderboard(app):
    at = app()
    assert "Leaderboard" in at.title[0].value
    assert not errors(at)
    assert any("Pool:** synthetic" in m.value for m in at.sidebar.markdown)
    table = _table(at, "ground truth")
    assert list(table.index) == ["model-4", "model-3", "model-2", "model-1", "model-0"]
    assert table["ground truth"].is_monotonic_decreasing
    # key widgets exist and are keyed
    selected = at.multiselect(key="w:lb_metrics").value
    # Every metric but the two that take minutes on real pools (opt-in).
    assert {"sfda", "ped", "fsp", "face", "logme", "ncti"} <= set(selected)
    assert not {"nleep", "parc"} & set(selected)
    assert at.selectbox(key="w:lb_gt").value == "ncm_heldout"
    assert at.radio(key="w:lb_show").value == "scores"
    assert not charts(at)  # the page opens on the table: the charts' tabs are closed and draw nothing
    assert {"lb_scatter", "lb_corr_bars"} <= set(_in_tab(at, GT_TAB))
    assert "lb_bump" in _in_tab(at, BUMP_TAB) and "lb_scatter" not in charts(at)
    assert "lb_agreement" in _in_tab(at, AGREE_TAB)


def test_choosing_metrics_changes_the_bump_chart_and_agreement(app):
    at = app()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "sfda", "hscore"]).run()
    assert not at.exception
    bump = _in_tab(at, BUMP_TAB)["lb_bump"]
    assert bump["data"][0]["x"] == ["ground truth", "LogME", "SFDA", "H-score"]
    assert len(bump["data"]) == 5
    agreement = _in_tab(at, AGREE_TAB)["lb_agreement"]["data"][0]
    assert agreement["x"] == ["LogME", "SFDA", "H-score"]
    z = values(agreement["z"]).astype(float)
    assert z.shape == (3, 3) and np.allclose(np.diag(z), 1.0)


def test_ranks_view_shows_integer_ranks(app):
    at = app()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "hscore"]).run()
    at.radio(key="w:lb_show").set_value("ranks").run()
    table = _table(at, "ground-truth rank")
    assert sorted(table["logme"].tolist()) == [1, 2, 3, 4, 5]
    assert table.loc["model-4", "ground-truth rank"] == 1


def test_scatter_metric_control_changes_the_figure(app):
    at = app()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "hscore"]).run()
    _in_tab(at, GT_TAB)
    at.selectbox(key="w:lb_scatter_metric").set_value("logme").run()
    first = charts(at)["lb_scatter"]
    at.selectbox(key="w:lb_scatter_metric").set_value("hscore").run()
    second = charts(at)["lb_scatter"]
    assert "LogME" in first["layout"]["title"]["text"] and "H-score" in second["layout"]["title"]["text"]
    assert not np.allclose(values(first["data"][0]["x"]), values(second["data"][0]["x"]))
    np.testing.assert_array_equal(values(first["data"][0]["y"]), values(second["data"][0]["y"]))


def test_selection_on_the_scatter_filters_the_table(app):
    at = app()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "hscore"]).run()
    _in_tab(at, GT_TAB)
    assert len(at.dataframe[-1].value) == 5
    at.session_state["lb_scatter"] = {"selection": {
        "points": [{"curve_number": 0, "point_index": 1, "text": "model-1", "x": 0.0, "y": 0.8},
                   {"curve_number": 0, "point_index": 3, "text": "model-3", "x": 0.1, "y": 0.99}],
        "point_indices": [1, 3], "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    selected = at.dataframe[-1].value
    assert sorted(selected.index) == ["model-1", "model-3"]
    assert any("2 selected model(s)" in c.value for c in at.caption)


def test_without_groundtruth_the_page_still_ranks(app):
    at = app()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "hscore"]).run()
    at.selectbox(key="w:lb_gt").set_value("none").run()
    assert not at.exception
    _in_tab(at, GT_TAB)
    assert any("No ground truth" in i.value for i in at.info)
    assert "ground truth" not in _in_tab(at, BUMP_TAB)["lb_bump"]["data"][0]["x"]


def test_uploaded_groundtruth_becomes_an_option(app):
    at = app()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "hscore"]).run()
    # what the CSV upload stores (the uploader itself cannot be driven by AppTest); model-0 is best here
    at.session_state["groundtruth_uploads"] = {"finetune": {
        "model-0": 0.9, "model-1": 0.8, "model-2": 0.7, "model-3": 0.6, "model-4": 0.5}}
    at.run()
    options = at.selectbox(key="w:lb_gt").options
    assert "uploaded: finetune" in options
    at.selectbox(key="w:lb_gt").set_value("uploaded: finetune").run()
    corr = _in_tab(at, GT_TAB)["lb_corr_bars"]["data"][0]
    assert values(corr["x"]).max() < 0  # every metric ranks opposite to this (reversed) ground truth


def test_widget_state_survives_page_switches(app):
    at = app()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "sfda"]).run()
    at.radio(key="w:lb_show").set_value("ranks").run()
    at.switch_page("pages/setup.py").run()
    assert not at.exception
    at.switch_page("pages/leaderboard.py").run()
    assert at.radio(key="w:lb_show").value == "ranks"
    assert at.multiselect(key="w:lb_metrics").value == ["logme", "sfda"]


def _fresh_default_pool(choice: str):
    """``load_default_pool(choice)`` loaded afresh, its cache left empty for the other tests."""
    from pages._ui import load_default_pool

    load_default_pool.clear()
    try:
        return load_default_pool(choice)
    finally:
        load_default_pool.clear()


def test_failed_real_demo_falls_back_to_synthetic_with_a_note(monkeypatch):
    import transvis.demo

    def broken():
        raise FileNotFoundError("demo features not prepared")

    monkeypatch.setattr(transvis.demo, "load_demo", broken, raising=False)
    pool = _fresh_default_pool("auto")
    assert pool.origin == "synthetic"
    assert "demo features not prepared" in pool.note and "scripts/app.sh" in pool.note


def test_linear_probe_ground_truth_measured_from_the_page(app):
    at = app()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "hscore"]).run()
    at.button(key="lb_measure_gt").click().run()
    if "lb_probe_job" in at.session_state:  # a background job (tests/app/test_leaderboard_jobs.py): let it end
        assert at.session_state["lb_probe_job"].wait(60).state == "done"
        at.run()
    assert not at.exception and not errors(at)
    assert at.selectbox(key="w:lb_gt").value == "uploaded: linear probe (measured here)"
    measured = at.session_state["groundtruth_uploads"]["linear probe (measured here)"]
    assert set(measured) == {f"synthetic/model-{k}" for k in range(5)}
    assert measured["synthetic/model-4"] > measured["synthetic/model-0"]  # separation shows in the probe
    assert "lb_corr_bars" in _in_tab(at, GT_TAB)


def _tie_warnings(at) -> list[str]:
    return [w.value for w in at.warning if "tied scores" in w.value]


def test_saturated_scores_are_flagged_with_the_fix(app):
    """A pool with fewer samples than dimensions saturates SFDA and PED at 1.0: the table says so and how to
    fix it, instead of showing a silent tie; a well-sampled pool shows no such warning."""
    from transvis.features.featureset import FeatureSet
    from transvis.session import pool_from_featuresets

    at = app()
    assert _tie_warnings(at) == []
    assert not [i.value for i in at.info if "Samples per dimension" in i.value]
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)  # N - C = 36 < D = 64
    sets = [FeatureSet(features=rng.normal(size=(40, 64)) * 3 + labels[:, None] * 0.1, labels=labels,
                       class_names=list("abcd"), model_id=f"wide-{i}", dataset_id="toy") for i in range(3)]
    pools = dict(at.session_state["pools"])
    pools["wide"] = pool_from_featuresets(sets, "wide", "upload")
    at.session_state["pools"] = pools
    at.session_state["active_pool"] = "wide"
    at.run()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "sfda", "ped"]).run()
    assert not at.exception
    warnings = _tie_warnings(at)
    assert len(warnings) == 2
    assert warnings[0].startswith("**SFDA: tied scores.** 3 models score exactly 1. SFDA saturates at 1.0")
    assert "PED" in warnings[1] and "more images per class" in warnings[1]
    infos = [i.value for i in at.info if "Samples per dimension" in i.value]
    assert len(infos) == 1 and "wide-0: D = 64 for N - C = 36 (0.56 per dimension)" in infos[0]


# --- noise: every ranking display shows it ------------------------------------------------------------------

SYNTHETIC = [f"synthetic/model-{k}" for k in range(5)]


def _styled_text(at):
    """The leaderboard table's cells as shown (its Styler's display values)."""
    import pyarrow as pa

    frame = next(f for f in at.dataframe if f.proto.arrow_data.styler.display_values)
    shown = pa.ipc.open_stream(frame.proto.arrow_data.styler.display_values).read_pandas()
    assert list(shown.index) == list(frame.value.index)
    return shown


def _captions(at) -> list[str]:
    return [c.value for c in at.caption]


def _with_test_sizes(app, n_test: int):
    """The synthetic leaderboard with its ground truth's test sizes known (model-4 99.9 % vs model-3 99.8 %)."""
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP, TIMEOUT

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["groundtruth_sizes"] = {"ncm_heldout": {m: n_test for m in SYNTHETIC}}
    at.run()
    assert not at.exception, at.exception
    at.multiselect(key="w:lb_metrics").set_value(["logme", "ncm_softmax", "transrate", "hscore"]).run()
    assert not at.exception, at.exception
    return at


def test_tied_groundtruth_pick_says_it_cannot_be_told_apart(app):
    """On 1,200 test images, 99.9 % vs 99.8 % is within binomial noise: the headline says so, the table shows each
    accuracy ± its se with the two in one tier, τ carries its interval everywhere, and the charts draw the noise."""
    at = _with_test_sizes(app, 1200)
    best = next(m for m in at.metric if m.label.startswith("Best by ground truth"))
    assert best.value == "model-4" and "≈ model-3" in best.proto.delta
    verdicts = [c for c in _captions(at) if "Within noise" in c and "Cannot be told apart from model-3" in c]
    assert verdicts and "1,200 test samples each" in verdicts[0]
    # τ with its interval: headline, correlation table, scatter title
    trusted = next(m for m in at.metric if m.label.startswith("Most trustworthy"))
    assert "[" in trusted.proto.delta and "]" in trusted.proto.delta
    # every score shown with its noise; the ground truth's two best share tier 1
    shown = _styled_text(at)
    assert shown.loc["model-4", "ground truth"].endswith("≈1") and shown.loc["model-3", "ground truth"].endswith("≈1")
    assert shown.loc["model-2", "ground truth"].count("±") == 1 and "≈" not in shown.loc["model-2", "ground truth"]
    assert all("±" in text for text in shown["logme"])
    figures = _in_tab(at, GT_TAB)
    corr = _table(at, "weighted τ [interval]")
    assert all("[" in text for text in corr["weighted τ [interval]"])
    assert "[" in figures["lb_scatter"]["layout"]["title"]["text"]
    # correlation bars carry τ's interval as error bars; the bump chart bands the ground truth's tier
    bars = figures["lb_corr_bars"]["data"][0]
    assert bars["error_x"]["type"] == "data" and len(values(bars["error_x"]["arrayminus"])) == 4
    bump = _in_tab(at, BUMP_TAB)["lb_bump"]["data"]
    band = next(t for t in bump if t["name"].startswith("within noise"))
    assert "ground truth" in band["x"]
    assert any("The noise cannot order every model" in md.value for md in at.markdown)
    unordered = _table(at, "column").set_index("column").iloc[:, 0]
    assert unordered["ground truth"] == "model-4  ≈  model-3"
    assert any(e.label == "How the noise is estimated" for e in at.expander)


def test_clear_groundtruth_pick_does_not_claim_a_tie(app):
    """The same accuracies on ten million test images each: the lead is beyond noise, and nothing says otherwise."""
    at = _with_test_sizes(app, 10_000_000)
    best = next(m for m in at.metric if m.label.startswith("Best by ground truth"))
    assert "≈" not in best.proto.delta
    gt_captions = [c for c in _captions(at) if "model-3" in c and ("99.9%" in c)]
    assert gt_captions and all("Clear." in c and "Cannot be told apart" not in c for c in gt_captions)
    assert "≈" not in "".join(_styled_text(at)["ground truth"])


def test_without_test_sizes_the_groundtruth_noise_is_called_unknown(app):
    at = app()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "hscore"]).run()
    assert any("Noise unknown." in c and "test-set sizes are unknown" in c for c in _captions(at))
    _in_tab(at, GT_TAB)
    assert any("accuracies' own noise is not included" in c for c in _captions(at))


def test_degenerate_scores_are_marked_in_the_table(app, monkeypatch):
    """A result flagged degenerate (saturated/at a bound) gets ⚠ in its cell and a warning with the reason."""
    import dataclasses

    import pages._ui

    real = pages._ui.ranking

    def flag(*args, **kwargs):
        table = real(*args, **kwargs)
        logme = table.results.get("logme", {})
        if "synthetic/model-2" in logme:  # a copy: the cached per-metric results stay as they are
            flagged = dataclasses.replace(logme["synthetic/model-2"], degenerate="at its bound: add samples")
            table = dataclasses.replace(table, results={**table.results,
                                                        "logme": {**logme, "synthetic/model-2": flagged}})
        return table

    monkeypatch.setattr(pages._ui, "ranking", flag)
    at = app()
    at.multiselect(key="w:lb_metrics").set_value(["logme", "hscore"]).run()
    assert not at.exception, at.exception
    shown = _styled_text(at)
    assert shown.loc["model-2", "logme"].startswith("⚠") and not shown.loc["model-1", "logme"].startswith("⚠")
    assert any("Degenerate scores" in w.value and "model-2: at its bound: add samples" in w.value for w in at.warning)


def test_the_demo_leaderboard_switches_targets_and_reports_tau_across_them(monkeypatch, tmp_path):
    """Two stand-in demo targets (synthetic pools named like the prepared demo's, each with its persisted
    ranking and its own linear-probe ground truth): the target radio switches the pool, and the Across-targets
    tab shows each target's weighted τ with their mean and spread."""
    from streamlit.testing.v1 import AppTest

    import transvis.demo
    from pages._ui import _load_demo_target_pool, load_default_pool
    from tests.app.conftest import APP, TIMEOUT
    from transvis.demo import compute_demo_ranking, save_demo_ranking, synthetic_demo, tau_across_targets
    from transvis.session import with_groundtruth

    monkeypatch.setenv("TRANSVIS_APP_DEMO", "auto")
    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path))
    demos = {}
    for seed, target in enumerate(["fashion-mnist", "mnist-5k"]):
        demo = synthetic_demo(n_models=4, n_classes=3, n_per_class=30, n_dims=6, seed=seed + 5)
        demo.name, demo.target = f"demo-zoo/{target}", target
        demo.feature_keys = {m: f"{target}-{i}" for i, m in enumerate(demo.features)}
        demo.groundtruth = {"linear_probe": dict(demo.groundtruth["ncm_heldout"])}
        demo.groundtruth_n = {"linear_probe": {m: 900 for m in demo.features}}
        save_demo_ranking(demo, compute_demo_ranking(demo), cache_dir=tmp_path)
        demos[target] = demo
    monkeypatch.setattr(transvis.demo, "load_demo", lambda target="fashion-mnist", cache_dir=None: demos[target])
    load_default_pool.clear()
    _load_demo_target_pool.clear()
    try:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.run()
        assert not at.exception and not errors(at), (at.exception, errors(at))
        assert at.radio(key="lb_target").options == ["Fashion-MNIST", "MNIST-5k"]
        assert any("Pool:** demo-zoo/fashion-mnist" in m.value for m in at.sidebar.markdown)
        at.radio(key="lb_target").set_value("mnist-5k").run()
        assert not at.exception and not errors(at), (at.exception, errors(at))
        assert any("Pool:** demo-zoo/mnist-5k" in m.value for m in at.sidebar.markdown)
        assert at.radio(key="lb_target").value == "mnist-5k"
        table = _table(at, "ground truth")
        accuracy = demos["mnist-5k"].groundtruth["linear_probe"]
        assert {name: table.loc[name, "ground truth"] for name in table.index} == {
            m.split("/", 1)[1]: accuracy[m] for m in accuracy}
        _in_tab(at, "Across targets")
        across = next(f.value for f in at.dataframe if "spread" in f.value.columns)
        assert list(across.columns) == ["Fashion-MNIST", "MNIST-5k", "mean", "spread"]
        tables = {spec: with_groundtruth(compute_demo_ranking(demos[t]), demos[t].groundtruth["linear_probe"])
                  for spec, t in (("Fashion-MNIST", "fashion-mnist"), ("MNIST-5k", "mnist-5k"))}
        expected = tau_across_targets(tables)
        from transvis.metrics import get_spec

        for shown, row in across.iterrows():
            metric = next(m for m in expected.index if get_spec(m).display_name == shown)
            assert float(row["mean"]) == pytest.approx(expected.loc[metric, "mean"], abs=0.006)
            assert float(row["spread"]) == pytest.approx(expected.loc[metric, "spread"], abs=0.006)
        at.radio(key="lb_target").set_value("fashion-mnist").run()
        assert any("Pool:** demo-zoo/fashion-mnist" in m.value for m in at.sidebar.markdown)
    finally:
        load_default_pool.clear()
        _load_demo_target_pool.clear()


def test_noise_of_the_default_metrics_is_estimated_in_one_call_with_the_same_values(app, monkeypatch):
    """The Leaderboard's first run estimates the noise of every default metric in one ``rank_models`` call
    (each subset's statistics shared by all metrics), with the same replicates as one metric at a time."""
    import transvis.ranking
    from pages._jobs import finished_results
    from transvis.demo import synthetic_demo
    from transvis.session import pool_from_demo
    from transvis.uncertainty import DEFAULT_RESAMPLING

    calls = []
    real = transvis.ranking.rank_models

    def counting(features, metrics, *args, **kwargs):
        calls.append((tuple(metrics), kwargs.get("resamples") is not None))
        return real(features, metrics, *args, **kwargs)

    monkeypatch.setattr(transvis.ranking, "rank_models", counting)
    finished_results("ranking-noise").clear()
    at = app()
    assert not errors(at)
    with_noise = [m for m, resampled in calls if resampled]
    assert len(with_noise) == 1 and {"logme", "sfda", "hscore", "ncti"} <= set(with_noise[0])
    pool = pool_from_demo(synthetic_demo(), origin="synthetic")
    stored = {key[1]: noise for key, noise in finished_results("ranking-noise").items() if key[0] == pool.key}
    assert set(stored) == set(with_noise[0])
    for metric in ("logme", "sfda", "ncti"):
        alone = real(pool.features, [metric], resamples=DEFAULT_RESAMPLING).noise[metric]
        for model in alone.models:
            np.testing.assert_allclose(stored[metric].replicates[model], alone.replicates[model], rtol=1e-12)
    assert stored["logme"].method == "deletion" and stored["sfda"].method == "refit"


def test_loading_the_default_pool_takes_the_long_lived_objects_out_of_full_collections():
    import gc

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    pool = _fresh_default_pool("synthetic")
    assert pool.origin == "synthetic"
    # the libraries' modules and the pool: a full collection (gc.collect(2)) no longer walks them
    assert gc.get_freeze_count() > 10_000
    assert len(gc.get_objects()) < gc.get_freeze_count()
