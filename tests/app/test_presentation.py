"""Presentation mode and the neural-collapse page's one time control and ETF view, on the synthetic demo."""

import numpy as np
import pytest

from tests.app.conftest import charts, errors, open_tab, values
from transvis.presentation import script
from transvis.viz.etf import vertex_edges


def _present(at, kind):
    at.toggle(key="w:present").set_value(True).run()
    assert not at.exception and not errors(at)
    return at


def _frame_index(fig):
    return fig["layout"]["meta"]["frame_index"]


def _samples_x(fig):
    return np.sort(values(fig["data"][0]["x"]).astype(float))


def test_steps_forward_and_back_move_the_frame_and_follow_the_url(app):
    at = _present(app("pages/neural_collapse.py"), "collapse")
    steps = script("collapse").steps
    assert at.query_params["present"] == "1" and at.query_params["step"] == "1"
    assert any(m.value == f"**step 1 of {len(steps)}**" for m in at.markdown)
    assert at.button(key="present_prev_collapse").disabled
    first = charts(at)["present_figure"]
    assert _frame_index(first) == 0  # NC1 opens at t = 0
    assert not first.get("frames") and not first["layout"].get("sliders")  # no second time control
    at.button(key="present_next_collapse").click().run()  # NC2: the ETF view at t = 1
    assert not at.exception
    assert any(m.value == f"**step 2 of {len(steps)}**" for m in at.markdown)
    assert at.query_params["step"] == "2"
    assert _frame_index(charts(at)["present_race"]) == 10
    at.button(key="present_next_collapse").click().run()
    at.button(key="present_prev_collapse").click().run()
    at.button(key="present_prev_collapse").click().run()
    assert at.query_params["step"] == "1" and _frame_index(charts(at)["present_figure"]) == 0
    for _ in steps[1:]:
        at.button(key="present_next_collapse").click().run()
    assert any(m.value == f"**step {len(steps)} of {len(steps)}**" for m in at.markdown)
    assert at.button(key="present_next_collapse").disabled


def test_the_url_opens_a_bookmarked_step(app):
    at = app()
    at.query_params["present"] = "1"
    at.query_params["step"] = "4"
    at.switch_page("pages/neural_collapse.py").run()
    assert not at.exception
    assert at.toggle(key="w:present").value is True
    assert any(m.value.startswith("### NC4") for m in at.markdown)


def test_latex_formulas_are_rendered(app):
    at = _present(app("pages/neural_collapse.py"), "collapse")
    bodies = [e.value for e in at.latex]
    assert any(r"\operatorname{tr}" in b and r"\Sigma_B^{\dagger}" in b for b in bodies)
    at.toggle(key="w:present").set_value(False).run()
    # the normal page's teaching tabs are lazy: the open idea's formula only, each other one when its tab opens
    ideas = [tab.label for tab in at.tabs][:5]  # "Teaching mode (the five ideas, with formulas)": the first tabs
    assert ideas[0].startswith("NC1") and len(at.latex) == 1
    seen = [at.latex[0].value]
    for label in ideas[1:]:
        shown = open_tab(at, "w:nc_teaching_tab", label).latex
        assert not at.exception and len(shown) == 1
        seen.append(shown[0].value)
    assert len(set(seen)) == 5 and any(r"\operatorname{tr}" in b for b in seen)


def test_one_time_control_drives_the_figure_and_every_statistic(app):
    at = _present(app("pages/neural_collapse.py"), "collapse")
    slider = at.select_slider(key="w:present_frame_collapse_0")
    table_t0 = at.dataframe[0].value
    fig_t0 = charts(at)["present_figure"]
    slider.set_value("t = 1.00").run()
    table_t1 = at.dataframe[0].value
    fig_t1 = charts(at)["present_figure"]
    assert _frame_index(fig_t0) == 0 and _frame_index(fig_t1) == 10
    assert not np.allclose(_samples_x(fig_t0), _samples_x(fig_t1))  # the scatter moved with the slider
    nc1 = "NC1 ↓"  # the statistics table: rows = models, read from the slider's frame
    assert all(v != "0 (collapsed)" for v in table_t0[nc1]) and all(v == "0 (collapsed)" for v in table_t1[nc1])

    def bars(fig):  # the race's bars: the frame's scores
        return [values(t["x"]).astype(float) for t in fig["data"] if t["type"] == "bar"][0]

    assert not np.allclose(bars(fig_t0), bars(fig_t1))


@pytest.mark.parametrize("page, kind, animation", [("pages/spread_attract.py", "spread_attract", "sa_anim"),
                                                   ("pages/fisher_space.py", "fisher", "fs_anim"),
                                                   ("pages/ped_dynamics.py", "ped", "ped_anim")])
def test_every_method_page_presents_its_steps(app, page, kind, animation):
    at = _present(app(page), kind)
    steps = script(kind).steps
    for k in range(len(steps)):
        assert any(m.value == f"### {steps[k].title}" for m in at.markdown)
        assert at.latex and "present_figure" in charts(at)
        if k < len(steps) - 1:
            at.button(key=f"present_next_{kind}").click().run()
            assert not at.exception and not errors(at)
    at.toggle(key="w:present").set_value(False).run()
    assert "present" not in at.query_params and animation in charts(at)  # the full page is back


def test_normal_page_one_control_and_the_etf_view(app):
    at = app("pages/neural_collapse.py")
    at.toggle(key="w:nc_one_control").set_value(True).run()
    at.toggle(key="w:nc_to_etf").set_value(True).run()
    assert "nc_still" in charts(at) and "nc_anim" not in charts(at)
    at.select_slider(key="w:nc_t").set_value("t = 1.00").run()
    figs = charts(at)
    assert _frame_index(figs["nc_still"]) == 10
    etf = {t["name"]: t for t in figs["nc_etf"]["data"]}
    vertices = np.column_stack([values(etf["ETF vertices"]["x"]), values(etf["ETF vertices"]["y"])]).astype(float)
    means = np.column_stack([values(etf["class means"]["x"]), values(etf["class means"]["y"])]).astype(float)
    edges = vertex_edges(vertices)
    assert edges.max() / edges.min() - 1 < 0.01  # a regular polygon
    np.testing.assert_allclose(means, vertices, atol=1e-6)  # the means sit on it at t = 1
    assert (at.dataframe[0].value["nc1"] < 1e-12).all()
    at.multiselect(key="w:nc_etf_classes").set_value([0, 1, 2]).run()
    tri = {t["name"]: t for t in charts(at)["nc_etf"]["data"]}
    pts = np.column_stack([values(tri["ETF vertices"]["x"]), values(tri["ETF vertices"]["y"])]).astype(float)
    assert len(pts) == 3 and np.ptp(vertex_edges(pts)) < 1e-9


def test_face_per_class_shows_what_varies_not_the_constant_separation(app):
    at = app("pages/neural_collapse.py")
    at.session_state["w:nc_stats_tab"] = "One model's class-mean geometry and FaCe per class"
    at.run()
    fig = charts(at)["nc_face_classes"]
    names = [t["name"] for t in fig["data"]]
    assert "separation" not in names and "nearest-mean angle ÷ ETF angle" in names
    angles = values(fig["data"][names.index("nearest-mean angle ÷ ETF angle")]["y"]).astype(float)
    assert np.ptp(angles) > 0.01


def test_presentation_animates_the_pages_current_metric_and_etf_choice(app):
    at = app("pages/neural_collapse.py")
    at.selectbox(key="w:nc_metric").set_value("hscore").run()
    at.toggle(key="w:nc_to_etf").set_value(True).run()
    at = _present(at, "collapse")
    fig = charts(at)["present_figure"]
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert "ranking by H-score" in titles  # the page's metric, not the kind's default (LogME)
    at.select_slider(key="w:present_frame_collapse_0").set_value("t = 1.00").run()
    moved = charts(at)["present_figure"]
    at.toggle(key="w:present").set_value(False).run()
    at.toggle(key="w:nc_to_etf").set_value(False).run()
    at = _present(at, "collapse")
    stayed = charts(at)["present_figure"]
    # with the page's ETF choice on, t = 1 puts the samples on the ETF-moved means: not where they land without it
    assert _frame_index(moved) == _frame_index(stayed) == 10
    assert not np.allclose(_samples_x(moved), _samples_x(stayed))
