"""Deterministic stratified train / validation / test splits for measuring ground-truth accuracy."""

from __future__ import annotations

import numpy as np


def stratified_split(labels, val_fraction: float = 0.2, test_fraction: float = 0.3,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split sample indices class by class into (train, val, test), each int64 ascending.

    labels : int [N]. Every class of n samples sends round(n * test_fraction) to test and
    round(n * val_fraction) to validation, at least one each when the class has enough samples (2 for test,
    3 for validation) and always keeping one for training; a one-sample class goes to training only. Each
    class is shuffled by its own generator seeded by ``(seed, class)``, so the split is reproducible.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"val_fraction ({val_fraction}) and test_fraction ({test_fraction}) must be in [0, 1) and sum below 1."
        )
    labels = np.asarray(labels)
    train, val, test = [], [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[np.random.default_rng([int(seed), int(c)]).permutation(idx.size)]
        n = idx.size
        n_test = int(round(n * test_fraction))
        if test_fraction > 0 and n >= 2:
            n_test = max(n_test, 1)
        n_test = min(n_test, n - 1)
        n_val = int(round(n * val_fraction))
        if val_fraction > 0 and n - n_test >= 2:
            n_val = max(n_val, 1)
        n_val = max(min(n_val, n - n_test - 1), 0)
        test.append(idx[:n_test])
        val.append(idx[n_test:n_test + n_val])
        train.append(idx[n_test + n_val:])
    return tuple(np.sort(np.concatenate(part)).astype(np.int64) for part in (train, val, test))
