"""The frame model of a trajectory: per-frame 2-D positions, method quantities, scores, ranks, overtakes."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from transvis.metrics._lazy import LazyMap  # noqa: F401 - re-exported: the engine's traces use it
from transvis.ordering import display_order, tie_groups, tolerant_ranks


@dataclass(frozen=True)
class Overtake:
    """Between two consecutive frames ``model`` moved from below ``passed`` to above it."""

    model: str
    passed: str


@dataclass
class Frame:
    """One frame of a trajectory, for every model of the pool.

    index : position in the trajectory; value : the control parameter here (strength, t, step, λ); label :
    a short text for sliders ("t = 0.50").
    positions : {model: [N, 2]} sample positions in the trajectory's projection (fixed for all frames
        unless ``Trajectory.projection_fixed`` is False); centres : {model: [C, 2]} class centres there.
    scores : {model: score of the metric on this frame's features}; NaN where the metric failed.
    ranks : {model: 1 = best}; scores equal up to float noise share a rank (``transvis.ordering``), NaN last.
    rank_changes : {model: overtakes made − overtakes suffered on this frame} (▲k / ▼k; all 0 in frame 0):
        only order changes beyond the noise count (see :func:`attach_ranks`).
    overtakes : who overtook whom on this frame, beyond the noise (or float tolerance without noise).
    within_noise : order changes of the displayed ranking since the previous frame that the noise does not
        support (a passed b, but within noise): shown as "within noise", never as an overtake.
    tiers : groups of models this frame cannot order (the noise's tiers; float ties without noise), best first.
    note : a sentence when the frame has no ranking to tell (the metric saturates for several models, or every
        model is within noise of the others); None otherwise.
    degenerate : {model: reason} where the metric reported a saturated score (``MetricResult.degenerate``).
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
    within_noise: list[Overtake] = field(default_factory=list)
    tiers: list[list[str]] = field(default_factory=list)
    note: str | None = None
    degenerate: dict[str, str] = field(default_factory=dict)
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
    noise : the :class:`transvis.uncertainty.ScoreNoise` of ``metric`` over the pool that decided which order
        changes are announced (:func:`attach_ranks`), or None (only float ties apply). It is the *unperturbed*
        features' sampling noise, carried along every frame: a frame is a deterministic function of the same
        samples, so its scores' noise is taken to be the unperturbed scores' (``ScoreNoise.is_ahead`` with the
        frame's scores). Attach or replace it with :meth:`with_noise`.
    higher_is_better : the metric's direction (how ranks are read).
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
    noise: Any = None
    higher_is_better: bool = True

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
        """Every overtake (beyond noise) with the index of the frame where it happened."""
        return [(f.index, o) for f in self.frames for o in f.overtakes]

    def all_within_noise(self) -> list[tuple[int, Overtake]]:
        """Every change of the displayed order that the noise does not support, with its frame index."""
        return [(f.index, o) for f in self.frames for o in f.within_noise]

    def notes(self) -> list[tuple[int, str]]:
        """``(frame index, note)`` of every frame that has one (saturation, everything within noise)."""
        return [(f.index, f.note) for f in self.frames if f.note]

    def with_noise(self, noise) -> Trajectory:
        """This trajectory with its announcements decided by ``noise`` (a ScoreNoise of the trajectory's metric
        over the pool, or None for float ties only): a new Trajectory whose frames share every array and lazy
        quantity with this one; only ranks, tiers, overtakes, within-noise changes and notes are recomputed
        (microseconds per frame). The original is not changed (it may sit in a cache)."""
        check_noise(noise, self.metric, self.higher_is_better)
        frames = [dataclasses.replace(f) for f in self.frames]
        attach_ranks(frames, higher_is_better=self.higher_is_better, noise=noise, metric=self.metric)
        return dataclasses.replace(self, frames=frames, noise=noise)


def check_noise(noise, metric: str, higher_is_better: bool) -> None:
    """A readable error unless ``noise`` is None or a ScoreNoise of a metric with ``metric``'s direction."""
    if noise is None:
        return
    if not callable(getattr(noise, "is_ahead", None)) or not hasattr(noise, "estimate"):
        raise ValueError(f"noise must be a transvis.uncertainty.ScoreNoise (or None); got {type(noise).__name__}.")
    if bool(getattr(noise, "higher_is_better", True)) != bool(higher_is_better):
        raise ValueError(f"this noise is of a metric where {'higher' if noise.higher_is_better else 'lower'} is "
                         f"better, but {metric!r} is the other way round: pass the noise of {metric!r} over this "
                         "pool.")


# -- ranking -----------------------------------------------------------------------------------------------
def rank_scores(scores: Mapping[str, float], *, higher_is_better: bool = True) -> dict[str, int]:
    """Ranks {model: 1 = best} of {model: score}: competition ranks in which scores equal up to float noise
    share a rank (:func:`transvis.ordering.tolerant_ranks`); NaN scores rank last."""
    return {m: int(r) for m, r in tolerant_ranks(scores, higher_is_better=higher_is_better, nan_rank="last").items()}


def find_overtakes(previous: Mapping[str, int], current: Mapping[str, int]) -> list[Overtake]:
    """Pairs where a model ranked below another in ``previous`` is ranked above it in ``current`` (ranks only:
    :func:`attach_ranks` decides which of them the noise supports)."""
    models = [m for m in current if m in previous]
    return [
        Overtake(a, b)
        for a in models for b in models
        if a != b and previous[a] > previous[b] and current[a] < current[b]
    ]


class _Judge:
    """Who is ahead of whom on one frame: beyond the noise when ``noise`` covers both models, else beyond
    float tolerance (different tolerant ranks). Pairs of models that are both at a saturated value of the
    metric (``blocked``) are never decided: the metric has stopped ranking them."""

    def __init__(self, scores, ranks, noise, higher_is_better, blocked):
        self.scores, self.ranks, self.noise = scores, ranks, noise
        self.higher_is_better, self.blocked = higher_is_better, blocked

    def finite(self, model) -> bool:
        value = self.scores.get(model)
        return value is not None and math.isfinite(float(value))

    def ahead(self, a: str, b: str) -> bool:
        if not (self.finite(a) and self.finite(b)) or (a in self.blocked and b in self.blocked):
            return False
        if self.ranks[a] >= self.ranks[b]:  # never ahead where the float tolerance sees a tie or the reverse
            return False
        noise = self.noise
        if noise is not None and a in noise.estimate and b in noise.estimate:
            return bool(noise.is_ahead(a, b, self.scores))
        return True

    def tiers(self) -> list[list[str]]:
        """Groups the frame cannot order, best first (the noise's tiers; float ties without noise)."""
        finite = {m: float(v) for m, v in self.scores.items() if self.finite(m)}
        remaining = display_order(finite, higher_is_better=self.higher_is_better)
        out = []
        while remaining:
            leader = remaining[0]
            tier = [m for m in remaining if m == leader or not self.ahead(leader, m)]
            out.append(tier)
            remaining = [m for m in remaining if m not in tier]
        return out


def _format_value(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.4g}" if f"{lo:.4g}" == f"{hi:.4g}" else f"{lo:.4g}–{hi:.4g}"


def saturation(scores: Mapping[str, float], degenerate: Mapping[str, str] | None, *, metric: str = "score",
               higher_is_better: bool = True) -> tuple[str | None, set[str]]:
    """``(note, models)``: whether the metric has stopped ranking several models on this frame, and which.

    Two signs: the metric reports a degenerate (saturated, at-a-bound) score for ≥ 2 models
    (``MetricResult.degenerate``), or the scores of all but at most one model are equal up to float tolerance
    (:func:`transvis.ordering.tie_groups`). ``note`` is None when neither holds."""
    from transvis.metrics import short_name

    label = short_name(metric)  # the spec's label for running text
    finite = {m: float(v) for m, v in scores.items() if v is not None and math.isfinite(float(v))}
    n = len(finite)
    if n < 2:
        return None, set()
    reasons = {m: r for m, r in (degenerate or {}).items() if r and m in finite}
    if len(reasons) >= 2:
        models = set(reasons)
        distinct = sorted(set(reasons.values()))
        why = f" ({distinct[0]})" if len(distinct) == 1 and len(distinct[0]) <= 80 else ""
        value = _format_value([finite[m] for m in models])
        tail = "no ranking at this step" if len(models) == n else "no ranking among them"
        return f"{label} at {value} for {len(models)} of {n} models{why}: {tail}", models
    groups = tie_groups(finite, higher_is_better=higher_is_better)
    largest = max(groups, key=len)
    if len(largest) >= max(2, n - 1):
        tail = "no ranking at this step" if len(largest) == n else "no ranking among them"
        return f"{label} at {finite[largest[0]]:.4g} for {len(largest)} of {n} models: {tail}", set(largest)
    return None, set()


def attach_ranks(frames: list[Frame], *, higher_is_better: bool = True, noise=None, metric: str = "score") -> None:
    """Fill every frame's ``ranks``, ``tiers``, ``rank_changes``, ``overtakes``, ``within_noise`` and ``note``
    from its scores (and ``degenerate``), announcing only what the noise supports.

    Ranks are float-tolerant (:func:`rank_scores`). For each pair of models the trajectory keeps the last order
    that was *decided* — one model ahead of the other beyond ``noise`` (a
    :class:`transvis.uncertainty.ScoreNoise` of the metric over the pool; the unperturbed features' sampling
    noise, carried along the trajectory: ``noise.is_ahead(a, b, frame.scores)``), or beyond float tolerance
    where ``noise`` is None or lacks a model. An **overtake** is announced on the frame where a decided order
    reverses; a model's ``rank_changes`` entry is the overtakes it made minus those it suffered there (▲/▼).
    Every other change of the displayed order (:func:`transvis.ordering.display_order`: float ties stay in pool
    order) is recorded in ``within_noise``. A frame's ``note`` says when the metric saturates for several models
    (:func:`saturation`; pairs of saturated models are never decided) or when all models — or all but one of
    three or more — are within noise of one leader (the frame's largest tier)."""
    standing: dict[tuple[str, str], str] = {}
    previous_order = None
    for frame in frames:
        scores = frame.scores
        frame.ranks = rank_scores(scores, higher_is_better=higher_is_better)
        note, blocked = saturation(scores, getattr(frame, "degenerate", None), metric=metric,
                                   higher_is_better=higher_is_better)
        judge = _Judge(scores, frame.ranks, noise, higher_is_better, blocked)
        frame.tiers = judge.tiers()
        finite = [m for m in scores if judge.finite(m)]
        if note is None and noise is not None and len(finite) >= 2:
            largest = max(frame.tiers, key=len)
            if len(largest) == len(finite):
                note = f"All {len(finite)} models within noise: no ranking at this step"
            elif len(finite) >= 3 and len(largest) >= len(finite) - 1:
                leader = largest[0].split("/", 1)[-1]
                note = f"{len(largest)} of {len(finite)} models within noise of {leader}: no ranking among them"
        frame.note = note
        models = list(scores)
        overtakes = []
        for i, a in enumerate(models):
            for b in models[i + 1:]:
                winner = a if judge.ahead(a, b) else b if judge.ahead(b, a) else None
                if winner is None:
                    continue
                loser = b if winner == a else a
                last = standing.get((a, b))
                if last is not None and last != winner:
                    overtakes.append(Overtake(winner, loser))
                standing[(a, b)] = winner
        order = display_order(scores, higher_is_better=higher_is_better)
        position = {m: i for i, m in enumerate(order)}
        overtakes.sort(key=lambda o: (position[o.model], position[o.passed]))
        frame.overtakes = overtakes
        frame.rank_changes = {m: 0 for m in models}
        for o in overtakes:
            frame.rank_changes[o.model] += 1
            frame.rank_changes[o.passed] -= 1
        announced = set(overtakes)
        within = []
        if previous_order is not None:
            before = {m: i for i, m in enumerate(previous_order)}
            within = [Overtake(a, b) for a in order for b in order
                      if a != b and a in before and b in before and before[a] > before[b]
                      and position[a] < position[b] and Overtake(a, b) not in announced]
        frame.within_noise = within
        previous_order = order
