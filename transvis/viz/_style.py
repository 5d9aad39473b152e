"""Colours and shared layout: one colour per model and one per class, the same on every figure."""

from __future__ import annotations

from collections.abc import Iterable

import plotly.graph_objects as go
from plotly.colors import qualitative

# Models: a dark, saturated palette that stays distinct on bars and lines.
MODEL_PALETTE = list(qualitative.D3) + list(qualitative.Dark24)
# Classes: Tableau-10 then Alphabet (26) so up to ~36 classes stay distinguishable.
CLASS_PALETTE = list(qualitative.T10) + list(qualitative.Alphabet)

UP_COLOR = "#2ca02c"  # rank improved (overtook someone)
DOWN_COLOR = "#d62728"  # rank worsened
GROUNDTRUTH_COLOR = "#222222"
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13)


def model_colors(models: Iterable[str]) -> dict[str, str]:
    """{model: colour}, assigned in the order given (pass the pool's sorted model list for stability)."""
    return {m: MODEL_PALETTE[i % len(MODEL_PALETTE)] for i, m in enumerate(models)}


def class_colors(n_classes: int) -> list[str]:
    """C colours, one per class index 0..C-1."""
    return [CLASS_PALETTE[c % len(CLASS_PALETTE)] for c in range(n_classes)]


def short_model_name(model_id: str) -> str:
    """Display name: drop the ``offline/``/``synthetic/`` source prefix, keep the weight tag."""
    return model_id.split("/", 1)[1] if "/" in model_id else model_id


def base_layout(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    """Shared look: white template, readable font, title top-left, compact margins."""
    fig.update_layout(
        template="plotly_white",
        font=FONT,
        title=dict(text=title, x=0.01, xanchor="left") if title else None,
        margin=dict(l=60, r=30, t=60 if title else 30, b=50),
        hoverlabel=dict(font_size=12),
        legend=dict(bgcolor="rgba(255,255,255,0.7)"),
    )
    if height:
        fig.update_layout(height=height)
    return fig
