"""Sample scatters whose points show the sample's thumbnail and label on hover, next to the cursor; class-level
charts (per-class bars, class × class heat maps) whose categories show a montage of the class's examples.

``st.plotly_chart`` keeps drawing the figure and returning lasso/box selections; a small script-only
``st.components.v2`` component mounted right after it (no iframe: it runs in the app page) finds the chart's
plotly graph by the chart's key, listens to ``plotly_hover`` / ``plotly_unhover`` and shows one floating card
(``data-testid="transvis-hover-card"``). The thumbnails travel once per figure, as one array of small PNG data
URLs aligned with the plotted sample indices (each point's ``customdata`` holds only its sample index).
Pools without images keep plotly's own hover label and mount nothing.
"""

from __future__ import annotations

import contextlib
import hashlib

import numpy as np
import streamlit as st

from transvis.session import Pool
from transvis.viz.animation import stratified_sample
from transvis.viz.thumbnails import (
    class_hover_payload, figure_sample_ids, hover_payload, hover_thumbnails, quiet_sample_hover)

# Runs in the app page. Streamlit calls the default export on mount and again whenever ``data`` changes
# (without a cleanup in between), so each chart's state lives in one registry and the listeners are bound
# once per plotly graph div; a timer re-binds when Streamlit replaces the div (it can mount after us).
_HOVER_JS = r"""
const REGISTRY = (window.__transvisHoverCards = window.__transvisHoverCards || new Map());
const CARD_ID = "transvis-hover-card";

function card() {
  let el = document.getElementById(CARD_ID);
  if (el) return el;
  el = document.createElement("div");
  el.id = CARD_ID;
  el.setAttribute("data-testid", CARD_ID);
  el.style.cssText = "position:fixed;z-index:1000000;pointer-events:none;display:none;max-width:260px;" +
    "background:#fff;color:#222;border:1px solid rgba(0,0,0,.2);border-radius:6px;padding:6px 8px;" +
    "box-shadow:0 2px 10px rgba(0,0,0,.25);font:12px/1.35 sans-serif;";
  document.body.append(el);
  return el;
}

// One card serves both kinds of chart: a sample (one thumbnail + caption) or classes (a montage each).
function sampleLayout(el) {
  if (el.dataset.mode !== "sample") {
    const img = document.createElement("img");
    img.alt = "sample thumbnail";
    img.style.cssText = "display:block;width:96px;height:96px;object-fit:contain;margin:0 auto 4px;";
    const caption = document.createElement("div");
    caption.setAttribute("data-testid", CARD_ID + "-label");
    el.replaceChildren(img, caption);
    el.dataset.mode = "sample";
  }
  return [el.firstChild, el.lastChild];
}

function hide() {
  const el = document.getElementById(CARD_ID);
  if (el) el.style.display = "none";
}

function frameIndex(state, gd) {
  const frames = state.data.frames;
  if (!frames) return 0;
  const slider = gd._fullLayout && gd._fullLayout.sliders && gd._fullLayout.sliders[0];
  const step = slider && slider.steps && slider.steps[slider.active];
  let i = step ? frames.indexOf(String(step.label)) : -1;
  if (i < 0 && state.lastFrame != null) i = frames.indexOf(state.lastFrame);
  return i < 0 ? 0 : i;
}

function sampleOf(point) {
  const cd = point.customdata;
  const raw = cd != null && typeof cd === "object" ? cd[0] : cd;
  const idx = Number(raw);
  return Number.isInteger(idx) ? idx : null;
}

function show(state, gd, event) {
  const d = state.data;
  if (d.kind === "class") return showClasses(state, gd, event);
  for (const point of event.points || []) {
    const idx = sampleOf(point);
    const pos = idx == null ? undefined : state.position.get(idx);
    if (pos === undefined) continue;
    const el = card();
    const [img, caption] = sampleLayout(el);
    const src = d.thumbs[pos];
    if (src) {
      img.src = src;
      img.style.display = "block";
      img.onload = () => { img.style.imageRendering = img.naturalWidth < 64 ? "pixelated" : "auto"; };
    } else {
      img.removeAttribute("src");
      img.style.display = "none";
    }
    const trueName = d.classes[d.true[pos]];
    let text = `<b>#${idx}</b> · true: <b>${escape(trueName)}</b>`;
    if (d.predicted) {
      const row = d.predicted[Math.min(frameIndex(state, gd), d.predicted.length - 1)];
      const predName = d.classes[row[pos]];
      const colour = row[pos] === d.true[pos] ? "#1a7f37" : "#cf222e";
      text += `<br>predicted: <b style="color:${colour}">${escape(predName)}</b>`;
    }
    caption.innerHTML = text;
    reveal(el, gd, event);
    return;
  }
  hide();
}

// The classes named by a hovered point: a heat-map cell's row then column, a bar's category.
function showClasses(state, gd, event) {
  const d = state.data;
  for (const point of event.points || []) {
    const found = [];
    for (const value of [point.y, point.x]) {
      const i = value == null ? -1 : d.classes.indexOf(String(value));
      if (i >= 0 && !found.includes(i)) found.push(i);
    }
    if (!found.length) continue;
    const el = card();
    el.dataset.mode = "class";
    el.replaceChildren(...found.map(i => {
      const box = document.createElement("div");
      box.style.cssText = "display:inline-block;vertical-align:top;text-align:center;margin:0 3px;";
      if (d.thumbs[i]) {
        const img = document.createElement("img");
        img.src = d.thumbs[i];
        img.alt = `examples of ${d.classes[i]}`;
        img.style.cssText = "display:block;width:112px;height:112px;image-rendering:pixelated;margin:0 auto 4px;";
        box.append(img);
      }
      const label = document.createElement("div");
      label.setAttribute("data-testid", CARD_ID + "-label");
      label.innerHTML = `<b>${escape(d.classes[i])}</b><br>${d.counts[i]} samples`;
      box.append(label);
      return box;
    }));
    reveal(el, gd, event);
    return;
  }
  hide();
}

// Shows the card at the event's cursor (the chart's centre when the event has no mouse position).
function reveal(el, gd, event) {
  el.style.display = "block";
  const mouse = event.event || {};
  const box = gd.getBoundingClientRect();
  place(mouse.clientX != null ? mouse.clientX : box.left + box.width / 2,
        mouse.clientY != null ? mouse.clientY : box.top + box.height / 2);
}

// Beside the cursor: below right for samples; above left for classes, clear of plotly's own value label
// (flipped where the window ends).
function place(x, y) {
  const el = document.getElementById(CARD_ID);
  if (!el || el.style.display === "none") return;
  const w = el.offsetWidth, h = el.offsetHeight;
  if (el.dataset.mode === "class") {
    el.style.left = `${x - 16 - w < 0 ? x + 16 : x - 16 - w}px`;
    el.style.top = `${y - 16 - h < 0 ? y + 16 : y - 16 - h}px`;
    return;
  }
  el.style.left = `${x + 16 + w > window.innerWidth ? x - 16 - w : x + 16}px`;
  el.style.top = `${y + 16 + h > window.innerHeight ? Math.max(0, y - 16 - h) : y + 16}px`;
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})[c]);
}

function bind(state) {
  const host = document.querySelector(`.st-key-${state.data.chart}`);
  const gd = host && host.querySelector(".js-plotly-plot");
  if (state.gd && !state.gd.isConnected) { state.gd = null; hide(); }
  if (!gd || typeof gd.on !== "function") return;
  const bound = gd === state.gd && (!gd._ev || gd._ev.listeners("plotly_hover").includes(state.onHover));
  if (bound) return;
  state.gd = gd;
  gd.on("plotly_hover", state.onHover);
  gd.on("plotly_unhover", hide);
  gd.on("plotly_animatingframe", e => { state.lastFrame = e && e.name; });
  gd.on("plotly_selecting", hide);
  gd.addEventListener("mouseleave", hide);
  gd.addEventListener("mousemove", onMove);  // plotly_hover fires once per point; the card follows the cursor
}

function onMove(event) {
  place(event.clientX, event.clientY);
}

function tick() {
  REGISTRY.forEach(bind);
  if (REGISTRY.size === 0 && window.__transvisHoverTimer) {
    clearInterval(window.__transvisHoverTimer);
    window.__transvisHoverTimer = null;
  }
}

export default function (component) {
  const data = component.data;
  if (!data || !data.chart) return;
  let state = REGISTRY.get(data.chart);
  if (!state) {
    state = { gd: null, lastFrame: null };
    state.onHover = event => show(state, state.gd, event);
    REGISTRY.set(data.chart, state);
  }
  state.data = data;
  state.position = new Map((data.samples || []).map((s, i) => [s, i]));
  bind(state);
  if (!window.__transvisHoverTimer) window.__transvisHoverTimer = setInterval(tick, 400);
  return () => { REGISTRY.delete(data.chart); hide(); };
}
"""

_hover_card = st.components.v2.component("transvis.hover_card", js=_HOVER_JS)


def _key_class(key: str) -> str:
    """The CSS class Streamlit gives a keyed element's container (``st-key-`` + key, odd characters → ``-``)."""
    return "".join(c if c.isalnum() or c in "_-" else "-" for c in key.strip())


MAX_HOVER_THUMBNAILS = 5000  # beyond this a stratified subset carries images (~0.5 kB each), the rest labels


@st.cache_data(max_entries=32, show_spinner=False)
def _thumbnails(pool_key: str, ids_digest: str, _image_fn, _ids: tuple[int, ...], _labels) -> list[str | None]:
    ids = np.asarray(_ids, dtype=np.int64)
    with_image = np.ones(ids.size, dtype=bool)
    if ids.size > MAX_HOVER_THUMBNAILS:
        with_image[:] = False
        with_image[stratified_sample(np.asarray(_labels)[ids], MAX_HOVER_THUMBNAILS)] = True
    thumbs = hover_thumbnails(_image_fn, ids[with_image])
    out: list[str | None] = [None] * ids.size
    for position, thumb in zip(np.flatnonzero(with_image), thumbs):
        out[position] = thumb
    return out


def sample_scatter(fig, pool: Pool, key: str, *, predicted=None, frame_names=None):
    """Place ``fig`` (a sample scatter: ``customdata[:, 0]`` = sample index) with lasso/box selection and,
    when the pool knows its images, the hover card (thumbnail, true label and ``predicted`` label: [N] or
    [F, N] per frame named ``frame_names``). Returns the chart's selection event."""
    payload = None
    if pool.image_fn is not None:
        ids = figure_sample_ids(fig)
        if ids.size:
            digest = hashlib.sha1(ids.tobytes()).hexdigest()
            thumbs = _thumbnails(pool.key, digest, pool.image_fn, tuple(int(i) for i in ids), pool.labels)
            payload = hover_payload(ids, pool.labels, pool.class_names, thumbs, predicted=predicted,
                                    frame_names=frame_names)
            quiet_sample_hover(fig)
    event = st.plotly_chart(fig, width="stretch", key=key, on_select="rerun", selection_mode=("box", "lasso"))
    if payload is not None:
        _hover_card(data={"chart": _key_class(key), **payload}, key=f"{key}_hover_card", height=0)
    return event


@st.cache_data(max_entries=16, show_spinner=False)
def _class_payload(pool_key: str, _image_fn, _labels, class_names: tuple[str, ...]) -> dict:
    return class_hover_payload(_labels, list(class_names), _image_fn)


def class_chart(fig, pool: Pool, key: str, container=None, **plotly_kwargs):
    """Place a class-level figure (bar categories, heat-map rows and columns named by class) and, when the
    pool knows its images, the hover card: a 2 × 2 montage of the hovered class's examples and its size
    (both classes of a heat-map cell). Returns what ``st.plotly_chart`` returns."""
    container = container if container is not None else st
    event = container.plotly_chart(fig, width="stretch", key=key, **plotly_kwargs)
    if pool.image_fn is not None:
        payload = _class_payload(pool.key, pool.image_fn, pool.labels, tuple(pool.class_names))
        with container if container is not st else contextlib.nullcontext():
            _hover_card(data={"chart": _key_class(key), **payload}, key=f"{key}_hover_card", height=0)
    return event


__all__ = ["class_chart", "sample_scatter"]
