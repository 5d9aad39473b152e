"""Hover thumbnails on the sample scatters (pages/_scatter.py), through the router on the synthetic demo.

The synthetic demo has no images: the scatters keep plotly's own hover label and mount no hover card. A copy
of the pool given tiny images mounts the card with one thumbnail per plotted sample, and lasso/box selection
still drives the table either way.
"""

import dataclasses
import json

import numpy as np

from tests.app._gates import settle
from tests.app.conftest import charts, errors

CARD = "transvis.hover_card"


def _selection(indices):
    return {"selection": {"points": [{"curve_number": 0, "point_index": i, "customdata": [i], "x": 0.0, "y": 0.0}
                                     for i in indices], "point_indices": list(indices), "box": [], "lasso": []}}


def _image(i: int):
    """Sample i's test image: 4×4 grey, every pixel = i % 256 (so the PNG decodes back to i)."""
    return np.full((4, 4, 3), i % 256, dtype=np.uint8)


def _with_images(at):
    """Swap the active pool for a copy that knows its images (same key: the same features)."""
    pools = dict(at.session_state["pools"])
    key = at.session_state["active_pool"]
    pools[key] = dataclasses.replace(pools[key], image_fn=_image)
    at.session_state["pools"] = pools


def _cards(at) -> list[dict]:
    """The data of every hover card on the page."""
    out = []
    for element in at.get("bidi_component"):
        proto = element.proto
        if proto.component_name == CARD:
            out.append(json.loads(proto.json))
    return out


def _selected_table(at):
    """The first sample table on the page (the one under the scatter)."""
    return next(df.value for df in at.dataframe if "sample" in df.value.columns)


def test_without_images_the_scatter_keeps_plotly_hover_and_selection_works(app):
    at = app("pages/neural_collapse.py")
    settle(at)
    assert not errors(at)
    assert _cards(at) == []
    samples = charts(at)["nc_still"]["data"][0]  # the one-time-control still (the default)
    assert samples["hovertemplate"] == "%{text}<extra></extra>" and "hoverinfo" not in samples
    at.session_state["nc_still"] = _selection([2, 9])
    at.run()
    assert not at.exception
    assert _selected_table(at)["sample"].tolist() == [2, 9]


def test_with_images_the_card_gets_one_thumbnail_per_plotted_sample(app):
    import base64
    import io

    from PIL import Image

    at = app("pages/fisher_space.py")
    _with_images(at)
    settle(at)
    assert not errors(at)
    figure = charts(at)["fs_anim"]
    samples = figure["data"][0]
    plotted = [row[0] for row in samples["customdata"]]
    # plotly's label is off on the samples (the card shows it), hover events still fire
    assert samples["hoverinfo"] == "none" and "hovertemplate" not in samples
    [card] = [c for c in _cards(at) if c["chart"] == "fs_anim"]
    assert card["samples"] == sorted(plotted)
    pool = at.session_state["pools"][at.session_state["active_pool"]]
    assert card["true"] == [int(pool.labels[i]) for i in card["samples"]]
    assert card["classes"] == pool.class_names
    # predictions per frame (Fisher space's trajectory knows them), aligned with the frames' names
    assert card["frames"] == [step["label"] for step in figure["layout"]["sliders"][0]["steps"]]
    assert len(card["predicted"]) == len(card["frames"]) and len(card["predicted"][0]) == len(card["samples"])
    # each thumbnail is that sample's own image (grey value = index % 256), stored as one grey channel
    for position in (0, 7, len(card["samples"]) - 1):
        url = card["thumbs"][position]
        assert url.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert image.mode == "L" and image.size == (4, 4)
        assert np.asarray(image)[0, 0] == card["samples"][position] % 256
    # selection still filters the table (now with thumbnails)
    at.session_state["fs_anim"] = _selection([4, 11, 30])
    at.run()
    assert not at.exception
    table = _selected_table(at)
    assert table["sample"].tolist() == [4, 11, 30] and table["thumbnail"].str.startswith("data:image/png").all()


def test_deep_dive_overview_and_side_by_side_get_the_card_for_every_sample(app):
    at = app("pages/deep_dive.py")
    _with_images(at)
    at.session_state["w:dd_detail_tab"] = "Every sample on one map"  # the overview's tab (pages._ui.lazy_tabs)
    at.run()
    assert not at.exception
    cards = {card["chart"]: card for card in _cards(at)}
    pool = at.session_state["pools"][at.session_state["active_pool"]]
    at.session_state["dd_overview"] = _selection([3, 4, 200])
    at.run()
    assert _selected_table(at)["sample"].tolist() == [3, 4, 200]
    at.session_state["w:dd_detail_tab"] = "Side by side, frame by frame"  # one tab at a time
    at.run()
    cards.update({card["chart"]: card for card in _cards(at)})
    for chart in ("dd_overview", "dd_paired"):
        assert cards[chart]["samples"] == list(range(pool.n_samples)) and cards[chart]["predicted"] is None
        assert all(url.startswith("data:image/png") for url in cards[chart]["thumbs"])
    at.session_state["dd_paired"] = _selection([1, 7])
    at.run()
    assert not at.exception
    tables = [f.value for f in at.dataframe if len(f.value.columns) and "sample" in f.value.columns]
    assert any(t["sample"].tolist() == [1, 7] for t in tables)


def test_class_charts_show_a_montage_of_the_hovered_class(app):
    """Per-class bars and class × class heat maps get the class card: the class's size and a 2 × 2 montage
    of four of its own images (seeded pick), looked up by the hovered category's name."""
    import base64
    import io

    from PIL import Image

    from transvis.viz.thumbnails import class_examples

    at = app("pages/fisher_space.py")
    _with_images(at)
    at.session_state["w:fs_quantities_tab"] = "Per class"  # the per-class charts' tab (pages._ui.lazy_tabs)
    at.run()
    assert not at.exception and not errors(at)
    cards = {c["chart"]: c for c in _cards(at) if c.get("kind") == "class"}
    assert set(cards) == {"fs_per_class", "fs_confusion"}
    pool = at.session_state["pools"][at.session_state["active_pool"]]
    examples = class_examples(pool.labels, len(pool.class_names))
    for card in cards.values():
        assert card["classes"] == pool.class_names
        assert card["counts"] == np.bincount(pool.labels, minlength=len(pool.class_names)).tolist()
        for c in (0, len(pool.class_names) - 1):
            image = Image.open(io.BytesIO(base64.b64decode(card["thumbs"][c].split(",", 1)[1])))
            pixels = np.asarray(image.convert("L"))
            assert image.size == (112, 112) and len(examples[c]) == 4
            # each 56-px cell is one example scaled up whole: its grey value is that sample's index % 256
            cells = [pixels[0, 0], pixels[0, 56], pixels[56, 0], pixels[56, 56]]
            assert [int(v) for v in cells] == [i % 256 for i in examples[c]]
    # the bars' categories and the heat map's rows/columns are the class names the card looks up
    bars = charts(at)["fs_per_class"]
    assert bars["data"][0]["x"] == pool.class_names
