"""FSP: Feature Space Perturbation, "Spread & Attract" (Khoba et al., WACV 2025), a wrapper around a metric.

Khoba, Wang, Arora, Baktashmotlagh, "Feature Space Perturbation: A Panacea to Enhanced Transferability
Estimation", WACV 2025 (arXiv 2502.16471).
Official code: ``prafful-kumar/enhancing_TE:metrics.py`` (``check_sa``, ``attract``,
``spread_points``, ``SA``), commit 084b715.

The idea: make the target task harder before scoring, by spreading every class (more intra-class
variability) and attracting the classes to each other (blurrier boundaries); a metric evaluated on the
perturbed features is said to rank models more reliably. Three variants:

``paper`` (default; **our reconstruction** of what the paper describes, applied in the original space,
no gate, no PCA; the paper's own formulas could not be read, so these are chosen to be clean):

    Spread(s):  x_i ← μ_c + (1 + s)(x_i − μ_c)      every sample pushed away from its class centre by s times
                                                     its own distance: centres fixed, each class's RMS
                                                     radius grows by exactly (1 + s)
    Attract(t): x_i ← x_i + t (x̄ − μ_c)             every class translated rigidly towards the others:
                                                     Σ_j π_j (μ_j − μ_c) = x̄ − μ_c, so every centre
                                                     distance shrinks by exactly (1 − t), offsets fixed

    Both are relative to the feature geometry (the same strength means the same thing for every model), and
    strength 0 is the identity; they commute. Defaults ``spread=0.1``, ``attract=0.1`` are our choice.

``official`` (the released ``SA()``, reproduced exactly):

    1. gate: perturb only if max(exp(−5·mean(top-2 eigenvalues of S_T)), 1e-10) < 1e-9 (mean > 4.145;
       scale dependent); otherwise score the raw features;
    2. PCA(n_components=min(64, N), svd_solver='randomized', random_state=1919, iterated_power=1) (the same
       randomised algorithm and seed, with its Aᵀ·A·Ω product taken from the shared S_T: equal up to
       round-off, see :func:`_official_pca_shared`);
    3. Spread (one unit radially) is computed and **discarded** by the released code: no effect;
    4. one signed "attract" step, Δ_i = α Σ_j (d_ij − σ(R_i + R_j)) (μ_i − μ_j)/d_ij with R_c the RMS
       radius — this **pushes well-separated classes apart** and pulls only pairs overlapping by more than
       σ radii together;
    5. the wrapped metric on the 64-d result.

``pca64``: the ablation, PCA-64 (same call) and the wrapped metric, no perturbation.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from ._contract import MetricResult, MetricSpec, compute, nested_compute, register, wrapped_degeneracy
from ._stats import ClassStats, metric_stats
from ._wrapped import resolve_wrapped_metric, score_derived
from .ped import centre_distances, class_radii, pairwise_displacement

VARIANTS = ("paper", "official", "pca64")
GATE_THRESHOLD = 1e-9
PCA_RANDOM_STATE = 1919


# -- the transforms (pure; the animation engine sweeps their strength) -----------------------------
def _labelled(features, labels, class_means):
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if class_means is None:
        class_means = ClassStats(x, y).class_means
    return x, y, np.asarray(class_means, dtype=np.float64)


def spread_classes(features, labels, strength: float, *, class_means=None) -> np.ndarray:
    """Paper Spread (our reconstruction): ``x_i ← μ_c + (1 + s)(x_i − μ_c)`` [N, D], a new array.

    features [N, D], labels [N]; ``strength`` s ≥ −1 (0: identity; −1 collapses each class to its centre).
    Class centres stay fixed; every class's RMS radius is multiplied by (1 + s).
    """
    strength = float(strength)
    if not strength >= -1.0:
        raise ValueError(f"spread strength must be >= -1 (0 leaves the features unchanged); got {strength!r}.")
    x, y, means = _labelled(features, labels, class_means)
    return x + strength * (x - means[y])  # exactly x at strength 0


def attract_classes(features, labels, strength: float, *, class_means=None, priors=None) -> np.ndarray:
    """Paper Attract (our reconstruction): ``x_i ← x_i + t (x̄ − μ_c)`` [N, D], a new array.

    ``x̄ = Σ_c π_c μ_c`` is the sample mean; ``strength`` t in [0, 1] (0: identity, 1: all centres coincide).
    Each class moves rigidly (within-class offsets fixed); every centre distance shrinks by (1 − t).
    Equivalently class c moves towards every other class j by t π_j (μ_j − μ_c).
    """
    strength = float(strength)
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"attract strength must be in [0, 1] (0 leaves the features unchanged); got {strength!r}.")
    x, y, means = _labelled(features, labels, class_means)
    if priors is None:
        priors = np.bincount(y, minlength=means.shape[0]) / y.size
    centre = np.asarray(priors, dtype=np.float64) @ means
    return x + (strength * (centre - means))[y]


def spread_attract(features, labels, spread_strength: float, attract_strength: float, *, class_means=None):
    """Spread then Attract (they commute) [N, D]: the perturbation of the ``paper`` variant."""
    x, y, means = _labelled(features, labels, class_means)
    spread_out = spread_classes(x, y, spread_strength, class_means=means)
    return attract_classes(spread_out, y, attract_strength, class_means=means)


def official_spread(features, labels, force: float = 1.0, *, class_means=None) -> np.ndarray:
    """The released ``spread_points``: ``x_i + f (x_i − μ_c)/‖x_i − μ_c‖`` [N, D] (discarded by ``SA()``).

    Samples exactly at their centre (a division by zero in the official code) stay put. Unlike
    :func:`spread_classes` this moves the class centres too (the unit vectors do not average to zero).
    """
    x, y, means = _labelled(features, labels, class_means)
    offset = x - means[y]
    norm = np.linalg.norm(offset, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = np.where(norm > 0, offset / norm, 0.0)
    return x + force * unit


def official_attract_displacement(class_means, radii, *, alpha: float = 0.005, sigma: float = 0.6):
    """The released ``attract`` as class displacements: returns ``(Δ [C, D], a [C, C])``.

    ``a_ij = d_ij − σ (R_i + R_j)`` (signed, zero diagonal) and ``Δ_i = α Σ_j a_ij (μ_i − μ_j)/d_ij``:
    positive a_ij (pairs farther apart than σ radii) push apart.
    """
    means = np.asarray(class_means, dtype=np.float64)
    radii = np.asarray(radii, dtype=np.float64)
    distances = centre_distances(means)
    amount = distances - sigma * (radii[:, None] + radii[None, :])
    np.fill_diagonal(amount, 0.0)
    return alpha * pairwise_displacement(means, amount, distances), amount


def gate(stats: ClassStats) -> tuple[bool, float]:
    """The released ``check_sa``: ``(fired, mean of the top-2 eigenvalues of S_T)``.

    Fires iff max(exp(−5·mean), 1e-10) < 1e-9, i.e. mean > ln(1e9)/5 ≈ 4.145 (absolute-scale dependent).
    On rescaled statistics (``ClassStats.rescaled``) the eigenvalues are the caller's, ``unit_scale²`` times
    those of the rescaled features (possibly inf).
    """
    eigenvalues = stats.total_eigh[0]
    top2_mean = float(np.mean(eigenvalues[:2]))
    if stats.unit_scale != 1.0 and top2_mean > 0.0:
        with np.errstate(over="ignore", under="ignore"):
            top2_mean = float(top2_mean * np.float64(stats.unit_scale) ** 2)
    return bool(max(np.exp(-5.0 * top2_mean), 1e-10) < GATE_THRESHOLD), top2_mean


def official_pca(features, n_components: int = 64) -> np.ndarray:
    """The released ``feature_reduce``: randomised PCA scores [N, k] with k = min(n_components, N, D).

    Exactly ``PCA(n_components=k, svd_solver='randomized', random_state=1919, iterated_power=1)``; the
    official code caps k at N only (k > D raises there).
    """
    from sklearn.decomposition import PCA

    x = np.asarray(features, dtype=np.float64)
    k = int(min(n_components, x.shape[0], x.shape[1]))
    if k < 1:
        raise ValueError(f"pca_dims must be a positive integer; got {n_components!r}.")
    pca = PCA(n_components=k, svd_solver="randomized", random_state=PCA_RANDOM_STATE, iterated_power=1)
    return pca.fit_transform(x)


def _official_pca_shared(stats: ClassStats, n_components: int = 64) -> np.ndarray:
    """:func:`official_pca` of ``stats.features`` [N, k], computed from the shared statistics.

    With ``iterated_power=1`` scikit-learn's randomised range finder (normaliser "none") is
    ``Q = qr(A·(Aᵀ·(A·Ω)))`` for A = X − x̄ and its seeded Gaussian Ω [D, k+10]; here ``Aᵀ·(A·Ω)`` is
    ``N·S_T·Ω`` from the shared S_T, which saves two of the four passes over the N×D data (and the centred
    copy). The rest is scikit-learn's sequence: ``B = Qᵀ·A``, ``svd(B)`` (gesdd), ``U = Q·Û``, its
    ``svd_flip(u_based_decision=False)`` and the scores ``U·S``. Equal to the scikit-learn call up to
    round-off (~1e-13 relative on the reference cases). For N < D scikit-learn transposes; that case calls
    it directly.
    """
    from sklearn.utils.extmath import svd_flip

    n, d = stats.n_samples, stats.n_dims
    k = int(min(n_components, n, d))
    if k < 1:
        raise ValueError(f"pca_dims must be a positive integer; got {n_components!r}.")
    if n < d:
        return official_pca(stats.features, n_components)
    omega = np.random.RandomState(PCA_RANDOM_STATE).normal(size=(d, k + 10))  # PCA's n_oversamples = 10
    power = stats.total_scatter @ omega
    power *= n  # Aᵀ A Ω
    basis, _ = scipy.linalg.qr(stats.centered_dot(power), mode="economic", check_finite=False)
    reduced = stats.centered_tdot(basis).T  # B = Qᵀ A
    u_hat, singular, vt = scipy.linalg.svd(reduced, full_matrices=False, lapack_driver="gesdd")
    u = basis @ u_hat
    u, vt = svd_flip(u[:, :k], vt[:k], u_based_decision=False)
    u *= singular[:k]
    return u


def geometry(class_means: np.ndarray, radii: np.ndarray, priors: np.ndarray) -> dict:
    """The class geometry FSP traces (and the dynamics animate): ``intra_class_spread`` sqrt(Σ π_c R_c²) (RMS
    distance to the own centre), ``class_radii`` R [C], ``centre_distances`` [C, C] and their pairwise mean
    ``mean_centre_distance``."""
    c = class_means.shape[0]
    distances = centre_distances(class_means)
    return {
        "class_radii": radii,
        "intra_class_spread": float(np.sqrt(priors @ radii**2)),
        "centre_distances": distances,
        "mean_centre_distance": float(distances[np.triu_indices(c, 1)].mean()),
    }


def _closed_form_logme(spec, stats) -> bool:
    """Whether the wrapped metric is LogME and scores moved statistics in closed form (``_logme_affine``)."""
    from ._logme_affine import faster_than_registry

    return spec.name == "logme" and faster_than_registry(stats.n_samples, stats.n_dims, stats.n_classes)


def fsp(features, labels, *, stats=None, variant: str = "paper", metric: str = "logme", metric_params=None,
        spread: float = 0.1, attract: float = 0.1, alpha: float = 0.005, sigma: float = 0.6,
        pca_dims: int = 64) -> MetricResult:
    """FSP (Spread & Attract): the wrapped ``metric`` on perturbed features [N, D] (see module docstring).

    Parameters
    ----------
    variant : "paper" (default) | "official" | "pca64".
    metric, metric_params : the wrapped registered metric and its parameters (official LogME:
        ``metric="logme", metric_params={"variant": "official_fixed_point"}``).
    spread, attract : strengths of the ``paper`` variant (ignored by the others).
    alpha, sigma : the ``official`` attract step (0.005 as in the supervised script; 0.1 in the SSL one).
    pca_dims : PCA dimension of ``official`` and ``pca64``.

    trace: ``gate_fired``, ``gate_top2_mean_eig`` (official only, else None), ``score_unperturbed`` (wrapped
    metric on the raw features), ``space`` ("original" or "pca"), ``pca_dims`` (used, or None),
    ``centres_before``/``centres_after`` [C, D'] and ``intra_class_spread_before/after`` (RMS distance to the
    own class centre), ``mean_centre_distance_before/after`` — all in the space the perturbation acts in;
    ``attract_amount`` [C, C] (official a_ij when the gate fired, else None), ``metric``, ``wrapped_trace``.

    Scale: the perturbations are relative to the feature geometry and the PCA is linear; only the official
    gate sees the absolute scale. Features of extreme magnitude (outside [2^-64, 2^64]) are divided by a power
    of two first (the gate reads the caller's eigenvalues); the wrapped metric handles the scale as
    documented for it (LogME, the default, raises a ``ValueError`` there).

    Degenerate: FSP inherits the wrapped metric's checks on its score (in the PCA space for ``official`` and
    ``pca64``, whose dimension then counts as D).
    """
    stats = metric_stats(features, labels, stats)
    if variant not in VARIANTS:
        raise ValueError(f"fsp has no variant {variant!r}; choose one of {', '.join(VARIANTS)}.")
    spec, wrapped_params = resolve_wrapped_metric(metric, metric_params, "FSP")
    pca_dims = int(pca_dims)
    if pca_dims < 1:
        raise ValueError(f"pca_dims must be a positive integer; got {pca_dims}. The official value is 64.")
    with nested_compute():  # FSP's own result carries the verdict on its score
        if variant == "paper" and _closed_form_logme(spec, stats):
            # the same closed form as the perturbed score (s = t = 0 is the identity move): one within-class
            # eigendecomposition per model serves both, and every strength after
            unperturbed = score_derived(spec, stats.moved(stats.class_means), wrapped_params)
        else:
            unperturbed = compute(spec.name, stats.features, stats.labels, stats=stats, **wrapped_params)
    fired, top2 = gate(stats) if variant == "official" else (None, None)
    trace = {"gate_fired": fired, "gate_top2_mean_eig": top2, "score_unperturbed": unperturbed.score,
             "space": "original", "pca_dims": None, "attract_amount": None, "metric": spec.name}
    params = {"metric": spec.name, "metric_params": wrapped_params}

    if variant == "paper" or (variant == "official" and not fired):
        radii = class_radii(stats)
        before = (stats.class_means, radii)
    # (otherwise the geometry is reported in the PCA space, below)
    if variant == "paper":
        after_means = stats.mean + (1.0 - attract) * (stats.class_means - stats.mean)
        after = (after_means, (1.0 + spread) * radii)
        params.update(spread=spread, attract=attract)
        # Spread scales every residual by (1 + s) and Attract moves the class means: derived statistics; the
        # moved rows are built only if the wrapped metric reads them.
        moved_stats = stats.moved(after_means, residual_scale=1.0 + spread, features=lambda: spread_attract(
            stats.features, stats.labels, spread, attract, class_means=stats.class_means))
        result = score_derived(spec, moved_stats, wrapped_params)
    elif variant == "official" and not fired:
        after = before
        params.update(alpha=alpha, sigma=sigma, pca_dims=pca_dims)
        result = unperturbed
    else:
        reduced = _official_pca_shared(stats, pca_dims)
        reduced_stats = ClassStats(reduced, stats.labels, backend=stats.backend, unit_scale=stats.unit_scale)
        reduced_radii = class_radii(reduced_stats)
        before = (reduced_stats.class_means, reduced_radii)
        trace.update(space="pca", pca_dims=reduced.shape[1])
        params.update(pca_dims=pca_dims)
        if variant == "pca64":
            after = before
            with nested_compute():
                result = compute(spec.name, reduced, stats.labels, stats=reduced_stats, **wrapped_params)
        else:
            shift, amount = official_attract_displacement(reduced_stats.class_means, reduced_radii,
                                                          alpha=alpha, sigma=sigma)
            after = (reduced_stats.class_means + shift, reduced_radii)
            trace["attract_amount"] = amount
            params.update(alpha=alpha, sigma=sigma)
            moved_stats = reduced_stats.moved(reduced_stats.class_means + shift,
                                              features=lambda: reduced + shift[stats.labels])
            result = score_derived(spec, moved_stats, wrapped_params)

    geometry_before = geometry(before[0], before[1], stats.priors)
    geometry_after = geometry(after[0], after[1], stats.priors)
    trace.update(
        centres_before=before[0], centres_after=after[0],
        intra_class_spread_before=geometry_before["intra_class_spread"],
        intra_class_spread_after=geometry_after["intra_class_spread"],
        mean_centre_distance_before=geometry_before["mean_centre_distance"],
        mean_centre_distance_after=geometry_after["mean_centre_distance"],
        wrapped_trace=result.trace,
    )
    return MetricResult("fsp", result.score, trace, variant=variant, params=params)


register(MetricSpec(
    name="fsp", fn=fsp, aliases=("spread_attract", "sa"),
    display_name="FSP (Spread/Attract)", short_name="FSP",
    summary="Spreads each class and attracts the classes together, then scores with a wrapped metric.",
    citation="Khoba, Wang, Arora, Baktashmotlagh, Feature Space Perturbation: A Panacea to Enhanced "
             "Transferability Estimation, WACV 2025",
    variants=VARIANTS, default_variant="paper", wraps_metric=True,
    degeneracy=lambda result, stats: wrapped_degeneracy(
        "FSP", result, stats, dims=result.trace.get("pca_dims") if result.trace.get("space") == "pca" else None),
))
