"""Spread & Attract (FSP; Khoba et al., WACV 2025) as a trajectory: strength from 0 to a maximum.

``paper`` variant (the reconstruction in :mod:`transvis.metrics.fsp`, original feature space): frame f has
strength fraction φ_f ∈ [0, 1] and features

    spread_attract(X, y, φ·spread, φ·attract) = x + s (x − μ_y) + t (x̄ − μ_y)     (s = φ·spread, t = φ·attract)

— Spread scales every within-class offset by (1 + s) and never moves a class centre; Attract translates each
class rigidly towards the sample mean (every centre distance × (1 − t)) and never changes a within-class
offset. ``mode`` "spread" / "attract" / "both" sweeps one or both. A frame's score equals
``compute("fsp", X, y, variant="paper", spread=s, attract=t, metric=…)``.

``official`` variant (the released ``SA()``): frame 0 the raw features; frame 1 the randomised PCA-64 scores
(the ``pca64`` ablation); then α from α/(F−2) to ``alpha`` for the signed "attract" step on the PCA-64
features — the last frame is exactly ``compute("fsp", …, variant="official")``. Models whose scale gate does
not fire stay on their raw features in every frame (as the released code scores them). The released Spread is
computed and discarded, so ``mode="both"`` equals ``"attract"``; ``mode="spread"`` shows what the discarded
``spread_points`` would do (force from 0 to ``spread_force``, PCA-64 space). PCA-64 frames are drawn lifted
back into the original space (least-squares reconstruction from the scores), so the projection stays fixed.

Per-frame quantities: ``spread_strength``, ``attract_strength`` (paper) or ``stage`` ("raw", "pca", "attract",
"spread") and ``alpha`` / ``spread_force`` (official); ``intra_class_spread`` (RMS distance to the own centre),
``class_radii`` [C], ``centre_distances`` [C, C], ``mean_centre_distance`` — in the space the perturbation acts
in. Info: ``gate_fired``, ``gate_top2_mean_eig``, ``attract_amount`` [C, C], ``pca_dims`` (official).
"""

from __future__ import annotations

import numpy as np

from transvis.metrics.fsp import gate, geometry, official_attract_displacement, official_pca, official_spread
from transvis.metrics.ped import class_radii

from ._context import AffineFrame, Display, ExplicitFrame, ModelContext
from ._plan import Plan, check_n_frames, fractions
from ._spec import DynamicsSpec, register

VARIANTS = ("paper", "official")
MODES = ("both", "spread", "attract")
DEFAULT_FRAMES = 11


def build(contexts: dict[str, ModelContext], *, displays, n_frames=None, variant: str = "paper",
          mode: str = "both", spread: float = 0.5, attract: float = 0.5, alpha: float = 0.005,
          sigma: float = 0.6, pca_dims: int = 64, spread_force: float = 1.0) -> Plan:
    """Frames of Spread/Attract (see module docstring). ``spread`` ≥ 0 and ``attract`` in [0, 1] are the
    maximum strengths of the paper variant; ``alpha``, ``sigma``, ``pca_dims``, ``spread_force`` the official
    variant's (defaults: the released supervised script)."""
    if variant not in VARIANTS:
        raise ValueError(f"spread_attract has no variant {variant!r}; choose one of {', '.join(VARIANTS)}.")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}.")
    n_frames = check_n_frames(DEFAULT_FRAMES if n_frames is None else n_frames, 3 if variant == "official" else 2)
    if variant == "paper":
        return _paper(contexts, n_frames, mode, float(spread), float(attract))
    return _official(contexts, displays, n_frames, mode, float(alpha), float(sigma), int(pca_dims),
                     float(spread_force))


def _paper(contexts, n_frames, mode, spread, attract) -> Plan:
    if not spread >= 0.0:
        raise ValueError(f"spread must be >= 0 (the maximum Spread strength); got {spread!r}.")
    if not 0.0 <= attract <= 1.0:
        raise ValueError(f"attract must be in [0, 1] (1 puts every class centre on the mean); got {attract!r}.")
    fraction = fractions(n_frames)
    spreads = fraction * spread if mode in ("both", "spread") else np.zeros(n_frames)
    attracts = fraction * attract if mode in ("both", "attract") else np.zeros(n_frames)
    frames, quantities, info = {}, {}, {}
    for model, context in contexts.items():
        stats = context.stats
        means, priors = stats.class_means, stats.priors
        towards = priors @ means - means  # x̄ − μ_c, as fsp.attract_classes
        base = geometry(means, class_radii(stats), priors)
        frames[model], quantities[model] = [], []
        for s, t in zip(spreads, attracts):
            frames[model].append(AffineFrame(context, float(s), towards, float(t)))
            quantities[model].append({
                "spread_strength": float(s),
                "attract_strength": float(t),
                "class_radii": (1.0 + s) * base["class_radii"],
                "intra_class_spread": (1.0 + s) * base["intra_class_spread"],
                "centre_distances": (1.0 - t) * base["centre_distances"],
                "mean_centre_distance": (1.0 - t) * base["mean_centre_distance"],
            })
        info[model] = {"space": "original"}
    labels = [_paper_label(mode, s, t) for s, t in zip(spreads, attracts)]
    return Plan(parameter="strength (fraction of the maximum)", values=[float(f) for f in fraction], labels=labels,
                frames=frames, quantities=quantities, info=info,
                params={"variant": "paper", "mode": mode, "spread": spread, "attract": attract})


def _paper_label(mode, s, t) -> str:
    if mode == "spread":
        return f"spread {s:.3g}"
    if mode == "attract":
        return f"attract {t:.3g}"
    return f"spread {s:.3g} · attract {t:.3g}"


def _official(contexts, displays, n_frames, mode, alpha, sigma, pca_dims, spread_force) -> Plan:
    if pca_dims < 1:
        raise ValueError(f"pca_dims must be a positive integer; got {pca_dims}. The official value is 64.")
    steps = np.arange(1, n_frames - 1) / (n_frames - 2)  # (0, 1]
    sweep = "spread" if mode == "spread" else "attract"
    amounts = steps * (spread_force if sweep == "spread" else alpha)
    frames, quantities, info, extra_displays = {}, {}, {}, {}
    for model, context in contexts.items():
        stats = context.stats
        fired, top2 = gate(stats)
        raw = AffineFrame(context)
        raw_geometry = geometry(stats.class_means, class_radii(stats), stats.priors)
        raw_q = {"stage": "raw", "space": "original", "alpha": 0.0, "spread_force": 0.0, **raw_geometry}
        info[model] = {"gate_fired": fired, "gate_top2_mean_eig": top2, "pca_dims": None, "attract_amount": None,
                       "spread_discarded": True}
        if not fired:
            frames[model] = [raw] * n_frames
            quantities[model] = [dict(raw_q, stage="raw (gate not fired)")] * n_frames
            continue
        reduced = context.cached(("fsp_official_pca", pca_dims), lambda: _pca_context(context, pca_dims))
        zcontext, components, pca_mean = reduced
        zstats = zcontext.stats
        radii = class_radii(zstats)
        # The released step is linear in α: Δ(α) = α·Δ(1), bit for bit (official_attract_displacement scales last).
        unit_shift, amount = official_attract_displacement(zstats.class_means, radii, alpha=1.0, sigma=sigma)
        info[model].update(pca_dims=zstats.n_dims, attract_amount=amount)
        display, key = displays[id(context)]
        extra_displays[id(zcontext)] = (Display(np.zeros(zstats.n_dims), components @ display.matrix,
                                                (pca_mean - display.offset) @ display.matrix + display.bias),
                                        ("fsp_lift", key))
        pca_geometry = geometry(zstats.class_means, radii, zstats.priors)
        model_frames = [raw, AffineFrame(zcontext)]
        model_q = [raw_q, {"stage": "pca", "space": "pca", "alpha": 0.0, "spread_force": 0.0, **pca_geometry}]
        for value in amounts:
            if sweep == "attract":
                model_frames.append(AffineFrame(zcontext, 0.0, unit_shift, float(value)))
                moved = geometry(model_frames[-1].class_means(), radii, zstats.priors)
                model_q.append({"stage": "attract", "space": "pca", "alpha": float(value), "spread_force": 0.0,
                                **moved})
            else:
                force = float(value)
                model_frames.append(ExplicitFrame(
                    zcontext, lambda force=force: official_spread(zstats.features, zstats.labels, force,
                                                                    class_means=zstats.class_means)))
                model_q.append({"stage": "spread", "space": "pca", "alpha": 0.0, "spread_force": force})
        frames[model], quantities[model] = model_frames, model_q
    name = "α" if sweep == "attract" else "spread force"
    labels = ["raw features", f"PCA-{pca_dims}"] + [f"{name} = {v:.3g}" for v in amounts]
    values = [0.0, 0.0] + [float(v) for v in amounts]
    hook = _spread_geometry if sweep == "spread" else None
    return Plan(parameter=name, values=values, labels=labels, frames=frames, quantities=quantities, info=info,
                displays=extra_displays, frame_hook=hook,
                params={"variant": "official", "mode": mode, "alpha": alpha, "sigma": sigma, "pca_dims": pca_dims,
                        "spread_force": spread_force})


def _pca_context(context: ModelContext, pca_dims: int):
    """The released code's PCA-64 scores Z as a context, with the linear lift back to the original space.

    The lift W [k, D] is the least-squares reconstruction of the centred features from Z (the randomised
    PCA's own components, up to its approximation error): drawing Z·W + x̄ keeps the fixed projection.
    """
    stats = context.stats
    reduced = official_pca(stats.features, pca_dims)  # bit-identical to what fsp scores
    k = reduced.shape[1]
    lift = np.linalg.lstsq(reduced, stats.features - stats.mean, rcond=None)[0]
    zcontext = ModelContext(f"{context.name} (PCA-{k})", reduced, stats.labels, backend=stats.backend)
    return zcontext, lift, stats.mean


def _spread_geometry(model, index, stats_of_frame, result) -> dict:
    """Geometry of the released spread (its class centres move, so it is measured on the frame)."""
    if index < 2:
        return {}
    stats = stats_of_frame()
    return geometry(stats.class_means, class_radii(stats), stats.priors)


SPEC = register(DynamicsSpec(
    name="spread_attract", build=build, title="Spread & Attract",
    moves="samples away from their class centre (Spread) and class centres towards the mean (Attract)",
    aliases=("fsp", "sa", "spread_and_attract"), default_metric="logme", default_projection="pca",
    ranges={"variant": VARIANTS, "mode": MODES, "spread": (0.0, float("inf")), "attract": (0.0, 1.0),
            "pca_dims": (1, float("inf"))},
    slider="strength (fraction of the maximum)",
))
