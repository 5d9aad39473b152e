"""Model deep-dive: why does this model rank where it does? Per-class contributions, confusions, hard samples."""

import numpy as np
import pandas as pd
import streamlit as st

from pages._dynamics import metric_select, model_select, selection_table, trajectory
from pages._scatter import class_chart, sample_scatter
from pages._ui import default, error_box, leaderboard_metrics, metric_label, page_header, ranking, variant_params
from transvis.headline import degenerate_scores
from pages._selection import selected_indices, selected_values
from transvis.viz import model_colors, short_model_name
from transvis.viz.animation import paired_dynamics_figure, static_scatter, trajectory_view
from transvis.viz.deepdive import hardest_samples, per_class_heatmap, per_class_table, rank_table
from transvis.viz.methods import matrix_heatmap, per_class_bars

DETAIL_METRICS = ["sfda", "ncm_softmax", "logme", "nc", "face"]
PROJECTIONS = {"pca": "PCA", "fisher": "Fisher plane", "umap": "UMAP"}
KINDS = {"collapse": "Neural collapse", "spread_attract": "Spread & Attract", "ped": "PED", "fisher": "Fisher space"}

@st.cache_resource(max_entries=24, show_spinner="Projecting every sample…")
def _overview(pool_key: str, model: str, projection: str, _pool):
    from transvis.projection import FisherProjection, PCAProjection, umap_overview

    fs = _pool.features[model]
    if projection == "umap":
        return umap_overview(fs.features, cache_key=(pool_key, model)).embedding_
    fitted = (FisherProjection(2).fit(fs.features, fs.labels) if projection == "fisher"
              else PCAProjection(2).fit(fs.features))
    return fitted.transform(fs.features)


def overview_positions(pool, model: str, projection: str):
    return _overview(pool.key, model, projection, pool)


pool = page_header(
    ":material/search_insights: Model deep-dive",
    "Why does this model rank high — or low? See which classes carry each score, where its features confuse "
    "classes, and which samples are hardest. Compare two models side by side.",
)
c1, c2, c3 = st.columns([2, 1, 2])
model_a = model_select(pool, "w:dd_model_a", "Model", container=c1)
compare = c2.toggle("Compare with", key=default("w:dd_compare", len(pool.models) > 1))
model_b = None
if compare:
    others = [m for m in pool.models if m != model_a] or pool.models
    if st.session_state.get("w:dd_model_b") not in others:
        st.session_state["w:dd_model_b"] = others[-1]
    model_b = c3.selectbox("Second model", others, key="w:dd_model_b", format_func=short_model_name)

metrics = leaderboard_metrics()
try:
    overview = ranking(pool, metrics, variant_params(metrics))
    detail = ranking(pool, DETAIL_METRICS, variant_params(DETAIL_METRICS))
except Exception as err:  # noqa: BLE001
    error_box(err, "Scoring the pool")
    st.stop()
colors = model_colors(pool.models)
shown = [m for m in (model_a, model_b) if m]

# --- ranks across metrics --------------------------------------------------------------------------------
st.subheader("Where it ranks, metric by metric")
ranks_table = rank_table(overview, shown, metric_label)
st.dataframe(ranks_table, width="stretch", key="dd_ranks")
st.caption("Ranks share a place when scores are equal (\"tied\"); \"1–3 of 7 (within noise)\": the scores' "
           "sampling noise allows any of those ranks (see *How the noise is estimated* on the Leaderboard). "
           "Scores are ± one standard error.")
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

# --- side by side, synchronised ------------------------------------------------------------------------
if model_b is not None and pool.shared_samples:
    st.subheader("Side by side, frame by frame")
    k1, k2 = st.columns(2)
    kind = k1.selectbox("Dynamics", list(KINDS), format_func=KINDS.get, key=default("w:dd_kind", "collapse"))
    metric = metric_select("Metric re-scored at every frame", "w:dd_metric", container=k2)
    try:
        traj = trajectory(pool, kind, metric, {})
        views = [(m, trajectory_view(traj, m)) for m in (model_a, model_b)]
        paired = paired_dynamics_figure(views, pool.labels, pool.class_names, colors=colors,
                                        metric_label=metric_label(metric),
                                        title=f"{KINDS[kind]}: {short_model_name(model_a)} vs "
                                              f"{short_model_name(model_b)}")
        event = sample_scatter(paired, pool, key="dd_paired")  # hover thumbnails, box/lasso selection
        selection_table(pool, selected_indices(event), key="dd_paired_selected")
    except Exception as err:  # noqa: BLE001
        error_box(err, "The side-by-side animation")

# --- per-class contributions ---------------------------------------------------------------------------
st.subheader("Which classes carry the score")
columns = st.columns(len(shown))
for col, model in zip(columns, shown):
    results = {metric: detail.results[metric].get(model) for metric in DETAIL_METRICS}
    table = per_class_table({k: v for k, v in results.items() if v is not None}, pool.class_names)
    if table.empty:
        col.warning(f"No per-class quantities for {short_model_name(model)}.")
        continue
    class_chart(per_class_heatmap(table, title=short_model_name(model)), pool,
                key=f"dd_heat_{'a' if model == model_a else 'b'}", container=col)

posterior = {m: detail.results["sfda"][m].trace["class_posterior"] for m in shown if m in detail.results["sfda"]}
if posterior:
    event = class_chart(
        per_class_bars(posterior, pool.class_names, "mean true-class posterior (SFDA)", colors,
                       title="Per-class SFDA posterior — click or box-select classes to list their hardest samples"),
        pool, key="dd_class_bars", on_select="rerun", selection_mode=("points", "box"))
    picked_classes = [c for c in selected_values(event, "x") if c in pool.class_names]
else:
    picked_classes = []

# --- confusions ------------------------------------------------------------------------------------------
st.subheader("Where the features confuse classes")
st.caption("Soft confusion of the nearest-class-mean softmax (the SFDA family's \"LDA\" score, under its honest "
           "name): row = true class, columns = mean posterior.")
columns = st.columns(len(shown))
for col, model in zip(columns, shown):
    result = detail.results["ncm_softmax"].get(model)
    if result is None:
        col.warning(f"NCM softmax failed for {short_model_name(model)}.")
        continue
    class_chart(matrix_heatmap(result.trace["confusion"], pool.class_names, title=short_model_name(model),
                               zmin=0, zmax=1, value_label="posterior", colorscale="Blues"),
                pool, key=f"dd_confusion_{'a' if model == model_a else 'b'}", container=col)

# --- overview map ----------------------------------------------------------------------------------------
st.subheader(f"Every sample of {short_model_name(model_a)} on one map")
o1, o2 = st.columns(2)
projection = o1.radio("Map", list(PROJECTIONS), key=default("w:dd_projection", "pca"), horizontal=True,
                      format_func=PROJECTIONS.get,
                      help="UMAP's first fit compiles numba code (about a minute); it is cached afterwards.")
colour = o2.radio("Colour", ["true label", "hardness"], key=default("w:dd_overview_colour", "true label"),
                  horizontal=True, help="Hardness = 1 − SFDA's ConfMix weight (high = confusing sample).")
try:
    xy = overview_positions(pool, model_a, projection)
except Exception as err:  # noqa: BLE001
    error_box(err, f"The {PROJECTIONS[projection]} map")
else:
    sfda_a = detail.results["sfda"].get(model_a)
    hardness = (1.0 - sfda_a.trace["mixing_weights"]) if sfda_a is not None and colour == "hardness" else None
    event = sample_scatter(
        static_scatter(xy, pool.labels, pool.class_names, color=hardness, color_label="hardness",
                       title=f"{short_model_name(model_a)} — {PROJECTIONS[projection]} of all {pool.n_samples:,} "
                             "samples (lasso to list them)"),
        pool, key="dd_overview")
    selection_table(pool, selected_indices(event), key="dd_overview_selected")

# --- hardest samples -----------------------------------------------------------------------------------
st.subheader("Hardest samples")
k = st.slider("How many", 4, 60, step=4, key=default("w:dd_k", 16))
st.caption("Hardest = lowest true-class posterior in SFDA's first Fisher pass (ConfMix mixes these most)."
           + (f" Showing classes: {', '.join(picked_classes)}." if picked_classes else ""))
columns = st.columns(len(shown))
for col, model in zip(columns, shown):
    result = detail.results["sfda"].get(model)
    if result is None or "mixing_weights" not in result.trace:
        col.warning(f"No per-sample posteriors for {short_model_name(model)}.")
        continue
    weights = result.trace["mixing_weights"]
    if picked_classes:
        idx = np.concatenate([hardest_samples(weights, k, pool.labels, pool.class_names.index(c))
                              for c in picked_classes])
    else:
        idx = hardest_samples(weights, k)
    with col:
        st.markdown(f"**{short_model_name(model)}**")
        selection_table(pool, [int(i) for i in idx], key=f"dd_hard_{'a' if model == model_a else 'b'}",
                        columns={"ConfMix weight": weights}, heading="hardest sample(s)")
