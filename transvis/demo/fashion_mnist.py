"""The prepared offline demo: the demo pool's real features on a stratified sample of each demo target.

The pool and the targets are :mod:`transvis.demo.pool`'s (the zoo's pretrained models, two random-init twins,
three layer taps; Fashion-MNIST and MNIST-5k). Prepared once by the setup command (:func:`prepare_demo`,
``transvis demo prepare``: zoo conversion, extraction, the default rankings and trajectories per target) and read
from the cache by :func:`load_demo`. The manifest (``{model: feature-store key}``, one per target) lets loading
skip timm when nothing it depends on changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Mapping
from pathlib import Path

from transvis.demo._files import (
    DEFAULT_TARGET,
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
from transvis.demo.pool import (
    DEMO_TARGETS,
    TIER_PRETRAINED,
    demo_pool_members,
    demo_target,
    member_key_parts,
    pool_features,
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
DEMO_GROUNDTRUTH_CSV = DEMO_TARGETS[DEFAULT_TARGET].groundtruth_csv  # Fashion-MNIST's; per target: demo_target(t)


class DemoNotPreparedError(RuntimeError):
    """The demo's features are not in the feature store yet."""


def demo_dataset(max_per_class: int = DEMO_MAX_PER_CLASS, target: str = DEFAULT_TARGET):
    """The demo's image sample of ``target`` (default Fashion-MNIST's test split; see
    :data:`transvis.demo.pool.DEMO_TARGETS`): ``max_per_class`` images per class (default 300, the scoring sample;
    fine-tuning ground truth uses ``DEMO_FINETUNE_MAX_PER_CLASS``), seed 0."""
    from transvis.data import load_dataset

    spec = demo_target(target)
    return load_dataset(spec.name, max_per_class=max_per_class, seed=DEMO_SEED, **spec.load_kwargs())


def _manifest_identity(cache_dir=None, target: str = DEFAULT_TARGET) -> dict:
    """What the demo's store keys depend on besides the transvis code: the sample, the input size, the pool,
    the prepared weights (content hashes recorded at conversion) and timm (the preprocessing configs)."""
    from transvis.models import is_prepared, zoo_ids
    from transvis.models.zoo import zoo_weights_sha256

    spec = demo_target(target)
    identity = {
        "format": DEMO_MANIFEST_FORMAT,
        "dataset": [spec.name, spec.split, DEMO_MAX_PER_CLASS, DEMO_SEED, DEMO_INPUT_SIZE],
        "timm": package_version("timm"),
        "weights": {m: (zoo_weights_sha256(m, cache_dir) if is_prepared(m, cache_dir) else None) for m in zoo_ids()},
        "pool": [[m.model_id, m.loads, m.layer] for m in demo_pool_members()],
    }
    return identity


def _feature_keys_from_manifest(cache_dir=None, target: str = DEFAULT_TARGET) -> dict[str, str] | None:
    """The demo's store keys as recorded by the last preparation, or None when anything they depend on changed."""
    manifest = read_json(demo_manifest_path(cache_dir, target))
    if not isinstance(manifest, dict) or not isinstance(manifest.get("keys"), dict):
        return None
    identity = _manifest_identity(cache_dir, target)
    if manifest.get("identity") != identity or None in identity["weights"].values():
        return None
    keys, members = manifest["keys"], [m for m, _, _ in identity["pool"]]
    return {m: keys[m] for m in members} if set(keys) == set(members) else None


def _feature_keys_computed(cache_dir=None, target: str = DEFAULT_TARGET) -> dict[str, str]:
    """The demo's store keys of every pool member from the models' preprocessing (imports timm: seconds) and
    the prepared weights."""
    from transvis.models import is_prepared
    from transvis.store import FeatureStore

    dataset = demo_dataset(target=target)
    keys = {}
    for member in demo_pool_members():
        if member.tier == TIER_PRETRAINED and not is_prepared(member.loads, cache_dir):
            raise DemoNotPreparedError(
                f"the demo zoo's {member.loads} is not converted yet; run `python -m transvis demo prepare` "
                "(the README's launch command does this)."
            )
        parts = member_key_parts(member, dataset, input_size=DEMO_INPUT_SIZE, cache_dir=cache_dir)
        keys[member.model_id] = FeatureStore.key_of(parts)
    return keys


def _write_manifest(keys: Mapping[str, str], cache_dir=None, target: str = DEFAULT_TARGET) -> None:
    payload = {"identity": _manifest_identity(cache_dir, target), "keys": dict(keys)}
    with contextlib.suppress(OSError):  # a read-only cache only costs the fast path
        write_text_atomic(demo_manifest_path(cache_dir, target), json.dumps(payload, indent=1, sort_keys=True))


def prepare_demo(*, progress=None, device="auto", cache_dir=None, targets=None) -> list[str]:
    """Convert the demo zoo (once), extract the demo pool's features on each target's sample (once: one forward
    pass per model, its layer taps included), score the Leaderboard's default ranking of them and compute the
    dynamics pages' default trajectories per target (once; again whenever the features, defaults or the
    scoring/dynamics code change). Idempotent.

    targets : names of :data:`transvis.demo.pool.DEMO_TARGETS` (default: all of them).
    ``progress(message)`` is called with one line per step. Returns the pool's model ids.
    """
    from transvis.models import prepare_demo_zoo

    say = progress or (lambda message: None)
    say("converting the offline demo zoo (once)")
    prepare_demo_zoo(cache_dir=cache_dir)
    for target in (targets or list(DEMO_TARGETS)):
        _prepare_target(target, say=say, device=device, cache_dir=cache_dir)
    return [m.model_id for m in demo_pool_members()]


def _prepare_target(target: str, *, say, device, cache_dir) -> None:
    """Features, default rankings, default trajectories and the UMAP overview maps of the demo pool on one
    target."""
    from transvis.app_defaults import DYNAMICS_DEFAULTS
    from transvis.demo.overview_cache import (
        compute_demo_overviews, demo_overviews_key, load_demo_overviews, save_demo_overviews)

    label = demo_target(target).label
    pool_features(demo_dataset(target=target), input_size=DEMO_INPUT_SIZE, device=device, cache_dir=cache_dir,
                  progress=lambda message: say(f"{label} · {message}"))
    _write_manifest(_feature_keys_computed(cache_dir, target), cache_dir, target)
    demo = load_demo(target=target, cache_dir=cache_dir)
    fresh = load_demo_ranking(demo, cache_dir=cache_dir) is not None
    if fresh and load_demo_method_rankings(demo, cache_dir=cache_dir):
        say(f"{label} · default rankings: cached")
    else:
        start = time.perf_counter()
        key = demo_ranking_key(demo.feature_keys)  # before scoring: code edited meanwhile leaves it stale
        table = compute_demo_ranking(demo)
        save_demo_ranking(demo, table, methods=compute_method_rankings(demo, table), cache_dir=cache_dir, key=key)
        say(f"{label} · default rankings (Leaderboard and method pages): scored in "
            f"{time.perf_counter() - start:.1f} s")
    if len(load_demo_trajectories(demo, cache_dir=cache_dir)) == len(DYNAMICS_DEFAULTS):
        say(f"{label} · default trajectories: cached")
    else:
        start = time.perf_counter()
        key = demo_trajectories_key(demo.feature_keys)  # before computing, like the ranking's
        save_demo_trajectories(demo, compute_demo_trajectories(demo), cache_dir=cache_dir, key=key)
        say(f"{label} · default trajectories (dynamics pages): computed in {time.perf_counter() - start:.1f} s")
    if load_demo_overviews(demo, cache_dir=cache_dir) is not None:
        say(f"{label} · default UMAP maps: cached")
    else:
        start = time.perf_counter()
        key = demo_overviews_key(demo.feature_keys)  # before computing, like the ranking's
        n = len(demo.features)
        overviews = compute_demo_overviews(demo, progress=lambda done, model: say(
            f"{label} · default UMAP maps (Model deep-dive): {done}/{n} models ({model})"))
        save_demo_overviews(demo, overviews, cache_dir=cache_dir, key=key)
        say(f"{label} · default UMAP maps (Model deep-dive): computed in {time.perf_counter() - start:.1f} s")


def load_demo(*, target: str = DEFAULT_TARGET, cache_dir=None) -> Demo:
    """The prepared offline demo on ``target``: every pool member's features on the target's sample, plus
    the target's measured ground truth.

    Raises :class:`DemoNotPreparedError` (saying how to prepare it) when a pretrained model's features are
    missing. A cache prepared before the pool had its tiers (random-init twins, layer taps) loads as the
    pretrained models alone, its description saying how to add the tiers.
    """
    from transvis.store import FeatureStore

    spec = demo_target(target)
    store = FeatureStore(cache_dir)
    keys = _feature_keys_from_manifest(cache_dir, target)
    from_manifest = keys is not None
    if keys is None:
        keys = _feature_keys_computed(cache_dir, target)
    tiers = {m.model_id: m.tier for m in demo_pool_members()}
    features, missing = {}, []
    for model_id, key in keys.items():
        entry = store.get(key)
        if entry is None and tiers.get(model_id) != TIER_PRETRAINED:
            missing.append(model_id)
            continue
        if entry is None:
            raise DemoNotPreparedError(
                f"demo features for {model_id} on {spec.label} are not prepared; run `python -m transvis demo "
                "prepare` (the README's launch command does this)."
            )
        features[model_id] = dataclasses.replace(entry, model_id=model_id) if entry.model_id != model_id else entry
    if not from_manifest and not missing:
        _write_manifest(keys, cache_dir, target)
    groundtruth, groundtruth_n = _demo_groundtruth(spec)
    n_pretrained = sum(tiers.get(m) == TIER_PRETRAINED for m in features)
    extra = len(features) - n_pretrained
    description = (f"{n_pretrained} ImageNet models from the offline demo zoo"
                   + (f", {extra} random-init twins and layer taps" if extra else "")
                   + f" on {spec.label} ({DEMO_MAX_PER_CLASS} images per class, input {DEMO_INPUT_SIZE}px).")
    if missing:
        description += (f" Not prepared yet: {len(missing)} pool members (random-init twins, layer taps); run "
                        "`python -m transvis demo prepare` to add them.")
    return Demo(
        name=f"demo-zoo/{target}",
        features=features,
        groundtruth=groundtruth,
        groundtruth_n=groundtruth_n,
        description=description,
        feature_keys={m: keys[m] for m in features},
        target=target,
    )


def _demo_groundtruth(spec) -> tuple[dict, dict]:
    """``({regime: {model: accuracy}}, {regime: {model: test size}})`` of a target from its shipped CSV."""
    groundtruth, groundtruth_n = {}, {}
    if spec.groundtruth_csv.exists():
        from transvis.groundtruth import groundtruth_for, test_sizes_for

        for regime in ("linear_probe", "finetune"):
            try:
                values = groundtruth_for(spec.groundtruth_csv, regime=regime, dataset=spec.name)
            except ValueError:
                continue
            if values:
                groundtruth[regime] = values
                groundtruth_n[regime] = test_sizes_for(spec.groundtruth_csv, regime=regime, dataset=spec.name)
    return groundtruth, groundtruth_n
