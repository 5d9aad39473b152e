"""The deep dive's "Why does A rank above B?" panel in a real browser at 1600×1000: the answer, the per-class
contribution map with its one colour bar, the two per-class heat maps sharing one colour bar, and a rank table
that shows every row without scrolling. The screenshot lands in test-artifacts/."""

import re

import pytest

from tests.e2e.conftest import browser_tab, open_page, plotly_chart, viewport_screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_why_panel_at_1600x1000(browser, server):

    with browser_tab(browser, 1600, 1000, timeout_ms=240_000) as page:
        open_page(page, server, "deep_dive")
        heading = page.get_by_role("heading", name=re.compile(r"^Why does .+ rank above .+\?$"))
        heading.wait_for()
        answer = page.locator('[data-testid="stAlertContentInfo"]').filter(has_text=" metrics")
        assert re.search(r"is ahead of .+ on \d+ of \d+ metrics|Neither ranks above the other", answer.first.inner_text())
        # the rank table: every row shown, no scrolling inside the grid
        grid = page.locator('[data-testid="stDataFrame"] .dvn-scroller').first  # the first table: the ranks
        grid.wait_for()
        assert grid.evaluate("el => el.scrollHeight <= el.clientHeight + 2")
        # the per-class heat maps: one colour bar for both
        page.locator(".st-key-dd_heat_b .js-plotly-plot").first.scroll_into_view_if_needed()
        assert page.locator(".st-key-dd_heat_a g.colorbar").count() == 0
        assert page.locator(".st-key-dd_heat_b g.colorbar").count() == 1
        # the contribution map: one diverging scale, one colour bar, drawn inside the viewport's width
        chart = plotly_chart(page, "Which classes make the difference")
        assert chart.locator("g.colorbar").count() == 1
        box = chart.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1600
        heading.scroll_into_view_if_needed()
        page.evaluate("() => window.scrollBy(0, -80)")
        page.wait_for_timeout(800)
        viewport_screenshot(page, "deep_dive_why_1600x1000")
