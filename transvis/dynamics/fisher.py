"""SFDA's Fisher space (Shao et al., ECCV 2022) as a trajectory: ConfMix, or the shrinkage λ, as the control.

``sweep="confmix"`` (default when ``confmix=True``): frame t ∈ [0, 1] holds every sample interpolated from its
original to its ConfMix position,

    x_i(t) = x_i + t (x_i^mix − x_i),    x_i^mix = p_i x_i + (1 − p_i) μ̄_{−y_i}    (p_i: SFDA's mixing weight)

drawn in the Fisher plane of the unperturbed features (fixed). With ``metric="sfda"`` a frame's score is the
shrinkage-LDA mean true-class posterior at SFDA's first-pass λ, i.e.
``compute("sfda", x(t), y, shrinkage=λ, confmix=False)``: frame 0 is SFDA's first pass and the last frame is
the SFDA score itself (its second pass refits that LDA on the mixed features). Any other metric is simply
evaluated on x(t). The moments are closed-form: class means are linear in t and
``S_W(t) = [(1−t)² RᵀR + t(1−t)(RᵀR^mix + R^mixᵀR) + t² R^mixᵀR^mix]/N`` from three Gram matrices per model.

``sweep="shrinkage"`` (default when ``confmix=False``; needs ``metric="sfda"``): λ runs over
``shrinkage_range`` (log-spaced); each frame scores ``compute("sfda", X, y, shrinkage=λ, confmix=confmix)``
and draws the samples in *that λ's* Fisher plane (the plane is what λ changes, so ``projection_fixed`` is
False; axes are sign-aligned between frames). With ``projection="pca"`` the samples stay still instead.

Per-frame quantities: ``t`` or ``shrinkage``; with SFDA: ``class_posterior`` [C] (per-class mean true-class
posterior; prior-weighted mean = the frame's score), ``confusion`` [C, C]. Info: ``shrinkage`` (λ of the
trajectory), ``adaptive_shrinkage``, ``lambda_max``, ``mixing_weights`` [N], ``class_posterior_first`` [C],
``outer_means`` [C, 2] (μ̄_{−c} in the plane), ``spectra`` {"first", "mixed"} → [D] (generalised eigenvalues of
the first / ConfMix-ed pass), ``plane_after_confmix`` {"positions" [N, 2], "centres" [C, 2], "eigenvalues",
"projection"} (the mixed features in the Fisher plane refitted on them: what SFDA's second pass sees) — the
last two computed when read. ``frame.predicted`` / ``frame.contribution``: the frame
LDA's predicted class and true-class posterior per sample (computed for a model when read).
"""

from __future__ import annotations

import numpy as np
import scipy.special

from transvis.metrics.sfda import ShrinkageLDA, adaptive_shrinkage, confmix, confmix_weights, outer_class_means
from transvis.projection import FisherProjection

from ._context import AffineFrame, ExplicitFrame, ModelContext
from ._plan import Plan, check_n_frames, fractions
from ._spec import DynamicsSpec, register
from .frames import LazyMap

SWEEPS = ("confmix", "shrinkage")
DEFAULT_FRAMES = 11


def build(contexts: dict[str, ModelContext], *, displays, metric: str, metric_params: dict, projection: str,
          n_frames=None, shrinkage: float | None = None, confmix: bool = True, sweep: str | None = None,
          shrinkage_range: tuple[float, float] = (1e-6, 1.0)) -> Plan:
    """Frames of the Fisher-space dynamics (see module docstring)."""
    sweep = ("confmix" if confmix else "shrinkage") if sweep is None else sweep
    if sweep not in SWEEPS:
        raise ValueError(f"sweep must be one of {', '.join(SWEEPS)}; got {sweep!r}.")
    if metric == "sfda" and metric_params:
        raise ValueError("the Fisher trajectory sets SFDA's parameters itself; pass shrinkage=… and confmix=… to "
                         "run() instead of metric_params.")
    n_frames = check_n_frames(DEFAULT_FRAMES if n_frames is None else n_frames)
    if shrinkage is not None and not 0.0 <= float(shrinkage) <= 1.0:
        raise ValueError(f"shrinkage must lie in [0, 1] (or None for SFDA's adaptive λ); got {shrinkage!r}.")
    if sweep == "confmix":
        return _confmix(contexts, displays, metric, n_frames, shrinkage)
    if metric != "sfda":
        raise ValueError(f"the shrinkage sweep changes SFDA's λ, which only 'sfda' uses; got metric={metric!r}. "
                         "Use metric='sfda' or sweep='confmix'.")
    return _shrinkage(contexts, projection, n_frames, bool(confmix), shrinkage_range)


def first_pass(context: ModelContext, shrinkage):
    """SFDA's first pass: the fitted LDA, posteriors [N, C] and ConfMix weights [N] (memoised per context)."""
    def build():
        stats = context.stats
        lda = ShrinkageLDA(shrinkage, backend=stats.backend).fit(stats.features, stats.labels, stats=stats)
        posteriors = scipy.special.softmax(lda.decision_function_centred(stats.centered), axis=1)
        return lda, posteriors, confmix_weights(posteriors, stats.labels)
    return context.cached(("sfda_first_pass", shrinkage), build)


def _class_posterior(stats, posteriors) -> np.ndarray:
    rows = np.asarray(stats.indicator @ posteriors) / stats.counts[:, None]
    return np.diag(rows).copy()


def _confmix(contexts, displays, metric, n_frames, shrinkage) -> Plan:
    ts = fractions(n_frames)
    frames, quantities, info, metric_params, prepared = {}, {}, {}, {}, {}
    for model, context in contexts.items():
        stats = context.stats
        lda, posteriors, weights = first_pass(context, shrinkage)
        mix = context.cached(("sfda_confmix", shrinkage), lambda: _mixed_moments(context, weights))
        mixed, mixed_means, gram_cross, gram_mixed = mix
        display, key = displays[id(context)]
        start_pos, start_centres = AffineFrame(context).display(display, key)
        end_pos, end_centres = display(mixed), display(mixed_means)
        prepared[model] = (lda, mixed, mixed_means, gram_cross, gram_mixed)
        model_frames = [AffineFrame(context)]
        for t in ts[1:]:
            t = float(t)
            means_t = stats.class_means + t * (mixed_means - stats.class_means)
            model_frames.append(ExplicitFrame(
                context,
                (lambda t=t, x=stats.features, mixed=mixed: x + t * (mixed - x)),
                class_means_=means_t,
                within_scatter_=(lambda t=t, c=context, p=prepared[model]: _within_at(c, p, t)),
                positions_=start_pos + t * (end_pos - start_pos),
                centres_=start_centres + t * (end_centres - start_centres),
            ))
        frames[model] = model_frames
        quantities[model] = [{"t": float(t), "shrinkage": lda.shrinkage_} for t in ts]
        if metric == "sfda":
            metric_params[model] = [{"shrinkage": lda.shrinkage_, "confmix": False}] * n_frames
        info[model] = _info(context, lda, posteriors, weights, display, shrinkage, prepared[model])

    def lda_at(model, index):
        context = contexts[model]
        stats = context.stats
        lda, mixed, mixed_means, *_ = prepared[model]
        t = float(ts[index])
        if index == 0:
            return lda, stats.features
        means_t = stats.class_means + t * (mixed_means - stats.class_means)
        fitted = ShrinkageLDA.from_moments(means_t, stats.priors, _within_at(context, prepared[model], t),
                                           shrinkage=lda.shrinkage_, backend=stats.backend)
        return fitted, stats.features + t * (mixed - stats.features)

    def posterior_of(model, index):
        fitted, x = lda_at(model, index)
        return fitted.predict_proba(x)

    def predicted(model, index):
        return posterior_of(model, index).argmax(axis=1)

    def contribution(model, index):
        labels = contexts[model].labels
        return posterior_of(model, index)[np.arange(labels.size), labels]

    return Plan(parameter="ConfMix t", values=[float(t) for t in ts], labels=[f"t = {t:.2f}" for t in ts],
                frames=frames, quantities=quantities, info=info,
                metric_params=metric_params if metric == "sfda" else None,
                frame_hook=_sfda_hook if metric == "sfda" else None,
                predicted=predicted, contribution=contribution,
                params={"sweep": "confmix", "shrinkage": shrinkage, "confmix": True})


def _mixed_moments(context: ModelContext, weights):
    """ConfMix-ed features [N, D], their class means [C, D], and the Grams RᵀR^mix, R^mixᵀR^mix [D, D]."""
    stats = context.stats
    mixed = confmix(stats.features, stats.labels, weights, class_means=stats.class_means)
    mixed_means = np.asarray(stats.indicator @ mixed) / stats.counts[:, None]
    mixed_resid = mixed - mixed_means[stats.labels]
    cross = stats.backend.gram(context.residuals(), mixed_resid)
    return mixed, mixed_means, cross, stats.backend.gram(mixed_resid)


def _within_at(context: ModelContext, prepared, t: float) -> np.ndarray:
    """S_W of x(t): residuals are (1−t) r + t r^mix, so S_W is a quadratic in t of three fixed Grams."""
    _, _, _, cross, mixed_gram = prepared
    sym = cross + cross.T
    return ((1.0 - t) ** 2 * context.within_gram + t * (1.0 - t) * sym + t**2 * mixed_gram) / context.n_samples


def _info(context, lda, posteriors, weights, display, shrinkage, prepared) -> dict:
    stats = context.stats
    _, mixed, mixed_means, *_ = prepared

    def spectrum(which):
        if which == "first":
            plane = FisherProjection(shrinkage=shrinkage).fit(stats.features, stats.labels, stats=stats, lda=lda)
            return plane.spectrum()
        within = _within_at(context, prepared, 1.0)
        mixed_lda = ShrinkageLDA.from_moments(mixed_means, stats.priors, within, shrinkage=lda.shrinkage_,
                                              backend=stats.backend)
        return mixed_lda.fisher_eigenvalues_

    def after_plane(key):
        # The Fisher plane SFDA's second pass sees: refitted on the ConfMix-ed features, same λ.
        if "fit" not in fitted_after:
            plane = FisherProjection(2, shrinkage=lda.shrinkage_).fit(mixed, stats.labels)
            fitted_after["fit"] = {"positions": plane.transform(mixed), "centres": plane.transform(mixed_means),
                                   "eigenvalues": plane.eigenvalues_, "projection": plane}
        return fitted_after["fit"][key]

    fitted_after: dict = {}
    return {
        "shrinkage": lda.shrinkage_,
        "adaptive_shrinkage": adaptive_shrinkage(context.within_scatter)[0],
        "lambda_max": lda.lambda_max_,
        "mixing_weights": weights,
        "class_posterior_first": _class_posterior(stats, posteriors),
        "outer_means": display(outer_class_means(stats.class_means)),
        "spectra": LazyMap(["first", "mixed"], spectrum),
        "plane_after_confmix": LazyMap(["positions", "centres", "eigenvalues", "projection"], after_plane),
    }


def _sfda_hook(model, index, stats_of_frame, result) -> dict:
    if result is None:
        return {}
    return {"class_posterior": result.trace["class_posterior"], "confusion": result.trace["confusion"]}


def _shrinkage(contexts, projection, n_frames, use_confmix, shrinkage_range) -> Plan:
    low, high = (float(v) for v in shrinkage_range)
    if not 0.0 < low < high <= 1.0:
        raise ValueError(f"shrinkage_range must be (low, high) with 0 < low < high <= 1; got {shrinkage_range!r}.")
    lambdas = np.geomspace(low, high, n_frames)
    frames, quantities, info, metric_params, positions = {}, {}, {}, {}, {}
    for model, context in contexts.items():
        stats = context.stats
        frames[model] = [AffineFrame(context)] * n_frames
        metric_params[model] = [{"shrinkage": float(lam), "confmix": use_confmix} for lam in lambdas]
        quantities[model] = [{"shrinkage": float(lam)} for lam in lambdas]
        info[model] = {"adaptive_shrinkage": adaptive_shrinkage(context.within_scatter)[0]}
        if projection == "fisher":
            positions[model] = _aligned_planes(context, lambdas)
    plan = Plan(parameter="shrinkage λ", values=[float(v) for v in lambdas],
                labels=[f"λ = {v:.2e}" for v in lambdas], frames=frames, quantities=quantities, info=info,
                metric_params=metric_params, frame_hook=_shrinkage_hook,
                params={"sweep": "shrinkage", "confmix": use_confmix, "shrinkage_range": (low, high)})
    if projection == "fisher":
        plan.positions = positions
        plan.projection_name = "Fisher plane at each frame's λ"
        plan.projection_fixed = False
    return plan


def _aligned_planes(context, lambdas):
    """(positions, centres) in each λ's Fisher plane, each axis signed to agree with the previous frame."""
    stats = context.stats
    out, previous = [], None
    for lam in lambdas:
        plane = FisherProjection(2, shrinkage=float(lam)).fit(stats.features, stats.labels, stats=stats)
        pos, centres = plane.transform(stats.features), plane.transform(stats.class_means)
        if previous is not None:
            flip = np.where(np.einsum("nk,nk->k", pos, previous) < 0, -1.0, 1.0)
            pos, centres = pos * flip, centres * flip
        out.append((pos, centres))
        previous = pos
    return out


def _shrinkage_hook(model, index, stats_of_frame, result) -> dict:
    if result is None:
        return {}
    out = {"class_posterior": result.trace["class_posterior"], "confusion": result.trace["confusion"],
           "class_posterior_first": result.trace["class_posterior_first"]}
    if "mixing_weights" in result.trace:
        out["mixing_weights"] = result.trace["mixing_weights"]
    return out


SPEC = register(DynamicsSpec(
    name="fisher", build=build, title="Fisher space",
    moves="samples to their ConfMix positions in SFDA's Fisher plane (or the shrinkage λ swept)",
    aliases=("sfda", "fisher_space"), default_metric="sfda", default_projection="fisher",
    ranges={"shrinkage": (0.0, 1.0), "sweep": SWEEPS}, projection_shrinkage="shrinkage",
    slider="ConfMix t",
))
