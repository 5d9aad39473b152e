"""Neural collapse: NC1–NC4, FaCe, and the class-mean geometry against the ideal simplex ETF."""

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
from pages._method_page import detail_model, scored_models
from pages._scatter import class_chart
from pages._ui import default, page_header
from transvis.app_defaults import DYNAMICS_DEFAULTS
from transvis.viz import NEUTRAL_COLORS, model_colors, short_model_name
from transvis.viz.methods import gram_vs_etf, per_class_bars, small_multiples_bars

QUANTITIES = {
    "nc1": "NC1 within/between variability ↓",
    "nc2_equinorm": "NC2 equinorm (CV of mean norms) ↓",
    "nc2_equiangular": "NC2 equiangularity ↓",
    "etf_distance": "distance to simplex ETF ↓",
    "nc3": "NC3 self-duality ↓",
    "nc4_ncc_accuracy": "NC4 nearest-centre accuracy ↑",
}
FACE = {"face": "FaCe score ↑", "variance_collapse": "FaCe variance collapse ↑", "fairness": "FaCe fairness ↑"}
TEACHING = {
    "NC1 — variability collapse": "Samples of a class shrink onto their class mean: the within-class spread "
    "becomes tiny compared with the spread between class means (tr(Σ_W Σ_B⁺)/C → 0).",
    "NC2 — simplex ETF": "The centred class means get equal lengths and equal, maximal angles "
    "(cos = −1/(C−1)): they form a simplex equiangular tight frame, the most separated arrangement possible.",
    "NC3 — self-duality": "The classifier's weights line up with the class means.",
    "NC4 — nearest class centre": "The network's decision becomes 'pick the nearest class mean'.",
    "FaCe — fair collapse": "A model transfers well when its features are already collapsed for the new classes "
    "(variance-collapse term) and that collapse is fair across classes rather than concentrated on a few easy "
    "ones (fairness term). transvis's FaCe is a documented reconstruction from neural-collapse statistics.",
}

DEFAULTS = DYNAMICS_DEFAULTS["collapse"]  # the demo's trajectory at these settings is precomputed

pool = page_header(
    ":material/compress: Neural collapse",
    "At the end of training, features of a good network collapse onto their class means, and the means "
    "spread out into a perfectly symmetric simplex. The closer a pre-trained model already is to this on the "
    "target data, the better it tends to transfer (NCTI, FaCe).",
)
teaching = st.toggle("Teaching mode (short explanations)", key=default("w:nc_teaching", True))
if teaching:
    cols = st.columns(len(TEACHING))
    for col, (head, text) in zip(cols, TEACHING.items()):
        col.markdown(f"**{head}**")
        col.caption(text)

st.subheader("The animation: every sample moves towards its class mean (t from 0 to 1)")
c1, c2 = st.columns(2)
metric = metric_select("Metric re-scored at every frame", "w:nc_metric", preferred=DEFAULTS[0], container=c1)
model = model_select(pool, "w:nc_model", container=c2)
if teaching:
    st.caption("Watch NC1 fall to zero as t → 1, the Gram matrix approach the ETF (if the means were already "
               "spread out), and the metrics respond: a perfectly collapsed model is trivially separable.")
to_etf = st.toggle("Also move the class means to the nearest simplex ETF",
                   key=default("w:nc_to_etf", DEFAULTS[1]["to_etf"]),
                   help="Without it only NC1 falls; with it NC2 (the Gram matrix) reaches the ETF too.")
traj = animation_section(pool, "collapse", metric, {"to_etf": bool(to_etf)}, model, key="nc",
                         title=f"Collapsing {short_model_name(model)}")
if traj is not None:
    colors = model_colors(pool.models)
    st.markdown("**Collapse-interpolation slider** — pick t and read every statistic there.")
    index = frame_select(traj, "w:nc_t", "t", default_last=False)
    frame = traj.frames[index]
    frame_note(traj, index)
    left, right = st.columns([2, 3])
    with left:
        quantity_curves(traj, "nc1", "NC1", "NC1 falls as t → 1", "nc_nc1_curve", colors)
    q = frame.quantities.get(model, {})
    if "mean_gram" in q:
        right.plotly_chart(gram_vs_etf(q["mean_gram"], q["etf_gram"], pool.class_names, q.get("etf_distance"),
                                       title=f"{short_model_name(model)} at {frame.label}"),
                           width="stretch", key="nc_t_gram")
    at_t = pd.DataFrame({name: {m: frame.quantities.get(m, {}).get(name) for m in traj.models}
                         for name in ("nc1", "nc2_equiangular", "etf_distance", "nc4_ncc_accuracy", "face")}
                        ).astype(float)
    at_t["score"] = pd.Series(frame.scores)
    noise = getattr(traj, "noise", None)
    if noise is not None:  # the race's whiskers: the unperturbed scores' interval, carried along the frames
        at_t[f"± ({noise.resampling.level:.0%})"] = pd.Series(
            {m: noise.interval(m, 0.0)[1] if m in noise.estimate else float("nan") for m in traj.models})
    at_t["rank"] = pd.Series(frame.ranks)
    at_t.index = [short_model_name(m) for m in at_t.index]
    st.dataframe(at_t, width="stretch", key="nc_t_table")

st.subheader("Neural-collapse statistics of every model (unperturbed)")
table, models = scored_models(pool, ["nc", "face"], None, "Neural-collapse statistics")
colors = model_colors(pool.models)
nc = {m: table.results["nc"][m].trace for m in models}
face = {m: table.results["face"][m] for m in models if m in table.results["face"]}
stats = pd.DataFrame({q: {m: nc[m].get(q) for m in models} for q in QUANTITIES}).astype(float)
for q in FACE:
    stats[q] = pd.Series({m: (face[m].score if q == "face" else face[m].trace.get(q)) for m in face}, dtype=float)
st.plotly_chart(small_multiples_bars(stats, colors, titles={**QUANTITIES, **FACE}), width="stretch",
                key="nc_bars")
detail = detail_model(pool, "w:nc_detail_model", "Class-mean geometry of", nc, widths=(3, 2))
if detail is not None:
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
        class_chart(per_class_bars({"collapse": face[chosen].trace["class_collapse"],
                                    "separation": face[chosen].trace["class_separation"]},
                                   pool.class_names, "per-class term",
                                   colors={"collapse": NEUTRAL_COLORS[0], "separation": NEUTRAL_COLORS[1]},
                                   title=f"FaCe per class — {short_model_name(chosen)}"),
                    pool, key="nc_face_classes")
