"""The built-in demos the app opens on.

* :func:`load_demo` — the offline demo zoo's real features on Fashion-MNIST, prepared once by the setup
  command (``transvis demo prepare``: zoo conversion, extraction, the Leaderboard's default ranking,
  :func:`load_demo_ranking`, and the dynamics pages' default trajectories, :func:`load_demo_trajectories`)
  and read from the cache.
* :func:`synthetic_demo` — a pool of synthetic "models" over one labelled sample, with known, graded
  class separation: instant, needs no weights, and useful for teaching (the better-separated model
  should rank higher under every sensible metric).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from transvis.features.featureset import FeatureSet
from transvis.store.atomic import write_atomic


@dataclass
class Demo:
    """A ready-to-rank pool: features of several models over the same samples, plus ground truth."""

    name: str
    features: dict[str, FeatureSet]
    groundtruth: dict[str, dict[str, float]] = field(default_factory=dict)  # regime -> {model: accuracy}
    description: str = ""
    groundtruth_n: dict[str, dict[str, int]] = field(default_factory=dict)  # regime -> {model: test samples}
    feature_keys: dict[str, str] = field(default_factory=dict)  # model -> feature-store key (prepared demos)

    @property
    def labels(self) -> np.ndarray:
        return next(iter(self.features.values())).labels

    @property
    def class_names(self) -> list[str]:
        return next(iter(self.features.values())).class_names


def synthetic_demo(
    n_models: int = 5,
    n_classes: int = 6,
    n_per_class: int = 60,
    n_dims: int = 32,
    seed: int = 0,
) -> Demo:
    """A pool of ``n_models`` synthetic feature sets [N, D] over one shared label vector [N].

    Model k draws class means on a sphere of radius ``r_k`` (r grows with k) and anisotropic within-class
    noise with a power-law spectrum, then a fixed random rotation and ReLU-free affine map, so models
    differ in separation, scale and basis. Its "ground truth" accuracy is the nearest-class-mean
    accuracy on a fresh held-out draw from the same distribution, so rankings have a real target.
    """
    if n_models < 2 or n_classes < 2 or n_per_class < 2 or n_dims < 2:
        raise ValueError("synthetic_demo needs at least 2 models, 2 classes, 2 samples per class and 2 dims.")
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    labels = labels[rng.permutation(labels.size)]
    class_names = [f"class {c}" for c in range(n_classes)]
    spectrum = 1.0 / np.arange(1, n_dims + 1) ** 0.8
    features, accuracy = {}, {}
    for k in range(n_models):
        radius = 0.6 + 0.5 * k
        scale = float(10.0 ** rng.uniform(-0.5, 1.0))
        rotation = np.linalg.qr(rng.normal(size=(n_dims, n_dims)))[0]
        means = rng.normal(size=(n_classes, n_dims))
        means *= radius / np.linalg.norm(means, axis=1, keepdims=True)

        def draw(lab):
            noise = rng.normal(size=(lab.size, n_dims)) * np.sqrt(spectrum)
            return ((means[lab] + noise) @ rotation) * scale

        x = draw(labels)
        held_out = np.repeat(np.arange(n_classes), 200)
        x_test = draw(held_out)
        centres = np.stack([x[labels == c].mean(0) for c in range(n_classes)])
        pred = ((x_test[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        name = f"synthetic/model-{k}"
        features[name] = FeatureSet(
            features=x, labels=labels, class_names=class_names, model_id=name,
            dataset_id=f"synthetic-c{n_classes}-n{n_per_class}-seed{seed}",
            meta={"class_mean_radius": radius, "scale": scale},
        )
        accuracy[name] = float((pred == held_out).mean())
    return Demo(
        name="synthetic",
        features=features,
        groundtruth={"ncm_heldout": accuracy},
        description="Synthetic models with graded class separation (ground truth: held-out NCM accuracy).",
    )


# The built-in offline demo: the demo zoo on a stratified Fashion-MNIST sample, at a CPU-friendly input size.
DEMO_DATASET = "fashion-mnist"
DEMO_SPLIT = "test"  # the vendored 10,000 images, identical on every machine
# 300 per class: SFDA's and PED's shrinkage LDA needs N - C > D (1,280-2,048 here); below it the within-class
# scatter is singular, every sample is classified with certainty, and both scores tie at exactly 1.0.
DEMO_MAX_PER_CLASS = 300
# Ground truth: the linear probe is measured on the scoring sample itself; fine-tuning (CPU-hours) on a
# 100-per-class sample of the same split (both split 50/20/30 % into train/validation/test).
DEMO_FINETUNE_MAX_PER_CLASS = 100
DEMO_SEED = 0
DEMO_INPUT_SIZE = 112
DEMO_GROUNDTRUTH_CSV = Path(__file__).resolve().parents[1] / "assets" / "groundtruth" / "demo_fashion_mnist.csv"


class DemoNotPreparedError(RuntimeError):
    """The demo's features are not in the feature store yet."""


def demo_dataset(max_per_class: int = DEMO_MAX_PER_CLASS):
    """The demo's image sample: Fashion-MNIST test split, ``max_per_class`` images per class (default 300,
    the scoring sample; fine-tuning ground truth uses ``DEMO_FINETUNE_MAX_PER_CLASS``), seed 0."""
    from transvis.data import load_dataset

    return load_dataset(DEMO_DATASET, split=DEMO_SPLIT, max_per_class=max_per_class, seed=DEMO_SEED)


# Files of the prepared demo under <cache>/demo/ (the features themselves live in the feature store).
DEMO_MANIFEST_FORMAT = 1
DEMO_RANKING_FORMAT = 1  # bump when what the persisted ranking holds changes
DEMO_TRAJECTORIES_FORMAT = 1  # bump when what the persisted trajectories hold changes


def _demo_dir(cache_dir=None) -> Path:
    from transvis.store.paths import cache_dir as cache_root

    return cache_root(cache_dir) / "demo"


def demo_manifest_path(cache_dir=None) -> Path:
    """``{model: feature-store key}`` of the prepared demo, so loading it needs no model library."""
    return _demo_dir(cache_dir) / "fashion-mnist-features.json"


def demo_ranking_path(cache_dir=None) -> Path:
    """The persisted default ranking of the demo (see :func:`load_demo_ranking`)."""
    return _demo_dir(cache_dir) / "fashion-mnist-ranking.json"


def demo_trajectories_path(cache_dir=None) -> Path:
    """The persisted default trajectories of the demo's dynamics pages (see :func:`load_demo_trajectories`)."""
    return _demo_dir(cache_dir) / "fashion-mnist-trajectories.npz"


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the whole new one, never a part."""
    write_atomic(path, lambda fh: fh.write(text))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _manifest_identity(cache_dir=None) -> dict:
    """What the demo's store keys depend on besides the transvis code: the sample, the input size, the
    prepared weights (content hashes recorded at conversion) and timm (the preprocessing configs)."""
    from transvis.models import is_prepared, zoo_ids
    from transvis.models.zoo import zoo_weights_sha256

    return {
        "format": DEMO_MANIFEST_FORMAT,
        "dataset": [DEMO_DATASET, DEMO_SPLIT, DEMO_MAX_PER_CLASS, DEMO_SEED, DEMO_INPUT_SIZE],
        "timm": _package_version("timm"),
        "weights": {m: (zoo_weights_sha256(m, cache_dir) if is_prepared(m, cache_dir) else None) for m in zoo_ids()},
    }


def _feature_keys_from_manifest(cache_dir=None) -> dict[str, str] | None:
    """The demo's store keys as recorded by the last preparation, or None when anything they depend on changed."""
    manifest = _read_json(demo_manifest_path(cache_dir))
    if not isinstance(manifest, dict) or not isinstance(manifest.get("keys"), dict):
        return None
    identity = _manifest_identity(cache_dir)
    if manifest.get("identity") != identity or None in identity["weights"].values():
        return None
    keys = manifest["keys"]
    return {m: keys[m] for m in identity["weights"]} if set(keys) == set(identity["weights"]) else None


def _feature_keys_computed(cache_dir=None) -> dict[str, str]:
    """The demo's store keys from the models' preprocessing (imports timm: seconds) and the prepared weights."""
    from transvis.models import is_prepared, zoo_ids
    from transvis.pipeline import feature_key_parts
    from transvis.store import FeatureStore

    dataset = demo_dataset()
    keys = {}
    for model_id in zoo_ids():
        if not is_prepared(model_id, cache_dir):
            raise DemoNotPreparedError(
                f"the demo zoo's {model_id} is not converted yet; run `python -m transvis demo prepare` "
                "(the README's launch command does this)."
            )
        parts = feature_key_parts(model_id, dataset, input_size=DEMO_INPUT_SIZE, cache_dir=cache_dir)
        keys[model_id] = FeatureStore.key_of(parts)
    return keys


def _write_manifest(keys: Mapping[str, str], cache_dir=None) -> None:
    payload = {"identity": _manifest_identity(cache_dir), "keys": dict(keys)}
    with contextlib.suppress(OSError):  # a read-only cache only costs the fast path
        _write_atomic(demo_manifest_path(cache_dir), json.dumps(payload, indent=1, sort_keys=True))


def prepare_demo(*, progress=None, device="auto", cache_dir=None) -> list[str]:
    """Convert the demo zoo (once), extract its features on the demo sample (once), score the Leaderboard's
    default ranking of them and compute the dynamics pages' default trajectories (once; again whenever the
    features, defaults or the scoring/dynamics code change). Idempotent.

    ``progress(message)`` is called with one line per step. Returns the model ids prepared.
    """
    from transvis.models import prepare_demo_zoo, zoo_ids
    from transvis.pipeline import get_features
    from transvis.app_defaults import DYNAMICS_DEFAULTS

    say = progress or (lambda message: None)
    say("converting the offline demo zoo (once)")
    prepare_demo_zoo(cache_dir=cache_dir)
    dataset = demo_dataset()
    for model_id in zoo_ids():
        _, cached = get_features(model_id, dataset, input_size=DEMO_INPUT_SIZE, device=device,
                                 progress=False, cache_dir=cache_dir)
        say(f"{model_id}: {'cached' if cached else 'extracted'}")
    _write_manifest(_feature_keys_computed(cache_dir), cache_dir)
    demo = load_demo(cache_dir=cache_dir)
    fresh = load_demo_ranking(demo, cache_dir=cache_dir) is not None
    if fresh and load_demo_method_rankings(demo, cache_dir=cache_dir):
        say("default rankings: cached")
    else:
        start = time.perf_counter()
        key = demo_ranking_key(demo.feature_keys)  # before scoring: code edited meanwhile leaves it stale
        table = compute_demo_ranking(demo)
        save_demo_ranking(demo, table, methods=compute_method_rankings(demo, table), cache_dir=cache_dir, key=key)
        say(f"default rankings (Leaderboard and method pages): scored in {time.perf_counter() - start:.1f} s")
    if len(load_demo_trajectories(demo, cache_dir=cache_dir)) == len(DYNAMICS_DEFAULTS):
        say("default trajectories: cached")
    else:
        start = time.perf_counter()
        key = demo_trajectories_key(demo.feature_keys)  # before computing, like the ranking's
        save_demo_trajectories(demo, compute_demo_trajectories(demo), cache_dir=cache_dir, key=key)
        say(f"default trajectories (dynamics pages): computed in {time.perf_counter() - start:.1f} s")
    return zoo_ids()


def load_demo(*, cache_dir=None) -> Demo:
    """The prepared offline demo: every demo-zoo model's features on the demo sample, plus ground truth.

    Raises :class:`DemoNotPreparedError` (saying how to prepare it) when features are missing.
    """
    from transvis.store import FeatureStore

    store = FeatureStore(cache_dir)
    keys = _feature_keys_from_manifest(cache_dir)
    from_manifest = keys is not None
    if keys is None:
        keys = _feature_keys_computed(cache_dir)
    features = {}
    for model_id, key in keys.items():
        entry = store.get(key)
        if entry is None:
            raise DemoNotPreparedError(
                f"demo features for {model_id} are not prepared; run `python -m transvis demo prepare` "
                "(the README's launch command does this)."
            )
        features[model_id] = entry
    if not from_manifest:
        _write_manifest(keys, cache_dir)
    groundtruth, groundtruth_n = {}, {}
    if DEMO_GROUNDTRUTH_CSV.exists():
        from transvis.groundtruth import groundtruth_for, test_sizes_for

        for regime in ("linear_probe", "finetune"):
            try:
                values = groundtruth_for(DEMO_GROUNDTRUTH_CSV, regime=regime, dataset=DEMO_DATASET)
            except ValueError:
                continue
            if values:
                groundtruth[regime] = values
                groundtruth_n[regime] = test_sizes_for(DEMO_GROUNDTRUTH_CSV, regime=regime, dataset=DEMO_DATASET)
    return Demo(
        name="demo-zoo/fashion-mnist",
        features=features,
        groundtruth=groundtruth,
        groundtruth_n=groundtruth_n,
        description=(f"{len(features)} ImageNet models from the offline demo zoo on Fashion-MNIST "
                     f"({DEMO_MAX_PER_CLASS} test images per class, input {DEMO_INPUT_SIZE}px)."),
        feature_keys=dict(keys),
    )


# --- the persisted default ranking ---------------------------------------------------------------------
def _scoring_code_digest() -> str:
    """sha256 of the code that turns features into scores (transvis/metrics and transvis/ranking.py)."""
    import hashlib

    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted([*(package / "metrics").rglob("*.py"), package / "ranking.py", package / "ordering.py",
                        package / "uncertainty.py"]):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def demo_ranking_key(feature_keys: Mapping[str, str]) -> dict:
    """Everything the default ranking depends on: the features (store keys), the Leaderboard's default
    metrics and parameters, the scoring code and the numeric libraries. Ground truth is not part of it:
    correlations are recomputed from the current ground-truth CSV whenever the ranking is loaded."""
    from transvis.app_defaults import METHOD_DEFAULTS, default_metrics, default_params
    from transvis.uncertainty import DEFAULT_RESAMPLING

    metrics = default_metrics()
    return {
        "format": DEMO_RANKING_FORMAT,
        "features": dict(feature_keys),
        "metrics": metrics,
        "params": default_params(metrics),
        "method_params": METHOD_DEFAULTS,
        "resampling": DEFAULT_RESAMPLING.to_dict(),
        "code": _scoring_code_digest(),
        "versions": {name: _package_version(name) for name in ("numpy", "scipy", "scikit-learn")},
    }


def compute_demo_ranking(demo: Demo):
    """``rank_models`` of the demo with the Leaderboard's default metrics and parameters, with the scores'
    noise (:data:`transvis.uncertainty.DEFAULT_RESAMPLING`) so the app opens with intervals."""
    from transvis.ranking import rank_models
    from transvis.app_defaults import default_metrics, default_params
    from transvis.uncertainty import DEFAULT_RESAMPLING

    metrics = default_metrics()
    return rank_models(demo.features, metrics, params=default_params(metrics), backend="numpy",
                       resamples=DEFAULT_RESAMPLING, n_jobs=2)


def compute_method_rankings(demo: Demo, default_table=None) -> dict:
    """``{metric: RankingTable}`` of the method pages' metrics at their default parameters
    (``transvis.app_defaults.METHOD_DEFAULTS``): what those pages show before a control is moved. A metric whose
    page defaults resolve to the Leaderboard's parameters is taken from ``default_table`` (the
    :func:`compute_demo_ranking` table) instead of being scored again."""
    from transvis.ranking import rank_models
    from transvis.app_defaults import METHOD_DEFAULTS, default_params
    from transvis.uncertainty import DEFAULT_RESAMPLING

    stats: dict = {}
    out = {}
    for metric, params in METHOD_DEFAULTS.items():
        leaderboard = default_params([metric]).get(metric, {})
        if default_table is not None and metric in default_table.metrics \
                and _resolved_params(metric, params) == _resolved_params(metric, leaderboard):
            out[metric] = default_table.select([metric])
            continue
        out[metric] = rank_models(demo.features, [metric], params={metric: params}, stats_cache=stats,
                                  backend="numpy", resamples=DEFAULT_RESAMPLING, n_jobs=2)
    return out


def _resolved_params(metric: str, params: Mapping) -> dict:
    """The metric's keyword parameters with its defaults filled in (equal dicts = equal scores)."""
    import inspect

    from transvis.metrics import get_spec

    signature = inspect.signature(get_spec(metric).fn).parameters
    names = [n for n, p in signature.items() if p.kind is p.KEYWORD_ONLY and n not in ("stats", "source_probs")]
    return {n: params.get(n, signature[n].default) for n in names}


def save_demo_ranking(demo: Demo, table, *, methods: Mapping | None = None, cache_dir=None,
                      key: dict | None = None) -> Path:
    """Persist ``table`` (the demo's default ranking, with every trace) and ``methods`` (from
    :func:`compute_method_rankings`) atomically, keyed by :func:`demo_ranking_key`. Returns the file written."""
    if not demo.feature_keys:
        raise ValueError("this demo has no feature-store keys; persist the ranking of a demo from load_demo().")
    if list(table.models) != list(demo.features):
        raise ValueError(f"the ranking covers {table.models}, not the demo's models {list(demo.features)}.")
    key = key if key is not None else demo_ranking_key(demo.feature_keys)
    if table.metrics != key["metrics"]:
        raise ValueError(f"the ranking scores {table.metrics}, not the Leaderboard's defaults {key['metrics']}; "
                         "persist compute_demo_ranking(demo).")
    methods = dict(methods or {})
    unknown = sorted(set(methods) - set(key["method_params"]))
    if unknown:
        raise ValueError(f"no method-page defaults for {unknown}; persist compute_method_rankings(demo).")
    path = demo_ranking_path(cache_dir)
    payload = {"key": key, "table": table.to_dict(traces=True),
               "methods": {metric: t.to_dict(traces=True) for metric, t in methods.items()}}
    _write_atomic(path, json.dumps(payload, allow_nan=False))
    return path


def load_demo_ranking(demo: Demo, *, regime: str | None = None, cache_dir=None):
    """The persisted default ranking of ``demo`` (a :class:`~transvis.ranking.RankingTable` with every
    trace), or None when it is missing or stale (features, metrics, parameters or scoring code changed).

    Its correlations are computed here from ``demo.groundtruth[regime]`` (default: the first regime), so
    they always match the ground-truth CSV as it is now.
    """
    from transvis.session import match_groundtruth, with_groundtruth

    payload = _fresh_payload(demo, cache_dir)
    table = _table_of(payload and payload.get("table"), demo)
    if table is None:
        return None
    if regime is not None and regime not in demo.groundtruth:
        raise ValueError(f"the demo has no {regime!r} ground truth; choose one of {list(demo.groundtruth)}.")
    regime = regime or next(iter(demo.groundtruth), None)
    groundtruth = match_groundtruth(demo.groundtruth[regime], table.models) if regime else None
    return with_groundtruth(table, groundtruth, demo.groundtruth_n.get(regime) if regime else None)


def load_demo_method_rankings(demo: Demo, *, cache_dir=None) -> dict:
    """``{metric: (params, RankingTable)}`` persisted for the method pages' defaults; {} when missing or stale."""
    from transvis.app_defaults import METHOD_DEFAULTS

    payload = _fresh_payload(demo, cache_dir)
    out = {}
    for metric, data in ((payload or {}).get("methods") or {}).items():
        table = _table_of(data, demo)
        if table is not None and metric in METHOD_DEFAULTS:
            out[metric] = (METHOD_DEFAULTS[metric], table)
    return out


def _fresh_payload(demo: Demo, cache_dir=None) -> dict | None:
    """The persisted ranking file's content when its key matches this demo and code, else None."""
    payload = _read_json(demo_ranking_path(cache_dir))
    if not isinstance(payload, dict) or not demo.feature_keys:
        return None
    expected = json.loads(json.dumps(demo_ranking_key(demo.feature_keys)))
    return payload if payload.get("key") == expected else None


def _table_of(data, demo: Demo):
    from transvis.ranking import RankingTable

    try:
        table = RankingTable.from_dict(data)
    except (ValueError, KeyError, TypeError):
        return None
    return table if table.models == list(demo.features) else None


# --- the persisted default trajectories ----------------------------------------------------------------
def _dynamics_code_digest() -> str:
    """sha256 of the code that turns features into trajectories: the dynamics engine, the metrics it scores
    frames with, the projections that place the samples, and the scoring code (:func:`_scoring_code_digest`)."""
    import hashlib

    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(_scoring_code_digest().encode())
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
        "versions": {name: _package_version(name) for name in ("numpy", "scipy", "scikit-learn", "torch")},
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
    return save_trajectories(demo_trajectories_path(cache_dir), dict(trajectories), header={"key": key})


def load_demo_trajectories(demo: Demo, *, cache_dir=None) -> dict:
    """``{trajectory_request_key: function loading the Trajectory}`` persisted for ``demo``'s dynamics pages;
    {} when missing or stale (features, default requests, dynamics or scoring code changed). Only the small
    header is read here; each trajectory is read when its function is called (None if the file changed since)."""
    from transvis.dynamics import load_trajectory, read_header

    path = demo_trajectories_path(cache_dir)
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
