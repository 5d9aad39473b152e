"""Presentation mode in a real browser: the screen fits 1280×720 and 1920×1080 without scrolling, and the
ETF view at t = 1 draws a regular polygon with the class means on its vertices. Screenshots land in
test-artifacts/."""

import numpy as np
import pytest

from tests.e2e.conftest import ARTIFACTS, wait_idle
from transvis.viz.etf import vertex_edges

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def _open(browser, server, path, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(180_000)
    page.goto(f"{server}/{path}")
    wait_idle(page)
    page.wait_for_selector('[data-testid="stPlotlyChart"] .js-plotly-plot')
    wait_idle(page)  # the mode hides the header's running indicator: wait for the figure, then for quiet
    page.wait_for_timeout(1500)
    assert page.locator('[data-testid="stException"]').count() == 0
    return context, page


@pytest.mark.parametrize("width, height, screen", [(1280, 720, "720"), (1920, 1080, "1080")])
@pytest.mark.parametrize("step", [1, 2])
def test_presentation_screen_fits_the_viewport(browser, server, width, height, screen, step):
    context, page = _open(browser, server, f"neural_collapse?present=1&step={step}&screen={screen}", width, height)
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"presentation_nc_step{step}_{width}x{height}.png"))
        charts = page.locator('[data-testid="stPlotlyChart"]')
        assert charts.count() >= 1
        for i in range(charts.count()):
            box = charts.nth(i).bounding_box()
            assert box["x"] >= 0 and box["y"] >= 0, box
            assert box["x"] + box["width"] <= width + 1 and box["y"] + box["height"] <= height + 1, (box, width, height)
        table = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
        assert table["y"] + table["height"] <= height + 1
        scroll, client = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                                       " return [m.scrollHeight, m.clientHeight]; }")
        assert scroll <= client + 2, f"the screen scrolls: content {scroll}px in a {client}px window"
        assert page.get_by_text(f"step {step} of 5").count() == 1
        assert page.locator(".katex").count() >= 1  # formulas rendered as LaTeX
    finally:
        context.close()


def test_etf_view_at_t1_is_a_regular_polygon_with_the_means_on_it(browser, server):
    context, page = _open(browser, server, "neural_collapse?present=1&step=2&screen=720", 1280, 720)
    try:
        graph = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first
        traces = graph.evaluate("el => el._fullData.map(t => ({name: t.name, x: Array.from(t.x || []), "
                                "y: Array.from(t.y || [])}))")
        by_name = {t["name"]: t for t in traces}
        vertices = np.column_stack([by_name["ETF vertices"]["x"], by_name["ETF vertices"]["y"]]).astype(float)
        means = np.column_stack([by_name["class means"]["x"], by_name["class means"]["y"]]).astype(float)
        edges = vertex_edges(vertices)
        assert len(edges) >= 3 and edges.max() / edges.min() - 1 < 0.01  # pairwise edges equal within 1 %
        np.testing.assert_allclose(means, vertices, atol=1e-6)  # t = 1 with the means moved to the ETF
        page.screenshot(path=str(ARTIFACTS / "presentation_nc_etf_1280x720.png"))
    finally:
        context.close()
