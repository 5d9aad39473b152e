"""LogME of every frame of a per-class affine trajectory without one eigendecomposition per frame.

LogME (You et al., ICML 2021; :mod:`transvis.metrics.logme`) depends on the features F [N, D] only through the
spectrum σ of FᵀF and the projections z of the one-vs-rest targets. For a frame ``x'_i = m'_c + a·r_i``
(class means m'_c, within-class residuals r_i of the unperturbed features scaled by a):

    F'ᵀF' = a² Σ_i r_i r_iᵀ + Σ_c n_c m'_c m'_cᵀ = Q (a²Λ + B Bᵀ) Qᵀ,    B = Qᵀ [√n_c m'_c]_c  [D, C]

with Σ r rᵀ = QΛQᵀ decomposed **once per model**. Every quantity of LogME's fixed-point iteration is a
spectral sum of A = a²Λ + BBᵀ, a diagonal plus a rank-C term, evaluated exactly through the C×C matrix
``S_t = I + Bᵀ(a²Λ + tI)⁻¹B`` (Woodbury and the matrix-determinant lemma), for class c with e_c = √n_c·1_c:

    φ(t)  = e_cᵀ S_t⁻¹ e_c = residual0 + Σ z² t/(σ+t)        ‖m‖² = Σ σz²/(σ+t)² = ‖(a²Λ+tI)⁻¹ B S_t⁻¹ e_c‖²
    ‖Fm − y_c‖² = φ(t) − t‖m‖²                              γ = Σ a²λ/(a²λ+t) + t·tr(S_t⁻¹ Bᵀ(a²Λ+tI)⁻² B)
    log det(αI + βFᵀF) = D log β + Σ log(a²λ + t) + log det S_t,      t = α/β

so a frame costs O(iterations·C³·D) instead of O(N·D² + D³). The iteration, its stopping rules, the 1e-5
guards and the three variants are those of :func:`transvis.metrics.logme.logme` (tests assert equality with
``compute("logme", frame_features, labels)``). Valid when N > D (LogME's XᵀX path); the engine uses the
registry otherwise, and whenever this would be slower (many classes relative to D).
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
