"""Leaderboard: every metric's ranking of the pool, and how well each metric predicts the ground truth."""

import pandas as pd
import streamlit as st

from pages._ui import (
    MEASURED_GT,
    add_groundtruth_upload,
    add_pool,
    dataframe_download,
    default,
    demo_target_of,
    demo_target_pool,
    error_box,
    groundtruth_options,
    groundtruth_sizes,
    lazy_tabs,
    metric_label,
    page_header,
    ranking,
    variant_params,
)
from transvis.headline import (
    NOISE_EXPLAINED,
    accuracy_fraction,
    binomial_se,
    consensus_pick,
    degenerate_scores,
    groundtruth_pick,
    groundtruth_tiers,
    metric_pick,
)
from transvis.metrics import available, get_spec, opt_in_metrics
from pages import _jobs
from pages._selection import selected_labels
from transvis.app_defaults import default_metrics
from transvis.demo import DEMO_TARGETS, tau_across_targets, tiers_of
from transvis.jobs import unit_job
from transvis.session import in_sample_note, metric_params_key
from transvis.viz import model_colors, short_model_name
from transvis.viz.leaderboard import (
    GROUNDTRUTH_LABEL,
    correlation_bars,
    display_table,
    metric_agreement,
    metric_agreement_heatmap,
    noise_cells,
    rank_bump_chart,
    score_intervals_table,
    score_vs_groundtruth,
    styled_leaderboard,
)

NO_GT = "none"
REGIME_LABELS = {"linear_probe": "linear probe (frozen features)", "finetune": "fine-tuning (whole network)"}
TAU_INTERVAL = "weighted τ [interval]"
CORRELATION_COLUMNS = [TAU_INTERVAL, "weighted_tau", "kendall_tau", "spearman", "pearson", "top1_regret", "rel@1",
                       "rel@3", "recall@3", "overlap@3", "top1_model"]


def _pick_caption(container, pick, clear_text: str = "Clear") -> None:
    """The pick's verdict under its headline number: clear, within noise, or unknown."""
    if pick.pick is None or not pick.detail:
        return
    if pick.clear is True:
        container.caption(f":material/check: **{clear_text}.** {pick.detail}")
    elif pick.clear is False:
        container.caption(f":material/drag_handle: **Within noise.** {pick.detail}")
    else:
        container.caption(f":material/help: **Noise unknown.** {pick.detail}")


PROBE_JOB = "lb_probe_job"  # the session's linear-probe job (pages/_jobs.py draws it)
PROBES = "linear_probe"  # _jobs.finished_results(PROBES): {pool key: {model: ProbeResult}}, reused on a click


def _probe_one(features):
    from transvis import groundtruth

    return groundtruth.linear_probe(features, seed=0)


def _start_probe(pool) -> None:
    """The button's callback: reuse a finished probe of this pool, else start the job (one unit per model;
    its results are committed all at the end, so a cancel leaves no ground truth on some models only)."""
    if (probes := _jobs.finished_results(PROBES).get(pool.key)) is not None:
        _store_probe(pool.key, probes)
        return
    _jobs.start(PROBE_JOB, unit_job(pool.features, _probe_one, name="The linear probe", tag=pool.key,
                                    label=short_model_name))


def _store_probe(pool_key: str, probes: dict) -> None:
    """A finished probe as the session's measured ground truth (accuracies and test sizes), chosen."""
    _jobs.finished_results(PROBES)[pool_key] = probes
    st.session_state.setdefault("groundtruth_uploads", {})[MEASURED_GT] = {
        m: float(p.accuracy) for m, p in probes.items()}
    st.session_state.setdefault("groundtruth_sizes", {})[f"uploaded: {MEASURED_GT}"] = {
        m: int(p.n_test) for m, p in probes.items()}
    st.session_state["w:lb_gt"] = f"uploaded: {MEASURED_GT}"


OPT_IN_JOB = "lb_opt_in_job"  # the session's scoring of a chosen opt-in metric (NLEEP, PARC) on a big pool


def _opt_in_waiting(pool, metrics: list[str], params: dict) -> list[str]:
    """The chosen opt-in metrics (NLEEP, PARC) that are scored in the background on this pool: big enough to
    take more than a moment (``transvis.noise_jobs.BACKGROUND_MIN_CELLS``), neither precomputed nor scored."""
    from pages._ui import opt_in_tables
    from transvis.noise_jobs import BACKGROUND_MIN_CELLS
    from transvis.session import params_key

    if pool.n_samples * len(pool.models) < BACKGROUND_MIN_CELLS:
        return []
    return [m for m in metrics if get_spec(m).opt_in is not None
            and pool.precomputed.get(metric_params_key(m, params.get(m))) is None
            and (pool.key, m, params_key({m: params[m]} if params.get(m) else {})) not in opt_in_tables()]


def _start_opt_in(pool, metric: str, params: dict) -> None:
    """Score ``metric`` on every model in the background (one unit per model; committed all at the end)."""
    from pages._ui import _pool_stats
    from transvis.noise_jobs import scoring_job
    from transvis.session import params_key

    metric_params = {metric: params[metric]} if params.get(metric) else {}
    _jobs.start(OPT_IN_JOB, scoring_job(pool.features, metric, metric_params or None,
                                        stats_cache=_pool_stats(pool.key), name=f"Scoring {metric_label(metric)}",
                                        tag=(pool.key, metric, params_key(metric_params)), label=short_model_name))


def _opt_in_jobs(pool, metrics: list[str], params: dict) -> list[str]:
    """Take a finished opt-in scoring, start the next one the choice needs (one at a time; not again after a
    cancel until asked), draw its panel; returns the chosen opt-in metrics still without scores."""
    from pages._ui import store_opt_in_table
    from transvis.noise_jobs import merge_model_tables

    if (finished := _jobs.take_finished(OPT_IN_JOB)) is not None and finished[0].state == "done":
        store_opt_in_table(finished[1].tag, merge_model_tables(finished[1].result.values()))
    waiting = _opt_in_waiting(pool, metrics, params)
    job = st.session_state.get(OPT_IN_JOB)
    if job is not None and (job.tag[0] != pool.key or job.tag[1] not in waiting):
        job.cancel()  # that metric was removed from the choice (or the pool changed): not worth finishing
        del st.session_state[OPT_IN_JOB]
    outcome = st.session_state.get(f"{OPT_IN_JOB}_outcome")
    if outcome is not None and not any(f"Scoring {metric_label(m)}" == outcome.name for m in waiting):
        st.session_state.pop(f"{OPT_IN_JOB}_outcome")  # it was about a metric no longer chosen
        outcome = None
    if waiting and _jobs.running(OPT_IN_JOB) is None and outcome is None:
        _start_opt_in(pool, waiting[0], params)
    if not waiting:
        return []
    metric = st.session_state[OPT_IN_JOB].tag[1] if OPT_IN_JOB in st.session_state else waiting[0]

    def idle(outcome):
        if outcome is None:
            return
        st.warning(f"{', '.join(metric_label(m) for m in waiting)} left out of the table: "
                   f"{_jobs.outcome_text(outcome)}", icon=":material/info:")
        st.button(f"Score {metric_label(waiting[0])}", key="lb_opt_in_restart", on_click=_start_opt_in,
                  args=(pool, waiting[0], params), icon=":material/refresh:",
                  help="Scores every model in the background; the table shows it once every model is done.")

    if OPT_IN_JOB in st.session_state:
        st.caption(f":material/hourglass_top: {', '.join(metric_label(m) for m in waiting)}: slow on this pool, "
                   "so scored in the background; the table shows the other metrics meanwhile.")
    _jobs.job_panel(OPT_IN_JOB, idle, units="models", action=f"Scoring with {metric_label(metric)}")
    return waiting


def _probe_idle(outcome) -> None:
    """The probe's start button, under what the last run left when it was cancelled or failed."""
    if outcome is not None:
        (st.caption if outcome.state == "cancelled" else st.error)(_jobs.outcome_text(outcome))
    st.button("Linear-probe every model", key="lb_measure_gt", on_click=_start_probe, args=(pool,),
              help="Logistic regression on a stratified train/validation split of these features, accuracy "
                   "on held-out test samples, one model after another in the background (the page stays "
                   "usable; Cancel stops it). On the same samples the metrics see.")


def _pick_delta(pick, label) -> str | None:
    if pick.clear is False and pick.runner_up is not None:
        return f"≈ {label(pick.runner_up)} (within noise)"
    if pick.clear is True:
        return "ahead beyond noise"
    return None


pool = page_header(
    ":material/leaderboard: Leaderboard",
    "Which pre-trained model should you fine-tune? Each metric scores the frozen features of every model; "
    "the table ranks them, and the ground truth says which metric to trust.",
)

all_metrics = available()
target = demo_target_of(pool)
if target is not None:  # the prepared demo: its pool's tiers, and a switch between its targets
    target_pools = {t: (pool if t == target else demo_target_pool(t)) for t in DEMO_TARGETS}
    target_pools = {t: p for t, p in target_pools.items() if p is not None}
    st.session_state["lb_target"] = target  # follows the active pool (it may have been switched elsewhere)
    t1, t2 = st.columns([1.3, 3])
    t1.radio(
        "Target dataset", list(target_pools), key="lb_target", horizontal=True,
        format_func=lambda t: DEMO_TARGETS[t].label,
        on_change=lambda: add_pool(target_pools[st.session_state["lb_target"]]),  # before the rerun draws
        help="The dataset the demo pool transfers to; each has its own measured ground truth. "
             + " ".join(f"{spec.label}: {spec.about}." for spec in DEMO_TARGETS.values()))
    by_tier: dict = {}
    for model, tier in tiers_of(pool.models).items():
        by_tier.setdefault(tier, []).append(short_model_name(model))
    t2.caption("**The pool's tiers** — " + " · ".join(f"*{tier}* ({len(names)}): {', '.join(names)}"
                                                      for tier, names in by_tier.items())
               + ". Layer taps are intermediate blocks of one model, globally pooled (tap 1 shallow, tap 3 deep).")
else:
    target_pools = {}
uploaded_gt = st.session_state.get("lb_gt_upload")  # the uploader's file from the last interaction
if uploaded_gt is not None:
    add_groundtruth_upload(uploaded_gt.name, uploaded_gt.getvalue(), pool)
if (finished := _jobs.take_finished(PROBE_JOB)) is not None and finished[0].state == "done":
    _store_probe(finished[1].tag, finished[1].result)  # before the selectbox, which then shows it
gt_options = groundtruth_options(pool)

c1, c2, c3 = st.columns([3, 1.3, 1])
metrics = c1.multiselect(
    "Metrics", all_metrics, key=default("w:lb_metrics", default_metrics()), format_func=metric_label,
    help="Every registered transferability metric; "
         + " and ".join(metric_label(m) for m in opt_in_metrics()) + " are slow on big pools, so add them here.",
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
    with u2:
        _jobs.job_panel(PROBE_JOB, _probe_idle, units="models", action="Linear probe")

if not metrics:
    st.warning("Choose at least one metric.")
    st.stop()
waiting = _opt_in_jobs(pool, metrics, params)  # NLEEP / PARC on a big pool: scored in the background
metrics = [m for m in metrics if m not in waiting]
if not metrics:
    st.info("The table appears once the metric above is scored; choose another metric to see one now.")
    st.stop()

groundtruth = gt_options.get(gt_label) if gt_label != NO_GT else None
groundtruth_n = groundtruth_sizes(pool, gt_label) if groundtruth else None
if groundtruth and target is not None and len(groundtruth) < len(pool.models):
    uncovered = [short_model_name(m) for m in pool.models if m not in groundtruth]
    st.caption(f":material/info: **{REGIME_LABELS.get(gt_label, gt_label).capitalize()} covers "
               f"{len(groundtruth)} of {len(pool.models)} models**: " + ", ".join(uncovered)
               + " have the linear probe only (fine-tuning costs about 5 CPU-minutes per model and target); "
                 "the correlations use the models that have it.")
try:
    table = ranking(pool, metrics, params, groundtruth, groundtruth_n)
except Exception as err:  # noqa: BLE001 - shown to the user; the page stays usable
    error_box(err, "Ranking")
    st.stop()

colors = model_colors(pool.models)
gt_series = pd.Series(groundtruth, dtype=float) if groundtruth else None

# --- headline ----------------------------------------------------------------------------------------
empty = [m for m in table.metrics if table.scores[m].isna().all()]  # e.g. LEEP on models without a head
scored_metrics = [m for m in table.metrics if m not in empty]
scores_shown, ranks_shown = table.scores.drop(columns=empty), table.ranks.drop(columns=empty)
metric_columns = {c: st.column_config.NumberColumn(metric_label(c), format="%.4g") for c in scores_shown.columns}
flagged = degenerate_scores(table)
no_noise = [m for m in scored_metrics if m not in table.noise]

h1, h2, h3 = st.columns(3)
consensus = consensus_pick(table, scored_metrics, model_label=short_model_name, metric_label=metric_label)
if consensus.pick is not None:
    h1.metric("Consensus pick (best mean rank)", short_model_name(consensus.pick),
              _pick_delta(consensus, short_model_name), delta_color="off", delta_arrow="off",
              help="The model with the best rank averaged over the chosen metrics. It is a clear pick when, on "
                   "most metrics whose noise was estimated, it is ahead of the runner-up beyond that noise.")
    _pick_caption(h1, consensus)
if gt_series is not None and len(gt_series):
    best = groundtruth_pick(groundtruth, groundtruth_n, model_label=short_model_name)
    fraction = accuracy_fraction(groundtruth)[best.pick]
    se = binomial_se(fraction, (groundtruth_n or {}).get(best.pick))
    accuracy = f"{fraction:.1%}" + (f" ± {se:.1%}" if se == se else "")
    h2.metric(f"Best by ground truth ({gt_label.replace('_', ' ')})", short_model_name(best.pick),
              f"{accuracy}" + (f" · ≈ {short_model_name(best.runner_up)}" if best.within_noise else ""),
              delta_color="off", delta_arrow="off",
              help="The most accurate model. Its accuracy is a measurement on a finite test set (binomial "
                   "noise): it is a clear pick only when it beats the runner-up beyond that noise.")
    _pick_caption(h2, best)
    trusted = metric_pick(table, scored_metrics, metric_label=metric_label)
    if trusted.pick is not None:
        tau = table.weighted_tau[trusted.pick]
        h3.metric("Most trustworthy metric here", metric_label(trusted.pick),
                  f"weighted τ = {table.tau_text(trusted.pick)}",
                  delta_color="normal" if tau >= 0 else "inverse", delta_arrow="off",
                  help="The metric whose ranking agrees best with the ground truth (weighted Kendall τ; "
                       "interval from the scores' and the accuracies' noise). A clear pick only when its τ "
                       "beats the runner-up's on the same noise draws.")
        _pick_caption(h3, trusted)
else:
    h2.metric("Ground truth", "none", help="Choose or upload ground truth to rank the metrics.")

with st.expander("How the noise is estimated", icon=":material/troubleshoot:"):
    st.markdown(NOISE_EXPLAINED)
    if no_noise:
        st.caption("Noise not estimated here: " + ", ".join(metric_label(m) for m in no_noise) + ".")
    if groundtruth and not groundtruth_n:
        st.caption("The ground truth's test-set sizes are unknown, so its own noise is not included "
                   "(the linear probe measured here records its test size).")

tab_names = ["Table", "Metrics vs ground truth", "Rank bump chart", "Metric agreement"]
# a closed tab runs and draws nothing (lazy_tabs): the page opens on the table without mounting the charts behind it
tabs = lazy_tabs(tab_names + (["Across targets"] if len(target_pools) > 1 else []), "w:lb_tab")
tab_table, tab_gt, tab_bump, tab_agree = tabs[:4]

with tab_table:
    if tab_table.open:
        cells = noise_cells(table, show, gt_series, groundtruth_n, metrics=scored_metrics)
        shown = cells.values
        if empty:
            st.caption("Not shown (no model could be scored): " + ", ".join(metric_label(m) for m in empty)
                       + " — see *Skipped or failed* below.")
        labels = {GROUNDTRUTH_LABEL: "ground truth", "ground-truth rank": "ground-truth rank", "mean rank": "mean rank"}
        # No number format here: it would override the cells' text ("0.312 ± 0.008 ≈1"); sorting stays numeric.
        st.dataframe(
            styled_leaderboard(cells), width="stretch", key="lb_table",
            column_config={c: st.column_config.Column(labels.get(c, metric_label(c)), help=cells.noted.get(c))
                           for c in shown.columns if c != "mean rank"},
        )
        st.caption("Rows ordered by mean rank over the chosen metrics; higher score = more transferable for every "
                   "metric. "
                   + ("**±**: standard error (see *How the noise is estimated*). " if show == "scores" else
                      "**(a–b)**: the ranks the noise allows (see *How the noise is estimated*). ")
                   + "**≈k**, shaded alike: models "
                   "that column cannot order beyond its noise (its k-th tier). *None*: the metric was skipped or "
                   "failed for that model (see below)."
                   + (" Noise not estimated for " + ", ".join(metric_label(m) for m in no_noise) + "."
                      if no_noise else ""))
        if flagged:
            listed = "; ".join(f"**{metric_label(metric)}** — " + ", ".join(
                f"{short_model_name(model)}: {reason}" for model, reason in per_model.items())
                for metric, per_model in flagged.items())
            st.warning(f"**Degenerate scores (⚠ in the table).** {listed}", icon=":material/warning:")
        for metric, note in table.tie_notes().items():
            st.warning(f"**{metric_label(metric)}: tied scores.** {note}", icon=":material/drag_handle:")
        if (note := in_sample_note(pool, table.metrics)) is not None:
            st.info(f"**Samples per dimension.** {note}", icon=":material/straighten:")
        for name in metrics:
            if (spec := get_spec(name)).pool_combine is not None:  # NCTI: its score is relative to the pool
                how = spec.pool_note or "its score is combined over the models ranked together"
                st.caption(f":material/balance: **{metric_label(name)} depends on the pool**: {how}, so adding or "
                           f"removing a model changes every {metric_label(name)} score.")
        intervals = score_intervals_table(table, metric_label, groundtruth_n)
        with st.expander("Every score with its interval"):
            level = next(iter(table.noise.values())).resampling.level if table.noise else 0.95
            st.caption(f"{level:.0%} intervals: score ± t × standard error (accuracies: ± 1.96 × binomial standard "
                       "error). *ranks*: the ranks the noise allows; *tier*: the model's noise tier in that metric "
                       "(1 = best; *tier size* > 1: cannot be ordered within it).")
            st.dataframe(intervals, hide_index=True, width="stretch", key="lb_intervals",
                         column_config={c: st.column_config.NumberColumn(format="%.4g")
                                        for c in ("score", "se", "low", "high")})
        if table.skipped or table.failed:
            with st.expander(f"Skipped or failed: {len(table.skipped) + len(table.failed)} model × metric pair(s)"):
                rows = [(short_model_name(m), k, "skipped", r) for m, k, r in table.skipped]
                rows += [(short_model_name(m), k, "failed", r) for m, k, r in table.failed]
                st.dataframe(pd.DataFrame(rows, columns=["model", "metric", "status", "reason"]), hide_index=True,
                             width="stretch", key="lb_skipped")
        with st.container(horizontal=True):
            dataframe_download(shown, f"leaderboard_{show}.csv", key="lb_download_table", label="Table (CSV)")
            dataframe_download(intervals.set_index(["metric", "model"]), "leaderboard_intervals.csv",
                               key="lb_download_intervals", label="Scores with intervals (CSV)")

with tab_gt:
    if tab_gt.open:
        if gt_series is None:
            st.info("No ground truth for this pool. Upload a CSV `model,dataset,regime,accuracy` under "
                    "**Metric settings and your own ground truth** to see which metric predicts it best.")
        else:
            corr = pd.DataFrame({m: table.correlations[m] for m in table.correlations}).T
            if not corr.empty:
                corr.insert(0, TAU_INTERVAL, [table.tau_text(m) for m in corr.index])
            if "top1_model" in corr.columns:  # a list when the metric ties several models at the top
                corr["top1_model"] = corr["top1_model"].map(
                    lambda v: ", ".join(map(short_model_name, v)) if isinstance(v, list)
                    else short_model_name(v) if isinstance(v, str) else v)
            if corr.empty:
                st.warning("Too few models with both a score and an accuracy to correlate (at least 3 are needed).")
            else:
                corr = corr[[c for c in CORRELATION_COLUMNS if c in corr.columns]]
                pick, _ = st.columns([1, 2])
                stat = pick.selectbox("Correlation shown", [c for c in CORRELATION_COLUMNS[1:5] if c in corr.columns],
                                      key=default("w:lb_stat", "weighted_tau"))
                numeric = corr.drop(columns=["top1_model", TAU_INTERVAL], errors="ignore").apply(
                    pd.to_numeric, errors="coerce")
                tau_bounds = {metric_label(m): (t.low, t.high) for m, t in table.tau_intervals.items()
                              if t.sources} if stat == "weighted_tau" else None
                st.plotly_chart(correlation_bars(numeric.rename(index=metric_label), stat, intervals=tau_bounds),
                                width="stretch", key="lb_corr_bars")
                st.dataframe(corr.rename(index=metric_label), width="stretch", key="lb_corr_table",
                             height=36 * (len(corr) + 1) + 4,
                             column_config={c: st.column_config.NumberColumn(format="%.3f")
                                            for c in numeric.columns})
                sources = sorted({s for t in table.tau_intervals.values() for s in t.sources})
                st.caption("**weighted τ [interval]**: " + (
                    f"{next(iter(table.tau_intervals.values())).level:.0%} interval from the noise of the "
                    + " and of the ".join(sources) + "." if sources else "no interval: the noise was not estimated.")
                    + ("" if "ground truth" in sources else
                       " The accuracies' own noise is not included (test-set sizes unknown)."))
                partly = {k: v for k, v in table.correlation_skipped.items() if k not in empty}
                if partly:
                    st.caption("Not correlated: " + "; ".join(f"{metric_label(k)}: {v}" for k, v in partly.items()))
            scored = [m for m in metrics if table.scores[m].notna().any()]
            if scored:
                if st.session_state.get("w:lb_scatter_metric") not in scored:
                    st.session_state["w:lb_scatter_metric"] = scored[0]
                chosen = st.selectbox("Score against ground truth for", scored, key="w:lb_scatter_metric",
                                      format_func=metric_label)
                crit = table.noise[chosen].resampling.critical_value() if chosen in table.noise else None
                score_half = table.score_se[chosen] * crit if crit is not None else None
                fractions = accuracy_fraction(groundtruth)
                scale = 100.0 if gt_series.max() > 1.0 else 1.0
                acc_half = pd.Series({m: 1.96 * scale * binomial_se(fractions[m], (groundtruth_n or {}).get(m))
                                      for m in fractions}, dtype=float)
                fig = score_vs_groundtruth(table.scores[chosen], gt_series, colors, metric_label(chosen),
                                           score_halfwidth=score_half, accuracy_halfwidth=acc_half,
                                           tau_text=table.tau_text(chosen))
                event = st.plotly_chart(fig, width="stretch", key="lb_scatter", on_select="rerun",
                                        selection_mode=("points", "box", "lasso"))
                picked = selected_labels(event)
                detail = display_table(scores_shown, ranks_shown, gt_series, show="scores")
                st.caption("Whiskers: the score's and the accuracy's 95 % interval, where their noise is known.")
                if picked:
                    detail = detail.loc[[m for m in detail.index if m in picked]]
                    st.caption(f"{len(detail)} selected model(s) — clear the selection to see all.")
                else:
                    st.caption("Box- or lasso-select models on the chart to compare them here.")
                st.dataframe(detail, width="stretch", key="lb_selected_table", column_config=metric_columns)

with tab_bump:
    if tab_bump.open:
        tiers = {metric_label(m): table.noise_groups(m) for m in scored_metrics}
        if gt_series is not None and groundtruth_n:
            tiers[GROUNDTRUTH_LABEL] = groundtruth_tiers(groundtruth, groundtruth_n)
        st.plotly_chart(rank_bump_chart(ranks_shown.rename(columns=metric_label), gt_series, colors, tiers=tiers,
                                        degenerate={metric_label(m): v for m, v in flagged.items()}),
                        width="stretch", key="lb_bump")
        st.caption("Each line is a model; a flat line means every metric ranks it alike, crossings are disagreements. "
                   "Grey bands: models the column cannot order beyond its noise; rings: equal scores (shared rank); "
                   "✕: degenerate score.")
        unordered = {column: ["  ≈  ".join(short_model_name(m) for m in group) for group in groups if len(group) >= 2]
                     for column, groups in tiers.items() if any(len(group) >= 2 for group in groups)}
        if unordered:
            top_tied = sorted((column for column, groups in tiers.items() if groups and len(groups[0]) >= 2),
                              key=lambda column: column != GROUNDTRUTH_LABEL)  # the ground truth's first
            st.markdown(f":material/drag_handle: **The noise cannot order every model**: in {len(unordered)} of "
                        f"{len(tiers)} columns some models lie within noise of each other"
                        + (f"; in {len(top_tied)} the top place itself is shared ("
                           + ", ".join(top_tied[:4]) + (", …" if len(top_tied) > 4 else "") + ")."
                           if top_tied else "."))
            with st.expander("Which models each column cannot order"):
                st.dataframe(pd.DataFrame({"column": list(unordered),
                                           "cannot be ordered beyond noise (best tier first)":
                                               ["   |   ".join(groups) for groups in unordered.values()]}),
                             hide_index=True, width="stretch", key="lb_unordered")
        else:
            st.caption("Every column orders every model beyond its noise"
                       + (" (noise not estimated for " + ", ".join(metric_label(m) for m in no_noise) + ")"
                          if no_noise else "") + ".")

with tab_agree:
    if tab_agree.open:
        agreement = metric_agreement(scores_shown).rename(index=metric_label, columns=metric_label)
        st.plotly_chart(metric_agreement_heatmap(agreement), width="stretch", key="lb_agreement")
        st.caption("Weighted Kendall's τ between two metrics' rankings of the pool (1 = same order, −1 = reversed); "
                   "the top of each ranking weighs more, as in the transferability papers. Point estimates: the "
                   "scores' noise is not propagated here (see the bump chart's bands for what each metric can order).")

if len(target_pools) > 1:
    with tabs[4]:
        if tabs[4].open:
            regime = gt_label if gt_label in REGIME_LABELS else None
            with_regime = {t: p for t, p in target_pools.items() if regime and regime in p.groundtruth}
            # only what every target's persisted ranking holds: scoring another pool here would take minutes
            shared = [m for m in scored_metrics
                      if all(metric_params_key(m, params.get(m)) in p.precomputed for p in with_regime.values())]
            if len(with_regime) < 2 or not shared:
                st.info("Weighted τ across targets needs a ground-truth regime that every target has (the linear "
                        "probe) and metrics at the Leaderboard's default settings.")
            else:
                tables = {}
                for t, p in with_regime.items():
                    gt_t = groundtruth_options(p)[regime]
                    tables[DEMO_TARGETS[t].label] = ranking(p, shared, params, gt_t, groundtruth_sizes(p, regime))
                across = tau_across_targets(tables, shared)
                texts = pd.DataFrame({label: [t.tau_text(m) for m in shared] for label, t in tables.items()},
                                     index=shared)
                shown_across = texts.assign(mean=across["mean"].map("{:+.2f}".format),
                                            spread=across["spread"].map("{:.2f}".format))
                st.dataframe(shown_across.rename(index=metric_label).sort_values("mean", ascending=False, key=lambda c:
                                                                                 c.astype(float)),
                             width="stretch", key="lb_across_targets")
                st.caption(f"Weighted Kendall τ of each metric's ranking against the {REGIME_LABELS[regime]} ground "
                           "truth on each target [95 % interval], the **mean** over the targets and the **spread** "
                           "(largest − smallest τ), as the transferability papers report. A metric worth trusting "
                           "keeps a high τ on every target; a large spread means its ranking holds on one dataset "
                           "only."
                           + (" Not shown (not in every target's persisted ranking): "
                              + ", ".join(metric_label(m) for m in scored_metrics if m not in shared) + "."
                              if len(shared) < len(scored_metrics) else ""))
