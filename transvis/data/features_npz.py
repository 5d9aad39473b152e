"""Precomputed features uploaded as ``.npz``: rank models whose features were extracted elsewhere.

Keys: ``features`` [N, D] (required), ``labels`` [N] (required; ints or strings), ``source_probs`` [N, Cs]
(optional softmax of the source head; ``source_logits`` is accepted and softmaxed), ``class_names`` [C]
(optional), ``model_id`` / ``dataset_id`` (optional strings). Loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from .base import contiguous_labels

if TYPE_CHECKING:
    from transvis.features.featureset import FeatureSet

KNOWN_KEYS = {"features", "labels", "source_probs", "source_logits", "class_names", "model_id", "dataset_id"}


def _string(value: np.ndarray) -> str:
    return str(np.asarray(value).reshape(-1)[0]) if np.asarray(value).size else ""


def load_feature_npz(source: str | os.PathLike | bytes | BinaryIO, model_id: str | None = None,
                     dataset_id: str | None = None) -> "FeatureSet":
    """A :class:`FeatureSet` from an ``.npz`` (path, bytes or binary file object), validated.

    Labels become contiguous 0..C-1 (string labels: sorted names; ints with ``class_names``: indices into
    them, unused classes dropped; ints without: sorted unique values). Raises ``ValueError`` naming the fix
    for a missing key, a shape mismatch, complex or non-finite values, or logits passed as probabilities.
    """
    arrays, stem, digest = _read_npz_arrays(source)
    missing = [k for k in ("features", "labels") if k not in arrays]
    if missing:
        raise ValueError(
            f"the .npz lacks {', '.join(missing)}; it needs 'features' [N, D] and 'labels' [N] "
            f"(found keys: {', '.join(sorted(arrays)) or 'none'})."
        )
    features = arrays["features"]
    _refuse_complex("features", features)
    if features.ndim != 2 or not np.issubdtype(features.dtype, np.number):
        raise ValueError(f"'features' must be a numeric [N, D] array; got {features.dtype} {features.shape}.")
    if not np.all(np.isfinite(features)):
        raise ValueError("'features' holds NaN or infinite values; re-extract or drop those rows.")
    labels, names = _npz_labels(arrays, features.shape[0])
    probs = _npz_source_probs(arrays, features.shape[0])
    from transvis.features.featureset import FeatureSet  # lazy: keeps `import transvis.data` free of torch

    ignored = sorted(set(arrays) - KNOWN_KEYS)
    model_id = model_id or (_string(arrays["model_id"]) if "model_id" in arrays else stem)
    dataset_id = dataset_id or (_string(arrays["dataset_id"]) if "dataset_id" in arrays else f"npz:{stem}:{digest}")
    meta = {"source": "npz", "sha256": digest}
    if ignored:
        meta["ignored_keys"] = ignored
    return FeatureSet(
        features=features, labels=labels, class_names=names, model_id=model_id, dataset_id=dataset_id,
        source_probs=probs, meta=meta,
    )


def _read_npz_arrays(source) -> tuple[dict[str, np.ndarray], str, str]:
    """``({key: array}, file stem, sha256 prefix)`` of an ``.npz`` path, bytes or binary file, without pickles."""
    if isinstance(source, (bytes, bytearray)):
        raw, stem = bytes(source), "upload"
    elif hasattr(source, "read"):
        raw, stem = source.read(), Path(getattr(source, "name", "upload") or "upload").stem
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise ValueError(f"features file {path} does not exist.")
        raw, stem = path.read_bytes(), path.stem
    digest = hashlib.sha256(raw).hexdigest()[:12]
    if raw[:2] != b"PK":  # otherwise numpy would take it for a pickle
        raise ValueError("cannot read the .npz: it is not a numpy .npz (zip) archive; save it with numpy.savez.")
    try:
        data = np.load(io.BytesIO(raw), allow_pickle=False)
        arrays = {key: data[key] for key in data.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ValueError(
                "the .npz holds Python objects (pickled arrays), which transvis does not load for safety; save "
                "class names as a string array, e.g. np.savez(f, class_names=np.array(names, dtype=str))."
            ) from exc
        raise ValueError(f"cannot read the .npz ({exc}); save it with numpy.savez.") from exc
    except Exception as exc:  # noqa: BLE001 - not a zip, truncated, ...
        raise ValueError(f"cannot read the .npz ({type(exc).__name__}: {exc}); save it with numpy.savez.") from exc
    return arrays, stem, digest


def _refuse_complex(key: str, array: np.ndarray) -> None:
    """Complex values would lose their imaginary part on the way to float32 (numpy only warns): refuse them."""
    if array.dtype.kind == "c":
        raise ValueError(
            f"'{key}' is complex ({array.dtype}); transvis ranks real-valued features. Save the real features "
            "you mean (e.g. np.abs(x) or np.concatenate([x.real, x.imag], axis=1))."
        )


def _npz_labels(arrays: dict[str, np.ndarray], n_rows: int) -> tuple[np.ndarray, list[str]]:
    """Contiguous labels [N] in 0..C-1 and the C class names (see :func:`load_feature_npz`)."""
    raw_labels = arrays["labels"]
    if raw_labels.ndim != 1 or raw_labels.shape[0] != n_rows:
        raise ValueError(
            f"'labels' must be [N] with one entry per feature row; got {raw_labels.shape} for {n_rows} rows."
        )
    names_in = [str(n) for n in arrays["class_names"].reshape(-1)] if "class_names" in arrays else None
    if raw_labels.dtype.kind in "US":
        if names_in is None:
            labels, names, _ = contiguous_labels(raw_labels.astype(str))
            return _at_least_two_classes(labels, names)
        index = {n: i for i, n in enumerate(names_in)}
        unknown = sorted({str(v) for v in raw_labels} - set(index))
        if unknown:
            raise ValueError(f"labels {unknown[:3]} are not among 'class_names'.")
        raw_labels = np.array([index[str(v)] for v in raw_labels], dtype=np.int64)
    elif raw_labels.dtype.kind in "iu" or (raw_labels.dtype.kind == "f" and np.all(raw_labels == np.round(raw_labels))):
        raw_labels = raw_labels.astype(np.int64)
    else:
        raise ValueError(f"'labels' must be integers or strings; got {raw_labels.dtype}.")
    labels, names, _ = contiguous_labels(raw_labels, names_in)
    return _at_least_two_classes(labels, names)


def _at_least_two_classes(labels: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    if len(names) < 2:
        raise ValueError("the features cover fewer than two classes; ranking models needs at least two.")
    return labels, names


def _npz_source_probs(arrays: dict[str, np.ndarray], n_rows: int) -> np.ndarray | None:
    """Source probabilities [N, Cs] from ``source_probs`` or softmaxed ``source_logits``; None when absent."""
    if "source_probs" in arrays and "source_logits" in arrays:
        raise ValueError("give either 'source_probs' or 'source_logits', not both.")
    if "source_probs" not in arrays and "source_logits" not in arrays:
        return None
    key = "source_probs" if "source_probs" in arrays else "source_logits"
    _refuse_complex(key, arrays[key])
    probs = np.asarray(arrays[key], dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != n_rows:
        raise ValueError(f"'{key}' must be [N, Cs] with one row per feature row; got {probs.shape}.")
    if not np.all(np.isfinite(probs)):
        raise ValueError(f"'{key}' holds NaN or infinite values.")
    if key == "source_logits":
        from scipy.special import softmax

        return softmax(probs, axis=1)
    if probs.min() < 0 or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(
            "'source_probs' rows must be probabilities (non-negative, summing to 1); if these are logits, "
            "save them as 'source_logits' instead (transvis applies the softmax)."
        )
    return probs
