"""The one entry point :func:`run`: validate, prepare each model once, build a method's frames, score, rank."""

from __future__ import annotations

import contextlib
import sys
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from transvis._threads import thread_limit
from transvis.features.featureset import FeatureSet
from transvis.metrics import compute
from transvis.metrics._backend import get_backend
from transvis.metrics._wrapped import resolve_wrapped_metric
from transvis.projection import FisherProjection, PCAProjection

# The built-in kinds register themselves on import (each module's ``SPEC = register(DynamicsSpec(...))``), in
# this order (the order of ``available_dynamics()``); ``_fast_logme`` registers LogME's closed-form frame scorer.
from . import spread_attract, fisher, ped, collapse  # noqa: F401, I001  # isort: skip
from . import _fast_logme  # noqa: F401
from ._context import AffineFrame, Display, clear_contexts, get_context
from ._spec import (  # noqa: F401 - ALIASES, METHODS, DEFAULT_*: read-only views of the registry
    ALIASES,
    CLOSED_FORM_SCORERS,
    DEFAULT_METRIC,
    DEFAULT_PROJECTION,
    METHODS,
    PROJECTIONS,
    DynamicsSpec,
    get_dynamics_spec,
)
from .frames import Frame, LazyMap, Trajectory, attach_ranks, check_noise


def _import_kinds() -> None:
    """Import every public module of this package, so a kind added as one module registers itself (after the
    built-in ones). Modules are imported in name order; a module without a ``register`` call adds nothing."""
    import importlib
    import pkgutil

    package = sys.modules[__package__]
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__package__}.{info.name}")


_import_kinds()

_TRAJECTORIES: OrderedDict = OrderedDict()
TRAJECTORY_CACHE_SIZE = 32


class _Unhashable(Exception):
    pass


def method_params(method: str) -> tuple[str, ...]:
    """The method-specific keyword parameters ``run`` accepts for ``method`` (besides the common ones)."""
    return get_dynamics_spec(method).param_names


@dataclass(frozen=True)
class _Request:
    """A validated ``run``/``request`` call: the kind's and the metric's specs, the metric's parameters, the
    projection, the frame count (None: the kind's default) and the caller's own kind parameters."""

    dynamics: DynamicsSpec
    metric: object  # transvis.metrics MetricSpec
    metric_params: dict
    projection: str
    n_frames: int | None
    params: dict = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.dynamics.name

    def as_dict(self) -> dict:
        """Plain JSON-able data (:func:`request`), every kind parameter with its default filled in."""
        resolved = {**self.dynamics.defaults(), **self.params}
        return {"method": self.method, "metric": self.metric.name, "metric_params": dict(self.metric_params),
                "projection": self.projection, "n_frames": self.n_frames,
                "params": {name: resolved[name] for name in self.dynamics.param_names}}


def _resolve(method, metric, metric_params, projection, n_frames, params) -> _Request:
    """The one validation of ``run`` and ``request``: kind, metric, projection, frame count, parameters."""
    dynamics = get_dynamics_spec(method)
    metric = dynamics.default_metric if metric is None else metric
    spec, metric_params = resolve_wrapped_metric(metric, metric_params, "the dynamics engine")
    projection = dynamics.default_projection if projection is None else projection
    if projection not in PROJECTIONS:
        raise ValueError(f"projection must be one of {', '.join(PROJECTIONS)}; got {projection!r}. "
                         "(UMAP draws a static overview only: transvis.projection.umap_overview.)")
    accepted = dynamics.param_names
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"method {dynamics.name!r} has no parameter(s) {unknown}; it accepts: "
                         f"{', '.join(accepted)} (plus metric, metric_params, projection, n_frames, backend, "
                         "device, cache_key, fast, threads).")
    if not dynamics.takes_n_frames and n_frames is not None:
        raise ValueError(f"{dynamics.title}'s frames are {dynamics.frames_are}; set {dynamics.frame_count_param}=… "
                         "instead of n_frames.")
    return _Request(dynamics, spec, metric_params, projection, n_frames, dict(params))


def request(method: str, metric: str | None = None, *, metric_params=None, projection=None, n_frames=None,
            **params) -> dict:
    """What ``run(method, …, metric=metric, …, **params)`` computes, as plain JSON-able data: the method and
    metric resolved, every method parameter (defaults filled in), the projection and frame count. Two calls
    with equal requests give equal trajectories on equal features (backend, device and threads change speed,
    not results). Used to key persisted trajectories by small explicit data. Validated as ``run`` validates."""
    return _resolve(method, metric, metric_params, projection, n_frames, params).as_dict()


def clear_cache() -> None:
    """Forget every cached trajectory and prepared model (e.g. after the features behind a key changed)."""
    _TRAJECTORIES.clear()
    clear_contexts()


def run(method: str, features, labels=None, metric: str | None = None, *, metric_params=None, projection=None,
        n_frames=None, backend="auto", device=None, cache_key=None, fast: bool = True, threads="auto",
        noise=None, stats_cache=None, progress=None, cancelled=None, eager_quantities: bool = False,
        **params) -> Trajectory:
    """Compute a trajectory of ``method`` for every model of a pool, scored by ``metric`` at every frame.

    Parameters
    ----------
    method : a registered kind or alias — "spread_attract" | "fisher" | "ped" | "collapse" built in
        (``available_dynamics()``; each kind's :class:`~transvis.dynamics.DynamicsSpec` says what it moves).
    features : {model: array [N, D_model] or FeatureSet} over the same N samples (D may differ by model).
    labels : int array [N] in 0..C−1; None takes them from the FeatureSets (which must agree).
    metric, metric_params : any registered feature metric (not a wrapper, no source probabilities) and its
        parameters; every frame's score is that metric's score on the frame's features. Default: the kind's
        ``default_metric`` ("sfda" for "fisher", "logme" for the others).
    projection : "pca" (exact PCA of the unperturbed features) or "fisher" (SFDA's Fisher plane); default
        the kind's ``default_projection`` (Fisher for "fisher", PCA otherwise). Fitted once per model, fixed
        for every frame.
    n_frames : frames of the sweep (default 11; not for a kind whose ``build`` makes its own frame count:
        "ped", whose frames are its steps).
    backend, device : where the heavy linear algebra runs ("auto", "numpy", "torch").
    cache_key : a small hashable id of ``features``/``labels`` (the app passes its feature-store key). With
        it, prepared models (Gram matrices, decompositions, projections) and whole trajectories are cached
        per (key, method, metric, parameters); without it nothing is cached. Parameters holding arrays
        (PED's reference features) bypass the trajectory cache.
    fast : use exact closed-form scorers where the metric has one (``CLOSED_FORM_SCORERS``: LogME on affine
        frames); False scores every frame through ``transvis.metrics.compute``.
    threads : BLAS/OpenMP threads for this computation: an int, None (the libraries' setting), or "auto" (1 when
        the machine is busy — 1-minute load average above cores − 1 — else the libraries' setting). Multi-threaded
        OpenBLAS degrades badly when other processes hold the cores: a 1,280² eigendecomposition took 0.6 s on
        one thread and 3–13 s on two on the shared 2-core development machine.
    stats_cache : a dict ``{model: ClassStats}`` the caller keeps (the one it passes to
        ``transvis.ranking.rank_models``): each model's context works on the statistics found there (when they
        were built from the same arrays) and leaves its own there otherwise, so a decomposition computed for a
        trajectory (e.g. the within-class eigendecomposition of LogME's closed form) also serves the ranking
        of a wrapper metric at the same parameters (FSP, PED), and the other way round.
    progress, cancelled : for a background job (``transvis.jobs.Job``'s ``work(progress, cancelled)``):
        ``progress(done, model)`` after each model's frames are scored (``done`` of the pool's models), and
        ``cancelled()`` checked before each model — True stops with ``transvis.jobs.JobCancelled``, caching
        nothing.
    eager_quantities : False (default): each frame's method quantities (``Frame.quantities``: the collapse's
        NC1–NC4 and FaCe statistics, …) are computed when first read, in the reader's thread. True: every
        model's quantities are computed right after its frames are scored, inside its ``progress`` unit (for a
        cached trajectory: those not read yet, model by model), so a background job hands over a trajectory
        that costs nothing to read — the collapse's statistics cost ~0.1 s per model and frame (an O(D³) solve
        and passes over N×D), 15 s for the demo's 12 models, which a page reading them all would otherwise
        spend in its own run. Same values either way (the same function computes them).
    noise : the sampling noise of ``metric``'s scores over this pool (a :class:`transvis.uncertainty.ScoreNoise`,
        e.g. ``rank_models(pool, [metric], resamples=10).noise[metric]``), or None. It decides which order
        changes are announced as overtakes (``Trajectory.with_noise``: beyond noise) and which are recorded as
        within noise, and adds "All … within noise" notes. The trajectory is computed (and cached) without it and
        the noise attached afterwards, so a change of noise recomputes nothing.
    **params : the method's own parameters (:func:`method_params` lists them).
    """
    req = _resolve(method, metric, metric_params, projection, n_frames, params)
    check_noise(noise, req.metric.name, req.metric.higher_is_better)

    key = None
    if cache_key is not None:
        try:
            key = _freeze((cache_key, req.method, req.metric.name, req.metric_params, req.params, req.projection,
                           req.n_frames, backend, device, bool(fast)))  # threads change speed, not results
            hash(key)
        except (_Unhashable, TypeError):
            key = None
        if key is not None and key in _TRAJECTORIES:
            _TRAJECTORIES.move_to_end(key)
            cached = _TRAJECTORIES[key]
            if eager_quantities:
                with thread_limit(threads):
                    read_quantities(cached, progress=progress, cancelled=cancelled)
            return _with_noise(cached, noise)

    started = time.perf_counter()
    with thread_limit(threads):
        trajectory = _compute(req, features, labels, backend=backend, device=device, cache_key=cache_key, fast=fast,
                              stats_cache=stats_cache, progress=progress, cancelled=cancelled,
                              eager_quantities=eager_quantities)
    trajectory.seconds = time.perf_counter() - started
    if key is not None:
        _TRAJECTORIES[key] = trajectory
        while len(_TRAJECTORIES) > TRAJECTORY_CACHE_SIZE:
            _TRAJECTORIES.popitem(last=False)
    return _with_noise(trajectory, noise)


def read_quantities(trajectory: Trajectory, *, progress=None, cancelled=None) -> None:
    """Compute every frame's quantities of every model of ``trajectory`` now (those not read yet), model by
    model: ``progress(done, model)`` before and after each model, ``cancelled()`` checked before each (True
    raises ``transvis.jobs.JobCancelled``; what was computed stays: each value is final once read)."""
    for done, model in enumerate(trajectory.models):
        _check_cancelled(cancelled)
        if progress is not None:
            progress(done, model)
        for frame in trajectory.frames:
            frame.quantities.get(model)
        if progress is not None:
            progress(done + 1, model)
    _check_cancelled(cancelled)


def _check_cancelled(cancelled) -> None:
    if cancelled is not None and cancelled():
        from transvis.jobs import JobCancelled

        raise JobCancelled


def _with_noise(trajectory: Trajectory, noise) -> Trajectory:
    """The cached trajectory itself without noise; a copy with the noise's announcements otherwise."""
    return trajectory if noise is None else trajectory.with_noise(noise)


def _compute(req: _Request, features, labels, *, backend, device, cache_key, fast, stats_cache=None, progress=None,
             cancelled=None, eager_quantities=False) -> Trajectory:
    spec, metric_params, projection = req.metric, req.metric_params, req.projection
    arrays, labels = _pool(features, labels)
    backend_obj = get_backend(backend, device)
    contexts = {m: get_context(m, x, labels, backend=backend_obj, cache_key=cache_key, stats_cache=stats_cache)
                for m, x in arrays.items()}
    shrinkage_param = req.dynamics.projection_shrinkage
    shrinkage = req.params.get(shrinkage_param) if shrinkage_param is not None else None
    displays, projections = {}, {}
    for model, context in contexts.items():
        fitted, display, display_key = _projection(context, projection, shrinkage)
        projections[model] = fitted
        displays[id(context)] = (display, display_key)

    engine_values = {"n_frames": req.n_frames, "metric": spec.name, "metric_params": metric_params,
                     "projection": projection}
    build_args = dict(req.params, displays=displays)
    build_args.update({name: engine_values[name] for name in req.dynamics.engine_args()})
    plan = req.dynamics.build(contexts, **build_args)
    displays.update(plan.displays)

    n = len(plan.values)
    eager: dict = {}

    def read_model(model, scored):  # inside the model's progress unit (eager_quantities)
        eager[model] = [_quantities(plan, scored, scored.errors, model, i) for i in range(n)]

    scored = _score(spec, metric_params, plan, contexts, fast, progress, cancelled,
                    after_model=read_model if eager_quantities else None)
    errors = scored.errors
    frames = []
    for index in range(n):
        positions, centres, scores = {}, {}, {}
        for model in contexts:
            frame_spec = plan.frames[model][index]
            if plan.positions is not None and model in plan.positions:
                positions[model], centres[model] = plan.positions[model][index]
            else:
                display, display_key = displays[id(frame_spec.context)]
                positions[model], centres[model] = frame_spec.display(display, display_key)
            scores[model] = scored.scores[index].get(model, float("nan"))
        degenerate = {}
        for model in contexts:
            reason = getattr(scored.results[model][index], "degenerate", None)  # None where the metric failed
            if reason:
                degenerate[model] = str(reason)
        frames.append(Frame(
            index=index, value=plan.values[index], label=plan.labels[index], positions=positions, centres=centres,
            scores=scores, degenerate=degenerate,
            quantities=({m: eager[m][index] for m in contexts} if eager_quantities
                        else LazyMap(contexts, lambda m, i=index: _quantities(plan, scored, errors, m, i))),
            predicted=None if plan.predicted is None else LazyMap(contexts, lambda m, i=index: plan.predicted(m, i)),
            contribution=(None if plan.contribution is None
                          else LazyMap(contexts, lambda m, i=index: plan.contribution(m, i))),
        ))
    attach_ranks(frames, higher_is_better=spec.higher_is_better, metric=spec.name)
    projection_name = plan.projection_name or (
        "PCA of the unperturbed features" if projection == "pca" else "Fisher plane of the unperturbed features")
    trajectory = Trajectory(
        method=req.method, metric=spec.name, metric_params=metric_params, params=plan.params, parameter=plan.parameter,
        models=list(contexts), labels=next(iter(contexts.values())).labels, frames=frames,
        projection_name=projection_name, projection_fixed=plan.projection_fixed, projections=projections,
        info=plan.info, scoring=scored.scoring, errors=errors,
        cache_key=cache_key, higher_is_better=bool(spec.higher_is_better),
    )
    return trajectory


# -- inputs ------------------------------------------------------------------------------------------------
def _pool(features, labels):
    """{model: array [N, D]} and labels [N] from arrays or FeatureSets, with clear errors."""
    if not isinstance(features, Mapping) or not features:
        raise ValueError("features must be a non-empty dict {model name: array [N, D] or FeatureSet} over the "
                         "same samples; for one model pass {'model': X}.")
    arrays, from_sets = {}, []
    for name, value in features.items():
        if isinstance(value, FeatureSet):
            arrays[str(name)] = value.features
            from_sets.append((name, value.labels))
        else:
            arrays[str(name)] = value
    if len(arrays) != len(features):
        raise ValueError("model names must be distinct strings.")
    if labels is None:
        if not from_sets:
            raise ValueError("labels are required when features are plain arrays: pass labels=[N] class indices.")
        labels = from_sets[0][1]
        for name, other in from_sets[1:]:
            if not np.array_equal(other, labels):
                raise ValueError(f"FeatureSet {name!r} has different labels from {from_sets[0][0]!r}; every model "
                                 "of a trajectory must be extracted on the same samples.")
    n = len(labels)
    for name, x in arrays.items():
        rows = np.shape(x)[0] if np.ndim(x) >= 1 else 0
        if rows != n:
            raise ValueError(f"model {name!r} has {rows} feature rows but there are {n} labels; every model must "
                             "be extracted on the same samples.")
    return arrays, labels


def _freeze(value):
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        raise _Unhashable
    if isinstance(value, np.generic):
        return value.item()
    return value


def warm_contexts(features: dict, labels, *, cache_key, stats_cache=None, backend="auto",
                  cancelled=lambda: False) -> int:
    """Prepare, model by model, what a new strength of an affine dynamics scored by LogME needs (each model's
    context, its within-class eigendecomposition ``context.within_eigh`` and its PCA view), so that the first
    control change after a page opens costs closed-form evaluations only. Meant for a background thread;
    ``cancelled()`` is checked between models. Returns the number of models prepared."""
    backend_obj = get_backend(backend)
    done = 0
    for name, x in features.items():
        if cancelled():
            break
        context = get_context(name, x, labels, backend=backend_obj, cache_key=cache_key, stats_cache=stats_cache)
        context.within_eigh
        _projection(context, "pca", None)
        done += 1
    return done


# -- projections -------------------------------------------------------------------------------------------
def _projection(context, kind: str, shrinkage):
    key = ("pca",) if kind == "pca" else ("fisher", shrinkage)

    def fit():
        stats = context.stats
        if kind == "pca":
            return PCAProjection(2).fit(stats.features, stats=stats, covariance=stats.total_scatter)
        lda = fisher.first_pass(context, shrinkage)[0]  # SFDA's first pass, shared with the Fisher dynamics
        return FisherProjection(2, shrinkage=shrinkage).fit(stats.features, stats.labels, stats=stats, lda=lda)

    fitted = context.cached(("projection",) + key, fit)
    display = Display(fitted.mean_, np.ascontiguousarray(fitted.components_[:2].T), np.zeros(2))
    return fitted, display, key


def _quantities(plan, scored, errors, model, index) -> dict:
    """A frame's quantities for one model: the plan's, the method hook's (computed now, on first read) and the
    metric's trace."""
    frame = plan.frames[model][index]
    result = scored.results[model][index]
    out = dict(plan.quantities.get(model, [{}] * len(plan.values))[index])
    if plan.frame_hook is not None:
        built = {}

        def stats_of_frame():
            if "stats" not in built:
                built["stats"] = frame.make_stats()
            return built["stats"]

        try:
            with _quiet_degenerate():  # NC/FaCe at full collapse are degenerate by construction
                out.update(plan.frame_hook(model, index, stats_of_frame, result) or {})
        except Exception as err:  # noqa: BLE001 - recorded; the frame keeps its other quantities
            errors.append((model, index, f"quantities: {type(err).__name__}: {err}"))
    out["metric_trace"] = result.trace if result is not None else None
    return out


@contextlib.contextmanager
def _quiet_degenerate():
    """Silence the metrics' DegenerateScoreWarning: a trajectory scores hundreds of frames and records each
    degenerate score on its frame (``Frame.degenerate``, summarised in ``Frame.note``)."""
    import warnings

    import transvis.metrics as metrics

    category = getattr(metrics, "DegenerateScoreWarning", None)
    with warnings.catch_warnings():
        if category is not None:
            warnings.simplefilter("ignore", category)
        yield


# -- scoring -----------------------------------------------------------------------------------------------
class _Scored:
    def __init__(self, models, n):
        self.results = {m: [None] * n for m in models}
        self.scores = [{} for _ in range(n)]
        self.scoring, self.errors = {}, []


def _score(spec, metric_params, plan, contexts, fast, progress=None, cancelled=None, after_model=None) -> _Scored:
    """Score every frame of every model (closed form where the metric has one, else the registry);
    ``after_model(model, scored)`` runs once a model's frames are scored, inside its progress unit."""
    n = len(plan.values)
    out = _Scored(list(contexts), n)
    # closed-form frame scorers are a capability of the metric (see transvis.dynamics._spec)
    scorer = CLOSED_FORM_SCORERS.get(spec.name) if fast and spec.pool_combine is None else None
    variant = metric_params.get("variant", spec.default_variant)
    for done, (model, context) in enumerate(contexts.items()):
        if cancelled is not None and cancelled():
            from transvis.jobs import JobCancelled

            raise JobCancelled
        if progress is not None:
            progress(done, model)
        frames = plan.frames[model]
        params_per_frame = (plan.metric_params or {}).get(model) or [metric_params] * n
        memo: dict = {}

        def memo_key(i):
            return id(frames[i]), _freeze(params_per_frame[i])

        fast_frames = 0
        if scorer is not None:
            by_context: dict = {}
            for i, frame in enumerate(frames):
                if isinstance(frame, AffineFrame) and params_per_frame[i] == metric_params:
                    by_context.setdefault(id(frame.context), {})[id(frame)] = frame
            for group in by_context.values():
                group = list(group.values())
                if not scorer.applicable(group[0].context, variant, len(group)):
                    continue
                for frame, result in zip(group, scorer.score_frames(group, variant)):
                    if result is not None:
                        memo[(id(frame), _freeze(metric_params))] = result
                        fast_frames += 1
        distinct = len({memo_key(i) for i in range(n)})
        out.scoring[model] = (
            f"closed form for {fast_frames} of {distinct} distinct frames ({scorer.description}); registry for "
            "the rest" if fast_frames
            else "registry (transvis.metrics.compute with closed-form shared statistics)")

        for i, frame in enumerate(frames):
            k = memo_key(i)
            if k not in memo:
                try:
                    stats = frame.make_stats()
                    with _quiet_degenerate():  # recorded per frame instead (Frame.degenerate, Frame.note)
                        memo[k] = compute(spec.name, stats.features, stats.labels, stats=stats,
                                          **params_per_frame[i])
                except Exception as err:  # noqa: BLE001 - recorded, the score is NaN, the rest goes on
                    memo[k] = None
                    out.errors.append((model, i, f"{type(err).__name__}: {err}"))
            out.results[model][i] = memo[k]
        if after_model is not None:
            after_model(model, out)
        if progress is not None:
            progress(done + 1, model)
    if cancelled is not None and cancelled():  # asked during the last model: nothing of this run is kept
        from transvis.jobs import JobCancelled

        raise JobCancelled
    for i in range(n):
        results = {m: out.results[m][i] for m in contexts if out.results[m][i] is not None}
        if spec.pool_combine is not None and results:
            combined = spec.pool_combine(results)
            out.scores[i] = {m: float(combined.get(m, np.nan)) for m in contexts}
        else:
            out.scores[i] = {m: (float(results[m].score) if m in results else float("nan")) for m in contexts}
    return out

