"""Where transvis keeps what it downloads and converts: the one cache root shared with the feature store."""

from transvis.store.paths import cache_dir as cache_root

__all__ = ["cache_root"]
