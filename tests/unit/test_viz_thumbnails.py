"""Hover-card thumbnails and payload (transvis.viz.thumbnails), without Streamlit."""

import base64
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from transvis.viz.animation import dynamics_figure, static_scatter
from transvis.viz.thumbnails import (
    figure_sample_ids,
    hover_payload,
    hover_thumbnails,
    quiet_sample_hover,
    thumbnail_data_url,
)


def _decode(url: str) -> Image.Image:
    assert url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def test_hover_thumbnails_are_small_pngs_of_each_sample_never_upscaled():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, size=(28, 28), dtype=np.uint8)
    colour = rng.integers(0, 256, size=(100, 60, 3), dtype=np.uint8)
    images = {0: np.stack([grey] * 3, axis=-1), 1: colour, 2: None}

    def image_fn(i):
        if images[i] is None:
            raise FileNotFoundError(i)
        return images[i]

    grey_url, colour_url, missing = hover_thumbnails(image_fn, [0, 1, 2], size=64)
    decoded = _decode(grey_url)
    # a grey RGB image travels as one channel, at its own 28 px, pixel for pixel
    assert decoded.mode == "L" and decoded.size == (28, 28)
    np.testing.assert_array_equal(np.asarray(decoded), grey)
    # a colour image stays RGB and is shrunk to fit 64 px, keeping its aspect ratio
    decoded = _decode(colour_url)
    assert decoded.mode == "RGB" and decoded.size == (38, 64)  # 100 high × 60 wide → 64 × 38
    assert missing is None
    # the compact form is much smaller than the table's upscaled RGB thumbnail of the same image
    assert len(grey_url) < 0.6 * len(thumbnail_data_url(images[0], 56))


def test_table_thumbnails_still_upscale_small_images():
    digit = np.zeros((8, 8), dtype=np.uint8)
    assert _decode(thumbnail_data_url(digit, 56)).size == (56, 56)
    assert _decode(thumbnail_data_url(digit, 56, upscale=False)).size == (8, 8)


def test_hover_payload_aligns_labels_thumbnails_and_per_frame_predictions():
    labels = np.array([0, 1, 2, 1, 0])
    predicted = np.array([[0, 1, 2, 1, 0], [1, 1, 1, 1, 1]])
    payload = hover_payload([4, 1], labels, ["a", "b", "c"], ["u4", None], predicted=predicted,
                            frame_names=["start", "end"])
    assert payload == {"samples": [4, 1], "true": [0, 1], "thumbs": ["u4", None],
                       "predicted": [[0, 1], [1, 1]], "frames": ["start", "end"], "classes": ["a", "b", "c"]}
    static = hover_payload([2], labels, ["a", "b", "c"], predicted=np.array([2, 2, 0, 0, 0]))
    assert static["predicted"] == [[0]] and static["frames"] is None and static["thumbs"] == [None]
    assert hover_payload([2], labels, ["a", "b", "c"])["predicted"] is None
    with pytest.raises(ValueError, match="0..4"):
        hover_payload([5], labels, ["a", "b", "c"])
    with pytest.raises(ValueError, match="one per sample"):
        hover_payload([1, 2], labels, ["a", "b", "c"], ["x"])
    with pytest.raises(ValueError, match="N = 5"):
        hover_payload([1], labels, ["a", "b", "c"], predicted=np.zeros((2, 4), dtype=int))


def test_figure_sample_ids_and_quiet_hover_touch_only_sample_traces():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 30)
    positions = rng.normal(size=(2, 90, 2))
    scores = pd.DataFrame([[1.0, 2.0], [2.0, 1.0]], columns=["p", "q"])
    fig = dynamics_figure(positions, labels, ["u", "v", "w"], scores, centres=rng.normal(size=(2, 3, 2)),
                          max_points=45)
    ids = figure_sample_ids(fig)
    assert ids.size == 45 and np.all(np.diff(ids) > 0) and ids.max() < 90
    # customdata rows are plain [index] lists (typed arrays reach Streamlit's selection as {"0": i})
    assert fig.data[0].customdata[0] == [int(ids[0])]
    bar_template = next(t for t in fig.data if t.type == "bar").hovertemplate
    centres_template = fig.data[1].hovertemplate
    quiet_sample_hover(fig)
    assert fig.data[0].hoverinfo == "none" and fig.data[0].hovertemplate is None
    assert fig.data[1].hovertemplate == centres_template  # class centres keep their own label
    assert next(t for t in fig.data if t.type == "bar").hovertemplate == bar_template
    overview = static_scatter(rng.normal(size=(90, 2)), labels, ["u", "v", "w"], webgl_above=10)
    np.testing.assert_array_equal(figure_sample_ids(overview), np.arange(90))
    assert all(t.hoverinfo == "none" for t in quiet_sample_hover(overview).data)


def test_class_hover_payload_montages_counts_and_unreadable_classes():
    from transvis.viz.thumbnails import class_examples, class_hover_payload

    labels = np.array([0] * 6 + [1] * 2 + [3] * 5)  # class 2 has no sample, class 1 only two

    def image(i):
        if labels[i] == 3:
            raise OSError("truncated file")
        return np.full((28, 28), 10 * i, dtype=np.uint8)

    examples = class_examples(labels, 4, seed=0)
    assert [len(e) for e in examples] == [4, 2, 0, 4]
    assert examples == class_examples(labels, 4, seed=0) and all(e == sorted(e) for e in examples)
    assert set(examples[0]) <= set(range(6)) and examples[1] == [6, 7]
    payload = class_hover_payload(labels, ["a", "b", "c", "d"], image)
    assert payload["kind"] == "class" and payload["classes"] == ["a", "b", "c", "d"]
    assert payload["counts"] == [6, 2, 0, 5]
    assert payload["thumbs"][2] is None and payload["thumbs"][3] is None  # no sample / unreadable images
    montage = Image.open(io.BytesIO(base64.b64decode(payload["thumbs"][1].split(",", 1)[1]))).convert("L")
    pixels = np.asarray(montage)
    assert montage.size == (112, 112)  # 28-px images scaled 2x into 56-px cells
    assert (pixels[0, 0], pixels[0, 56], pixels[56, 0], pixels[70, 70]) == (60, 70, 255, 255)  # 2 examples, 2 blanks


def test_deep_dive_thumbnails_are_at_least_64_px_and_crisp():
    from transvis.viz.thumbnails import DEEP_DIVE_THUMBNAIL_PX, sample_table

    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[5:20, 10:14] = 255
    table = sample_table([0, 1], ["zero", "one"], [1], image_fn=lambda i: digit, thumbnail_size=DEEP_DIVE_THUMBNAIL_PX)
    image = _decode(table["thumbnail"].iloc[0])
    assert DEEP_DIVE_THUMBNAIL_PX >= 64 and image.size == (84, 84)  # 28 px scaled exactly 3×
    assert set(np.unique(np.asarray(image.convert("L")))) == {0, 255}  # nearest neighbour: no blur
