"""Shared Streamlit pieces of the four dynamics pages: controls, the animation + live ranking, selection.

The animation comes from the dynamics engine (``transvis.dynamics.run``); where the engine is not installed
the pages still show each method's own quantities (from the metric traces) and say what is missing.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages._ui import default, error_box, metric_label, ranking
from transvis.metrics import available, get_spec
from transvis.session import Pool, params_key, precomputed_trajectory, selected_indices
from transvis.viz import model_colors, short_model_name

COLOR_BY = ["true label", "predicted label", "per-sample contribution"]


def wrappable_metrics() -> list[str]:
    """Metrics a wrapper (FSP, PED, dynamics) can re-score: feature-only, not wrappers themselves."""
    out = []
    for name in available():
        spec = get_spec(name)
        if not spec.wraps_metric and not spec.needs_source_probs and spec.pool_combine is None:
            out.append(name)
    return out


def metric_select(label: str, key: str, preferred: str = "logme", container=st) -> str:
    options = wrappable_metrics()
    if st.session_state.get(key) not in options:
        st.session_state[key] = preferred if preferred in options else options[0]
    return container.selectbox(label, options, key=key, format_func=metric_label)


def model_select(pool: Pool, key: str, label: str = "Model shown in the scatter", container=st) -> str:
    if st.session_state.get(key) not in pool.models:
        st.session_state[key] = pool.models[0]
    return container.selectbox(label, pool.models, key=key, format_func=short_model_name)


def method_results(pool: Pool, metric: str, params: dict):
    """``rank_models`` of one metric with its parameters (scores, ranks and every model's trace), cached."""
    return ranking(pool, [metric], {metric: params} if params else None)


# --- the dynamics engine ------------------------------------------------------------------------------
def engine():
    """``transvis.dynamics`` or None when it is not available in this version."""
    try:
        import transvis.dynamics as dynamics
    except ImportError:
        return None
    return dynamics if hasattr(dynamics, "run") else None


@st.cache_resource(max_entries=16, show_spinner="Computing the trajectory for every model…")
def _trajectory(pool_key: str, kind: str, metric: str, params_json: str, _pool: Pool, _params: dict):
    dynamics = engine()
    # cache_key lets the engine reuse each model's prepared statistics across methods and parameters
    return dynamics.run(kind, _pool.feature_arrays(), _pool.labels, metric=metric, cache_key=pool_key, **_params)


def trajectory(pool: Pool, kind: str, metric: str, params: dict):
    """The pool's persisted trajectory for this request (the demo's defaults) or the cached computation."""
    persisted = precomputed_trajectory(pool, kind, metric, params)
    if persisted is not None:
        return persisted
    return _trajectory(pool.key, kind, metric, params_key(params), pool, params)


def animation_section(pool: Pool, kind: str, metric: str, params: dict, model: str, key: str,
                      title: str, slider_prefix: str = ""):
    """The animated scatter of ``model`` beside the live ranking, plus the table of lasso-selected samples.

    Returns the trajectory (for the page's own per-frame figures), or None when it could not be computed.
    """
    from transvis.viz.animation import dynamics_figure, trajectory_view

    if engine() is None:
        st.info(
            "**The animation needs the dynamics engine** (`transvis.dynamics.run`), which is not available in "
            "this version yet. The method's own quantities below are computed directly from the metric.",
            icon=":material/hourglass_empty:",
        )
        return None
    if not pool.shared_samples:
        st.warning("The models of this pool were not extracted on the same samples, so their trajectories "
                   "cannot be compared frame by frame. Build a pool on one dataset (Setup).")
        return None
    try:
        traj = trajectory(pool, kind, metric, params)
        view = trajectory_view(traj, model)
    except Exception as err:  # noqa: BLE001 - the rest of the page stays usable
        error_box(err, "Computing the trajectory")
        return None
    color_by = st.radio("Colour samples by", COLOR_BY, key=default(f"w:{key}_color", COLOR_BY[0]), horizontal=True)
    color, color_label = None, ""
    if color_by == "predicted label" and view.predicted is not None:
        color = view.predicted
    elif color_by == "per-sample contribution" and view.contribution is not None:
        color, color_label = view.contribution, "contribution"
    elif color_by != "true label":
        st.caption(f"This trajectory has no {color_by}; colouring by true label.")
    fig = dynamics_figure(
        view.positions, pool.labels, pool.class_names, view.scores, view.ranks, centres=view.centres,
        frame_names=view.frame_names, color=color, color_label=color_label, colors=model_colors(pool.models),
        metric_label=metric_label(metric), scatter_title=f"{short_model_name(model)} — {view.projection}",
        title=title, slider_prefix=slider_prefix,
    )
    from pages._scatter import sample_scatter  # hover thumbnails; lasso/box selection as before

    event = sample_scatter(fig, pool, key=f"{key}_anim", predicted=view.predicted, frame_names=view.frame_names)
    overtakes = [(i, o) for i, o in getattr(traj, "all_overtakes", lambda: [])()]
    if overtakes:
        st.caption("Overtakes: " + "; ".join(
            f"{view.frame_names[i]}: {short_model_name(o.model)} passes {short_model_name(o.passed)}"
            for i, o in overtakes[:8]) + (f" (+{len(overtakes) - 8} more)" if len(overtakes) > 8 else ""))
    if getattr(traj, "errors", None):
        st.warning("The metric failed on some frames (score NaN there): " + "; ".join(
            f"{short_model_name(m)} frame {i}: {e}" for m, i, e in traj.errors[:3]))
    selection_table(pool, selected_indices(event), key=f"{key}_selected")
    return traj


def frame_select(traj, key: str, label: str, default_last: bool = True) -> int:
    """A select-slider over the trajectory's frame labels (keyed, persistent); returns the frame index."""
    labels = [f.label for f in traj.frames]
    if st.session_state.get(key) not in labels:
        st.session_state[key] = labels[-1] if default_last else labels[0]
    chosen = st.select_slider(label, labels, key=key)
    return labels.index(chosen)


def quantity_curves(traj, name: str, y_title: str, title: str, key: str, colors: dict) -> None:
    """One method quantity of every model across the frames, as curves over the control parameter."""
    from transvis.viz.methods import curves

    try:
        series = {m: [float(v) for v in traj.quantity(name, m)] for m in traj.models}
    except (ValueError, KeyError, TypeError):
        return
    x = [float(f.value) for f in traj.frames]  # the control parameter itself, for a readable numeric axis
    if len(set(x)) != len(x):
        x = [f.label for f in traj.frames]
    st.plotly_chart(curves(x, series, traj.parameter, y_title, colors, title=title), width="stretch", key=key)


def selection_table(pool: Pool, indices: list[int], key: str, columns: dict | None = None,
                    heading: str = "selected sample(s)") -> None:
    """Samples (in the given order) with thumbnails when the pool knows its images, extra per-sample
    ``columns`` ({name: array [N]}), and how the classes are represented among them."""
    from transvis.viz.thumbnails import sample_table

    if not indices:
        st.caption("Box- or lasso-select samples on the scatter to list them here.")
        return
    table = sample_table(pool.labels, pool.class_names, indices, image_fn=pool.image_fn, columns=columns)
    st.markdown(f"**{len(table)} {heading}**")
    left, right = st.columns([2, 1])
    left.dataframe(table, hide_index=True, width="stretch", key=key,
                   column_config={"thumbnail": st.column_config.ImageColumn("image", width="small")})
    counts = table["class"].value_counts().rename("selected").to_frame()
    counts["of all"] = pd.Series(pool.labels).map(dict(enumerate(pool.class_names))).value_counts()
    counts["share"] = counts["selected"] / counts["of all"]
    right.dataframe(counts, width="stretch", key=f"{key}_classes",
                    column_config={"share": st.column_config.ProgressColumn(format="percent", min_value=0,
                                                                            max_value=1)})
