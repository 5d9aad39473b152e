"""The one contract every metric follows, and the registry the app, CLI and dynamics engine share."""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from ._stats import ClassStats, ensure_stats
from ._validation import as_source_probs


@dataclass(frozen=True)
class MetricResult:
    """What every metric returns.

    score : float
        Higher = more transferable (for every registered metric).
    trace : dict
        Intermediates worth visualising (arrays and floats), named in the metric's docstring.
    """

    name: str
    score: float
    trace: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricSpec:
    """Registry entry of a metric.

    ``fn(features, labels, *, stats, **params) -> MetricResult`` is the module's public function.
    ``pool_combine``, when set, maps ``{model: MetricResult}`` to ``{model: float}`` for metrics whose
    final score depends on which models are ranked together (NCTI).
    ``saturation_hint``, when set, explains to the user why several models can tie exactly at the metric's
    bound and what to do about it (see :meth:`transvis.ranking.RankingTable.tied_scores`).
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
    """
    spec = get_spec(name)
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
    stats = ensure_stats(features, labels, stats, backend=backend, device=device)
    if spec.needs_source_probs:
        params["source_probs"] = as_source_probs(source_probs, stats.n_samples)
    return spec.fn(stats.features, stats.labels, stats=stats, **params)


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
