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

import dataclasses
import json
import math
import time
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from transvis._jsoncodec import decode_inline, encode_inline
from transvis._threads import thread_limit
from transvis.features.featureset import FeatureSet
from transvis.metrics import ClassStats, DegenerateScoreWarning, MetricResult, compute, get_spec
from transvis.metrics._contract import check_params, nested_compute
from transvis.metrics.correlation import MIN_MODELS, correlate
from transvis.ordering import tie_groups, tolerant_ranks
from transvis.uncertainty import Resampling, ScoreNoise, TauInterval, sample_signature, tau_interval

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
    noise : ``{metric: ScoreNoise}`` the scores' sampling noise (:mod:`transvis.uncertainty`), for the metrics
        scored with ``resamples``; empty when noise was not estimated.
    groundtruth_n : ``{model: test samples behind its accuracy}`` (binomial noise of the ground truth) or None.
    tau_intervals : ``{metric: TauInterval}`` weighted τ with its interval (scores' and ground truth's noise).
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
    noise: dict[str, ScoreNoise] = field(default_factory=dict)
    groundtruth_n: dict[str, int] | None = None
    tau_intervals: dict[str, TauInterval] = field(default_factory=dict)

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

    def tied_scores(self) -> dict[str, list[tuple[float, list[str]]]]:
        """``{metric: [(score, [models]), ...]}``: groups of two or more models whose scores are equal up to
        float noise (:mod:`transvis.ordering`), largest group first. Such a tie carries no ranking
        information; for most metrics it means saturation (SFDA and PED at 1.0 when N - C <= D), which the
        metric's ``saturation_hint`` explains."""
        ties: dict[str, list[tuple[float, list[str]]]] = {}
        for metric in self.metrics:
            column = self.scores[metric].dropna()
            groups = [(float(column[group[0]]), sorted(group))
                      for group in tie_groups(column.to_dict(), higher_is_better=_higher_is_better(metric))
                      if len(group) >= 2]
            if groups:
                ties[metric] = sorted(groups, key=lambda group: (-len(group[1]), -group[0]))
        return ties

    def tie_notes(self) -> dict[str, str]:
        """``{metric: note}`` for every metric with tied scores: which models tie, then the metric's
        explanation where it has one."""
        from transvis.metrics import get_spec

        notes = {}
        for metric, groups in self.tied_scores().items():
            column = self.scores[metric]
            tied = "; ".join(
                f"{len(models)} models score exactly {score:.6g}" if column[models].nunique() == 1
                else f"{len(models)} models score {score:.6g} (equal up to float noise)"
                for score, models in groups)
            hint = get_spec(metric).saturation_hint or "Tied models share a rank."
            notes[metric] = f"{tied}. {hint}"
        return notes

    # -- noise ------------------------------------------------------------------------------------------
    @property
    def score_se(self) -> pd.DataFrame:
        """Standard error of every score [models × metrics] (NaN where noise was not estimated)."""
        return pd.DataFrame(
            {m: [self.noise[m].se(model) if m in self.noise and model in self.noise[m].estimate else math.nan
                 for model in self.models] for m in self.metrics},
            index=self.scores.index, columns=self.metrics, dtype=float)

    def interval(self, metric: str, model: str) -> tuple[float, float]:
        """The score's confidence interval (NaN, NaN without a noise estimate)."""
        noise = self.noise.get(metric)
        if noise is None or model not in noise.estimate:
            return math.nan, math.nan
        return noise.interval(model)

    def is_ahead(self, metric: str, a: str, b: str) -> bool | None:
        """Is model ``a`` ahead of ``b`` on ``metric`` beyond the noise? None when noise was not estimated
        (then only a float-noise tie can be told: see :attr:`ranks`)."""
        noise = self.noise.get(metric)
        if noise is None or a not in noise.estimate or b not in noise.estimate:
            return None
        return noise.is_ahead(a, b)

    def noise_groups(self, metric: str) -> list[list[str]]:
        """Tiers of models the noise cannot order on ``metric`` (best tier first, see
        :meth:`transvis.uncertainty.ScoreNoise.noise_groups`); without a noise estimate the float-noise tie
        groups."""
        noise = self.noise.get(metric)
        if noise is not None:
            return noise.noise_groups()
        column = self.scores[metric].dropna()
        return tie_groups(column.to_dict(), higher_is_better=_higher_is_better(metric))

    def tau_text(self, metric: str) -> str:
        """Weighted τ as shown: "+0.80 [−0.10, +0.95]" with its interval, "+0.80" without, "–" when none."""
        if metric in self.tau_intervals:
            return self.tau_intervals[metric].text()
        tau = self.weighted_tau.get(metric, math.nan)
        return f"{tau:+.2f}" if math.isfinite(tau) else "–"

    def tau_ahead(self, a: str, b: str) -> bool | None:
        """Does metric ``a`` agree with the ground truth better than ``b`` beyond the noise (the paired τ
        draws' difference excludes 0 at the intervals' level)? None without intervals for both."""
        ia, ib = self.tau_intervals.get(a), self.tau_intervals.get(b)
        if ia is None or ib is None or not ia.sources or not ib.sources:
            return None
        if len(ia.draws) != len(ib.draws) or not len(ia.draws):
            return None
        diff = np.asarray(ia.draws) - np.asarray(ib.draws)
        diff = diff[np.isfinite(diff)]
        if not len(diff):
            return None
        return float(np.quantile(diff, 0.5 - ia.level / 2.0)) > 0.0

    def to_dict(self, traces: bool = False) -> dict[str, Any]:
        """JSON-able summary: ``models`` (one entry per model with its scores, ranks and accuracy),
        ``weighted_tau`` (metric → tau or None), ``correlations``, ``skipped``, ``failed``. NaN → None.

        ``traces=True`` adds ``results`` (every result with its trace; arrays as base64 with dtype and shape),
        so that :meth:`from_dict` gives back a table the app's pages can draw from."""
        models = []
        for model in self.models:
            models.append({
                "model": model,
                "scores": {m: _json_float(self.scores.at[model, m]) for m in self.metrics},
                "ranks": {m: _json_rank(self.ranks.at[model, m]) for m in self.metrics},
                "accuracy": _json_float(self.groundtruth.get(model)) if self.groundtruth else None,
                "degenerate": {m: self.results[m][model].degenerate for m in self.metrics
                               if model in self.results.get(m, {}) and self.results[m][model].degenerate},
            })
        out = {
            "metrics": self.metrics,
            "models": models,
            "weighted_tau": {m: _json_float(v) for m, v in self.weighted_tau.items()},
            "correlations": {m: _json_clean(c) for m, c in self.correlations.items()},
            "correlation_skipped": dict(self.correlation_skipped),
            "skipped": [list(t) for t in self.skipped],
            "failed": [list(t) for t in self.failed],
            "noise": {m: n.to_dict() for m, n in self.noise.items()},
            "groundtruth_n": dict(self.groundtruth_n) if self.groundtruth_n else None,
            "tau_intervals": {m: t.to_dict() for m, t in self.tau_intervals.items()},
        }
        if traces:
            out["results"] = {
                column: {
                    model: {"name": r.name, "score": _json_float(r.score), "variant": r.variant,
                            "params": encode_inline(r.params), "trace": encode_inline(r.trace),
                            "degenerate": r.degenerate}
                    for model, r in per_model.items()
                }
                for column, per_model in self.results.items()
            }
        return out

    def to_json(self, traces: bool = False, **json_kwargs) -> str:
        """:meth:`to_dict` as a JSON string (strict JSON: NaN is written as null)."""
        return json.dumps(self.to_dict(traces=traces), allow_nan=False, **json_kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RankingTable:
        """The table :meth:`to_dict` wrote: scores, ranks, accuracies, correlations, skipped and failed pairs,
        and every result with its trace when written with ``traces=True`` (otherwise each result carries its
        score and an empty trace). Timings are not kept (``seconds`` is None)."""
        if not isinstance(data, Mapping) or "metrics" not in data or "models" not in data:
            raise ValueError("not a ranking table: expected the dict RankingTable.to_dict() writes "
                             "(with 'metrics' and 'models').")
        metrics = list(data["metrics"])
        rows = list(data["models"])
        index = pd.Index([row["model"] for row in rows], name="model")

        def frame(name: str) -> pd.DataFrame:
            cells = [[math.nan if row[name].get(m) is None else float(row[name][m]) for m in metrics] for row in rows]
            return pd.DataFrame(cells, index=index, columns=metrics, dtype=float)

        scores, ranks = frame("scores"), frame("ranks")
        accuracies = {row["model"]: float(row["accuracy"]) for row in rows if row.get("accuracy") is not None}
        encoded = data.get("results")
        results: dict[str, dict[str, MetricResult]] = {}
        for column in metrics:
            if encoded is not None:
                results[column] = {
                    model: MetricResult(name=r["name"], score=math.nan if r["score"] is None else float(r["score"]),
                                        trace=decode_inline(r["trace"]), variant=r.get("variant"),
                                        params=decode_inline(r.get("params") or {}), degenerate=r.get("degenerate"))
                    for model, r in encoded.get(column, {}).items()
                }
            else:
                flags = {row["model"]: (row.get("degenerate") or {}).get(column) for row in rows}
                results[column] = {model: MetricResult(name=column, score=float(scores.at[model, column]),
                                                       degenerate=flags.get(model))
                                   for model in scores.index if not math.isnan(scores.at[model, column])}
        # to_dict writes NaN statistics as null; only numbers are ever NaN in a correlation dict.
        correlations = {m: {k: (math.nan if v is None else v) for k, v in c.items()}
                        for m, c in data.get("correlations", {}).items()}
        table = cls(
            scores=scores, ranks=ranks, results=results,
            skipped=[tuple(t) for t in data.get("skipped", [])],
            failed=[tuple(t) for t in data.get("failed", [])],
            groundtruth=accuracies or None,
            correlations=correlations,
            correlation_skipped=dict(data.get("correlation_skipped", {})),
            noise={m: ScoreNoise.from_dict(n) for m, n in (data.get("noise") or {}).items()},
            groundtruth_n={m: int(v) for m, v in (data.get("groundtruth_n") or {}).items()} or None,
        )
        # The intervals are a pure function of scores, noise and ground truth (fixed seed): recomputed, so
        # their paired draws are there for tau_ahead.
        if table.groundtruth and (data.get("tau_intervals") or table.noise):
            table.tau_intervals = _tau_intervals(table)
        return table

    @classmethod
    def from_json(cls, text: str | bytes) -> RankingTable:
        """:meth:`from_dict` of the JSON :meth:`to_json` wrote."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"not a ranking table: invalid JSON ({err}).") from None
        return cls.from_dict(data)

    def select(self, metrics: Sequence[str]) -> RankingTable:
        """The table restricted to ``metrics`` (in that order): their scores, ranks, results, skipped and failed
        pairs and correlations. Ranks are per metric, so they are unchanged."""
        metrics = list(metrics)
        missing = [m for m in metrics if m not in self.scores.columns]
        if missing:
            raise ValueError(f"the table has no metric(s) {missing}; it ranks {self.metrics}.")
        return RankingTable(
            scores=self.scores[metrics].copy(),
            ranks=self.ranks[metrics].copy(),
            results={m: dict(self.results.get(m, {})) for m in metrics},
            skipped=[t for t in self.skipped if t[1] in metrics],
            failed=[t for t in self.failed if t[1] in metrics],
            seconds=self.seconds[metrics].copy() if self.seconds is not None else None,
            stats_seconds=dict(self.stats_seconds),
            groundtruth=dict(self.groundtruth) if self.groundtruth is not None else None,
            correlations={m: c for m, c in self.correlations.items() if m in metrics},
            correlation_skipped={m: r for m, r in self.correlation_skipped.items() if m in metrics},
            noise={m: n for m, n in self.noise.items() if m in metrics},
            groundtruth_n=dict(self.groundtruth_n) if self.groundtruth_n is not None else None,
            tau_intervals={m: t for m, t in self.tau_intervals.items() if m in metrics},
        )

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
    check_params(spec, params)


def _higher_is_better(metric: str) -> bool:
    try:
        return get_spec(metric).higher_is_better
    except ValueError:
        return True


def _rank_column(values: pd.Series, higher_is_better: bool) -> pd.Series:
    """Competition ranks with float-noise ties (:func:`transvis.ordering.tolerant_ranks`); NaN stays NaN."""
    ranks = tolerant_ranks(values.to_dict(), higher_is_better=higher_is_better, nan_rank="nan")
    return pd.Series(ranks, index=values.index, dtype=float)


def as_resampling(resamples) -> Resampling | None:
    """``resamples`` as accepted by :func:`rank_models`: None/0 → None (no noise), an int R → R subsets with
    the default plan, a :class:`~transvis.uncertainty.Resampling` as it is."""
    if resamples is None or isinstance(resamples, Resampling):
        return resamples
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) or resamples < 0:
        raise ValueError(f"resamples must be 0 (no noise estimate), an integer ≥ 2 or a Resampling; got {resamples!r}.")
    if resamples == 0:
        return None
    return Resampling(n_replicates=int(resamples))


def _tau_intervals(table: RankingTable) -> dict[str, TauInterval]:
    gt = table.groundtruth or {}
    level = next(iter(table.noise.values())).resampling.level if table.noise else 0.95
    out = {}
    for column in table.correlations:
        scores = table.scores[column].dropna().to_dict()
        out[column] = tau_interval(scores, gt, noise=table.noise.get(column), n_test=table.groundtruth_n,
                                   higher_is_better=_higher_is_better(column), level=level)
    return out


def attach_groundtruth(table: RankingTable, groundtruth: Mapping[str, float] | None,
                       groundtruth_n: Mapping[str, int] | None = None) -> RankingTable:
    """A copy of ``table`` with its correlations against ``groundtruth`` ({model: accuracy}) over the models
    that have both (lower-is-better metrics flipped so τ keeps its meaning; at least 3 models), and each
    weighted τ's interval from the scores' noise and ``groundtruth_n`` ({model: test samples})."""
    if not groundtruth:
        return dataclasses.replace(table, groundtruth=None, groundtruth_n=None, correlations={},
                                   correlation_skipped={}, tau_intervals={})
    gt = {m: float(v) for m, v in dict(groundtruth).items()}
    bad = sorted(m for m, v in gt.items() if not math.isfinite(v))
    if bad:
        raise ValueError(f"groundtruth has NaN/inf accuracy for {bad[:5]}; drop those models from groundtruth.")
    correlations: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    for column in table.metrics:
        column_scores = table.scores[column].dropna()
        shared = [m for m in column_scores.index if m in gt]
        if len(shared) < MIN_MODELS:
            skipped[column] = (f"only {len(shared)} model(s) have both a {column} score and an accuracy; "
                               f"a correlation needs at least {MIN_MODELS}.")
            continue
        sign = 1.0 if _higher_is_better(column) else -1.0
        correlations[column] = correlate({m: sign * float(column_scores[m]) for m in shared},
                                         {m: gt[m] for m in shared})
    counts = {m: int(n) for m, n in dict(groundtruth_n).items() if n} if groundtruth_n else None
    out = dataclasses.replace(table, groundtruth=gt, groundtruth_n=counts or None, correlations=correlations,
                              correlation_skipped=skipped)
    out.tau_intervals = _tau_intervals(out)
    return out


def _resolve_request(features_by_model, metrics, params, model_params, on_error, blas_threads, n_jobs, resamples):
    """:func:`rank_models`' arguments checked (every error before anything is computed) and resolved:
    ``(metrics, specs, metric_params, model_params, n_jobs, resampling)``."""
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}; got {on_error!r}.")
    if blas_threads is not None and (isinstance(blas_threads, bool) or not isinstance(blas_threads, int)
                                     or blas_threads < 1):
        raise ValueError(f"blas_threads must be a positive integer or None; got {blas_threads!r}.")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer (models scored at once); got {n_jobs!r}.")
    n_jobs = int(n_jobs)
    resampling = as_resampling(resamples)
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
    return metrics, specs, metric_params, model_params, n_jobs, resampling


def _pool_combined(specs, raw, failed, on_error) -> dict[str, dict[str, MetricResult]]:
    """``raw`` results with pool-level scores combined (``MetricSpec.pool_combine``, e.g. NCTI); a model whose
    combined score is not finite, or every model when the combination fails, goes to ``failed``."""
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
    return results


def _scores_and_ranks(models, specs, results) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores and float-tolerant ranks [models × metrics] of the results (NaN where there is none)."""
    metrics = list(specs)
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
    return scores, ranks


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
    n_jobs: int = 1,
    resamples: int | Resampling | None = None,
    groundtruth_n: Mapping[str, int] | None = None,
    executor: str | None = None,
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
        (default) leaves the process setting untouched, except with ``n_jobs > 1``, where it defaults to 1.
        The setting is restored afterwards.
    n_jobs : how many models are scored at once, in threads (default 1: one after another). Per-model work
        is independent and the heavy linear algebra releases the GIL, so on a 2-core machine ``n_jobs=2``
        with one BLAS thread each scored 10 large models 1.9× faster than one at a time (bench/README.md).
        The table is the same as with ``n_jobs=1`` (same order, same skipped and failed entries; scores
        bit-for-bit with the same ``blas_threads``); ``on_error="raise"`` raises the error of the first
        failing model in pool order. Up to ``n_jobs`` models' statistics are held at once.

    resamples : how the scores' sampling noise is estimated (:mod:`transvis.uncertainty`): None or 0 (default)
        none; an int R re-scores every model on R stratified subsets of 80 % of its samples (seed 0), costing
        about 0.8·R times the scoring; a :class:`~transvis.uncertainty.Resampling` sets R, the kept fraction,
        the seed and the confidence level. Fills ``noise`` (score intervals, :meth:`RankingTable.is_ahead`,
        :meth:`RankingTable.noise_groups`) and, with ground truth, ``tau_intervals``.
    groundtruth_n : ``{model: test samples}`` behind each accuracy, so τ's interval includes the ground
        truth's binomial noise.
    executor : None (default: in this process, ``n_jobs`` threads) or a Ray cluster address — ``"ray"``,
        ``"ray://HOST:PORT"``, ``"ray=auto"`` (:mod:`transvis.cluster`, the optional ``ray`` extra): one task
        per model, its statistics computed where its features are; the table is the serial path's (scores
        equal to 1e-12). ``n_jobs`` is then unused and ``stats_cache`` neither read nor filled.

    A metric needing source probabilities is *skipped* (with the reason) for a model that has none.
    Unknown metric names, parameters or variants raise a ``ValueError`` before anything is computed.
    """
    metrics, specs, metric_params, model_params, n_jobs, resampling = _resolve_request(
        features_by_model, metrics, params, model_params, on_error, blas_threads, n_jobs, resamples)

    models = list(features_by_model)
    raw: dict[str, dict[str, MetricResult]] = {column: {} for column in metrics}
    seconds = pd.DataFrame(np.nan, index=pd.Index(models, name="model"), columns=metrics)
    stats_seconds: dict[str, float] = {}
    skipped: list[tuple[str, str, str]] = []
    failed: list[tuple[str, str, str]] = []

    jobs = min(n_jobs, len(models))
    if jobs > 1 and blas_threads is None:
        blas_threads = 1  # n_jobs workers × 1 BLAS thread: threaded OpenBLAS scales poorly and spins when loaded

    def score(model: str) -> _ModelScores:
        return _score_model(model, features_by_model[model], specs, metric_params, model_params.get(model, {}),
                            stats_cache=stats_cache, backend=backend, device=device, on_error=on_error,
                            resampling=resampling)

    with thread_limit(blas_threads, torch=False):  # BLAS/OpenMP only, as documented
        if executor is not None:
            from transvis.cluster import map_models

            scored = map_models(executor, _score_model, models, features_by_model,
                                {model: {"extra_params": model_params.get(model, {})} for model in models},
                                dict(specs=specs, metric_params=metric_params, stats_cache=None, backend=backend,
                                     device=device, on_error=on_error, resampling=resampling),
                                blas_threads=blas_threads if blas_threads is not None else 1,
                                on_failure=None if on_error == "raise" else (  # e.g. its store entry unreadable
                                    lambda model, reason: _ModelScores(failed=[(model, c, reason) for c in specs])))
        elif jobs == 1:
            scored = [score(model) for model in models]
        else:
            scored = _score_in_threads(score, models, jobs)
    replicate_results: dict[str, dict[str, list]] = {column: {} for column in metrics}
    by_deletion: dict[str, dict[str, bool]] = {column: {} for column in metrics}
    signatures = {model: record.signature for model, record in zip(models, scored)}
    sizes = {model: record.sizes for model, record in zip(models, scored)}
    for model, record in zip(models, scored):
        for column, per_replicate in record.replicates.items():
            replicate_results[column][model] = per_replicate
            by_deletion[column][model] = column in record.deletion
        if record.stats_seconds is not None:
            stats_seconds[model] = record.stats_seconds
        skipped.extend(record.skipped)
        failed.extend(record.failed)
        for column, result in record.results.items():
            raw[column][model] = result
        for column, value in record.seconds.items():
            seconds.at[model, column] = value

    results = _pool_combined(specs, raw, failed, on_error)

    _warn_degenerate(results)

    noise: dict[str, ScoreNoise] = {}
    if resampling is not None:
        for column, spec in specs.items():
            noise_of_column = _noise(spec, results[column], replicate_results[column], resampling, signatures,
                                      sizes, by_deletion[column])
            if noise_of_column is not None:
                noise[column] = noise_of_column

    scores, ranks = _scores_and_ranks(models, specs, results)
    table = RankingTable(
        scores=scores,
        ranks=ranks,
        results=results,
        skipped=skipped,
        failed=failed,
        seconds=seconds,
        stats_seconds=stats_seconds,
        noise=noise,
    )
    if groundtruth is not None:
        table = attach_groundtruth(table, groundtruth, groundtruth_n)
    return table


@dataclass
class _ModelScores:
    """What scoring one model gives: results and wall seconds per column, skipped/failed entries in column
    order, and the statistics' validation time (None when they could not be built)."""

    results: dict[str, MetricResult] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    stats_seconds: float | None = None
    replicates: dict[str, list[MetricResult | None]] = field(default_factory=dict)  # column → R subset results
    deletion: set[str] = field(default_factory=set)  # columns whose subsets were scored without a refit
    signature: str | None = None  # the labels' signature: equal = same samples, paired subsets
    sizes: tuple[int, int] = (0, 0)  # (samples, samples kept in each subset)


def _score_model(model, item, specs, metric_params, extra_params, *, stats_cache, backend, device,
                 on_error, resampling: Resampling | None = None) -> _ModelScores:
    """Every metric on one model, sharing one :class:`ClassStats` (see :func:`rank_models`); then, with
    ``resampling``, every metric again on each subset (one shared ClassStats per subset)."""
    out = _ModelScores()
    features, labels, source_probs = _unpack(model, item)
    start = time.perf_counter()
    try:
        # One ClassStats per model: every metric below reuses its cached statistics. It is dropped after this
        # model so a large pool never holds more than one model's statistics per worker, unless the caller
        # keeps them in ``stats_cache`` (the app, scoring one metric per call).
        stats = stats_cache.get(model) if stats_cache is not None else None
        if stats is None or not stats.matches(features, labels):
            stats = ClassStats(features, labels, backend=backend, device=device)
            if stats_cache is not None:
                stats_cache[model] = stats
    except Exception as err:  # invalid features for this model: every metric fails the same way
        if on_error == "raise":
            raise
        reason = f"{type(err).__name__}: {err}"
        out.failed.extend((model, column, reason) for column in specs)
        return out
    out.stats_seconds = time.perf_counter() - start
    for column, spec in specs.items():
        if spec.needs_source_probs and source_probs is None:
            out.skipped.append((
                model, column,
                f"{spec.name} needs source_probs (the model's softmax over its source classes); "
                "this model has none (no classification head).",
            ))
            continue
        kwargs = {**metric_params[column], **extra_params.get(column, {})}
        start = time.perf_counter()
        try:
            with nested_compute():  # one summary warning per metric from rank_models, not one per model
                result = compute(spec.name, stats.features, stats.labels, source_probs=source_probs, stats=stats,
                                 **kwargs)
            score = float(result.score)
            if not math.isfinite(score):
                raise ValueError(f"{spec.name} returned a non-finite score ({score}).")
        except Exception as err:
            if on_error == "raise":
                raise
            out.failed.append((model, column, f"{type(err).__name__}: {err}"))
            continue
        finally:
            out.seconds[column] = time.perf_counter() - start
        out.results[column] = result
    if resampling is not None and out.results:
        out.signature = sample_signature(stats.labels)
        out.sizes = (stats.n_samples, len(resampling.subsets(stats.labels)[0]))
        out.replicates, out.deletion = _score_subsets(stats, source_probs, specs, metric_params, extra_params,
                                                      out.results, resampling)
    return out


def _warn_degenerate(results: Mapping[str, Mapping[str, MetricResult]]) -> None:
    """One :class:`~transvis.metrics.DegenerateScoreWarning` per metric with degenerate scores, naming the
    models and the first model's reason (which says the fix), at the caller of :func:`rank_models`."""
    import warnings

    for column, per_model in results.items():
        flagged = [m for m, r in per_model.items() if r.degenerate]
        if flagged:
            more = f" (+{len(flagged) - 3} more)" if len(flagged) > 3 else ""
            warnings.warn(DegenerateScoreWarning(
                f"degenerate {column} score for {len(flagged)} of {len(per_model)} models "
                f"({', '.join(flagged[:3])}{more}): {per_model[flagged[0]].degenerate}"), stacklevel=3)


def _score_subsets(stats, source_probs, specs, metric_params, extra_params, results: Mapping[str, MetricResult],
                   resampling) -> tuple[dict[str, list[MetricResult | None]], set[str]]:
    """Each column's result on each of ``resampling``'s subsets of one model's samples (None where a subset
    failed), and the columns scored from their full fit's deletion replicates (``MetricSpec.
    deletion_replicates``, unless ``resampling.refit``) rather than refitted. Subsets do not warn: the
    full-sample result carries the degenerate verdict."""
    subsets = resampling.subsets(stats.labels)
    out: dict[str, list[MetricResult | None]] = {}
    for column, result in results.items():
        spec = specs[column]
        if resampling.refit or spec.deletion_replicates is None or spec.pool_combine is not None:
            continue
        try:
            values = spec.deletion_replicates(result, stats, subsets)
        except Exception:  # noqa: BLE001 - refit instead
            values = None
        if values is not None:
            out[column] = [MetricResult(result.name, float(v), variant=result.variant, params=result.params)
                           if math.isfinite(float(v)) else None for v in values]
    deletion = set(out)
    columns = [column for column in results if column not in deletion]
    out.update({column: [] for column in columns})
    if not columns:
        return out, deletion
    probs = None if source_probs is None else np.asarray(source_probs)
    for subset in subsets:
        try:
            sub_stats = stats.subset(subset)  # S_T from the model's own minus the left-out rows' Gram
        except Exception:  # noqa: BLE001 - this subset gives no replicate; the others still do
            for column in columns:
                out[column].append(None)
            continue
        sub_probs = None if probs is None else probs[subset]
        for column in columns:
            kwargs = {**metric_params[column], **extra_params.get(column, {})}
            try:
                with nested_compute():  # thread-safe (a context variable), unlike warnings.catch_warnings
                    result = compute(specs[column].name, sub_stats.features, sub_stats.labels,
                                     source_probs=sub_probs, stats=sub_stats, **kwargs)
                out[column].append(result if math.isfinite(float(result.score)) else None)
            except Exception:  # noqa: BLE001 - a failed replicate is NaN, not a failed score
                out[column].append(None)
    return out, deletion


def _noise(spec, results: Mapping[str, MetricResult], replicates: Mapping[str, list], resampling: Resampling,
           signatures: Mapping[str, str | None], sizes: Mapping[str, tuple[int, int]],
           deletion: Mapping[str, bool] | None = None) -> ScoreNoise | None:
    """One column's :class:`ScoreNoise` from the full results and the subsets' results, pool-combining each
    subset (the same subset index across models) for pool-level metrics."""
    models = [m for m in results if m in replicates]
    if not models:
        return None
    r_count = resampling.n_replicates
    values = {m: np.full(r_count, np.nan) for m in models}
    for r in range(r_count):
        per_model = {m: replicates[m][r] for m in models if r < len(replicates[m]) and replicates[m][r] is not None}
        if spec.pool_combine is not None:
            if len(per_model) != len(models):
                continue  # a pool-level score needs the whole pool on this subset
            try:
                combined = spec.pool_combine(dict(per_model))
            except Exception:  # noqa: BLE001 - this subset gives no replicate
                continue
            for m in models:
                values[m][r] = float(combined[m])
        else:
            for m, result in per_model.items():
                values[m][r] = float(result.score)
    return ScoreNoise(estimate={m: float(results[m].score) for m in models}, replicates=values,
                      factor={m: resampling.variance_factor(*sizes[m]) for m in models},
                      signature={m: signatures.get(m) for m in models}, higher_is_better=spec.higher_is_better,
                      resampling=resampling, method=_method({bool((deletion or {}).get(m)) for m in models}))


def _method(deletion: set[bool]) -> str:
    """ScoreNoise.method from which models' subsets were scored by deletion replicates."""
    return "mixed" if len(deletion) > 1 else "deletion" if deletion == {True} else "refit"


def _score_in_threads(score, models: list[str], jobs: int) -> list[_ModelScores]:
    """``[score(model) for model in models]`` with ``jobs`` models at a time, in pool order. An error is raised
    for the first failing model in pool order, after the models already running have finished."""
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="rank_models")
    try:
        futures = [executor.submit(score, model) for model in models]
        return [future.result() for future in futures]
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
