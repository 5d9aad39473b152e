"""Fisher space (SFDA): the regularised Fisher projection, ConfMix self-challenge, and λ's effect."""

import numpy as np
import pandas as pd
import streamlit as st

from pages._dynamics import animation_section, cached_figure, kind_choices, model_select
from pages._method_page import detail_model, interval_half_widths, method_scored
from pages._scatter import class_chart
from pages._ui import default, lazy_tabs, page_header
from transvis.app_defaults import DYNAMICS_DEFAULTS, METHOD_DEFAULTS
from transvis.captions import fisher_directions_caption, fisher_lambda_caption, view_movement
from transvis.glossary import define
from transvis.headline import rank_text
from transvis.viz import NEUTRAL_COLORS, model_colors, short_model_name
from transvis.viz.animation import static_scatter, stratified_sample, trajectory_view
from transvis.viz.methods import before_after_bars, distribution_boxes, matrix_heatmap, per_class_bars, spectrum_plot

# what the animation can sweep: the choices the fisher dynamics declares, in the page's words
SWEEPS = kind_choices("fisher", "sweep", {"confmix": "ConfMix (t from 0 to 1)", "shrinkage": "shrinkage λ"})

DEFAULTS = METHOD_DEFAULTS["sfda"]  # the demo's ranking at these settings is precomputed

pool = page_header(
    ":material/center_focus_strong: Fisher space",
    "SFDA (Shao et al., ECCV 2022) projects the features onto a regularised Fisher discriminant space, scores "
    "how confidently each sample is assigned to its own class, then **challenges** itself: ConfMix mixes every "
    "sample towards its most confusing class and scores again. Models whose classes stay apart win.",
)
from pages._presentation import presentation_mode  # noqa: E402 - presentation-mode hook
presentation_mode(pool, "fisher")  # the narrated no-scroll screens (stops the page when on)

c1, c2, c3 = st.columns([1, 2, 1])
adaptive = c1.toggle("Adaptive λ (official)", key=default("w:fs_adaptive", DEFAULTS["shrinkage"] is None),
                     help=define("adaptive λ", "λ"))
log_lambda = c2.slider("Shrinkage λ (log₁₀)", -6.0, 0.0, step=0.25, key=default("w:fs_log_lambda", -2.0),
                       disabled=adaptive, help=define("λ"))
confmix = c3.toggle("ConfMix self-challenge", key=default("w:fs_confmix", DEFAULTS["confmix"]),
                    help=define("ConfMix", "mixing weight p"))
params = {"shrinkage": None if adaptive else float(10.0 ** log_lambda), "confmix": bool(confmix), "spectrum": True}

st.subheader("The animation in the Fisher plane")
a1, a2 = st.columns([2, 1])
model = model_select(pool, "w:fs_model", container=a1, showcase="fisher")
sweep = a2.radio("Animate", list(SWEEPS), key=default("w:fs_sweep", DYNAMICS_DEFAULTS["fisher"][1]["sweep"]),
                 format_func=SWEEPS.get, horizontal=True, help=define("ConfMix", "λ"))
engine_params = {"shrinkage": params["shrinkage"], "confmix": params["confmix"], "sweep": sweep}
traj = animation_section(pool, "fisher", "sfda", engine_params, model, key="fs",
                         title=f"Fisher space of {short_model_name(model)}", noise_params=params)
if traj is not None and sweep == "confmix":
    st.caption("Each sample slides from its place (t = 0) to its ConfMix position (t = 1), pulled towards the "
               "mean of the other classes by 1 − p, its mixing weight; colour by *per-sample contribution* to "
               "see which samples cost the score.")
elif traj is not None:
    st.caption("λ sweeps from little to full shrinkage: with λ → 1 the Fisher discriminant becomes nearest "
               "class mean; watch which models depend on the regularisation.")
if traj is not None and traj.projection_name.lower().startswith("fisher"):
    spectrum = (traj.info.get(model) or {}).get("spectra", {}).get("first")
    if spectrum is not None:
        st.caption(fisher_directions_caption(spectrum, len(pool.class_names), model),
                   help=define("discriminant directions", "Fisher eigenvalue"))
if traj is not None:
    # the fixed axes fit every frame; where the last frame shrinks, show it again at its own scale
    view = trajectory_view(traj, model)
    moved = view_movement(view.positions)
    if moved["last_extent"] < 0.5:
        z1, z2 = st.columns([2, 1])
        drawn = stratified_sample(pool.labels)  # the animation's own samples (MAX_ANIMATED_POINTS)
        zoom_title = (f"{short_model_name(model)} at {view.frame_names[-1]}, at its own scale "
                      f"(zoomed ×{1 / max(moved['last_extent'], 1e-12):.3g})")
        zoom = cached_figure(traj, ("fs_last_zoom", pool.key, model, zoom_title), lambda: static_scatter(
            view.positions[-1][drawn], pool.labels[drawn], pool.class_names, sample_ids=drawn, title=zoom_title,
            axis_titles=("Fisher direction 1", "Fisher direction 2")))
        z1.plotly_chart(zoom, width="stretch", key="fs_last_zoom")
        z2.caption(f"At {view.frame_names[-1]} the points of {short_model_name(model)} span only "
                   f"{moved['last_extent']:.0%} of the animation's view, whose axes stay fixed so that every frame "
                   "fits. This copy of the last frame has its own axes: the same points, "
                   f"×{1 / max(moved['last_extent'], 1e-12):.3g} larger.")

st.subheader("SFDA's quantities for every model")
table, models, trace = method_scored(pool, "sfda", params, "SFDA")
colors = model_colors(pool.models)
first = pd.Series({m: float(np.dot(np.bincount(pool.labels) / pool.n_samples, trace[m]["class_posterior_first"]))
                   for m in models})
score = pd.Series({m: table.results["sfda"][m].score for m in models})
# one view at a time: a closed tab draws nothing (lazy_tabs), so the page's first load draws only the open one
scores_tab, class_tab, spectrum_tab = lazy_tabs(
    ["Scores and λ", "Per class", "ConfMix weights and the Fisher spectrum"], "w:fs_quantities_tab")
with scores_tab:
    if scores_tab.open:
        left, right = st.columns(2)
        noise = table.noise.get("sfda")
        half = interval_half_widths(noise, models)
        left.plotly_chart(before_after_bars(first, score, "mean true-class posterior", colors,
                                            ("first pass", "after ConfMix" if confmix else "scored pass"),
                                            title="SFDA score: first pass vs self-challenged", after_error=half,
                                            level=noise.resampling.level if noise is not None else 0.95),
                          width="stretch", key="fs_scores")
        lam = pd.DataFrame({"λ (shrinkage)": {short_model_name(m): trace[m]["shrinkage"] for m in models},
                            "SFDA": {short_model_name(m): score[m] for m in models},
                            # the ranks the noise allows ("3–6 of 12"), like the bars' whiskers; said short, so
                            # that the column fits this half-page table at 1280 px
                            "rank": {short_model_name(m): rank_text(table, "sfda", m).replace(" (within noise)", "")
                                     for m in models}})
        right.dataframe(lam, width="stretch", key="fs_lambda_table",
                        # fixed widths that add up to the half-page column at 1280 px, so that the rank's range
                        # ("3–6 of 12") is not cut
                        column_config={"_index": st.column_config.Column(width=194),
                                       "λ (shrinkage)": st.column_config.NumberColumn(
                                           "λ", format="%.2e", width=66, help="SFDA's shrinkage λ"),
                                       "SFDA": st.column_config.NumberColumn(format="%.4f", width=56),
                                       "rank": st.column_config.TextColumn(
                                           "rank", width=82,
                                           help="The ranks the score's noise allows: a range such as "
                                                "\"3–6 of 12\" when the noise cannot order the model "
                                                "among its neighbours.")})
        right.caption(fisher_lambda_caption({m: trace[m]["shrinkage"] for m in models}, adaptive=bool(adaptive)),
                      help=define("λ", "adaptive λ"))
with class_tab:
    if class_tab.open:
        detail = detail_model(pool, "w:fs_detail_model", "Per-class detail for", trace)
        if detail is not None:
            chosen, left, right = detail
            class_chart(per_class_bars({"first pass": trace[chosen]["class_posterior_first"],
                                        "scored pass": trace[chosen]["class_posterior"]}, pool.class_names,
                                       "mean true-class posterior",
                                       colors={"first pass": NEUTRAL_COLORS[1], "scored pass": colors[chosen]},
                                       title=f"{short_model_name(chosen)}: which classes are confidently separated"),
                        pool, key="fs_per_class", container=left)
            class_chart(matrix_heatmap(trace[chosen]["confusion"], pool.class_names, title="Soft confusion "
                                       "(row = true class, mean posterior)", zmin=0, zmax=1,
                                       value_label="posterior"), pool, key="fs_confusion", container=right)
with spectrum_tab:
    if spectrum_tab.open:
        left, right = st.columns(2)
        if confmix and all("mixing_weights" in trace[m] for m in models):
            left.plotly_chart(distribution_boxes({m: trace[m]["mixing_weights"] for m in models},
                                                 "ConfMix mixing weight p (1 = sample kept as it is)", colors,
                                                 title="How hard ConfMix pushes each sample"),
                              width="stretch", key="fs_mixing")
        if all("eigenvalues" in trace[m] for m in models):
            right.plotly_chart(spectrum_plot({m: trace[m]["eigenvalues"] for m in models}, colors,
                                             title="Generalised eigenvalues (Fisher spectrum)"),
                               width="stretch", key="fs_spectrum")
