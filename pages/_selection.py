"""Reading a plotly chart selection (lasso, box, click) as Streamlit returns it: which samples, models or
categories the user picked. Pure functions, no Streamlit import; they belong to the pages, which own the
charts' point layouts (``customdata[0]`` = sample index, ``text`` = model)."""

from __future__ import annotations

import weakref
from collections.abc import Mapping, MutableMapping
from typing import Any

import numpy as np


def _selected_points(event: Any) -> list:
    """The ``points`` of a chart selection (``{"selection": {"points": [...]}}``, the inner dict, or None)."""
    if not event:
        return []
    selection = event["selection"] if _has(event, "selection") else event
    return (selection["points"] if _has(selection, "points") else None) or []


def selected_indices(event: Any) -> list[int]:
    """Sample indices picked by a plotly lasso/box/click selection (each point's ``customdata[0]``).

    Accepts the chart's selection state as Streamlit returns it (``{"selection": {"points": [...]}}``),
    the inner ``{"points": [...]}`` or ``None``. Points without customdata are ignored.
    """
    out = []
    for point in _selected_points(event):
        data = point.get("customdata") if isinstance(point, Mapping) else None
        if data is None:
            continue
        value = data[0] if isinstance(data, (list, tuple, np.ndarray)) else data
        try:
            out.append(int(value))
        except (TypeError, ValueError):
            continue
    return sorted(set(out))


def carried_selection(memory: MutableMapping, key: str, view: tuple, source: Any,
                      picked: list[int]) -> tuple[list[int], bool]:
    """The samples selected on a chart that a background result can redraw, and whether they were carried.

    Streamlit identifies a chart by its figure as well as its key, so when a background result changes what
    the chart is drawn from (the noise arrives, a finished trajectory replaces the shown one) the chart comes
    back with an empty selection although the user did nothing. ``memory[key]`` keeps the last non-empty
    selection with the ``view`` it was made in (model, colouring, … : what the user chose) and a weak
    reference to its ``source`` (the trajectory the figure was drawn from: a figure rebuilt from the same
    one is the same chart to Streamlit). An empty ``picked`` from a different source in the same view is such
    a redraw: the remembered samples are returned with ``True``. An empty selection from the same source is
    the user's clear, and a new view starts empty, as Streamlit does.

    ``memory``: a per-session dict (``st.session_state``); ``picked``: :func:`selected_indices` of the event.
    """
    if picked:
        memory[key] = (view, weakref.ref(source), list(picked))
        return list(picked), False
    last = memory.get(key)
    if last is not None and last[0] == view and last[1]() is not source:
        return list(last[2]), True
    memory.pop(key, None)
    return [], False


def selected_labels(event: Any) -> list[str]:
    """The ``text`` (or ``customdata[0]``) of selected points, for charts whose points are models."""
    out = []
    for point in _selected_points(event):
        if not isinstance(point, Mapping):
            continue
        value = point.get("text")
        if value is None and point.get("customdata") is not None:
            data = point["customdata"]
            value = data[0] if isinstance(data, (list, tuple)) else data
        if value is not None:
            out.append(str(value))
    return list(dict.fromkeys(out))


def selected_values(event: Any, field: str = "x") -> list[str]:
    """One field (``x``, ``y``, ``text`` …) of every selected point, as strings, in selection order."""
    values = [str(p[field]) for p in _selected_points(event) if isinstance(p, Mapping) and p.get(field) is not None]
    return list(dict.fromkeys(values))


def _has(obj: Any, key: str) -> bool:
    try:
        obj[key]
    except (KeyError, TypeError, IndexError, AttributeError):
        return False
    return True
