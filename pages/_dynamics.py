"""Shared Streamlit pieces of the four dynamics pages: controls, the animation + live ranking, selection.

The animation comes from the dynamics engine (``transvis.dynamics.run``); each page adds the method's own
quantities (from the metric traces) around it.
"""

from __future__ import annotations

import threading

import pandas as pd
import streamlit as st

import transvis.dynamics as dynamics
from pages._ui import NOISE_PENDING, active_pool, default, error_box, metric_label, noise_pending, ranking
from transvis.captions import ped_badges, trajectory_caption, view_movement
from transvis.glossary import define
from transvis.metrics import available, get_spec, short_name
from pages._selection import carried_selection, selected_indices
from transvis.session import Pool, params_key, precomputed_trajectory, short_digest
from transvis.viz import model_colors, short_model_name

COLOR_BY = ["true label", "predicted label", "per-sample contribution"]


def color_options(view) -> list[str]:
    """The colourings this trajectory view has: true label always; predicted label and per-sample contribution
    only where the trajectory computes them (``view.predicted`` / ``view.contribution``)."""
    have = {"true label": True, "predicted label": view.predicted is not None,
            "per-sample contribution": view.contribution is not None}
    return [name for name in COLOR_BY if have[name]]


def wrappable_metrics() -> list[str]:
    """Metrics a wrapper (FSP, PED, dynamics) can re-score: feature-only, not wrappers themselves."""
    out = []
    for name in available():
        spec = get_spec(name)
        if not spec.wraps_metric and not spec.needs_source_probs and spec.pool_combine is None:
            out.append(name)
    return out


def metric_select(label: str, key: str, preferred: str = "logme", container=st, help: str | None = None) -> str:
    options = wrappable_metrics()
    if st.session_state.get(key) not in options:
        st.session_state[key] = preferred if preferred in options else options[0]
    return container.selectbox(label, options, key=key, format_func=metric_label, help=help)


def model_select(pool: Pool, key: str, label: str = "Model shown in the scatter", container=st,
                 showcase: str | None = None) -> str:
    """A model picker; on first use it opens on the model that makes ``showcase``'s point (a dynamics kind:
    :func:`showcase_model`), else on the pool's first model."""
    if st.session_state.get(key) not in pool.models:
        picked = showcase_model(pool, showcase) if showcase else None
        st.session_state[key] = picked if picked in pool.models else pool.models[0]
    return container.selectbox(label, pool.models, key=key, format_func=short_model_name)


def showcase_model(pool: Pool, kind: str) -> str | None:
    """The model a dynamics page opens on: under the page's default trajectory, the one that makes the kind's
    point (``transvis.demo.showcase.showcase``: by default the one whose rank falls beyond the noise). Read only
    from a persisted trajectory (the demo's), so opening a page never computes one; None elsewhere, or when
    the numbers pick no model."""
    from transvis.app_defaults import DYNAMICS_DEFAULTS
    from transvis.demo.showcase import showcase

    metric, params = DYNAMICS_DEFAULTS[kind]
    if precomputed_trajectory(pool, kind, metric, params) is None:
        return None
    try:
        pick = showcase(kind, trajectory(pool, kind, metric, params))
    except Exception:  # noqa: BLE001 - a missing noise estimate only costs the pool's first model
        return None
    return pick.models[-1] if pick is not None else None


# --- the dynamics engine ------------------------------------------------------------------------------
def kind_spec(kind: str):
    """The registered spec of a dynamics kind (``transvis.dynamics.get_dynamics_spec``: what it moves, its
    parameters, their defaults and declared ranges)."""
    return dynamics.get_dynamics_spec(kind)


def kind_choices(kind: str, param: str, labels: dict) -> dict:
    """``{choice: label}`` for a choice parameter of a dynamics kind: the choices its spec declares (in that
    order), worded by the page's ``labels``; the page's own ``labels`` where the spec declares none."""
    choices = kind_spec(kind).ranges.get(param)
    if not choices:
        return dict(labels)
    return {choice: labels.get(choice, str(choice)) for choice in choices}


@st.cache_resource(max_entries=16, show_spinner="Computing the trajectory for every model…")
def _trajectory(pool_key: str, kind: str, metric: str, params_json: str, _pool: Pool, _params: dict):
    # cache_key lets the engine reuse each model's prepared statistics across methods and parameters; the pool's
    # shared statistics make them serve the method rankings too (FSP/PED's LogME closed form)
    from pages._ui import _pool_stats

    return dynamics.run(kind, _pool.feature_arrays(), _pool.labels, metric=metric, cache_key=pool_key,
                        stats_cache=_pool_stats(pool_key), **_params)


@st.cache_resource(max_entries=8, show_spinner=False)
def _warming(pool_key: str, _pool: Pool):
    """Start, once per pool and server process, a background thread preparing every model's LogME closed form
    (``transvis.dynamics._engine.warm_contexts``): a page opens on its persisted trajectory at once, and by the
    time a control moves, a new strength costs closed-form evaluations only. The thread never calls Streamlit."""
    import threading

    from pages._ui import _pool_stats
    from transvis.dynamics._engine import warm_contexts

    thread = threading.Thread(target=warm_contexts, args=(_pool.feature_arrays(), _pool.labels),
                              kwargs={"cache_key": pool_key, "stats_cache": _pool_stats(pool_key)},
                              name="transvis-warm-contexts", daemon=True)
    thread.start()
    return thread


TRAJECTORY_JOB = "trajectory_job:"
GRACE_S = 1.0  # a new trajectory ready within this is drawn at once; a slower one moves to the background
_KEPT_TRAJECTORIES = 6  # finished background trajectories kept by the server (each holds every frame's positions)


def trajectory(pool: Pool, kind: str, metric: str, params: dict, noise_params: dict | None = None):
    """The pool's trajectory for this request — persisted (the demo's defaults) or computed and cached — with
    the sampling noise of ``metric`` over the pool attached (:func:`metric_noise`; ``Trajectory.with_noise``):
    the trajectory is cached without noise and the noise attached after, under small keys."""
    persisted = precomputed_trajectory(pool, kind, metric, params)
    if metric == "logme" and pool.shared_samples:
        _warming(pool.key, pool)
    traj = persisted if persisted is not None else _trajectory(pool.key, kind, metric, params_key(params), pool,
                                                               params)
    return _noisy(pool, kind, metric, params, noise_params, traj, persisted is not None)


def live_trajectory(pool: Pool, kind: str, metric: str, params: dict, noise_params: dict | None = None,
                    grace: float = GRACE_S):
    """:func:`trajectory` for a page whose controls must answer at once: ``(trajectory, pending job key)``.

    A trajectory not persisted nor already computed is computed by a background job (one model per unit,
    its frames' method quantities included: progress, ETA, Cancel — :func:`trajectory_panel`); if it is
    ready within ``grace`` seconds (default :data:`GRACE_S`; 0 where the page knows it cannot be) it is
    returned at once, otherwise the last trajectory this session saw of ``kind`` on this pool (None if none)
    comes back with the job's key, and the page reruns with the new one when it is done."""
    persisted = precomputed_trajectory(pool, kind, metric, params)
    if metric == "logme" and pool.shared_samples:
        _warming(pool.key, pool)
    shown_key = f"trajectory_shown:{pool.key}:{kind}"
    if persisted is not None:
        traj, pending = persisted, None
    else:
        traj, pending = _background_trajectory(pool, kind, metric, params, grace)
    if traj is None:
        shown = st.session_state.get(shown_key)
        return (shown if shown is not None else None), pending
    traj = _noisy(pool, kind, metric, params, noise_params, traj, persisted is not None)
    st.session_state[shown_key] = traj
    return traj, pending


def _trajectory_store() -> dict:
    """``{(pool key, kind, metric, params json): Trajectory}`` computed by any session's background job."""
    from pages._jobs import finished_results

    return finished_results("trajectories")


FLOPS = 1e10  # an optimistic arithmetic rate of one core here (NC statistics: 0.11 s per model and frame, D = 1,280)


def collapse_grace(pool: Pool) -> float:
    """The grace of a new collapse trajectory (:func:`live_trajectory`): :data:`GRACE_S`, or 0 where its
    per-frame NC statistics — computed by the job, each a D×D solve and a few passes over N×D per model and
    frame — cannot be ready within it even at an optimistic :data:`FLOPS` (the demo: ~15 s), so that waiting
    would only delay the page's answer."""
    from transvis.dynamics.collapse import DEFAULT_FRAMES

    n, c = pool.n_samples, len(pool.class_names)
    work = sum(d**3 / 3 + 4 * n * d * c for d in (x.shape[1] for x in pool.feature_arrays().values()))
    return GRACE_S if DEFAULT_FRAMES * work / FLOPS < GRACE_S else 0.0


def _background_trajectory(pool: Pool, kind: str, metric: str, params: dict, grace: float = GRACE_S):
    """``(trajectory or None, pending job key or None)``: see :func:`live_trajectory`."""
    from pages._jobs import running, take_finished, wait_in_run

    store_key = (pool.key, kind, metric, params_key(params))
    store = _trajectory_store()
    if store_key in store:
        return store[store_key], None
    job_key = TRAJECTORY_JOB + short_digest(*store_key)
    finished = take_finished(job_key)
    if finished is None and running(job_key) is None and f"{job_key}_outcome" not in st.session_state:
        _start_trajectory_job(pool, kind, metric, params, job_key)
        if grace > 0 and wait_in_run(st.session_state[job_key], grace):
            finished = take_finished(job_key)
    if finished is not None and finished[0].state == "done":
        store[store_key] = finished[1].result
        for old in list(store)[:-_KEPT_TRAJECTORIES]:
            store.pop(old, None)
        return finished[1].result, None
    return None, job_key


def _start_trajectory_job(pool: Pool, kind: str, metric: str, params: dict, job_key: str) -> None:
    """Start this session's background trajectory under ``job_key``, after cancelling its other trajectories
    of ``kind`` on this pool (superseded by the control that moved: they would only slow this one down)."""
    from pages._jobs import start
    from pages._ui import _pool_stats
    from transvis.jobs import Job

    for other, job in list(st.session_state.items()):
        if (isinstance(other, str) and other.startswith(TRAJECTORY_JOB) and other != job_key
                and getattr(job, "tag", None) == (pool.key, kind)):
            job.cancel()
            del st.session_state[other]
            st.session_state.pop(f"{other}_outcome", None)
    arrays, labels, stats = pool.feature_arrays(), pool.labels, _pool_stats(pool.key)

    def work(progress, cancelled):
        _yield_to_pages()
        # eager_quantities: each model's per-frame quantities (the collapse's NC statistics: ~1 s per model on
        # the demo) are computed here, in its progress unit, not by the page run that first reads them
        return dynamics.run(kind, arrays, labels, metric=metric, cache_key=pool.key, stats_cache=stats,
                            progress=lambda done, model: progress(done, short_model_name(model)),
                            cancelled=cancelled, eager_quantities=True, **params)

    start(job_key, Job(work, len(arrays), name=f"The {kind.replace('_', ' ')} trajectory", tag=(pool.key, kind)))


JOB_NICENESS = 10  # added to a background trajectory thread's niceness (Linux: per thread)


def _yield_to_pages() -> None:
    """Lower the calling thread's scheduling priority (Linux; nothing elsewhere): a background trajectory
    computes for seconds beside the page runs of the same server, and on a loaded 2-core machine a job thread
    at the server's priority made the rerun that started it ~1-2 s slower. Only this thread is affected (a
    job's thread ends with its job); raising one's own niceness needs no privilege."""
    import os

    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + JOB_NICENESS))
    except (AttributeError, OSError):  # not Linux, or not permitted: the job runs at the server's priority
        pass


# a Neural-collapse t sweep alone leaves three figures per frame (still, ETF, Gram): room for it and the other
# pages' animations (a few MB each)
_FIGURES_KEPT = 48
_figures_lock = threading.Lock()


@st.cache_resource(show_spinner=False)
def _figure_store() -> dict:
    """Server-wide ``{(id(trajectory), parts…): (trajectory, figure)}`` (:func:`cached_figure`)."""
    return {}


def cached_figure(traj, parts: tuple, build):
    """``build()`` — an animated figure of ``traj`` — reused while ``traj`` is the same object and ``parts``
    (small values: model, title, toggles, frame) are equal. At 12 models × 11 frames the animated figure costs
    ~0.5 s of plotly validation and its still frame ~0.25 s per page run, paid again by every control that
    leaves them as they were (the ETF toggle while its trajectory is computed in the background, a teaching
    toggle…). Callers may only make idempotent changes to the figure (``pages._scatter.sample_scatter``'s
    quiet hover); the trajectory is held with it, so its id is not reused."""
    key = (id(traj), *parts)
    with _figures_lock:
        store = _figure_store()
        hit = store.pop(key, None)
        if hit is not None and hit[0] is traj:
            store[key] = hit  # most recently used last
            return hit[1]
    fig = build()
    with _figures_lock:
        store[key] = (traj, fig)
        for old in list(store)[:-_FIGURES_KEPT]:
            store.pop(old, None)
    return fig


def trajectory_panel(job_key: str, shown, what: str = "the trajectory") -> None:
    """While a background trajectory runs: what the figure shows meanwhile, and the job's progress (done/total
    models, ETA, Cancel); after a cancel or a failure, what happened and a button to compute it again.
    ``what``: what the job computes, in the page's words ("the trajectory and its NC statistics")."""
    from pages._jobs import job_panel, outcome_text

    if shown is None:
        st.info(f"Computing {what} at these settings for every model; it appears here when it is done.",
                icon=":material/hourglass_top:")
    else:
        st.caption(f":material/hourglass_top: Computing {what} at the new settings. The figure still shows the "
                   f"trajectory at the previous settings ({_settings_text(shown)}); the one at the new settings "
                   "replaces it when it is done.")

    def idle(outcome):
        if outcome is None:
            return
        st.warning(f"The trajectory at these settings was not computed: {outcome_text(outcome)}",
                   icon=":material/info:")
        st.button("Compute it", key=f"{job_key}_restart", icon=":material/refresh:",
                  on_click=lambda: st.session_state.pop(f"{job_key}_outcome", None))

    job_panel(job_key, idle, units="models", action=f"Computing {what}")


def _settings_text(traj) -> str:
    """``"metric LogME, spread 0.3, attract 0.3"``: the parameters a shown trajectory was computed with."""
    parts = [f"metric {metric_label(traj.metric)}"]
    for name, value in (getattr(traj, "params", None) or {}).items():
        if isinstance(value, bool):
            parts.append(f"{name.replace('_', ' ')} {'on' if value else 'off'}")
        elif isinstance(value, (int, float, str)) or value is None:
            parts.append(f"{name.replace('_', ' ')} {value:.3g}" if isinstance(value, float) else
                         f"{name.replace('_', ' ')} {value}")
    return ", ".join(parts[:6])


def _noisy(pool: Pool, kind: str, metric: str, params: dict, noise_params, traj, persisted: bool):
    """``traj`` with the sampling noise of ``metric`` over the pool attached (cached under small keys)."""
    noise_request = _noise_request(metric, noise_params)
    noise = metric_noise(pool, metric, noise_request)
    if noise is None or not hasattr(traj, "with_noise"):
        return traj
    return _with_noise(pool.key, kind, metric, params_key(params), params_key(noise_request), persisted, traj,
                       noise)


@st.cache_resource(max_entries=32, show_spinner=False)
def _with_noise(pool_key: str, kind: str, metric: str, params_json: str, noise_json: str, persisted: bool,
                _traj, _noise):
    return _traj.with_noise(_noise)


def _noise_request(metric: str, params: dict | None) -> dict:
    """The metric parameters whose ranking carries the noise: the caller's, else the metric's default variant
    (what the trajectory scores with, and the Leaderboard's cache entry)."""
    from transvis.app_defaults import default_params

    return dict(params) if params is not None else dict(default_params([metric]).get(metric) or {})


def metric_noise(pool: Pool, metric: str, params: dict | None = None):
    """The sampling noise of ``metric``'s scores over the pool (a ``ScoreNoise``), from its cached ranking
    (``pages._ui.ranking``: scored once per pool, metric and parameters; the demo's is precomputed); None when
    the noise was not estimated (opt-in metrics, a ranking without ``noise``) or scoring failed."""
    table = metric_ranking(pool, metric, params)
    noise = getattr(table, "noise", None) or {}
    return noise.get(metric) if hasattr(noise, "get") else None


def metric_ranking(pool: Pool, metric: str, params: dict | None = None):
    """The cached ranking of the pool by ``metric`` at ``params`` (default: its default variant, as the race
    scores it), its noise attached when known; None when scoring failed."""
    request = _noise_request(metric, params)
    try:
        return ranking(pool, [metric], {metric: request} if request else None, background_noise=True)
    except Exception:  # noqa: BLE001 - without noise the race says so; the animation stays usable
        return None


def animation_section(pool: Pool, kind: str, metric: str, params: dict, model: str, key: str,
                      title: str, slider_prefix: str = "", noise_params: dict | None = None,
                      grace: float = GRACE_S, what: str = "the trajectory"):
    """The animated scatter of ``model`` beside the live ranking, plus the table of lasso-selected samples.

    The race judges order changes against the sampling noise of ``metric`` over the pool (scored with
    ``noise_params``; default: the metric's default variant): overtakes only beyond noise, "within noise"
    otherwise, and each frame's note (saturation, every model within noise).
    ``grace``, ``what``: see :func:`live_trajectory` and :func:`trajectory_panel`.
    Returns the trajectory (for the page's own per-frame figures), or None when it could not be computed.
    """
    from transvis.viz.animation import dynamics_figure, trajectory_view

    if not pool.shared_samples:
        st.warning("The models of this pool were not extracted on the same samples, so their trajectories "
                   "cannot be compared frame by frame. Build a pool on one dataset (Setup).")
        return None
    try:
        traj, pending = live_trajectory(pool, kind, metric, params, noise_params, grace=grace)
        if pending is not None:
            trajectory_panel(pending, traj, what)
        if traj is None:
            return None
        view = trajectory_view(traj, model)
    except Exception as err:  # noqa: BLE001 - the rest of the page stays usable
        error_box(err, "Computing the trajectory")
        return None
    options = color_options(view)
    c1, c2 = st.columns([3, 1])
    if st.session_state.get(f"w:{key}_color") not in options:  # kept from a trajectory that had that colouring
        st.session_state[f"w:{key}_color"] = options[0]
    color_by = c1.radio("Colour samples by", options, key=f"w:{key}_color", horizontal=True,
                        help=define("per-sample contribution") if "per-sample contribution" in options else None)
    show_start = c2.toggle("Show the start", key=default(f"w:{key}_start", True),
                           help="Keep the first frame drawn in grey behind the moving points, with each class "
                                "centre's path as a dotted line, so that small movements are seen.")
    color, color_label = None, ""
    if color_by == "predicted label":
        color = view.predicted
    elif color_by == "per-sample contribution":
        color, color_label = view.contribution, "contribution"
    if view.race is not None:
        view.race.badges = ped_badges(traj)

    def build():
        return dynamics_figure(
            view.positions, pool.labels, pool.class_names, view.scores, view.ranks, centres=view.centres,
            frame_names=view.frame_names, color=color, color_label=color_label, colors=model_colors(pool.models),
            metric_label=metric_label(metric), scatter_title=f"{short_model_name(model)} — {view.projection}",
            title=title, slider_prefix=slider_prefix, race=view.race, show_start=bool(show_start),
        )

    # the figure of the last run while nothing it shows changed (~0.7 s of plotly at 12 models × 11 frames)
    fig = cached_figure(traj, (key, pool.key, model, metric, color_by, bool(show_start), title, slider_prefix),
                        build)
    from pages._scatter import sample_scatter  # hover thumbnails; lasso/box selection as before

    event = sample_scatter(fig, pool, key=f"{key}_anim", predicted=view.predicted, frame_names=view.frame_names)
    st.markdown(f"**What happened:** {trajectory_caption(traj, short_name(metric), model)}")
    moved = view_movement(view.positions)
    st.caption(f"In this view the drawn samples of {short_model_name(model)} move on average {moved['mean']:.3g} "
               f"units from the first to the last frame ({moved['share']:.1%} of the view's width; 90 % move at "
               f"most {moved['p90']:.3g}).")
    ranking_captions(traj, view.frame_names, metric)
    if getattr(traj, "errors", None):
        st.warning("The metric failed on some frames (score NaN there): " + "; ".join(
            f"{short_model_name(m)} frame {i}: {e}" for m, i, e in traj.errors[:3]))
    picked, carried = carried_selection(st.session_state.setdefault(SELECTIONS, {}), key,
                                        (pool.key, model, metric, color_by, bool(show_start)), traj,
                                        selected_indices(event))
    selection_table(pool, picked, key=f"{key}_selected", carried_from=key if carried else None)
    return traj


def ranking_captions(traj, frame_names: list[str], metric: str) -> None:
    """What the race announced over the whole trajectory: the overtakes beyond noise, how many order changes
    were within noise (not announced), the frames with a note, and whether the noise was estimated."""
    def names(o):
        return f"{short_model_name(o.model)} passes {short_model_name(o.passed)}"

    noise = getattr(traj, "noise", None)
    overtakes = list(getattr(traj, "all_overtakes", lambda: [])())
    within = list(getattr(traj, "all_within_noise", lambda: [])())
    notes = list(getattr(traj, "notes", lambda: [])())
    if overtakes:
        beyond = " beyond noise" if noise is not None else ""
        st.caption(f"Overtakes{beyond}: " + "; ".join(f"{frame_names[i]}: {names(o)}" for i, o in overtakes[:8])
                   + (f" (+{len(overtakes) - 8} more)" if len(overtakes) > 8 else ""))
    if within:
        what = "within noise" if noise is not None else "between float-tied or saturated scores"
        i, o = within[0]
        st.caption(f"{len(within)} order change(s) {what}, not announced as overtakes (e.g. {frame_names[i]}: "
                   f"{names(o)}).")
    if notes:
        st.caption("Frames without a ranking to tell: " + "; ".join(f"{frame_names[i]}: {n}" for i, n in notes[:4])
                   + (f" (+{len(notes) - 4} more)" if len(notes) > 4 else ""))
    if noise is None and noise_pending(active_pool(), metric):  # being estimated: the panel shows its progress
        st.caption(f"{metric_label(metric)}: {NOISE_PENDING}")
    elif noise is None:
        st.caption(f"Score noise not estimated for {metric_label(metric)} on this pool: only float ties are "
                   "grouped (=), and order changes are not judged against sampling noise.")
    else:
        st.caption(f"Whiskers and ≈ groups: the {noise.resampling.level:.0%} interval of each model's "
                   f"{metric_label(metric)} from {noise.source_text()} of the "
                   "unperturbed features, carried along every frame (a frame moves the same samples).")


def frame_note(traj, index: int, container=st) -> None:
    """The note of one frame (saturation, every model within noise), where it has one."""
    note = getattr(traj.frames[index], "note", None)
    if note:
        container.info(f"{traj.frames[index].label}: {note}", icon=":material/balance:")


def frame_select(traj, key: str, label: str, default_last: bool = True) -> int:
    """A select-slider over the trajectory's frame labels (keyed, persistent); returns the frame index."""
    labels = [f.label for f in traj.frames]
    if st.session_state.get(key) not in labels:
        st.session_state[key] = labels[-1] if default_last else labels[0]
    chosen = st.select_slider(label, labels, key=key)
    return labels.index(chosen)


def quantity_curves(traj, name: str, y_title: str, title: str, key: str, colors: dict,
                    full_width: bool = False) -> None:
    """One method quantity of every model across the frames, as curves over the control parameter (``full_width``:
    the chart spans the page, not half of it, which sizes its legend's rows)."""
    from transvis.viz.methods import FULL_WIDTH_COLUMN_PX, HALF_WIDTH_COLUMN_PX, curves

    try:
        series = {m: [float(v) for v in traj.quantity(name, m)] for m in traj.models}
    except (ValueError, KeyError, TypeError):
        return
    x = [float(f.value) for f in traj.frames]  # the control parameter itself, for a readable numeric axis
    if len(set(x)) != len(x):
        x = [f.label for f in traj.frames]
    figure = curves(x, series, traj.parameter, y_title, colors, title=title,
                    legend_column_px=FULL_WIDTH_COLUMN_PX if full_width else HALF_WIDTH_COLUMN_PX)
    st.plotly_chart(figure, width="stretch", key=key)


SELECTIONS = "carried_selections"  # session state: pages._selection.carried_selection's memory


def selection_table(pool: Pool, indices: list[int], key: str, columns: dict | None = None,
                    heading: str = "selected sample(s)", carried_from: str | None = None) -> None:
    """Samples (in the given order) with thumbnails when the pool knows its images, extra per-sample
    ``columns`` ({name: array [N]}), and how the classes are represented among them. ``carried_from``: the
    chart key under which :func:`carried_selection` carried the samples over a redraw by a background
    result (the chart no longer marks them); a button forgets them."""
    from transvis.viz.thumbnails import sample_table

    if not indices:
        st.caption("Box- or lasso-select samples on the scatter to list them here.")
        return
    table = sample_table(pool.labels, pool.class_names, indices, image_fn=pool.image_fn, columns=columns)
    st.markdown(f"**{len(table)} {heading}**")
    if carried_from is not None:
        note, clear = st.columns([4, 1], vertical_alignment="center")
        note.caption("Selected before the chart was redrawn with a finished result; the chart no longer marks "
                     "them. Select again on the chart to replace them.")
        clear.button("Clear selection", key=f"{key}_clear",
                     on_click=lambda: st.session_state.get(SELECTIONS, {}).pop(carried_from, None))
    left, right = st.columns([3, 2])
    left.dataframe(table, hide_index=True, width="stretch", key=key,
                   column_config={"thumbnail": st.column_config.ImageColumn("image", width="small")})
    counts = table["class"].value_counts().rename("selected").to_frame()
    counts["of all"] = pd.Series(pool.labels).map(dict(enumerate(pool.class_names))).value_counts()
    counts["share"] = counts["selected"] / counts["of all"]
    # explicit widths: the side table's headers were cut ("of al") in a third of the page
    right.dataframe(counts, width="stretch", key=f"{key}_classes",
                    column_config={"selected": st.column_config.NumberColumn("selected", width="small"),
                                   "of all": st.column_config.NumberColumn("of all", width="small"),
                                   "share": st.column_config.ProgressColumn("share of class", format="percent",
                                                                            min_value=0, max_value=1,
                                                                            width="medium")})
