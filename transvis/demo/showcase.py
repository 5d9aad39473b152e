"""Which model, or pair of models, makes a method's point on a pool — chosen from the numbers, never hard-coded.

A method page opens on a pool it did not choose; these pick what to show first:

* :func:`rank_contrast` (Spread & Attract, Fisher space — any trajectory whose frames re-rank the pool): a model
  whose rank holds through the perturbation and one whose rank falls beyond the noise.
* :func:`groundtruth_contrast` (Leaderboard, deep dive): two models the ground truth separates beyond its own
  binomial noise, preferring a pair that a metric orders the other way round beyond the scores' noise (the
  "why does A rank above B" question worth asking), else the widest gap between adjacent ground-truth tiers.

Each returns a :class:`Showcase` (the models and one sentence from the numbers), or None when the pool has no
such model or pair; a page then keeps its own default. Nothing here imports Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

Label = Callable[[str], str]


def _same(name: str) -> str:
    return name


@dataclass(frozen=True)
class Showcase:
    """What a page should show first.

    models : the model ids, most telling first (a pair: ``(holds, falls)`` or ``(ahead, behind)``).
    reason : one sentence saying why, with the numbers.
    """

    models: tuple[str, ...]
    reason: str


def rank_contrast(trajectory, *, model_label: Label = _same) -> Showcase | None:
    """``(a model whose rank holds, a model whose rank falls beyond the noise)`` over ``trajectory``'s frames.

    trajectory : a :class:`transvis.dynamics.Trajectory` (frames with ``ranks`` and the ``overtakes`` its noise
        supports).
    The faller is the model passed most often beyond the noise (ties: the larger drop from the first to the last
    frame, then the better starting rank); the holder is, among the models never passed beyond the noise and whose
    rank did not drop, the one that started closest above the faller (the contrast is then between two models
    that began side by side). None when no model was passed beyond the noise, or no model held.
    """
    frames = trajectory.frames
    if len(frames) < 2:
        return None
    first, last = frames[0].ranks, frames[-1].ranks
    passed: dict[str, int] = {}
    for _, overtake in trajectory.all_overtakes():
        passed[overtake.passed] = passed.get(overtake.passed, 0) + 1
    if not passed:
        return None

    def drop(model: str) -> int:
        return int(last.get(model, first[model])) - int(first[model])

    falls = sorted(passed, key=lambda m: (-passed[m], -drop(m), first[m]))[0]
    holders = [m for m in trajectory.models if m not in passed and m != falls and drop(m) <= 0 and m in first]
    if not holders:
        return None
    holds = min(holders, key=lambda m: (abs(first[m] - first[falls]), first[m] > first[falls], first[m]))
    metric = trajectory.metric
    reason = (f"{model_label(holds)} keeps rank {first[holds]} → {last.get(holds, first[holds])} on {metric} "
              f"while {model_label(falls)} falls from rank {first[falls]} to {last.get(falls, first[falls])}, "
              f"passed {passed[falls]} time(s) beyond the noise as {trajectory.parameter} grows.")
    return Showcase((holds, falls), reason)


def groundtruth_contrast(groundtruth: Mapping[str, float], groundtruth_n: Mapping[str, int] | None = None,
                         table=None, metrics: Sequence[str] | None = None, *,
                         model_label: Label = _same) -> Showcase | None:
    """``(ahead, behind)``: two models the ground truth orders beyond its binomial noise.

    groundtruth : ``{model: accuracy}`` (fractions or percentages); groundtruth_n : test samples per model (without
        them only unequal accuracies count as separated).
    table, metrics : a :class:`transvis.ranking.RankingTable` of the same pool and the metrics to consult
        (default: all of its metrics). When given, the pair the ground truth separates with the largest accuracy
        gap among those some metric orders the *other way* beyond its scores' noise is chosen: the metric's
        clear mistake, worth explaining.
    Otherwise, the two models either side of the widest gap between adjacent ground-truth tiers.
    None when the ground truth cannot separate any two models.
    """
    from transvis.headline import accuracy_fraction, groundtruth_tiers

    accuracy = {m: float(v) for m, v in accuracy_fraction(groundtruth).items() if math.isfinite(float(v))}
    tiers = groundtruth_tiers(accuracy, groundtruth_n)
    if len(tiers) < 2:
        return None
    tier_of = {m: i for i, tier in enumerate(tiers) for m in tier}
    if table is not None:
        mistakes = []
        for metric in (metrics or table.metrics):
            for a in accuracy:
                for b in accuracy:
                    if a in table.models and b in table.models and tier_of[a] < tier_of[b] \
                            and table.is_ahead(metric, b, a) is True:
                        mistakes.append((accuracy[a] - accuracy[b], a, b, metric))
        if mistakes:
            gap, ahead, behind, metric = max(mistakes, key=lambda item: (item[0], item[1], item[2]))
            return Showcase((ahead, behind), (
                f"The ground truth puts {model_label(ahead)} {gap:.1%} above {model_label(behind)} (beyond its "
                f"noise), yet {metric} ranks {model_label(behind)} above it beyond the scores' noise."))
    gaps = []
    for upper, lower in zip(tiers, tiers[1:]):
        worst_upper = min(upper, key=lambda m: accuracy[m])
        best_lower = max(lower, key=lambda m: accuracy[m])
        gaps.append((accuracy[worst_upper] - accuracy[best_lower], worst_upper, best_lower))
    gap, ahead, behind = max(gaps)
    return Showcase((ahead, behind), (
        f"{model_label(ahead)} ({accuracy[ahead]:.1%}) and {model_label(behind)} ({accuracy[behind]:.1%}) sit either "
        f"side of the widest gap between the ground truth's tiers ({gap:.1%}, beyond its noise)."))
