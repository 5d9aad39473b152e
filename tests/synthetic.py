"""Synthetic test data shared by the unit tests: Gaussian class blobs and the robustness cases (rank
deficiency, dead and constant dimensions, tiny classes, imbalance, extreme scales)."""

import numpy as np


def blobs(n, d, c, seed=0, spread=1.0):
    """features [n, d] around c random class centres (noise ``spread``) and balanced, shuffled labels [n]."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % c
    rng.shuffle(labels)
    features = rng.normal(size=(c, d))[labels] + spread * rng.normal(size=(n, d))
    return features, labels


def robustness_cases(spread=1.0, *, duplicate_rows=False):
    """{name: (features, labels)} of the awkward inputs every metric must survive (blobs of noise ``spread``);
    ``duplicate_rows`` adds an N < D case made of repeated rows."""
    rng = np.random.default_rng(3)
    out = {}
    out["n_lt_d"] = blobs(30, 90, 3, seed=1, spread=spread)
    features, labels = blobs(120, 20, 4, seed=2, spread=spread)
    out["singular"] = (features[:, :4] @ rng.normal(size=(4, 20)), labels)
    dead = features.copy()
    dead[:, 3:9] = 0.0
    out["dead_dims"] = (dead, labels)
    const = features.copy()
    const[:, 0] = 5.0
    out["constant_dim"] = (const, labels)
    out["all_constant"] = (np.full((60, 7), 2.5), np.arange(60) % 3)
    single = labels.copy()
    single[single == 3] = 2
    single[0] = 3
    out["single_sample_class"] = (features, single)
    out["two_classes"] = blobs(80, 12, 2, seed=4, spread=spread)
    imbalanced = np.minimum(rng.geometric(0.5, size=300) - 1, 5)
    imbalanced[:6] = np.arange(6)
    out["imbalanced"] = (rng.normal(size=(6, 16))[imbalanced] + rng.normal(size=(300, 16)), imbalanced)
    out["huge_scale"] = (features * 1e6, labels)
    out["tiny_scale"] = (features * 1e-6, labels)
    if duplicate_rows:
        dup, dup_labels = blobs(15, 40, 3, seed=6, spread=spread)
        out["duplicate_rows_n_lt_d"] = (np.vstack([dup, dup]), np.concatenate([dup_labels, dup_labels]))
    return out
