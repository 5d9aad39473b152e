"""Input checks shared by every metric: clear ``ValueError``s that name the fix, inputs never modified."""

from __future__ import annotations

import numpy as np


def as_features(features, *, name: str = "features") -> np.ndarray:
    """Return ``features`` as a read-only float64 array [N, D], raising a ``ValueError`` naming the fix.

    The result is a read-only view when the input is already float64, so no metric can mutate the
    caller's array (the official SFDA code does).
    """
    arr = np.asarray(features)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(
            f"{name} must be a numeric array [N, D]; got dtype {arr.dtype}. "
            f"Convert it with np.asarray({name}, dtype=np.float64)."
        )
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real-valued; got dtype {arr.dtype}. Pass np.real({name}) or |{name}|.")
    if arr.ndim != 2:
        hint = f"{name}.reshape(len({name}), -1)" if arr.ndim > 2 else f"{name}.reshape(-1, 1)"
        raise ValueError(f"{name} must be 2-D [N, D]; got shape {arr.shape}. Use {hint}.")
    if arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ValueError(f"{name} needs at least 2 samples and 1 dimension; got shape {arr.shape}.")
    x64 = np.asarray(arr, dtype=np.float64)
    if x64 is arr:
        x64 = arr.view()
    x64.flags.writeable = False
    # One reduction instead of an N×D boolean array: any NaN/inf makes the sum NaN/inf. A non-finite sum of
    # finite values (overflow, only near 1e308) falls through to the elementwise check, which then passes.
    with np.errstate(over="ignore", invalid="ignore"):
        total = x64.sum()
    if not np.isfinite(total):
        finite = np.isfinite(x64)
        if not finite.all():
            bad_rows = np.flatnonzero(~finite.all(axis=1))
            raise ValueError(
                f"{name} contain {int((~finite).sum())} NaN/inf values in {bad_rows.size} rows "
                f"(first rows: {bad_rows[:5].tolist()}). Drop those rows (and their labels) or re-extract the "
                "features."
            )
    return x64


def as_labels(labels, n_samples: int | None = None) -> np.ndarray:
    """Return integer labels [N] in 0..C-1 (every class present, C >= 2) as a read-only int64 array."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        if arr.ndim == 2 and 1 in arr.shape:
            raise ValueError(f"labels must be 1-D [N]; got shape {arr.shape}. Use labels.ravel().")
        raise ValueError(
            f"labels must be 1-D integer class indices [N]; got shape {arr.shape}. "
            "For one-hot labels use labels.argmax(axis=1)."
        )
    if not np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        raise ValueError(
            f"labels must be integers 0..C-1; got dtype {arr.dtype}. "
            "Map them with np.unique(labels, return_inverse=True)[1]."
        )
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(
            f"labels has {arr.shape[0]} entries but features has {n_samples} rows; "
            "pass exactly one label per feature row."
        )
    if arr.size and arr.min() < 0:
        raise ValueError(
            f"labels must be 0..C-1; found negative label {int(arr.min())}. "
            "Map them with np.unique(labels, return_inverse=True)[1]."
        )
    present = np.unique(arr)
    if present.size < 2:
        raise ValueError(
            f"labels contain a single class ({present.tolist()}); transferability needs at least 2 classes."
        )
    if present[-1] != present.size - 1:
        missing = sorted(set(range(int(present[-1]) + 1)) - set(present.tolist()))
        raise ValueError(
            f"labels must be contiguous 0..C-1; classes {missing[:10]} are missing. "
            "Map them with np.unique(labels, return_inverse=True)[1]."
        )
    out = arr.astype(np.int64, copy=True)
    out.flags.writeable = False
    return out


def as_source_probs(source_probs, n_samples: int, *, name: str = "source_probs") -> np.ndarray:
    """Return source-model softmax probabilities [N, Cs] as read-only float64.

    Rows must be non-negative and sum to 1 (within float32 rounding); logits are refused with the fix.
    """
    if source_probs is None:
        raise ValueError(
            f"this metric needs {name}: the source model's softmax over its own classes, shape [N, Cs]. "
            "Extract features from a model with a classification head, or pick a source-free metric."
        )
    probs = as_features(source_probs, name=name)
    if probs.shape[0] != n_samples:
        raise ValueError(f"{name} has {probs.shape[0]} rows but features has {n_samples}; pass one row per sample.")
    row_sums = probs.sum(axis=1)
    if probs.min() < 0 or np.abs(row_sums - 1.0).max() > 1e-3:
        raise ValueError(
            f"{name} rows must be probabilities (non-negative, summing to 1); these look like logits. "
            "Pass scipy.special.softmax(logits, axis=1)."
        )
    return probs


# -- feature scale -------------------------------------------------------------------------------------------
# Features whose largest magnitude lies outside [2**-64, 2**64] are divided by a power of two before any metric
# squares them (``ClassStats.rescaled``): Gram products, Ledoit-Wolf's fourth powers and softmax logits then
# neither overflow (NaN, "Internal Error" from LAPACK) nor underflow. Every real feature extractor lies well
# inside this range, so the results on normal data are untouched (bit for bit: no rescaling happens there).
SAFE_MAGNITUDE = (2.0**-64, 2.0**64)


def magnitude(features: np.ndarray) -> float:
    """Largest absolute entry of a finite array (two reductions, no |x| temporary)."""
    if features.size == 0:
        return 0.0
    return float(max(features.max(), -features.min()))


def extreme_scale(largest: float) -> float:
    """The power of two ``s`` to divide features by when their largest magnitude ``largest`` is outside
    :data:`SAFE_MAGNITUDE` (then ``|x / s| < 1`` with its largest entry ≥ 1/2), else 1.0.

    A power of two, so the division is exact: the rescaled features are the caller's up to a constant factor.
    """
    low, high = SAFE_MAGNITUDE
    if largest == 0.0 or low <= largest <= high:
        return 1.0
    return float(np.ldexp(1.0, int(np.frexp(largest)[1])))


def describe_scale(scale: float) -> str:
    """``~1e160`` for a positive scale factor."""
    if not scale > 0:
        return "0"
    return f"~1e{int(np.round(np.log10(scale)))}"


def scale_error(metric: str, unit_scale: float, why: str) -> ValueError:
    """The ``ValueError`` a scale-dependent metric raises on features it cannot score at their scale."""
    return ValueError(
        f"features are scaled by {describe_scale(unit_scale)} (largest |x| outside "
        f"[2^-64, 2^64]); {metric} {why}, so it cannot give a meaningful score at this scale. "
        "Standardise the features first (e.g. (x - x.mean(0)) / x.std()), then score them."
    )
