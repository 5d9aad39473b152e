"""LEEP: Log Expected Empirical Prediction (Nguyen, Hassner, Seeger, Archambeau, ICML 2020).

The source model's softmax θ(x) over its own C_s classes is turned into a classifier of the C_t target
classes through the empirical conditional P(y | z):

    P(y, z) = (1/N) Σ_{i: y_i = y} θ_z(x_i)                  joint [C_t, C_s]
    P(y | z) = P(y, z) / Σ_y' P(y', z)                       conditional [C_t, C_s]
    LEEP    = (1/N) Σ_i log Σ_z P(y_i | z) θ_z(x_i)

It uses only the source probabilities, not the features.
"""

from __future__ import annotations

import numpy as np

from ._contract import MetricResult, MetricSpec, register
from ._degeneracy import fmt, label_entropy, near
from ._stats import ensure_stats
from ._validation import as_source_probs


def source_joint(source_probs: np.ndarray, stats) -> np.ndarray:
    """Empirical joint P(y, z) [C_t, C_s] of target labels and soft source predictions (sums to 1)."""
    return np.asarray(stats.indicator @ source_probs) / stats.n_samples


def conditional_given_source(joint: np.ndarray) -> np.ndarray:
    """P(y | z) [C_t, C_s] from a joint [C_t, C_s]; source classes that never occur get a zero column."""
    marginal = joint.sum(axis=0)
    safe = np.where(marginal > 0, marginal, 1.0)
    return joint / safe


def leep(features, labels, *, source_probs=None, stats=None) -> MetricResult:
    """LEEP of the source model's softmax ``source_probs`` [N, C_s] for target ``labels`` [N].

    ``features`` [N, D] are not used by the formula (they only fix N and validate the call).
    Matches thuml/LogME ``LEEP(pseudo_source_label, target_label)`` (and TLlib ``log_expected_empirical_
    prediction``): the log of the expected empirical prediction, averaged over samples. (The SFDA-family
    ``LEEP(X, y, model_name)`` drops the log; that variant is not offered.) A source class z whose
    probability is 0 for every sample (possible only after underflow) gets P(y|z) = 0 instead of the
    official 0/0 = NaN; it contributes nothing either way.

    Score: higher = the source predictions explain the target labels better (≤ 0).

    Degenerate (``compute`` flags it): within a relative 1e-6 of 0 (the source head predicts the target labels
    with certainty) or of −H(labels) = log(1/C) for balanced classes (its predictions are independent of
    the target labels).

    trace: ``p_target_given_source`` [C_t, C_s] (the empirical conditional P(y|z)), ``joint`` [C_t, C_s],
    ``expected_prob`` [N] (the empirical prediction of each sample's own label),
    ``per_class_log_likelihood`` [C_t] (class means of its log).
    """
    stats = ensure_stats(features, labels, stats)
    probs = as_source_probs(source_probs, stats.n_samples)
    joint = source_joint(probs, stats)
    cond = conditional_given_source(joint)
    # Σ_z θ_z(x_i) P(y_i | z), without forming the [N, C_t] prediction matrix.
    expected = np.einsum("iz,iz->i", probs, cond[stats.labels])
    # Each sample contributes θ(x_i) to its own joint row, so `expected` > 0 unless everything underflows.
    log_expected = np.log(np.maximum(expected, np.finfo(float).tiny))
    per_class = np.bincount(stats.labels, weights=log_expected, minlength=stats.n_classes) / stats.counts
    return MetricResult(
        "leep",
        float(log_expected.mean()),
        {
            "p_target_given_source": cond,
            "joint": joint,
            "expected_prob": expected,
            "per_class_log_likelihood": per_class,
        },
    )


def leep_degeneracy(result: MetricResult, stats) -> str | None:
    """LEEP at −H(labels) (uninformative source head) or at 0 (certain, exact prediction of the labels)."""
    entropy = label_entropy(stats.priors)
    score = result.score
    if near(score, -entropy, entropy):
        return (f"LEEP is {fmt(score)} = −H(labels) (log(1/C) for balanced classes), its no-information value: the "
                "source head's predictions are independent of the target labels (e.g. it predicts the same "
                "distribution for every sample), so it cannot rank models. Check the source_probs (softmax of the "
                "right head, rows aligned with the labels) or use a feature-based metric.")
    if near(score, 0.0, entropy):
        return (f"LEEP is {fmt(score)}, at its maximum 0 (saturated): the source head predicts every target label "
                "with certainty, so the score cannot order such models. Score a harder target set.")
    return None


register(MetricSpec(
    name="leep", fn=leep,
    display_name="LEEP",
    summary="Log-likelihood of the target labels under the source head's predictions mapped through P(y|z).",
    citation="Nguyen, Hassner, Seeger, Archambeau, LEEP: A New Measure to Evaluate Transferability of "
             "Learned Representations, ICML 2020",
    needs_source_probs=True,
    scale_invariant=True,  # the features do not enter the formula
    degeneracy=leep_degeneracy,
))
