"""The on-disk feature cache: content-addressed, atomic, self-healing (see :mod:`transvis.store.store`).

    from transvis.store import FeatureStore, key_parts
    store = FeatureStore()                                   # $TRANSVIS_CACHE/features or ~/.cache/transvis
    parts = key_parts(model_id, weights_hash, dataset.dataset_id, dataset.subset_spec, transform, layer)
    features = store.get(parts)          # None on a miss (or a damaged entry, which is deleted)
    if features is None:
        features = extract(...)
        store.put(parts, features)
"""

from .paths import CACHE_ENV, cache_dir
from .store import (
    KEY_PARTS,
    CorruptEntryWarning,
    FeatureStore,
    StoreEntry,
    key_parts,
    store_key,
)

__all__ = [
    "CACHE_ENV",
    "KEY_PARTS",
    "CorruptEntryWarning",
    "FeatureStore",
    "StoreEntry",
    "cache_dir",
    "key_parts",
    "store_key",
]
