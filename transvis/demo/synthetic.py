"""The synthetic demo: a pool of "models" over one labelled sample with known, graded class separation.

Instant, needs no weights, and useful for teaching (the better-separated model should rank higher under every
sensible metric). :class:`Demo` is what every built-in demo is: features of several models over the same
samples, plus ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from transvis.features.featureset import FeatureSet


@dataclass
class Demo:
    """A ready-to-rank pool: features of several models over the same samples, plus ground truth."""

    name: str
    features: dict[str, FeatureSet]
    groundtruth: dict[str, dict[str, float]] = field(default_factory=dict)  # regime -> {model: accuracy}
    description: str = ""
    groundtruth_n: dict[str, dict[str, int]] = field(default_factory=dict)  # regime -> {model: test samples}
    feature_keys: dict[str, str] = field(default_factory=dict)  # model -> feature-store key (prepared demos)
    target: str = ""  # the prepared demo's target (transvis.demo.pool.DEMO_TARGETS); "" for other demos

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
