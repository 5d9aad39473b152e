"""The app in a real browser: every page renders (screenshots in test-artifacts/), play/scrub an animation,
lasso-select on a chart, download exports, and state that survives navigation."""

import pytest

from tests.e2e.conftest import PAGES, open_page, plotly_chart, screenshot, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.mark.parametrize("path", list(PAGES))
def test_page_renders_with_content(page, server, path):
    open_page(page, server, path)
    heading = page.locator('[data-testid="stMainBlockContainer"] h1').first.inner_text()
    assert PAGES[path] in heading
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    # every page lists the whole navigation (the router ran, not Streamlit's bare pages folder)
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Leaderboard" in nav and "Neural collapse" in nav and "_ui" not in nav
    screenshot(page, f"page_{path or 'leaderboard'}")


def test_play_and_scrub_the_animation(page, server):
    open_page(page, server, "neural_collapse")
    page.get_by_text("One time control").click()  # off: the figure plays with its own slider (on by default)
    wait_idle(page)
    chart = plotly_chart(page, "Collapsing")
    graph = chart.locator(".js-plotly-plot")
    graph.wait_for()
    handle = graph.element_handle()
    assert graph.evaluate("el => el._fullLayout.sliders[0].active") == 0
    chart.locator("g.updatemenu-button").filter(has_text="Play").click()
    page.wait_for_function("el => el._fullLayout.sliders[0].active >= 3", arg=handle, timeout=30_000)
    screenshot(page, "neural_collapse_playing")
    chart.locator("g.updatemenu-button").filter(has_text="Pause").click()
    # scrub: drag the slider's grip back to the start of the rail
    grip = chart.locator("rect.slider-grip-rect").bounding_box()
    rail = chart.locator("rect.slider-rail-rect").bounding_box()
    page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
    page.mouse.down()
    page.mouse.move(rail["x"] + 2, rail["y"] + rail["height"] / 2, steps=8)
    page.mouse.up()
    page.wait_for_function("el => el._fullLayout.sliders[0].active === 0", arg=handle, timeout=10_000)
    bars = graph.evaluate("el => Array.from(el._fullData.find(t => t.type === 'bar').y)")
    assert sorted(bars) == [1, 2, 3, 4, 5]


def test_lasso_selection_filters_the_leaderboard_table(page, server):
    open_page(page, server, "")
    page.get_by_role("tab", name="Metrics vs ground truth").click()
    wait_idle(page)
    chart = plotly_chart(page, "against ground truth")
    chart.locator(".js-plotly-plot").wait_for()
    chart.hover()
    chart.locator('.modebar-btn[data-val="lasso"]').click(force=True)
    area = chart.locator("rect.nsewdrag").first.bounding_box()
    left, top = area["x"] + area["width"] * 0.45, area["y"] + 4
    right, bottom = area["x"] + area["width"] - 4, area["y"] + area["height"] - 4
    page.mouse.move(left, top)
    page.mouse.down()
    for x, y in [(right, top), (right, bottom), (left, bottom), (left, top + 2)]:
        page.mouse.move(x, y, steps=6)
    page.mouse.up()
    wait_idle(page)
    caption = page.get_by_text("selected model(s)").first
    caption.wait_for()
    selected = int(caption.inner_text().split()[0])
    assert 1 <= selected < 5
    screenshot(page, "leaderboard_lasso")


def test_downloads_from_the_export_page(page, server, tmp_path):
    open_page(page, server, "export")
    with page.expect_download() as info:
        page.locator('[data-testid="stDownloadButton"]').filter(has_text="Scores (CSV)").locator("button").click()
    csv = (tmp_path / "scores.csv")
    info.value.save_as(csv)
    lines = csv.read_text().strip().splitlines()
    assert lines[0].startswith("model,ground truth,mean rank") and len(lines) == 6
    with page.expect_download(timeout=60_000) as info:
        page.locator('[data-testid="stDownloadButton"]').filter(has_text="report").locator("button").click()
    report = tmp_path / "report.html"
    info.value.save_as(report)
    text = report.read_text()
    assert "transvis report" in text and text.count('class="plotly-graph-div"') >= 2
    screenshot(page, "export")


def test_widget_state_survives_navigation(page, server):
    open_page(page, server, "")
    page.locator('[data-testid="stRadio"]').filter(has_text="Table shows").get_by_text("ranks").click()
    wait_idle(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Setup").click()
    wait_idle(page)
    assert "Setup" in page.locator('[data-testid="stMainBlockContainer"] h1').first.inner_text()
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Leaderboard").click()
    wait_idle(page)
    checked = page.locator('[data-testid="stRadio"]').filter(has_text="Table shows").locator("input:checked")
    assert checked.evaluate("el => el.value") in ("1", "ranks") or \
        page.locator('[data-testid="stRadio"]').filter(has_text="Table shows").locator(
            'label:has(input:checked)').inner_text().strip() == "ranks"
