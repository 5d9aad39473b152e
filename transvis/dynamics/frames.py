"""The frame model of a trajectory: per-frame 2-D positions, method quantities, scores, ranks, overtakes."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Overtake:
    """Between two consecutive frames ``model`` moved from below ``passed`` to above it."""

    model: str
    passed: str


class LazyMap(dict):
    """A read-only ``dict`` whose values are computed on first access and kept.

    Used for per-frame quantities, per-sample predictions and expensive spectra that the app reads for one
    displayed model at a time: ``frame.predicted[model]`` costs nothing until read. It is a ``dict`` subclass
    (``isinstance(x, dict)`` holds) whose every key is present; ``[]``, ``get``, iteration, ``items`` and
    ``values`` compute what they touch.
    """

    def __init__(self, keys, compute: Callable[[Any], Any]):
        super().__init__()
        self._keys = list(keys)
        self._compute = compute

    def __getitem__(self, key):
        if not dict.__contains__(self, key):
            if key not in self._keys:
                raise KeyError(key)
            dict.__setitem__(self, key, self._compute(key))
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        return self[key] if key in self._keys else default

    def __contains__(self, key) -> bool:
        return key in self._keys

    def __iter__(self) -> Iterator:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def keys(self):
        return list(self._keys)

    def items(self):
        return [(key, self[key]) for key in self._keys]

    def values(self):
        return [self[key] for key in self._keys]

    def computed(self) -> list:
        """The keys whose values have been computed so far."""
        return list(dict.keys(self))

    def __setitem__(self, key, value):
        raise TypeError("LazyMap is read-only.")

    def __repr__(self) -> str:
        return f"LazyMap({len(self._keys)} keys; computed: {self.computed()})"


@dataclass
class Frame:
    """One frame of a trajectory, for every model of the pool.

    index : position in the trajectory; value : the control parameter here (strength, t, step, λ); label :
    a short text for sliders ("t = 0.50").
    positions : {model: [N, 2]} sample positions in the trajectory's projection (fixed for all frames
        unless ``Trajectory.projection_fixed`` is False); centres : {model: [C, 2]} class centres there.
    scores : {model: score of the metric on this frame's features}; NaN where the metric failed.
    ranks : {model: 1 = best}, ties share the smallest rank, NaN scores rank last.
    rank_changes : {model: previous rank − rank} (positive = moved up; all 0 in frame 0).
    overtakes : who overtook whom since the previous frame.
    quantities : {model: {name: value}} the raw method quantities of this frame (see each method); a lazy
        dict: a model's quantities are computed when first read (NC statistics cost an O(D³) solve each).
    predicted, contribution : optional {model: int [N]} / {model: float [N]} per-sample predictions and
        per-sample scores (lazy mappings, computed for a model when first read); None when the method has none.
    """

    index: int
    value: float
    label: str
    positions: dict[str, np.ndarray]
    centres: dict[str, np.ndarray]
    scores: dict[str, float]
    ranks: dict[str, int] = field(default_factory=dict)
    rank_changes: dict[str, int] = field(default_factory=dict)
    overtakes: list[Overtake] = field(default_factory=list)
    quantities: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    predicted: Mapping[str, np.ndarray] | None = None
    contribution: Mapping[str, np.ndarray] | None = None


@dataclass
class Trajectory:
    """A sequence of frames over one control parameter, for a pool of models (see :func:`transvis.dynamics.run`).

    method, metric, metric_params, params : what was run (params resolved, with defaults).
    parameter : the control parameter's name; models : pool order; labels [N].
    frames : the frames; projection_name : what the 2-D positions are; projection_fixed : True when one
        projection (fitted on the unperturbed features) serves every frame; projections : {model: fitted
        projection object}.
    info : {model: {name: value}} per-model quantities constant over the trajectory (values of expensive
        entries may be lazy, computed when read).
    scoring : {model: how frame scores were computed} — "registry" (``transvis.metrics.compute`` on the
        frame's features, with closed-form shared statistics) or "closed form …" (an exact fast path, tested
        equal to the registry).
    errors : [(model, frame index, "Error: message")] where the metric failed (the score is NaN there).
    seconds : wall time of the computation; cache_key : the caller's key (None: not cached).
    """

    method: str
    metric: str
    metric_params: dict[str, Any]
    params: dict[str, Any]
    parameter: str
    models: list[str]
    labels: np.ndarray
    frames: list[Frame]
    projection_name: str
    projection_fixed: bool = True
    projections: dict[str, Any] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    scoring: dict[str, str] = field(default_factory=dict)
    errors: list[tuple[str, int, str]] = field(default_factory=list)
    seconds: float = 0.0
    cache_key: Any = None

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    @property
    def values(self) -> np.ndarray:
        """The control parameter at each frame [F]."""
        return np.array([frame.value for frame in self.frames], dtype=float)

    def scores_table(self) -> pd.DataFrame:
        """Scores [frames × models] (index: frame labels)."""
        return pd.DataFrame([f.scores for f in self.frames], index=[f.label for f in self.frames],
                            columns=self.models, dtype=float)

    def ranks_table(self) -> pd.DataFrame:
        """Ranks [frames × models], 1 = best."""
        return pd.DataFrame([f.ranks for f in self.frames], index=[f.label for f in self.frames],
                            columns=self.models, dtype=float)

    def quantity(self, name: str, model: str) -> list:
        """One method quantity of one model across the frames (e.g. ``traj.quantity("nc1", model)``)."""
        missing = [f.index for f in self.frames if name not in f.quantities.get(model, {})]
        if missing:
            available = sorted(self.frames[0].quantities.get(model, {}))
            raise ValueError(f"frame(s) {missing[:5]} have no quantity {name!r} for {model!r}; available: {available}.")
        return [f.quantities[model][name] for f in self.frames]

    def all_overtakes(self) -> list[tuple[int, Overtake]]:
        """Every overtake with the index of the frame where it happened."""
        return [(f.index, o) for f in self.frames for o in f.overtakes]


# -- ranking -----------------------------------------------------------------------------------------------
def rank_scores(scores: Mapping[str, float], *, higher_is_better: bool = True) -> dict[str, int]:
    """Ranks {model: 1 = best} of {model: score}: ties share the smallest rank, NaN scores rank last."""
    finite = {m: float(s) for m, s in scores.items() if s is not None and math.isfinite(float(s))}
    ordered = sorted(finite.values(), reverse=higher_is_better)
    ranks = {}
    for model, score in scores.items():
        if model in finite:
            value = finite[model]
            better = sum(1 for s in ordered if (s > value if higher_is_better else s < value))
            ranks[model] = better + 1
        else:
            ranks[model] = len(finite) + 1
    return ranks


def find_overtakes(previous: Mapping[str, int], current: Mapping[str, int]) -> list[Overtake]:
    """Pairs where a model ranked below another in ``previous`` is ranked above it in ``current``."""
    models = [m for m in current if m in previous]
    return [
        Overtake(a, b)
        for a in models for b in models
        if a != b and previous[a] > previous[b] and current[a] < current[b]
    ]


def attach_ranks(frames: list[Frame], *, higher_is_better: bool = True) -> None:
    """Fill ``ranks``, ``rank_changes`` and ``overtakes`` of consecutive frames from their scores."""
    previous = None
    for frame in frames:
        frame.ranks = rank_scores(frame.scores, higher_is_better=higher_is_better)
        if previous is None:
            frame.rank_changes = {m: 0 for m in frame.ranks}
            frame.overtakes = []
        else:
            frame.rank_changes = {m: previous.get(m, r) - r for m, r in frame.ranks.items()}
            frame.overtakes = find_overtakes(previous, frame.ranks)
        previous = frame.ranks
