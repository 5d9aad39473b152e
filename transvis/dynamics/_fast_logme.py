"""LogME of every frame of a per-class affine trajectory without one eigendecomposition per frame: the engine's
closed-form frame scorer over :func:`transvis.metrics._logme_affine.logme_low_rank` (the formulas are there),
from each model's within-class eigendecomposition, decomposed once per model. Valid when N > D (LogME's XᵀX
path); the engine uses the registry otherwise, and whenever this would be slower (many classes relative to D).
"""

from __future__ import annotations

import numpy as np

from transvis.metrics import MetricResult
from transvis.metrics import logme as _logme

from ._context import AffineFrame, ModelContext
from ._spec import ClosedFormScorer, register_closed_form
from transvis.metrics._logme_affine import logme_low_rank

VARIANTS = _logme.VARIANTS


def applicable(context: ModelContext, variant: str, n_frames: int) -> bool:
    """Whether the closed form applies (N > D) and beats one LogME per frame (~9·D³ flops each)."""
    n, d, c = context.n_samples, context.n_dims, context.stats.n_classes
    if variant not in VARIANTS or n <= d:
        return False
    setup = 9.0 * d**3 + 2.0 * n * d * d  # one eigh + the within Gram, once per model
    per_frame_fast = 2.0 * (_logme.MAX_ITERATIONS + 2) * c**3 * d * 3 + 2.0 * c * d * d
    per_frame_registry = 9.0 * d**3 + 2.0 * c * d * d
    return setup + n_frames * per_frame_fast < n_frames * per_frame_registry + 2.0 * n * d * d


def logme_frames(frames: list[AffineFrame], variant: str) -> list[MetricResult | None]:
    """LogME of each affine frame (all of one context); None where the closed form does not apply."""
    if not frames:
        return []
    context = frames[0].context
    values, vectors = context.within_eigh
    stats = context.stats
    base_rows = context.cached("logme_base_rows", lambda: stats.class_means @ vectors)  # [C, D]
    sqrt_counts = np.sqrt(stats.counts.astype(np.float64))[:, None]
    projected = {}  # direction @ Q, once per distinct direction
    out = []
    for frame in frames:
        rows = base_rows
        if frame.shift is not None:
            key = id(frame.direction)
            if key not in projected:
                projected[key] = frame.direction @ vectors
            rows = base_rows + frame.amount * projected[key]
        out.append(logme_low_rank(frame.scale**2 * values, rows * sqrt_counts, stats.counts, stats.n_samples, variant,
                                  basis=vectors))
    return out


# LogME's closed-form frame scorer (the engine looks it up by the metric's registered name). The module's
# functions are looked up at call time, so replacing ``applicable`` (tests force the closed form) takes effect.
register_closed_form("logme", ClosedFormScorer(
    applicable=lambda context, variant, n_frames: applicable(context, variant, n_frames),
    score_frames=lambda frames, variant: logme_frames(frames, variant),
    description="exact low-rank LogME update, equal to the registry"))
