"""Small feature sets and key parts shared by the store's robustness tests."""

from __future__ import annotations

import numpy as np

from transvis.features.featureset import FeatureSet
from transvis.store import key_parts

MODEL, DATASET = "timm/resnet18.a1_in1k", "fashion-mnist:test/max10-seed0"


def featureset(seed: int = 0, n: int = 40, d: int = 6) -> FeatureSet:
    """A finite FeatureSet whose values differ with ``seed`` (so two versions of one entry can be told apart)."""
    rng = np.random.default_rng(seed)
    p = rng.random((n, 5))
    return FeatureSet(features=rng.normal(size=(n, d)), labels=np.arange(n) % 3, class_names=["a", "b", "c"],
                      model_id=MODEL, dataset_id=DATASET, source_probs=p / p.sum(1, keepdims=True),
                      meta={"seed": seed})


def parts() -> dict:
    return key_parts(MODEL, "abc123", DATASET, "max10-seed0", {"input_size": [3, 224, 224]}, "pre_logits")
