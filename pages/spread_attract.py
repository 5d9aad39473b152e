"""Spread & Attract (Feature Space Perturbation): perturb the features, watch the wrapped metric respond."""

import pandas as pd
import streamlit as st

from pages._dynamics import animation_section, kind_choices, metric_select, model_select, quantity_curves
from pages._method_page import before_after_ranking, method_scored, trace_before_after, unperturbed_ranking
from pages._ui import default, lazy_tabs, metric_label, page_header
from transvis.app_defaults import DYNAMICS_DEFAULTS, METHOD_DEFAULTS
from transvis.captions import official_geometry_note
from transvis.glossary import define
from transvis.headline import rank_text
from transvis.viz import model_colors, short_model_name

# what the animation can sweep: the choices the spread_attract dynamics declares, in the page's words
MODES = kind_choices("spread_attract", "mode",
                     {"both": "Spread + Attract", "spread": "Spread only", "attract": "Attract only"})
VARIANTS = {"paper": "paper (Spread really spreads, Attract really attracts)",
            "official": "official (released code: gate, PCA-64, one signed step)"}

DEFAULTS = METHOD_DEFAULTS["fsp"]  # the demo's ranking at these settings is precomputed

pool = page_header(
    ":material/open_with: Spread & Attract",
    "Feature Space Perturbation (Khoba et al., WACV 2025): **Spread** pushes every sample away from its class "
    "centre, **Attract** pulls the class centres towards each other. A model whose features stay separable "
    "under this stress keeps its score — and its rank.",
)
from pages._presentation import presentation_mode  # noqa: E402 - presentation-mode hook
presentation_mode(pool, "spread_attract")  # the narrated no-scroll screens (stops the page when on)

c1, c2, c3, c4 = st.columns([1.2, 1.6, 1, 1])
metric = metric_select("Wrapped metric", "w:sa_metric", preferred=DEFAULTS["metric"], container=c1,
                       help=define("LogME", "SFDA"))
variant = c2.selectbox("Variant", list(VARIANTS), key=default("w:sa_variant", DEFAULTS["variant"]),
                       format_func=VARIANTS.get, help=define("official variant", "α", "scale gate", "PCA"))
spread = c3.slider("Spread strength", 0.0, 1.0, step=0.05, key=default("w:sa_spread", DEFAULTS["spread"]),
                   disabled=variant != "paper", help=define("Spread"))
attract = c4.slider("Attract strength", 0.0, 0.95, step=0.05, key=default("w:sa_attract", DEFAULTS["attract"]),
                    disabled=variant != "paper", help=define("Attract"))

params = {"metric": metric, "variant": variant}
if variant == "paper":
    params.update(spread=float(spread), attract=float(attract))

st.subheader("The animation: perturbation strength from 0 to the chosen value")
a1, a2 = st.columns([2, 1])
model = model_select(pool, "w:sa_model", container=a1, showcase="spread_attract")
mode = a2.radio("Animate", MODES, key=default("w:sa_mode", DYNAMICS_DEFAULTS["spread_attract"][1]["mode"]),
                horizontal=True, format_func=MODES.get, help=define("Spread", "Attract"))
engine_params = {"variant": variant, "mode": mode}
if variant == "paper":
    engine_params.update(spread=float(spread), attract=float(attract))
traj = animation_section(pool, "spread_attract", metric, engine_params, model, key="sa",
                         title=f"Spread & Attract on {short_model_name(model)}", slider_prefix="")

st.subheader("What the perturbation did to each model")
table, models, trace = method_scored(pool, "fsp", params, "Spread & Attract")
colors = model_colors(pool.models)
before = pd.Series({m: trace[m]["score_unperturbed"] for m in models})
after = pd.Series({m: table.results["fsp"][m].score for m in models})
if variant == "official":
    fired = {short_model_name(m): trace[m].get("gate_fired") for m in models}
    st.caption("Official variant — the scale gate fired for: "
               + (", ".join(m for m, f in fired.items() if f) or "no model") + ". Where it did not fire, the "
               "score is unchanged.", help=define("scale gate", "α"))
# one view at a time: a closed tab draws nothing (lazy_tabs), so the page's first load draws only the open one
ranking_tab, geometry_tab = lazy_tabs(["Scores and ranks", "Spread and centre distance"], "w:sa_quantities_tab")
with ranking_tab:
    if ranking_tab.open:
        unperturbed = unperturbed_ranking(pool, metric, before)
        ranks = before_after_ranking(before, after, metric_label(metric), colors, ("unperturbed", "perturbed"),
                                     title=f"{metric_label(metric)} before and after the perturbation",
                                     rank_title="Rank before → after", keys=("sa_scores", "sa_ranks"),
                                     noise=table.noise.get("fsp"),
                                     before_noise=None if unperturbed is None else unperturbed.noise.get(metric))
        # ranks as the noise allows them ("1–3 of 12 (within noise)"), as the bump chart's bands show them
        rank_before = (pd.Series({m: rank_text(unperturbed, metric, m) for m in models}) if unperturbed is not None
                       else ranks["unperturbed"])
        summary = pd.DataFrame({"unperturbed": before, "perturbed": after, "change": after - before,
                                "rank before": rank_before,
                                "rank after": pd.Series({m: rank_text(table, "fsp", m) for m in models})})
        summary.index = [short_model_name(m) for m in summary.index]
        st.dataframe(summary, width="stretch", key="sa_summary")
with geometry_tab:
    if geometry_tab.open:
        if traj is not None:  # along the animation: every frame, every model
            left, right = st.columns(2)
            with left:
                quantity_curves(traj, "intra_class_spread", "RMS distance to own centre",
                                "Intra-class spread per frame", "sa_spread_curve", colors)
            with right:
                quantity_curves(traj, "mean_centre_distance", "mean distance",
                                "Distance between class centres per frame", "sa_distance_curve", colors)
        left, right = st.columns(2)  # before and after, as scored
        trace_before_after(trace, "intra_class_spread", "intra-class spread (RMS to centre)", colors, "sa_spread",
                           left)
        trace_before_after(trace, "mean_centre_distance", "mean distance between class centres", colors,
                           "sa_distance", right)
        if variant == "official":
            st.caption("Official variant: the bars are measured in the 64-dimensional PCA space the step acts in.")
            note = (official_geometry_note(traj)
                    if traj is not None and traj.params.get("variant") == "official" else None)
            if note:
                st.info(note, icon=":material/help:")
