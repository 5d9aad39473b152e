"""Where the prepared demo's files live under ``<cache>/demo/`` and how they are written (the features themselves
live in the feature store): the manifest, the persisted default ranking, the default trajectories and the
UMAP overview maps."""

from __future__ import annotations

import json
from pathlib import Path

from transvis.store.atomic import write_atomic

DEMO_MANIFEST_FORMAT = 1


def demo_dir(cache_dir=None) -> Path:
    from transvis.store.paths import cache_dir as cache_root

    return cache_root(cache_dir) / "demo"


DEFAULT_TARGET = "fashion-mnist"  # the target the app opens on (transvis.demo.pool.DEMO_TARGETS)


def demo_manifest_path(cache_dir=None, target: str = DEFAULT_TARGET) -> Path:
    """``{model: feature-store key}`` of the prepared demo on ``target``, so loading it needs no model library."""
    return demo_dir(cache_dir) / f"{target}-features.json"


def demo_ranking_path(cache_dir=None, target: str = DEFAULT_TARGET) -> Path:
    """The persisted default ranking of the demo on ``target`` (see :func:`transvis.demo.load_demo_ranking`)."""
    return demo_dir(cache_dir) / f"{target}-ranking.json"


def demo_trajectories_path(cache_dir=None, target: str = DEFAULT_TARGET) -> Path:
    """The persisted default trajectories of the demo's dynamics pages on ``target``
    (see :func:`transvis.demo.load_demo_trajectories`)."""
    return demo_dir(cache_dir) / f"{target}-trajectories.npz"


def demo_overviews_path(cache_dir=None, target: str = DEFAULT_TARGET) -> Path:
    """The persisted UMAP overview maps of the demo's models on ``target`` (the Model deep-dive's "Map: UMAP";
    see :func:`transvis.demo.load_demo_overviews`)."""
    return demo_dir(cache_dir) / f"{target}-umap.npz"


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the whole new one, never a part."""
    write_atomic(path, lambda fh: fh.write(text))


def read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None
