"""Streamlit glue shared by the pages: the active pool, cached computations, persistent widgets.

Only layout-level helpers live here; every computation is a ``transvis`` call. Caches are keyed by small
explicit keys (the pool's ``key`` + parameters); the big arrays are passed as ``_``-prefixed arguments,
which Streamlit does not hash.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import streamlit as st

from transvis.session import (
    Pool,
    match_groundtruth,
    metric_params_key,
    params_key,
    pool_from_demo,
    short_digest,
)

# Widget keys with this prefix survive page switches (Streamlit drops the state of widgets that are not
# rendered; re-assigning the value at the start of every run keeps it).
PERSIST = "w:"
DEMO_ENV = "TRANSVIS_APP_DEMO"  # "synthetic" forces the synthetic demo (tests, machines without the zoo)


def persist_widgets() -> None:
    """Call once per run, before any widget: keeps every ``w:``-keyed widget's value across pages."""
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(PERSIST):
            st.session_state[key] = st.session_state[key]


def default(key: str, value: Any) -> str:
    """Set a widget's initial value through session state (so widgets never get both) and return the key."""
    if key not in st.session_state:
        st.session_state[key] = value
    return key


def lazy_tabs(labels: list[str], key: str):
    """``st.tabs`` whose closed tabs run nothing: switching tabs reruns the page, and each tab's ``.open`` says
    whether to draw its block (``with tab: if tab.open: ...``). ``key`` (a ``w:`` key) keeps the open tab across
    pages.

    Why: Streamlit sends and mounts the charts of closed tabs too, and draws every plotly chart twice on mount
    (the first draw before the chart's width is measured; the second a full replot, bench/README "Session 14"),
    so each chart in a closed tab cost a page's first load as much as a visible one (bench/README, "Session 11")."""
    return st.tabs(list(labels), key=key, on_change="rerun")


@st.cache_resource(show_spinner="Loading the demo…", max_entries=4)
def load_default_pool(choice: str = "auto", groundtruth_stamp: str = "") -> Pool:
    """The pool the app opens on: the real demo zoo on Fashion-MNIST when prepared, else the synthetic one.
    ``groundtruth_stamp`` names the shipped ground-truth CSV's version, so rows added to it are read.

    Loaded once per server; then every object alive (the libraries' modules, the demo) leaves the garbage
    collector's generations (``gc.freeze``): a full collection, which a page run triggers every few runs, no
    longer walks them."""
    import gc

    pool = _load_default_pool(choice)
    gc.freeze()
    return pool


def _load_default_pool(choice: str) -> Pool:
    from transvis import demo as demo_module

    if choice != "synthetic":
        try:
            demo = demo_module.load_demo()
            pool = pool_from_demo(demo, origin="demo")
        except Exception as err:  # noqa: BLE001 - any failure falls back to the synthetic demo, reported
            reason = f"{type(err).__name__}: {err}"
        else:
            pool.image_fn = _demo_images(pool)
            _add_demo_ranking(pool, demo)
            return pool
        note = (f"Showing the **synthetic demo** because the demo zoo on Fashion-MNIST could not be loaded "
                f"({reason}). Run `bash scripts/app.sh` to prepare it, or build your own pool on **Setup**.")
    else:
        note = None
    return pool_from_demo(demo_module.synthetic_demo(), origin="synthetic", note=note)


def _groundtruth_stamp() -> str:
    from transvis.demo import DEMO_GROUNDTRUTH_CSV

    try:
        stat = DEMO_GROUNDTRUTH_CSV.stat()
    except OSError:
        return ""
    return f"{stat.st_mtime_ns}:{stat.st_size}"


def _add_demo_ranking(pool: Pool, demo) -> None:
    """The default ranking and trajectories persisted by ``transvis demo prepare`` (when fresh): the Leaderboard
    and the dynamics pages paint at once (each trajectory is read from disk when a page first asks for it)."""
    from transvis.demo import load_demo_method_rankings, load_demo_ranking, load_demo_trajectories
    from transvis.app_defaults import default_params
    from transvis.session import add_precomputed

    try:
        pool.trajectories.update(load_demo_trajectories(demo))
    except Exception:  # noqa: BLE001 - without them the pages compute the trajectories as for any other pool
        pass
    try:
        table = load_demo_ranking(demo)
        methods = load_demo_method_rankings(demo)
    except Exception:  # noqa: BLE001 - without them the pages score the pool as for any other
        return
    if table is not None:
        add_precomputed(pool, table, default_params(table.metrics))
    for metric, (params, method_table) in methods.items():
        add_precomputed(pool, method_table, {metric: params})


def _demo_images(pool: Pool, target: str | None = None):
    """``i -> PIL image`` of the demo's sample on ``target`` (default: the app's first target), when its dataset
    is the one the features name (thumbnails)."""
    try:
        from transvis.demo import DEFAULT_TARGET, demo_dataset

        dataset = demo_dataset(target=target or DEFAULT_TARGET)
    except Exception:  # noqa: BLE001 - thumbnails are optional
        return None
    if str(dataset.dataset_id) != pool.dataset_id or len(dataset) != pool.n_samples:
        return None
    return lambda i: dataset[int(i)][0]


def init_state() -> None:
    """Session defaults: the pools known to this session and the active one; marks a new page run (the waits
    for new results share one budget per run, ``pages._jobs.wait_in_run``)."""
    from pages._jobs import new_page_run

    new_page_run()
    if "pools" not in st.session_state:
        pool = load_default_pool(os.environ.get(DEMO_ENV, "auto"), _groundtruth_stamp())
        st.session_state["pools"] = {pool.key: pool}
        st.session_state["active_pool"] = pool.key
        st.session_state.setdefault("groundtruth_uploads", {})


def active_pool() -> Pool:
    init_state()
    pools = st.session_state["pools"]
    key = st.session_state.get("active_pool")
    if key not in pools:
        key = next(iter(pools))
        st.session_state["active_pool"] = key
    return pools[key]


def add_pool(pool: Pool, activate: bool = True) -> None:
    init_state()
    st.session_state["pools"][pool.key] = pool
    if activate:
        st.session_state["active_pool"] = pool.key


def groundtruth_options(pool: Pool) -> dict[str, dict[str, float]]:
    """``{label: {model: accuracy}}`` for the pool: shipped regimes, then uploaded tables that match models."""
    options = {}
    for regime, table in pool.groundtruth.items():
        matched = match_groundtruth(table, pool.models)
        if matched:
            options[regime] = matched
    for label, table in st.session_state.get("groundtruth_uploads", {}).items():
        matched = match_groundtruth(table, pool.models)
        if matched:
            options[f"uploaded: {label}"] = matched
    return options


@st.cache_resource(show_spinner=False, max_entries=4)
def _pool_stats(pool_key: str) -> dict:
    """``{model: ClassStats}`` shared by every metric scored on this pool (one eigendecomposition per model)."""
    return {}


def groundtruth_sizes(pool: Pool, label: str | None) -> dict[str, int] | None:
    """``{model: test samples}`` behind the ground truth option ``label`` (None where unknown)."""
    if label is None:
        return None
    # sizes the user gave (an upload with n_test, the probe measured here) before the pool's own
    sizes = st.session_state.get("groundtruth_sizes", {}).get(label) or pool.groundtruth_n.get(label)
    if not sizes:
        return None
    matched = {m: int(n) for m, n in match_groundtruth(sizes, pool.models).items()}
    return matched or None


_COMPUTE = object()  # _ranking's "noise not known yet: score it with the resamples" (not a ScoreNoise)
NOISE_JOB = "noise_job:"  # session key prefix of a background noise estimate (pages._jobs' job key)
NOISE_PENDING = ("Intervals pending: ranks shown without noise; differences are not judged yet.")


@st.cache_resource(show_spinner=False, max_entries=256)
def _ranking(pool_key: str, metric: str, params_json: str, _pool: Pool, _params, _noise=_COMPUTE):
    """One metric's table with its noise: scored with the resamples, or (``_noise`` given, e.g. by a finished
    background estimate) the point estimates with that noise attached. Opt-in metrics carry no noise."""
    from transvis.metrics import get_spec
    from transvis.noise_jobs import with_noise
    from transvis.ranking import rank_models
    from transvis.uncertainty import DEFAULT_RESAMPLING

    # Opt-in metrics (NLEEP, PARC) cost minutes per scoring on real pools: their noise is not estimated (the
    # table says so).
    if get_spec(metric).opt_in is not None or _noise is not _COMPUTE:
        point = _point_ranking(pool_key, metric, params_json, "no-noise", _pool, _params)
        return point if get_spec(metric).opt_in is not None else with_noise(point, metric, _noise)
    return rank_models(_pool.features, [metric], params=_params or None, stats_cache=_pool_stats(pool_key),
                       resamples=DEFAULT_RESAMPLING)


@st.cache_resource(show_spinner=False, max_entries=64)
def _point_ranking(pool_key: str, metric: str, params_json: str, no_noise: str, _pool: Pool, _params):
    """One metric's table without noise (the point estimates a control must show at once)."""
    from transvis.ranking import rank_models

    return rank_models(_pool.features, [metric], params=_params or None, stats_cache=_pool_stats(pool_key))


def _noise_store() -> dict:
    """``{(pool key, metric, params json): ScoreNoise | None}`` estimated by any session of this server (tiny:
    R numbers per model), so a table's noise is never estimated twice, whichever cache entry was evicted."""
    from pages._jobs import finished_results

    return finished_results("ranking-noise")


def noise_job_key(pool_key: str, metric: str, params_json: str) -> str:
    return NOISE_JOB + short_digest(pool_key, metric, params_json)


def _start_noise_job(pool: Pool, metric: str, params_json: str, params: dict) -> None:
    """Start this session's background estimate of ``metric``'s noise (``transvis.noise_jobs``, one model per
    unit), after cancelling its estimates of the same metric under other parameters (superseded by the
    control that changed them: they would only slow this one down)."""
    from pages._jobs import start
    from transvis.noise_jobs import noise_job
    from transvis.uncertainty import DEFAULT_RESAMPLING
    from transvis.viz import short_model_name

    key = noise_job_key(pool.key, metric, params_json)
    shown = st.session_state.get("noise_requests", {})  # asked for by this page run: not superseded
    for other, job in list(st.session_state.items()):
        if (isinstance(other, str) and other.startswith(NOISE_JOB) and other != key and other not in shown
                and getattr(job, "tag", None) is not None and job.tag[:2] == (pool.key, metric)):
            job.cancel()
            del st.session_state[other]
            st.session_state.pop(f"{other}_outcome", None)
    start(key, noise_job(pool.features, metric, params or None, resamples=DEFAULT_RESAMPLING,
                         stats_cache=_pool_stats(pool.key), name=f"The noise estimate of {metric_label(metric)}",
                         tag=(pool.key, metric, params_json), label=short_model_name))


POINT_JOB = "point_job:"  # session key prefix of a background scoring at new settings
POINT_GRACE_S = 1.0  # point estimates ready within this are drawn at once; slower ones move to the background


def _point_store() -> dict:
    """``{(pool key, metric, params json): RankingTable without noise}`` scored by any session's job."""
    from pages._jobs import finished_results

    return finished_results("point-tables")


def _background_point(pool: Pool, metric: str, params_json: str, params: dict):
    """The point estimates of ``metric`` at ``params`` when ready within :data:`POINT_GRACE_S` (scored by a
    background job, one model per unit: ``transvis.noise_jobs.scoring_job``), else None while the job runs
    (:func:`noise_panels` shows it)."""
    from pages._jobs import running, start, take_finished, wait_in_run
    from transvis.noise_jobs import merge_model_tables, scoring_job
    from transvis.viz import short_model_name

    from transvis.metrics import get_spec

    if get_spec(metric).pool_combine is not None:  # a pool-level score cannot be assembled model by model
        return _point_ranking(pool.key, metric, params_json, "no-noise", pool, params)
    store, store_key = _point_store(), (pool.key, metric, params_json)
    if store_key in store:
        return store[store_key]
    job_key = POINT_JOB + short_digest(*store_key)
    finished = take_finished(job_key)
    if finished is None and running(job_key) is None and f"{job_key}_outcome" not in st.session_state:
        for other, job in list(st.session_state.items()):  # superseded by the control that moved
            if (isinstance(other, str) and other.startswith(POINT_JOB) and other != job_key
                    and getattr(job, "tag", None) is not None and job.tag[:2] == (pool.key, metric)):
                job.cancel()
                del st.session_state[other]
                st.session_state.pop(f"{other}_outcome", None)
        start(job_key, scoring_job(pool.features, metric, params or None, stats_cache=_pool_stats(pool.key),
                                   name=f"Scoring with {metric_label(metric)}", tag=(pool.key, metric, params_json),
                                   label=short_model_name))
        if wait_in_run(st.session_state[job_key], POINT_GRACE_S):
            finished = take_finished(job_key)
    if finished is not None and finished[0].state == "done":
        table = merge_model_tables([finished[1].result[m] for m in pool.models if m in finished[1].result])
        store[store_key] = table
        for old in list(store)[:-32]:
            store.pop(old, None)
        return table
    return None  # running, or cancelled/failed (the panel says so and offers to score again)


def _shown_key(pool: Pool, metric: str) -> str:
    """Session key of the table last drawn for ``metric`` on ``pool`` by a method page: ``(params json, table)``,
    kept drawn (and named as the previous settings') while new settings are scored in the background."""
    return f"point_shown:{pool.key}:{metric}"


def _background_ranking(pool: Pool, metric: str, params_json: str, params: dict):
    """One metric's table at once: with its noise when known (this session's finished job, any session's
    estimate), else the point estimates while a background job estimates the noise (started once per session
    and key; not again after a cancel or failure until the panel's button asks). Notes the request for
    :func:`noise_panels`."""
    from pages._jobs import running, take_finished
    from transvis.metrics import get_spec
    from transvis.noise_jobs import merge_noise

    requests = st.session_state.setdefault("noise_requests", {})
    key = noise_job_key(pool.key, metric, params_json)
    request = {"pool": pool.key, "metric": metric, "params": params, "params_json": params_json}
    requests[key] = request
    if get_spec(metric).opt_in is not None:
        request["state"] = "opt-in"
        return _ranking(pool.key, metric, params_json, pool, params)
    store = _noise_store()
    finished = take_finished(key)
    if finished is not None and finished[0].state == "done":
        store[(pool.key, metric, params_json)] = merge_noise(finished[1].result.values())
    if (pool.key, metric, params_json) in store:
        request["state"] = "done"
        return _ranking(pool.key, metric, params_json, pool, params, store[(pool.key, metric, params_json)])
    point = _background_point(pool, metric, params_json, params)
    shown_key = _shown_key(pool, metric)
    if point is None and st.session_state.get(shown_key) is not None:
        # the new point estimates take longer than POINT_GRACE_S: the previous ones stay drawn (and say so)
        request["state"] = "point-pending"
        return st.session_state[shown_key][1]
    if point is None:  # nothing drawn before for this metric: wait for them here
        point = _point_ranking(pool.key, metric, params_json, "no-noise", pool, params)
    st.session_state[shown_key] = (params_json, point)
    if running(key) is None and f"{key}_outcome" not in st.session_state:
        _start_noise_job(pool, metric, params_json, params)
    # "stopped": cancelled or failed, kept so until the panel's button starts it again
    request["state"] = "pending" if key in st.session_state else "stopped"
    return point


def ranking(pool: Pool, metrics: list[str], params: dict | None = None, groundtruth: dict | None = None,
            groundtruth_n: dict | None = None, *, background_noise: bool = False):
    """``transvis.ranking.rank_models`` of the pool, scored and cached one metric at a time under (pool key,
    metric, its parameters), merged, then correlated with ``groundtruth`` (cached apart: τ's intervals take
    seconds): changing the metric selection or the ground truth recomputes nothing already scored. Each
    score carries its sampling noise (``table.noise``, :data:`transvis.uncertainty.DEFAULT_RESAMPLING`; not
    for the opt-in NLEEP and PARC) and, with ``groundtruth_n`` (test samples per accuracy), each τ its
    interval. The returned table is shared between reruns: read it, never modify it. Metrics the pool already
    holds (``pool.precomputed``: the demo's persisted ranking) are not scored at all. A progress bar names
    the metric being scored. The noise of several metrics not known yet is estimated in one call
    (:func:`_joint_noise`: each subset's statistics shared by all of them).

    ``background_noise=True`` (the method pages, whose controls must answer at once): a metric whose noise is
    not known yet comes back with its point estimates only (no ``noise`` entry) while a background job
    estimates the noise; :func:`noise_panels` shows its progress and reruns the page with the noise when it
    is done."""
    from transvis.metrics import get_spec
    from transvis.session import merge_rankings, with_groundtruth

    params = params or {}
    tables = {m: pool.precomputed.get(metric_params_key(m, params.get(m))) for m in metrics}
    to_score = [m for m, table in tables.items() if table is None]
    if background_noise:  # a persisted table is drawn: at new settings it stays drawn while they are scored
        for m, table in tables.items():
            if table is not None:
                st.session_state[_shown_key(pool, m)] = (params_key({m: params[m]} if params.get(m) else {}), table)
    bar = st.progress(0.0, text="Scoring the pool…") if len(to_score) > 1 else None
    if not background_noise:
        _joint_noise(pool, to_score, params, bar)
    for i, metric in enumerate(to_score):
        metric_params = {metric: params[metric]} if params.get(metric) else {}
        if bar is not None:
            bar.progress(i / len(to_score), text=f"Scoring every model with {metric_label(metric)} "
                                                 f"({i + 1}/{len(to_score)})…")
        params_json = params_key(metric_params)
        if (scored := opt_in_tables().get((pool.key, metric, params_json))) is not None:
            tables[metric] = scored  # an opt-in metric the Leaderboard scored as a background job
            continue
        if background_noise:
            tables[metric] = _background_ranking(pool, metric, params_json, metric_params)
            continue
        store_key = (pool.key, metric, params_json)
        tables[metric] = _ranking(pool.key, metric, params_json, pool, metric_params,
                                  _noise_store().get(store_key, _COMPUTE))
        if get_spec(metric).opt_in is None:
            _noise_store()[store_key] = tables[metric].noise.get(metric)
    if bar is not None:
        bar.empty()
    merged = merge_rankings(tables[m] for m in metrics)
    if not groundtruth:
        return with_groundtruth(merged, None)
    # τ's intervals take 1,000 noise draws per metric (seconds for a dozen metrics): computed once per
    # (pool, metrics and their parameters, ground truth, test sizes), not on every rerun of the page.
    key = short_digest(pool.key, [(m, params.get(m)) for m in metrics], sorted(groundtruth.items()),
                       sorted((groundtruth_n or {}).items()), [m in merged.noise for m in metrics])
    return _with_groundtruth(key, merged, groundtruth, groundtruth_n)


def _joint_noise(pool: Pool, metrics: list[str], params: dict, bar) -> None:
    """Estimate the noise of every metric in ``metrics`` not known yet in one ``rank_models`` call and file it
    in :func:`_noise_store` (the per-metric tables then attach it to their point estimates): one call scores
    each subset of a model once for all metrics, so the subset's statistics (its Gram, eigendecompositions) are
    shared instead of recomputed per metric. Opt-in metrics carry no noise; a single metric takes the
    per-metric path."""
    from transvis.metrics import get_spec
    from transvis.ranking import rank_models
    from transvis.uncertainty import DEFAULT_RESAMPLING

    store = _noise_store()

    def key(metric):
        return (pool.key, metric, params_key({metric: params[metric]} if params.get(metric) else {}))

    fresh = [m for m in metrics if get_spec(m).opt_in is None and key(m) not in store]
    if len(fresh) < 2:
        return
    if bar is not None:
        bar.progress(0.0, text=f"Scoring every model with {len(fresh)} metrics and estimating their noise…")
    table = rank_models(pool.features, fresh, params={m: params[m] for m in fresh if params.get(m)} or None,
                        stats_cache=_pool_stats(pool.key), resamples=DEFAULT_RESAMPLING)
    for metric in fresh:
        store[key(metric)] = table.noise.get(metric)


def opt_in_tables() -> dict:
    """``{(pool key, metric, params json): RankingTable}`` of the opt-in metrics (NLEEP, PARC) scored as
    background jobs by any session (the Leaderboard's), which :func:`ranking` uses as scored."""
    from pages._jobs import finished_results

    return finished_results("opt_in_tables")


def store_opt_in_table(key: tuple[str, str, str], table) -> None:
    """File a finished opt-in scoring under ``key``; the oldest go beyond 16 (a table holds every model's
    trace)."""
    tables = opt_in_tables()
    tables[key] = table
    for old in list(tables)[:-16]:
        tables.pop(old, None)


def noise_pending(pool: Pool, metric: str) -> bool:
    """Whether this page run showed ``metric`` on ``pool`` without its noise while a background job estimates
    it (the race and rank displays then say that differences are not judged yet)."""
    return any(r["pool"] == pool.key and r["metric"] == metric and r["state"] == "pending"
               for r in st.session_state.get("noise_requests", {}).values())


def noise_panels(pool: Pool) -> None:
    """For every metric this page run showed without its noise (``ranking(..., background_noise=True)``): while
    its noise is estimated, that ranks are shown without noise and the job's progress (done/total models, ETA,
    Cancel; the page reruns with the noise when it is done); after a cancel or a failure, what happened and a
    button to start it again."""
    from pages._jobs import job_panel, outcome_text, running

    for key, request in list(st.session_state.get("noise_requests", {}).items()):
        if request["pool"] == pool.key and request["state"] == "point-pending":
            _point_panel(request)
            continue
        if request["pool"] != pool.key or request["state"] not in ("pending", "stopped"):
            continue
        label = metric_label(request["metric"])
        job = st.session_state.get(key)
        if job is not None and running(key) is None:
            st.rerun()  # it finished before its panel was drawn (a small pool): take its result now
        if job is not None:
            st.caption(f":material/hourglass_top: {label}: {NOISE_PENDING}")

        def idle(outcome, request=request, label=label):
            if outcome is None:
                return
            st.warning(f"Score noise of {label} not estimated: {outcome_text(outcome)} Ranks are shown without "
                       "noise, and differences between models are not judged.", icon=":material/info:")
            st.button("Estimate the noise", key=f"{key}_restart", icon=":material/refresh:",
                      on_click=_start_noise_job, args=(pool, request["metric"], request["params_json"],
                                                       request["params"]),
                      help="Re-scores every model on 10 stratified subsets, in the background.")

        job_panel(key, idle, units="models", action=f"Estimating the score noise of {label}")


def _point_panel(request: dict) -> None:
    """While the point estimates at new settings are scored in the background: that the figures still show the
    previous settings, and the job's progress (done/total models, ETA, Cancel)."""
    from pages._jobs import job_panel, outcome_text

    label = metric_label(request["metric"])
    job_key = POINT_JOB + short_digest(request["pool"], request["metric"], request["params_json"])
    st.caption(f":material/hourglass_top: {label}: the figures and tables below still show the previous settings; "
               "they are redrawn when every model is scored at the new ones.")
    def idle(outcome):
        if outcome is None:
            return
        st.warning(f"{label} was not scored at the new settings: {outcome_text(outcome)} The figures below show "
                   "the previous settings.", icon=":material/info:")
        st.button("Score at these settings", key=f"{job_key}_restart", icon=":material/refresh:",
                  on_click=lambda: st.session_state.pop(f"{job_key}_outcome", None))

    job_panel(job_key, idle, units="models", action=f"Scoring every model with {label}")


@st.cache_resource(show_spinner="Correlating with the ground truth…", max_entries=64)
def _with_groundtruth(key: str, _table, _groundtruth, _groundtruth_n):
    from transvis.session import with_groundtruth

    return with_groundtruth(_table, _groundtruth, _groundtruth_n)


def ensure_router() -> None:
    """Run the page through ``app.py`` when Streamlit started it on its own.

    A deep link opened as the server's very first request runs in Streamlit's legacy pages-folder mode
    (because ``pages/`` exists), which skips the router: no page config, navigation or session setup. The
    router is executed instead (it renders the requested page) and this run stops.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        from pathlib import Path

        app = Path(__file__).resolve().parents[1] / "app.py"
        exec(compile(app.read_text(), str(app), "exec"), {"__name__": "__main__", "__file__": str(app)})  # noqa: S102
        st.stop()


def variant_params(metrics: list[str]) -> dict:
    """``{metric: {"variant": …}}`` as chosen on the Leaderboard (defaults until changed there), so every page
    that ranks the pool shares the Leaderboard's cache entry."""
    from transvis.app_defaults import default_params

    return {name: {"variant": st.session_state.get(f"w:lb_variant_{name}", chosen["variant"])}
            for name, chosen in default_params(metrics).items()}


def leaderboard_metrics() -> list[str]:
    """The metrics chosen on the Leaderboard (its defaults until changed there: every metric but the slow
    opt-in ones)."""
    from transvis.metrics import available
    from transvis.app_defaults import default_metrics

    chosen = st.session_state.get("w:lb_metrics")
    return [m for m in chosen if m in available()] if chosen else default_metrics()


def page_header(title: str, caption: str | None = None) -> Pool:
    """Title, the active pool in one line (and its note), returns the pool."""
    ensure_router()
    pool = active_pool()
    st.session_state["noise_requests"] = {}  # what this page run shows without noise (noise_panels)
    st.title(title)
    if caption:
        st.caption(caption)
    if pool.note:
        st.info(pool.note, icon=":material/info:")
    return pool


def sidebar_pool_summary() -> None:
    pool = active_pool()
    with st.sidebar:
        st.markdown(f"**Pool:** {pool.name}")
        st.caption(pool.summary())


def error_box(err: Exception, what: str) -> None:
    """A readable error for the user; the app keeps running."""
    message = str(err) or type(err).__name__
    st.error(f"**{what} failed.** {message}", icon=":material/error:")


def metric_label(name: str) -> str:
    """A metric's label in the app: its spec's ``display_name`` (any other column name unchanged)."""
    from transvis.metrics import display_name

    return display_name(name)


def dataframe_download(df: pd.DataFrame, filename: str, key: str, label: str = "Download CSV") -> None:
    st.download_button(label, df.to_csv().encode(), file_name=filename, mime="text/csv", key=key)


def add_groundtruth_upload(name: str, data: bytes, pool: Pool) -> None:
    """Parse an uploaded ground-truth CSV into the session's tables, with a readable error or summary."""
    from transvis.session import parse_groundtruth_csv

    try:
        tables, sizes = parse_groundtruth_csv(data, with_sizes=True)
    except ValueError as err:
        error_box(err, f"Reading {name}")
        return
    uploads = st.session_state.setdefault("groundtruth_uploads", {})
    upload_sizes = st.session_state.setdefault("groundtruth_sizes", {})
    matched = 0
    for label, table in tables.items():
        uploads[label] = table
        if sizes.get(label):
            upload_sizes[f"uploaded: {label}"] = sizes[label]
        matched = max(matched, len(match_groundtruth(table, pool.models)))
    if matched == 0:
        st.warning(f"{name}: none of its models is in this pool ({', '.join(pool.models[:4])}…); "
                   "the `model` column must name the pool's models.")
    else:
        st.success(f"{name}: {len(tables)} ground-truth table(s) added; choose them under **Ground truth**.")


MEASURED_GT = "linear probe (measured here)"  # the Leaderboard's background probe files its result here


def demo_target_of(pool: Pool) -> str | None:
    """The demo target (``transvis.demo.DEMO_TARGETS`` key) of a prepared-demo pool, else None."""
    from transvis.demo import DEMO_TARGETS

    target = pool.name.split("/", 1)[1] if pool.origin == "demo" and pool.name.startswith("demo-zoo/") else None
    return target if target in DEMO_TARGETS else None


def demo_target_pool(target: str) -> Pool | None:
    """The prepared demo pool on ``target`` with its persisted rankings and trajectories (the session's own
    copy when it has one), or None when that target is not prepared."""
    for pool in st.session_state.get("pools", {}).values():
        if demo_target_of(pool) == target:
            return pool
    from transvis.demo import demo_target

    try:
        stat = demo_target(target).groundtruth_csv.stat()
        stamp = f"{stat.st_mtime_ns}:{stat.st_size}"
    except OSError:
        stamp = ""
    return _load_demo_target_pool(target, stamp)


@st.cache_resource(show_spinner="Loading the demo on another target…", max_entries=4)
def _load_demo_target_pool(target: str, groundtruth_stamp: str = "") -> Pool | None:
    from transvis import demo as demo_module

    try:
        demo = demo_module.load_demo(target=target)
    except Exception:  # noqa: BLE001 - an unprepared target is simply not offered
        return None
    pool = pool_from_demo(demo, origin="demo")
    pool.image_fn = _demo_images(pool, target)
    _add_demo_ranking(pool, demo)
    return pool
