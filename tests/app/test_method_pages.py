"""The four method pages, the model deep-dive and the export page, on the synthetic demo."""

import re

import numpy as np
import pandas as pd

from tests.app.conftest import activate_pool, chart, charts, errors, open_tab, values
from transvis.app_defaults import METHOD_DEFAULTS


def _animation(at, key):
    """The engine's animation is on the page: frames, a play button, scatter and bar traces."""
    figures = charts(at)
    assert key in figures, sorted(figures)
    fig = figures[key]
    assert len(fig["frames"]) >= 2
    assert fig["layout"]["updatemenus"][0]["buttons"][0]["label"] == "▶ Play"
    assert all(t["type"] in ("scatter", "bar") for fr in fig["frames"] for t in fr["data"])


def _selection(indices):
    return {"selection": {"points": [{"curve_number": 0, "point_index": i, "customdata": [i], "x": 0.0, "y": 0.0}
                                     for i in indices], "point_indices": list(indices), "box": [], "lasso": []}}


def test_spread_attract_strength_controls_change_the_figures(app):
    at = app("pages/spread_attract.py")
    assert not errors(at)
    assert at.selectbox(key="w:sa_metric").value == "logme"
    assert at.selectbox(key="w:sa_variant").value == "paper"
    assert at.radio(key="w:sa_mode").value == "both"
    _animation(at, "sa_anim")
    assert {"sa_scores", "sa_ranks"} <= set(charts(at)) and "sa_spread" not in charts(at)  # a closed tab: nothing
    open_tab(at, "w:sa_quantities_tab", "Spread and centre distance")
    assert not {"sa_scores", "sa_ranks"} & set(charts(at))
    before = values(charts(at)["sa_spread"]["data"][1]["x"])
    anim_before = charts(at)["sa_anim"]
    at.slider(key="w:sa_spread").set_value(0.8).run()
    after = values(charts(at)["sa_spread"]["data"][1]["x"])
    unperturbed = values(charts(at)["sa_spread"]["data"][0]["x"])
    # Spread multiplies every class's RMS radius by (1 + spread): 1.3x before, 1.8x after
    np.testing.assert_allclose(before / unperturbed, 1.3, rtol=1e-6)
    np.testing.assert_allclose(after / unperturbed, 1.8, rtol=1e-6)
    anim_after = charts(at)["sa_anim"]
    # frame 0 is the unperturbed features either way; the last frame moved further
    np.testing.assert_allclose(values(anim_before["frames"][0]["data"][0]["x"]),
                               values(anim_after["frames"][0]["data"][0]["x"]))
    assert not np.allclose(values(anim_before["frames"][-1]["data"][0]["x"]),
                           values(anim_after["frames"][-1]["data"][0]["x"]))


def test_spread_attract_animation_frames_and_ranking(app):
    at = app("pages/spread_attract.py")
    fig = charts(at)["sa_anim"]
    assert len(fig["frames"]) == 11
    kinds = [t["type"] for t in fig["frames"][5]["data"]]
    assert kinds == ["scatter", "scatter", "bar"] + ["scatter"] * 5  # samples, centres, the race
    assert sorted(values(fig["frames"][5]["data"][2]["y"]).tolist()) == [1, 2, 3, 4, 5]
    # per-frame curves of the method's own quantities, one line per model
    open_tab(at, "w:sa_quantities_tab", "Spread and centre distance")
    assert len(charts(at)["sa_spread_curve"]["data"]) == 5


def test_spread_attract_lasso_selection_lists_the_samples(app):
    at = app("pages/spread_attract.py")
    assert any("Box- or lasso-select" in c.value for c in at.caption)
    at.session_state["sa_anim"] = _selection([0, 5, 7])
    at.run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "sample" in df.value.columns)
    assert table["sample"].tolist() == [0, 5, 7]
    labels = at.session_state["pools"][at.session_state["active_pool"]].labels
    assert table["class"].tolist() == [f"class {labels[i]}" for i in (0, 5, 7)]


def test_spread_attract_official_variant_disables_strengths(app):
    at = app("pages/spread_attract.py")
    at.selectbox(key="w:sa_variant").set_value("official").run()
    assert not at.exception and not errors(at)
    assert at.slider(key="w:sa_spread").disabled
    _animation(at, "sa_anim")


def test_fisher_space_lambda_control_changes_score_and_table(app):
    at = app("pages/fisher_space.py")
    assert not errors(at)
    _animation(at, "fs_anim")
    adaptive = values(charts(at)["fs_scores"]["data"][1]["x"])
    at.toggle(key="w:fs_adaptive").set_value(False).run()
    at.slider(key="w:fs_log_lambda").set_value(0.0).run()  # λ = 1: nearest class mean
    fixed = values(charts(at)["fs_scores"]["data"][1]["x"])
    assert not np.allclose(adaptive, fixed)
    lam_table = at.dataframe[0].value
    assert np.allclose(lam_table["λ (shrinkage)"].to_numpy(dtype=float), 1.0)
    assert "fs_spectrum" not in charts(at)  # a closed tab draws nothing
    open_tab(at, "w:fs_quantities_tab", "ConfMix weights and the Fisher spectrum")
    spectrum = chart(at, "Fisher spectrum")
    assert spectrum["layout"]["yaxis"]["type"] == "log"
    assert len(spectrum["data"]) == 5


def test_fisher_space_score_bars_carry_the_sfda_noise_once_it_is_known(app):
    from tests.app._gates import WAIT, session_jobs
    from transvis.ranking import rank_models
    from transvis.uncertainty import DEFAULT_RESAMPLING

    at = app("pages/fisher_space.py")
    for job in session_jobs(at, "noise_job:").values():  # the page's noise estimate, in the background
        assert job.wait(WAIT).state == "done"
    at.run()
    assert not at.exception and not errors(at)
    scored = charts(at)["fs_scores"]["data"][1]
    assert scored["name"].endswith("(whiskers: 95% interval)")
    pool = at.session_state["pools"][at.session_state["active_pool"]]
    params = {"shrinkage": None, "confmix": METHOD_DEFAULTS["sfda"]["confmix"], "spectrum": True}  # the page's
    expected = rank_models(pool.features, ["sfda"], params={"sfda": params}, resamples=DEFAULT_RESAMPLING).noise["sfda"]
    half = [expected.resampling.critical_value() * expected.se(m) for m in pool.models]
    np.testing.assert_allclose(values(scored["error_x"]["array"]).astype(float), half, rtol=1e-9)
    assert min(half) > 0
    # the λ table's ranks say what the noise allows: a range for models within noise of another
    lam_table = next(df.value for df in at.dataframe if "λ (shrinkage)" in df.value.columns)
    for tier in expected.noise_groups():
        for model in tier:
            text = lam_table.loc[model.split("/", 1)[1], "rank"]
            assert ("–" in text) == (len(tier) > 1), (model, text)  # a range where the noise cannot order it
            assert re.fullmatch(r"\d+(–\d+)? of 5", text), text


def _wait_for_noise(at):
    from tests.app._gates import WAIT, session_jobs

    for job in session_jobs(at, "noise_job:").values():
        assert job.wait(WAIT).state == "done"
    at.run()
    assert not at.exception and not errors(at)


def _noise_half_widths(pool, metric, params):
    from transvis.ranking import rank_models
    from transvis.uncertainty import DEFAULT_RESAMPLING

    noise = rank_models(pool.features, [metric], params={metric: params} if params else None,
                        resamples=DEFAULT_RESAMPLING).noise[metric]
    return noise, [noise.resampling.critical_value() * noise.se(m) for m in pool.models]


def test_unperturbed_bars_carry_the_wrapped_metrics_noise_and_ranks_before_are_tiered(app):
    from transvis.app_defaults import default_params

    at = app("pages/spread_attract.py")
    _wait_for_noise(at)
    bars = charts(at)["sa_scores"]["data"]
    pool = at.session_state["pools"][at.session_state["active_pool"]]
    noise, half = _noise_half_widths(pool, "logme", default_params(["logme"]).get("logme"))
    assert bars[0]["name"] == "unperturbed (whiskers: 95% interval)"
    np.testing.assert_allclose(values(bars[0]["error_x"]["array"]).astype(float), half, rtol=1e-9)
    assert min(half) > 0
    # the official variant's unperturbed score is the same LogME: the same whiskers
    at.selectbox(key="w:sa_variant").set_value("official").run()
    _wait_for_noise(at)
    official = charts(at)["sa_scores"]["data"][0]
    np.testing.assert_allclose(values(official["error_x"]["array"]).astype(float), half, rtol=1e-9)

    # the bump chart's left column names, for each model, the others the wrapped metric's noise cannot tell it
    # from (TransRate: the synthetic demo's models 2 and 3 are within its noise)
    at.selectbox(key="w:sa_variant").set_value("paper").run()
    at.selectbox(key="w:sa_metric").set_value("transrate").run()
    _wait_for_noise(at)
    noise, _ = _noise_half_widths(pool, "transrate", default_params(["transrate"]).get("transrate"))
    within = {m: sorted(o for g in noise.noise_groups() if m in g for o in g if o != m) for m in pool.models}
    assert any(within.values())
    names = {m.split("/", 1)[1] for m in pool.models}
    lines = {t["name"]: values(t["hovertext"])[0] for t in charts(at)["sa_ranks"]["data"] if t.get("name") in names}
    assert set(lines) == names
    for model in pool.models:
        name = model.split("/", 1)[1]
        expected = ", ".join(o.split("/", 1)[1] for o in within[model])
        assert lines[name].startswith(f"<b>{name}</b><br>unperturbed: rank ")
        first_column = lines[name].split("<br>perturbed")[0]
        assert (f"within noise of {expected}" in first_column) == bool(expected), lines[name]
    # the summary table's ranks before say the same: a range for the models within noise of another
    summary = next(df.value for df in at.dataframe if "rank before" in df.value.columns)
    for model in pool.models:
        name = model.split("/", 1)[1]
        text = summary.loc[name, "rank before"]
        assert text.endswith("of 5 (within noise)") == bool(within[model]), (name, text)
        assert re.fullmatch(r"\d+(–\d+)? of 5( \(within noise\)| \(tied\))?", summary.loc[name, "rank after"])


def test_ped_before_bars_carry_the_wrapped_metrics_noise(app):
    from transvis.app_defaults import default_params

    at = app("pages/ped_dynamics.py")
    _wait_for_noise(at)
    bars = charts(at)["ped_scores"]["data"]
    pool = at.session_state["pools"][at.session_state["active_pool"]]
    metric = at.selectbox(key="w:ped_metric").value
    # PED's "before" is its wrapped metric on the unmoved features: that metric's own scores and noise
    noise, half = _noise_half_widths(pool, metric, default_params([metric]).get(metric))
    assert bars[0]["name"] == "before PED (whiskers: 95% interval)"
    np.testing.assert_allclose(values(bars[0]["error_x"]["array"]).astype(float), half, rtol=1e-9)
    # scored otherwise (not that metric's scores), the bars borrow no interval
    from pages._method_page import unperturbed_noise

    shifted = pd.Series(values(bars[0]["x"]).astype(float) + 1e-3, index=pool.models)
    assert unperturbed_noise(pool, metric, shifted) is None


def test_fisher_space_colour_by_contribution_uses_a_colour_scale(app):
    at = app("pages/fisher_space.py")
    fig = charts(at)["fs_anim"]
    assert isinstance(fig["frames"][0]["data"][0]["marker"]["color"], list)  # class colours per point
    at.radio(key="w:fs_color").set_value("per-sample contribution").run()
    assert not at.exception
    marker = charts(at)["fs_anim"]["frames"][-1]["data"][0]["marker"]
    assert "colorscale" in marker and len(values(marker["color"])) == 360
    at.radio(key="w:fs_color").set_value("predicted label").run()
    first = charts(at)["fs_anim"]["frames"][0]["data"][0]["marker"]["color"]
    assert len(first) == 360 and not at.exception


def test_fisher_space_detail_model_changes_per_class_figure(app):
    at = app("pages/fisher_space.py")
    open_tab(at, "w:fs_quantities_tab", "Per class")
    first = values(charts(at)["fs_per_class"]["data"][1]["y"])
    at.selectbox(key="w:fs_detail_model").set_value("synthetic/model-4").run()
    second = values(charts(at)["fs_per_class"]["data"][1]["y"])
    assert second.mean() > first.mean()  # the best-separated model is more confident in every class


def test_ped_exit_ratio_moves_the_threshold(app):
    at = app("pages/ped_dynamics.py")
    assert not errors(at)
    assert at.selectbox(key="w:ped_metric").value == "sfda"
    _animation(at, "ped_anim")
    assert "ped_ratios" not in charts(at)  # a closed tab draws nothing
    open_tab(at, "w:ped_quantities_tab", "When each model stops")
    assert charts(at)["ped_ratios"]["layout"]["shapes"][0]["y0"] == METHOD_DEFAULTS["ped"]["exit_ratio"]
    at.slider(key="w:ped_exit_ratio").set_value(0.8).run()
    ratios = charts(at)["ped_ratios"]
    assert ratios["layout"]["shapes"][0]["y0"] == 0.8
    steps = at.dataframe[-1].value["steps applied"]
    assert (steps >= 0).all() and (steps <= 6).all()
    assert steps["model-4"] < steps["model-0"]  # well-separated classes barely need to move


def test_ped_step_slider_changes_the_force_map(app):
    at = app("pages/ped_dynamics.py")
    last = values(charts(at)["ped_step_overlap"]["data"][0]["z"]).astype(float)
    labels = at.select_slider(key="w:ped_step").options
    at.select_slider(key="w:ped_step").set_value(labels[1]).run()
    first = values(charts(at)["ped_step_overlap"]["data"][0]["z"]).astype(float)
    assert first.shape == last.shape and not np.allclose(first, last)
    assert len(charts(at)["ped_energy"]["data"]) == 5


def test_ped_max_steps_limits_the_curves(app):
    at = app("pages/ped_dynamics.py")
    at.slider(key="w:ped_max_steps").set_value(2).run()
    open_tab(at, "w:ped_quantities_tab", "When each model stops")
    changes = charts(at)["ped_changes"]
    assert all(len(values(t["y"])) <= 3 for t in changes["data"])  # accepted steps + the rejected one


def test_neural_collapse_page_shows_statistics_and_geometry(app):
    at = app("pages/neural_collapse.py")
    assert not errors(at)
    assert at.toggle(key="w:nc_teaching").value is True
    assert at.toggle(key="w:nc_one_control").value is True  # one time control by default (issue 11)
    still = charts(at)["nc_still"]
    assert "nc_anim" not in charts(at) and not still.get("frames") and not still["layout"].get("sliders")
    assert still["layout"]["meta"]["frame_index"] == 0
    at.toggle(key="w:nc_one_control").set_value(False).run()  # off: the animation with its own ▶ slider
    assert not at.exception and "nc_still" not in charts(at)
    _animation(at, "nc_anim")
    bars = charts(at)["nc_bars"]
    titles = [a["text"] for a in bars["layout"]["annotations"]]
    assert titles[0].startswith("NC1") and any(t.startswith("FaCe score ↑<br>") for t in titles)
    nc1 = values(bars["data"][0]["x"])
    assert np.all(np.diff(nc1) < 0)  # better-separated synthetic models are more collapsed
    assert {t["orientation"] for t in bars["data"]} == {"h"}
    # whiskers on NC1 and FaCe exactly when the caption says the noise is known
    whiskers = [bool((t.get("error_x") or {}).get("visible")) for t in bars["data"]]
    captions = " ".join(c.value for c in at.caption)
    assert whiskers[0] == whiskers[next(i for i, t in enumerate(titles) if t.startswith("FaCe score"))]
    assert whiskers[0] == ("Whiskers: the noise of the quantities that are scores" in captions)
    assert whiskers[0] or "No whiskers yet" in captions
    assert sum(whiskers) in (0, 2)
    # the closed tabs draw nothing (lazy_tabs): the detail tab's charts appear when it is opened
    assert not {"nc_gram", "nc_per_class", "nc_face_classes", "nc_nc1_curve"} & set(charts(at))
    at.session_state["w:nc_stats_tab"] = "One model's class-mean geometry and FaCe per class"
    at.run()
    assert not at.exception and "nc_bars" not in charts(at) and "nc_per_class" in charts(at)
    gram = charts(at)["nc_gram"]
    etf = values(gram["data"][1]["z"]).astype(float)
    c = etf.shape[0]
    np.testing.assert_allclose(etf[~np.eye(c, dtype=bool)], -1 / (c - 1))
    before = values(gram["data"][0]["z"]).astype(float)
    at.selectbox(key="w:nc_detail_model").set_value("synthetic/model-4").run()
    after = values(charts(at)["nc_gram"]["data"][0]["z"]).astype(float)
    assert not np.allclose(before, after)


def test_collapse_interpolation_slider_drives_statistics(app):
    at = app("pages/neural_collapse.py")
    assert at.select_slider(key="w:nc_t").value == "t = 0.00"
    nc1_start = at.dataframe[0].value["nc1"]
    still_start = charts(at)["nc_still"]
    at.select_slider(key="w:nc_t").set_value("t = 1.00").run()
    nc1_end = at.dataframe[0].value["nc1"]
    still_end = charts(at)["nc_still"]
    assert (nc1_end < 1e-6).all() and (nc1_start > 0.05).all()  # interpolation to class means kills NC1
    # the one time control moved the figure too: its frame, its samples (onto the class means) and its race
    assert (still_start["layout"]["meta"]["frame_index"], still_end["layout"]["meta"]["frame_index"]) == (0, 10)
    x_start, x_end = (values(f["data"][0]["x"]).astype(float) for f in (still_start, still_end))
    n_classes = len(at.session_state["pools"][at.session_state["active_pool"]].class_names)
    assert len(np.unique(np.round(x_end, 6))) <= n_classes < len(np.unique(np.round(x_start, 6)))  # on the means
    bars = [[values(t["x"]).astype(float) for t in f["data"] if t["type"] == "bar"][0]
            for f in (still_start, still_end)]
    assert not np.allclose(*bars)
    gram_t1 = values(charts(at)["nc_t_gram"]["data"][0]["z"]).astype(float)
    at.toggle(key="w:nc_to_etf").set_value(True).run()
    gram_etf = values(charts(at)["nc_t_gram"]["data"][0]["z"]).astype(float)
    etf = values(charts(at)["nc_t_gram"]["data"][1]["z"]).astype(float)
    assert np.abs(gram_etf - etf).max() < 1e-6 < np.abs(gram_t1 - etf).max()


def test_neural_collapse_teaching_mode_toggles_explanations(app):
    at = app("pages/neural_collapse.py")
    with_teaching = len(at.caption)
    at.toggle(key="w:nc_teaching").set_value(False).run()
    assert len(at.caption) < with_teaching
    assert not at.exception


def test_deep_dive_selection_filters_the_hardest_samples(app):
    at = app("pages/deep_dive.py")
    assert not errors(at)
    # opens on the ground truth's contrast (transvis.demo.showcase.groundtruth_contrast; tests/app/
    # test_showcase_default.py): on the synthetic demo, model-4 ahead of model-1, which NCM softmax ranks above it
    assert at.selectbox(key="w:dd_model_a").value == "synthetic/model-4"
    assert at.selectbox(key="w:dd_model_b").value == "synthetic/model-1"
    assert at.toggle(key="w:dd_compare").value is True
    hardest = [df.value for df in at.dataframe if "ConfMix weight" in df.value.columns]
    assert len(hardest) == 2 and len(hardest[0]) == 16
    assert hardest[0]["margin"].is_monotonic_increasing  # hardest first, by the nearest-mean margin
    assert hardest[0]["class"].nunique() > 1
    at.session_state["dd_class_bars"] = {"selection": {
        "points": [{"curve_number": 0, "point_index": 2, "x": "class 2", "y": 0.5}],
        "point_indices": [2], "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    hardest = [df.value for df in at.dataframe if "ConfMix weight" in df.value.columns]
    assert set(hardest[0]["class"]) == {"class 2"} and set(hardest[1]["class"]) == {"class 2"}
    assert at.multiselect(key="w:dd_classes").value == ["class 2"]  # the click set the filter
    # the filter outlives its tab: the class bars are no longer drawn, the filter stays
    open_tab(at, "w:dd_detail_tab", "Every sample on one map")
    assert "dd_class_bars" not in charts(at)
    hardest = [df.value for df in at.dataframe if "ConfMix weight" in df.value.columns]
    assert set(hardest[0]["class"]) == {"class 2"}
    at.multiselect(key="w:dd_classes").set_value(["class 0", "class 3"]).run()
    hardest = [df.value for df in at.dataframe if "ConfMix weight" in df.value.columns]
    assert set(hardest[0]["class"]) == {"class 0", "class 3"} and len(hardest[0]) == 32  # k = 16 per class
    at.multiselect(key="w:dd_classes").set_value([]).run()
    hardest = [df.value for df in at.dataframe if "ConfMix weight" in df.value.columns]
    assert len(hardest[0]) == 16 and hardest[0]["class"].nunique() > 1


def test_deep_dive_model_choice_changes_the_heatmap(app):
    at = app("pages/deep_dive.py")
    first = charts(at)["dd_heat_a"]
    at.selectbox(key="w:dd_model_a").set_value("synthetic/model-3").run()
    second = charts(at)["dd_heat_a"]
    assert first["layout"]["title"]["text"] == "model-4" and second["layout"]["title"]["text"] == "model-3"
    assert not np.allclose(values(first["data"][0]["text"]).astype(float),
                           values(second["data"][0]["text"]).astype(float))


def test_export_offers_every_download_and_previews_the_chosen_figure(app):
    at = app("pages/export.py")
    assert not errors(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"Scores (CSV)", "Ranks (CSV)", "Everything (JSON)", "Download the report (HTML)"} <= set(labels)
    assert charts(at)["ex_preview"]["layout"]["title"]["text"] == "How each metric ranks the models"
    at.selectbox(key="w:ex_figure").set_value("Metric agreement heat map").run()
    assert charts(at)["ex_preview"]["data"][0]["type"] == "heatmap"
    at.radio(key="w:ex_format").set_value("png").run()
    assert any("(PNG)" in b.proto.label for b in at.get("download_button"))


def test_deep_dive_compares_two_models_on_one_slider(app):
    at = app("pages/deep_dive.py")
    assert at.toggle(key="w:dd_compare").value
    assert "dd_paired" not in charts(at)  # its tab is closed on a first load: a closed tab draws nothing
    open_tab(at, "w:dd_detail_tab", "Side by side, frame by frame")
    fig = charts(at)["dd_paired"]
    assert [a["text"] for a in fig["layout"]["annotations"][:2]] == ["model-4", "model-1"]  # the opening pair
    assert len(fig["frames"]) == 11 and len(fig["layout"]["sliders"][0]["steps"]) == 11
    at.selectbox(key="w:dd_kind").set_value("ped").run()
    assert not at.exception
    assert charts(at)["dd_paired"]["layout"]["sliders"][0]["steps"][0]["label"] == "start"
    # one model only: no side-by-side tab, and the page falls back to the first tab
    at.toggle(key="w:dd_compare").set_value(False).run()
    assert not at.exception and "dd_paired" not in charts(at)
    assert at.session_state["w:dd_detail_tab"] == "Which classes carry the score"


def test_deep_dive_overview_map_lasso_and_colour(app):
    at = app("pages/deep_dive.py")
    open_tab(at, "w:dd_detail_tab", "Every sample on one map")
    fig = charts(at)["dd_overview"]
    assert [t["name"] for t in fig["data"]] == [f"class {c}" for c in range(6)]
    assert sum(len(values(t["x"])) for t in fig["data"]) == 360  # every sample, no subsampling
    at.session_state["dd_overview"] = _selection([3, 4, 200])
    at.run()
    table = next(df.value for df in at.dataframe if "sample" in df.value.columns and "ConfMix weight"
                 not in df.value.columns)
    assert table["sample"].tolist() == [3, 4, 200]
    at.radio(key="w:dd_overview_colour").set_value("hardness").run()
    marker = charts(at)["dd_overview"]["data"][0]["marker"]
    assert "colorscale" in marker and len(values(marker["color"])) == 360
    at.radio(key="w:dd_projection").set_value("fisher").run()
    assert not at.exception and "Fisher plane" in charts(at)["dd_overview"]["layout"]["title"]["text"]


PAGES = ["pages/leaderboard.py", "pages/spread_attract.py", "pages/fisher_space.py", "pages/ped_dynamics.py",
         "pages/neural_collapse.py", "pages/deep_dive.py", "pages/export.py", "pages/setup.py"]


def test_every_page_survives_a_tiny_one_model_pool(app):
    from transvis.features.featureset import FeatureSet
    from transvis.session import pool_from_featuresets

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 8)
    tiny = FeatureSet(rng.normal(size=(24, 5)) + labels[:, None], labels, ["a", "b", "c"], "upload/tiny", "tiny")
    pool = pool_from_featuresets([tiny], "tiny", "upload")
    at = app()
    activate_pool(at, pool)
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert "Pool:** tiny" in at.sidebar.markdown[0].value


def _equal_at_collapse_pool():
    """Three models with the same class means but different within-class spread, two of them rotated: their
    LogME differs at t = 0 and is equal (up to rounding) at t = 1, where every sample sits on its class mean."""
    from transvis.features.featureset import FeatureSet
    from transvis.session import pool_from_featuresets

    rng = np.random.default_rng(7)
    labels = np.repeat([0, 1, 2], 20)
    means = rng.normal(size=(3, 6)) * 3.0
    sets = []
    for k, spread in enumerate([0.6, 1.8, 1.1]):
        rotation = np.linalg.qr(rng.normal(size=(6, 6)))[0] if k else np.eye(6)
        residual = rng.normal(size=(60, 6))
        residual -= np.stack([residual[labels == c].mean(0) for c in range(3)])[labels]  # class means stay put
        x = (means[labels] + spread * residual) @ rotation
        sets.append(FeatureSet(x, labels, ["u", "v", "w"], f"upload/m{k}", "equal-at-collapse"))
    return pool_from_featuresets(sets, "equal at collapse", "upload")


def test_a_frame_where_every_score_is_equal_announces_no_overtake_and_shows_its_note(app):
    pool = _equal_at_collapse_pool()
    at = app()
    activate_pool(at, pool)
    at.switch_page("pages/neural_collapse.py").run()
    at.toggle(key="w:nc_one_control").set_value(False).run()  # the animated figure: every frame at once
    assert not at.exception and not errors(at)
    fig = charts(at)["nc_anim"]
    first, last = fig["frames"][0]["data"], fig["frames"][-1]["data"]
    caption = " ".join(_plain_lines(last[-3]["text"][0]))  # the race's caption under the bars, lines joined
    note = "LogME at "
    assert note in caption and "for 3 of 3 models: no ranking at this step" in caption
    assert "overtakes" not in caption and "▲" not in "".join(last[-4]["text"]) and "▼" not in "".join(last[-4]["text"])
    assert "≈" in last[-2]["text"] or "=" in last[-2]["text"]  # one bracket round the three tied models
    assert all(t.startswith(("≈ ", "= ")) for t in last[-4]["text"])  # labelled as a tie, not "#1 m1"
    assert [row[1] for row in last[2]["customdata"]] == ["1", "1", "1"]  # one shared rank
    assert len({row[1] for row in first[2]["customdata"]}) == 3  # t = 0 still ranks them
    # the t slider shows the same note on the page
    at.select_slider(key="w:nc_t").set_value("t = 1.00").run()
    assert any("no ranking at this step" in i.value for i in at.info)
    assert any("Frames without a ranking" in c.value for c in at.caption)


# -- issue 11: plain-language captions, hover definitions and the Stakeholder / Fisher / PED findings --------------
def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def _captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_spread_attract_says_what_happened_in_words_and_defines_its_jargon(app):
    at = app("pages/spread_attract.py")
    text = _markdown(at)
    assert ("**What happened:** Spread pushed every sample 30 % further from its class centre and Attract pulled "
            "the class centres 30 % closer together; LogME") in text
    assert "order held" in text or "overtook" in text
    assert "**Spread** — A stress test" in at.slider(key="w:sa_spread").help
    assert "**α** —" in at.selectbox(key="w:sa_variant").help
    # the paper trajectory has no per-sample contribution, so it is not offered
    assert at.radio(key="w:sa_color").options == ["true label", "predicted label"] or \
        "per-sample contribution" not in at.radio(key="w:sa_color").options
    assert not any("has no per-sample contribution" in c.value for c in at.caption)
    # the movement is measured, and the start stays drawn behind the moving points
    assert "move on average" in _captions(at)
    names = [t.get("name") for t in charts(at)["sa_anim"]["data"]]
    assert "start (first frame)" in names and "centre paths" in names
    at.toggle(key="w:sa_start").set_value(False).run()
    assert "start (first frame)" not in [t.get("name") for t in charts(at)["sa_anim"]["data"]]


def test_spread_attract_official_variant_explains_its_identical_geometry_bars(app):
    at = app("pages/spread_attract.py")
    at.selectbox(key="w:sa_variant").set_value("official").run()
    assert not at.exception
    infos = "\n".join(i.value for i in at.info)
    # the synthetic demo's gate fires for model-0 and model-1 (their top-2 eigenvalues exceed 4.145)
    assert "scale gate fired for: model-0, model-1." in _captions(at)
    assert "Spread is computed and discarded" not in infos  # the note sits with the geometry bars, in their tab
    open_tab(at, "w:sa_quantities_tab", "Spread and centre distance")
    infos = "\n".join(i.value for i in at.info)
    assert "64-dimensional PCA space the step acts in" in _captions(at)
    assert "Spread is computed and discarded" in infos and "64 PCA dimensions first" in infos
    assert "α = 0.005, the step size" in infos


def test_fisher_space_findings(app):
    at = app("pages/fisher_space.py")
    captions = _captions(at)
    # the λ caption is generated from the λ values (no blanket "regularised differently")
    lam = at.dataframe[0].value["λ (shrinkage)"].to_numpy(dtype=float)
    if np.allclose(lam, lam[0]):
        assert "regularised identically" in captions and "regularised differently" not in captions
    else:
        assert "regularised differently" in captions
    # how many discriminant directions the plane draws, and their share of the separation (synthetic: 6 classes)
    assert "draws 2 of the C − 1 = " in captions and "between-class separation" in captions
    # ConfMix weights: one box per model, not overlaid histograms
    open_tab(at, "w:fs_quantities_tab", "ConfMix weights and the Fisher spectrum")
    mixing = charts(at)["fs_mixing"]
    boxes = [t for t in mixing["data"] if t["type"] == "box"]
    assert len(boxes) == 5 and {t["type"] for t in mixing["data"]} <= {"box", "scatter"}
    assert "**ConfMix** —" in at.toggle(key="w:fs_confmix").help
    # overtake notes under the race are wrapped, never cut mid-note
    for frame in charts(at)["fs_anim"]["frames"]:
        caption = frame["data"][-3]["text"][0]
        assert all(len(line) <= 40 for line in _plain_lines(caption))


def _plain_lines(html):
    import re

    return [re.sub("<[^>]+>", "", line) for line in html.split("<br>")]


def test_ped_shows_when_each_model_stops(app):
    at = app("pages/ped_dynamics.py")
    at.slider(key="w:ped_exit_ratio").set_value(0.8).run()
    open_tab(at, "w:ped_quantities_tab", "When each model stops")
    table = at.dataframe[-1].value
    stopped = table["stopped"]
    assert stopped.str.startswith("at step").any()  # some models reach the exit ratio at 0.8
    marks = [t for t in charts(at)["ped_ratios"]["data"] if t.get("name") == "stopped here"]
    assert len(marks) == int(stopped.str.startswith("at step").sum())
    # the race marks a stopped model from its stop step on
    labels = [text for frame in charts(at)["ped_anim"]["frames"] for text in frame["data"][4]["text"]]
    assert any("■ stopped at step" in t for t in labels)
    assert "stopped after" in _markdown(at)
    assert "**exit ratio** —" in at.slider(key="w:ped_exit_ratio").help


def test_neural_collapse_reruns_reuse_the_every_model_figure(app, monkeypatch):
    import transvis.viz.methods as methods

    built = []
    original = methods.small_multiples_bars

    def counting(*args, **kwargs):
        built.append(kwargs.get("intervals"))
        return original(*args, **kwargs)

    monkeypatch.setattr(methods, "small_multiples_bars", counting)
    at = app("pages/neural_collapse.py")
    first = charts(at)["nc_bars"]
    n = len(built)  # 0 when an earlier test's run of the same pool built it: the figure store is the server's
    at.toggle(key="w:nc_teaching").set_value(False).run()  # a control that leaves the statistics as they were
    assert not at.exception and charts(at)["nc_bars"] == first
    assert len(built) == n  # the figure was not built again
