"""Plotly figure builders: where colours, hover text and animation frames are decided.

Every builder takes plain data (numpy arrays, pandas frames, dicts keyed by model name) and returns a
``plotly.graph_objects.Figure``; nothing here imports Streamlit, so figures are unit-tested by asserting
on their data and the same figures serve the app, the CLI and exports.
"""

from ._style import class_colors, model_colors, short_model_name

__all__ = ["class_colors", "model_colors", "short_model_name"]
