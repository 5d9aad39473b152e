"""Sample tables with image thumbnails (PNG data URLs that Streamlit's ImageColumn and HTML reports show)."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def thumbnail_data_url(image: Any, size: int = 56) -> str:
    """A ``data:image/png;base64,…`` URL of ``image`` (PIL image or uint8 array [H, W(, 3)]) fitted in
    ``size`` × ``size`` pixels, nearest-neighbour so small digits stay crisp."""
    from PIL import Image

    if not isinstance(image, Image.Image):
        arr = np.asarray(image)
        if arr.dtype != np.uint8:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        image = Image.fromarray(arr)
    image = image.copy()
    image.thumbnail((size, size), Image.NEAREST if max(image.size) < size else Image.BILINEAR)
    if max(image.size) < size:  # upscale tiny images (28×28) so they are visible
        scale = size // max(image.size)
        image = image.resize((image.size[0] * scale, image.size[1] * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def sample_table(
    labels,
    class_names: Sequence[str],
    indices: Sequence[int],
    image_fn: Callable[[int], Any] | None = None,
    columns: Mapping[str, Sequence[Any]] | None = None,
    thumbnail_size: int = 56,
) -> pd.DataFrame:
    """One row per sample index: ``sample``, ``class``, optional ``thumbnail`` (data URL) and extra
    ``columns`` (each a full-length [N] array, indexed here). Indices out of range raise ``ValueError``."""
    labels = np.asarray(labels)
    idx = np.asarray(list(indices), dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= labels.size):
        raise ValueError(f"sample indices must lie in 0..{labels.size - 1}; got {idx.min()}..{idx.max()}.")
    table = pd.DataFrame({"sample": idx, "class": [str(class_names[int(labels[i])]) for i in idx]})
    if image_fn is not None:
        thumbs = []
        for i in idx:
            try:
                thumbs.append(thumbnail_data_url(image_fn(int(i)), thumbnail_size))
            except Exception:  # noqa: BLE001 - a missing image leaves an empty cell, not a broken table
                thumbs.append(None)
        table.insert(0, "thumbnail", thumbs)
    for name, values in (columns or {}).items():
        values = np.asarray(values)
        table[name] = values[idx]
    return table
