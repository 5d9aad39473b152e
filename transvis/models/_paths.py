"""Where transvis keeps what it downloads and converts."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The transvis cache: ``cache_dir`` if given, else ``$TRANSVIS_CACHE``, else ``~/.cache/transvis``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("TRANSVIS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "transvis"
