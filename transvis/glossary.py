"""Plain-word definitions of the jargon the method pages use, for hover help (``help=`` on widgets and metrics).

One dict, :data:`GLOSSARY` ({term: definition}); :func:`define` returns a ``help=`` string for one or more
terms (a readable error names the known terms), :func:`terms_in` finds which glossary terms a text uses (the
test that every term a page's captions use has a definition reads it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

GLOSSARY: dict[str, str] = {
    "Spread": "A stress test: every sample is pushed further from the centre of its own class, so the classes "
              "become wider and more likely to overlap. Spread 0.3 = every sample 30 % further out.",
    "Attract": "A stress test: the centres of the classes are pulled towards each other (towards the overall "
               "mean), so the classes crowd together. Attract 0.3 = every distance between class centres 30 % "
               "shorter.",
    "FSP": "Feature Space Perturbation (Khoba et al., 2025): score a model on features made harder by Spread and "
           "Attract; a model whose classes stay apart under that stress keeps its score.",
    "official variant": "The released code of Spread & Attract: a scale gate, a reduction to 64 PCA dimensions, "
                        "Spread computed but thrown away, and one small signed attract step of size α.",
    "α": "The step size of the official Attract step (0.005 in the released code). It multiplies how much each "
         "pair of class centres overlaps, so the centres move by a tiny fraction of their distance.",
    "scale gate": "The released Spread & Attract code perturbs only features whose largest variances exceed a "
                  "fixed size; features on a small scale are scored unchanged.",
    "PCA": "Principal component analysis: the few directions along which the features vary most; the 2-D "
           "pictures show the first two.",
    "class centre": "The average feature vector of one class (its mean); drawn as a diamond.",
    "ConfMix": "SFDA's self-challenge: every sample is mixed with the mean of the other classes, with the "
               "weight the model gives to confusing it, and the score is computed again. Models whose classes "
               "stay apart after the mixing win.",
    "mixing weight p": "How much of a sample ConfMix keeps (1 = unchanged); it is pulled the rest of the way, "
                       "1 − p, towards the other classes.",
    "Fisher discriminant": "The directions (also called LDA directions) that best separate the classes: far "
                           "apart class centres, narrow classes. C classes have at most C − 1 of them.",
    "discriminant directions": "The C − 1 Fisher directions along which classes separate; the 2-D picture shows "
                               "only the first two, which carry part of the separation.",
    "Fisher eigenvalue": "How much one discriminant direction separates the classes (between-class spread over "
                         "within-class spread along it); their sum is the whole separation.",
    "λ": "Shrinkage: how much the class-width estimate is blended with a plain sphere before the Fisher "
         "directions are computed (0 = plain LDA, 1 = nearest class mean). It makes the result stable when "
         "there are few samples per feature.",
    "adaptive λ": "SFDA's own choice of λ = max(exp(−5 · largest within-class eigenvalue), 1e-10): large "
                  "features give the floor 1e-10, i.e. practically no shrinkage.",
    "SFDA": "Self-challenging Fisher Discriminant Analysis (Shao et al., 2022): how confidently a Fisher "
            "classifier assigns each sample to its own class, after the ConfMix challenge. Higher = more "
            "transferable.",
    "LDA": "Linear discriminant analysis: a classifier that assumes every class is a bell-shaped cloud of the "
           "same shape; its directions are the Fisher discriminants.",
    "LogME": "Log Maximum Evidence (You et al., 2021): how well a linear model on the features can predict the "
             "labels, averaged over all possible weights (the evidence). Higher = more transferable.",
    "evidence": "The probability of the labels given the features, averaged over every linear model weighted by "
                "how plausible it is; LogME reports its logarithm per sample.",
    "PED": "Potential Energy Decline (Li et al., 2023): classes that overlap push each other apart, step by "
           "step, like charged particles; the metric is scored after the pushing stops.",
    "potential energy": "How much the classes still overlap, as the energy of compressed springs between "
                        "overlapping class pairs (0 = no pair overlaps). PED's steps lower it.",
    "exit ratio": "PED stops when a step moves the class centres less than this fraction of the first step; a "
                  "model that stops early needed little pushing.",
    "change ratio": "How far a PED step moved the class centres, relative to the first step (1 = as far).",
    "time step": "How large each PED step is: bigger steps push overlapping classes apart faster, so the "
                 "movement dies down (and PED stops) sooner.",
    "neural collapse": "What happens at the end of training: each class shrinks to a point (NC1), the class "
                       "points form a regular simplex (NC2), the classifier aligns with them (NC3) and predicts "
                       "by the nearest class mean (NC4).",
    "NC1": "Within-class variability collapse: how wide the classes are compared with the distances between "
           "them (0 = every class is a single point).",
    "NC2": "The class means form a simplex ETF: equally long and equally far apart.",
    "NC3": "The classifier's weights point in the same directions as the class means.",
    "NC4": "The classifier agrees with simply picking the nearest class mean.",
    "simplex ETF": "Simplex equiangular tight frame: C points that are all equally far from each other and from "
                   "their centre, the most spread-out arrangement possible (3 classes: an equilateral triangle).",
    "weighted τ": "Weighted Kendall τ: how well two rankings agree (1 = same order, −1 = reversed), counting "
                  "disagreements among the top models more.",
    "within noise": "Two scores closer than their sampling noise: re-drawing the samples could swap them, so "
                    "their order is not claimed.",
    "≈": "Models bracketed with ≈ are within noise of each other: the data cannot tell their order.",
    "per-sample contribution": "How much one sample adds to the score: for SFDA the probability the classifier "
                               "gives to the sample's true class.",
    "overtake": "One model's score passing another's by more than their sampling noise.",
}

_ALIASES = {
    "alpha": "α", "lambda": "λ", "shrinkage": "λ", "shrinkage λ": "λ", "lda directions": "Fisher discriminant",
    "fisher plane": "discriminant directions", "etf": "simplex ETF", "nc1–nc4": "neural collapse",
    "logme evidence": "evidence", "kendall τ": "weighted τ", "weighted tau": "weighted τ", "spread & attract": "FSP",
}


def _lookup(term: str) -> str:
    if term in GLOSSARY:
        return term
    key = term.strip().lower()
    for known in GLOSSARY:
        if known.lower() == key:
            return known
    if key in _ALIASES:
        return _ALIASES[key]
    raise KeyError(f"no glossary entry for {term!r}; add it to transvis.glossary.GLOSSARY or use one of: "
                   + ", ".join(sorted(GLOSSARY)))


def definition(term: str) -> str:
    """The plain-word definition of one term (case-insensitive; a few aliases such as "alpha", "lambda")."""
    return GLOSSARY[_lookup(term)]


def define(*terms: str) -> str:
    """A ``help=`` string (Markdown) defining each of ``terms``: "**term** — definition", one paragraph each."""
    return "\n\n".join(f"**{_lookup(t)}** — {GLOSSARY[_lookup(t)]}" for t in terms)


def terms_in(text: str, terms: Iterable[str] | None = None) -> list[str]:
    """The glossary terms (or ``terms``) that ``text`` uses, in glossary order (whole words, case-sensitive for
    symbols, case-insensitive for words)."""
    found = []
    for term in (GLOSSARY if terms is None else terms):
        pattern = re.escape(term)
        if term[:1].isalnum():
            pattern = rf"(?<![\w]){pattern}(?![\w])"
        if re.search(pattern, text, flags=re.IGNORECASE if term[:1].isalpha() else 0):
            found.append(term)
    return found
