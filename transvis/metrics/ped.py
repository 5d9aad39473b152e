"""PED: Potential Energy Decline (Li et al., ICCV 2023), a feature-dynamics wrapper around another metric.

Li et al., "Exploring Model Transferability through the Lens of Potential Energy", ICCV 2023.
Official code: ``lixiaotong97/PED:metrics.py`` (``One_Step_PED``, ``PED_Score``), commit e5af6e7.

Classes whose clusters overlap repel each other, as if the features relaxed towards a lower potential
energy during fine-tuning; the wrapped metric (SFDA by default) then scores the moved features. One step,
in the space standardised by a reference set G (the same model's ImageNet-val features in the paper):

    Z = (X − mean(G)) / max(std(G), eps)                      per dimension
    μ_c = class mean of Z,  R_c = sqrt(Σ_d Var_c(Z_d))        (RMS radius; unchanged by translation)
    F_ij = max(nσ (R_i + R_j) − ‖μ_i − μ_j‖, 0)              overlap "force" of each pair
    s_ij = min(½ Δt² k F_ij, F_ij)                            displacement magnitude (k = ``constant``)
    Δ_i = Σ_{j≠i} s_ij (μ_i − μ_j) / ‖μ_i − μ_j‖               every sample of class i moves by Δ_i
    position change = Σ_{i,d} |Δ_{i,d}|                        (L1, standardised space)

The outer loop takes at most 6 steps; a step is applied only while its position change divided by the
first step's exceeds ``exit_ratio`` (the rejected step is still reported). With no overlapping pair the
first change is 0, the official ratio is 0/0 = NaN and the features stay unchanged.

Only the class centres move (rigidly), so the whole trajectory is computed on the C×D centres: O(N·D) for
the statistics plus O(C²·D) per step, without the official C×C×D tensor. For the same reason the wrapped
metric scores the moved features through statistics derived from the shared ones
(:meth:`ClassStats.moved`: same within-class scatter, shifted class means), and the score on the unmoved
features is the shared, memoised one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.spatial.distance

from ._contract import MetricResult, MetricSpec, compute, nested_compute, register, wrapped_degeneracy
from ._stats import ClassStats, ensure_stats, metric_stats
from ._validation import as_features
from ._wrapped import resolve_wrapped_metric, score_derived

REFERENCE_OFFICIAL = "reference features"
REFERENCE_SELF = "target features (deviation from official PED)"


# -- building blocks shared with FSP -------------------------------------------------------------------
def class_radii(stats: ClassStats, scale: np.ndarray | None = None) -> np.ndarray:
    """RMS distance of each class to its centroid, ``R_c = sqrt(Σ_d Var_c(X_d / scale_d))`` [C] (population var)."""
    variances = stats.class_variances  # shared [C, D], one blockwise pass over the residuals
    if scale is not None:
        variances = variances / np.asarray(scale, dtype=np.float64) ** 2
    return np.sqrt(variances.sum(axis=1))


def centre_distances(centres: np.ndarray) -> np.ndarray:
    """Euclidean distances between class centres [C, C] (computed pairwise, no cancellation)."""
    return scipy.spatial.distance.cdist(centres, centres)


def pairwise_displacement(centres: np.ndarray, amount: np.ndarray, distances: np.ndarray | None = None) -> np.ndarray:
    """``Δ_i = Σ_{j≠i} amount_ij (μ_i − μ_j)/‖μ_i − μ_j‖`` [C, D] for centres [C, D], amounts [C, C].

    Positive amounts push i away from j. Pairs with coincident centres (direction undefined; the official
    code produces NaN) contribute nothing. Accumulated as ``(W·1) μ − W μ`` with ``W_ij = amount_ij/d_ij``,
    on centres shifted to their mean (translation invariant, better conditioned), never as a C×C×D tensor.
    """
    centres = np.asarray(centres, dtype=np.float64)
    if distances is None:
        distances = centre_distances(centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(distances > 0, np.asarray(amount, dtype=np.float64) / distances, 0.0)
    np.fill_diagonal(weights, 0.0)
    shifted = centres - centres.mean(axis=0)
    return weights.sum(axis=1)[:, None] * shifted - weights @ shifted


def overlap_forces(centres: np.ndarray, radii: np.ndarray, nsigma: float,
                   distances: np.ndarray | None = None) -> np.ndarray:
    """PED's pairwise overlap ``F_ij = max(|nσ| (R_i + R_j) − d_ij, 0)`` [C, C], zero diagonal."""
    if distances is None:
        distances = centre_distances(centres)
    force = np.maximum(abs(nsigma) * (radii[:, None] + radii[None, :]) - distances, 0.0)
    np.fill_diagonal(force, 0.0)
    return force


# -- the trajectory --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PEDStep:
    """One call of the official ``One_Step_PED`` (accepted or not).

    centres_std [C, D]: class centres *before* the step, standardised space; displacement [C, D]: Δ in
    that space; overlap [C, C]: F_ij; position_change: Σ|Δ|; ratio: position_change / first change (None when
    the first change is 0); accepted: whether the loop applied it.
    """

    index: int
    centres_std: np.ndarray
    overlap: np.ndarray
    displacement: np.ndarray
    position_change: float
    ratio: float | None
    accepted: bool
    offset: np.ndarray
    scale: np.ndarray

    @property
    def centres(self) -> np.ndarray:
        """Class centres before the step in the original feature space [C, D]."""
        return self.centres_std * self.scale + self.offset

    @property
    def centres_after_std(self) -> np.ndarray:
        """Class centres after the step, standardised space [C, D] (as if accepted)."""
        return self.centres_std + self.displacement

    @property
    def centres_after(self) -> np.ndarray:
        """Class centres after the step in the original space [C, D] (as if accepted)."""
        return self.centres_after_std * self.scale + self.offset


@dataclass(frozen=True)
class PEDTrajectory:
    """Every step PED takes on one feature set (see :func:`ped_trajectory`).

    steps: every call of one step, including the rejected last one; radii [C] (standardised space);
    offset [D] and scale [D]: the standardisation ``Z = (X − offset)/scale``; reference: which features
    defined it; features [N, D], labels [N]: the inputs (read-only, not copied).
    """

    steps: tuple[PEDStep, ...]
    radii: np.ndarray
    offset: np.ndarray
    scale: np.ndarray
    reference: str
    features: np.ndarray
    labels: np.ndarray

    @property
    def num_steps(self) -> int:
        """Number of accepted steps (0..max_steps)."""
        return sum(step.accepted for step in self.steps)

    @property
    def position_changes(self) -> list[float]:
        return [step.position_change for step in self.steps]

    @property
    def change_ratios(self) -> list[float | None]:
        return [step.ratio for step in self.steps]

    def class_shift(self, n_steps: int | None = None) -> np.ndarray:
        """Total displacement of each class after the first ``n_steps`` accepted steps, original space [C, D]."""
        n_steps = self.num_steps if n_steps is None else int(n_steps)
        if not 0 <= n_steps <= self.num_steps:
            raise ValueError(f"n_steps must be in 0..{self.num_steps} (accepted steps); got {n_steps}.")
        total = np.zeros((self.radii.size, self.offset.size))
        for step in self.steps[:n_steps]:
            total = total + step.displacement
        return total * self.scale

    def features_after(self, n_steps: int | None = None) -> np.ndarray:
        """Features [N, D] after ``n_steps`` accepted steps (default: all, what PED scores); a new array."""
        return self.features + self.class_shift(n_steps)[self.labels]


def standardisation(features: np.ndarray, eps: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension ``(mean, max(std, eps))`` [D] each, as PED rescales with its reference set."""
    return features.mean(axis=0), np.maximum(features.std(axis=0), eps)


def ped_trajectory(features, labels, *, stats=None, reference_features=None, time_step: float = 0.1,
                   nsigma: float = 0.6, exit_ratio: float = 0.5, max_steps: int = 6, constant: float = 1.0,
                   eps: float = 1e-3, standardised_by=None) -> PEDTrajectory:
    """Run PED's dynamics on features [N, D] and return every step (for scoring and for drawing).

    ``reference_features`` G [M, D]: the same model's features on a reference set (official: required);
    ``None`` standardises with the target features themselves, a deviation recorded in ``reference``.
    Matches the official ``PED_Score`` loop (position changes bit-for-bit up to summation order).
    ``standardised_by``: ``(offset [D], scale [D])`` to use instead of the standardisation of the reference
    (``eps`` and the reference values are then unused; ``reference`` still says which set was meant).
    """
    stats = ensure_stats(features, labels, stats)
    if standardised_by is not None:
        offset, scale = (np.asarray(part, dtype=np.float64) for part in standardised_by)
        reference = REFERENCE_SELF if reference_features is None else REFERENCE_OFFICIAL
    elif reference_features is None:
        offset, scale = standardisation(stats.features, eps)
        reference = REFERENCE_SELF
    else:
        ref = as_features(reference_features, name="reference_features")
        if ref.shape[1] != stats.n_dims:
            raise ValueError(
                f"reference_features has {ref.shape[1]} dimensions but features has {stats.n_dims}; pass the "
                "same model's features (same layer) on the reference set."
            )
        offset, scale = standardisation(ref, eps)
        reference = REFERENCE_OFFICIAL
    max_steps = int(max_steps)
    if max_steps < 0:
        raise ValueError(f"max_steps must be >= 0; got {max_steps}. The official value is 6.")
    radii = class_radii(stats, scale)
    centres = (stats.class_means - offset) / scale
    steps: list[PEDStep] = []
    first_change = None
    for index in range(max_steps):
        distances = centre_distances(centres)
        force = overlap_forces(centres, radii, nsigma, distances)
        amount = np.minimum(0.5 * time_step**2 * constant * force, force)
        displacement = pairwise_displacement(centres, amount, distances)
        change = float(np.abs(displacement).sum())
        if index == 0:
            first_change = change
        ratio = change / first_change if first_change > 0 else None
        accepted = ratio is not None and ratio > exit_ratio
        steps.append(PEDStep(index, centres, force, displacement, change, ratio, accepted, offset, scale))
        if not accepted:
            break
        centres = centres + displacement
    return PEDTrajectory(tuple(steps), radii, offset, scale, reference, stats.features, stats.labels)


def ped(features, labels, *, stats=None, metric: str = "sfda", metric_params=None, reference_features=None,
        time_step: float = 0.1, nsigma: float = 0.6, exit_ratio: float = 0.5, max_steps: int = 6,
        constant: float = 1.0, eps: float = 1e-3) -> MetricResult:
    """PED: the wrapped ``metric`` on features [N, D] moved by PED's class repulsion (see module docstring).

    Parameters (official CLI defaults): ``metric`` any registered feature metric ("sfda" official default;
    the official code also has "nleep" and "logme"; "gbc" works too) with ``metric_params`` passed to it;
    ``reference_features`` G [M, D] (None: standardise with X itself, a labelled deviation);
    ``time_step`` 0.1, ``nsigma`` 0.6, ``exit_ratio`` 0.5, ``max_steps`` 6, ``constant`` 1, ``eps`` 1e-3.

    Matches ``PED_Score`` of lixiaotong97/PED; with ``metric="logme"`` pass
    ``metric_params={"variant": "official_fixed_point"}`` for the official LogME.

    trace: ``num_steps`` (accepted), ``position_changes`` and ``change_ratios`` (every step call,
    including the rejected one; ratios None when the first change is 0), ``radii`` [C], ``overlap`` [C, C]
    (first-step F_ij), ``reference`` ("reference features" or "target features (deviation from official
    PED)"), ``score_before`` (wrapped metric on the unmoved features), ``metric`` (wrapped name),
    ``wrapped_trace`` (the wrapped metric's trace on the moved features).

    Scale: the dynamics run in the standardised space (scale invariant but for the absolute ``eps`` floor of
    the standard deviations). Features of extreme magnitude (outside [2^-64, 2^64]) are divided by a power
    of two first, with the reference features and ``eps`` divided by the same factor, and the steps taken in
    a standardised space zoomed by a power of two (the steps are homogeneous of degree 1 in it): the same
    moves without underflow. The wrapped metric then handles the scale as documented for it.

    Degenerate: PED inherits the wrapped metric's checks on its score (``compute`` flags e.g. SFDA's
    saturation at 1.0 when N − C ≤ D).
    """
    stats = metric_stats(features, labels, stats)
    spec, wrapped_params = resolve_wrapped_metric(metric, metric_params, "PED")
    unit, standardised_by, zoom = stats.unit_scale, None, 1.0
    if unit != 1.0:  # extreme magnitude: the rescaled features' space (ClassStats.rescaled)
        if reference_features is not None:
            reference_features = as_features(reference_features, name="reference_features") / unit
            if reference_features.shape[1] != stats.n_dims:
                raise ValueError(
                    f"reference_features has {reference_features.shape[1]} dimensions but features has "
                    f"{stats.n_dims}; pass the same model's features (same layer) on the reference set."
                )
        offset, scale = standardisation(stats.features if reference_features is None else reference_features,
                                        eps / unit)
        # Every step is homogeneous of degree 1 in the standardised coordinates, so dividing the per-dimension
        # scales by one power of two ("zoom") moves the classes identically, without the underflow of a
        # standardised space ~1e-157 wide (tiny features, all floored at eps).
        zoom = float(np.ldexp(1.0, int(np.frexp(scale.max())[1])))
        standardised_by = (offset, scale / zoom)
    trajectory = ped_trajectory(
        stats.features, stats.labels, stats=stats, reference_features=reference_features, time_step=time_step,
        nsigma=nsigma, exit_ratio=exit_ratio, max_steps=max_steps, constant=constant, eps=eps,
        standardised_by=standardised_by,
    )
    # The plain metric on the same features: memoised on the shared statistics when it was computed before.
    with nested_compute():  # PED's own result carries the verdict on its score
        before = compute(spec.name, stats.features, stats.labels, stats=stats, **wrapped_params)
    if trajectory.num_steps == 0:
        after = before
    else:
        # A rigid class shift keeps every within-class residual: the moved statistics are derived exactly
        # from the shared ones (S_W unchanged, class means shifted), without another O(N·D²) pass.
        moved = stats.moved(stats.class_means + trajectory.class_shift())
        after = score_derived(spec, moved, wrapped_params)
    first = trajectory.steps[0] if trajectory.steps else None
    # (standardised-space quantities back in the caller's standardised units when the space was zoomed)
    trace = {
        "num_steps": trajectory.num_steps,
        "position_changes": [change / zoom for change in trajectory.position_changes],
        "change_ratios": trajectory.change_ratios,
        "radii": trajectory.radii / zoom if zoom != 1.0 else trajectory.radii,
        "overlap": (first.overlap / zoom if zoom != 1.0 else first.overlap) if first is not None
        else np.zeros((stats.n_classes, stats.n_classes)),
        "reference": trajectory.reference,
        "score_before": before.score,
        "metric": spec.name,
        "wrapped_trace": after.trace,
    }
    params = {"metric": spec.name, "metric_params": wrapped_params, "time_step": time_step, "nsigma": nsigma,
              "exit_ratio": exit_ratio, "max_steps": max_steps, "constant": constant, "eps": eps,
              "reference": trajectory.reference}
    return MetricResult("ped", after.score, trace, params=params)


register(MetricSpec(
    name="ped", fn=ped, aliases=("potential_energy_decline",),
    display_name="PED", in_sample_posteriors=True,
    summary="Repels overlapping classes (a few potential-energy steps), then scores with a wrapped metric.",
    citation="Li et al., Exploring Model Transferability through the Lens of Potential Energy, ICCV 2023",
    wraps_metric=True,
    saturation_hint=(
        "PED wrapping SFDA (its default) saturates at 1.0 like SFDA when N - C <= D: the within-class scatter "
        "is singular and every sample is classified with certainty. Score more images per class (N - C well "
        "above D)."
    ),
    degeneracy=lambda result, stats: wrapped_degeneracy("PED", result, stats),
))
