"""The one contract every metric follows, and the registry the app, CLI and dynamics engine share."""

from __future__ import annotations

import contextvars
import dataclasses
import difflib
import inspect
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from ._degeneracy import DegenerateScoreWarning, in_sample_reason
from ._stats import ClassStats, ensure_stats
from ._validation import as_source_probs


@dataclass(frozen=True)
class MetricResult:
    """What every metric returns.

    score : float
        Higher = more transferable (for every registered metric).
    trace : dict
        Intermediates worth visualising (arrays and floats), named in the metric's docstring.
    degenerate : str or None
        None when the score is informative; otherwise one sentence saying why it is not (at or near a bound
        of the metric's range, or saturated) and the fix. Filled by :func:`compute` from the metric's
        ``MetricSpec.degeneracy`` check; a result built by calling a metric's function directly has None.
    """

    name: str
    score: float
    trace: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    degenerate: str | None = None

    @property
    def is_degenerate(self) -> bool:
        """True when the score is at/near a bound or saturated (see ``degenerate`` for why and the fix)."""
        return self.degenerate is not None


@dataclass(frozen=True)
class MetricSpec:
    """Registry entry of a metric.

    ``fn(features, labels, *, stats, **params) -> MetricResult`` is the module's public function.
    ``pool_combine``, when set, maps ``{model: MetricResult}`` to ``{model: float}`` for metrics whose
    final score depends on which models are ranked together (NCTI).
    ``saturation_hint``, when set, explains to the user why several models can tie exactly at the metric's
    bound and what to do about it (see :meth:`transvis.ranking.RankingTable.tied_scores`).
    ``degeneracy(result, stats) -> str | None``, when set, is the metric's own check of a score at or near a
    bound of its range (written next to its maths; O(C²) at most: it reads the score, the trace and the shape
    of ``stats``); it returns the reason and the fix, or None.
    ``fits_in_sample`` marks metrics that fit a class model (class means plus a within-class covariance or a
    whitening) on the very samples they score; for them :func:`compute` also flags N − C ≤ D (D: the trace's
    ``pca_dims`` when the metric reduced the features), where any labelling is separable in-sample.

    What the front ends (app, CLI) need to know about a metric is here too, so that adding a metric is its
    module alone:

    ``display_name`` is how the app labels the metric (tables, charts, widgets); ``short_name``, when set, a
    shorter label for running text (animation notes, the samples-per-dimension note; default: ``display_name``).
    ``opt_in``, when set, says why the metric is left out of the default set (:func:`default_metrics`: the
    Leaderboard's and the CLI's), e.g. its cost on real pools; the app does not estimate the noise of opt-in
    metrics. ``in_sample_posteriors`` marks metrics whose score is a mean of class posteriors of an LDA fitted
    on the very samples they score (SFDA, PED wrapping it, NCM softmax): optimistic with few samples per
    dimension, so the Leaderboard notes (N − C)/D < 2 (``transvis.session.in_sample_note``). It is a different
    fact from ``fits_in_sample`` (the contract's N − C ≤ D degeneracy check, which also covers metrics fitting
    a class model without posteriors, e.g. H-score, NC, and which leaves out NCM softmax and the wrapper PED,
    whose checks are their own). ``pool_note``, for ``pool_combine`` metrics, says how the pool enters the
    score (shown where the metric is ranked).
    """

    name: str
    fn: Callable[..., MetricResult]
    summary: str
    citation: str
    needs_source_probs: bool = False
    scale_invariant: bool = False
    higher_is_better: bool = True
    variants: tuple[str, ...] = ()
    default_variant: str | None = None
    wraps_metric: bool = False
    stochastic: bool = False
    pool_combine: Callable[[dict[str, MetricResult]], dict[str, float]] | None = None
    aliases: tuple[str, ...] = ()
    saturation_hint: str | None = None  # why scores can tie at the metric's bound, and the fix (shown on ties)
    degeneracy: Callable[[MetricResult, ClassStats], str | None] | None = None
    fits_in_sample: bool = False
    display_name: str = ""  # the app's label ("" only for ad-hoc specs: the name is used)
    short_name: str | None = None  # a shorter label for running text (None: display_name)
    opt_in: str | None = None  # why the metric is not in the default set (None: it is)
    in_sample_posteriors: bool = False  # mean in-sample LDA posteriors: optimistic with few samples per dimension
    pool_note: str | None = None  # how pool_combine uses the pool, in plain words
    deletion_replicates: Callable[..., Any] | None = None  # subset scores without a refit (noise estimate)

    @property
    def params(self) -> tuple[str, ...]:
        """Keyword parameters the metric accepts (beyond features, labels and stats)."""
        sig = inspect.signature(self.fn)
        skip = {"features", "labels", "stats", "source_probs"}
        return tuple(
            p.name for p in sig.parameters.values()
            if p.kind is p.KEYWORD_ONLY and p.name not in skip
        )


_REGISTRY: dict[str, MetricSpec] = {}
_ALIASES: dict[str, str] = {}


def register(spec: MetricSpec) -> MetricSpec:
    """Add a metric to the registry (called once at import by each metric module)."""
    for key in (spec.name, *spec.aliases):
        if key in _REGISTRY or key in _ALIASES:
            raise ValueError(f"metric name {key!r} is registered twice")
    _REGISTRY[spec.name] = spec
    for alias in spec.aliases:
        _ALIASES[alias] = spec.name
    return spec


def available() -> list[str]:
    """Names of all registered metrics, sorted."""
    return sorted(_REGISTRY)


def specs() -> list[MetricSpec]:
    """Every registered spec, in the order of :func:`available` (sorted by name)."""
    return [_REGISTRY[name] for name in available()]


def default_metrics() -> list[str]:
    """The metrics ranked when none are chosen (the app's Leaderboard and the CLI): every registered one but
    the opt-in (``MetricSpec.opt_in``), sorted by name."""
    return [spec.name for spec in specs() if spec.opt_in is None]


def opt_in_metrics() -> list[str]:
    """The registered metrics left out of :func:`default_metrics` (``MetricSpec.opt_in`` says why)."""
    return [spec.name for spec in specs() if spec.opt_in is not None]


def in_sample_posterior_metrics() -> list[str]:
    """The registered metrics scoring mean in-sample LDA posteriors (``MetricSpec.in_sample_posteriors``)."""
    return [spec.name for spec in specs() if spec.in_sample_posteriors]


def display_name(name: str) -> str:
    """The app's label of a registered metric name (``MetricSpec.display_name``); any other string (a column
    such as "mean rank", an alias) is returned unchanged."""
    spec = _REGISTRY.get(name)
    return name if spec is None else spec.display_name or spec.name


def short_name(name: str) -> str:
    """A registered metric's label for running text (``MetricSpec.short_name``, else its display name); any
    other string is returned unchanged."""
    spec = _REGISTRY.get(name)
    return name if spec is None else spec.short_name or spec.display_name or spec.name


def get_spec(name: str) -> MetricSpec:
    """Registry entry for a metric name or alias (case-insensitive); unknown names get suggestions."""
    if not isinstance(name, str):
        raise ValueError(f"metric name must be a string; got {type(name).__name__}.")
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list(_REGISTRY) + list(_ALIASES), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown metric {name!r}.{hint} Available: {', '.join(available())}.")
    return _REGISTRY[key]


def assess(spec: MetricSpec, result: MetricResult, stats: ClassStats) -> str | None:
    """Why ``result`` (of the metric ``spec`` on ``stats``) is degenerate, with the fix; None when it is not.

    The metric's own ``degeneracy`` check first (the more specific reason), then the contract-level N − C ≤ D
    check of ``fits_in_sample`` metrics. Cheap: no pass over the samples.
    """
    reason = spec.degeneracy(result, stats) if spec.degeneracy is not None else None
    if reason is None and spec.fits_in_sample:
        reason = in_sample_reason(spec.display_name or spec.name, result, stats)
    return reason


def wrapped_degeneracy(owner: str, result: MetricResult, stats: ClassStats, *, dims: int | None = None) -> str | None:
    """The check of a wrapper (PED, FSP): the wrapped metric's checks on the wrapped score and trace.

    ``result.params`` names the wrapped metric (``metric``) and its parameters (``metric_params``);
    ``result.trace["wrapped_trace"]`` is its trace on the moved features. ``dims``: the dimension the wrapped
    metric scored in when the wrapper reduced the features (FSP's PCA space).
    """
    metric = result.params.get("metric")
    if metric is None:
        return None
    spec = get_spec(metric)
    metric_params = dict(result.params.get("metric_params") or {})
    wrapped = result.trace.get("wrapped_trace") or {}
    # a lazy trace (LogME's closed form) stays lazy: its checks read only the keys they need
    trace = {**wrapped, "pca_dims": int(dims)} if dims is not None and "pca_dims" not in wrapped else wrapped
    inner = MetricResult(spec.name, result.score, trace, variant=metric_params.get("variant"), params=metric_params)
    reason = assess(spec, inner, stats)
    return None if reason is None else f"{owner} scores with {spec.name}, and {reason}"


# Depth of nested ``compute`` calls in this context (PED and FSP call ``compute`` for the wrapped metric): only
# the outermost call warns, so one user call gives at most one DegenerateScoreWarning.
_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("transvis_compute_depth", default=0)


class nested_compute:  # noqa: N801 - used as a context manager
    """``with nested_compute(): compute(...)``: the calls inside fill ``degenerate`` but do not warn (a wrapper
    such as PED scoring its wrapped metric; the wrapper's own result carries the verdict)."""

    def __enter__(self):
        self._token = _DEPTH.set(_DEPTH.get() + 1)
        return self

    def __exit__(self, *exc):
        _DEPTH.reset(self._token)
        return False


def check_params(spec: MetricSpec, params) -> None:
    """The parameter checks of :func:`compute`: every name one of ``spec.params``, a ``variant`` one of
    ``spec.variants``. Front ends call it up front so a typo fails fast instead of once per model."""
    unknown = set(params) - set(spec.params)
    if unknown:
        accepted = ", ".join(spec.params) or "none"
        raise ValueError(
            f"metric {spec.name!r} has no parameter(s) {sorted(unknown)}; it accepts: {accepted}."
        )
    variant = params.get("variant")
    if variant is not None and spec.variants and variant not in spec.variants:
        raise ValueError(
            f"metric {spec.name!r} has no variant {variant!r}; choose one of {', '.join(spec.variants)}."
        )


def compute(
    name: str,
    features,
    labels,
    *,
    source_probs=None,
    stats: ClassStats | None = None,
    backend="auto",
    device=None,
    **params,
) -> MetricResult:
    """Compute one registered metric.

    Parameters
    ----------
    name : registered metric name or alias (see :func:`available`).
    features : array [N, D]; labels : int array [N] in 0..C-1.
    source_probs : array [N, Cs], softmax of the source head (only for metrics that need it; ignored
        by the others so one call signature serves a whole table).
    stats : a :class:`ClassStats` of these arrays to share statistics between metrics.
    backend, device : where the heavy linear algebra runs (``"auto"``, ``"numpy"``, ``"torch"``).
    **params : the metric's own parameters, e.g. ``variant="official_fixed_point"``.

    Degenerate scores: the result's ``degenerate`` is set by the metric's checks (:func:`assess`) and one
    :class:`DegenerateScoreWarning` naming the metric, the reason and the fix is emitted (``stacklevel=2``:
    attributed to the caller). Nested calls (a wrapper scoring its wrapped metric) set ``degenerate`` but do
    not warn. Features of extreme magnitude (largest |x| outside [2^-64, 2^64]) are divided by a power of two
    before the maths (``ClassStats.rescaled``); the trace then carries ``feature_scale``, the divisor.
    """
    spec = get_spec(name)
    check_params(spec, params)
    stats = ensure_stats(features, labels, stats, backend=backend, device=device)
    if spec.needs_source_probs:
        params["source_probs"] = as_source_probs(source_probs, stats.n_samples)
    token = _DEPTH.set(_DEPTH.get() + 1)
    try:
        result = spec.fn(stats.features, stats.labels, stats=stats, **params)
    finally:
        _DEPTH.reset(token)
    if stats.extreme_scale != 1.0 and isinstance(result.trace, dict):
        result.trace["feature_scale"] = stats.extreme_scale  # traces are in units of features / feature_scale
    reason = assess(spec, result, stats)
    if reason is None:
        return result
    result = dataclasses.replace(result, degenerate=reason)
    if _DEPTH.get() == 0:
        warnings.warn(DegenerateScoreWarning(f"degenerate {spec.name} score: {reason}"), stacklevel=2)
    return result


def compute_many(names, features, labels, *, source_probs=None, params=None, backend="auto", device=None):
    """Compute several metrics on one feature set, sharing one :class:`ClassStats`.

    ``params`` maps a metric name to its keyword parameters. Returns ``{name: MetricResult}``.
    """
    params = params or {}
    stats = ClassStats(features, labels, backend=backend, device=device)
    return {
        name: compute(name, stats.features, stats.labels, source_probs=source_probs, stats=stats,
                      **params.get(name, {}))
        for name in names
    }
