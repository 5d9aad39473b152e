"""What transvis keeps under its cache folder, with sizes, and how to clear it (``transvis cache list|clear``).

    from transvis.store.usage import cache_usage, clear_cache, usage_lines
    for area in cache_usage():            # features, datasets, temp, demo, zoo, wheels (+ other, if any)
        print(area.name, area.size_bytes, area.items)
    clear_cache()                         # features + datasets + temp (what is recomputed on demand)
    clear_cache(["zoo"])                  # the converted zoo weights too (``transvis zoo prepare`` redoes them)

The cache root (``$TRANSVIS_CACHE`` or ``~/.cache/transvis``) holds one folder per writer:

- ``features/``  the feature store's entries (:class:`~transvis.store.FeatureStore`);
- ``datasets/``  extracted zips (``zip-<sha256>``) and torchvision downloads;
- ``demo/``      the prepared demo (features, rankings, trajectories: minutes to prepare again);
- ``zoo/``       the demo zoo's converted weights;  ``wheels/``  wheels fetched for the zoo's conversions.

Temp space is counted apart, wherever it lies: the store's ``features/.tmp``, ``.trash`` and ``.prev``
folders, ``.tmp-*`` extraction folders, ``.download-*`` folders and ``.<name>.tmp`` files of atomic writes.
Anything else at the root is listed as ``other`` and never cleared (the root may be a folder the user shares).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .paths import cache_dir as resolve_cache_dir
from .store import FeatureStore, _remove

# name -> (what it holds, cleared by a plain ``cache clear``)
AREAS: dict[str, tuple[str, bool]] = {
    "features": ("cached features, recomputed on demand", True),
    "datasets": ("extracted zips and downloads, redone on demand", True),
    "temp": ("temp space of unfinished or interrupted writes", True),
    "demo": ("the prepared demo (`transvis demo prepare`: minutes)", False),
    "zoo": ("the demo zoo's converted weights (`transvis zoo prepare`)", False),
    "wheels": ("wheels fetched to convert the zoo", False),
}
DEFAULT_CLEAR = tuple(name for name, (_what, default) in AREAS.items() if default)
TEMP_IDLE_S = 60.0  # temp space outside the store is cleared once nothing in it changed for this long


@dataclass(frozen=True)
class CacheArea:
    """One kind of thing under the cache root: its folders, total size (bytes) and number of items."""

    name: str
    paths: tuple[Path, ...]
    size_bytes: int
    items: int
    what: str
    cleared_by_default: bool


def _is_temp(path: Path) -> bool:
    name = path.name
    return name.startswith(".") and (name.endswith(".tmp") or name.startswith((".tmp", ".download-")))


def _size(path: Path) -> int:
    """Bytes of the files at or below ``path`` (symlinks not followed; vanishing files skipped)."""
    try:
        if path.is_symlink() or not path.is_dir():
            return path.lstat().st_size
    except OSError:
        return 0
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _newest_mtime(path: Path) -> float:
    newest = 0.0
    try:
        newest = path.lstat().st_mtime
        if path.is_dir() and not path.is_symlink():
            for root, dirs, files in os.walk(path):
                for name in dirs + files:
                    try:
                        newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
                    except OSError:
                        pass
    except OSError:
        pass
    return newest


def _children(path: Path) -> list[Path]:
    try:
        return sorted(path.iterdir()) if path.is_dir() and not path.is_symlink() else []
    except OSError:
        return []


def _temp_items(root: Path) -> list[Path]:
    """Every temp folder or file transvis may leave under ``root`` (see the module docstring)."""
    found = []
    store = root / "features"
    for sub in (".tmp", ".trash", ".prev"):
        found += _children(store / sub)
    for area in ("features", *(name for name in AREAS if name not in ("features", "temp"))):
        for child in _children(root / area):
            if child.name in (".tmp", ".trash", ".prev") and area == "features":
                continue
            if _is_temp(child):
                found.append(child)
            elif child.is_dir() and not child.is_symlink() and area != "features":
                found += [grandchild for grandchild in _children(child) if _is_temp(grandchild)]
    return found


def cache_usage(cache_dir: str | os.PathLike | None = None) -> list[CacheArea]:
    """Every area under the cache root with its size, in the order of ``AREAS`` (+ ``other`` when present).

    features counts store entries, datasets its top-level folders, temp each temp folder or file; the other
    areas count the files at their top level. Temp space is not counted in the area it lies in.
    """
    root = resolve_cache_dir(cache_dir)
    temp = _temp_items(root)
    temp_set = set(temp)
    areas = []
    for name, (what, default) in AREAS.items():
        if name == "temp":
            areas.append(CacheArea(name, tuple(temp), sum(_size(p) for p in temp), len(temp), what, default))
            continue
        folder = root / name
        children = [c for c in _children(folder) if c not in temp_set
                    and not (name == "features" and c.name in (".tmp", ".trash", ".prev"))]
        size = sum(_size(c) for c in children)
        for child in children:  # temp items one level down were counted above: take them out again
            size -= sum(_size(g) for g in _children(child) if g in temp_set)
        if name == "features":
            items = sum(1 for c in children if c.is_dir() and not c.name.startswith("."))
        else:
            items = sum(1 for c in children if not c.name.startswith("."))
        areas.append(CacheArea(name, (folder,), size, items, what, default))
    others = [c for c in _children(root) if c.name not in AREAS]
    if others:
        areas.append(CacheArea("other", tuple(others), sum(_size(c) for c in others), len(others),
                               "not written by transvis: listed, never cleared", False))
    return areas


def clear_cache(areas: Iterable[str] | None = None, cache_dir: str | os.PathLike | None = None) -> dict[str, int]:
    """Delete the named areas (default :data:`DEFAULT_CLEAR`: features, datasets, temp); ``{name: bytes freed}``.

    ``"all"`` names every area of :data:`AREAS`. Temp space that a live writer holds (the store's locked temp
    folders) or that changed within the last :data:`TEMP_IDLE_S` seconds is kept. ``other`` is never cleared.
    Raises ``ValueError`` for an unknown area name.
    """
    names = list(DEFAULT_CLEAR if areas is None else areas)
    if "all" in names:
        names = list(AREAS)
    unknown = [n for n in names if n not in AREAS]
    if unknown:
        raise ValueError(f"unknown cache area {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(AREAS)} or all.")
    root = resolve_cache_dir(cache_dir)
    before = {area.name: area.size_bytes for area in cache_usage(root)}
    for name in names:
        if name == "features":
            FeatureStore(root).clear()
        elif name == "temp":
            FeatureStore(root).sweep(max_age_s=0)  # the store's own: every folder no writer holds
            now = time.time()
            for item in _temp_items(root):
                if item.parent.parent != root / "features" and now - _newest_mtime(item) >= TEMP_IDLE_S:
                    _remove(item)
        else:
            for child in _children(root / name):
                if not _is_temp(child):  # temp space goes only with "temp" (a writer may be using it)
                    _remove(child)
    after = {area.name: area.size_bytes for area in cache_usage(root)}
    return {name: max(0, before.get(name, 0) - after.get(name, 0)) for name in names}


def usage_lines(areas: list[CacheArea], root: str | os.PathLike) -> list[str]:
    """Human-readable lines for ``transvis cache list``: one per area, its size, items and whether a plain
    ``cache clear`` removes it."""
    lines = [f"cache {root}:"]
    for area in areas:
        fate = ("cache clear" if area.cleared_by_default
                else "never cleared" if area.name == "other" else f"cache clear {area.name}")
        lines.append(f"  {area.name:<9} {area.size_bytes / 1e6:9.1f} MB {area.items:>6} items  "
                     f"{'[' + fate + ']':<21} {area.what}")
    lines.append(f"  {'total':<9} {sum(a.size_bytes for a in areas) / 1e6:9.1f} MB")
    return lines
