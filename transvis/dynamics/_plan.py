"""What a method hands the engine: frame specs per model, per-frame quantities, displays, hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ._context import Display


@dataclass
class Plan:
    """A method's trajectory before scoring: what a kind's ``build`` returns (the kind itself is described by
    its :class:`~transvis.dynamics._spec.DynamicsSpec`; CONTRIBUTING.md "Adding a dynamics kind").

    parameter, values [F], labels [F] : the control parameter and each frame's value and slider label.
    frames : {model: [F frame specs]} (``AffineFrame`` / ``ExplicitFrame``; a spec object repeated across
        frames is scored once).
    quantities : {model: [F dicts]} method quantities known before scoring.
    info : {model: dict} per-model constants.
    displays : {id(context): (Display, key)} for auxiliary contexts (e.g. FSP's PCA-64 space); the engine
        adds the trajectory projection's display for each model's own context.
    metric_params : {model: [F dicts]} per-frame metric parameters replacing the caller's (None: the caller's).
    positions : {model: [F (positions [N, 2], centres [C, 2])]} overriding the projection (None: projected).
    frame_hook : ``hook(model, index, stats_of_frame, result) -> dict`` run after scoring; its dict is merged
        into the frame's quantities (``stats_of_frame()`` builds or reuses the frame's ``ClassStats``).
    predicted, contribution : ``fn(model, index) -> array [N]`` for lazy per-sample views, or None.
    projection_name, projection_fixed : override the engine's description of the positions.
    params : the method's resolved parameters (recorded in the trajectory).
    """

    parameter: str
    values: list[float]
    labels: list[str]
    frames: dict[str, list[Any]]
    quantities: dict[str, list[dict]] = field(default_factory=dict)
    info: dict[str, dict] = field(default_factory=dict)
    displays: dict[int, tuple[Display, Any]] = field(default_factory=dict)
    metric_params: dict[str, list[dict]] | None = None
    positions: dict[str, list[tuple[np.ndarray, np.ndarray]]] | None = None
    frame_hook: Callable[..., dict] | None = None
    predicted: Callable[[str, int], np.ndarray] | None = None
    contribution: Callable[[str, int], np.ndarray] | None = None
    projection_name: str | None = None
    projection_fixed: bool = True
    params: dict[str, Any] = field(default_factory=dict)


def fractions(n_frames: int) -> np.ndarray:
    """[F] evenly spaced values 0..1 (both ends included)."""
    return np.linspace(0.0, 1.0, int(n_frames))


def check_n_frames(n_frames, minimum: int = 2) -> int:
    value = int(n_frames)
    if value < minimum:
        raise ValueError(f"n_frames must be at least {minimum}; got {n_frames!r}.")
    return value


