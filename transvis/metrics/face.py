"""FaCe, "Fair Collapse" (Ding, Jiang, Sheng, Zheng, Liang, arXiv 2310.05754) — a RECONSTRUCTION.

No official code or formula of FaCe is public (ALGORITHMS.md §3). The abstract says FaCe adds a
*variance-collapse term* ("class separation and within-class compactness") and a *class-fairness term*
("fairness of the pre-trained model towards each class"), motivated by the NC1 neural-collapse metric.
This module builds that shape from the neural-collapse geometry of :mod:`transvis.metrics.nc`; the
exact published formulas, weights and normalisation are unknown, so its values will not match the paper.

In the Σ_B⁺-whitened discriminant space (rank r ≤ C−1, Σ_B = (1/C) M̃ᵀM̃ as in NC1):

    b_c = ‖Σ_B^{+½} (μ_c − μ_G)‖²                            separation of class c   (mean_c b_c = r)
    w_c = mean_{i∈c} ‖Σ_B^{+½} (x_i − μ_c)‖²                 spread of class c       (Σ_c π_c w_c = C·NC1)
    κ_c = b_c / (b_c + w_c) ∈ [0, 1]                        per-class collapse ratio
    variance_collapse = r / (r + C·NC1) ∈ [0, 1]            between share of the whitened variance
    fairness = −2 · std_c(κ_c) ∈ [−1, 0]                    0 when every class is equally collapsed
    FaCe = variance_collapse + fairness_weight · fairness
"""

from __future__ import annotations

import numpy as np

from ._contract import MetricResult, MetricSpec, register
from ._degeneracy import REL_TOL, fmt
from ._stats import metric_stats
from .nc import collapse_geometry, nc1_from_geometry


def face(features, labels, *, stats=None, fairness_weight: float = 1.0) -> MetricResult:
    """FaCe-style score of features [N, D] for labels [N]: **a documented reconstruction**, not the paper's.

    See the module docstring for the formulas. Both terms are scale invariant (they live in the
    Σ_B⁺-whitened space) and bounded: variance_collapse ∈ [0, 1] rises as classes separate and compact
    (a monotone transform of NC1), fairness ∈ [−1, 0] falls as the per-class collapse ratios κ_c spread
    apart (a model that collapses some classes and not others). Score ∈ [−w, 1] for weight w ≥ 0;
    higher = more transferable. With all class means equal (no separation) every term is 0.
    Features of extreme magnitude (outside [2^-64, 2^64]) are divided by a power of two first (same score).

    Degenerate (``compute`` flags it): variance_collapse within 1e-6 of 1 (no within-class spread) or of 0
    (class means coincide), and (contract-level) N − C ≤ D, where even pure noise looks collapsed.

    Reference: Ding et al., "Unleashing the power of Neural Collapse for Transferability Estimation",
    arXiv 2310.05754 (formulas unpublished in code; UNVERIFIED against the paper text).

    trace: ``variance_collapse``, ``fairness``, ``fairness_weight``, ``nc1``, ``class_collapse`` [C] κ_c,
    ``class_separation`` [C] b_c, ``class_spread`` [C] w_c, ``least_collapsed_class`` (argmin κ),
    ``reconstruction`` (True: a reminder that this is not the published formula).
    """
    weight = float(fairness_weight)
    if not np.isfinite(weight) or weight < 0:
        raise ValueError(f"fairness_weight must be a finite non-negative number; got {fairness_weight!r}.")
    stats = metric_stats(features, labels, stats)
    geometry = collapse_geometry(stats)
    nc1, _ = nc1_from_geometry(geometry, stats)
    rank = geometry.eigenvalues.size
    separation = geometry.mean_energy
    spread = np.bincount(stats.labels, weights=geometry.within_energy, minlength=stats.n_classes) / stats.counts
    total = separation + spread
    collapse = np.divide(separation, total, out=np.zeros_like(total), where=total > 0)
    if rank == 0:
        variance_collapse = 0.0
    else:
        within = float(geometry.within_energy.mean())  # = C·NC1 = tr(Σ_W Σ_B⁺)
        variance_collapse = rank / (rank + within)
    fairness = -2.0 * float(collapse.std()) + 0.0  # + 0.0: no negative zero
    return MetricResult(
        "face",
        float(variance_collapse + weight * fairness),
        {
            "variance_collapse": float(variance_collapse),
            "fairness": fairness,
            "fairness_weight": weight,
            "nc1": nc1,
            "class_collapse": collapse,
            "class_separation": separation,
            "class_spread": spread,
            "least_collapsed_class": int(np.argmin(collapse)),
            "reconstruction": True,
        },
        params={"fairness_weight": weight},
    )


def face_degeneracy(result: MetricResult, stats) -> str | None:
    """The variance-collapse term within 1e-6 of 1 (no within-class spread) or of 0 (coinciding means)."""
    collapse = float(result.trace.get("variance_collapse", 0.5))
    if collapse >= 1.0 - REL_TOL:
        return (f"FaCe is {fmt(result.score)} with its variance-collapse term at its maximum 1: the classes have no "
                "within-class spread along the discriminant directions, so the score cannot order such models. "
                "Check for duplicated samples or score a harder target set.")
    if collapse <= REL_TOL:
        return (f"FaCe is {fmt(result.score)} with its variance-collapse term at its minimum 0: the class means "
                "coincide, so the features carry no class information. Check the extraction layer and the labels.")
    return None


register(MetricSpec(
    name="face", fn=face, aliases=("fair_collapse",),
    display_name="FaCe",
    summary="RECONSTRUCTION of FaCe (no public code): neural-collapse variance-collapse term plus a "
            "class-fairness term (negative spread of per-class collapse ratios).",
    citation="Ding, Jiang, Sheng, Zheng, Liang, Unleashing the power of Neural Collapse for Transferability "
             "Estimation, arXiv 2310.05754 (reconstructed, not the published formula)",
    scale_invariant=True,
    degeneracy=face_degeneracy,
    fits_in_sample=True,
))
