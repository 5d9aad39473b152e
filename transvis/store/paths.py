"""Where transvis keeps what it computes: one cache directory, configurable with ``TRANSVIS_CACHE``."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "TRANSVIS_CACHE"


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The transvis cache root: ``override``, else ``$TRANSVIS_CACHE``, else ``~/.cache/transvis``.

    Not created here; writers create the sub-folder they need (``features/``, ``datasets/``, ...).
    """
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "transvis"
