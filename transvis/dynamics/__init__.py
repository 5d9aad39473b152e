"""The dynamics engine: what Spread/Attract, SFDA's Fisher space, PED and neural collapse do to a feature
space, as frames with a live model ranking (UI-free; the app's pages draw these).

    from transvis.dynamics import run
    traj = run("spread_attract" | "fisher" | "ped" | "collapse", features, labels, metric="logme", **params)
    # (metric defaults to "sfda" for "fisher" and "logme" otherwise)
    # features: {model_name: array [N, D_model] or FeatureSet} over the same samples, labels: [N]
    traj.frames[i].scores      # {model: score of `metric` on this frame's features}
    traj.frames[i].ranks       # {model: 1 = best}, float-tolerant ties (transvis.ordering)
    traj.frames[i].overtakes   # who overtook whom beyond the noise; .rank_changes (▲/▼ of those),
                               #   .within_noise (order changes the noise cannot support), .tiers, .note
    traj.frames[i].positions   # {model: [N, 2]} in a projection fitted once on the unperturbed features
    traj.frames[i].centres     # {model: [C, 2]}
    traj.frames[i].quantities  # {model: {name: value}} the method's own quantities (see each module),
                               #   computed for a model when first read
    traj.info                  # {model: {...}} per-model constants (mixing weights, gate, radii, spectra)
    traj.scores_table(), traj.ranks_table(), traj.quantity("nc1", model), traj.all_overtakes(), traj.notes()

    run(..., noise=score_noise)     # a transvis.uncertainty.ScoreNoise of the metric over the pool: announce
                                    #   only order changes beyond it (traj.with_noise(noise) attaches it later)
    run(..., cache_key=store_key)   # reuse prepared models and trajectories (small explicit key, no hashing)
    run(..., threads="auto")        # 1 BLAS thread when the machine is busy (see run's docstring)
    request(method, metric, **params)  # what run computes, as plain data (keys persisted trajectories)
    save_trajectories(path, {name: traj}), load_trajectory(path, name)  # lossless .npz (see .persist)

Methods (each module's docstring lists its parameters and quantities; each registers a :class:`DynamicsSpec` —
name, aliases, what it moves, default metric and projection, parameter ranges, frame rule — read by ``run``,
``request``, ``method_params`` and the pages: ``get_dynamics_spec(kind)``, ``available_dynamics()``; adding a
kind is one module, see CONTRIBUTING.md "Adding a dynamics kind"):

* ``spread_attract`` (:mod:`.spread_attract`) — FSP's Spread and Attract from strength 0 to a maximum;
  ``variant="paper"`` (our reconstruction) or ``"official"`` (gate, PCA-64, signed step); ``mode`` spread /
  attract / both.
* ``fisher`` (:mod:`.fisher`) — samples moving to their ConfMix positions in SFDA's Fisher plane, or λ swept.
* ``ped`` (:mod:`.ped`) — every step of PED's potential-energy decline, with forces, energy and exit ratio.
* ``collapse`` (:mod:`.collapse`) — the teaching interpolation x(t) = (1−t)x + tμ_y with NC1–NC4 and FaCe.

Names across layers (one method, one word per layer, mapped here once):

    ======================  =========================  =====================  ==========================
    method (paper)          metric (transvis.metrics)  dynamics kind (here)   page (pages/)
    ======================  =========================  =====================  ==========================
    Spread & Attract (FSP)  ``fsp``                    ``spread_attract``     spread_attract.py
    SFDA's Fisher space     ``sfda``                   ``fisher``             fisher_space.py
    PED                     ``ped``                    ``ped``                ped_dynamics.py
    neural collapse, FaCe   ``nc``, ``face``           ``collapse``           neural_collapse.py
    ======================  =========================  =====================  ==========================

The metric scores a feature set; the dynamics kind animates what the method does to it (and any metric can
score its frames); the aliases (``run("fsp", …)``, ``run("sfda", …)``, ``run("nc", …)``) accept the metric's
word. "Frame" means two things at two ends of the engine, named apart: a *frame spec* (``AffineFrame``,
``ExplicitFrame`` in :mod:`._context`: how a frame's features are built from the unperturbed ones) goes in,
a :class:`Frame` (positions, scores, ranks, notes in :mod:`.frames`) comes out.

Correctness: frame scores are the registry's (``transvis.metrics.compute``) on the frame's features — the
moments of these per-class affine moves are passed in closed form (``ClassStats.moved``, :class:`FrameStats`),
and LogME has an exact low-rank fast path (one eigendecomposition per model instead of one per frame), tested
equal to the registry — registered in ``CLOSED_FORM_SCORERS`` under the metric's name, a capability of the
metric that any kind's affine frames use. Frame 0 is the unperturbed features (for ``fisher``: SFDA's first pass).

Ranking truthfully (:func:`.frames.attach_ranks`): ranks treat scores equal up to float noise as one rank, tied
models keep pool order, an overtake is announced only when an order decided beyond the noise reverses, and a
frame where the metric saturates for several models (``MetricResult.degenerate``, or all but one model tied)
or where every model is within noise says so in ``frame.note``.
"""

from ._context import FrameStats
from ._engine import METHODS, clear_cache, method_params, request, run
from ._spec import (
    CLOSED_FORM_SCORERS,
    ClosedFormScorer,
    DynamicsSpec,
    Param,
    available_dynamics,
    get_dynamics_spec,
    register,
    register_closed_form,
)
from .collapse import nearest_simplex_etf
from .frames import Frame, LazyMap, Overtake, Trajectory, find_overtakes, rank_scores
from .ped import potential_energy
from .persist import load_trajectory, read_header, save_trajectories

__all__ = [
    "CLOSED_FORM_SCORERS",
    "METHODS",
    "ClosedFormScorer",
    "DynamicsSpec",
    "Param",
    "available_dynamics",
    "get_dynamics_spec",
    "register",
    "register_closed_form",
    "Frame",
    "FrameStats",
    "LazyMap",
    "Overtake",
    "Trajectory",
    "clear_cache",
    "find_overtakes",
    "load_trajectory",
    "method_params",
    "nearest_simplex_etf",
    "potential_energy",
    "rank_scores",
    "read_header",
    "request",
    "run",
    "save_trajectories",
]
