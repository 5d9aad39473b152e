"""Hover thumbnails in a real browser: hovering a sample of the animated scatter shows its image and labels
beside the cursor, after scrubbing too, and lasso selection still fills the table.

The shared ``server`` fixture serves the synthetic demo, which has no images (plain plotly hover there). This
file serves its own app whose synthetic demo gets tiny 12×12 images — a class-coloured square with a
stripe at row ``index % 12`` — through a launcher that patches ``transvis.demo.synthetic_demo`` in the
Streamlit process before the app runs.
"""

from __future__ import annotations

import sys

import pytest

from tests.e2e.conftest import ARTIFACTS, ROOT, browser_tab, plotly_chart, serve_app, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

LAUNCHER = r"""
import sys
import numpy as np
import transvis.demo as demo

plain = demo.synthetic_demo

def synthetic_demo_with_images(*args, **kwargs):
    pool = plain(*args, **kwargs)
    labels = pool.labels
    images = np.zeros((labels.size, 12, 12, 3), dtype=np.uint8)
    for i, label in enumerate(labels):
        images[i] = (40 * label % 256, 255 - 40 * label % 256, 128)
        images[i, i % 12] = 255
    pool.images = images
    return pool

demo.synthetic_demo = synthetic_demo_with_images
from streamlit.web import cli
sys.argv = ["streamlit", "run", *sys.argv[1:]]
sys.exit(cli.main())
"""


@pytest.fixture(scope="module")
def image_server(tmp_path_factory):
    yield from serve_app(tmp_path_factory, [sys.executable, "-c", LAUNCHER], {"PYTHONPATH": str(ROOT)})


@pytest.fixture
def tab(browser, image_server):
    with browser_tab(browser) as page:
        yield page


def _labels():
    from transvis.demo import synthetic_demo

    return synthetic_demo().labels


# Page coordinates of the most isolated sample point (so the hover cannot pick a neighbour): (x, y, index).
POINT_JS = """gd => {
    const trace = gd._fullData.find(t => t.name === 'samples');
    const xa = gd._fullLayout[trace.xaxis === 'x' ? 'xaxis' : 'xaxis' + trace.xaxis.slice(1)];
    const ya = gd._fullLayout[trace.yaxis === 'y' ? 'yaxis' : 'yaxis' + trace.yaxis.slice(1)];
    const box = gd.getBoundingClientRect();
    const px = Array.from(trace.x, v => xa._offset + xa.l2p(v)), py = Array.from(trace.y, v => ya._offset + ya.l2p(v));
    let best = -1, bestGap = -1;
    for (let i = 0; i < px.length; i++) {
        let gap = Infinity;
        for (let j = 0; j < px.length; j++) {
            if (j !== i) gap = Math.min(gap, (px[i] - px[j]) ** 2 + (py[i] - py[j]) ** 2);
        }
        if (gap > bestGap) { bestGap = gap; best = i; }
    }
    const cd = trace.customdata[best];
    return [box.left + px[best], box.top + py[best], Number(cd[0] !== undefined ? cd[0] : cd)];
}"""


def _hover_nearest_sample(page, graph):
    x, y, sample = graph.evaluate(POINT_JS)
    page.mouse.move(x - 20, y - 20)
    page.mouse.move(x, y, steps=4)
    # the steps pass over other samples; under load the card may still show one of them for a moment
    page.wait_for_function(
        "s => { const l = document.querySelector('[data-testid=\"transvis-hover-card-label\"]');"
        " return l && l.innerText.startsWith('#' + s + ' '); }", arg=sample, timeout=10_000)
    return x, y, sample


def test_hovering_a_sample_shows_its_thumbnail_and_labels(tab, image_server):
    labels = _labels()
    tab.goto(f"{image_server}/fisher_space")
    wait_idle(tab)
    chart = plotly_chart(tab, "Fisher space of")
    graph = chart.locator(".js-plotly-plot")
    graph.wait_for()
    card = tab.get_by_test_id("transvis-hover-card")
    x, y, sample = _hover_nearest_sample(tab, graph)
    card.wait_for(state="visible", timeout=10_000)
    image = card.locator("img")
    assert image.is_visible()
    assert image.get_attribute("src").startswith("data:image/png;base64,")
    assert image.evaluate("img => img.complete && img.naturalWidth") == 12  # the sample's own 12 px image
    text = tab.get_by_test_id("transvis-hover-card-label").inner_text()
    assert f"#{sample}" in text and f"true: class {labels[sample]}" in text
    assert "predicted: class " in text  # this trajectory knows each frame's predicted labels
    # plotly's own hover label is replaced by the card on the samples
    assert chart.locator(".hoverlayer .hovertext").count() == 0
    # the card sits next to the cursor
    box = card.bounding_box()
    assert abs(box["x"] - (x + 16)) < 2 or abs(box["x"] + box["width"] - (x - 16)) < 2
    ARTIFACTS.mkdir(exist_ok=True)  # the viewport as it is (resizing for a full-page shot would end the hover)
    tab.screenshot(path=str(ARTIFACTS / "hover_thumbnail.png"))
    # moving off the chart hides it
    tab.mouse.move(5, 5)
    card.wait_for(state="hidden", timeout=5_000)

    # after scrubbing to the last frame the card follows the point there
    handle = graph.element_handle()
    graph.evaluate("gd => { const s = gd.layout.sliders[0].steps; const [f, o] = s[s.length - 1].args;"
                   " return Plotly.animate(gd, f, o); }")
    tab.wait_for_function("el => el._fullLayout.sliders[0].active > 0", arg=handle, timeout=10_000)
    x, y, sample = _hover_nearest_sample(tab, graph)
    card.wait_for(state="visible", timeout=10_000)
    text = tab.get_by_test_id("transvis-hover-card-label").inner_text()
    assert f"#{sample}" in text and f"true: class {labels[sample]}" in text


def test_box_selection_still_lists_samples_with_the_card_mounted(tab, image_server):
    tab.goto(f"{image_server}/neural_collapse")
    wait_idle(tab)
    tab.get_by_text("One time control").click()  # off: the animated figure (on by default)
    wait_idle(tab)
    chart = plotly_chart(tab, "Collapsing")
    graph = chart.locator(".js-plotly-plot")
    graph.wait_for()
    chart.hover()
    chart.locator('.modebar-btn[data-val="select"]').first.click(force=True)
    area = chart.locator("rect.nsewdrag").first.bounding_box()
    tab.mouse.move(area["x"] + 4, area["y"] + 4)
    tab.mouse.down()
    tab.mouse.move(area["x"] + area["width"] - 4, area["y"] + area["height"] - 4, steps=8)
    tab.mouse.up()
    wait_idle(tab)
    caption = tab.get_by_text("selected sample(s)").first
    caption.wait_for()
    selected = int(caption.inner_text().split()[0])
    assert selected == _labels().size  # the whole scatter was boxed: every sample listed


def test_hovering_a_class_bar_shows_the_class_montage_beside_plotlys_value(tab, image_server):
    from transvis.demo import synthetic_demo

    pool = synthetic_demo()
    tab.goto(f"{image_server}/fisher_space")
    wait_idle(tab)
    # a lazy tab (pages._ui.lazy_tabs): its charts are drawn once it is opened, by the rerun the click starts
    assert tab.locator('[data-testid="stPlotlyChart"]').filter(has_text="confidently separated").count() == 0
    tab.get_by_role("tab", name="Per class").click()
    wait_idle(tab)
    chart = plotly_chart(tab, "which classes are confidently separated")
    bar = chart.locator(".trace.bars .point path").first
    bar.wait_for()
    target = bar.bounding_box()  # plotly's drag layer sits on top: move the mouse rather than hover the path
    tab.mouse.move(target["x"] + target["width"] / 2 - 20, target["y"] + target["height"] / 2 + 20)
    tab.mouse.move(target["x"] + target["width"] / 2, target["y"] + target["height"] / 2, steps=4)
    card = tab.get_by_test_id("transvis-hover-card")
    card.wait_for(state="visible", timeout=10_000)
    image = card.locator("img")
    assert image.count() == 1 and image.get_attribute("alt") == f"examples of {pool.class_names[0]}"
    assert image.evaluate("img => img.complete && img.naturalWidth") == 112  # 2 × 2 montage of 56-px cells
    text = tab.get_by_test_id("transvis-hover-card-label").inner_text()
    assert pool.class_names[0] in text and f"{int((pool.labels == 0).sum())} samples" in text
    # plotly's own label (the bar's value) stays; the card sits above left of the cursor, clear of it
    assert chart.locator(".hoverlayer .hovertext").count() >= 1
    box = card.bounding_box()
    assert box["y"] + box["height"] <= target["y"] + target["height"] / 2 - 10
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "hover_class.png"))
    tab.mouse.move(5, 5)
    card.wait_for(state="hidden", timeout=5_000)
