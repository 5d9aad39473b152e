"""Plain-language sentences generated from a trajectory's numbers: what the animation just showed, in words.

Every sentence here is computed from the numbers it describes (UI-free, unit-tested): a page shows
:func:`trajectory_caption` under its animation ("Spread pushed every sample 30 % further from its class
centre; LogME fell for every model (by 0.12–0.31); the order held except that b passed a, within
noise."). Order changes are told only as far as the trajectory's noise supports them: an overtake is one the
frames announced beyond noise (``Frame.overtakes``, net over the trajectory), every other change of the
displayed order between the first and last frame is "within noise" (or a float tie where no noise was
estimated).

The trajectory is read duck-typed (``transvis.dynamics.Trajectory``: ``method``, ``params``, ``models``,
``frames`` with ``scores`` / ``overtakes`` / ``quantities``, ``info``, ``noise``, ``higher_is_better``), so
tests can pass small hand-made stand-ins.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
import numpy as np

from transvis.ordering import display_order, tolerance

__all__ = [
    "discriminant_share",
    "fisher_directions_caption",
    "fisher_lambda_caption",
    "movement_sentence",
    "official_geometry_note",
    "order_sentence",
    "ped_badges",
    "ped_stop_steps",
    "ped_stops_sentence",
    "score_sentence",
    "trajectory_caption",
    "view_movement",
]

MAX_LISTED = 3  # pairs named in one sentence before "and k more"


def _short(model: str) -> str:
    """The app's name of a model ("offline/efficientnet_lite0" → "efficientnet_lite0", a twin "<arch> · random
    init", a tap "<name> · tap i": :func:`transvis.models.naming.display_model_name`), as in the race beside it."""
    from transvis.models.naming import display_model_name

    return display_model_name(str(model))


def _pct(ratio: float) -> str:
    """A ratio as a whole percentage ("30 %"); below 1 % with one significant digit ("0.4 %")."""
    value = 100.0 * abs(ratio)
    return f"{value:.0f} %" if value >= 1 or value == 0 else f"{value:.1g} %"


def _number(value: float) -> str:
    return f"{value:.3g}"


def _listed(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= MAX_LISTED:
        return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1] if items else ""
    return ", ".join(items[:MAX_LISTED]) + f" and {len(items) - MAX_LISTED} more"


def _finite(value) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


# -- the order ---------------------------------------------------------------------------------------------
def net_overtakes(traj) -> list[tuple[str, str]]:
    """``[(winner, loser)]``: pairs whose order the trajectory reversed beyond noise, net over all frames (an
    overtake undone later does not count), in the order the reversals first happened."""
    first_winner: dict[frozenset, str] = {}
    current: dict[frozenset, str] = {}
    order: list[frozenset] = []
    for frame in traj.frames:
        for o in getattr(frame, "overtakes", None) or []:
            pair = frozenset((o.model, o.passed))
            if pair not in first_winner:
                first_winner[pair] = o.passed  # the loser of the first announced overtake was ahead before
                order.append(pair)
            current[pair] = o.model
    return [(current[p], next(iter(p - {current[p]}))) for p in order if current[p] != first_winner[p]]


def order_sentence(traj) -> str:
    """How the ranking moved from the first to the last frame, as far as the noise supports it.

    "the order held", "the order held except that b passed a, within noise", or "a overtook b beyond
    noise" (net overtakes, :func:`net_overtakes`), plus the within-noise swaps of the displayed order."""
    higher = bool(getattr(traj, "higher_is_better", True))
    noise = getattr(traj, "noise", None)
    first, last = traj.frames[0].scores, traj.frames[-1].scores
    before = {m: i for i, m in enumerate(display_order(first, higher_is_better=higher))}
    after = {m: i for i, m in enumerate(display_order(last, higher_is_better=higher))}
    beyond = net_overtakes(traj)
    decided = {frozenset(p) for p in beyond}
    swapped = [(a, b) for a in after for b in after
               if a in before and b in before and before[a] > before[b] and after[a] < after[b]
               and frozenset((a, b)) not in decided]
    how = "within noise" if noise is not None else "between float-tied scores"
    passed_within: dict[str, list[str]] = {}
    for a, b in swapped:
        passed_within.setdefault(a, []).append(_short(b))
    within = [f"{_short(a)} passed {_listed(losers)}" for a, losers in passed_within.items()]
    within_text = f"{_listed(within)}, {how}"
    if not beyond:
        return "the order held" + (f" except that {within_text}" if within else "")
    suffix = " beyond noise" if noise is not None else " (noise not estimated)"
    passed: dict[str, list[str]] = {}
    for a, b in beyond:
        passed.setdefault(a, []).append(_short(b))
    told = [f"{_short(a)} overtook {_listed(sorted(losers))}" for a, losers in passed.items()]
    text = "; ".join(told[:MAX_LISTED])
    if len(told) > MAX_LISTED:
        text += f"; {len(told) - MAX_LISTED} more model(s) moved up"
    text += suffix
    if within:
        text += f"; {within_text}"
    return text


# -- the scores --------------------------------------------------------------------------------------------
def score_sentence(traj, metric_label: str) -> str:
    """How the metric moved from the first to the last frame: "LogME fell for every model (by 0.12–0.31)",
    "rose for 3 of 7 models and fell for 4", "stayed the same for every model"."""
    first, last = traj.frames[0].scores, traj.frames[-1].scores
    models = [m for m in traj.models if _finite(first.get(m)) and _finite(last.get(m))]
    if not models:
        return f"{metric_label} could not be computed on the first and last frames"
    change = {m: float(last[m]) - float(first[m]) for m in models}
    tol = tolerance([*(float(first[m]) for m in models), *(float(last[m]) for m in models)])
    rose = [m for m in models if change[m] > tol]
    fell = [m for m in models if change[m] < -tol]
    n = len(models)

    def span(group):
        values = sorted(abs(change[m]) for m in group)
        low, high = _number(values[0]), _number(values[-1])
        return f"by {low}" if low == high else f"by {low}–{high}"

    if len(fell) == n:
        return f"{metric_label} fell for every model ({span(fell)})"
    if len(rose) == n:
        return f"{metric_label} rose for every model ({span(rose)})"
    if not fell and not rose:
        return f"{metric_label} stayed the same for every model"
    parts = []
    if fell:
        parts.append(f"fell for {len(fell)} of {n} models ({span(fell)})")
    if rose:
        parts.append(f"rose for {len(rose)}" + (f" of {n} models" if not fell else "") + f" ({span(rose)})")
    same = n - len(fell) - len(rose)
    if same:
        parts.append(f"stayed the same for {same}")
    return f"{metric_label} " + " and ".join(parts)


# -- what moved --------------------------------------------------------------------------------------------
def _quantity(traj, model: str, frame: int, name: str):
    try:
        return traj.frames[frame].quantities[model].get(name)
    except (KeyError, AttributeError, IndexError):
        return None


def _ratio(traj, model: str, name: str, first: int = 0, last: int = -1) -> float | None:
    a, b = _quantity(traj, model, first, name), _quantity(traj, model, last, name)
    if not (_finite(a) and _finite(b)) or float(a) == 0.0:
        return None
    return float(b) / float(a)


def _spread_attract_sentence(traj, model: str) -> str:
    params = getattr(traj, "params", {}) or {}
    if params.get("variant") == "official":
        return _official_sentence(traj, model)
    parts = []
    spread = _ratio(traj, model, "intra_class_spread")
    distance = _ratio(traj, model, "mean_centre_distance")
    if spread is not None and abs(spread - 1.0) > 1e-9:
        parts.append(f"Spread pushed every sample {_pct(spread - 1.0)} further from its class centre")
    if distance is not None and abs(distance - 1.0) > 1e-9:
        parts.append(f"Attract pulled the class centres {_pct(1.0 - distance)} closer together")
    return " and ".join(parts) if parts else "nothing moved (both strengths are 0)"


def official_geometry_note(traj) -> str | None:
    """Why the official variant's before/after geometry bars look identical while the score changes: which share
    of the score change is the PCA-64 reduction (frame 1) and which the one attract step (frames 2…), and how far
    that step moved the class centres. None unless ``traj`` is the official Spread & Attract trajectory."""
    params = getattr(traj, "params", {}) or {}
    if getattr(traj, "method", None) != "spread_attract" or params.get("variant") != "official":
        return None
    if len(traj.frames) < 3:
        return None
    fired = [m for m in traj.models if (traj.info.get(m) or {}).get("gate_fired")]
    if not fired:
        return ("The released code's scale gate fired for no model, so nothing is perturbed: the features are "
                "scored as they are, and every bar is unchanged.")
    raw, pca, last = (traj.frames[i].scores for i in (0, 1, -1))
    by_pca = [float(pca[m]) - float(raw[m]) for m in fired if _finite(pca.get(m)) and _finite(raw.get(m))]
    by_step = [float(last[m]) - float(pca[m]) for m in fired if _finite(last.get(m)) and _finite(pca.get(m))]
    moved = [abs(r - 1.0) for m in fired
             if (r := _ratio(traj, m, "mean_centre_distance", 1, -1)) is not None]
    alpha = _quantity(traj, fired[0], -1, "alpha")
    text = ("Official variant: Spread is computed and discarded by the released code, so the spread bars cannot "
            "change; the one attract step")
    if _finite(alpha):
        text += f" (α = {float(alpha):.3g}, the step size)"
    if moved:
        text += f" changed the mean distance between class centres by at most {_pct(max(moved))}"
    text += ". "
    if by_pca and by_step:
        text += (f"The score change comes from reducing the features to {params.get('pca_dims', 64)} PCA "
                 f"dimensions first ({_signed_span(by_pca)}), not from the step ({_signed_span(by_step)}).")
    return text


def _signed_span(values: Sequence[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:+.3g}" if f"{low:+.3g}" == f"{high:+.3g}" else f"{low:+.3g} to {high:+.3g}"


def _official_sentence(traj, model: str) -> str:
    fired = [m for m in traj.models if (traj.info.get(m) or {}).get("gate_fired")]
    if not fired:
        return "the released code's scale gate fired for no model, so the features stayed as they are"
    stage = _quantity(traj, fired[0], -1, "stage")
    dims = (traj.params or {}).get("pca_dims", 64)
    if stage == "spread":
        moved = _ratio(traj, fired[0], "intra_class_spread", 1, -1)
        text = (f"the features were reduced to {dims} PCA dimensions, then the (discarded) Spread step pushed "
                "samples away from their class centres")
        if moved is not None:
            text += f" ({_pct(moved - 1.0)} further)"
        return text
    moved = _ratio(traj, fired[0], "mean_centre_distance", 1, -1)
    text = f"the features were reduced to {dims} PCA dimensions, then one attract step moved the class centres"
    if moved is not None:
        text += f" ({'apart' if moved >= 1 else 'together'} by {_pct(moved - 1.0)} of their mean distance)"
    if len(fired) < len(traj.models):
        text += f"; the scale gate did not fire for {len(traj.models) - len(fired)} model(s), which stay unperturbed"
    return text


def _fisher_sentence(traj, model: str) -> str:
    params = getattr(traj, "params", {}) or {}
    if params.get("sweep") == "shrinkage":
        values = [float(f.value) for f in traj.frames]
        return (f"the shrinkage λ swept from {min(values):.0e} (almost plain LDA) to {max(values):.3g} "
                "(nearest class mean), redrawing each model's Fisher plane")
    pulls = []
    for m in traj.models:
        weights = (traj.info.get(m) or {}).get("mixing_weights")
        if weights is not None:
            pulls.append(1.0 - np.asarray(weights, dtype=float))
    if not pulls:
        return "ConfMix slid every sample towards the other classes"
    share = float(np.mean(np.concatenate(pulls)))
    return f"ConfMix slid each sample on average {_pct(share)} of the way towards the other classes' mean"


def ped_stop_steps(traj) -> dict[str, int]:
    """{model: PED steps applied} — a model stops at the first step whose position change falls below
    ``exit_ratio`` × the first step's (``info[model]["num_steps"]``)."""
    return {m: int((traj.info.get(m) or {}).get("num_steps", len(traj.frames) - 1)) for m in traj.models}


def ped_stops_sentence(traj) -> str:
    """Which models stopped before ``max_steps`` (PED's own signal), e.g. "a and b stopped after 4 steps; c ran
    all 6 steps"; when none did, the smallest change ratio reached, so the exit ratio can be set above it."""
    params = getattr(traj, "params", {}) or {}
    max_steps = int(params.get("max_steps", len(traj.frames) - 1))
    stops = ped_stop_steps(traj)
    early: dict[int, list[str]] = {}
    for m, k in stops.items():
        if k < max_steps:
            early.setdefault(k, []).append(_short(m))
    full = [_short(m) for m, k in stops.items() if k >= max_steps]
    if not early:
        ratios = [float(r) for m in traj.models for r in (traj.info.get(m) or {}).get("change_ratios", [])
                  if _finite(r)]
        low = f" (change ratios fell only to {min(ratios):.2f})" if ratios else ""
        exit_ratio = params.get("exit_ratio")
        which = f"the exit ratio {float(exit_ratio):g}" if _finite(exit_ratio) else "the exit ratio"
        return f"no model reached {which}{low}: every model ran all {max_steps} steps"
    parts = [f"{_listed(names)} stopped after {k} step{'s' if k != 1 else ''}" for k, names in sorted(early.items())]
    if full:
        parts.append(f"{_listed(full)} ran all {max_steps} steps")
    return "; ".join(parts)


def ped_badges(traj) -> list[dict[str, str]] | None:
    """Per frame, ``{model: "■ stopped at step k"}`` for the models that have stopped by that frame (PED's own
    signal, written after the model's label in the race); None for trajectories of another kind."""
    if getattr(traj, "method", None) != "ped":
        return None
    params = getattr(traj, "params", {}) or {}
    max_steps = int(params.get("max_steps", len(traj.frames) - 1))
    stops = ped_stop_steps(traj)
    return [{m: f"■ stopped at step {k}" for m, k in stops.items() if k < max_steps and i >= k}
            for i in range(len(traj.frames))]


def _ped_sentence(traj, model: str) -> str:
    drops = []
    for m in traj.models:
        ratio = _ratio(traj, m, "potential_energy")
        if ratio is not None:
            drops.append(1.0 - ratio)
    text = "PED pushed overlapping classes apart"
    if drops:
        low, high = _pct(min(drops)), _pct(max(drops))
        text += f" (potential energy down {low if low == high else f'{low}–{high}'})"
    return text + "; " + ped_stops_sentence(traj)


def _collapse_sentence(traj, model: str) -> str:
    to_etf = bool((getattr(traj, "params", {}) or {}).get("to_etf"))
    text = "every sample slid onto its class mean"
    if to_etf:
        text += " while the class means moved to a simplex ETF (a regular simplex)"
    a, b = _quantity(traj, model, 0, "nc1"), _quantity(traj, model, -1, "nc1")
    if _finite(a) and _finite(b):
        text += f"; for {_short(model)}, within-class spread (NC1) fell from {float(a):.3g} to {float(b):.2g}"
    return text


_MOVES = {"spread_attract": _spread_attract_sentence, "fisher": _fisher_sentence, "ped": _ped_sentence,
          "collapse": _collapse_sentence}


def movement_sentence(traj, model: str | None = None) -> str:
    """What the trajectory moved, in words, from its own quantities (kind-specific; ``model``: whose quantities
    to quote where models differ, default the first)."""
    model = model if model in getattr(traj, "models", []) else traj.models[0]
    describe = _MOVES.get(getattr(traj, "method", None))
    if describe is None:
        return f"the features moved over {len(traj.frames)} frames"
    return describe(traj, model)


def trajectory_caption(traj, metric_label: str, model: str | None = None) -> str:
    """One line for under the animation: what moved; how the metric changed; how the order changed (only
    as far as the noise supports). E.g. "Spread pushed every sample 30 % further from its class centre and
    Attract pulled the class centres 30 % closer together; LogME fell for every model (by 0.1–0.3); the order
    held except that b passed a, within noise."."""
    parts = [movement_sentence(traj, model), score_sentence(traj, metric_label), order_sentence(traj)]
    text = "; ".join(p for p in parts if p)
    return text[:1].upper() + text[1:] + "."


# -- the view ----------------------------------------------------------------------------------------------
def view_movement(positions) -> dict[str, float]:
    """How far the drawn points move from the first to the last frame of ``positions`` [F, N, 2]:
    ``mean`` and ``p90`` displacement (drawing units), ``share`` = mean / the view's width (the larger side
    of the bounding box over all frames), ``last_extent`` = the last frame's bounding-box size / the view's
    (small: the last frame is a dot at the fixed axes)."""
    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 3 or pos.shape[-1] != 2 or pos.shape[0] < 1:
        raise ValueError(f"positions must be [frames, samples, 2]; got shape {pos.shape}.")
    moved = np.linalg.norm(pos[-1] - pos[0], axis=1)
    moved = moved[np.isfinite(moved)]
    everything = pos.reshape(-1, 2)
    everything = everything[np.isfinite(everything).all(axis=1)]
    width = float(np.ptp(everything, axis=0).max()) if everything.size else 0.0
    last = pos[-1][np.isfinite(pos[-1]).all(axis=1)]
    last_width = float(np.ptp(last, axis=0).max()) if last.size else 0.0
    mean = float(moved.mean()) if moved.size else 0.0
    return {"mean": mean, "p90": float(np.percentile(moved, 90)) if moved.size else 0.0,
            "share": mean / width if width > 0 else 0.0, "last_extent": last_width / width if width > 0 else 1.0}


# -- Fisher space ------------------------------------------------------------------------------------------
LAMBDA_FLOOR = 1e-10  # SFDA's adaptive λ = max(exp(−5·λ_max(S_W)), 1e-10)


def fisher_lambda_caption(lambdas: Mapping[str, float], adaptive: bool) -> str:
    """What the shrinkage λ of each model says, true to the numbers ({model: λ}): one value for all models
    ("regularised identically", and at SFDA's floor "effectively plain LDA"), or the range and who sits at
    each end ("regularised differently")."""
    values = {m: float(v) for m, v in lambdas.items() if _finite(v)}
    if not values:
        return "No model has a shrinkage λ to show."
    low_model = min(values, key=values.get)
    high_model = max(values, key=values.get)
    low, high = values[low_model], values[high_model]
    n = len(values)
    what = "SFDA's adaptive λ = max(exp(−5·λ_max(S_W)), 1e-10)" if adaptive else "the fixed λ"
    if high - low <= 1e-6 * max(abs(high), 1e-300):
        text = f"{what} is {low:.3g} for all {n} models: they are regularised identically"
        if adaptive and low <= LAMBDA_FLOOR * (1 + 1e-6):
            text += (" — at the 1e-10 floor, because every model's largest within-class eigenvalue λ_max is large "
                     "enough that exp(−5·λ_max) underflows it, so the Fisher space is effectively plain LDA")
        return text + "."
    return (f"{what} ranges from {low:.3g} ({_short(low_model)}) to {high:.3g} ({_short(high_model)}): the models "
            "are regularised differently (larger λ: closer to nearest class mean).")


def discriminant_share(eigenvalues, n_classes: int, n_drawn: int = 2) -> float:
    """Share of the between-class separation that the first ``n_drawn`` Fisher directions carry: the sum of the
    largest ``n_drawn`` generalised eigenvalues over the sum of the largest C − 1 (the only non-zero ones)."""
    values = np.sort(np.asarray(eigenvalues, dtype=float).ravel())[::-1]
    values = np.clip(values[np.isfinite(values)], 0.0, None)[: max(int(n_classes) - 1, 1)]
    total = float(values.sum())
    return float(values[:n_drawn].sum() / total) if total > 0 else float("nan")


def fisher_directions_caption(eigenvalues, n_classes: int, model: str, n_drawn: int = 2) -> str:
    """"The plane draws 2 of the C − 1 = 9 discriminant directions of <model>, carrying 41 % of the
    between-class separation …" from the model's generalised eigenvalues [D]."""
    total = max(int(n_classes) - 1, 1)
    share = discriminant_share(eigenvalues, n_classes, n_drawn)
    text = (f"The plane draws {min(n_drawn, total)} of the C − 1 = {total} discriminant directions of "
            f"{_short(model)}")
    if math.isfinite(share):
        text += f", which carry {_pct(share)} of its between-class separation (sum of the Fisher eigenvalues)"
    if share < 0.999:
        text += ("; classes that overlap here can be apart along the directions not drawn, which SFDA's score "
                 "uses all of")
    return text + "."

