"""NCE: Negative Conditional Entropy (Tran, Nguyen, Hassner, ICCV 2019).

The source model's hard predictions z_i = argmax θ(x_i) and the target labels y_i form an empirical joint
P(y, z); NCE is the negative conditional entropy of the target labels given the source label:

    NCE = −H(Y | Z) = Σ_z P(z) Σ_y P(y | z) log P(y | z)

It is 0 when every source class maps to a single target class, and −log C_t at worst.
"""

from __future__ import annotations

import numpy as np
import scipy.special

from ._contract import MetricResult, MetricSpec, register
from ._degeneracy import fmt, label_entropy, near
from ._stats import ensure_stats
from ._validation import as_source_probs
from .leep import conditional_given_source


def nce(features, labels, *, source_probs=None, stats=None) -> MetricResult:
    """NCE of the source model's hard labels ``argmax(source_probs)`` [N, C_s] for target ``labels`` [N].

    ``features`` [N, D] are not used by the formula. Ties in the argmax go to the first (lowest) source
    index, as ``np.argmax`` does. Matches thuml/LogME ``NCE(np.argmax(P, 1), y)``; the official code adds
    1e-20 inside the log of the observed source classes, which changes the value by < 1e-17 per entry
    and is not replicated (0·log 0 = 0 here).

    Score: higher = the source labels determine the target labels better (≤ 0).

    Degenerate (``compute`` flags it): within a relative 1e-6 of 0 (the source labels determine the target
    labels) or of −H(labels) (they are independent of them, e.g. one source class for every sample).

    trace: ``joint`` [C_t, C_s] (empirical joint of target and hard source labels),
    ``p_target_given_source`` [C_t, C_s], ``source_marginal`` [C_s] P(z),
    ``entropy_given_source`` [C_s] H(Y | Z = z), ``source_labels`` [N] the argmax.
    """
    stats = ensure_stats(features, labels, stats)
    probs = as_source_probs(source_probs, stats.n_samples)
    n_source = probs.shape[1]
    hard = probs.argmax(axis=1)
    counts = np.bincount(stats.labels * n_source + hard, minlength=stats.n_classes * n_source)
    joint = counts.reshape(stats.n_classes, n_source) / stats.n_samples
    cond = conditional_given_source(joint)
    marginal = joint.sum(axis=0)
    entropy = -scipy.special.xlogy(cond, cond).sum(axis=0)
    score = -float(marginal @ entropy)
    return MetricResult(
        "nce",
        score,
        {
            "joint": joint,
            "p_target_given_source": cond,
            "source_marginal": marginal,
            "entropy_given_source": entropy,
            "source_labels": hard,
        },
    )


def nce_degeneracy(result: MetricResult, stats) -> str | None:
    """NCE at 0 (source labels determine target labels) or at −H(labels) (independent of them)."""
    entropy = label_entropy(stats.priors)
    score = result.score
    if near(score, 0.0, entropy):
        return (f"NCE is {fmt(score)}, at its maximum 0 (saturated): the source head's hard labels determine the "
                "target labels (each source class maps to one target class), so the score cannot order such "
                "models. Score a harder target set, or use LEEP, which also weighs the confidence.")
    if near(score, -entropy, entropy):
        return (f"NCE is {fmt(score)} = −H(labels), its minimum: the source head's hard labels are independent of "
                "the target labels (e.g. it predicts one source class for every sample), so they say nothing about "
                "them. Check the source_probs or use a feature-based metric.")
    return None


register(MetricSpec(
    name="nce", fn=nce,
    display_name="NCE",
    summary="Negative conditional entropy of the target labels given the source head's hard predictions.",
    citation="Tran, Nguyen, Hassner, Transferability and Hardness of Supervised Classification Tasks, ICCV 2019",
    needs_source_probs=True,
    scale_invariant=True,  # the features do not enter the formula
    degeneracy=nce_degeneracy,
))
