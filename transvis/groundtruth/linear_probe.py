"""Linear-probe ground truth: multinomial logistic regression on frozen features.

The usual transferability protocol (Kornblith, Shlens & Le, "Do Better ImageNet Models Transfer Better?",
CVPR 2019; used by LogME, SFDA, PED): standardise features with training statistics, fit an L2-regularised
logistic regression, choose the inverse regularisation strength C on a validation split, refit on
train + validation with that C, and report accuracy on the held-out test split.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .splits import stratified_split

DEFAULT_C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0)


@dataclass
class ProbeResult:
    """Test accuracy of the linear probe with the C chosen on validation, and how it was obtained."""

    accuracy: float
    best_c: float
    val_accuracy: dict[float, float]
    n_train: int
    n_val: int
    n_test: int
    seconds: float
    protocol: dict[str, Any] = field(default_factory=dict)


def _fit_score(x_train, y_train, x_eval, y_eval, c: float, max_iter: int) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_train)
    clf = LogisticRegression(C=c, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at small C is expected and harmless here
        clf.fit(scaler.transform(x_train), y_train)
    return float(np.mean(clf.predict(scaler.transform(x_eval)) == y_eval))


def linear_probe_accuracy(x_train, y_train, x_test, y_test, c: float = 1.0, max_iter: int = 1000) -> float:
    """Accuracy on (x_test [M, D], y_test [M]) of a logistic regression fitted on (x_train [N, D], y_train [N])
    after standardising with the training mean and standard deviation."""
    x_train = np.asarray(x_train, dtype=np.float64)
    x_test = np.asarray(x_test, dtype=np.float64)
    if np.unique(y_train).size < 2:
        raise ValueError("the linear probe needs training samples from at least two classes.")
    return _fit_score(x_train, np.asarray(y_train), x_test, np.asarray(y_test), float(c), max_iter)


def linear_probe(features, labels=None, *, seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.3,
                 c_grid: Sequence[float] = DEFAULT_C_GRID, max_iter: int = 1000) -> ProbeResult:
    """Linear-probe accuracy of frozen ``features`` [N, D] (or a ``FeatureSet``) for ``labels`` [N].

    Splits the samples with :func:`stratified_split` (``seed``), picks C from ``c_grid`` by validation accuracy
    (ties -> the smaller C, i.e. stronger regularisation), refits on train + validation, returns test accuracy.
    """
    if labels is None:
        labels = features.labels
        features = features.features
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"linear_probe needs features [N, D] and labels [N]; got {x.shape} and {y.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError("features hold NaN or infinite values; re-extract them before probing.")
    if len(c_grid) == 0:
        raise ValueError("c_grid must hold at least one C value.")
    start = time.perf_counter()
    train, val, test = stratified_split(y, val_fraction if len(c_grid) > 1 else 0.0, test_fraction, seed)
    if test.size == 0:
        raise ValueError("no test samples: give test_fraction > 0 and at least two samples per class.")
    val_accuracy = {}
    if len(c_grid) > 1 and val.size:
        for c in sorted(float(c) for c in c_grid):
            val_accuracy[c] = linear_probe_accuracy(x[train], y[train], x[val], y[val], c, max_iter)
        best_c = max(val_accuracy, key=lambda c: (val_accuracy[c], -c))
    else:
        best_c = float(c_grid[0])
    fit_idx = np.sort(np.concatenate([train, val]))
    accuracy = linear_probe_accuracy(x[fit_idx], y[fit_idx], x[test], y[test], best_c, max_iter)
    protocol = {
        "method": "standardise + multinomial logistic regression (lbfgs, L2); C chosen on validation; "
                  "refit on train+val",
        "seed": int(seed), "val_fraction": val_fraction, "test_fraction": test_fraction,
        "c_grid": [float(c) for c in c_grid], "best_c": best_c, "max_iter": max_iter,
    }
    return ProbeResult(accuracy, best_c, val_accuracy, int(train.size), int(val.size), int(test.size),
                       time.perf_counter() - start, protocol)
