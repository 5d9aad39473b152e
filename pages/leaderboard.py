"""Leaderboard: every metric's ranking of the pool, and how well each metric predicts the ground truth."""

import pandas as pd
import streamlit as st

from pages._ui import (
    MEASURED_GT,
    add_groundtruth_upload,
    dataframe_download,
    default,
    error_box,
    groundtruth_options,
    measure_linear_probe,
    metric_label,
    page_header,
    ranking,
    variant_params,
)
from transvis.metrics import available, get_spec
from transvis.session import OPT_IN_METRICS, default_metrics, in_sample_note, selected_labels
from transvis.viz import model_colors, short_model_name
from transvis.viz.leaderboard import (
    correlation_bars,
    display_table,
    metric_agreement,
    metric_agreement_heatmap,
    rank_bump_chart,
    score_vs_groundtruth,
)

NO_GT = "none"
REGIME_LABELS = {"linear_probe": "linear probe (frozen features)", "finetune": "fine-tuning (whole network)"}
CORRELATION_COLUMNS = ["weighted_tau", "kendall_tau", "spearman", "pearson", "top1_regret", "rel@1", "rel@3",
                       "recall@3", "overlap@3", "top1_model"]

pool = page_header(
    ":material/leaderboard: Leaderboard",
    "Which pre-trained model should you fine-tune? Each metric scores the frozen features of every model; "
    "the table ranks them, and the ground truth says which metric to trust.",
)

all_metrics = available()
uploaded_gt = st.session_state.get("lb_gt_upload")  # the uploader's file from the last interaction
if uploaded_gt is not None:
    add_groundtruth_upload(uploaded_gt.name, uploaded_gt.getvalue(), pool)
if st.session_state.pop("lb_measure_pending", False):  # the button's request, handled before the selectbox
    measure_linear_probe(pool)
    if MEASURED_GT in st.session_state.get("groundtruth_uploads", {}):
        st.session_state["w:lb_gt"] = f"uploaded: {MEASURED_GT}"
gt_options = groundtruth_options(pool)

c1, c2, c3 = st.columns([3, 1.3, 1])
metrics = c1.multiselect(
    "Metrics", all_metrics, key=default("w:lb_metrics", default_metrics()), format_func=metric_label,
    help="Every registered transferability metric; "
         + " and ".join(metric_label(m) for m in OPT_IN_METRICS) + " are slow on big pools, so add them here.",
)
gt_choices = [*gt_options, NO_GT]
if st.session_state.get("w:lb_gt") not in gt_choices:
    st.session_state["w:lb_gt"] = gt_choices[0]
gt_label = c2.selectbox(
    "Ground truth", gt_choices, key="w:lb_gt", format_func=lambda label: REGIME_LABELS.get(label, label),
    help="True transfer accuracy of each model to rank the metrics against: a linear probe on the frozen "
         "features, or fine-tuning the whole network (where the pool has both, choose the regime here).",
)
show = c3.radio("Table shows", ["scores", "ranks"], key=default("w:lb_show", "scores"), horizontal=True)

with st.expander("Metric settings and your own ground truth"):
    variant_metrics = [m for m in metrics if get_spec(m).variants]
    cols = st.columns(max(1, len(variant_metrics)))
    for col, name in zip(cols, variant_metrics):
        spec = get_spec(name)
        col.selectbox(f"{metric_label(name)} variant", list(spec.variants),
                      key=default(f"w:lb_variant_{name}", spec.default_variant or spec.variants[0]))
    params = variant_params(metrics)
    u1, u2 = st.columns([3, 2])
    u1.file_uploader(
        "Upload ground truth (CSV with columns model,dataset,regime,accuracy)", type=["csv"], key="lb_gt_upload",
    )
    u2.markdown("**…or measure it here**")
    u2.button("Linear-probe every model", key="lb_measure_gt",
              on_click=lambda: st.session_state.update(lb_measure_pending=True),
              help="Logistic regression on a stratified train/validation split of these features, accuracy "
                   "on held-out test samples. Quick, but on the same samples the metrics see.")

if not metrics:
    st.warning("Choose at least one metric.")
    st.stop()

groundtruth = gt_options.get(gt_label) if gt_label != NO_GT else None
try:
    table = ranking(pool, metrics, params, groundtruth)
except Exception as err:  # noqa: BLE001 - shown to the user; the page stays usable
    error_box(err, "Ranking")
    st.stop()

colors = model_colors(pool.models)
gt_series = pd.Series(groundtruth, dtype=float) if groundtruth else None

# --- headline ----------------------------------------------------------------------------------------
h1, h2, h3 = st.columns(3)
mean_rank = table.ranks.mean(axis=1).sort_values()
h1.metric("Consensus pick (best mean rank)", short_model_name(mean_rank.index[0]),
          help="The model with the best rank averaged over the chosen metrics.")
if gt_series is not None and len(gt_series):
    best = gt_series.idxmax()
    h2.metric(f"Best by ground truth ({REGIME_LABELS.get(gt_label, gt_label)})", short_model_name(best),
              f"{gt_series[best]:.4g}",
              delta_color="off")
    taus = pd.Series(table.weighted_tau).dropna()
    if len(taus):
        top = taus.idxmax()
        h3.metric("Most trustworthy metric here", metric_label(top), f"weighted τ = {taus[top]:+.2f}",
                  delta_color="normal" if taus[top] >= 0 else "inverse")
else:
    h2.metric("Ground truth", "none", help="Choose or upload ground truth to rank the metrics.")

empty = [m for m in table.metrics if table.scores[m].isna().all()]  # e.g. LEEP on models without a head
scores_shown, ranks_shown = table.scores.drop(columns=empty), table.ranks.drop(columns=empty)
metric_columns = {c: st.column_config.NumberColumn(metric_label(c), format="%.4g") for c in scores_shown.columns}

tab_table, tab_gt, tab_bump, tab_agree = st.tabs(
    ["Table", "Metrics vs ground truth", "Rank bump chart", "Metric agreement"])

with tab_table:
    shown = display_table(scores_shown, ranks_shown, gt_series, show=show)
    if empty:
        st.caption("Not shown (no model could be scored): " + ", ".join(metric_label(m) for m in empty)
                   + " — see *Skipped or failed* below.")
    fmt = "%.4g" if show == "scores" else "%d"
    st.dataframe(
        shown, width="stretch", key="lb_table",
        column_config={c: st.column_config.NumberColumn(metric_label(c), format=fmt) for c in table.metrics},
    )
    st.caption("Rows ordered by mean rank over the chosen metrics; higher score = more transferable for every "
               "metric. *None*: the metric was skipped or failed for that model (see below).")
    for metric, note in table.tie_notes().items():
        st.warning(f"**{metric_label(metric)}: tied scores.** {note}", icon=":material/drag_handle:")
    if (note := in_sample_note(pool, table.metrics)) is not None:
        st.info(f"**Samples per dimension.** {note}", icon=":material/straighten:")
    if "ncti" in metrics:
        st.caption(":material/balance: **NCTI depends on the pool**: it min-max normalises its three components "
                   "over the models "
                   "ranked together, so adding or removing a model changes every NCTI score.")
    if table.skipped or table.failed:
        with st.expander(f"Skipped or failed: {len(table.skipped) + len(table.failed)} model × metric pair(s)"):
            rows = [(short_model_name(m), k, "skipped", r) for m, k, r in table.skipped]
            rows += [(short_model_name(m), k, "failed", r) for m, k, r in table.failed]
            st.dataframe(pd.DataFrame(rows, columns=["model", "metric", "status", "reason"]), hide_index=True,
                         width="stretch", key="lb_skipped")
    dataframe_download(shown, f"leaderboard_{show}.csv", key="lb_download_table")

with tab_gt:
    if gt_series is None:
        st.info("No ground truth for this pool. Upload a CSV `model,dataset,regime,accuracy` under "
                "**Metric settings and your own ground truth** to see which metric predicts it best.")
    else:
        corr = pd.DataFrame({m: table.correlations[m] for m in table.correlations}).T
        if "top1_model" in corr.columns:  # a list when the metric ties several models at the top
            corr["top1_model"] = corr["top1_model"].map(
                lambda v: ", ".join(map(short_model_name, v)) if isinstance(v, list)
                else short_model_name(v) if isinstance(v, str) else v)
        if corr.empty:
            st.warning("Too few models with both a score and an accuracy to correlate (at least 3 are needed).")
        else:
            corr = corr[[c for c in CORRELATION_COLUMNS if c in corr.columns]]
            left, right = st.columns([1, 1])
            stat = right.selectbox("Correlation shown", [c for c in CORRELATION_COLUMNS[:4] if c in corr.columns],
                                   key=default("w:lb_stat", "weighted_tau"))
            numeric = corr.drop(columns=["top1_model"], errors="ignore").apply(pd.to_numeric, errors="coerce")
            right.plotly_chart(correlation_bars(numeric.rename(index=metric_label), stat), width="stretch",
                               key="lb_corr_bars")
            left.dataframe(corr.rename(index=metric_label), width="stretch", key="lb_corr_table",
                           height=36 * (len(corr) + 1) + 4,
                           column_config={c: st.column_config.NumberColumn(format="%.3f")
                                          for c in numeric.columns})
            partly = {k: v for k, v in table.correlation_skipped.items() if k not in empty}
            if partly:
                left.caption("Not correlated: " + "; ".join(f"{metric_label(k)}: {v}" for k, v in partly.items()))
        scored = [m for m in metrics if table.scores[m].notna().any()]
        if scored:
            if st.session_state.get("w:lb_scatter_metric") not in scored:
                st.session_state["w:lb_scatter_metric"] = scored[0]
            chosen = st.selectbox("Score against ground truth for", scored, key="w:lb_scatter_metric",
                                  format_func=metric_label)
            fig = score_vs_groundtruth(table.scores[chosen], gt_series, colors, metric_label(chosen))
            event = st.plotly_chart(fig, width="stretch", key="lb_scatter", on_select="rerun",
                                    selection_mode=("points", "box", "lasso"))
            picked = selected_labels(event)
            detail = display_table(scores_shown, ranks_shown, gt_series, show="scores")
            if picked:
                detail = detail.loc[[m for m in detail.index if m in picked]]
                st.caption(f"{len(detail)} selected model(s) — clear the selection to see all.")
            else:
                st.caption("Box- or lasso-select models on the chart to compare them here.")
            st.dataframe(detail, width="stretch", key="lb_selected_table", column_config=metric_columns)

with tab_bump:
    st.plotly_chart(rank_bump_chart(ranks_shown.rename(columns=metric_label), gt_series, colors),
                    width="stretch", key="lb_bump")
    st.caption("Each line is a model; a flat line means every metric ranks it alike, crossings are disagreements.")

with tab_agree:
    agreement = metric_agreement(scores_shown).rename(index=metric_label, columns=metric_label)
    st.plotly_chart(metric_agreement_heatmap(agreement), width="stretch", key="lb_agreement")
    st.caption("Weighted Kendall's τ between two metrics' rankings of the pool (1 = same order, −1 = reversed); "
               "the top of each ranking weighs more, as in the transferability papers.")
