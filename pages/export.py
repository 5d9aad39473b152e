"""Export: results as CSV/JSON, any figure as PNG/SVG/HTML, animations as HTML/GIF, a one-file HTML report."""

import json

import pandas as pd
import streamlit as st

from pages._dynamics import kind_spec, metric_select, trajectory
from pages._ui import (
    default,
    error_box,
    groundtruth_options,
    groundtruth_sizes,
    leaderboard_metrics,
    metric_label,
    page_header,
    ranking,
    variant_params,
)
from transvis.app_defaults import DYNAMICS_DEFAULTS
from transvis.dynamics import available_dynamics
from transvis.headline import degenerate_scores, groundtruth_tiers, noise_summary
from transvis.metrics import get_spec
from transvis.viz import model_colors, short_model_name
from transvis.viz.animation import dynamics_figure, trajectory_view
from transvis.viz.export import (
    animation_gif,
    figure_bytes,
    figure_html,
    groundtruth_name,
    html_report,
    image_export_available,
    noise_sections,
)
from transvis.viz.leaderboard import (
    GROUNDTRUTH_LABEL,
    correlation_bars,
    display_table,
    metric_agreement,
    metric_agreement_heatmap,
    rank_bump_chart,
    score_intervals_table,
)

pool = page_header(
    ":material/download: Export",
    "Take the results with you: tables as CSV/JSON, figures as PNG, SVG or interactive HTML, animations as HTML "
    "or GIF, and a single self-contained HTML report of this session.",
)

metrics = leaderboard_metrics()
gt_options = groundtruth_options(pool)
gt_label = st.session_state.get("w:lb_gt")
if gt_label is None and gt_options:  # the Leaderboard not opened yet: its default, the first option
    gt_label = next(iter(gt_options))
groundtruth = gt_options.get(gt_label)
groundtruth_n = groundtruth_sizes(pool, gt_label) if groundtruth else None
# what the correlations were computed against, in words: regime and test images ("linear probe (frozen
# features), 900 test images per model"), the same on the page, in the report and in the JSON
gt_name = groundtruth_name(gt_label, groundtruth_n) if groundtruth else None
try:
    table = ranking(pool, metrics, variant_params(metrics), groundtruth, groundtruth_n)
except Exception as err:  # noqa: BLE001
    error_box(err, "Ranking")
    st.stop()
colors = model_colors(pool.models)
gt_series = pd.Series(groundtruth, dtype=float) if groundtruth else None
slug = pool.name.replace("/", "-").replace(" ", "_")

# --- results ---------------------------------------------------------------------------------------------
st.header("Results", divider="gray")
c1, c2, c3, c4 = st.columns(4)
scores_table = display_table(table.scores, table.ranks, gt_series, show="scores")
ranks_table = display_table(table.scores, table.ranks, gt_series, show="ranks")
intervals_table = score_intervals_table(table, metric_label, groundtruth_n)
c1.download_button("Scores (CSV)", scores_table.to_csv().encode(), f"{slug}_scores.csv", "text/csv",
                   key="ex_scores_csv", on_click="ignore", icon=":material/table:")
c2.download_button("Scores ± noise (CSV)", intervals_table.to_csv(index=False).encode(), f"{slug}_intervals.csv",
                   "text/csv", key="ex_intervals_csv", on_click="ignore", icon=":material/table:",
                   help="One row per score: standard error, 95 % interval, the ranks the noise allows, noise tier.")
c3.download_button("Ranks (CSV)", ranks_table.to_csv().encode(), f"{slug}_ranks.csv", "text/csv",
                   key="ex_ranks_csv", on_click="ignore", icon=":material/table:")
payload = table.to_dict()
payload.update(noise_summary(table, groundtruth_n=groundtruth_n))
payload["pool"] = {"name": pool.name, "dataset": pool.dataset_id, "models": pool.models,
                   "groundtruth": gt_name, "groundtruth_id": gt_label if groundtruth else None,
                   "groundtruth_test_images": groundtruth_n}
c4.download_button("Everything (JSON)", json.dumps(payload, indent=2, allow_nan=False), f"{slug}_ranking.json",
                   "application/json", key="ex_json", on_click="ignore", icon=":material/data_object:",
                   help="Scores, ranks, each score's noise (standard error, interval, subset scores), noise tiers, "
                        "τ with its interval, and the headline picks with their verdict.")
st.caption(f"{len(table.models)} models × {len(table.metrics)} metrics"
           + (f", correlations against the ground truth: {gt_name}." if groundtruth else ", no ground truth.")
           + (" Each score with its noise." if table.noise else " Noise not estimated."))

# --- figures ---------------------------------------------------------------------------------------------
st.header("Figures", divider="gray")
scored_metrics = [m for m in table.metrics if table.scores[m].notna().any()]
tiers = {metric_label(m): table.noise_groups(m) for m in scored_metrics}
if groundtruth and groundtruth_n:
    tiers[GROUNDTRUTH_LABEL] = groundtruth_tiers(groundtruth, groundtruth_n)
tau_bounds = {metric_label(m): (t.low, t.high) for m, t in table.tau_intervals.items() if t.sources}
figures = {
    "Rank bump chart": lambda: rank_bump_chart(
        table.ranks.rename(columns=metric_label), gt_series, colors, tiers=tiers,
        degenerate={metric_label(m): v for m, v in degenerate_scores(table).items()}),
    "Metric agreement heat map": lambda: metric_agreement_heatmap(
        metric_agreement(table.scores).rename(index=metric_label, columns=metric_label)),
}
if table.correlations:
    corr = pd.DataFrame({m: table.correlations[m] for m in table.correlations}).T
    numeric = corr[["weighted_tau", "kendall_tau", "spearman", "pearson"]].apply(pd.to_numeric, errors="coerce")
    figures["Weighted τ per metric"] = lambda: correlation_bars(numeric.rename(index=metric_label),
                                                                intervals=tau_bounds)
f1, f2 = st.columns([2, 1])
if st.session_state.get("w:ex_figure") not in figures:
    st.session_state["w:ex_figure"] = next(iter(figures))
figure_name = f1.selectbox("Figure", list(figures), key="w:ex_figure")
fmt = f2.radio("Format", ["png", "svg", "html"], key=default("w:ex_format", "html"), horizontal=True)
fig = figures[figure_name]()
st.plotly_chart(fig, width="stretch", key="ex_preview")
mime = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html"}[fmt]
file_name = f"{slug}_{figure_name.lower().replace(' ', '_').replace('τ', 'tau')}.{fmt}"


can_render = fmt == "html" or image_export_available()
if not can_render:
    st.warning("PNG/SVG/GIF export needs a Chromium browser on the server (`bash scripts/install_chromium.sh`); "
               "HTML export works without it.")
st.download_button(f"Download {figure_name} ({fmt.upper()})", lambda: figure_bytes(fig, fmt), file_name, mime,
                   key="ex_figure_dl", on_click="ignore", icon=":material/image:", disabled=not can_render)

# --- animations ------------------------------------------------------------------------------------------
st.header("Animations", divider="gray")
kinds = {k: kind_spec(k).title for k in available_dynamics()}
# the metric each method page re-scores (its widget, where the user chose one there); Fisher space's is SFDA
PAGE_METRICS = {"spread_attract": "w:sa_metric", "ped": "w:ped_metric", "collapse": "w:nc_metric"}
a1, a2, a3, a4 = st.columns([1.2, 1.2, 1.2, 0.8])
if st.session_state.get("w:ex_anim") not in kinds:
    st.session_state["w:ex_anim"] = "collapse" if "collapse" in kinds else next(iter(kinds))
kind = a1.selectbox("Animation", list(kinds), format_func=kinds.get, key="w:ex_anim")
default_metric, anim_params = DYNAMICS_DEFAULTS.get(kind, (kind_spec(kind).default_metric, {}))
anim_metric = metric_select("Metric re-scored at every frame", f"w:ex_anim_metric_{kind}",
                            preferred=st.session_state.get(PAGE_METRICS.get(kind, ""), default_metric), container=a2)
if st.session_state.get("w:ex_anim_model") not in pool.models:
    st.session_state["w:ex_anim_model"] = pool.models[0]
model = a3.selectbox("Model", pool.models, format_func=short_model_name, key="w:ex_anim_model")
anim_fmt = a4.radio("Format", ["html", "gif"], key=default("w:ex_anim_format", "html"), horizontal=True)
try:
    view = trajectory_view(trajectory(pool, kind, anim_metric, dict(anim_params)), model)
except Exception as err:  # noqa: BLE001
    error_box(err, "Building the animation")
else:
    st.caption(f"The file animates **{kinds[kind]}** at its page's default settings, re-scoring every model with "
               f"**{metric_label(anim_metric)}** at each of its {len(view.frame_names)} frames; the scatter shows "
               f"{short_model_name(model)}.")

    def anim():
        """The animated figure, built when the file is asked for: it is not shown on this page."""
        return dynamics_figure(view.positions, pool.labels, pool.class_names, view.scores, view.ranks,
                               centres=view.centres, frame_names=view.frame_names, colors=colors,
                               metric_label=metric_label(anim_metric),
                               title=f"{kinds[kind]} — {metric_label(anim_metric)} — {short_model_name(model)}",
                               race=view.race)

    data = (lambda: figure_html(anim()).encode()) if anim_fmt == "html" else (lambda: animation_gif(anim()))
    st.download_button(f"Download animation ({anim_fmt.upper()})", data,
                       f"{slug}_{kind}_{anim_metric}.{anim_fmt}",
                       "text/html" if anim_fmt == "html" else "image/gif", key="ex_anim_dl", on_click="ignore",
                       icon=":material/movie:", disabled=anim_fmt == "gif" and not image_export_available())

# --- report ------------------------------------------------------------------------------------------------
st.header("One-file HTML report", divider="gray")
st.caption("The headline picks with their verdict, the leaderboard with every score's noise, correlations with "
           "τ's interval, bump chart, agreement map, the metrics' references and how the noise is estimated, in "
           "one HTML file that opens offline.")


def build_report() -> bytes:
    noise = noise_sections(table, groundtruth_n, metric_label, gt_name)
    truth = f" Ground truth: {gt_name}." if gt_name else " No ground truth chosen."
    sections = [("Pool", f"{pool.name}: {pool.summary()}. {pool.description}{truth}"), *noise[:-1],
                ("Leaderboard (ranks)", ranks_table)]
    for name, make in figures.items():
        sections.append((name, make()))
    refs = pd.DataFrame({"metric": [metric_label(m) for m in table.metrics],
                         "what it measures": [get_spec(m).summary for m in table.metrics],
                         "reference": [get_spec(m).citation for m in table.metrics]}).set_index("metric")
    sections.append(("Metrics and references", refs))
    sections.append(noise[-1])  # how the noise is estimated
    if table.skipped or table.failed:
        rows = [(short_model_name(m), k, "skipped", r) for m, k, r in table.skipped]
        rows += [(short_model_name(m), k, "failed", r) for m, k, r in table.failed]
        sections.append(("Skipped or failed", pd.DataFrame(rows, columns=["model", "metric", "status", "reason"])))
    return html_report(f"transvis report — {pool.name}", sections, subtitle=pool.summary()).encode()


st.download_button("Download the report (HTML)", build_report, f"{slug}_report.html", "text/html",
                   key="ex_report", type="primary", on_click="ignore", icon=":material/description:")
