"""The prepared offline demo: the demo zoo's real features on a stratified Fashion-MNIST sample.

Prepared once by the setup command (:func:`prepare_demo`, ``transvis demo prepare``: zoo conversion,
extraction, the default rankings and trajectories) and read from the cache by :func:`load_demo`. The
manifest (``{model: feature-store key}``) lets loading skip timm when nothing it depends on changed.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from pathlib import Path

from transvis.demo._files import (
    DEMO_MANIFEST_FORMAT,
    demo_manifest_path,
    package_version,
    read_json,
    write_text_atomic,
)
from transvis.demo.ranking_cache import (
    compute_demo_ranking,
    compute_method_rankings,
    demo_ranking_key,
    load_demo_method_rankings,
    load_demo_ranking,
    save_demo_ranking,
)
from transvis.demo.synthetic import Demo
from transvis.demo.trajectory_cache import (
    compute_demo_trajectories,
    demo_trajectories_key,
    load_demo_trajectories,
    save_demo_trajectories,
)

# The demo zoo on a stratified Fashion-MNIST sample, at a CPU-friendly input size.
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
DEMO_GROUNDTRUTH_CSV = Path(__file__).resolve().parents[2] / "assets" / "groundtruth" / "demo_fashion_mnist.csv"


class DemoNotPreparedError(RuntimeError):
    """The demo's features are not in the feature store yet."""


def demo_dataset(max_per_class: int = DEMO_MAX_PER_CLASS):
    """The demo's image sample: Fashion-MNIST test split, ``max_per_class`` images per class (default 300,
    the scoring sample; fine-tuning ground truth uses ``DEMO_FINETUNE_MAX_PER_CLASS``), seed 0."""
    from transvis.data import load_dataset

    return load_dataset(DEMO_DATASET, split=DEMO_SPLIT, max_per_class=max_per_class, seed=DEMO_SEED)


def _manifest_identity(cache_dir=None) -> dict:
    """What the demo's store keys depend on besides the transvis code: the sample, the input size, the
    prepared weights (content hashes recorded at conversion) and timm (the preprocessing configs)."""
    from transvis.models import is_prepared, zoo_ids
    from transvis.models.zoo import zoo_weights_sha256

    return {
        "format": DEMO_MANIFEST_FORMAT,
        "dataset": [DEMO_DATASET, DEMO_SPLIT, DEMO_MAX_PER_CLASS, DEMO_SEED, DEMO_INPUT_SIZE],
        "timm": package_version("timm"),
        "weights": {m: (zoo_weights_sha256(m, cache_dir) if is_prepared(m, cache_dir) else None) for m in zoo_ids()},
    }


def _feature_keys_from_manifest(cache_dir=None) -> dict[str, str] | None:
    """The demo's store keys as recorded by the last preparation, or None when anything they depend on changed."""
    manifest = read_json(demo_manifest_path(cache_dir))
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
        write_text_atomic(demo_manifest_path(cache_dir), json.dumps(payload, indent=1, sort_keys=True))


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


