"""Neural collapse (Papyan, Han & Donoho, PNAS 2020) as a teaching trajectory, with NC1–NC4 and FaCe per frame.

Frame t ∈ [0, 1] moves every sample towards its class mean,

    x_i(t) = (1 − t) x_i + t μ_{y_i}

so the within-class scatter shrinks by (1 − t)² while the class means stay put: NC1 = tr(Σ_W Σ_B⁺)/C falls as
(1 − t)² to exactly 0 at t = 1, the nearest-class-mean accuracy (NC4) rises to 1, and the chosen metric
responds. The class-mean geometry (NC2: the Gram matrix of normalised centred means against the ideal simplex
ETF) does not move under this interpolation; with ``to_etf=True`` the class means are also moved linearly to
the nearest simplex ETF with the same RMS norm (``μ_G + s·U(I − 11ᵀ/C)``, U the orthogonal Procrustes fit to
M̃ᵀ), so the Gram matrix reaches the ETF at t = 1 as well.

Per-frame quantities (every model, from ``transvis.metrics`` "nc" and "face" on the frame's features): ``t``,
``nc1``, ``nc1_per_class`` [C], ``nc2_equinorm``, ``nc2_equiangular``, ``nc2_maxangle``, ``mean_gram`` [C, C],
``etf_gram`` [C, C], ``etf_distance``, ``class_mean_norms`` [C], ``nc3`` (shrinkage-LDA stand-in classifier),
``nc4_ncc_accuracy``, ``nc4_per_class`` [C], ``nc4_classifier_mismatch``, ``nc_score``; ``face`` (score),
``face_variance_collapse``, ``face_fairness``, ``face_class_collapse`` [C], ``face_class_separation`` [C],
``face_class_spread`` [C] (FaCe is a documented reconstruction, see :mod:`transvis.metrics.face`).
"""

from __future__ import annotations

import numpy as np

from transvis.metrics import compute

from ._context import AffineFrame, ModelContext
from ._plan import Plan, check_n_frames, fractions
from ._spec import DynamicsSpec, register

DEFAULT_FRAMES = 11
NC_KEYS = ("nc1", "nc1_per_class", "nc2_equinorm", "nc2_equiangular", "nc2_maxangle", "mean_gram", "etf_gram",
           "etf_distance", "class_mean_norms", "nc3", "nc4_ncc_accuracy", "nc4_per_class", "nc4_classifier_mismatch")
FACE_KEYS = ("variance_collapse", "fairness", "class_collapse", "class_separation", "class_spread")


def nearest_simplex_etf(class_means: np.ndarray) -> np.ndarray:
    """Class means [C, D] moved to the nearest simplex ETF around their unweighted mean μ_G (same RMS norm).

    The centred means M̃ [C, D] are replaced by ``s·(U J)ᵀ`` with J = I − 11ᵀ/C, U [D, C] the orthogonal
    Procrustes fit (U = P Rᵀ from the SVD M̃ᵀ = P Σ Rᵀ), and s chosen so that the RMS norm is kept. Needs
    D ≥ C − 1 (a simplex of C vertices spans C − 1 dimensions).
    """
    means = np.asarray(class_means, dtype=np.float64)
    n_classes, d = means.shape
    if d < n_classes - 1:
        raise ValueError(f"a simplex ETF of {n_classes} classes needs at least {n_classes - 1} dimensions; "
                         f"the features have {d}. Use to_etf=False.")
    centre = means.mean(axis=0)
    centred = means - centre
    left, _, right_t = np.linalg.svd(centred.T, full_matrices=False)
    rotation = left @ right_t  # [D, C] (or [D, min(D, C)] @ [min, C])
    simplex = (rotation @ (np.eye(n_classes) - 1.0 / n_classes)).T  # [C, D]
    rms = np.sqrt((centred**2).sum(axis=1).mean())
    norm = np.sqrt((simplex**2).sum(axis=1).mean())
    return centre + simplex * (rms / norm if norm > 0 else 0.0)


def build(contexts: dict[str, ModelContext], *, displays, n_frames=None, to_etf: bool = False,
          nc3_classifier: str | None = "lda", statistics: bool = True) -> Plan:
    """Frames of the collapse interpolation (see module docstring). ``statistics=False`` skips the per-frame
    NC/FaCe quantities (scores and positions only); ``nc3_classifier=None`` skips NC3's O(D³) stand-in solve."""
    n_frames = check_n_frames(DEFAULT_FRAMES if n_frames is None else n_frames)
    ts = fractions(n_frames)
    frames, quantities, info = {}, {}, {}
    for model, context in contexts.items():
        means = context.stats.class_means
        towards = (nearest_simplex_etf(means) - means) if to_etf else None
        frames[model] = [AffineFrame(context, -float(t), towards, float(t)) for t in ts]
        quantities[model] = [{"t": float(t)} for t in ts]
        info[model] = {"to_etf": bool(to_etf)}

    def hook(model, index, stats_of_frame, result) -> dict:
        if not statistics:
            return {}
        stats = stats_of_frame()
        nc = compute("nc", stats.features, stats.labels, stats=stats, nc3_classifier=nc3_classifier)
        face = compute("face", stats.features, stats.labels, stats=stats)
        out = {key: nc.trace[key] for key in NC_KEYS}
        out["nc_score"] = nc.score
        out["face"] = face.score
        out.update({f"face_{key}": face.trace[key] for key in FACE_KEYS})
        return out

    return Plan(parameter="collapse t", values=[float(t) for t in ts], labels=[f"t = {t:.2f}" for t in ts],
                frames=frames, quantities=quantities, info=info, frame_hook=hook,
                params={"to_etf": bool(to_etf), "nc3_classifier": nc3_classifier, "statistics": bool(statistics)})


SPEC = register(DynamicsSpec(
    name="collapse", build=build, title="Neural collapse",
    moves="every sample towards its class mean (and, optionally, the means to a simplex ETF)",
    aliases=("neural_collapse", "nc"), default_metric="logme", default_projection="pca",
    ranges={"nc3_classifier": ("lda", None)}, slider="collapse t",
))
