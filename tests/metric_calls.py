"""Valid calls of any registered metric, so registry-wide tests cover metrics added later automatically.

A metric gets, besides features and labels, only what its registry entry says it needs:
``source_probs`` when ``needs_source_probs``; ``reference_features`` (a feature-like [M, D] array) when it
accepts that parameter; ``seed=0`` when it accepts a seed (stochastic metrics are compared at a fixed seed).
"""

from __future__ import annotations

import numpy as np

from transvis.metrics import compute, get_spec

N_SOURCE_CLASSES = 5


def gaussian_classes(counts, n_dims, *, seed=0, separation=2.0, scale=1.0):
    """Features [N, D] (float64) of Gaussian classes with the given per-class counts, and labels [N]."""
    rng = np.random.default_rng(seed)
    counts = list(counts)
    labels = np.repeat(np.arange(len(counts)), counts)
    means = rng.normal(size=(len(counts), n_dims)) * separation
    noise = rng.normal(size=(labels.size, n_dims)) * np.linspace(1.0, 0.3, n_dims)
    order = rng.permutation(labels.size)
    return ((means[labels] + noise) * scale)[order], labels[order]


def well_conditioned(n_per_class: int = 200, n_dims: int = 8, *, distance: float = 3.0, seed: int = 0):
    """A case every metric must score without a degenerate flag: N ≫ D (600 × 8), three unit-variance Gaussian
    classes whose means form an equilateral triangle of side ``distance`` (overlapping, but clearly apart)."""
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(3) / 3
    means = np.zeros((3, n_dims))
    means[:, 0], means[:, 1] = np.cos(angles), np.sin(angles)
    means *= distance / np.sqrt(3.0)  # side of the triangle = distance
    labels = np.repeat(np.arange(3), n_per_class)
    order = rng.permutation(labels.size)
    features = means[labels] + rng.normal(size=(labels.size, n_dims))
    return features[order], labels[order]


def extras_for(name: str, features: np.ndarray, *, seed: int = 0) -> dict:
    """Keyword arguments a valid call of metric ``name`` needs besides features and labels.

    Feature-like extras (``reference_features``) live in the same space as ``features``: tests that
    rescale the features rescale them too.
    """
    spec = get_spec(name)
    rng = np.random.default_rng(seed + 1000)
    n, d = features.shape
    extras = {}
    if spec.needs_source_probs:
        logits = rng.normal(size=(n, N_SOURCE_CLASSES)) * 2.0
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        extras["source_probs"] = probs / probs.sum(axis=1, keepdims=True)
    if "reference_features" in spec.params:
        scale = float(np.abs(features).mean()) or 1.0
        extras["reference_features"] = rng.normal(size=(max(2 * d, 40), d)) * scale + features.mean(axis=0)
    if "seed" in spec.params:
        extras["seed"] = 0
    return extras


FEATURE_LIKE_EXTRAS = ("reference_features",)
PER_SAMPLE_EXTRAS = ("source_probs",)


def call(name: str, features, labels, extras: dict, **params):
    """``compute(name, features, labels, ...)`` with the extras split into source_probs and parameters."""
    extras = dict(extras)
    source_probs = extras.pop("source_probs", None)
    return compute(name, features, labels, source_probs=source_probs, **extras, **params)


def call_direct(name: str, features, labels, extras: dict, **params):
    """The module's public function, called without ``compute`` (it must validate by itself)."""
    return get_spec(name).fn(features, labels, **extras, **params)
