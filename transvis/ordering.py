"""Ranks that float noise cannot change: competition ranks with a tolerance, and a stable display order.

Two scores that differ only by rounding (features that are an exact rotation of each other give LogME values
equal to ~1e-16) carry no ranking information. Every place that ranks models (``rank_models``, every
dynamics frame, the deep dive, the exports) ranks through :func:`tolerant_ranks`, so such models share a
rank and never swap order from one frame to the next.

Rule. Sort the finite scores best first; walk down the sorted list and start a new tie group whenever the
gap to the previous score exceeds ``tolerance(scores)`` = ``rtol · max|score| + atol``. Chained near-equal
scores therefore share one group (single linkage), which makes the grouping independent of input order.
Ranks are competition ranks ("1224"): a group's members all get the rank of its first member. NaN scores
are ranked last (``nan_rank="last"``, as the race charts need) or left NaN (``nan_rank="nan"``, as tables
need). Within a tie group the order is the input (pool) order, never the float noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = [
    "RTOL",
    "display_order",
    "tie_groups",
    "tolerance",
    "tolerant_ranks",
]

# Relative tolerance under which two scores are the same score: far above float64 rounding after the
# O(D^3) linear algebra of the metrics (errors ~1e-13 relative), far below any real difference.
RTOL = 1e-9


def _finite(scores: Mapping[str, float]) -> dict[str, float]:
    out = {}
    for model, value in scores.items():
        if value is None:
            continue
        value = float(value)
        if math.isfinite(value):
            out[model] = value
    return out


def tolerance(values: Sequence[float], *, rtol: float = RTOL, atol: float = 0.0) -> float:
    """The gap under which two of ``values`` count as equal: ``rtol · max|value| + atol`` (finite values)."""
    finite = [abs(float(v)) for v in values if v is not None and math.isfinite(float(v))]
    return rtol * (max(finite) if finite else 0.0) + atol


def tie_groups(scores: Mapping[str, float], *, higher_is_better: bool = True, rtol: float = RTOL,
               atol: float = 0.0) -> list[list[str]]:
    """Groups of models whose scores are equal up to :func:`tolerance`, best group first; each group in
    input order. Models with a NaN score are left out."""
    finite = _finite(scores)
    if not finite:
        return []
    position = {model: i for i, model in enumerate(scores)}
    sign = 1.0 if higher_is_better else -1.0
    ordered = sorted(finite, key=lambda m: (-sign * finite[m], position[m]))
    tol = tolerance(list(finite.values()), rtol=rtol, atol=atol)
    groups: list[list[str]] = [[ordered[0]]]
    for previous, model in zip(ordered, ordered[1:]):
        if abs(finite[previous] - finite[model]) <= tol:
            groups[-1].append(model)
        else:
            groups.append([model])
    return [sorted(group, key=position.__getitem__) for group in groups]


def tolerant_ranks(scores: Mapping[str, float], *, higher_is_better: bool = True, rtol: float = RTOL,
                   atol: float = 0.0, nan_rank: str = "last") -> dict[str, float]:
    """Competition ranks ``{model: 1 = best}`` in which scores equal up to :func:`tolerance` share a rank.

    ``nan_rank="last"`` ranks NaN scores after every finite one (ints throughout); ``"nan"`` gives them NaN.
    """
    if nan_rank not in ("last", "nan"):
        raise ValueError(f"nan_rank must be 'last' or 'nan'; got {nan_rank!r}.")
    ranks: dict[str, float] = {}
    placed = 0
    for group in tie_groups(scores, higher_is_better=higher_is_better, rtol=rtol, atol=atol):
        for model in group:
            ranks[model] = placed + 1
        placed += len(group)
    missing = math.nan if nan_rank == "nan" else placed + 1
    return {model: ranks.get(model, missing) for model in scores}


def display_order(scores: Mapping[str, float], *, higher_is_better: bool = True, rtol: float = RTOL,
                  atol: float = 0.0) -> list[str]:
    """Models best first; tied models (and NaN scores, last) in input order, so the order never flips on
    float noise."""
    ranked = [m for group in tie_groups(scores, higher_is_better=higher_is_better, rtol=rtol, atol=atol)
              for m in group]
    return ranked + [m for m in scores if m not in set(ranked)]
