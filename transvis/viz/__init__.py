"""Plotly figure builders: where colours, hover text and animation frames are decided.

Every builder takes plain data (numpy arrays, pandas frames, dicts keyed by model name) and returns a
``plotly.graph_objects.Figure``; nothing here imports Streamlit, so figures are unit-tested by asserting
on their data and the same figures serve the app, the CLI and exports.

Colours: models take :func:`model_colors` (dark palette), classes :func:`class_colors` (light palette); the two
never share a colour (:mod:`transvis.viz._style`), so one figure can show both.
"""

from ._style import (
    CLASS_PALETTE,
    MODEL_PALETTE,
    NEUTRAL_COLORS,
    class_colors,
    color_difference,
    model_colors,
    pair_colors,
    short_model_name,
)

__all__ = ["CLASS_PALETTE", "MODEL_PALETTE", "NEUTRAL_COLORS", "class_colors", "color_difference", "model_colors",
           "pair_colors", "short_model_name"]
