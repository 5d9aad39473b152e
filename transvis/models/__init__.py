"""Models: any timm model by name with its weight tag, local checkpoints, and the offline demo zoo.

Public API::

    load_model(model_id, *, pretrained=True, weights_file=None, num_classes=None, device="cpu")
    prepare_demo_zoo(cache_dir=None, progress=None) -> list[ZooEntry]
    list_zoo(cache_dir=None) -> list[dict]        # one row per demo model, with its status
    preprocessing_config(model_or_id, input_size=None) -> dict
    model_fingerprint(model_id, weights_file=None) -> str   # for store keys
    canonical_model_id(model_id) -> str
"""

from ._paths import cache_root
from .loading import (
    ModelLoadError,
    UnknownModelError,
    WeightsUnavailableError,
    canonical_model_id,
    hub_reachable,
    load_model,
    model_fingerprint,
    preprocessing_config,
    preprocessing_fingerprint,
)
from .zoo import (
    DEMO_ZOO,
    ZooEntry,
    is_prepared,
    is_zoo_id,
    list_zoo,
    prepare_demo_zoo,
    zoo_dir,
    zoo_entry,
    zoo_ids,
)

__all__ = [
    "DEMO_ZOO",
    "ModelLoadError",
    "UnknownModelError",
    "WeightsUnavailableError",
    "ZooEntry",
    "cache_root",
    "canonical_model_id",
    "hub_reachable",
    "is_prepared",
    "is_zoo_id",
    "list_zoo",
    "load_model",
    "model_fingerprint",
    "preprocessing_config",
    "preprocessing_fingerprint",
    "prepare_demo_zoo",
    "zoo_dir",
    "zoo_entry",
    "zoo_ids",
]
