"""The built-in demos the app opens on.

* :func:`load_demo` — the offline demo zoo's real features on Fashion-MNIST, prepared once by the setup
  command (``transvis zoo prepare`` + extraction) and read from the feature store.
* :func:`synthetic_demo` — a pool of synthetic "models" over one labelled sample, with known, graded
  class separation: instant, needs no weights, and useful for teaching (the better-separated model
  should rank higher under every sensible metric).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from transvis.features.featureset import FeatureSet


@dataclass
class Demo:
    """A ready-to-rank pool: features of several models over the same samples, plus ground truth."""

    name: str
    features: dict[str, FeatureSet]
    groundtruth: dict[str, dict[str, float]] = field(default_factory=dict)  # regime -> {model: accuracy}
    description: str = ""

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
DEMO_MAX_PER_CLASS = 100
DEMO_SEED = 0
DEMO_INPUT_SIZE = 112
DEMO_GROUNDTRUTH_CSV = Path(__file__).resolve().parents[1] / "assets" / "groundtruth" / "demo_fashion_mnist.csv"


class DemoNotPreparedError(RuntimeError):
    """The demo's features are not in the feature store yet."""


def demo_dataset():
    """The demo's image sample: Fashion-MNIST test split, 100 images per class, seed 0."""
    from transvis.data import load_dataset

    return load_dataset(DEMO_DATASET, split=DEMO_SPLIT, max_per_class=DEMO_MAX_PER_CLASS, seed=DEMO_SEED)


def prepare_demo(*, progress=None, device="auto", cache_dir=None) -> list[str]:
    """Convert the demo zoo (once) and extract its features on the demo sample (once). Idempotent.

    ``progress(message)`` is called with one line per step. Returns the model ids prepared.
    """
    from transvis.models import prepare_demo_zoo, zoo_ids
    from transvis.pipeline import get_features

    say = progress or (lambda message: None)
    say("converting the offline demo zoo (once)")
    prepare_demo_zoo(cache_dir=cache_dir)
    dataset = demo_dataset()
    for model_id in zoo_ids():
        _, cached = get_features(model_id, dataset, input_size=DEMO_INPUT_SIZE, device=device,
                                 progress=False, cache_dir=cache_dir)
        say(f"{model_id}: {'cached' if cached else 'extracted'}")
    return zoo_ids()


def load_demo(*, cache_dir=None) -> Demo:
    """The prepared offline demo: every demo-zoo model's features on the demo sample, plus ground truth.

    Raises :class:`DemoNotPreparedError` (saying how to prepare it) when features are missing.
    """
    from transvis.models import is_prepared, zoo_ids
    from transvis.pipeline import feature_key_parts
    from transvis.store import FeatureStore

    store = FeatureStore(cache_dir)
    dataset = demo_dataset()
    features = {}
    for model_id in zoo_ids():
        entry = None
        if is_prepared(model_id, cache_dir):
            entry = store.get(feature_key_parts(model_id, dataset, input_size=DEMO_INPUT_SIZE, cache_dir=cache_dir))
        if entry is None:
            raise DemoNotPreparedError(
                f"demo features for {model_id} are not prepared; run `python -m transvis demo prepare` "
                "(the README's launch command does this)."
            )
        features[model_id] = entry
    groundtruth = {}
    if DEMO_GROUNDTRUTH_CSV.exists():
        from transvis.groundtruth import groundtruth_for

        for regime in ("linear_probe", "finetune"):
            try:
                values = groundtruth_for(DEMO_GROUNDTRUTH_CSV, regime=regime, dataset=DEMO_DATASET)
            except ValueError:
                continue
            if values:
                groundtruth[regime] = values
    return Demo(
        name="demo-zoo/fashion-mnist",
        features=features,
        groundtruth=groundtruth,
        description=(f"{len(features)} ImageNet models from the offline demo zoo on Fashion-MNIST "
                     f"({DEMO_MAX_PER_CLASS} test images per class, input {DEMO_INPUT_SIZE}px)."),
    )
