"""The on-disk feature cache: content-addressed, atomic, self-healing (see :mod:`transvis.store.store`).

    from transvis.store import FeatureStore, key_parts
    store = FeatureStore()                                   # $TRANSVIS_CACHE/features or ~/.cache/transvis
    parts = key_parts(model_id, weights_hash, dataset.dataset_id, dataset.subset_spec, transform, layer)
    features = store.get(parts)          # None on a miss (or a damaged entry, which is deleted)
    if features is None:
        features = extract(...)
        store.put(parts, features)
    cache_usage()                        # every area under the cache root with its size (transvis.store.usage)
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
from .usage import AREAS, CacheArea, cache_usage, clear_cache

__all__ = [
    "AREAS",
    "CACHE_ENV",
    "CacheArea",
    "KEY_PARTS",
    "CorruptEntryWarning",
    "FeatureStore",
    "StoreEntry",
    "cache_dir",
    "cache_usage",
    "clear_cache",
    "key_parts",
    "store_key",
]
