"""Rank a pool of pre-trained models for one dataset with many transferability metrics.

    from transvis.ranking import rank_models
    table = rank_models({"resnet50": fs1, "vit_b16": fs2, ...}, ["logme", "sfda", "ncti"],
                        groundtruth={"resnet50": 81.2, "vit_b16": 84.0, ...})
    table.scores        # DataFrame [models × metrics], higher = more transferable, NaN where skipped/failed
    table.ranks         # DataFrame [models × metrics], 1 = best, ties share the best (min) rank
    table.correlations  # {metric: transvis.metrics.correlation.correlate(...) dict} when ground truth is given

Per model, the sufficient statistics (class means, scatter matrices, one eigendecomposition, ...) are built
once in one :class:`~transvis.metrics.ClassStats` and shared by every metric, which is what makes scoring a
whole zoo fast. Pool-level metrics (``MetricSpec.pool_combine``, e.g. NCTI's min-max combination) are
combined after every model is scored, so their scores change when the pool changes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from transvis.features.featureset import FeatureSet
from transvis.metrics import ClassStats, MetricResult, compute, get_spec
from transvis.metrics.correlation import MIN_MODELS, correlate

__all__ = ["RankingTable", "rank_models"]

ON_ERROR = ("record", "raise")


@dataclass
class RankingTable:
    """The result of :func:`rank_models`.

    scores : DataFrame [models × metrics] of metric scores (pool-combined where the metric says so);
        NaN where a metric was skipped or failed for a model.
    ranks : DataFrame [models × metrics], float ranks 1 = best (per metric, by its ``higher_is_better``);
        tied scores share the smallest rank; NaN where there is no score.
    results : ``{metric: {model: MetricResult}}`` for every successful (model, metric); a pool-level metric's
        result carries the pool-combined score (its per-model trace is unchanged).
    skipped : ``[(model, metric, reason)]`` for metrics that do not apply (e.g. LEEP without source probs).
    failed : ``[(model, metric, "ErrorType: message")]`` for metrics that raised (``on_error="record"``).
    seconds : DataFrame [models × metrics] wall time of each metric call (shared statistics are paid by
        the first metric that needs them); ``stats_seconds`` the per-model validation time.
    groundtruth : ``{model: accuracy}`` or None.
    correlations : ``{metric: dict}`` from :func:`transvis.metrics.correlation.correlate` over the models
        that have both a score and an accuracy; ``correlation_skipped`` ``{metric: reason}`` where fewer
        than 3 such models exist.
    """

    scores: pd.DataFrame
    ranks: pd.DataFrame
    results: dict[str, dict[str, MetricResult]]
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: pd.DataFrame | None = None
    stats_seconds: dict[str, float] = field(default_factory=dict)
    groundtruth: dict[str, float] | None = None
    correlations: dict[str, dict] = field(default_factory=dict)
    correlation_skipped: dict[str, str] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        return list(self.scores.index)

    @property
    def metrics(self) -> list[str]:
        return list(self.scores.columns)

    @property
    def weighted_tau(self) -> dict[str, float]:
        """``{metric: weighted Kendall tau vs ground truth}`` (NaN where it could not be computed)."""
        return {
            m: self.correlations[m]["weighted_tau"] if m in self.correlations else math.nan
            for m in self.metrics
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary: ``models`` (one entry per model with its scores, ranks and accuracy),
        ``weighted_tau`` (metric → tau or None), ``correlations``, ``skipped``, ``failed``. NaN → None."""
        models = []
        for model in self.models:
            models.append({
                "model": model,
                "scores": {m: _json_float(self.scores.at[model, m]) for m in self.metrics},
                "ranks": {m: _json_rank(self.ranks.at[model, m]) for m in self.metrics},
                "accuracy": _json_float(self.groundtruth.get(model)) if self.groundtruth else None,
            })
        return {
            "metrics": self.metrics,
            "models": models,
            "weighted_tau": {m: _json_float(v) for m, v in self.weighted_tau.items()},
            "correlations": {m: _json_clean(c) for m, c in self.correlations.items()},
            "correlation_skipped": dict(self.correlation_skipped),
            "skipped": [list(t) for t in self.skipped],
            "failed": [list(t) for t in self.failed],
        }

    def to_json(self, **json_kwargs) -> str:
        """:meth:`to_dict` as a JSON string (strict JSON: NaN is written as null)."""
        return json.dumps(self.to_dict(), allow_nan=False, **json_kwargs)


def _json_float(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _json_rank(value) -> int | None:
    value = _json_float(value)
    return None if value is None else int(value)


def _json_clean(obj):
    if isinstance(obj, dict):
        return {str(k): _json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return _json_float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _limit_blas_threads(limit: int | None):
    """Context limiting BLAS/OpenMP thread pools to ``limit`` threads (a no-op for None)."""
    if limit is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    return threadpool_limits(limits=limit)


def _unpack(model: str, item) -> tuple[Any, Any, Any]:
    """(features, labels, source_probs or None) from a FeatureSet or an (X, y[, P]) tuple."""
    if isinstance(item, FeatureSet):
        return item.features, item.labels, item.source_probs
    if isinstance(item, (tuple, list)) and len(item) in (2, 3):
        return item[0], item[1], (item[2] if len(item) == 3 else None)
    raise ValueError(
        f"model {model!r}: expected a FeatureSet or a tuple (features, labels[, source_probs]); "
        f"got {type(item).__name__}."
    )


def _check_params(spec, column: str, params: Mapping) -> None:
    """The checks compute() does, done once up front so a typo fails fast instead of once per model."""
    if not isinstance(params, Mapping):
        raise ValueError(f"params[{column!r}] must be a dict of keyword parameters; got {type(params).__name__}.")
    unknown = set(params) - set(spec.params)
    if unknown:
        accepted = ", ".join(spec.params) or "none"
        raise ValueError(f"metric {spec.name!r} has no parameter(s) {sorted(unknown)}; it accepts: {accepted}.")
    variant = params.get("variant")
    if variant is not None and spec.variants and variant not in spec.variants:
        raise ValueError(
            f"metric {spec.name!r} has no variant {variant!r}; choose one of {', '.join(spec.variants)}."
        )


def _rank_column(values: pd.Series, higher_is_better: bool) -> pd.Series:
    return values.rank(ascending=not higher_is_better, method="min", na_option="keep")


def rank_models(
    features_by_model: Mapping[str, FeatureSet | Sequence],
    metrics: Sequence[str],
    *,
    params: Mapping[str, Mapping] | None = None,
    model_params: Mapping[str, Mapping[str, Mapping]] | None = None,
    groundtruth: Mapping[str, float] | None = None,
    stats_cache: MutableMapping[str, ClassStats] | None = None,
    backend: str = "auto",
    device: str | None = None,
    on_error: str = "record",
    blas_threads: int | None = None,
) -> RankingTable:
    """Score every model of a pool with every metric and rank them.

    Parameters
    ----------
    features_by_model : ``{model: FeatureSet}`` or ``{model: (features [N, D], labels [N][, source_probs
        [N, Cs]])}``. Models may have different D (and even different samples).
    metrics : registered metric names or aliases (see :func:`transvis.metrics.available`); each becomes a
        column under the name given here.
    params : ``{metric: {param: value}}`` keyword parameters for a metric (keyed by the name given in
        ``metrics`` or the registered name), the same for every model.
    model_params : ``{model: {metric: {param: value}}}`` per-model overrides, for parameters that belong to
        one model (e.g. PED's ``reference_features``, that model's features on a reference set).
    groundtruth : ``{model: accuracy}``; adds ``correlations`` per metric.
    stats_cache : a dict ``{model: ClassStats}`` kept by the caller across calls, so that scoring one metric
        per call (as the app does) still computes each model's shared statistics once.
    backend, device : where the heavy linear algebra runs (see :mod:`transvis.metrics._backend`).
    on_error : ``"record"`` (default) notes a metric that raises in ``failed`` and carries on;
        ``"raise"`` re-raises the first error.
    blas_threads : limit the BLAS/OpenMP threads while scoring (threadpoolctl), e.g. 1 on a busy machine,
        where multi-threaded OpenBLAS can be several times slower (threads spin waiting for a core); None
        (default) leaves the process setting untouched. The setting is restored afterwards.

    A metric needing source probabilities is *skipped* (with the reason) for a model that has none.
    Unknown metric names, parameters or variants raise a ``ValueError`` before anything is computed.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}; got {on_error!r}.")
    if blas_threads is not None and (isinstance(blas_threads, bool) or not isinstance(blas_threads, int)
                                     or blas_threads < 1):
        raise ValueError(f"blas_threads must be a positive integer or None; got {blas_threads!r}.")
    if not isinstance(features_by_model, Mapping) or not features_by_model:
        raise ValueError("features_by_model must be a non-empty dict {model: FeatureSet or (X, y[, P])}.")
    if isinstance(metrics, str):
        metrics = [metrics]
    metrics = list(metrics)
    if not metrics:
        raise ValueError("pass at least one metric name; see transvis.metrics.available().")
    if len(set(metrics)) != len(metrics):
        raise ValueError(f"metric names must be unique; got {metrics}.")
    params = dict(params or {})
    model_params = dict(model_params or {})
    specs = {column: get_spec(column) for column in metrics}
    unknown_keys = set(params) - set(metrics) - {s.name for s in specs.values()}
    if unknown_keys:
        raise ValueError(f"params given for metrics that are not ranked: {sorted(unknown_keys)}; add them to metrics.")
    metric_params = {
        column: dict(params.get(column, params.get(spec.name, {}))) for column, spec in specs.items()
    }
    for column, spec in specs.items():
        _check_params(spec, column, metric_params[column])
    unknown_models = set(model_params) - set(features_by_model)
    if unknown_models:
        raise ValueError(f"model_params name models that are not in the pool: {sorted(unknown_models)}.")
    for model, per_metric in model_params.items():
        for column, extra in per_metric.items():
            if column not in specs:
                raise ValueError(f"model_params[{model!r}] names metric {column!r}, which is not ranked.")
            _check_params(specs[column], column, {**metric_params[column], **extra})

    models = list(features_by_model)
    raw: dict[str, dict[str, MetricResult]] = {column: {} for column in metrics}
    seconds = pd.DataFrame(np.nan, index=pd.Index(models, name="model"), columns=metrics)
    stats_seconds: dict[str, float] = {}
    skipped: list[tuple[str, str, str]] = []
    failed: list[tuple[str, str, str]] = []

    with _limit_blas_threads(blas_threads):
        for model in models:
            features, labels, source_probs = _unpack(model, features_by_model[model])
            start = time.perf_counter()
            try:
                # One ClassStats per model: every metric below reuses its cached statistics. It is dropped
                # after this model so a large pool never holds more than one model's statistics, unless
                # the caller keeps them in ``stats_cache`` (the app, scoring one metric per call).
                stats = stats_cache.get(model) if stats_cache is not None else None
                if stats is None or not stats.matches(features, labels):
                    stats = ClassStats(features, labels, backend=backend, device=device)
                    if stats_cache is not None:
                        stats_cache[model] = stats
            except Exception as err:  # invalid features for this model: every metric fails the same way
                if on_error == "raise":
                    raise
                reason = f"{type(err).__name__}: {err}"
                failed.extend((model, column, reason) for column in metrics)
                continue
            stats_seconds[model] = time.perf_counter() - start
            for column, spec in specs.items():
                if spec.needs_source_probs and source_probs is None:
                    skipped.append((
                        model, column,
                        f"{spec.name} needs source_probs (the model's softmax over its source classes); "
                        "this model has none (no classification head).",
                    ))
                    continue
                kwargs = {**metric_params[column], **model_params.get(model, {}).get(column, {})}
                start = time.perf_counter()
                try:
                    result = compute(
                        spec.name, stats.features, stats.labels, source_probs=source_probs, stats=stats, **kwargs
                    )
                    score = float(result.score)
                    if not math.isfinite(score):
                        raise ValueError(f"{spec.name} returned a non-finite score ({score}).")
                except Exception as err:
                    if on_error == "raise":
                        raise
                    failed.append((model, column, f"{type(err).__name__}: {err}"))
                    continue
                finally:
                    seconds.at[model, column] = time.perf_counter() - start
                raw[column][model] = result
            del stats

    results: dict[str, dict[str, MetricResult]] = {}
    for column, spec in specs.items():
        per_model = raw[column]
        if spec.pool_combine is not None and per_model:
            try:
                combined = spec.pool_combine(dict(per_model))
                bad = [m for m in per_model if not math.isfinite(float(combined[m]))]
                failed.extend((m, column, f"pool combination gave {combined[m]}") for m in bad)
                per_model = {
                    m: dataclasses.replace(r, score=float(combined[m])) for m, r in per_model.items() if m not in bad
                }
            except Exception as err:
                if on_error == "raise":
                    raise
                failed.extend((m, column, f"pool combination failed: {type(err).__name__}: {err}") for m in per_model)
                per_model = {}
        results[column] = per_model

    scores = pd.DataFrame(
        {column: pd.Series({m: r.score for m, r in results[column].items()}, dtype=float) for column in metrics},
        index=pd.Index(models, name="model"),
        columns=metrics,
        dtype=float,
    )
    ranks = pd.DataFrame(
        {column: _rank_column(scores[column], specs[column].higher_is_better) for column in metrics},
        index=scores.index,
        columns=metrics,
    )

    gt = None
    correlations: dict[str, dict] = {}
    correlation_skipped: dict[str, str] = {}
    if groundtruth is not None:
        gt = {m: float(v) for m, v in dict(groundtruth).items()}
        bad = sorted(m for m, v in gt.items() if not math.isfinite(v))
        if bad:
            raise ValueError(f"groundtruth has NaN/inf accuracy for {bad[:5]}; drop those models from groundtruth.")
        for column, spec in specs.items():
            column_scores = scores[column].dropna()
            shared = [m for m in column_scores.index if m in gt]
            if len(shared) < MIN_MODELS:
                correlation_skipped[column] = (
                    f"only {len(shared)} model(s) have both a {column} score and an accuracy; "
                    f"a correlation needs at least {MIN_MODELS}."
                )
                continue
            # correlate() assumes higher = better; flip a lower-is-better metric so tau keeps its meaning.
            sign = 1.0 if spec.higher_is_better else -1.0
            correlations[column] = correlate(
                {m: sign * float(column_scores[m]) for m in shared}, {m: gt[m] for m in shared}
            )

    return RankingTable(
        scores=scores,
        ranks=ranks,
        results=results,
        skipped=skipped,
        failed=failed,
        seconds=seconds,
        stats_seconds=stats_seconds,
        groundtruth=gt,
        correlations=correlations,
        correlation_skipped=correlation_skipped,
    )
