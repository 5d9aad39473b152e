"""Model deep-dive: why does this model rank where it does? Per-class contributions, confusions, hard samples."""

import numpy as np
import pandas as pd
import streamlit as st

from pages import _jobs
from pages._dynamics import cached_figure, metric_select, model_select, selection_table, trajectory
from pages._scatter import class_chart, sample_scatter
from pages._selection import selected_indices, selected_values
from pages._ui import (
    default, demo_target_of, error_box, groundtruth_options, groundtruth_sizes, lazy_tabs, leaderboard_metrics,
    metric_label, page_header, ranking, variant_params)
from transvis.demo.showcase import groundtruth_contrast
from transvis.explain import class_priors, explain_pair, nearest_mean_margin
from transvis.headline import degenerate_scores
from transvis.viz import model_colors, pair_colors, short_model_name
from transvis.viz.animation import paired_dynamics_figure, static_scatter, trajectory_view
from transvis.viz.deepdive import (
    TAU_COLUMN, contribution_heatmap, hardest_samples, per_class_heatmaps, per_class_table, rank_table,
    table_height, why_family_table, why_metric_table)
from transvis.viz.methods import matrix_heatmap, per_class_bars
from transvis.viz.thumbnails import DEEP_DIVE_THUMBNAIL_PX, sample_table

DETAIL_METRICS = ["sfda", "ncm_softmax", "logme", "nc", "face"]
PROJECTIONS = {"pca": "PCA", "fisher": "Fisher plane", "umap": "UMAP"}
KINDS = {"collapse": "Neural collapse", "spread_attract": "Spread & Attract", "ped": "PED", "fisher": "Fisher space"}
REGIMES = {"linear_probe": "linear probe", "finetune": "fine-tuning"}

def index_column(frame: pd.DataFrame) -> dict:
    """A column config giving the row labels (the index) the width of the longest one, so the first cell is
    never cut ("ground truth: linear probe (accuracy %)"); at most 290 px."""
    longest = max((len(str(label)) for label in frame.index), default=0)
    return {"_index": st.column_config.TextColumn(width=int(min(24 + 7.2 * longest, 290)))}


def model_columns(columns, model_a: str, model_b: str | None) -> dict:
    """Short headers for the per-model columns ("rank (model)", "score (second model)", after the selectors'
    labels) at fixed widths, so metric, τ and both models fit a 1280-px page side by side."""
    config = {}
    for column in columns:
        for model, which in ((model_a, "model"), (model_b, "second model")):
            name = short_model_name(model) if model else None
            if name and column == f"rank of {name}":
                config[column] = st.column_config.TextColumn(f"rank ({which})", width=185, help=column)
            elif name and column == f"{name} score":
                config[column] = st.column_config.TextColumn(f"score ({which})", width=185, help=column)
    if TAU_COLUMN in columns:
        config[TAU_COLUMN] = st.column_config.TextColumn("weighted τ", width=160, help=TAU_COLUMN)
    return config


@st.cache_resource(max_entries=24, show_spinner="Projecting every sample…")
def _overview(pool_key: str, model: str, projection: str, _pool):
    """The linear maps (PCA, Fisher plane): a fraction of a second. UMAP is never fitted here (see umap_map)."""
    from transvis.projection import FisherProjection, PCAProjection

    fs = _pool.features[model]
    fitted = (FisherProjection(2).fit(fs.features, fs.labels) if projection == "fisher"
              else PCAProjection(2).fit(fs.features))
    return fitted.transform(fs.features)


def overview_positions(pool, model: str, projection: str):
    return _overview(pool.key, model, projection, pool)


UMAP_JOB = "dd_umap_job"  # the session's UMAP fit of a map that is not persisted (pages/_jobs.py draws it)
UMAPS = "umap_overview"  # _jobs.finished_results(UMAPS): {(pool key, model): positions [N, 2]}, any session


@st.cache_resource(max_entries=8, show_spinner=False)
def _persisted_umaps(pool_key: str, target: str, stamp: str, _pool) -> dict:
    """``{model: positions [N, 2]}`` persisted by ``transvis demo prepare`` for this demo pool ({} when missing
    or stale); ``stamp`` names the file's version, so maps prepared while the app runs are read."""
    from transvis.demo import load_prepared_overviews

    try:
        return load_prepared_overviews(target, _pool.features) or {}
    except Exception:  # noqa: BLE001 - without them UMAP is computed in the background as for any pool
        return {}


def persisted_umap(pool, model: str):
    """The demo's persisted UMAP map of ``model`` [N, 2], or None (not the prepared demo, or no fresh map)."""
    from transvis.demo import demo_overviews_path

    target = demo_target_of(pool)
    if target is None:
        return None
    try:
        stat = demo_overviews_path(target=target).stat()
    except OSError:
        return None
    return _persisted_umaps(pool.key, target, f"{stat.st_mtime_ns}:{stat.st_size}", pool).get(model)


def _start_umap(pool, model: str) -> None:
    """Fit ``model``'s UMAP map in the background (a job: the bar advances on the fit's estimated time)."""
    from transvis.projection.umap_overview import umap_overview_job

    st.session_state["dd_umap_for"] = (pool.key, model)
    _jobs.start(UMAP_JOB, umap_overview_job(pool.features[model].features, cache_key=(pool.key, model),
                                            name=f"UMAP of {short_model_name(model)}", tag=(pool.key, model)))


def umap_map(pool, model: str):
    """``model``'s UMAP map [N, 2] when ready: persisted (the prepared demo) or fitted earlier in this server
    process. Else None, with a background fit started (once; not again after a cancel until asked) and its
    panel drawn: progress, ETA, Cancel."""
    from transvis.projection.umap_overview import umap_seconds

    xy = persisted_umap(pool, model)
    if xy is None:
        xy = _jobs.finished_results(UMAPS).get((pool.key, model))
    if xy is not None:
        return xy
    tag = (pool.key, model)
    job = st.session_state.get(UMAP_JOB)
    if job is not None and job.tag != tag:
        job.cancel()  # another model's map: superseded (its fit still lands in umap_overview's cache)
        del st.session_state[UMAP_JOB]
    if st.session_state.get("dd_umap_for") != tag:
        st.session_state.pop(f"{UMAP_JOB}_outcome", None)  # about another model's map
    if _jobs.running(UMAP_JOB) is None and f"{UMAP_JOB}_outcome" not in st.session_state:
        _start_umap(pool, model)
    name = short_model_name(model)

    def idle(outcome):
        if outcome is None:
            return
        if outcome.state == "cancelled":
            st.caption(f"UMAP of {name} cancelled: nothing was kept.")
        else:
            st.error(_jobs.outcome_text(outcome))
        st.button(f"Compute the UMAP map of {name}", key="dd_umap_start", on_click=_start_umap, args=(pool, model),
                  icon=":material/refresh:", help="Fits UMAP in the background; the page stays usable.")

    if UMAP_JOB in st.session_state:
        st.caption(f":material/hourglass_top: UMAP of {name} is being computed in the background (about "
                   f"{max(1, round(umap_seconds(pool.n_samples)))} s here; the page stays usable). The PCA map is "
                   "shown meanwhile; UMAP replaces it when done.")
    _jobs.job_panel(UMAP_JOB, idle, units="%", action=f"UMAP of {name}")
    return None


@st.cache_data(max_entries=32, show_spinner=False)
def _opening_pair(pool_key: str, gt_label: str, metrics_key: str, _groundtruth, _groundtruth_n, _overview):
    """The first visit's pair and why (transvis.demo.showcase.groundtruth_contrast), once per pool, ground truth
    and ranking: it weighs every metric's every pair against its noise, and each new session asked."""
    pick = groundtruth_contrast(_groundtruth, _groundtruth_n, _overview, model_label=short_model_name,
                                metric_label=metric_label)
    return None if pick is None else (tuple(pick.models), pick.reason)


@st.cache_data(max_entries=32, show_spinner=False)
def _rank_table(pool_key: str, overview_key: str, shown: tuple[str, ...], gt_name: str | None, _overview):
    """``rank_table`` once per pool, ranking and pair: its "within noise" rank ranges weigh every pair of models
    of every metric, and every run of the page asked again."""
    return rank_table(_overview, list(shown), metric_label, groundtruth_label=gt_name)


@st.cache_resource(max_entries=24, show_spinner=False)
def _margin(pool_key: str, model: str, _pool):
    fs = _pool.features[model]
    return nearest_mean_margin(fs.features, fs.labels, len(_pool.class_names))


pool = page_header(
    ":material/search_insights: Model deep-dive",
    "Why does this model rank high — or low? See which classes carry each score, where its features confuse "
    "classes, and which samples are hardest. Compare two models side by side.",
)
metrics = leaderboard_metrics()
gt_options = groundtruth_options(pool)
gt_label = st.session_state.get("w:lb_gt")
if gt_label not in gt_options and gt_label != "none" and gt_options:  # "none": the Leaderboard's "no ground truth"
    gt_label = next(iter(gt_options))  # as the Leaderboard does: its first option until one is chosen for this pool
groundtruth = gt_options.get(gt_label)
groundtruth_n = groundtruth_sizes(pool, gt_label) if groundtruth else None
gt_name = REGIMES.get(gt_label, gt_label) if groundtruth else None
try:
    overview = ranking(pool, metrics, variant_params(metrics), groundtruth, groundtruth_n)
    detail = ranking(pool, DETAIL_METRICS, variant_params(DETAIL_METRICS))
except Exception as err:  # noqa: BLE001
    error_box(err, "Scoring the pool")
    st.stop()

# what the overview's numbers depend on, including which metrics' noise is known yet (it decides "beyond noise"):
# the key of what is computed from it once (the opening pair, the rank table, the figures)
known = sorted(m for m in overview.metrics if overview.noise.get(m) is not None)
overview_key = repr((metrics, variant_params(metrics), known, gt_label if groundtruth else None))
detail_key = repr(variant_params(DETAIL_METRICS))  # the per-class views' numbers: the detail metrics' variants
if st.session_state.get("w:dd_model_a") not in pool.models and groundtruth:
    # first visit: the pair that makes the "why" worth asking, from the numbers (transvis.demo.showcase)
    pick = _opening_pair(pool.key, gt_label, overview_key, groundtruth, groundtruth_n, overview)
    if pick is not None and all(m in pool.models for m in pick[0]):
        st.session_state["w:dd_model_a"], st.session_state["w:dd_model_b"] = pick[0]
        st.session_state["dd_showcase"] = pick
c1, c2, c3 = st.columns([2, 1, 2])
model_a = model_select(pool, "w:dd_model_a", "Model", container=c1)
compare = c2.toggle("Compare with", key=default("w:dd_compare", len(pool.models) > 1))
model_b = None
if compare:
    others = [m for m in pool.models if m != model_a] or pool.models
    if st.session_state.get("w:dd_model_b") not in others:
        st.session_state["w:dd_model_b"] = others[-1]
    model_b = c3.selectbox("Second model", others, key="w:dd_model_b", format_func=short_model_name)
showcased, reason = st.session_state.get("dd_showcase", ((), ""))
if model_b is not None and showcased == (model_a, model_b):  # said only while the pair is the one picked
    st.caption(f"Opened on this pair: {reason}")
colors = pair_colors(model_colors(pool.models), model_a, model_b)  # the two apart on the paired figures
shown = [m for m in (model_a, model_b) if m]

# --- ranks across metrics --------------------------------------------------------------------------------
st.subheader("Where it ranks, metric by metric")
ranks_table = _rank_table(pool.key, overview_key, tuple(shown), gt_name, overview)
# two tables of one row order: a single one (ranks, scores and τ of two models) ran past the page's right edge
rank_columns = [c for c in ranks_table.columns if c.startswith("rank of ") or c == TAU_COLUMN]
rank_tab, score_tab = st.tabs(["Ranks and τ", "Scores ± noise"])
table_columns = {**index_column(ranks_table), **model_columns(ranks_table.columns, model_a, model_b)}
rank_tab.dataframe(ranks_table[rank_columns], width="stretch", key="dd_ranks", height=table_height(len(ranks_table)),
                   column_config=table_columns)
score_tab.dataframe(ranks_table.drop(columns=rank_columns), width="stretch", key="dd_scores",
                    height=table_height(len(ranks_table)), column_config=table_columns)
st.caption("Every metric, the one that agrees best with the ground truth first (weighted τ [interval]; metrics "
           "without τ last)" + (f"; the first row is the ground truth ({gt_name}, accuracy ± its binomial "
                                 "standard error)" if groundtruth else "; no ground truth chosen on the Leaderboard")
           + ("" if not groundtruth or groundtruth_n else "; its test sizes are unknown, so its noise is not shown")
           + f". Ranks share a place when scores are equal (\"tied\"); \"1–3 of {len(pool.models)} (within noise)\": "
           "the noise allows any of those ranks (see *How the noise is estimated* on the Leaderboard). Scores are "
           "± one standard error.")
flagged = {metric: per_model for metric, per_model in degenerate_scores(overview).items()
           if any(m in per_model for m in shown)}
if flagged:
    st.warning("**Degenerate scores (⚠).** " + "; ".join(
        f"**{metric_label(metric)}** — {short_model_name(m)}: {reason}"
        for metric, per_model in flagged.items() for m, reason in per_model.items() if m in shown),
        icon=":material/warning:")
scored = [m for m in overview.metrics if overview.scores.loc[shown, m].notna().any()]
unscored = [metric_label(m) for m in overview.metrics if m not in scored]
if unscored:
    st.caption("Not applicable here: " + ", ".join(unscored) + " (see the Leaderboard for the reason).")

# --- why does A rank above B? ---------------------------------------------------------------------------
if model_b is not None:
    names = (short_model_name(model_a), short_model_name(model_b))
    priors = {m: class_priors(pool.features[m].labels, len(pool.class_names)) for m in shown}
    why = explain_pair(overview, model_a, model_b, pool.class_names, priors, model_label=short_model_name,
                       metric_label=metric_label, groundtruth_label=gt_name or "ground truth",
                       flag_degenerate=False)  # the warning above names them
    leader = {"A": names, "B": names[::-1]}.get(why.leader, names)
    st.subheader(f"Why does {leader[0]} rank above {leader[1]}?")
    st.info(why.answer, icon=":material/balance:")
    reasons = why.reasons(3, model_label=short_model_name)
    if reasons:
        st.markdown("**The classes that carry the lead**\n\n" + "\n".join(f"{i}. {r}" for i, r in
                                                                       enumerate(reasons, 1)))
    for flag in why.flags:
        st.warning(flag, icon=":material/warning:")
    verdicts = why_metric_table(why, metric_label, names, gt_name or "ground truth")
    st.dataframe(verdicts, width="stretch", key="dd_why_metrics", height=table_height(len(verdicts)),
                 column_config=index_column(verdicts))
    st.caption("Strongest evidence first: differences beyond the scores' noise (largest difference / standard "
               "error first), then those within noise — a tie, whatever the sign — then metrics whose noise was "
               "not estimated. Difference ± the standard error of the paired difference.")
    f1, f2 = st.columns([2, 3])
    with f1:
        st.markdown("**By metric family**")
        families = why_family_table(why, metric_label, names)
        st.dataframe(families, width="stretch", key="dd_why_families", column_config=index_column(families))
    with f2:
        try:
            contributions = cached_figure(pool, ("dd_why_classes", pool.key, overview_key, model_a, model_b),
                                          lambda: contribution_heatmap(why, metric_label, names))
            class_chart(contributions, pool, key="dd_why_classes")
        except ValueError as err:
            st.caption(str(err))
    st.caption("Per class: each metric that is a sum over classes (or a simple function of one) is split into "
               "each class's contribution to score(A) − score(B). The colour is the class's share of that "
               "metric's per-class difference (one scale for every metric: shares are unitless), the text the "
               "contribution in the metric's own units. Classes are ordered by their mean share.")

# --- per-class contributions, the pair's dynamics, confusions, the overview map ---------------------------
# one view at a time: a closed tab draws nothing (lazy_tabs), so the page's first load draws only the open one
# (with the side-by-side animation in a tab, the first load fell below 2 s: bench/README, "Session 13")
SIDE_BY_SIDE = "Side by side, frame by frame"
paired_view = model_b is not None and pool.shared_samples
detail_labels = ["Which classes carry the score", *([SIDE_BY_SIDE] if paired_view else []),
                 "Where the features confuse classes", "Every sample on one map"]
if st.session_state.get("w:dd_detail_tab") not in detail_labels:  # the side-by-side tab of a pair no longer shown
    st.session_state["w:dd_detail_tab"] = detail_labels[0]
tabs = dict(zip(detail_labels, lazy_tabs(detail_labels, "w:dd_detail_tab")))
class_tab, confusion_tab, map_tab = (tabs[t] for t in detail_labels if t != SIDE_BY_SIDE)
if paired_view:
    with tabs[SIDE_BY_SIDE]:
        if tabs[SIDE_BY_SIDE].open:
            k1, k2 = st.columns(2)
            kind = k1.selectbox("Dynamics", list(KINDS), format_func=KINDS.get,
                                key=default("w:dd_kind", "collapse"))
            metric = metric_select("Metric re-scored at every frame", "w:dd_metric", container=k2)
            try:
                traj = trajectory(pool, kind, metric, {})
                # built once per trajectory and pair (~1 s of plotly on the demo): every later open reuses it
                paired = cached_figure(traj, ("dd_paired", pool.key, kind, metric, model_a, model_b), lambda: (
                    paired_dynamics_figure([(m, trajectory_view(traj, m)) for m in (model_a, model_b)],
                                           pool.labels, pool.class_names, colors=colors,
                                           metric_label=metric_label(metric),
                                           title=f"{KINDS[kind]}: {short_model_name(model_a)} vs "
                                                 f"{short_model_name(model_b)}")))
                event = sample_scatter(paired, pool, key="dd_paired")  # hover thumbnails, box/lasso selection
                selection_table(pool, selected_indices(event), key="dd_paired_selected")
            except Exception as err:  # noqa: BLE001
                error_box(err, "The side-by-side animation")
CLASS_FILTER = "w:dd_classes"  # the hardest samples' classes: a multiselect, also set by clicking the class bars
with class_tab:
    if class_tab.open:
        tables = {}
        for model in shown:
            results = {metric: detail.results[metric].get(model) for metric in DETAIL_METRICS}
            tables[model] = per_class_table({k: v for k, v in results.items() if v is not None}, pool.class_names)
        filled = {short_model_name(m): t for m, t in tables.items() if not t.empty}
        # the detail metrics' point estimates of these models: built once per pool and pair
        figures = dict(zip(filled, cached_figure(pool, ("dd_heat", pool.key, detail_key, tuple(shown)),
                                                 lambda: per_class_heatmaps(filled)))) if filled else {}
        columns = st.columns(len(shown))
        for col, model in zip(columns, shown):
            if short_model_name(model) not in figures:
                col.warning(f"No per-class quantities for {short_model_name(model)}.")
                continue
            class_chart(figures[short_model_name(model)], pool,
                        key=f"dd_heat_{'a' if model == model_a else 'b'}", container=col)
        st.caption("One colour scale for both models: in each column, the colour says where the value sits between "
                   "the worst and the best value of that column over the models shown (↑ higher is better, ↓ lower "
                   "is better); the text is the value.")

        posterior = {m: detail.results["sfda"][m].trace["class_posterior"] for m in shown
                     if m in detail.results["sfda"]}
        if posterior:
            bars = cached_figure(pool, ("dd_class_bars", pool.key, detail_key, tuple(shown),
                                        tuple(colors[m] for m in shown)),
                                 lambda: per_class_bars(posterior, pool.class_names, "mean true-class posterior (SFDA)",
                                                        colors, title="Per-class SFDA posterior — click or "
                                                                      "box-select classes to list their hardest "
                                                                      "samples"))
            event = class_chart(bars, pool, key="dd_class_bars", on_select="rerun", selection_mode=("points", "box"))
            clicked = [c for c in selected_values(event, "x") if c in pool.class_names]
            # a new click sets the filter; the filter then stays (other tabs, other models) until it is edited
            if clicked and clicked != st.session_state.get("dd_last_click"):
                st.session_state[CLASS_FILTER] = clicked
            st.session_state["dd_last_click"] = clicked
with confusion_tab:
    if confusion_tab.open:
        st.caption("Soft confusion of the nearest-class-mean softmax (the SFDA family's \"LDA\" score, under its "
                   "honest name): row = true class, columns = mean posterior.")
        columns = st.columns(len(shown))
        for col, model in zip(columns, shown):
            result = detail.results["ncm_softmax"].get(model)
            if result is None:
                col.warning(f"NCM softmax failed for {short_model_name(model)}.")
                continue
            class_chart(matrix_heatmap(result.trace["confusion"], pool.class_names, title=short_model_name(model),
                                       zmin=0, zmax=1, value_label="posterior", colorscale="Blues"),
                        pool, key=f"dd_confusion_{'a' if model == model_a else 'b'}", container=col)
with map_tab:
    if map_tab.open:
        st.markdown(f"**Every sample of {short_model_name(model_a)} on one map**")
        o1, o2 = st.columns(2)
        projection = o1.radio("Map", list(PROJECTIONS), key=default("w:dd_projection", "pca"), horizontal=True,
                              format_func=PROJECTIONS.get,
                              help="UMAP: instant on the prepared demo (`transvis demo prepare` computes every model's "
                                   "map); on another pool fitted in the background, about 10 s per 3,000 samples (the "
                                   "first fit of the server also imports umap-learn and compiles it: about 40 s more).")
        colour = o2.radio("Colour", ["true label", "hardness"], key=default("w:dd_overview_colour", "true label"),
                          horizontal=True, help="Hardness = 1 − SFDA's ConfMix weight (high = confusing sample).")
        if (finished := _jobs.take_finished(UMAP_JOB)) is not None and finished[0].state == "done":
            _jobs.finished_results(UMAPS)[finished[1].tag] = finished[1].result
        drawn = projection
        try:
            xy = umap_map(pool, model_a) if projection == "umap" else overview_positions(pool, model_a, projection)
            if xy is None:  # UMAP is being fitted in the background: the PCA map meanwhile
                drawn, xy = "pca", overview_positions(pool, model_a, "pca")
        except Exception as err:  # noqa: BLE001
            error_box(err, f"The {PROJECTIONS[drawn]} map")
        else:
            sfda_a = detail.results["sfda"].get(model_a)
            hardness = ((1.0 - sfda_a.trace["mixing_weights"]) if sfda_a is not None and colour == "hardness"
                        else None)
            event = sample_scatter(
                static_scatter(xy, pool.labels, pool.class_names, color=hardness, color_label="hardness",
                               title=f"{short_model_name(model_a)} — {PROJECTIONS[drawn]} of all "
                                     f"{pool.n_samples:,} samples (lasso to list them)"),
                pool, key="dd_overview")
            selection_table(pool, selected_indices(event), key="dd_overview_selected")

# --- hardest samples -----------------------------------------------------------------------------------
st.subheader("Hardest samples")
if CLASS_FILTER in st.session_state:  # a filter kept from another pool keeps only this pool's classes
    st.session_state[CLASS_FILTER] = [c for c in st.session_state[CLASS_FILTER] if c in pool.class_names]
k_column, class_column = st.columns([1, 2])
k = k_column.slider("How many", 4, 60, step=4, key=default("w:dd_k", 16))
picked_classes = class_column.multiselect(
    "Of the classes", pool.class_names, key=default(CLASS_FILTER, []), placeholder="every class",
    help="Clicking or box-selecting bars of the per-class SFDA posterior (tab *Which classes carry the score*) "
         "sets this too.")
st.caption("Hardest = smallest **nearest-mean margin**: squared distance to the nearest other class's mean minus "
           "squared distance to the sample's own class mean, in the model's features (negative = nearer another "
           "class than its own); equal margins in sample order. SFDA's ConfMix weight is shown beside it, but it "
           "saturates (most samples share its maximum), so it cannot order them."
           + ("" if picked_classes else
              " To list one class's hardest, pick it above or click its bar in *Which classes carry the score*."))
columns = st.columns(len(shown))
for col, model in zip(columns, shown):
    margin, nearest = _margin(pool.key, model, pool)
    labels = pool.features[model].labels
    if picked_classes:
        idx = np.concatenate([hardest_samples(margin, k, labels, pool.class_names.index(c)) for c in picked_classes])
    else:
        idx = hardest_samples(margin, k)
    extra = {"margin": margin, "nearer to": np.asarray(pool.class_names, dtype=object)[nearest]}
    result = detail.results["sfda"].get(model)
    if result is not None and "mixing_weights" in result.trace:
        extra["ConfMix weight"] = result.trace["mixing_weights"]
    table = sample_table(labels, pool.class_names, [int(i) for i in idx], image_fn=pool.image_fn, columns=extra,
                         thumbnail_size=DEEP_DIVE_THUMBNAIL_PX)
    with col:
        st.markdown(f"**{short_model_name(model)}** — {len(table)} hardest sample(s), "
                    + ", ".join(f"{n} {c}" for c, n in table["class"].value_counts().items()))
        st.dataframe(
            table, hide_index=True, width="stretch", key=f"dd_hard_{'a' if model == model_a else 'b'}",
            row_height=DEEP_DIVE_THUMBNAIL_PX + 4, height=min(table_height(len(table), DEEP_DIVE_THUMBNAIL_PX + 4), 900),
            column_config={
                "thumbnail": st.column_config.ImageColumn("image", width=DEEP_DIVE_THUMBNAIL_PX + 8),
                "sample": st.column_config.NumberColumn("sample", width=70),
                "class": st.column_config.TextColumn("class", width=100),
                "nearer to": st.column_config.TextColumn("nearest other class", width=130),
                "margin": st.column_config.NumberColumn("margin", format="%.4g", width=90,
                                                        help="distance² to the nearest other class's mean − "
                                                             "distance² to its own (small = hard)"),
                "ConfMix weight": st.column_config.NumberColumn("ConfMix weight", format="%.4g", width=110),
            })
