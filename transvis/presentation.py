"""Presentation mode's narrated step scripts, one per dynamics kind — plain data, no Streamlit.

A lecturer walks through a method one idea per screen: each :class:`Step` says what to say (``title``,
``text``), which formulas to show (LaTeX strings, rendered by ``st.latex``), which frames of the trajectory
it shows (fractions of the trajectory, resolved by :meth:`Step.frame_indices` for any frame count), which
per-frame statistics sit beside the figure (keys of ``frame.quantities[model]``), and which engine
parameters it needs on top of the kind's defaults (``transvis.app_defaults.DYNAMICS_DEFAULTS``; the ETF step of
neural collapse moves the means to the ETF). The page (``pages/_presentation.py``) reads the script and the
URL (``?present=1&step=k``, :func:`parse_query`) and draws; everything it shows for a frame is read from that
one frame.

Display helpers the method pages share with it: :func:`format_statistic` (no column of round-off digits),
:func:`frame_rank_text` (a rank with its noise tier) and :func:`collapse_intervals` (which neural-collapse
statistics have an interval, and what it is).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

FIGURES = ("animation", "etf")
COLLAPSED_BELOW = 1e-12  # a statistic this close to 0 is shown as "0 (collapsed)", not as round-off digits


@dataclass(frozen=True)
class Step:
    """One screen of a narrated sequence.

    title, text : the idea, in plain words (text is one short paragraph).
    formulas : LaTeX strings (no surrounding ``$``), shown with ``st.latex``.
    frames : (first, last) as fractions of the trajectory, 0 = its first frame, 1 = its last; the screen's
        one time control ranges over these frames (one frame: no control).
    start : where the control starts, a fraction of the trajectory within ``frames``.
    statistics : per-frame quantity keys shown for every model at the chosen frame (besides score and rank).
    params : engine parameters for this step on top of the kind's defaults (e.g. ``{"to_etf": True}``).
    figure : "animation" (the frame's scatter beside the ranking) or "etf" (also the class means against the
        ideal simplex ETF, :mod:`transvis.viz.etf`).
    """

    title: str
    text: str
    formulas: tuple[str, ...] = ()
    frames: tuple[float, float] = (0.0, 1.0)
    start: float = 0.0
    statistics: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    figure: str = "animation"

    def __post_init__(self):
        low, high = self.frames
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"step {self.title!r}: frames must satisfy 0 ≤ first ≤ last ≤ 1; got {self.frames}.")
        if not low <= self.start <= high:
            raise ValueError(f"step {self.title!r}: start {self.start} lies outside its frames {self.frames}.")
        if self.figure not in FIGURES:
            raise ValueError(f"step {self.title!r}: figure must be one of {FIGURES}; got {self.figure!r}.")

    def frame_indices(self, n_frames: int) -> list[int]:
        """The frame indices [k] this step shows in a trajectory of ``n_frames`` frames (at least one)."""
        if n_frames < 1:
            raise ValueError(f"a trajectory has at least one frame; got {n_frames}.")
        first, last = (_index(f, n_frames) for f in self.frames)
        return list(range(first, last + 1))

    def start_index(self, n_frames: int) -> int:
        """The frame the step opens on."""
        return _index(self.start, n_frames)


def _index(fraction: float, n_frames: int) -> int:
    return int(round(fraction * (n_frames - 1)))


@dataclass(frozen=True)
class Script:
    """A kind's narrated sequence: ``kind`` (a registered dynamics kind), a ``title`` and 3–5 steps."""

    kind: str
    title: str
    steps: tuple[Step, ...]

    def params(self, index: int, defaults: Mapping[str, Any]) -> dict:
        """Engine parameters of step ``index``: the kind's defaults updated by the step's own."""
        return {**dict(defaults), **dict(self.steps[index].params)}


# Labels of the per-frame statistics the scripts show (keys of frame.quantities[model]).
STATISTIC_LABELS = {
    "nc1": "NC1 ↓",
    "nc2_equinorm": "NC2 equinorm ↓",
    "nc2_equiangular": "NC2 equiangular ↓",
    "etf_distance": "distance to ETF ↓",
    "nc3": "NC3 ↓",
    "nc4_ncc_accuracy": "NC4 NCC accuracy ↑",
    "nc4_classifier_mismatch": "NC4 mismatch ↓",
    "face": "FaCe ↑",
    "nc_score": "1/(1+NC1) ↑",
    "spread_strength": "spread s",
    "attract_strength": "attract t",
    "intra_class_spread": "intra-class spread",
    "mean_centre_distance": "centre distance",
    "t": "ConfMix t",
    "shrinkage": "λ",
    "step": "steps taken",
    "potential_energy": "potential energy ↓",
    "position_change": "position change",
    "change_ratio": "change / first change",
}

_NC_DYNAMICS = r"x_i(t) = (1-t)\,x_i + t\,\mu_{y_i}"

SCRIPTS: dict[str, Script] = {
    "collapse": Script("collapse", "Neural collapse in five steps", (
        Step("NC1 — every class collapses onto its mean",
             "Slide t from 0 to 1: every sample moves straight towards its class mean. The class means stay "
             "put, the within-class spread shrinks by (1 − t)², so NC1 falls to exactly 0 at t = 1. The "
             "ranking on the right is the metric re-scored on the same frame.",
             (_NC_DYNAMICS, r"\mathrm{NC1} = \frac{1}{C}\,\operatorname{tr}\!\left(\Sigma_W \Sigma_B^{\dagger}\right)"
              r" \;\propto\; (1-t)^2"),
             frames=(0.0, 1.0), start=0.0, statistics=("nc1", "nc4_ncc_accuracy")),
        Step("NC2 — the means spread into a simplex ETF",
             "Now the class means also move to their nearest simplex ETF: equal lengths, equal and maximal "
             "angles. On the simplex's Coxeter plane (right) the ideal ETF is a regular polygon — a decagon for "
             "10 classes — and at t = 1 every mean sits on its vertex.",
             (r"\cos\angle(\tilde\mu_c, \tilde\mu_{c'}) = -\frac{1}{C-1} \;\; (c \neq c')",
              r"\|\tilde\mu_c\| = \|\tilde\mu_{c'}\|, \quad \tilde\mu_c = \mu_c - \frac{1}{C}\sum_{k}\mu_k"),
             frames=(0.0, 1.0), start=1.0, statistics=("etf_distance", "nc2_equiangular"),
             params=MappingProxyType({"to_etf": True}), figure="etf"),
        Step("NC3 — the classifier lines up with the means",
             "In a collapsed network the last layer's weight vectors point along the class means (self-duality). "
             "Frozen features have no trained head, so transvis measures NC3 with a stand-in: shrinkage-LDA "
             "weights. As the classes collapse, the stand-in aligns with the means.",
             (r"\mathrm{NC3} = \left\| \frac{W}{\|W\|_F} - \frac{\tilde M}{\|\tilde M\|_F} \right\|_F^{2}",),
             frames=(0.0, 1.0), start=0.0, statistics=("nc3",)),
        Step("NC4 — the decision is the nearest class mean",
             "Once every sample sits on its mean, classifying reduces to picking the nearest class mean: the "
             "nearest-centre accuracy reaches 1 and the classifier agrees with it.",
             (r"\hat y(x) = \arg\min_{c} \, \| x - \mu_c \|",),
             frames=(0.0, 1.0), start=1.0, statistics=("nc4_ncc_accuracy", "nc4_classifier_mismatch")),
        Step("What collapse means for transfer",
             "At t = 0 the features are the pre-trained model's own. A model whose target features are already "
             "close to collapse — compact classes, well-spread means — tends to transfer well: that is what "
             "NCTI and FaCe score. At t = 1 every model is perfectly collapsed and no score can tell them apart: "
             "the information is in how far each model is from collapse at t = 0.",
             (r"\mathrm{FaCe} = \underbrace{\frac{r}{r + C\,\mathrm{NC1}}}_{\text{variance collapse}}"
              r" \;-\; 2\,\operatorname{std}_c \kappa_c",
              r"\mathrm{NCTI} = n(S_{\mathrm{seli}}) + n(S_{\mathrm{ncc}}) - n(S_{\mathrm{vc}})"),
             frames=(0.0, 1.0), start=0.0, statistics=("nc1", "face", "nc_score")),
    )),
    "spread_attract": Script("spread_attract", "Spread & Attract in four steps", (
        Step("The unperturbed features",
             "Frame 0: each model's own features, ranked by the wrapped metric. Spread & Attract asks how much of "
             "that ranking survives when the classes are made harder to separate.",
             (r"\mathrm{FSP}(X) = m\big(\mathrm{SA}(X)\big)",),
             frames=(0.0, 0.0), start=0.0, statistics=("intra_class_spread", "mean_centre_distance")),
        Step("Spread — samples pushed away from their class centre",
             "Spread scales every sample's offset from its class centre by (1 + s); the centres never move. "
             "Classes swell and start to overlap.",
             (r"x \mapsto x + s\,(x - \mu_{y})",),
             frames=(0.0, 1.0), start=1.0, statistics=("spread_strength", "intra_class_spread"),
             params=MappingProxyType({"mode": "spread"})),
        Step("Attract — class centres pulled together",
             "Attract moves every class rigidly towards the mean of all samples: each distance between class "
             "centres shrinks by (1 − t), while the shape of each class stays the same.",
             (r"x \mapsto x + t\,(\bar x - \mu_{y})",),
             frames=(0.0, 1.0), start=1.0, statistics=("attract_strength", "mean_centre_distance"),
             params=MappingProxyType({"mode": "attract"})),
        Step("Both at once: who keeps their rank?",
             "Spread and Attract together. The wrapped metric is re-scored on the perturbed features; a model "
             "whose classes were far apart keeps its score and its rank. Overtakes are announced only beyond "
             "the scores' noise.",
             (r"x \mapsto x + s\,(x - \mu_{y}) + t\,(\bar x - \mu_{y})",),
             frames=(0.0, 1.0), start=1.0, statistics=("intra_class_spread", "mean_centre_distance"),
             params=MappingProxyType({"mode": "both"})),
    )),
    "fisher": Script("fisher", "SFDA's Fisher space in four steps", (
        Step("A regularised Fisher discriminant",
             "SFDA projects the features on the directions that best separate the classes, with the within-class "
             "covariance shrunk towards the identity by λ. The scatter shows the first two of the C − 1 "
             "discriminant directions.",
             (r"S_W^{\lambda} = (1-\lambda)\,S_W + \lambda\,\frac{\operatorname{tr} S_W}{D}\, I",
              r"\max_w \frac{w^{\top} S_B\, w}{w^{\top} S_W^{\lambda}\, w}"),
             frames=(0.0, 0.0), start=0.0, statistics=("shrinkage",)),
        Step("The score: how sure is the model of each sample's class?",
             "An LDA with that covariance gives every sample a posterior over the classes; the first pass scores "
             "the mean posterior of the true class.",
             (r"\mathrm{score} = \frac{1}{N}\sum_{i} p(y_i \mid x_i)",),
             frames=(0.0, 0.0), start=0.0, statistics=("shrinkage",)),
        Step("ConfMix — the self-challenge",
             "Every sample slides towards the mean of the other classes, the further the less sure the first pass "
             "was about it (weight 1 − p_i). Slide t from 0 to 1.",
             (r"x_i(t) = x_i + t\,\big(x_i^{\mathrm{mix}} - x_i\big)",
              r"x_i^{\mathrm{mix}} = p_i\,x_i + (1-p_i)\,\bar\mu_{-y_i}"),
             frames=(0.0, 1.0), start=0.0, statistics=("t",)),
        Step("The self-challenged score is SFDA",
             "At t = 1 the LDA is scored on the mixed features: that is the SFDA score. Models whose classes "
             "stay apart under the challenge win.",
             (r"\mathrm{SFDA} = \frac{1}{N}\sum_{i} p\big(y_i \mid x_i^{\mathrm{mix}}\big)",),
             frames=(1.0, 1.0), start=1.0, statistics=("t",)),
    )),
    "ped": Script("ped", "PED in four steps", (
        Step("Classes as charged spheres",
             "Each class is a sphere around its centre with its RMS radius. Overlapping spheres store potential "
             "energy, like compressed springs.",
             (r"F_{ij} = \max\!\big(n_\sigma (R_i + R_j) - \|\mu_i - \mu_j\|,\; 0\big)",
              r"E = \frac{k}{2} \sum_{i<j} F_{ij}^{2}"),
             frames=(0.0, 0.0), start=0.0, statistics=("potential_energy",)),
        Step("One step: overlapping classes push apart",
             "Every class moves rigidly away from the classes it overlaps, and the energy falls. Step through the "
             "frames: one PED step each.",
             (r"s_{ij} = \min\!\big(\tfrac12 \Delta t^{2} k F_{ij},\, F_{ij}\big)",
              r"\Delta_i = \sum_{j \neq i} s_{ij}\, \frac{\mu_i - \mu_j}{\|\mu_i - \mu_j\|}"),
             frames=(0.0, 1.0), start=0.0, statistics=("potential_energy", "position_change")),
        Step("When to stop: the exit ratio",
             "A step is applied only while it moves the classes by more than the exit ratio times the first step. "
             "A model that stops early barely needed to move: its classes were already apart.",
             (r"\frac{\sum |\Delta^{(k)}|}{\sum |\Delta^{(1)}|} > r_{\mathrm{exit}}",),
             frames=(0.0, 1.0), start=1.0, statistics=("step", "change_ratio")),
        Step("The score after the decline",
             "The wrapped metric scores the relaxed features: the PED score. Compare the ranking with frame 0.",
             (r"\mathrm{PED}(X) = m\big(X + \Delta_{y}\big)",),
             frames=(1.0, 1.0), start=1.0, statistics=("step", "potential_energy")),
    )),
}


def script(kind: str) -> Script:
    """The narrated sequence of a dynamics kind; a clear error naming the kinds that have one."""
    if kind not in SCRIPTS:
        raise KeyError(f"no presentation script for dynamics kind {kind!r}; scripts exist for {sorted(SCRIPTS)}.")
    return SCRIPTS[kind]


def _first(value) -> str | None:
    if isinstance(value, (list, tuple)):
        return str(value[0]) if value else None
    return None if value is None else str(value)


def parse_query(query: Mapping[str, Any], n_steps: int) -> tuple[bool, int]:
    """``(present, step index)`` from URL query parameters ``present`` ("1"/"true"/"yes"/"on") and ``step``
    (1-based, clamped to 1..n_steps; anything unreadable is step 1)."""
    present = (_first(query.get("present")) or "").strip().lower() in ("1", "true", "yes", "on")
    try:
        step = int(_first(query.get("step")) or 1)
    except ValueError:
        step = 1
    return present, min(max(step, 1), max(n_steps, 1)) - 1


def query_for(present: bool, step_index: int) -> dict[str, str]:
    """The URL query parameters of a presentation screen (inverse of :func:`parse_query`)."""
    return {"present": "1", "step": str(step_index + 1)} if present else {}


# what a statistic at its ideal 0 reads (round-off below COLLAPSED_BELOW); others read "0 (collapsed)"
ZERO_TEXT = {"etf_distance": "0 (at the ETF)", "nc2_equinorm": "0 (at the ETF)", "nc2_equiangular": "0 (at the ETF)",
             "nc4_classifier_mismatch": "0", "potential_energy": "0", "position_change": "0", "change_ratio": "0",
             "spread_strength": "0", "attract_strength": "0", "t": "0", "step": "0"}


def format_statistic(value: Any, digits: int = 4, zero_text: str = "0 (collapsed)") -> str:
    """A statistic for display: NaN/None as "–", |value| < 1e-12 as ``zero_text``, tiny or huge values in
    scientific notation, others with ``digits`` significant digits (never a column of round-off zeros)."""
    if value is None:
        return "–"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "–"
    if abs(x) < COLLAPSED_BELOW:
        return zero_text
    if abs(x) < 1e-3 or abs(x) >= 1e5:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def frame_rank_text(frame: Any, model: str) -> str:
    """A model's rank on one frame as the race draws it: "2 of 7", or "2–4 of 7 (≈)" when the frame cannot
    order it against others (its ``tiers``: the noise's groups, float ties without noise); "–" if unscored."""
    tiers = [list(t) for t in (getattr(frame, "tiers", None) or [])]
    ranked = [m for t in tiers for m in t]
    if not tiers:
        rank = (getattr(frame, "ranks", None) or {}).get(model)
        n = len(getattr(frame, "ranks", None) or {})
        return "–" if rank is None or rank != rank else f"{int(rank)} of {n}"
    if model not in ranked:
        return "–"
    position = 0
    for tier in tiers:
        if model in tier:
            if len(tier) == 1:
                return f"{position + 1} of {len(ranked)}"
            return f"{position + 1}–{position + len(tier)} of {len(ranked)} (≈)"
        position += len(tier)
    return "–"


def collapse_intervals(nc_noise: Any, face_noise: Any, models: list[str]) -> dict[str, dict[str, tuple[float, float]]]:
    """The intervals the neural-collapse statistics have, {quantity: {model: (low, high)}}: NC1's from the noise
    of the ``nc`` score s = 1/(1 + NC1) (monotone, so NC1 = 1/s − 1 maps its interval's ends, swapped; an end at
    s ≤ 0 is +inf) and FaCe's own (``face``). A quantity whose noise was not estimated is left out."""
    out: dict[str, dict[str, tuple[float, float]]] = {}

    def nc1(s: float) -> float:
        return 1.0 / s - 1.0 if s > 0 else math.inf

    if nc_noise is not None:
        bounds = {m: nc_noise.interval(m) for m in models if m in nc_noise.estimate}
        out["nc1"] = {m: (nc1(high), nc1(low)) for m, (low, high) in bounds.items()
                      if math.isfinite(low) and math.isfinite(high)}
    if face_noise is not None:
        bounds = {m: face_noise.interval(m) for m in models if m in face_noise.estimate}
        out["face"] = {m: b for m, b in bounds.items() if all(math.isfinite(x) for x in b)}
    return {q: v for q, v in out.items() if v}


def frame_statistics(frame: Any, models: list[str], statistics: tuple[str, ...], score_label: str = "score",
                     model_label=lambda m: m, score_and_rank: bool = True) -> "pd.DataFrame":
    """One frame's numbers as text, rows = ``statistics`` (labelled by :data:`STATISTIC_LABELS`) then, with
    ``score_and_rank``, the score and the rank; columns = models (``model_label``'d): all read from this frame."""
    import pandas as pd

    rows = {}
    for key in statistics:
        rows[STATISTIC_LABELS.get(key, key)] = {
            model_label(m): format_statistic((frame.quantities.get(m) or {}).get(key),
                                             zero_text=ZERO_TEXT.get(key, "0 (collapsed)")) for m in models}
    if score_and_rank:
        rows[score_label] = {model_label(m): format_statistic(frame.scores.get(m), zero_text="0") for m in models}
        rows["rank"] = {model_label(m): frame_rank_text(frame, m) for m in models}
    return pd.DataFrame(rows).T
