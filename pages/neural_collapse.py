"""Neural collapse: NC1–NC4, FaCe, and the class-mean geometry against the ideal simplex ETF."""

import pandas as pd
import streamlit as st

from pages._dynamics import (
    SELECTIONS,
    animation_section,
    cached_figure,
    collapse_grace,
    frame_note,
    frame_select,
    live_trajectory,
    metric_select,
    model_select,
    quantity_curves,
    ranking_captions,
    selection_table,
    trajectory_panel,
)
from pages._method_page import detail_model, interval_half_widths, scored_models
from pages._presentation import presentation_mode
from pages._scatter import class_chart, sample_scatter
from pages._selection import carried_selection, selected_indices
from pages._ui import default, error_box, lazy_tabs, metric_label, page_header
from transvis.app_defaults import DYNAMICS_DEFAULTS
from transvis.captions import trajectory_caption
from transvis.metrics import short_name
from transvis.presentation import collapse_intervals, frame_rank_text
from transvis.viz import NEUTRAL_COLORS, model_colors, short_model_name
from transvis.viz.methods import gram_vs_etf, per_class_bars, small_multiples_bars

# the "Every model" panels' titles (~100 px wide at 1280 px: a dozen characters a line); arrow = better
QUANTITIES = {"nc1": "NC1 within ÷ between ↓", "nc2_equinorm": "NC2 spread of norms ↓",
              "nc2_equiangular": "NC2 spread of angles ↓", "etf_distance": "distance to ETF ↓",
              "nc3": "NC3 self-duality ↓", "nc4_ncc_accuracy": "NC4 nearest-centre accuracy ↑"}
FACE = {"face": "FaCe score ↑", "variance_collapse": "FaCe variance collapse ↑", "fairness": "FaCe fairness ↑"}
# {idea: (plain words, LaTeX)}
TEACHING = {
    "NC1 — variability collapse": (
        "Samples of a class shrink onto their class mean: the within-class spread becomes tiny compared with the "
        "spread between class means.",
        r"\mathrm{NC1} = \frac{1}{C}\operatorname{tr}\!\left(\Sigma_W \Sigma_B^{\dagger}\right) \to 0"),
    "NC2 — simplex ETF": (
        "The centred class means get equal lengths and equal, maximal angles: a simplex equiangular tight frame, "
        "the most separated arrangement possible.",
        r"\cos\angle(\tilde\mu_c, \tilde\mu_{c'}) = -\frac{1}{C-1}, \quad \|\tilde\mu_c\| = \|\tilde\mu_{c'}\|"),
    "NC3 — self-duality": (
        "The classifier's weights line up with the class means (here: a shrinkage-LDA stand-in, frozen features "
        "have no trained head).",
        r"\mathrm{NC3} = \left\| \frac{W}{\|W\|_F} - \frac{\tilde M}{\|\tilde M\|_F} \right\|_F^{2} \to 0"),
    "NC4 — nearest class centre": (
        "The network's decision becomes 'pick the nearest class mean'.",
        r"\hat y(x) = \arg\min_c \|x - \mu_c\|"),
    "FaCe — fair collapse": (
        "A model transfers well when its features are already collapsed for the new classes and that collapse "
        "is fair across classes. transvis's FaCe is a documented reconstruction from neural-collapse statistics.",
        r"\mathrm{FaCe} = \frac{r}{r + C\,\mathrm{NC1}} - 2\operatorname{std}_c \kappa_c, \quad "
        r"\kappa_c = \frac{b_c}{b_c + w_c}"),
}
AT_T = {"nc1": "NC1 ↓", "nc2_equiangular": "NC2 equiangular ↓", "etf_distance": "distance to ETF ↓",
        "nc4_ncc_accuracy": "NC4 accuracy ↑", "face": "FaCe ↑"}  # the per-frame table's columns

DEFAULTS = DYNAMICS_DEFAULTS["collapse"]  # the demo's trajectory at these settings is precomputed
JOB_WHAT = "the trajectory and its NC statistics"  # what a new trajectory's background job computes

pool = page_header(
    ":material/compress: Neural collapse",
    "At the end of training, features of a good network collapse onto their class means, and the means "
    "spread out into a perfectly symmetric simplex. The closer a pre-trained model already is to this on the "
    "target data, the better it tends to transfer (NCTI, FaCe).",
)
# presentation mode: the narrated no-scroll screens, on the page's current metric and ETF choice (stops the page
# when on)
presentation_mode(pool, "collapse", metric_key="w:nc_metric", param_keys={"to_etf": "w:nc_to_etf"})

teaching = st.toggle("Teaching mode (the five ideas, with formulas)", key=default("w:nc_teaching", True))
if teaching:
    # one idea at a time: a closed tab renders nothing (its formula is typeset when it is opened)
    for tab, (head, (text, formula)) in zip(lazy_tabs(list(TEACHING), "w:nc_teaching_tab"), TEACHING.items()):
        with tab:
            if tab.open:
                left, right = st.columns([2, 3], vertical_alignment="center")
                left.caption(text)
                with right:
                    st.latex(formula)

st.subheader("Collapse every sample towards its class mean (t from 0 to 1)")
c1, c2 = st.columns(2, vertical_alignment="bottom")
metric = metric_select("Metric re-scored at every frame", "w:nc_metric", preferred=DEFAULTS[0], container=c1)
model = model_select(pool, "w:nc_model", container=c2, showcase="collapse")
c3, c4 = st.columns([3, 2], vertical_alignment="center")  # the toggles on their own row: labels never cut
to_etf = c3.toggle("Also move the class means to the nearest simplex ETF",
                   key=default("w:nc_to_etf", DEFAULTS[1]["to_etf"]),
                   help="Without it only NC1 falls; with it NC2 (the Gram matrix) reaches the ETF too.")
one_control = c4.toggle("One time control", key=default("w:nc_one_control", True),
                        help="On: the t slider alone picks the frame of the scatter, the ranking and every number; "
                             "each step reruns the page. Off: the figure also plays as an animation with its own ▶ "
                             "slider, which moves the scatter and the ranking in the browser without a rerun (the "
                             "quickest way to scrub); the t slider then drives the numbers below.")

traj = None
if one_control:
    if not pool.shared_samples:
        st.warning("The models of this pool were not extracted on the same samples, so their trajectories cannot "
                   "be compared frame by frame. Build a pool on one dataset (Setup).")
    else:
        try:  # a slow trajectory (a new metric, the ETF) is computed in the background, the last one drawn meanwhile
            traj, pending = live_trajectory(pool, "collapse", metric, {"to_etf": bool(to_etf)},
                                            grace=collapse_grace(pool))
            if pending is not None:
                trajectory_panel(pending, traj, JOB_WHAT)
        except Exception as err:  # noqa: BLE001 - the rest of the page stays usable
            error_box(err, "Computing the trajectory")
    if traj is not None:
        from transvis.viz.animation import dynamics_figure, trajectory_view
        from transvis.viz.still import still_frame

        s1, s2 = st.columns([4, 1], vertical_alignment="bottom")
        with s1:
            index = frame_select(traj, "w:nc_t", "t — picks the frame of the scatter, the ranking and every "
                                                 "number below", default_last=False)
        show_start = s2.toggle("Show the start", key=default("w:nc_start", True),
                               help="Keep the first frame drawn in grey behind the points, with each class "
                                    "centre's path as a dotted line.")
        view = trajectory_view(traj, model)
        title = f"{short_model_name(model)} — {view.projection} · {traj.frames[index].label}"
        # the same trajectory, model, frame and toggles: the figure of the last run (a toggle whose trajectory is
        # being computed in the background, the teaching tabs … leave it as it was)
        parts = ("nc_still", pool.key, model, metric, bool(show_start), title)
        fig = cached_figure(traj, parts + (index,), lambda: still_frame(cached_figure(traj, parts, lambda: (
            dynamics_figure(view.positions, pool.labels, pool.class_names, view.scores, view.ranks,
                            centres=view.centres, frame_names=view.frame_names, colors=model_colors(pool.models),
                            metric_label=metric_label(metric), race=view.race, show_start=bool(show_start),
                            scatter_title=title))), index))
        predicted = None if view.predicted is None else view.predicted[index]
        event = sample_scatter(fig, pool, key="nc_still", predicted=predicted)
        st.markdown(f"**What happened:** {trajectory_caption(traj, short_name(metric), model)}")
        ranking_captions(traj, view.frame_names, metric)
        picked, carried = carried_selection(st.session_state.setdefault(SELECTIONS, {}), "nc_still",
                                            (pool.key, model, metric, bool(show_start), index), traj,
                                            selected_indices(event))
        selection_table(pool, picked, key="nc_still_selected", carried_from="nc_still" if carried else None)
else:
    traj = animation_section(pool, "collapse", metric, {"to_etf": bool(to_etf)}, model, key="nc",
                             title=f"Collapsing {short_model_name(model)}", grace=collapse_grace(pool),
                             what=JOB_WHAT)
    if traj is not None:
        st.markdown("**Two controls:** the figure's own ▶ / slider animates the scatter and the ranking only; "
                    "the **t slider** below drives the table, the ETF view and the Gram matrix. Switch on *One "
                    "time control* (above) to have the t slider drive the figure too.")
        index = frame_select(traj, "w:nc_t", "t — picks the frame of the table, the ETF view and the Gram matrix",
                             default_last=False)

if traj is not None:
    colors = model_colors(pool.models)
    frame = traj.frames[index]
    frame_note(traj, index)
    at_t = pd.DataFrame({name: {m: frame.quantities.get(m, {}).get(name) for m in traj.models}
                         for name in AT_T}).astype(float)
    at_t["score"] = pd.Series(frame.scores)
    noise = getattr(traj, "noise", None)
    if noise is not None:  # the race's whiskers: the unperturbed scores' interval, carried along the frames
        at_t[f"± ({noise.resampling.level:.0%})"] = interval_half_widths(noise, traj.models)
    at_t["rank"] = pd.Series({m: frame_rank_text(frame, m) for m in traj.models})
    at_t.index = [short_model_name(m) for m in at_t.index]
    st.dataframe(at_t, width="stretch", key="nc_t_table", column_config={
        "nc1": st.column_config.NumberColumn(AT_T["nc1"], format="%.3e"),
        "etf_distance": st.column_config.NumberColumn(AT_T["etf_distance"], format="%.3e"),
        **{name: st.column_config.NumberColumn(label, format="%.4f") for name, label in AT_T.items()
           if name not in ("nc1", "etf_distance")},
        "score": st.column_config.NumberColumn(f"{metric_label(metric)} score", format="%.4f")})
    st.caption(f"Every model at {frame.label}. NC1 and the ETF distance in scientific notation: at t = 1 they are "
               "round-off (below 10⁻¹²: collapsed). Rank \"(≈)\": models the score noise cannot order.")

    # secondary views in tabs: the page stays short enough to read without rehearsed scrolling
    etf_tab, curve_tab = lazy_tabs(["The simplex ETF, made visible", "NC1 of every model across t"],
                                   "w:nc_view_tab")
    with etf_tab:
        if etf_tab.open:
            from transvis.viz.etf import etf_extent, etf_figure, etf_view, rms_norm

            q = [f.quantities.get(model, {}) for f in traj.frames]
            if all("mean_gram" in x and "class_mean_norms" in x for x in q):
                picked = st.multiselect("All classes on the Coxeter plane, or pick 3 or 4 classes: their own ETF is a "
                                        "triangle (2-D) or a tetrahedron (3-D)", list(range(len(pool.class_names))),
                                        key=default("w:nc_etf_classes", []), format_func=lambda c: pool.class_names[c],
                                        max_selections=4)
                classes = tuple(sorted(picked)) if len(picked) in (3, 4) else None
                if picked and classes is None:
                    st.caption("Pick 3 or 4 classes; all classes are shown until then.")
                scale = rms_norm(q[0]["class_mean_norms"])
                views = [etf_view(x["mean_gram"], x["class_mean_norms"], classes, scale=scale) for x in q]
                shown = views[index]
                left, right = st.columns([1, 1])
                # both figures of this frame are rebuilt only when the frame, the model or the classes change
                etf = cached_figure(traj, ("nc_etf", pool.key, model, index, classes), lambda: etf_figure(
                    shown, pool.class_names, extent=etf_extent(views), height=460,
                    title=f"{short_model_name(model)} at {frame.label}: class means vs the ideal ETF"))
                left.plotly_chart(etf, width="stretch", key="nc_etf")
                left.caption(
                    "Grey: the ideal simplex ETF's vertices; diamonds: the class means in the coordinates of their "
                    "nearest ETF (divided by their RMS norm at t = 0). The projection is the same for every frame, so "
                    "the means move on straight lines as t grows. "
                    + ("On the simplex's Coxeter plane the ideal ETF is a regular polygon (a decagon for 10 classes). "
                       if classes is None else "The picked classes' ideal ETF is a regular simplex of their own. ")
                    + f"The view keeps {shown.shown_fraction:.0%} of the means' squared length. With *move the "
                      "class means to the nearest simplex ETF* on they reach the vertices at t = 1; without it they "
                      "stay put.")
                gram = frame.quantities.get(model, {})
                gram_fig = cached_figure(traj, ("nc_t_gram", pool.key, model, index), lambda: gram_vs_etf(
                    gram["mean_gram"], gram["etf_gram"], pool.class_names, gram.get("etf_distance"),
                    title=f"{short_model_name(model)} at {frame.label}"))
                class_chart(gram_fig, pool, key="nc_t_gram", container=right)
    with curve_tab:
        if curve_tab.open:
            quantity_curves(traj, "nc1", "NC1", "NC1 of every model across t (falls as (1 − t)²)", "nc_nc1_curve",
                            colors, full_width=True)

st.subheader("Neural-collapse statistics of every model (unperturbed)")
table, models = scored_models(pool, ["nc", "face"], None, "Neural-collapse statistics")
colors = model_colors(pool.models)
nc = {m: table.results["nc"][m].trace for m in models}
face = {m: table.results["face"][m] for m in models if m in table.results["face"]}
stats = pd.DataFrame({q: {m: nc[m].get(q) for m in models} for q in QUANTITIES}).astype(float)
for q in FACE:
    stats[q] = pd.Series({m: (face[m].score if q == "face" else face[m].trace.get(q)) for m in face}, dtype=float)
every_tab, detail_tab = lazy_tabs(["Every model", "One model's class-mean geometry and FaCe per class"],
                                  "w:nc_stats_tab")
with every_tab:
    if every_tab.open:
        intervals = collapse_intervals(table.noise.get("nc"), table.noise.get("face"), models)
        level = next((n.resampling.level for n in table.noise.values() if n is not None), 0.95)
        # plotly's validation of nine panels, paid again by every control of the page: built once per pool and noise
        # (the statistics are the pool's own, without parameters; the table is a new object every run)
        known = tuple((q, tuple(sorted(v.items()))) for q, v in sorted(intervals.items()))
        bars = cached_figure(pool, ("nc_bars", pool.key, tuple(models), level, known), lambda: small_multiples_bars(
            stats, colors, titles={**QUANTITIES, **FACE}, cols=5, intervals=intervals, level=level, title_width=13))
        st.plotly_chart(bars, width="stretch", key="nc_bars")
        st.caption("Each panel has its own scale; the arrow says which way is better. "
                   + ("Whiskers: the noise of the quantities that are scores (NC1 through 1/(1 + NC1), FaCe), from "
                      "resampling the samples. The other statistics describe these samples and are not ranked. "
                      if intervals else "No whiskers yet: the scores' noise is still being estimated (above). ")
                   + "NC1 is summed over classes: the per-class shares are in the next tab.")
with detail_tab:
    if detail_tab.open:
        detail = detail_model(pool, "w:nc_detail_model", "Class-mean geometry of", nc, widths=(3, 2))
        if detail is not None:
            from transvis.viz.etf import etf_angle, nearest_class_angle

            chosen, left, right = detail
            class_chart(gram_vs_etf(nc[chosen]["mean_gram"], nc[chosen]["etf_gram"], pool.class_names,
                                    nc[chosen].get("etf_distance"), title=short_model_name(chosen)),
                        pool, key="nc_gram", container=left)
            per_class = {"NC1 share": nc[chosen]["nc1_per_class"]}
            class_chart(per_class_bars(per_class, pool.class_names, "share of NC1",
                                       colors={"NC1 share": colors[chosen]},
                                       title="Which classes are least collapsed"),
                        pool, key="nc_per_class", container=right)
            if chosen in face:
                ideal = etf_angle(len(pool.class_names))
                angles = nearest_class_angle(nc[chosen]["mean_gram"]) / ideal
                class_chart(per_class_bars({"collapse κ_c": face[chosen].trace["class_collapse"],
                                            "nearest-mean angle ÷ ETF angle": angles},
                                           pool.class_names, "per class (1 = ideal)",
                                           colors={"collapse κ_c": NEUTRAL_COLORS[0],
                                                   "nearest-mean angle ÷ ETF angle": NEUTRAL_COLORS[1]},
                                           title=f"FaCe per class — {short_model_name(chosen)}"),
                            pool, key="nc_face_classes")
                st.caption(f"κ_c: FaCe's per-class collapse ratio b_c/(b_c + w_c). The angle bar is each class "
                           f"mean's smallest angle to another class mean divided by the ETF's {ideal:.1f}°: below "
                           "1, a class crowds a neighbour. FaCe's separation term b_c is not drawn: it equals C − 1 "
                           "for every class by construction (whitened by Σ_B⁺ itself), so it carries no per-class "
                           "information.")
