"""PED: classes repel each other like charges; the wrapped metric is scored after the potential energy drops."""

import pandas as pd
import streamlit as st

from pages._dynamics import (
    animation_section,
    frame_note,
    frame_select,
    metric_select,
    model_select,
    quantity_curves,
)
from pages._method_page import before_after_ranking, detail_model, method_scored, unperturbed_noise
from pages._scatter import class_chart
from pages._ui import default, lazy_tabs, metric_label, page_header
from transvis.app_defaults import METHOD_DEFAULTS
from transvis.glossary import define
from transvis.viz import model_colors, short_model_name
from transvis.viz.methods import curves, matrix_heatmap, per_class_bars

DEFAULTS = METHOD_DEFAULTS["ped"]  # the demo's ranking at these settings is precomputed

pool = page_header(
    ":material/bolt: PED dynamics",
    "PED (Li et al., ICCV 2023) treats class centres as charged particles: overlapping classes push each other "
    "apart, step by step, until the position change falls below the exit ratio. A model whose classes barely "
    "need to move was already well separated.",
)
from pages._presentation import presentation_mode  # noqa: E402 - presentation-mode hook
presentation_mode(pool, "ped", metric_key="w:ped_metric",  # the narrated no-scroll screens, on the page's
                  param_keys={"exit_ratio": "w:ped_exit_ratio", "time_step": "w:ped_time_step",  # settings
                              "max_steps": "w:ped_max_steps"})  # (stops the page when on)

c1, c2, c3, c4 = st.columns(4)
metric = metric_select("Wrapped metric", "w:ped_metric", preferred=DEFAULTS["metric"], container=c1,
                       help=define("SFDA", "LogME"))
exit_ratio = c2.slider("Exit ratio", 0.05, 0.95, step=0.05, key=default("w:ped_exit_ratio", DEFAULTS["exit_ratio"]),
                       help=define("exit ratio", "change ratio"))
time_step = c3.slider("Time step", 0.01, 0.5, step=0.01, key=default("w:ped_time_step", DEFAULTS["time_step"]),
                      help=define("time step"))
max_steps = c4.slider("Max steps", 1, 12, key=default("w:ped_max_steps", DEFAULTS["max_steps"]),
                      help="PED takes at most this many steps (the official code: 6).")
params = {"metric": metric, "exit_ratio": float(exit_ratio), "time_step": float(time_step), "max_steps": int(max_steps)}
if (float(exit_ratio), float(time_step)) == (DEFAULTS["exit_ratio"], DEFAULTS["time_step"]) != (0.5, 0.1):
    st.caption(f"The page starts at time step {DEFAULTS['time_step']:g} and exit ratio {DEFAULTS['exit_ratio']:g}, "
               "not the official 0.1 and 0.5: on the demo the official values let no model stop within 6 steps, "
               "which hides PED's own signal — when each model stops.")
st.caption("Reference features: the official method standardises with the same model's features on a reference "
           "set (ImageNet val); this pool has none, so PED standardises with the target features themselves — "
           "a labelled deviation from the official method.")

st.subheader("The animation: class centres repelling, step by step")
model = model_select(pool, "w:ped_model", showcase="ped")  # opens on the model that stops first (showcase)
traj = animation_section(pool, "ped", metric, {k: v for k, v in params.items() if k != "metric"}, model,
                         key="ped", title=f"PED on {short_model_name(model)}")
if traj is not None:
    colors = model_colors(pool.models)
    left, right = st.columns(2)
    with left:
        quantity_curves(traj, "potential_energy", "potential energy", "Potential energy after each step",
                        "ped_energy", colors)
        st.caption("Potential energy: how much the classes still overlap (0 = no pair overlaps).",
                   help=define("potential energy"))
    with right:
        step = frame_select(traj, "w:ped_step", "Step shown in the force map")
        frame_note(traj, step)
        overlap = traj.frames[step].quantities.get(model, {}).get("overlap")
        if overlap is not None:
            class_chart(matrix_heatmap(overlap, pool.class_names, colorscale="Reds", value_label="F_ij",
                                       title=f"{short_model_name(model)}: pairwise forces at "
                                             f"{traj.frames[step].label}"),
                        pool, key="ped_step_overlap")

st.subheader("PED's quantities for every model")
table, models, trace = method_scored(pool, "ped", params, "PED")
colors = model_colors(pool.models)
before = pd.Series({m: trace[m]["score_before"] for m in models})
after = pd.Series({m: table.results["ped"][m].score for m in models})
ratios = {m: [r if r is not None else float("nan") for r in trace[m]["change_ratios"]] for m in models}
width = max(len(r) for r in ratios.values())
steps = {m: int(trace[m]["num_steps"]) for m in models}
# a model stops at its first step whose change ratio is at or below the exit ratio (that step is not applied)
stops = {m: (k, f"step {k + 1} moved {ratios[m][k]:.3f} × the first step, not above the exit ratio "
                f"{float(exit_ratio):g}: stopped after {k} step(s)")
         for m, k in steps.items() if k < int(max_steps) and k < len(ratios[m])}
if not stops:
    lowest = min((r for m in models for r in ratios[m] if r == r), default=float("nan"))
    st.caption(f"No model reached the exit ratio {float(exit_ratio):g}: the lowest change ratio is {lowest:.2f}. "
               "Raise the exit ratio above it (or the time step) to see when each model stops — PED's own "
               "signal: a model that stops early needed little pushing.")
# one view at a time: a closed tab draws nothing (lazy_tabs), so the page's first load draws only the open one
ranking_tab, stop_tab, force_tab = lazy_tabs(["Scores and ranks", "When each model stops", "Forces and radii"],
                                             "w:ped_quantities_tab")
with ranking_tab:
    if ranking_tab.open:
        before_after_ranking(before, after, metric_label(metric), colors, ("before PED", "after PED"),
                             title=f"{metric_label(metric)} before and after the energy decline",
                             rank_title="Rank before → after PED", keys=("ped_scores", "ped_ranks"),
                             noise=table.noise.get("ped"),
                             before_noise=unperturbed_noise(pool, metric, before))
with stop_tab:
    if stop_tab.open:
        left, right = st.columns(2)
        left.plotly_chart(curves(range(1, width + 1), ratios, "step", "position change / first change", colors,
                                 threshold=float(exit_ratio), threshold_label="exit ratio",
                                 title="When does each model stop moving? (✕ = stopped)", stops=stops),
                          width="stretch", key="ped_ratios")
        changes = {m: trace[m]["position_changes"] for m in models}
        right.plotly_chart(curves(range(1, width + 1), changes, "step", "position change", colors,
                                  title="Position change per step"), width="stretch", key="ped_changes")
        st.dataframe(pd.DataFrame({"steps applied": {short_model_name(m): steps[m] for m in models},
                                   "stopped": {short_model_name(m): (
                                       f"at step {steps[m]} (reached the exit ratio)" if m in stops
                                       else f"no: ran all {int(max_steps)}") for m in models},
                                   "before": {short_model_name(m): before[m] for m in models},
                                   "after": {short_model_name(m): after[m] for m in models}}),
                     width="stretch", key="ped_summary")
with force_tab:
    if force_tab.open:
        detail = detail_model(pool, "w:ped_detail_model", "Forces and radii for", trace)
        if detail is not None:
            chosen, left, right = detail
            class_chart(matrix_heatmap(trace[chosen]["overlap"], pool.class_names,
                                       title=f"{short_model_name(chosen)}: pairwise overlap (first-step force)",
                                       colorscale="Reds", value_label="F_ij", text_format=".2f"),
                        pool, key="ped_overlap", container=left)
            class_chart(per_class_bars({chosen: trace[chosen]["radii"]}, pool.class_names, "class radius", colors,
                                       title=f"{short_model_name(chosen)}: class radii"),
                        pool, key="ped_radii", container=right)
