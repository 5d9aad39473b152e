"""Layout blocks the method pages (Spread & Attract, Fisher space, PED, Neural collapse) share.

Each block places widgets and figures only; the numbers come from ``pages._ui.ranking`` (cached per metric and
parameters) and the figures from ``transvis.viz``. Widget and chart keys are passed in, so every page keeps
its own keys.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from pages._dynamics import metric_ranking, model_select
from pages._ui import error_box, metric_label, noise_panels, ranking
from transvis.ordering import tolerant_ranks
from transvis.session import Pool
from transvis.viz.leaderboard import rank_bump_chart
from transvis.viz.methods import before_after_bars


def scored_models(pool: Pool, metrics: list[str], params: dict | None, what: str):
    """``(table, models)``: the pool ranked by ``metrics`` (each with its ``params``; cached) and the models the
    first metric scored, in pool order. Stops the page with a readable reason when nothing could be scored.

    A control answers at once: a metric whose noise is not known yet is shown with its point estimates while
    the noise is estimated in the background (``pages._ui.noise_panels``: progress, Cancel; the page reruns
    with the intervals when they are done)."""
    try:
        table = ranking(pool, metrics, params, background_noise=True)
    except Exception as err:  # noqa: BLE001 - shown to the user; the page above stays usable
        error_box(err, what)
        st.stop()
    noise_panels(pool)
    for metric in metrics:
        noise_caption(table, metric)
    results = table.results[metrics[0]]
    models = [m for m in pool.models if m in results]
    if not models:
        st.error(f"{what} could not score any model: " + "; ".join(r for _, _, r in table.failed[:3]))
        st.stop()
    return table, models


def noise_caption(table, metric: str) -> None:
    """What the noise says about ``metric``'s ranking, when it was estimated: the tiers of models it cannot
    order (shown on one line; nothing when there is no noise, e.g. pending: ``noise_panels`` says so)."""
    from transvis.viz import short_model_name

    noise = table.noise.get(metric)
    if noise is None:
        return
    tiers = [" ≈ ".join(short_model_name(m) for m in tier) for tier in table.noise_groups(metric)]
    if all(len(t) == 1 for t in table.noise_groups(metric)):
        verdict = "every model is ahead of the next beyond noise"
    elif len(tiers) == 1:
        verdict = "no model is ahead of another beyond noise"
    else:
        verdict = "models within noise of each other (≈) are not ordered"
    st.caption(f"Score noise of {metric_label(metric)}: {noise.resampling.level:.0%} intervals from "
               f"{noise.source_text()}; {verdict}. Best first: " + "; ".join(tiers)
               + ".")


def method_scored(pool: Pool, metric: str, params: dict, what: str):
    """``(table, models, traces)`` of one method metric with its parameters; ``traces`` is {model: trace}."""
    table, models = scored_models(pool, [metric], {metric: params} if params else None, what)
    return table, models, {m: table.results[metric][m].trace for m in models}


def interval_half_widths(noise, models) -> pd.Series | None:
    """Half-widths of ``noise``'s intervals by model (t × standard error: the same around any score), for the
    models it knows; None without noise."""
    if noise is None:
        return None
    return pd.Series({m: noise.interval(m, 0.0)[1] for m in models if m in noise.estimate}, dtype=float)


def unperturbed_ranking(pool: Pool, metric: str, before: pd.Series):
    """The ranking of the pool's own features by ``metric`` (its cached ranking at the default variant, the
    race's, with its noise when known) when ``before`` holds those very scores (rtol 1e-7), else None: a method
    that scored its wrapped metric otherwise (other parameters, a PCA space) borrows no interval or tier."""
    table = metric_ranking(pool, metric)
    if table is None or metric not in table.scores:
        return None
    same = np.isclose(table.scores[metric].reindex(before.index).to_numpy(dtype=float),
                      before.to_numpy(dtype=float), rtol=1e-7, atol=0.0)
    return table if bool(same.all()) else None


def unperturbed_noise(pool: Pool, metric: str, before: pd.Series):
    """The ``ScoreNoise`` of :func:`unperturbed_ranking`, or None."""
    table = unperturbed_ranking(pool, metric, before)
    return None if table is None else table.noise.get(metric)


def before_after_ranking(before: pd.Series, after: pd.Series, label: str, colors: dict, names: tuple[str, str],
                         title: str, rank_title: str, keys: tuple[str, str], noise=None,
                         before_noise=None) -> pd.DataFrame:
    """Two columns: the score of every model before and after the method (bars), and how the ranking moved
    (bump chart). With ``noise`` (the ``after`` scores' :class:`~transvis.uncertainty.ScoreNoise`) and
    ``before_noise`` (the ``before`` scores', :func:`unperturbed_noise`) the bars carry their intervals and the
    bump chart shades the models they cannot order. Returns the ranks ``[models × names]`` (1 = best)."""
    left, right = st.columns(2)
    level = next((n.resampling.level for n in (noise, before_noise) if n is not None), 0.95)
    left.plotly_chart(before_after_bars(before, after, label, colors, names, title=title, level=level,
                                        after_error=interval_half_widths(noise, after.index),
                                        before_error=interval_half_widths(before_noise, before.index)),
                      width="stretch", key=keys[0])
    # float-tolerant ranks: models whose scores differ only by rounding share a rank (transvis.ordering)
    ranks = pd.DataFrame({names[0]: pd.Series(tolerant_ranks(before.astype(float).to_dict(), nan_rank="nan")),
                          names[1]: pd.Series(tolerant_ranks(after.astype(float).to_dict(), nan_rank="nan"))})
    tiers = {name: n.noise_groups() for name, n in zip(names, (before_noise, noise)) if n is not None}
    right.plotly_chart(rank_bump_chart(ranks, colors=colors, title=rank_title, tiers=tiers or None),
                       width="stretch", key=keys[1])
    if tiers:
        which = " and ".join(tiers)
        right.caption(f"Grey band: models whose {which} scores lie within noise of each other (the bars' "
                      "whiskers), so their order there is not supported by the data; rings: equal scores."
                      + ("" if len(tiers) == 2 else f" The {(set(names) - set(tiers)).pop()} scores have no "
                         "interval here: their noise is not known (yet) for these scores."))
    return ranks


def trace_before_after(traces: dict, quantity: str, label: str, colors: dict, key: str, container=st) -> None:
    """Bars of ``trace["<quantity>_before"]`` against ``trace["<quantity>_after"]`` for every model."""
    before = pd.Series({m: trace[f"{quantity}_before"] for m, trace in traces.items()})
    after = pd.Series({m: trace[f"{quantity}_after"] for m, trace in traces.items()})
    container.plotly_chart(before_after_bars(before, after, label, colors), width="stretch", key=key)


def detail_model(pool: Pool, key: str, label: str, available, widths=(1, 1)):
    """A model picker for a per-model detail row: ``(model, left, right)`` columns, or None when the chosen
    model has no result to show."""
    chosen = model_select(pool, key, label)
    if chosen not in available:
        return None
    left, right = st.columns(list(widths))
    return chosen, left, right
