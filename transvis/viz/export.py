"""Exports: figures as PNG/SVG/HTML, animations as HTML/GIF, and a one-file HTML report of a session.

PNG/SVG/GIF go through ``kaleido`` (which drives a local Chromium, e.g. Debian's ``/usr/bin/chromium``);
HTML needs nothing but plotly. An animated figure becomes a GIF by rendering each of its frames in one
batched kaleido call (much faster than one call per frame) and assembling them with Pillow.
"""

from __future__ import annotations

import html
import io
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

IMAGE_FORMATS = ("png", "svg")
EXPORT_FORMATS = ("png", "svg", "html")


def image_export_available() -> bool:
    """Whether a Chromium/Chrome executable is on this machine for kaleido (PNG, SVG, GIF export)."""
    import os
    import shutil

    if os.environ.get("BROWSER_PATH") and Path(os.environ["BROWSER_PATH"]).is_file():
        return True
    return any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome", "chrome"))


def figure_html(fig: go.Figure, full: bool = True) -> str:
    """Self-contained HTML of a figure (plotly.js inlined, works offline; animations keep their controls).

    ``full=False`` returns a ``<div>`` without plotly.js, for embedding several figures in one page.
    """
    return pio.to_html(fig, include_plotlyjs=True if full else False, full_html=full,
                       config={"displaylogo": False}, auto_play=False)


def figure_bytes(fig: go.Figure, fmt: str, width: int = 1100, height: int | None = None, scale: float = 2.0) -> bytes:
    """The figure as ``png``, ``svg`` (via kaleido) or ``html`` bytes.

    Raises ``ValueError`` for an unknown format, and a ``ValueError`` naming the fix when no Chromium is
    available for kaleido.
    """
    fmt = fmt.lower()
    if fmt == "html":
        return figure_html(fig).encode("utf-8")
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}.")
    height = height or int(fig.layout.height or 500)
    try:
        return pio.to_image(fig, format=fmt, width=width, height=height, scale=scale if fmt == "png" else 1)
    except Exception as err:  # noqa: BLE001 - kaleido raises various errors when Chrome is missing
        raise ValueError(
            f"image export needs a Chromium browser for kaleido ({type(err).__name__}: {err}). Install it with "
            "`bash scripts/install_chromium.sh`, or export as HTML."
        ) from err


def frame_figures(fig: go.Figure) -> list[go.Figure]:
    """One static figure per animation frame: the frame's traces written into the figure's data.

    The play/pause buttons and slider are dropped; the slider's position is set to the frame so the
    frame label stays visible in the title.
    """
    if not fig.frames:
        raise ValueError("this figure has no animation frames; export it as PNG, SVG or HTML instead.")
    out = []
    for frame in fig.frames:
        static = go.Figure(fig)
        static.frames = []
        for index, trace in zip(frame.traces or range(len(frame.data)), frame.data):
            static.data[index].update(trace.to_plotly_json())
        title = (fig.layout.title.text or "") if fig.layout.title else ""
        static.layout.updatemenus = ()
        static.layout.sliders = ()
        static.update_layout(title=dict(text=f"{title} — {frame.name}" if title else str(frame.name)),
                             margin=dict(b=60))
        out.append(static)
    return out


def animation_gif(fig: go.Figure, width: int = 1000, height: int | None = None, frame_ms: int = 600,
                  max_frames: int = 60) -> bytes:
    """An animated GIF of the figure's frames (at most ``max_frames``, evenly picked), looping forever."""
    from PIL import Image

    statics = frame_figures(fig)
    if len(statics) > max_frames:
        step = len(statics) / max_frames
        statics = [statics[int(i * step)] for i in range(max_frames)]
    height = height or int(fig.layout.height or 560)
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"frame_{i:04d}.png" for i in range(len(statics))]
        _render_pngs(statics, paths, width, height)
        images = [Image.open(p).convert("RGB") for p in paths]
        palette = [im.convert("P", palette=Image.ADAPTIVE, colors=255) for im in images]
    buffer = io.BytesIO()
    palette[0].save(buffer, format="GIF", save_all=True, append_images=palette[1:], duration=frame_ms, loop=0,
                    optimize=False, disposal=2)
    return buffer.getvalue()


def _render_pngs(figures: Sequence[go.Figure], paths: Sequence[Path], width: int, height: int) -> None:
    """All figures to PNG files in one kaleido session (one browser start for the whole batch)."""
    try:
        import kaleido

        specs = [{"fig": f.to_plotly_json(), "path": str(p),
                  "opts": {"format": "png", "width": width, "height": height, "scale": 1}}
                 for f, p in zip(figures, paths)]
        kaleido.write_fig_from_object_sync(specs, cancel_on_error=True)
    except Exception as err:  # noqa: BLE001
        raise ValueError(
            f"GIF export needs a Chromium browser for kaleido ({type(err).__name__}: {err}). Install it with "
            "`bash scripts/install_chromium.sh`, or export the animation as HTML."
        ) from err
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise ValueError(f"kaleido did not write {len(missing)} frame(s) (e.g. {missing[0]}); try HTML export.")


# The shipped ground-truth regimes in words (``transvis.groundtruth.REGIMES``).
REGIME_LABELS = {"linear_probe": "linear probe (frozen features)", "finetune": "fine-tuning (whole network)"}
UPLOADED_PREFIX = "uploaded: "  # how the app labels a ground-truth table the user uploaded or measured


def groundtruth_name(label: str, test_sizes: dict[str, int] | None = None) -> str:
    """The ground truth a ranking was correlated with, in words for a reader of the export: the regime
    (``linear_probe`` -> ``linear probe (frozen features)``; an uploaded table by its name, marked as
    uploaded) and how many test images each accuracy was measured on (``test_sizes``: {model: n}), e.g.
    ``linear probe (frozen features), 900 test images per model``; ``test-set size unknown`` without sizes."""
    label = str(label)
    if label.startswith(UPLOADED_PREFIX):
        name = label[len(UPLOADED_PREFIX):]
        name = name if "measured here" in name else f"{name} (uploaded)"
    else:
        name = REGIME_LABELS.get(label, label)
    sizes = sorted({int(n) for n in (test_sizes or {}).values() if n})
    if not sizes:
        return f"{name}, test-set size unknown"
    count = f"{sizes[0]:,}" if len(sizes) == 1 else f"{sizes[0]:,}–{sizes[-1]:,}"
    return f"{name}, {count} test images per model"


def noise_sections(table, groundtruth_n=None, metric_label=str, groundtruth_label: str | None = None
                   ) -> list[tuple[str, Any]]:
    """The report's sections about a ranking and its noise (``table`` a :class:`transvis.ranking.RankingTable`):
    the headline picks with their verdict (clear / within noise / noise unknown), the leaderboard as shown
    ("score ± se ≈k"), every score with its interval and noise tier, the correlations with τ's interval, and
    how the noise is estimated (its assumptions). For :func:`html_report`. ``groundtruth_label`` names the
    ground truth in the correlations' heading (:func:`groundtruth_name`)."""
    from transvis.headline import NOISE_EXPLAINED, noise_summary
    from transvis.viz._style import short_model_name
    from transvis.viz.leaderboard import noise_cells, score_intervals_table

    summary = noise_summary(table, groundtruth_n=groundtruth_n, model_label=short_model_name,
                            metric_label=metric_label)
    names = {"consensus": ("Consensus pick", short_model_name),
             "best_by_groundtruth": ("Best by ground truth", short_model_name),
             "most_trustworthy_metric": ("Most trustworthy metric", metric_label)}
    headline = "\n\n".join(f"{names[key][0]}: {names[key][1](pick['pick']) if pick['pick'] else '–'} "
                           f"({pick['verdict']}). {pick['detail']}" for key, pick in summary["headline"].items())
    scored = [m for m in table.metrics if table.scores[m].notna().any()]
    groundtruth = pd.Series(table.groundtruth, dtype=float) if table.groundtruth else None
    n_test = groundtruth_n if groundtruth_n is not None else table.groundtruth_n
    cells = noise_cells(table, "scores", groundtruth, n_test, metrics=scored)
    sections: list[tuple[str, Any]] = [
        ("Headline", headline),
        ("Leaderboard (scores ± standard error; ≈k: noise tier k of the column)",
         cells.text.rename(columns=metric_label)),
        ("Every score with its interval", score_intervals_table(table, metric_label, n_test)),
    ]
    if table.correlations:
        corr = pd.DataFrame({metric_label(m): table.correlations[m] for m in table.correlations}).T
        corr.insert(0, "weighted τ [interval]", [table.tau_text(m) for m in table.correlations])
        sections.append((f"Correlation with ground truth: {groundtruth_label}" if groundtruth_label
                         else "Correlation with ground truth", corr))
    sections.append(("How the noise is estimated", NOISE_EXPLAINED.replace("**", "").replace("*", "")))
    return sections


def html_report(title: str, sections: Sequence[tuple[str, Any]], subtitle: str = "") -> str:
    """One self-contained HTML page: each section is (heading, content) with content a plotly Figure, a
    pandas DataFrame (rendered as a table), or a string (paragraphs separated by blank lines, HTML-escaped). plotly.js is
    inlined once, so the file works offline."""
    parts = []
    plotly_js_done = False
    for heading, content in sections:
        parts.append(f"<h2>{html.escape(str(heading))}</h2>")
        if isinstance(content, go.Figure):
            parts.append(pio.to_html(content, include_plotlyjs=not plotly_js_done, full_html=False,
                                     config={"displaylogo": False}, auto_play=False))
            plotly_js_done = True
        elif isinstance(content, pd.DataFrame):
            parts.append(content.to_html(classes="table", float_format=lambda v: f"{v:.4g}", na_rep="–",
                                         border=0, escape=True))
        else:  # text: one paragraph per blank-line-separated block
            parts.extend(f"<p>{html.escape(block.strip())}</p>" for block in str(content).split("\n\n")
                         if block.strip())
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: Inter, Segoe UI, Helvetica, Arial, sans-serif; max-width: 1200px; margin: 2em auto;
       color: #222; padding: 0 1em; }}
h1 {{ margin-bottom: 0.2em; }} .sub {{ color: #666; margin-top: 0; }}
h2 {{ border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }}
table.table {{ border-collapse: collapse; font-size: 0.9em; }}
table.table th, table.table td {{ padding: 4px 10px; border-bottom: 1px solid #eee; text-align: right; }}
table.table th {{ background: #f6f6f6; }}
</style></head><body>
<h1>{html.escape(title)}</h1><p class="sub">{html.escape(subtitle)} · generated by transvis, {stamp}</p>
{''.join(parts)}
</body></html>"""
