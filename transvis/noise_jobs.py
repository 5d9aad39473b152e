"""A metric's sampling noise over a pool, estimated one model at a time (a background job's units).

:func:`transvis.ranking.rank_models` with ``resamples`` re-scores every model on R subsets: about 0.8·R times
the scoring, minutes on a real pool. A front end that must answer a control at once scores the point
estimates alone (``resamples=None``) and estimates the noise in the background with :func:`noise_job`, one
model per unit, so the progress says done/total models and a cancel stops after the running model.

Why per model is exact: a model's replicates depend only on its own features, the metric's parameters and
its subsets, which are a pure function of (labels, seed) (:meth:`transvis.uncertainty.Resampling.subsets`),
so the replicates scored alone are the ones scored with the pool, still paired across models (equal
``signature``). :func:`merge_noise` takes the union. A pool-level metric (``MetricSpec.pool_combine``: NCTI)
combines each subset over the whole pool, so its noise is one unit over every model.

    job = noise_job(features_by_model, "fsp", {"fsp": {"spread": 0.35}}).start()
    ...                                     # job.status(): done/total models, ETA
    table = with_noise(point_table, "fsp", merge_noise(job.result.values()))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

import numpy as np

from transvis.jobs import Job, unit_job
from transvis.uncertainty import DEFAULT_RESAMPLING, ScoreNoise

__all__ = ["POOL_UNIT", "merge_noise", "noise_job", "noise_units", "score_noise", "with_noise"]

POOL_UNIT = "the whole pool"  # the single unit of a pool-level metric's noise


def noise_units(features_by_model: Mapping[str, Any], metric: str) -> dict[str, dict[str, Any]]:
    """``{unit label: {model: features}}``: one unit per model, or one unit holding the whole pool (in pool
    order) for a pool-level metric, whose subsets are combined across models."""
    from transvis.metrics import get_spec

    if get_spec(metric).pool_combine is not None:
        return {POOL_UNIT: dict(features_by_model)}
    return {model: {model: features} for model, features in features_by_model.items()}


def score_noise(features_by_model: Mapping[str, Any], metric: str, params: Mapping | None = None, *,
                resamples=DEFAULT_RESAMPLING, stats_cache: MutableMapping | None = None) -> ScoreNoise | None:
    """``metric``'s :class:`ScoreNoise` over ``features_by_model`` (``{model: FeatureSet or (X, y[, P])}``,
    one unit of :func:`noise_units`): ``rank_models(..., resamples=resamples).noise[metric]``; None when no
    model could be scored (the point estimates name why)."""
    from transvis.ranking import rank_models

    table = rank_models(features_by_model, [metric], params=dict(params) if params else None,
                        stats_cache=stats_cache, resamples=resamples)
    return table.noise.get(metric)


def merge_noise(parts: Iterable[ScoreNoise | None]) -> ScoreNoise | None:
    """One :class:`ScoreNoise` from the noise of disjoint sets of models of one metric (None parts: models
    that could not be scored), models in the parts' order; None when every part is None.

    Raises ValueError when the parts disagree on the resampling plan or the metric's direction (they would
    not be replicates of one estimate) or share a model."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    first = parts[0]
    estimate, replicates, factor, signature = {}, {}, {}, {}
    for part in parts:
        if part.resampling != first.resampling or part.higher_is_better != first.higher_is_better:
            raise ValueError("noise estimates to merge must share one resampling plan and direction; got "
                             f"{part.resampling} / higher_is_better={part.higher_is_better} and "
                             f"{first.resampling} / higher_is_better={first.higher_is_better}.")
        shared = set(part.estimate) & set(estimate)
        if shared:
            raise ValueError(f"noise estimates to merge must cover disjoint models; {sorted(shared)} twice.")
        estimate.update(part.estimate)
        replicates.update({m: np.asarray(v, dtype=float) for m, v in part.replicates.items()})
        factor.update(part.factor)
        signature.update(part.signature)
    return ScoreNoise(estimate=estimate, replicates=replicates, factor=factor, signature=signature,
                      higher_is_better=first.higher_is_better, resampling=first.resampling)


def with_noise(table, metric: str, noise: ScoreNoise | None):
    """A copy of the one-metric ``table`` (scored without noise) carrying ``noise`` as ``metric``'s; the
    estimates must be the table's scores (the same scoring, so equal to the last bit)."""
    if noise is not None:
        scores = table.scores[metric]
        off = [m for m, v in noise.estimate.items()
               if m not in scores.index or not math.isclose(float(scores[m]), v, rel_tol=1e-9, abs_tol=1e-12)]
        if off:
            raise ValueError(f"the noise of {metric} does not belong to this table: its estimates differ from "
                             f"the scores of {off[:3]}; estimate it on the same pool and parameters.")
    noise_map = dict(table.noise)
    if noise is None:
        noise_map.pop(metric, None)
    else:
        noise_map[metric] = noise
    return dataclasses.replace(table, noise=noise_map)


def noise_job(features_by_model: Mapping[str, Any], metric: str, params: Mapping | None = None, *,
              resamples=DEFAULT_RESAMPLING, stats_cache: MutableMapping | None = None, name: str | None = None,
              tag: Any = None, label=str) -> Job:
    """A (not yet started) :class:`transvis.jobs.Job` estimating ``metric``'s noise one unit of
    :func:`noise_units` at a time; its result is ``{unit: ScoreNoise | None}`` (committed all at the end),
    whose :func:`merge_noise` is ``rank_models(features_by_model, [metric], params,
    resamples=resamples).noise[metric]``. ``stats_cache`` is shared with the point estimates' scoring (each
    model's statistics are built once)."""
    units = noise_units(features_by_model, metric)
    return unit_job(units, lambda unit: score_noise(unit, metric, params, resamples=resamples,
                                                    stats_cache=stats_cache),
                    name=name or f"{metric} noise", tag=tag, label=label)
