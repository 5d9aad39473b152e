"""The plain data that flows from extraction to the store, the metrics and the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class FeatureSet:
    """Frozen features of one model on one dataset (sub)sample.

    features : float32 [N, D] pooled pre-logits features.
    labels : int64 [N] target labels 0..C-1.
    source_probs : float32 [N, Cs] softmax of the model's source (e.g. ImageNet) head, or None when the
        model has no head (LEEP/NCE then do not apply).
    class_names : C target class names.
    model_id : timm name with weight tag, or ``offline/<name>`` for the demo zoo.
    dataset_id : stable dataset id (includes the subsample spec).
    layer : "pre_logits" or the name of an intermediate tap.
    meta : free JSON-able details (timing, versions, transform, sample indices).
    """

    features: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    model_id: str
    dataset_id: str
    source_probs: np.ndarray | None = None
    layer: str = "pre_logits"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.features = np.asarray(self.features, dtype=np.float32)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.features.ndim != 2 or self.labels.shape != (self.features.shape[0],):
            raise ValueError(
                f"FeatureSet needs features [N, D] and labels [N]; got {self.features.shape} and {self.labels.shape}."
            )
        if self.source_probs is not None:
            self.source_probs = np.asarray(self.source_probs, dtype=np.float32)
            if self.source_probs.shape[0] != self.features.shape[0]:
                raise ValueError("source_probs must have one row per feature row.")

    @property
    def n_samples(self) -> int:
        return int(self.features.shape[0])

    @property
    def n_dims(self) -> int:
        return int(self.features.shape[1])
