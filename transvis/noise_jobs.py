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

__all__ = ["POOL_UNIT", "merge_model_tables", "merge_noise", "noise_job", "noise_units", "score_noise", "scoring_job",
           "with_noise"]

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
    methods = {part.method for part in parts}
    return ScoreNoise(estimate=estimate, replicates=replicates, factor=factor, signature=signature,
                      higher_is_better=first.higher_is_better, resampling=first.resampling,
                      method=methods.pop() if len(methods) == 1 else "mixed")


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


# --- an opt-in metric's point estimates, one model per unit --------------------------------------------------
BACKGROUND_MIN_CELLS = 10_000  # models × samples from which an opt-in metric (NLEEP, PARC) is scored as a job:
# NLEEP's 5C-component mixture and PARC's N² dissimilarities take seconds per model at 3,000 samples; the
# synthetic demo (5 × 360) scores in well under a second and stays inline


def merge_model_tables(tables):
    """One :class:`transvis.ranking.RankingTable` from one-model tables of the same metrics (e.g. the units of
    :func:`scoring_job`), models in the given order: the rows concatenated and the ranks taken over the whole
    pool (tolerant ranks, as :func:`~transvis.ranking.rank_models` does). Only for metrics scored per model
    (not ``pool_combine``), without noise: ``rank_models`` of the pool gives the same scores, ranks, results,
    skipped and failed entries."""
    import pandas as pd

    from transvis.metrics import get_spec
    from transvis.ordering import tolerant_ranks
    from transvis.ranking import RankingTable

    tables = list(tables)
    if not tables:
        raise ValueError("merge_model_tables needs at least one table.")
    metrics = tables[0].metrics
    if any(t.metrics != metrics for t in tables):
        raise ValueError("tables to merge must rank the same metrics.")
    pooled = [m for m in metrics if get_spec(m).pool_combine is not None]
    if pooled:
        raise ValueError(f"{pooled} combine scores over the pool: score them with rank_models on the whole pool.")
    scores = pd.concat([t.scores for t in tables])
    ranks = pd.DataFrame({m: pd.Series(tolerant_ranks(scores[m].to_dict(), higher_is_better=get_spec(m)
                                                      .higher_is_better, nan_rank="nan"), dtype=float)
                          for m in metrics}, index=scores.index, columns=metrics)
    seconds = [t.seconds for t in tables if t.seconds is not None]
    return RankingTable(
        scores=scores, ranks=ranks.reindex(scores.index),
        results={m: {model: r for t in tables for model, r in t.results.get(m, {}).items()} for m in metrics},
        skipped=[s for t in tables for s in t.skipped], failed=[f for t in tables for f in t.failed],
        seconds=pd.concat(seconds) if seconds else None,
        stats_seconds={k: v for t in tables for k, v in t.stats_seconds.items()})


def scoring_job(features_by_model: Mapping[str, Any], metric: str, params: Mapping | None = None, *,
                stats_cache: MutableMapping | None = None, name: str | None = None, tag: Any = None,
                label=str) -> Job:
    """A (not yet started) job scoring ``metric`` one model per unit (no noise); its result is ``{model:
    one-model RankingTable}``, whose :func:`merge_model_tables` (in pool order) is ``rank_models(
    features_by_model, [metric], params)``."""
    from transvis.ranking import rank_models

    units = {model: {model: features} for model, features in features_by_model.items()}
    return unit_job(units, lambda unit: rank_models(unit, [metric], params=dict(params) if params else None,
                                                    stats_cache=stats_cache),
                    name=name or f"{metric} scoring", tag=tag, label=label)
