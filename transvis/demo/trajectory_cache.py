"""The persisted default trajectories of the prepared demo's dynamics pages, keyed by everything they depend on
(features, the pages' default requests, dynamics and scoring code, libraries); each trajectory is read lazily."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from transvis.demo import ranking_cache
from transvis.demo._files import DEFAULT_TARGET, demo_trajectories_path, package_version
from transvis.demo.synthetic import Demo

DEMO_TRAJECTORIES_FORMAT = 1  # bump when what the persisted trajectories hold changes


def _dynamics_code_digest() -> str:
    """sha256 of the code that turns features into trajectories: the dynamics engine, the metrics it scores
    frames with, the projections that place the samples, and the scoring code
    (``ranking_cache._scoring_code_digest``)."""
    import hashlib

    package = Path(__file__).resolve().parents[1]  # transvis/
    digest = hashlib.sha256(ranking_cache._scoring_code_digest().encode())
    for path in sorted([*(package / "dynamics").rglob("*.py"), *(package / "projection").rglob("*.py")]):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def demo_trajectories_key(feature_keys: Mapping[str, str]) -> dict:
    """Everything the default trajectories depend on: the features (store keys), the dynamics pages' default
    requests (``transvis.app_defaults.DYNAMICS_DEFAULTS``, defaults filled in by ``transvis.dynamics.request``),
    the dynamics and scoring code, the file format and the numeric libraries."""
    from transvis.dynamics import request
    from transvis.dynamics.persist import FORMAT
    from transvis.app_defaults import DYNAMICS_DEFAULTS

    return {
        "format": [DEMO_TRAJECTORIES_FORMAT, FORMAT],
        "features": dict(feature_keys),
        "requests": {kind: request(kind, metric, **params) for kind, (metric, params) in DYNAMICS_DEFAULTS.items()},
        "code": _dynamics_code_digest(),
        "versions": {name: package_version(name) for name in ("numpy", "scipy", "scikit-learn", "torch")},
    }


def compute_demo_trajectories(demo: Demo) -> dict:
    """``{kind: Trajectory}`` of the dynamics pages' default requests on ``demo``, as the pages compute them
    (``transvis.dynamics.run`` on the pool's feature arrays)."""
    from transvis import dynamics
    from transvis.app_defaults import DYNAMICS_DEFAULTS

    arrays = {m: fs.features for m, fs in demo.features.items()}
    cache_key = ("demo-prepare", tuple(sorted(demo.feature_keys.items())) or demo.name)  # shares model statistics
    return {kind: dynamics.run(kind, arrays, demo.labels, metric=metric, cache_key=cache_key, **params)
            for kind, (metric, params) in DYNAMICS_DEFAULTS.items()}


def save_demo_trajectories(demo: Demo, trajectories: Mapping, *, cache_dir=None, key: dict | None = None) -> Path:
    """Persist ``trajectories`` (from :func:`compute_demo_trajectories`) atomically beside the ranking, keyed
    by :func:`demo_trajectories_key`. Computes every lazy quantity first. Returns the file written."""
    from transvis.dynamics import save_trajectories

    if not demo.feature_keys:
        raise ValueError("this demo has no feature-store keys; persist the trajectories of a demo from load_demo().")
    key = key if key is not None else demo_trajectories_key(demo.feature_keys)
    unknown = sorted(set(trajectories) - set(key["requests"]))
    if unknown:
        raise ValueError(f"no dynamics-page defaults for {unknown}; persist compute_demo_trajectories(demo).")
    for kind, traj in trajectories.items():
        wanted = key["requests"][kind]
        if traj.method != wanted["method"] or traj.metric != wanted["metric"] or traj.models != list(demo.features):
            raise ValueError(f"the {kind!r} trajectory is {traj.method}/{traj.metric} of {traj.models}, not the "
                             f"default {wanted['method']}/{wanted['metric']} of the demo's models; persist "
                             "compute_demo_trajectories(demo).")
    path = demo_trajectories_path(cache_dir, demo.target or DEFAULT_TARGET)
    return save_trajectories(path, dict(trajectories), header={"key": key})


def load_demo_trajectories(demo: Demo, *, cache_dir=None) -> dict:
    """``{trajectory_request_key: function loading the Trajectory}`` persisted for ``demo``'s dynamics pages;
    {} when missing or stale (features, default requests, dynamics or scoring code changed). Only the small
    header is read here; each trajectory is read when its function is called (None if the file changed since)."""
    from transvis.dynamics import load_trajectory, read_header

    path = demo_trajectories_path(cache_dir, demo.target or DEFAULT_TARGET)
    if not demo.feature_keys:
        return {}
    expected = json.loads(json.dumps(demo_trajectories_key(demo.feature_keys)))
    header = read_header(path)
    if header is None or header.get("header", {}).get("key") != expected:
        return {}

    def loader(name):
        def load():
            now = read_header(path)  # the file may have been rewritten since: only the same key is used
            if now is None or now.get("header", {}).get("key") != expected:
                return None
            return load_trajectory(path, name)
        return load

    return {json.dumps(expected["requests"][name], sort_keys=True, allow_nan=False): loader(name)
            for name in header.get("names", []) if name in expected["requests"]}
