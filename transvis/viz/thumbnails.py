"""Sample thumbnails as PNG data URLs: in sample tables (Streamlit's ImageColumn, HTML reports) and in the
hover card of the sample scatters (:func:`hover_payload`: one compact array per figure, indexed by sample)."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def thumbnail_data_url(image: Any, size: int = 56, upscale: bool = True, compact: bool = False) -> str:
    """A ``data:image/png;base64,…`` URL of ``image`` (PIL image or uint8 array [H, W(, 3)]) fitted in
    ``size`` × ``size`` pixels, nearest-neighbour so small digits stay crisp.

    ``upscale=False`` leaves images smaller than ``size`` at their own size (the browser scales them);
    ``compact=True`` stores a colour image whose channels are all equal as one grey channel (a third of
    the bytes, same pixels)."""
    image = _as_pil(image)
    if compact and image.mode == "RGB":
        r, g, b = (np.asarray(channel) for channel in image.split())
        if np.array_equal(r, g) and np.array_equal(g, b):
            image = image.convert("L")
    image = _fit(image, size, upscale)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _as_pil(image: Any):
    """A PIL image (a copy) of a PIL image or a uint8 array [H, W(, 3)] (other dtypes clipped to 0..255)."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.copy()
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def _fit(image, size: int, upscale: bool):
    """``image`` fitted in ``size`` × ``size`` px (nearest-neighbour when shrinking little, so digits stay crisp);
    with ``upscale`` a smaller image is scaled up by a whole factor (28 px → 56 px in a 56-px box)."""
    from PIL import Image

    image.thumbnail((size, size), Image.NEAREST if max(image.size) < size else Image.BILINEAR)
    if upscale and max(image.size) < size:
        scale = size // max(image.size)
        image = image.resize((image.size[0] * scale, image.size[1] * scale), Image.NEAREST)
    return image


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


# --- hover card of the sample scatters ------------------------------------------------------------------
HOVER_THUMBNAIL_SIZE = 64  # source pixels; the card shows them at 96 px (pixelated when smaller)


def _sample_column(trace) -> np.ndarray | None:
    """The sample indices of a scatter trace (integer ``customdata[:, 0]``), else None."""
    if trace.type not in ("scatter", "scattergl") or trace.customdata is None:
        return None
    data = np.asarray(trace.customdata)
    column = data[:, 0] if data.ndim == 2 else data.reshape(-1)
    return column.astype(np.int64) if column.size and np.issubdtype(column.dtype, np.integer) else None


def figure_sample_ids(fig) -> np.ndarray:
    """Sorted distinct sample indices plotted in ``fig`` [≤ N]: the integer ``customdata[:, 0]`` of its
    scatter traces (the convention of :mod:`transvis.viz.animation`; other traces are ignored)."""
    found = [c for c in (_sample_column(t) for t in fig.data) if c is not None]
    return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)


def quiet_sample_hover(fig):
    """Drop plotly's own hover label on the sample traces (the hover card replaces it); hover events still
    fire (``hoverinfo="none"``, not ``"skip"``). Returns ``fig``, changed in place."""
    for trace in fig.data:
        if _sample_column(trace) is not None:
            trace.update(hoverinfo="none", hovertemplate=None)
    return fig


def hover_thumbnails(image_fn: Callable[[int], Any], indices: Sequence[int],
                     size: int = HOVER_THUMBNAIL_SIZE) -> list[str | None]:
    """Small PNG data URLs of the samples ``indices`` (aligned; None where an image cannot be read), never
    upscaled and stored grey when the image is grey, so an animated figure's ≤ 1,200 samples travel in well under a
    megabyte for 28 px images."""
    out = []
    for i in indices:
        try:
            out.append(thumbnail_data_url(image_fn(int(i)), size, upscale=False, compact=True))
        except Exception:  # noqa: BLE001 - a missing image shows the label alone
            out.append(None)
    return out


def hover_payload(
    sample_ids: Sequence[int],
    labels,
    class_names: Sequence[str],
    thumbnails: Sequence[str | None] | None = None,
    predicted=None,
    frame_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The JSON the hover card reads, for the samples ``sample_ids`` [S] of one figure.

    ``thumbnails`` [S] (aligned data URLs or None); ``labels`` int [N] (true class of every sample);
    ``predicted`` int [N] (one prediction) or [F, N] (one per animation frame, with ``frame_names`` [F]),
    or None when unknown. Returns ``{"samples", "true", "thumbs", "predicted", "frames", "classes"}``:
    every per-sample list is aligned with ``samples``; ``predicted`` is a list of F rows (F = 1 when
    static) or None.
    """
    ids = np.asarray(list(sample_ids), dtype=np.int64)
    labels = np.asarray(labels)
    if ids.size and (ids.min() < 0 or ids.max() >= labels.size):
        raise ValueError(f"sample indices must lie in 0..{labels.size - 1}; got {ids.min()}..{ids.max()}.")
    if thumbnails is not None and len(thumbnails) != ids.size:
        raise ValueError(f"{len(thumbnails)} thumbnails for {ids.size} samples; pass one per sample (or None).")
    rows = None
    if predicted is not None:
        pred = np.asarray(predicted)
        pred = pred[None] if pred.ndim == 1 else pred
        if pred.ndim != 2 or pred.shape[1] != labels.size:
            raise ValueError(f"predicted must be [N] or [F, N] with N = {labels.size}; got shape {pred.shape}.")
        if frame_names is not None and len(frame_names) != pred.shape[0]:
            raise ValueError(f"{len(frame_names)} frame names for {pred.shape[0]} rows of predictions.")
        rows = pred[:, ids].astype(np.int64).tolist()
    return {
        "samples": ids.tolist(),
        "true": labels[ids].astype(np.int64).tolist(),
        "thumbs": list(thumbnails) if thumbnails is not None else [None] * ids.size,
        "predicted": rows,
        "frames": [str(f) for f in frame_names] if frame_names is not None and rows is not None else None,
        "classes": [str(c) for c in class_names],
    }


# --- hover card of the class-level charts (per-class bars, class × class heat maps) ----------------------
CLASS_MONTAGE_EXAMPLES = 4  # examples per class, in a 2 × 2 grid
CLASS_MONTAGE_CELL = 56  # px per example: 28-px images (MNIST family) are scaled exactly 2×


def class_montage(images: Sequence[Any], cell: int = CLASS_MONTAGE_CELL) -> Any:
    """A 2 × 2 grid (PIL image) of up to four examples, each fitted in ``cell`` px; empty cells stay white."""
    from PIL import Image

    grid = Image.new("RGB", (2 * cell, 2 * cell), "white")
    for k, image in enumerate(list(images)[:4]):
        image = _fit(_as_pil(image).convert("RGB"), cell, upscale=True)
        x, y = (k % 2) * cell + (cell - image.size[0]) // 2, (k // 2) * cell + (cell - image.size[1]) // 2
        grid.paste(image, (x, y))
    return grid


def class_examples(labels, n_classes: int, per_class: int = CLASS_MONTAGE_EXAMPLES, seed: int = 0) -> list[list[int]]:
    """Sample indices shown for each class [C lists of ≤ ``per_class``]: a seeded random pick, sorted."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    out = []
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        pick = rng.choice(members, size=min(per_class, members.size), replace=False) if members.size else members
        out.append(sorted(int(i) for i in pick))
    return out


def class_hover_payload(labels, class_names: Sequence[str], image_fn: Callable[[int], Any],
                        per_class: int = CLASS_MONTAGE_EXAMPLES, seed: int = 0) -> dict[str, Any]:
    """The JSON the hover card reads on class-level charts: ``{"kind": "class", "classes", "counts",
    "thumbs"}``, one 2 × 2 montage of the class's examples per class (None where no image could be read).
    The card finds the class of a hovered point by name (a bar's x, a heat-map cell's row and column)."""
    labels = np.asarray(labels)
    thumbs = []
    for indices in class_examples(labels, len(class_names), per_class, seed):
        try:
            montage = class_montage([image_fn(i) for i in indices]) if indices else None
            thumbs.append(None if montage is None else
                          thumbnail_data_url(montage, 2 * CLASS_MONTAGE_CELL, upscale=False))
        except Exception:  # noqa: BLE001 - a class whose images cannot be read shows its name alone
            thumbs.append(None)
    counts = np.bincount(labels.astype(np.int64), minlength=len(class_names))
    return {"kind": "class", "classes": [str(c) for c in class_names], "counts": counts.tolist(),
            "thumbs": thumbs}


# --- sample tables with readable thumbnails ------------------------------------------------------------
DEEP_DIVE_THUMBNAIL_PX = 84  # ≥ 64 px; 28-px images (MNIST family) are scaled exactly 3×
