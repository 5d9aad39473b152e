"""Colours and shared layout: one colour per model and one per class, the same on every figure.

**Two palettes that never meet.** Models and classes appear in the same figure (the race beside an animated
scatter, per-class bars of one model), so their colours must not be confusable: ``efficientnet_lite1`` and the
class *Trouser* were both orange when models took plotly's D3 palette and classes Tableau-10. Now

* models (:data:`MODEL_PALETTE`) are **dark** colours (CIE L* 28–45): bars, lines, the race;
* classes (:data:`CLASS_PALETTE`) are **light-to-medium** colours (L* 62–78): scatter points, class centres;

chosen greedily for the largest smallest CIEDE2000 difference within each palette, subject to every model
colour differing from every class colour by ΔE₀₀ ≥ :data:`MIN_MODEL_CLASS_DIFFERENCE` (≈ 25: different
colours at a glance; ΔE₀₀ ≈ 2 is "just noticeable"). :func:`color_difference` is that measure; the unit tests
check the palettes against it. Quantities that are neither a model nor a class (two series of one model's
per-class bars) take :data:`NEUTRAL_COLORS` (greys).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import plotly.graph_objects as go

# Models: dark, saturated enough for bars and lines (L* 28-45); distinct from every class colour.
MODEL_PALETTE = [
    "#1F4E9C",  # navy blue
    "#B9301A",  # brick red
    "#156E70",  # dark teal
    "#80055A",  # plum
    "#4C5810",  # dark olive
    "#592394",  # indigo
    "#965206",  # dark amber
    "#174B34",  # forest green
    "#78252B",  # maroon
    "#705B82",  # muted violet
    "#5B3B20",  # brown
    "#C50747",  # crimson
]
# Classes: light to medium (L* 62-78), readable as points on white; distinct from every model colour.
CLASS_PALETTE = [
    "#FC8D62",  # salmon
    "#0ADD7C",  # spring green
    "#389CE5",  # sky blue
    "#E065DD",  # orchid
    "#A8971F",  # mustard
    "#6ED0D3",  # aqua
    "#C0BBF3",  # lavender
    "#F8ACBA",  # light pink
    "#7C9F70",  # sage
    "#ED9916",  # orange
    "#B3CD2F",  # lime
    "#D7BE89",  # tan
]
NEUTRAL_COLORS = ("#4D4D4D", "#A6A6A6")  # series that are neither a model nor a class (dark, light grey)
MIN_MODEL_CLASS_DIFFERENCE = 25.0  # CIEDE2000 between any model colour and any class colour (tested)
# Two models compared side by side: the palette's closest members (brick red and crimson, within this of each
# other: tested) read as one colour when the two are the only series, so a pair is kept at least this far apart
# (:func:`pair_colors`).
MIN_PAIR_DIFFERENCE = 30.0
# B's colour in such a pair: a charcoal outside the model palette (so no other model of the pool wears it),
# ≥ 20 ΔE₀₀ from every model colour and ≥ 25 from every class colour (tested)
PAIR_CONTRAST_COLOR = "#303038"

UP_COLOR = "#2ca02c"  # rank improved (overtook someone)
DOWN_COLOR = "#d62728"  # rank worsened
NOTE_COLOR = "#8a5a00"  # a frame's note (saturation, everything within noise)
WITHIN_NOISE_COLOR = "#666666"  # order changes the noise cannot support
GROUNDTRUTH_COLOR = "#222222"
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13)


def model_colors(models: Iterable[str]) -> dict[str, str]:
    """{model: colour}, assigned in the order given (pass the pool's model list for stability)."""
    return {m: MODEL_PALETTE[i % len(MODEL_PALETTE)] for i, m in enumerate(models)}


def pair_colors(colors: dict[str, str], model_a: str, model_b: str | None) -> dict[str, str]:
    """``colors`` (the pool's :func:`model_colors`) with B recoloured when A and B would look alike.

    A keeps its pool colour. B keeps its own unless it is within :data:`MIN_PAIR_DIFFERENCE` (ΔE₀₀) of A's; it then
    takes :data:`PAIR_CONTRAST_COLOR`, which no other model wears, or, where A's colour is near that too, the
    model colour farthest from A's (every palette member has one ≥ 40 away, tested). The deep dive's figures of
    the pair use this; everywhere else a model keeps its pool colour.
    """
    out = dict(colors)
    if model_b is None or model_b not in out or model_a not in out:
        return out
    colour_a = out[model_a]
    if color_difference(colour_a, out[model_b]) < MIN_PAIR_DIFFERENCE:
        out[model_b] = (PAIR_CONTRAST_COLOR if color_difference(colour_a, PAIR_CONTRAST_COLOR) >= MIN_PAIR_DIFFERENCE
                        else max(MODEL_PALETTE, key=lambda c: color_difference(colour_a, c)))
    return out


def class_colors(n_classes: int) -> list[str]:
    """C colours, one per class index 0..C-1 (the palette repeats beyond its length)."""
    return [CLASS_PALETTE[c % len(CLASS_PALETTE)] for c in range(n_classes)]


def _lab(color: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of a ``#RRGGBB`` colour."""
    text = color.lstrip("#")
    rgb = [int(text[i:i + 2], 16) / 255.0 for i in (0, 2, 4)]
    lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in rgb]
    x = (0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2]) / 0.95047
    y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    z = (0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2]) / 1.08883

    def f(t):
        return t ** (1.0 / 3.0) if t > 0.008856 else 7.787 * t + 16.0 / 116.0

    fx, fy, fz = f(x), f(y), f(z)
    return 116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)


def color_difference(a: str, b: str) -> float:
    """CIEDE2000 colour difference ΔE₀₀ of two ``#RRGGBB`` colours."""
    return delta_e00(_lab(a), _lab(b))


def delta_e00(lab1, lab2) -> float:
    """CIEDE2000 ΔE₀₀ of two CIE L*a*b* triples (Sharma, Wu & Dalal, 2005, Color Res. Appl. 30(1))."""
    l1, a1, b1 = (float(v) for v in lab1)
    l2, a2, b2 = (float(v) for v in lab2)
    c_bar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2.0
    g = 0.5 * (1.0 - math.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1 = math.degrees(math.atan2(b1, a1p)) % 360.0
    h2 = math.degrees(math.atan2(b2, a2p)) % 360.0
    dl, dc = l2 - l1, c2p - c1p
    if c1p * c2p == 0:
        dh = 0.0
    else:
        dh = h2 - h1
        if dh > 180:
            dh -= 360
        elif dh < -180:
            dh += 360
    d_h = 2.0 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2.0))
    l_bar, cp_bar = (l1 + l2) / 2.0, (c1p + c2p) / 2.0
    if c1p * c2p == 0:
        h_bar = h1 + h2
    elif abs(h1 - h2) <= 180:
        h_bar = (h1 + h2) / 2.0
    elif h1 + h2 < 360:
        h_bar = (h1 + h2 + 360.0) / 2.0
    else:
        h_bar = (h1 + h2 - 360.0) / 2.0
    t = (1 - 0.17 * math.cos(math.radians(h_bar - 30)) + 0.24 * math.cos(math.radians(2 * h_bar))
         + 0.32 * math.cos(math.radians(3 * h_bar + 6)) - 0.20 * math.cos(math.radians(4 * h_bar - 63)))
    d_theta = 30.0 * math.exp(-(((h_bar - 275.0) / 25.0) ** 2))
    r_c = 2.0 * math.sqrt(cp_bar**7 / (cp_bar**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / math.sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * cp_bar
    s_h = 1 + 0.015 * cp_bar * t
    r_t = -math.sin(math.radians(2 * d_theta)) * r_c
    return math.sqrt((dl / s_l) ** 2 + (dc / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (dc / s_c) * (d_h / s_h))


def short_model_name(model_id: str) -> str:
    """Display name: drop the ``offline/``/``synthetic/`` source prefix, keep the weight tag; a random-init twin
    reads "<arch> · random init", a layer tap "<name> · tap <i>" (:func:`transvis.models.naming.display_model_name`)."""
    from transvis.models.naming import display_model_name

    return display_model_name(model_id)


TEMPLATE = "plotly_white"


def text_px(n_chars: int, font_px: float) -> float:
    """Estimated width [px] of ``n_chars`` characters of the app's sans-serif font at ``font_px`` (0.62 em a
    character): what margins and legend rows are sized with, where plotly would otherwise widen them itself
    and draw the figure twice."""
    return 0.62 * font_px * n_chars


def wrap_text(text: str, width: int) -> str:
    """``text`` broken at whitespace into lines of about ``width`` characters, joined with ``<br>`` (plotly's line
    break); an arrow after a word (" ↓", " ↑": which way is better) stays on that word's line."""
    lines, line = [], ""
    for word in text.replace(" ↓", "\0↓").replace(" ↑", "\0↑").split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join([*lines, line]).replace("\0", " ")


def base_layout(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    """Shared look: white template, readable font, title top-left, compact margins.

    The template is set only where it is not plotly's default already: plotly validates a template set on a
    figure every time, the default once (the app makes it the default, :data:`TEMPLATE`)."""
    import plotly.io as pio

    if pio.templates.default != TEMPLATE:
        fig.update_layout(template=TEMPLATE)
    fig.update_layout(
        font=FONT,
        title=dict(text=title, x=0.01, xanchor="left") if title else None,
        margin=dict(l=60, r=30, t=60 if title else 30, b=50),
        hoverlabel=dict(font_size=12),
        legend=dict(bgcolor="rgba(255,255,255,0.7)"),
    )
    if height:
        fig.update_layout(height=height)
    return fig
