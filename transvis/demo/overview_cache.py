"""The persisted UMAP overview maps of the prepared demo (the Model deep-dive's "Map: UMAP"), one per pool member,
keyed by everything they depend on (features, UMAP's parameters, the projection code, libraries), so a stale file
is never used. A UMAP fit costs ~10 s per model (and ~40 s for the first, numba compiling), which no control
may wait for; the demo's maps are therefore computed once by ``transvis demo prepare``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from transvis.demo._files import DEFAULT_TARGET, demo_overviews_path, package_version
from transvis.demo.synthetic import Demo

DEMO_OVERVIEWS_FORMAT = 1  # bump when what the persisted maps hold changes
_HEADER = "__header__"


def _projection_code_digest() -> str:
    """sha256 of the code that turns features into a UMAP map (the projection and its input checks)."""
    import hashlib

    package = Path(__file__).resolve().parents[1]  # transvis/
    digest = hashlib.sha256()
    for path in (package / "projection" / "umap_overview.py", package / "projection" / "_linear.py",
                 package / "metrics" / "_validation.py"):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def overview_params() -> dict:
    """The parameters of :class:`transvis.projection.UMAPOverview` at its defaults (what the page asks for)."""
    from transvis.projection import UMAPOverview

    umap = UMAPOverview()
    return {"n_components": umap.n_components, "n_neighbors": umap.n_neighbors, "min_dist": umap.min_dist,
            "metric": umap.metric, "random_state": umap.random_state}


def demo_overviews_key(feature_keys: Mapping[str, str]) -> dict:
    """Everything the persisted maps depend on: the features (store keys), UMAP's parameters, the projection
    code, the file format and the libraries umap-learn computes with."""
    return {
        "format": DEMO_OVERVIEWS_FORMAT,
        "features": dict(feature_keys),
        "params": overview_params(),
        "code": _projection_code_digest(),
        "versions": {name: package_version(name)
                     for name in ("numpy", "scipy", "scikit-learn", "umap-learn", "pynndescent", "numba")},
    }


def features_fingerprint(features: np.ndarray) -> str:
    """A cheap id of a features array [N, D]: its shape and ~64 of its rows. Checked on load beside the store
    keys, so an app whose features were loaded under other keys (a preparation ran since) is never shown
    another array's map."""
    import hashlib

    x = np.ascontiguousarray(features[:: max(1, features.shape[0] // 64)], dtype=np.float32)
    return hashlib.sha256(repr(tuple(features.shape)).encode() + x.tobytes()).hexdigest()[:16]


def compute_demo_overviews(demo: Demo, *, progress: Callable[[int, str], None] | None = None) -> dict:
    """``{model: positions [N, 2] float32}``: the UMAP overview map (``UMAPOverview()`` defaults, seeded) of
    every model of ``demo``, as the Model deep-dive draws it. ``progress(done, model)`` after each model."""
    from transvis.projection import UMAPOverview

    out = {}
    for i, (model, fs) in enumerate(demo.features.items()):
        out[model] = UMAPOverview(**overview_params()).fit(fs.features).embedding_.astype(np.float32)
        if progress is not None:
            progress(i + 1, model)
    return out


def save_demo_overviews(demo: Demo, overviews: Mapping[str, np.ndarray], *, cache_dir=None,
                        key: dict | None = None) -> Path:
    """Persist ``overviews`` (from :func:`compute_demo_overviews`: every model of the demo) atomically beside
    the demo's ranking, keyed by :func:`demo_overviews_key`. Returns the file written (one ``.npz``)."""
    from transvis.store.atomic import write_atomic

    if not demo.feature_keys:
        raise ValueError("this demo has no feature-store keys; persist the maps of a demo from load_demo().")
    if list(overviews) != list(demo.features):
        raise ValueError(f"the maps cover {list(overviews)}, not the demo's models {list(demo.features)}; "
                         "persist compute_demo_overviews(demo).")
    arrays = {}
    for i, (model, positions) in enumerate(overviews.items()):
        positions = np.asarray(positions)
        n = demo.features[model].n_samples
        if positions.shape != (n, 2) or positions.dtype not in (np.float32, np.float64) \
                or not np.all(np.isfinite(positions)):
            raise ValueError(f"the map of {model} must be finite float positions [{n}, 2]; got {positions.dtype} "
                             f"{positions.shape}.")
        arrays[f"m{i}"] = positions
    header = {"key": key if key is not None else demo_overviews_key(demo.feature_keys),
              "models": list(overviews),
              "fingerprints": {m: features_fingerprint(fs.features) for m, fs in demo.features.items()}}
    arrays[_HEADER] = np.frombuffer(json.dumps(header, allow_nan=False).encode(), dtype=np.uint8)
    path = demo_overviews_path(cache_dir, demo.target or DEFAULT_TARGET)
    return write_atomic(path, lambda fh: np.savez(fh, **arrays), binary=True)


def load_demo_overviews(demo: Demo, *, cache_dir=None) -> dict | None:
    """``{model: positions [N, 2]}`` persisted for ``demo``, or None when missing, unreadable or stale (other
    features, UMAP parameters, projection code or libraries) or when it maps other models than the demo's."""
    import zipfile

    if not demo.feature_keys:
        return None
    path = demo_overviews_path(cache_dir, demo.target or DEFAULT_TARGET)
    expected = json.loads(json.dumps(demo_overviews_key(demo.feature_keys)))
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(archive[_HEADER].tobytes().decode("utf-8"))
            if not isinstance(header, dict) or header.get("key") != expected \
                    or header.get("models") != list(demo.features):
                return None
            out = {model: archive[f"m{i}"] for i, model in enumerate(header["models"])}
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError):
        return None
    fingerprints = header.get("fingerprints") or {}
    for model, fs in demo.features.items():
        if out[model].shape != (fs.n_samples, 2) or fingerprints.get(model) != features_fingerprint(fs.features):
            return None
    return out


def prepared_feature_keys(target: str = DEFAULT_TARGET, *, cache_dir=None) -> dict | None:
    """``{model: store key}`` of the prepared demo on ``target`` from its manifest (no features read, ~10 ms);
    None when it is missing or stale."""
    from transvis.demo.fashion_mnist import _feature_keys_from_manifest

    return _feature_keys_from_manifest(cache_dir, target)


def load_prepared_overviews(target: str, features: Mapping, *, cache_dir=None) -> dict | None:
    """The persisted maps of the prepared demo on ``target`` for an app pool's ``features``
    (``{model: FeatureSet}``, the demo's as loaded): :func:`load_demo_overviews` under the manifest's store
    keys, or None when the demo is not prepared, the maps are stale or the models are not the demo's."""
    keys = prepared_feature_keys(target, cache_dir=cache_dir)
    if not keys or any(m not in keys for m in features):
        return None
    demo = Demo(name=f"demo-zoo/{target}", features=dict(features), feature_keys={m: keys[m] for m in features},
                target=target)
    return load_demo_overviews(demo, cache_dir=cache_dir)
