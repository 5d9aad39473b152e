"""What a metric that wraps another (PED, FSP; the dynamics engine too) needs: the wrapped metric's registry entry
and parameters, checked once (:func:`resolve_wrapped_metric`), and its score on derived statistics
(:func:`score_derived`)."""

from __future__ import annotations

from ._contract import MetricResult, get_spec
from ._stats import ClassStats


def resolve_wrapped_metric(metric: str, metric_params, owner: str):
    """Registry entry and parameters of the metric that ``owner`` (PED, FSP) wraps; clear errors otherwise."""
    spec = get_spec(metric)
    if spec.wraps_metric:
        raise ValueError(
            f"{owner} cannot wrap {spec.name!r}, which itself wraps a metric; pick e.g. 'sfda' or 'logme'."
        )
    if spec.needs_source_probs:
        raise ValueError(
            f"{owner} moves the features, but {spec.name!r} scores the source model's probabilities, which do not "
            "move; pick a feature-based metric such as 'sfda', 'logme', 'nleep' or 'gbc'."
        )
    if metric_params is None:
        metric_params = {}
    if not isinstance(metric_params, dict):
        raise ValueError(
            f"metric_params must be a dict of {spec.name!r}'s parameters; got {type(metric_params).__name__}."
        )
    return spec, dict(metric_params)


def score_derived(spec, stats: ClassStats, params: dict) -> MetricResult:
    """The registered metric ``spec`` on derived statistics (:meth:`ClassStats.moved`) with ``params`` (already
    checked by a ``compute`` call with the same parameters on the unmoved features).

    Unlike ``compute`` this does not hand the metric ``stats.features``: metrics work from the derived
    statistics, and the moved rows [N, D] are materialised only if one reads ``stats.features`` itself.
    """
    return spec.fn(None, stats.labels, stats=stats, **params)
