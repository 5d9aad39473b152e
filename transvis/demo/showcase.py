"""Which model, or pair of models, makes a method's point on a pool — chosen from the numbers, never hard-coded.

A method page opens on a pool it did not choose; these pick what to show first:

* :func:`rank_contrast` (Spread & Attract, Fisher space — any trajectory whose frames re-rank the pool): a model
  whose rank holds through the perturbation and one whose rank falls beyond the noise.
* :func:`collapse_contrast` (neural collapse): the model closest to collapse on the target and the one farthest
  from it (NC1 at t = 0), the farthest shown: collapse moves its samples the most.
* :func:`ped_contrast` (PED): a model that runs the most PED steps and one that reaches the exit ratio first,
  the early stopper shown: when each model stops is PED's own signal.
* :func:`showcase` dispatches a dynamics kind's trajectory to its picker (:func:`rank_contrast` by default).
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


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def collapse_contrast(trajectory, *, model_label: Label = _same) -> Showcase | None:
    """``(the model closest to collapse, the model farthest from it)`` at the first frame of a neural-collapse
    trajectory.

    trajectory : a ``collapse`` :class:`transvis.dynamics.Trajectory` (``frames[0].quantities[model]["nc1"]``).
    NC1 falls as (1 − t)² to 0 for every model, so the model with the largest NC1 at t = 0 is the one whose
    samples the collapse moves the most (the clearest animation) and, by NCTI and FaCe's argument, the one
    farthest from the geometry that predicts transfer; it is shown beside the one with the smallest NC1 (ties:
    pool order). None when fewer than two models have a finite NC1 or all are equal.
    """
    if not trajectory.frames:
        return None
    first = trajectory.frames[0]
    nc1 = {}
    for m in trajectory.models:
        value = (first.quantities.get(m) or {}).get("nc1")
        if _finite(value):
            nc1[m] = float(value)
    if len(nc1) < 2:
        return None
    order = list(nc1)
    far = max(order, key=lambda m: (nc1[m], -order.index(m)))
    near = min(order, key=lambda m: (nc1[m], order.index(m)))
    if nc1[far] <= nc1[near]:
        return None
    reason = (f"{model_label(far)} is the farthest from collapse at t = 0 (NC1 {nc1[far]:.3g}, against "
              f"{nc1[near]:.3g} for {model_label(near)}, the closest): collapsing moves its samples the most.")
    return Showcase((near, far), reason)


def ped_contrast(trajectory, *, model_label: Label = _same) -> Showcase | None:
    """``(the model that runs the most PED steps, the model that reaches the exit ratio first)``.

    trajectory : a ``ped`` :class:`transvis.dynamics.Trajectory` (``info[model]["num_steps"]``: steps applied;
        ``info[model]["change_ratios"]``: each step's position change over the first's; ``params["max_steps"]``).
    The early stopper has the fewest steps applied, fewer than ``max_steps`` (ties: the smaller change ratio at
    the step that stopped it — the clearer stop —, then pool order); the other has the most steps (ties: the
    larger change ratio at its last step, then pool order). None when no model stops before ``max_steps`` or
    every model applies the same number of steps (nothing to contrast).
    """
    params = getattr(trajectory, "params", {}) or {}
    max_steps = int(params.get("max_steps", len(trajectory.frames) - 1))
    steps, stop_ratio = {}, {}
    for m in trajectory.models:
        info = trajectory.info.get(m) or {}
        if "num_steps" not in info:
            continue
        steps[m] = int(info["num_steps"])
        ratios = [float(r) if _finite(r) else math.inf for r in (info.get("change_ratios") or [])]
        stop_ratio[m] = ratios[steps[m]] if steps[m] < len(ratios) else (ratios[-1] if ratios else math.inf)
    if len(steps) < 2 or len(set(steps.values())) < 2 or min(steps.values()) >= max_steps:
        return None
    order = list(steps)
    early = min(order, key=lambda m: (steps[m], stop_ratio[m], order.index(m)))
    late = max(order, key=lambda m: (steps[m], stop_ratio[m], -order.index(m)))
    ran = (f"runs all {steps[late]} steps" if steps[late] >= max_steps
           else f"runs {steps[late]} step{'s' if steps[late] != 1 else ''}")
    exit_ratio = params.get("exit_ratio")
    which = f"the exit ratio {float(exit_ratio):g}" if _finite(exit_ratio) else "the exit ratio"
    reason = (f"{model_label(early)} reaches {which} first: it stops after {steps[early]} "
              f"step{'s' if steps[early] != 1 else ''} (change ratio {stop_ratio[early]:.2f}), while "
              f"{model_label(late)} {ran}.")
    return Showcase((late, early), reason)


PICKERS = {"collapse": collapse_contrast, "ped": ped_contrast}  # every other kind: rank_contrast


def showcase(kind: str, trajectory, *, model_label: Label = _same) -> Showcase | None:
    """The pick for a dynamics ``kind``'s trajectory: :data:`PICKERS`' picker, else :func:`rank_contrast`; the
    model a page shows is ``models[-1]``."""
    picker = PICKERS.get(kind)
    if picker is None:
        return rank_contrast(trajectory, model_label=model_label)
    return picker(trajectory, model_label=model_label)


def groundtruth_contrast(groundtruth: Mapping[str, float], groundtruth_n: Mapping[str, int] | None = None,
                         table=None, metrics: Sequence[str] | None = None, *,
                         model_label: Label = _same, metric_label: Label = _same) -> Showcase | None:
    """``(ahead, behind)``: two models the ground truth orders beyond its binomial noise.

    groundtruth : ``{model: accuracy}`` (fractions or percentages); groundtruth_n : test samples per model (without
        them only unequal accuracies count as separated).
    table, metrics : a :class:`transvis.ranking.RankingTable` of the same pool and the metrics to consult
        (default: all of its metrics). When given, the pair the ground truth separates with the largest accuracy
        gap among those some metric orders the *other way* beyond its scores' noise is chosen: the metric's
        clear mistake, worth explaining.
    Otherwise, the two models either side of the widest gap between adjacent ground-truth tiers.
    model_label, metric_label : how the reason names models and metrics.
    None when the ground truth cannot separate any two models.
    """
    from transvis.headline import accuracy_fraction, groundtruth_tiers

    accuracy = {m: float(v) for m, v in accuracy_fraction(groundtruth).items() if math.isfinite(float(v))}
    tiers = groundtruth_tiers(accuracy, groundtruth_n)
    if len(tiers) < 2:
        return None
    tier_of = {m: i for i, tier in enumerate(tiers) for m in tier}
    beyond = "beyond its noise" if groundtruth_n else "its test sizes unknown, so its noise is not judged"
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
                f"The ground truth puts {model_label(ahead)} {gap:.1%} above {model_label(behind)} ({beyond}), "
                f"yet {metric_label(metric)} ranks {model_label(behind)} above it beyond the scores' noise."))
    gaps = []
    for upper, lower in zip(tiers, tiers[1:]):
        worst_upper = min(upper, key=lambda m: accuracy[m])
        best_lower = max(lower, key=lambda m: accuracy[m])
        gaps.append((accuracy[worst_upper] - accuracy[best_lower], worst_upper, best_lower))
    gap, ahead, behind = max(gaps)
    return Showcase((ahead, behind), (
        f"{model_label(ahead)} ({accuracy[ahead]:.1%}) and {model_label(behind)} ({accuracy[behind]:.1%}) sit either "
        f"side of the widest gap between the ground truth's tiers ({gap:.1%}, {beyond})."))
