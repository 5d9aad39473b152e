"""A content-addressed, crash-safe feature store on disk.

    store = FeatureStore()                       # <$TRANSVIS_CACHE or ~/.cache/transvis>/features/
    parts = dict(model_id="resnet18.a1_in1k", weights_hash="9f1c...", dataset_id="fashion-mnist:test/max100-seed0",
                 subsample="max100-seed0", transform={"input_size": [3, 224, 224], ...}, layer="pre_logits")
    key = store.put(parts, featureset)           # -> 20-hex-digit key
    store.get(parts) or store.get(key)           # -> FeatureSet, or None on a miss

One entry is one folder ``features/<key>/`` holding ``features.npy`` (float32 [N, D]), ``labels.npy``
(int64 [N]), ``source_probs.npy`` (float32 [N, Cs], when the model has a source head) and ``meta.json`` (the
readable key parts, model, dataset, class names, shapes, byte sizes and SHA-256 of each array file, versions,
creation time, and the FeatureSet's own ``meta`` such as timing).

Crash safety: an entry is written in full under ``features/.tmp/`` and then renamed into place in one
``os.rename``, so readers see either no entry or a complete one — a writer killed mid-way leaves only a stale
temp folder (swept later), and two writers of the same key race harmlessly (the first rename wins; the key
names the same content). A damaged entry (missing file, wrong size or checksum, unreadable JSON) is detected
on read, deleted, reported with a :class:`CorruptEntryWarning`, and returned as a miss so it is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .paths import cache_dir as resolve_cache_dir

FORMAT_VERSION = 1
KEY_PARTS = ("model_id", "weights_hash", "dataset_id", "subsample", "transform", "layer")
KEY_LENGTH = 20
_ARRAYS = ("features", "labels", "source_probs")
_TMP, _TRASH = ".tmp", ".trash"
_VERSIONED_PACKAGES = ("transvis", "numpy", "torch", "torchvision", "timm")


class CorruptEntryWarning(UserWarning):
    """A damaged cache entry was found, deleted, and treated as a miss (it will be recomputed)."""


def _jsonable(value: Any):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (Path, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _dumps(value: Any, **kwargs) -> str:
    try:
        return json.dumps(value, default=_jsonable, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"store metadata must be JSON-serialisable (str, numbers, lists, dicts): {exc}") from exc


def key_parts(model_id: str, weights_hash: str, dataset_id: str, subsample: Any = None, transform: Any = None,
              layer: str = "pre_logits", **extra: Any) -> dict[str, Any]:
    """The readable parts that name one cache entry, as a dict for :func:`store_key` / :meth:`FeatureStore.put`.

    subsample : e.g. ``"max100-seed0"`` or None for all images; transform : the preprocessing actually used
    (e.g. timm's resolved data config with any input-size override); extra parts are hashed too.
    """
    return {"model_id": model_id, "weights_hash": weights_hash, "dataset_id": dataset_id,
            "subsample": subsample, "transform": transform, "layer": layer, **extra}


def _check_parts(parts: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(parts, Mapping):
        raise ValueError(f"key parts must be a dict with {', '.join(KEY_PARTS)}; got {type(parts).__name__}.")
    missing = [p for p in KEY_PARTS if p not in parts]
    if missing:
        raise ValueError(
            f"store key parts lack {', '.join(missing)}; build them with transvis.store.key_parts(...) "
            f"(needed: {', '.join(KEY_PARTS)}; use None for no subsample/transform)."
        )
    for name in ("model_id", "weights_hash", "dataset_id", "layer"):
        if not isinstance(parts[name], str) or not parts[name]:
            raise ValueError(f"store key part {name!r} must be a non-empty string; got {parts[name]!r}.")
    return dict(parts)


def store_key(parts: Mapping[str, Any] | None = None, **kwargs: Any) -> str:
    """Short hex digest (20 hex digits, 80 bits) naming the features of ``parts``.

    parts : model id + weights hash + dataset id + subsample + transform + layer (see :func:`key_parts`),
    given as a dict or as keyword arguments. The digest is SHA-256 of canonical JSON (sorted keys), so dict
    order and tuple-vs-list do not matter, and any change of any part gives a new key.
    """
    parts = _check_parts({**(parts or {}), **kwargs})
    canonical = _dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"transvis-features-v{FORMAT_VERSION}\n{canonical}".encode()).hexdigest()[:KEY_LENGTH]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in _VERSIONED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened; rename is still atomic there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _HashingFile:
    """File wrapper that hashes what ``np.save`` writes through it (one pass over the data)."""

    def __init__(self, fh):
        self.fh, self.digest, self.size = fh, hashlib.sha256(), 0

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        self.digest.update(view)
        self.size += view.nbytes
        return self.fh.write(view)


@dataclass
class StoreEntry:
    """One cached entry as listed by :meth:`FeatureStore.list` (``problem`` set when its sidecar is unreadable)."""

    key: str
    path: Path
    size_bytes: int
    meta: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @property
    def parts(self) -> dict[str, Any]:
        return self.meta.get("parts", {})

    @property
    def model_id(self) -> str | None:
        return self.meta.get("model_id")

    @property
    def dataset_id(self) -> str | None:
        return self.meta.get("dataset_id")

    @property
    def layer(self) -> str | None:
        return self.meta.get("layer")

    @property
    def created(self) -> str | None:
        return self.meta.get("created")

    @property
    def shape(self) -> tuple[int, ...] | None:
        shape = self.meta.get("shapes", {}).get("features")
        return tuple(shape) if shape else None


class FeatureStore:
    """Content-addressed feature cache under ``<cache_dir>/features`` (see the module docstring).

    cache_dir : the transvis cache root; default ``$TRANSVIS_CACHE`` or ``~/.cache/transvis``.
    verify : check every array file's SHA-256 on :meth:`get` (sizes and shapes are always checked).
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None, verify: bool = True):
        self.cache_root = resolve_cache_dir(cache_dir)
        self.root = self.cache_root / "features"
        self.verify = verify

    def __repr__(self) -> str:
        return f"FeatureStore({str(self.root)!r})"

    # -- keys and paths ----------------------------------------------------------------------------
    @staticmethod
    def key_of(parts_or_key: Mapping[str, Any] | str) -> str:
        """The key for a dict of parts, or the key itself when given a string."""
        if isinstance(parts_or_key, str):
            key = parts_or_key.strip().lower()
            if len(key) != KEY_LENGTH or any(ch not in "0123456789abcdef" for ch in key):
                raise ValueError(f"{parts_or_key!r} is not a store key ({KEY_LENGTH} hex digits).")
            return key
        return store_key(parts_or_key)

    def path_of(self, parts_or_key: Mapping[str, Any] | str) -> Path:
        return self.root / self.key_of(parts_or_key)

    # -- writing -----------------------------------------------------------------------------------
    def put(self, parts: Mapping[str, Any], featureset, overwrite: bool = False) -> str:
        """Store ``featureset`` under the key of ``parts``; returns the key.

        ``parts`` must name the FeatureSet's own model id, dataset id and layer. An existing entry for the key
        is kept (same key, same content) unless ``overwrite``. The entry appears atomically; concurrent
        writers of the same key are safe.
        """
        parts = _check_parts(parts)
        for name, value in (("model_id", featureset.model_id), ("dataset_id", featureset.dataset_id),
                            ("layer", featureset.layer)):
            if parts[name] != value:
                raise ValueError(
                    f"key part {name}={parts[name]!r} does not match the FeatureSet's {name}={value!r}; build the "
                    "key parts from the same model, dataset and layer as the features."
                )
        key = store_key(parts)
        final = self.root / key
        if final.is_dir() and not overwrite:
            return key
        arrays = {"features": np.ascontiguousarray(featureset.features, dtype=np.float32),
                  "labels": np.ascontiguousarray(featureset.labels, dtype=np.int64)}
        if featureset.source_probs is not None:
            arrays["source_probs"] = np.ascontiguousarray(featureset.source_probs, dtype=np.float32)
        meta = {
            "format": FORMAT_VERSION,
            "key": key,
            "parts": parts,
            "model_id": featureset.model_id,
            "dataset_id": featureset.dataset_id,
            "layer": featureset.layer,
            "class_names": list(featureset.class_names),
            "shapes": {name: list(arrays[name].shape) if name in arrays else None for name in _ARRAYS},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": _versions(),
            "featureset_meta": featureset.meta,
            "writer": uuid.uuid4().hex,  # tells readers an entry was replaced while they read it
            "files": {},
        }
        sidecar_text = _dumps(meta, indent=1)  # fail on non-JSON meta before writing anything

        temp = self.root / _TMP / f"{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        temp.mkdir(parents=True)
        try:
            for name, array in arrays.items():
                with open(temp / f"{name}.npy", "wb") as fh:
                    hashing = _HashingFile(fh)
                    np.lib.format.write_array(hashing, array, allow_pickle=False)
                    fh.flush()
                    os.fsync(fh.fileno())
                meta["files"][f"{name}.npy"] = {"bytes": hashing.size, "sha256": hashing.digest.hexdigest()}
            sidecar_text = _dumps(meta, indent=1)
            with open(temp / "meta.json", "w", encoding="utf-8") as fh:
                fh.write(sidecar_text)
                fh.flush()
                os.fsync(fh.fileno())
            _fsync_dir(temp)
            if overwrite and final.exists():
                self._discard(final)
            for attempt in range(5):
                try:
                    os.rename(temp, final)
                    break
                except OSError:
                    if final.is_dir():  # a concurrent writer of this key won; its entry is as good as ours
                        break
                    # The entry vanished between the failed rename and the check (a concurrent overwrite
                    # discarded it): try again rather than fail.
                    if attempt == 4:
                        raise
            _fsync_dir(self.root)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        return key

    # -- reading -----------------------------------------------------------------------------------
    def has(self, parts_or_key: Mapping[str, Any] | str) -> bool:
        """True when a complete entry exists (not checksum-verified; :meth:`get` verifies)."""
        return (self.path_of(parts_or_key) / "meta.json").is_file()

    def get(self, parts_or_key: Mapping[str, Any] | str):
        """The stored ``FeatureSet``, or None on a miss (including a damaged entry, which is deleted)."""
        from transvis.features.featureset import FeatureSet

        key = self.key_of(parts_or_key)
        entry = self.root / key
        for _attempt in range(3):
            if not entry.is_dir():
                return None
            sidecar = None
            try:
                sidecar = (entry / "meta.json").read_text(encoding="utf-8")
                meta = json.loads(sidecar)
                arrays = self._read_arrays(entry, meta)
                return FeatureSet(
                    features=arrays["features"], labels=arrays["labels"], class_names=list(meta["class_names"]),
                    model_id=meta["model_id"], dataset_id=meta["dataset_id"],
                    source_probs=arrays.get("source_probs"), layer=meta["layer"],
                    meta=meta.get("featureset_meta") or {},
                )
            except FileNotFoundError as exc:
                problem = f"missing file {Path(exc.filename or '?').name}"
            except Exception as exc:  # noqa: BLE001 - any damage is a miss to recompute, never a crash
                problem = f"{type(exc).__name__}: {exc}"
            if not entry.is_dir():  # deleted by another process while we read: a plain miss
                return None
            if not self._replaced_since(entry, sidecar):
                break
            # another process swapped in a new entry (put with overwrite) while we read: read again
        self._discard(entry)
        warnings.warn(
            f"feature cache entry {key} was damaged ({problem}); it was deleted and will be recomputed.",
            CorruptEntryWarning,
            stacklevel=2,
        )
        return None

    @staticmethod
    def _replaced_since(entry: Path, sidecar: str | None) -> bool:
        try:
            return (entry / "meta.json").read_text(encoding="utf-8") != sidecar
        except OSError:
            return False

    def _read_arrays(self, entry: Path, meta: dict) -> dict[str, np.ndarray]:
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"entry format {meta.get('format')!r}, expected {FORMAT_VERSION}")
        if meta.get("key") != entry.name:
            raise ValueError("sidecar key does not match the entry folder")
        arrays = {}
        for name in _ARRAYS:
            shape = meta["shapes"].get(name)
            if shape is None:
                continue
            path = entry / f"{name}.npy"
            record = meta["files"][f"{name}.npy"]
            size = path.stat().st_size
            if size != record["bytes"]:
                raise ValueError(f"{path.name} has {size} bytes, expected {record['bytes']}")
            if self.verify and _sha256_file(path) != record["sha256"]:
                raise ValueError(f"{path.name} checksum mismatch")
            array = np.load(path, allow_pickle=False)
            if list(array.shape) != list(shape):
                raise ValueError(f"{path.name} has shape {array.shape}, expected {tuple(shape)}")
            arrays[name] = array
        if "features" not in arrays or "labels" not in arrays:
            raise ValueError("entry lacks features or labels")
        return arrays

    # -- listing and deleting ----------------------------------------------------------------------
    def list(self) -> list[StoreEntry]:
        """Every entry (newest first), with its sidecar; unreadable sidecars are listed with ``problem`` set."""
        if not self.root.is_dir():
            return []
        self.sweep()
        entries = []
        for path in self.root.iterdir():
            if path.name.startswith(".") or not path.is_dir():
                continue
            size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
            try:
                meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
                entries.append(StoreEntry(path.name, path, size, meta))
            except (OSError, ValueError) as exc:
                entries.append(StoreEntry(path.name, path, size, {}, problem=f"{type(exc).__name__}: {exc}"))
        return sorted(entries, key=lambda e: (e.created or "", e.key), reverse=True)

    def find(self, model_id: str | None = None, dataset_id: str | None = None,
             layer: str | None = None) -> list[StoreEntry]:
        """Entries whose model id / dataset id / layer equal the given values (None matches anything)."""
        return [
            e for e in self.list()
            if (model_id is None or e.model_id == model_id) and (dataset_id is None or e.dataset_id == dataset_id)
            and (layer is None or e.layer == layer)
        ]

    def resolve(self, prefix: str) -> str:
        """The full key of the one entry whose key starts with ``prefix`` (for CLIs: ``cache rm 3fa9``)."""
        prefix = prefix.strip().lower()
        if not prefix or any(ch not in "0123456789abcdef" for ch in prefix):
            raise ValueError(f"{prefix!r} is not a key prefix (hex digits).")
        matches = sorted(p.name for p in self.root.glob(f"{prefix}*") if p.is_dir()) if self.root.is_dir() else []
        if len(matches) != 1:
            raise ValueError(
                f"no cache entry starts with {prefix!r}" if not matches
                else f"{len(matches)} cache entries start with {prefix!r} ({', '.join(matches[:4])}); give more digits"
            )
        return matches[0]

    def delete(self, parts_or_key: Mapping[str, Any] | str) -> bool:
        """Delete one entry; True when it existed."""
        entry = self.path_of(parts_or_key)
        if not entry.is_dir():
            return False
        return self._discard(entry)

    def clear(self) -> int:
        """Delete every entry (and stale temp folders); returns the number of entries deleted."""
        if not self.root.is_dir():
            return 0
        count = sum(self._discard(p) for p in list(self.root.iterdir()) if p.is_dir() and not p.name.startswith("."))
        self.sweep(max_age_s=0)
        return count

    def total_bytes(self) -> int:
        return sum(e.size_bytes for e in self.list())

    def sweep(self, max_age_s: float = 3600.0) -> int:
        """Remove temp folders of writers that died (older than ``max_age_s``) and leftover trash."""
        removed = 0
        now = time.time()
        for sub, age in ((_TMP, max_age_s), (_TRASH, 0.0)):
            folder = self.root / sub
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                try:
                    if now - path.stat().st_mtime >= age:
                        shutil.rmtree(path, ignore_errors=True)
                        removed += 1
                except OSError:
                    pass
        return removed

    def _discard(self, entry: Path) -> bool:
        """Move ``entry`` out of sight in one rename, then delete it (readers never see half an entry)."""
        trash = self.root / _TRASH / f"{entry.name}-{uuid.uuid4().hex[:8]}"
        trash.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(entry, trash)
        except FileNotFoundError:
            return False
        shutil.rmtree(trash, ignore_errors=True)
        return True
