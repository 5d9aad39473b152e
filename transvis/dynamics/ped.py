"""PED's potential-energy decline (Li et al., ICCV 2023) as a trajectory: one frame per step.

Each model runs :func:`transvis.metrics.ped.ped_trajectory` (the official loop: ≤ ``max_steps`` steps, a step
applied only while its position change / the first step's exceeds ``exit_ratio``). Frame k holds every model
after min(k, its accepted steps) steps — classes only translate rigidly — so the last frame is exactly the
``ped`` metric's value for every model, and earlier frames show the wrapped metric's score and rank after each
step, not only the last. A model that stopped early keeps its final state in later frames.

Potential energy (our definition; the paper's equations could not be read, ALGORITHMS.md §2): the overlap
``F_ij = max(nσ (R_i + R_j) − d_ij, 0)`` acts like the compression of a spring of stiffness k (``constant``),
whose repulsive force k·F_ij is exactly PED's acceleration, so

    E = (k/2) Σ_{i<j} F_ij²          (standardised space; 0 when no pair overlaps)

and every PED step moves the centres down this energy (each pair's push is along −∂E/∂d_ij).

Reference features (the standardisation): ``reference_features={model: G [M, D]}`` — the same model's features
on a reference set, the official method — or None for a model: the target features themselves, a labelled
deviation (``info[model]["reference"]``).

Per-frame quantities: ``step`` (steps applied so far), ``moving`` (whether the step from this state is applied),
``centres_std`` [C, D] (standardised centres), ``overlap`` [C, C] (F_ij at this state), ``displacement``
[C, D] (the step from this state, original space) and ``net_displacement`` [C] (its length per class,
standardised space), ``position_change`` (Σ|Δ|, standardised), ``change_ratio`` (vs the first step; None when
the first change is 0), ``exit_ratio``, ``potential_energy``, ``total_shift`` [C] (distance moved so far per
class, original space). Info: ``reference``, ``radii`` [C], ``num_steps``, ``position_changes``,
``change_ratios``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from transvis.metrics.ped import REFERENCE_SELF, centre_distances, overlap_forces, pairwise_displacement, ped_trajectory

from ._context import AffineFrame, ModelContext
from ._plan import Plan
from ._spec import DynamicsSpec, register


def potential_energy(overlap: np.ndarray, constant: float = 1.0) -> float:
    """E = (k/2) Σ_{i<j} F_ij² for a symmetric overlap matrix [C, C] (see the module docstring)."""
    overlap = np.asarray(overlap, dtype=np.float64)
    return float(0.5 * constant * (np.triu(overlap, 1) ** 2).sum())


def build(contexts: dict[str, ModelContext], *, displays, reference_features=None, time_step: float = 0.1,
          nsigma: float = 0.6, exit_ratio: float = 0.5, max_steps: int = 6, constant: float = 1.0,
          eps: float = 1e-3) -> Plan:
    """Frames of PED's steps (official CLI defaults; see module docstring)."""
    references = _references(reference_features, contexts)
    trajectories = {}
    for model, context in contexts.items():
        trajectories[model] = ped_trajectory(
            context.stats.features, context.labels, stats=context.stats, reference_features=references.get(model),
            time_step=time_step, nsigma=nsigma, exit_ratio=exit_ratio, max_steps=max_steps, constant=constant,
            eps=eps)
    n_frames = 1 + max(t.num_steps for t in trajectories.values())
    frames, quantities, info = {}, {}, {}
    for model, context in contexts.items():
        traj = trajectories[model]
        states = [AffineFrame(context)] + [AffineFrame(context, 0.0, traj.class_shift(k))
                                           for k in range(1, traj.num_steps + 1)]
        frames[model] = [states[min(k, traj.num_steps)] for k in range(n_frames)]
        start = (context.stats.class_means - traj.offset) / traj.scale
        per_state = [_state_quantities(traj, start, k, nsigma, time_step, constant, exit_ratio)
                     for k in range(traj.num_steps + 1)]
        quantities[model] = [per_state[min(k, traj.num_steps)] for k in range(n_frames)]
        info[model] = {"reference": traj.reference, "radii": traj.radii, "num_steps": traj.num_steps,
                       "position_changes": traj.position_changes, "change_ratios": traj.change_ratios}
    return Plan(parameter="PED step", values=[float(k) for k in range(n_frames)],
                labels=["start"] + [f"step {k}" for k in range(1, n_frames)],
                frames=frames, quantities=quantities, info=info,
                params={"time_step": time_step, "nsigma": nsigma, "exit_ratio": exit_ratio, "max_steps": max_steps,
                        "constant": constant, "eps": eps,
                        "reference": {m: t.reference for m, t in trajectories.items()}})


def _references(reference_features, contexts) -> dict:
    if reference_features is None:
        return {}
    if isinstance(reference_features, Mapping):
        unknown = sorted(set(reference_features) - set(contexts))
        if unknown:
            raise ValueError(f"reference_features has models {unknown} that are not in the pool; "
                             f"pool: {sorted(contexts)}.")
        return {m: v for m, v in reference_features.items() if v is not None}
    if len(contexts) == 1:
        return {next(iter(contexts)): reference_features}
    raise ValueError("reference_features must be a dict {model: reference features [M, D_model]} (each model has "
                     "its own feature space); a single array is accepted only for a one-model pool.")


def _state_quantities(traj, start, k: int, nsigma, time_step, constant, exit_ratio) -> dict:
    """Quantities at the state after k accepted steps, including the step taken (or tried) from it."""
    steps = traj.steps
    first = steps[0].position_change if steps else 0.0
    if k < len(steps):
        step = steps[k]
        centres, overlap, displacement = step.centres_std, step.overlap, step.displacement
        change, ratio, moving = step.position_change, step.ratio, step.accepted
    else:  # every allowed step was applied: show the forces that remain
        centres = steps[-1].centres_after_std if steps else start
        distances = centre_distances(centres)
        overlap = overlap_forces(centres, traj.radii, nsigma, distances)
        amount = np.minimum(0.5 * time_step**2 * constant * overlap, overlap)
        displacement = pairwise_displacement(centres, amount, distances)
        change = float(np.abs(displacement).sum())
        ratio, moving = (change / first if first > 0 else None), False
    shift = traj.class_shift(k)
    return {
        "step": k,
        "moving": bool(moving),
        "centres_std": centres,
        "overlap": overlap,
        "displacement": displacement * traj.scale,
        "net_displacement": np.linalg.norm(displacement, axis=1),
        "position_change": change,
        "change_ratio": ratio,
        "exit_ratio": exit_ratio,
        "potential_energy": potential_energy(overlap, constant),
        "total_shift": np.linalg.norm(shift, axis=1),
        "reference_is_target": traj.reference == REFERENCE_SELF,
    }


SPEC = register(DynamicsSpec(
    name="ped", build=build, title="PED",
    moves="class centres repelling like charges, one potential-energy step per frame",
    aliases=("potential_energy_decline",), default_metric="logme", default_projection="pca",
    ranges={"time_step": (0.0, float("inf")), "exit_ratio": (0.0, 1.0), "max_steps": (1, float("inf"))},
    frames_are="its steps", frame_count_param="max_steps", slider="PED step",
))
