"""Presentation mode of the four method pages: one narrated idea per screen, at projector size, no scrolling.

A page calls :func:`presentation_mode` right after its ``page_header``; when the mode is on (the toggle, or
the URL ``?present=1&step=k``: a lecturer can bookmark a step) it draws the screen and stops the page. The
steps come from :mod:`transvis.presentation`; there is ONE time control (the step's frame slider, or the step
itself): the scatter, the ranking and every statistic are that frame's (:func:`transvis.viz.still.still_frame`:
no second plotly play slider).
"""

from __future__ import annotations

import streamlit as st

from pages._dynamics import showcase_model, trajectory
from pages._ui import default, error_box, metric_label
from transvis.app_defaults import DYNAMICS_DEFAULTS
from transvis.presentation import frame_statistics, parse_query, query_for, script
from transvis.session import Pool
from transvis.viz import model_colors, short_model_name

SCREEN_KEY = "w:present_screen"
TOGGLE_KEY = "w:present"  # one switch for every method page: a lecturer stays in the mode across pages
SCREENS = {"720": 720, "1080": 1080}  # projector heights [px] the figures are sized for
FIGURE_HEIGHTS = {720: 590, 1080: 920}  # the main figure's height [px] on each: the screen less the navigation
MODEL_KEYS = {"collapse": "w:nc_model", "spread_attract": "w:sa_model", "fisher": "w:fs_model", "ped": "w:ped_model"}

TYPE_SIZES = {720: {"text": 1.08, "title": 1.45, "formula": 1.15}, 1080: {"text": 1.45, "title": 2.0, "formula": 1.5}}
# Large type and no wasted margins — injected only in presentation mode. The page's own title and caption
# (page_header) give way to the step's title; the sidebar gives its width to the figure.
CSS = """
<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header[data-testid="stHeader"]
  { display: none; }
[data-testid="stMainBlockContainer"], .block-container { padding-top: 0.8rem; padding-bottom: 0.5rem;
  padding-left: 1.5rem; padding-right: 1.5rem; max-width: 100%; }
[data-testid="stElementContainer"]:has(h1), [data-testid="stElementContainer"]:has(h1) +
  [data-testid="stElementContainer"] { display: none; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: {text}rem;
  line-height: 1.4; }
[data-testid="stMarkdownContainer"] h3 { font-size: {title}rem; padding: 0 0 0.2rem 0; }
.katex-display { margin: 0.2em 0; }
.katex { font-size: {formula}em; }
[data-testid="stVerticalBlock"] { gap: 0.55rem; }
</style>
"""


def _state_keys(kind: str) -> tuple[str, str]:
    return f"w:present_step_{kind}", f"present_url_read_{kind}"


def presentation_mode(pool: Pool, kind: str, metric_key: str | None = None,
                      param_keys: dict[str, str] | None = None) -> None:
    """The hook: a toggle (and the URL) switch presentation mode on; then draw the step screen and stop.

    metric_key, param_keys : the session keys of the page's own metric widget and of its engine parameters
        (``{parameter: key}``): the screens animate what the page currently shows (a step's own parameters,
        e.g. the ETF step's ``to_etf``, still win); a value not set yet (a bookmark opened in a fresh session)
        falls back to the kind's default (``DYNAMICS_DEFAULTS``)."""
    steps = script(kind).steps
    step_key, url_read = _state_keys(kind)
    if not st.session_state.get(url_read):  # the URL wins on a page's first run: bookmarks open where they say
        st.session_state[url_read] = True
        query = st.query_params.to_dict()
        present, step = parse_query(query, len(steps))
        if present:
            st.session_state[TOGGLE_KEY] = True
            st.session_state[step_key] = step
            if query.get("screen") in SCREENS:
                st.session_state[SCREEN_KEY] = query["screen"]
    default(TOGGLE_KEY, False)
    if not st.session_state[TOGGLE_KEY]:
        _toggle(st)
        for name in ("present", "step", "screen"):
            if name in st.query_params:
                del st.query_params[name]
        return
    _screen(pool, kind, *page_choices(kind, metric_key, param_keys))
    st.stop()


def page_choices(kind: str, metric_key: str | None, param_keys: dict[str, str] | None) -> tuple[str, dict]:
    """``(metric, engine parameters)``: the page's current widget values where it set them, else the kind's
    defaults; a metric the engine cannot re-score (not in ``wrappable_metrics``) is ignored."""
    from pages._dynamics import wrappable_metrics

    metric, params = DYNAMICS_DEFAULTS[kind]
    params = dict(params)
    chosen = st.session_state.get(metric_key) if metric_key else None
    if chosen in wrappable_metrics():
        metric = chosen
    for name, key in (param_keys or {}).items():
        if st.session_state.get(key) is not None:
            params[name] = st.session_state[key]
    return metric, params


def _toggle(container) -> bool:
    return container.toggle("Presentation mode", key=TOGGLE_KEY,
                            help="One idea per screen at projector size, with Previous/Next; the URL "
                                 "(?present=1&step=k) bookmarks the step. Turn off for the full page and the sidebar.")


def _go(step_key: str, delta: int, n_steps: int) -> None:
    st.session_state[step_key] = min(max(st.session_state.get(step_key, 0) + delta, 0), n_steps - 1)


def _css(height: int) -> str:
    css = CSS
    for name, size in TYPE_SIZES[height].items():
        css = css.replace("{" + name + "}", str(size))
    return css


def _screen(pool: Pool, kind: str, metric: str, defaults: dict) -> None:
    s = script(kind)
    step_key, _ = _state_keys(kind)
    index = min(max(int(st.session_state.get(step_key, 0)), 0), len(s.steps) - 1)
    st.session_state[step_key] = index
    step = s.steps[index]

    nav = st.columns([1.6, 1.0, 1.0, 0.9, 2.1, 0.8], vertical_alignment="center")  # "Presentation mode" uncut
    _toggle(nav[0])  # the same switch as on the full page, moved into the navigation row
    nav[1].button("◀ Previous", key=f"present_prev_{kind}", disabled=index == 0, width="stretch",
                  on_click=_go, args=(step_key, -1, len(s.steps)))
    nav[2].button("Next ▶", key=f"present_next_{kind}", disabled=index == len(s.steps) - 1, width="stretch",
                  on_click=_go, args=(step_key, 1, len(s.steps)), type="primary")
    nav[3].markdown(f"**step {index + 1} of {len(s.steps)}**")
    model_key = MODEL_KEYS.get(kind, f"w:{kind}_model")
    if st.session_state.get(model_key) not in pool.models:  # as the page opens: the model that makes its point
        picked = showcase_model(pool, kind)
        st.session_state[model_key] = picked if picked in pool.models else pool.models[0]
    model = nav[4].selectbox("Model", pool.models, key=model_key, format_func=short_model_name,
                             label_visibility="collapsed", help="The model shown in the scatter")
    if st.session_state.get(SCREEN_KEY) not in SCREENS:
        st.session_state[SCREEN_KEY] = "720"
    screen = nav[5].selectbox("Screen", list(SCREENS), key=SCREEN_KEY, format_func=lambda h: f"{h}p",
                              label_visibility="collapsed",
                              help="The projector's height: the figures are sized to fit it without scrolling.")
    height = SCREENS[screen]
    st.markdown(_css(height), unsafe_allow_html=True)
    st.query_params.update({**query_for(True, index), "screen": screen})

    try:
        traj = trajectory(pool, kind, metric, s.params(index, defaults))
    except Exception as err:  # noqa: BLE001 - the lecturer sees why, the controls stay usable
        error_box(err, "Computing the trajectory")
        return
    frames = step.frame_indices(len(traj.frames))
    text, figure = st.columns([1.15, 2], gap="medium")
    with text:
        st.markdown(f"### {step.title}")
        st.markdown(step.text)
        for formula in step.formulas:
            st.latex(formula)
        if len(frames) > 1:
            labels = [traj.frames[i].label for i in frames]
            slider_key = f"w:present_frame_{kind}_{index}"
            if st.session_state.get(slider_key) not in labels:
                st.session_state[slider_key] = traj.frames[step.start_index(len(traj.frames))].label
            chosen = st.select_slider(f"{traj.parameter} (drives the figure and the numbers)", labels,
                                      key=slider_key)
            frame_index = frames[labels.index(chosen)]
        else:
            frame_index = frames[0]
            st.markdown(f"Shown: **{traj.frames[frame_index].label}**")
        frame = traj.frames[frame_index]
        models = [m for m in traj.models if m in frame.scores]
        if step.statistics:  # scores and ranks are the ranking chart's, of the same frame
            table = frame_statistics(frame, models, step.statistics, model_label=short_model_name,
                                     score_and_rank=False).T
            st.dataframe(table, width="stretch", key=f"present_stats_{kind}", row_height=28)
    with figure:
        _figure(pool, traj, frame_index, model, metric, step, FIGURE_HEIGHTS[height])


def _figure(pool: Pool, traj, frame_index: int, model: str, metric: str, step, plot_height: int) -> None:
    """The chosen frame of the scatter + ranking (or the ETF view + ranking), as stills."""
    from transvis.viz.animation import dynamics_figure, trajectory_view
    from transvis.viz.still import race_still, still_frame

    view = trajectory_view(traj, model)
    colors = model_colors(pool.models)
    label = metric_label(metric)
    frame = traj.frames[frame_index]
    if step.figure == "etf":
        from transvis.viz.etf import etf_extent, etf_figure, etf_view, rms_norm

        q = [f.quantities.get(model, {}) for f in traj.frames]
        if all("mean_gram" in x for x in q):
            scale = rms_norm(q[0]["class_mean_norms"])
            views = [etf_view(x["mean_gram"], x["class_mean_norms"], scale=scale) for x in q]
            left, right = st.columns([1, 1.1])
            etf = etf_figure(views[frame_index], pool.class_names, extent=etf_extent(views),
                             title=f"{short_model_name(model)} at {frame.label}", height=plot_height)
            # the half-width column wraps the legend over four lines: room for it under the title
            etf.update_layout(margin=dict(t=140), title=dict(y=0.995, yref="container", yanchor="top"))
            left.plotly_chart(etf, width="stretch", key="present_etf")
            race = race_still(view.scores, view.ranks, view.frame_names, colors, label, view.race, frame_index,
                              height=plot_height)  # laid out for the screen: its caption stays inside
            right.plotly_chart(race, width="stretch", key="present_race")
            return
    fig = dynamics_figure(view.positions, pool.labels, pool.class_names, view.scores, view.ranks,
                          centres=view.centres, frame_names=view.frame_names, colors=colors, metric_label=label,
                          scatter_title=f"{short_model_name(model)} · {frame.label}",
                          race=view.race)
    fig = still_frame(fig, frame_index)
    fig.update_layout(height=plot_height)
    st.plotly_chart(fig, width="stretch", key="present_figure")
