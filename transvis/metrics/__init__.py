"""Transferability metrics: one module per metric, one contract, one registry.

    from transvis.metrics import compute, available
    result = compute("sfda", features, labels)      # features [N, D], labels [N] in 0..C-1
    result.score, result.trace
    result.degenerate     # None, or why the score is at/near a bound of its range and the fix
                          # (compute also emits a DegenerateScoreWarning then)

Every module in this package whose name does not start with ``_`` registers its metric(s) on import.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._contract import (
    MetricResult,
    MetricSpec,
    available,
    compute,
    compute_many,
    default_metrics,
    display_name,
    get_spec,
    in_sample_posterior_metrics,
    opt_in_metrics,
    register,
    short_name,
    specs,
)
from ._degeneracy import DegenerateScoreWarning
from ._stats import ClassStats, ensure_stats

__all__ = [
    "ClassStats",
    "DegenerateScoreWarning",
    "MetricResult",
    "MetricSpec",
    "available",
    "compute",
    "compute_many",
    "default_metrics",
    "display_name",
    "ensure_stats",
    "get_spec",
    "in_sample_posterior_metrics",
    "opt_in_metrics",
    "register",
    "short_name",
    "specs",
]

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
