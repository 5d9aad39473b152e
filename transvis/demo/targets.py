"""How well each metric predicts the ground truth across the demo's targets: weighted τ per target, their mean
and spread, as the transferability papers report (one number per target, then the average over targets)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

MEAN, SPREAD = "mean", "spread"


def tau_across_targets(tables: Mapping[str, object], metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Weighted τ of each metric on each target, with its mean and spread over the targets.

    tables : ``{target label: RankingTable}``, each ranked against that target's ground truth (its
        ``weighted_tau``: ``{metric: τ}``; NaN when a metric could not be correlated there).
    metrics : the rows, in order (default: the metrics of the first table).
    Returns a frame [metrics × (targets…, "mean", "spread")]: ``mean`` over the targets where τ is known,
    ``spread`` = max − min of those (0 for one target, NaN for none). Sorted as ``metrics``.
    """
    if not tables:
        raise ValueError("tau_across_targets needs at least one target's ranking table.")
    metrics = list(metrics) if metrics is not None else list(next(iter(tables.values())).metrics)
    frame = pd.DataFrame({target: [float(table.weighted_tau.get(m, math.nan)) for m in metrics]
                          for target, table in tables.items()}, index=metrics, dtype=float)
    known = frame.notna().sum(axis=1)
    frame[MEAN] = frame[list(tables)].mean(axis=1, skipna=True)
    frame[SPREAD] = (frame[list(tables)].max(axis=1, skipna=True) - frame[list(tables)].min(axis=1, skipna=True))
    frame.loc[known == 0, [MEAN, SPREAD]] = math.nan
    frame.index.name = "metric"
    return frame
