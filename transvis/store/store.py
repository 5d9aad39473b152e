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
temp folder, and two writers of the same key race harmlessly (the first rename wins; the key names the same
content). An overwrite swaps the new folder with the old one in one ``renameat2(RENAME_EXCHANGE)`` (Linux), so
the old entry stays readable until the new one is complete; elsewhere the old entry is parked under
``features/.prev/`` for the instant between two renames and put back by the next reader if the writer died
there. A writer holds an ``flock`` on its temp folder while it writes: the sweep (at every ``put`` and
``list``) removes a temp folder as soon as no writer holds it (where locks are unavailable: after
``NO_LOCK_MAX_AGE_S``).

Integrity: ``meta.json`` records each array file's size and SHA-256 and its own SHA-256 (``meta_sha256``, over
its canonical JSON without that field), and the key parts it records must hash to the entry's folder name.
Only *verified* damage (a missing file, a wrong size, checksum, header, shape or sidecar digest, unreadable
JSON, non-finite features) deletes an entry: it is reported with a :class:`CorruptEntryWarning` and returned as
a miss so it is recomputed. Any other error while reading (``EMFILE`` "Too many open files", ``EIO``, a
permission error, ``MemoryError``) is raised as it is and the entry is kept. Entries written before the sidecar
digest existed are read without it (their key parts and arrays are still checked).
"""

from __future__ import annotations

import contextlib
import errno
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
_TMP, _TRASH, _PREV = ".tmp", ".trash", ".prev"
_ARRAY_DTYPES = {"features": np.dtype("<f4"), "labels": np.dtype("<i8"), "source_probs": np.dtype("<f4")}
TMP_GRACE_S = 5.0  # an unlocked temp folder younger than this may be a writer between mkdir and flock
NO_LOCK_MAX_AGE_S = 600.0  # where flock is unavailable, a temp folder this old is taken as abandoned
_VERSIONED_PACKAGES = ("transvis", "numpy", "torch", "torchvision", "timm")


class CorruptEntryWarning(UserWarning):
    """A damaged cache entry was found, deleted, and treated as a miss (it will be recomputed)."""


class _Damage(ValueError):
    """Verified damage to an entry (as opposed to an error of the machine, which is raised as it is)."""


# Errors that can only come from the entry's own bytes: a sidecar that is not the JSON transvis wrote (missing
# or mistyped fields), an .npy file numpy cannot parse. OSError (other than a missing file) and MemoryError are
# not here: they say nothing about the entry.
_DAMAGE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError, EOFError, IsADirectoryError,
                  NotADirectoryError)


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


def _read_npy_header(fh) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` from an open ``.npy`` file, leaving it at the data. Raises ValueError."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(fh)
    raise ValueError(f".npy format version {version} is not one transvis writes")


def _meta_digest(meta: Mapping[str, Any]) -> str:
    """SHA-256 of a sidecar's canonical JSON (sorted keys, no whitespace), without its own ``meta_sha256``."""
    plain = {k: v for k, v in meta.items() if k != "meta_sha256"}
    return hashlib.sha256(_dumps(plain, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _check_finite(name: str, array: np.ndarray | None) -> None:
    if array is not None and not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(
            f"{name} hold {bad:,} NaN or infinite value(s); the feature store keeps only finite features. Check "
            "the model's weights (a damaged or diverged checkpoint) or extract in full precision (amp=False)."
        )


_RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(a: Path, b: Path) -> str:
    """Swap two paths in one ``renameat2(..., RENAME_EXCHANGE)``: ``"swapped"``, ``"missing"`` (one of them is
    gone) or ``"unsupported"`` (not Linux, an old libc, or a file system without it)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return "unsupported"
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return "swapped"
    code = ctypes.get_errno()
    if code == errno.ENOENT:
        return "missing"
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return "unsupported"
    raise OSError(code, f"cannot swap {b.name} into place: {os.strerror(code)}", os.fspath(b))


def _lock_dir(path: Path):
    """An fd holding an exclusive ``flock`` on the folder ``path`` (None where flock is unavailable)."""
    try:
        import fcntl
    except ImportError:  # Windows
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def _writer_gone(path: Path) -> bool | None:
    """True when no process holds ``path``'s flock, False when one does, None when that cannot be known."""
    try:
        import fcntl
    except ImportError:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)  # also releases our probe lock
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


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

        ``parts`` must name the FeatureSet's own model id, dataset id and layer; features and source
        probabilities must be finite (``ValueError`` otherwise: a NaN is never cached). An existing entry for
        the key is kept (same key, same content) unless ``overwrite``, which replaces it atomically: the old
        entry stays readable until the new one is complete. The entry appears atomically; concurrent writers
        of the same key are safe.
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
        _check_finite(f"the features of {featureset.model_id} on {featureset.dataset_id}", arrays["features"])
        _check_finite(f"the source probabilities of {featureset.model_id}", arrays.get("source_probs"))
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
        _dumps(meta, indent=1)  # fail on non-JSON meta before writing anything

        self.sweep()
        temp = self.root / _TMP / f"{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        temp.mkdir(parents=True)
        lock = None
        try:
            lock = _lock_dir(temp)  # held until the entry is in place: the sweep leaves this folder alone
            for name, array in arrays.items():
                with open(temp / f"{name}.npy", "wb") as fh:
                    hashing = _HashingFile(fh)
                    np.lib.format.write_array(hashing, array, allow_pickle=False)
                    fh.flush()
                    os.fsync(fh.fileno())
                meta["files"][f"{name}.npy"] = {"bytes": hashing.size, "sha256": hashing.digest.hexdigest()}
            meta = json.loads(_dumps(meta))  # the sidecar as it will read back (lists, not tuples)
            meta["meta_sha256"] = _meta_digest(meta)
            with open(temp / "meta.json", "w", encoding="utf-8") as fh:
                fh.write(_dumps(meta, indent=1))
                fh.flush()
                os.fsync(fh.fileno())
            _fsync_dir(temp)
            self._install(temp, final, overwrite)
            _fsync_dir(self.root)
        finally:
            if lock is not None:
                os.close(lock)
            shutil.rmtree(temp, ignore_errors=True)  # after a swap: the old entry
        return key

    def _install(self, temp: Path, final: Path, overwrite: bool) -> None:
        """Move the complete folder ``temp`` to ``final``; on ``overwrite`` an existing entry is replaced in one
        swap (its folder ends up at ``temp``), so some complete entry is at ``final`` at every instant."""
        if overwrite and final.is_dir():
            outcome = _exchange(temp, final)
            if outcome == "swapped":
                return
            if outcome == "unsupported":
                self._replace_via_prev(temp, final)
                return
        for attempt in range(5):
            try:
                os.rename(temp, final)
                return
            except OSError:
                if final.is_dir():  # a concurrent writer of this key won; its entry is as good as ours
                    if overwrite and _exchange(temp, final) == "unsupported":
                        self._replace_via_prev(temp, final)
                    return
                # The entry vanished between the failed rename and the check (a concurrent overwrite
                # swapped or discarded it): try again rather than fail.
                if attempt == 4:
                    raise

    def _replace_via_prev(self, temp: Path, final: Path) -> None:
        """Overwrite without an atomic swap: park the old entry under ``.prev/``, rename the new one in, then
        delete the old. A writer killed between the renames leaves the old entry parked; :meth:`get` and the
        sweep put it back (:meth:`_restore_parked`)."""
        parked = self.root / _PREV / f"{final.name}-{uuid.uuid4().hex[:8]}"
        parked.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(final, parked)
        except FileNotFoundError:
            pass
        try:
            os.rename(temp, final)
        except OSError:
            if not final.is_dir():
                with contextlib.suppress(OSError):
                    os.rename(parked, final)
                raise
        shutil.rmtree(parked, ignore_errors=True)

    def _restore_parked(self, key: str) -> bool:
        """Put back an entry parked by an overwrite whose writer died between its two renames; True if done."""
        folder = self.root / _PREV
        if not folder.is_dir() or (self.root / key).is_dir():
            return False
        for parked in sorted(folder.glob(f"{key}-*")):
            if (parked / "meta.json").is_file():
                with contextlib.suppress(OSError):
                    os.rename(parked, self.root / key)
                    return True
        return False

    # -- reading -----------------------------------------------------------------------------------
    def has(self, parts_or_key: Mapping[str, Any] | str) -> bool:
        """True when a complete entry exists (not checksum-verified; :meth:`get` verifies)."""
        return (self.path_of(parts_or_key) / "meta.json").is_file()

    def get(self, parts_or_key: Mapping[str, Any] | str):
        """The stored ``FeatureSet``, or None on a miss (including a damaged entry, which is deleted).

        Only verified damage deletes the entry (see the module docstring); an error that says nothing about
        the entry (``OSError`` such as EMFILE or EIO, ``PermissionError``, ``MemoryError``) is raised as it is
        and the entry is kept.
        """
        from transvis.features.featureset import FeatureSet

        key = self.key_of(parts_or_key)
        entry = self.root / key
        replaced = False
        for _attempt in range(3):
            if not entry.is_dir() and not self._restore_parked(key):
                return None
            sidecar = None
            try:
                sidecar = (entry / "meta.json").read_text(encoding="utf-8")
                meta = self._read_meta(entry, sidecar)
                arrays = self._read_arrays(entry, meta)
                return FeatureSet(
                    features=arrays["features"], labels=arrays["labels"], class_names=list(meta["class_names"]),
                    model_id=meta["model_id"], dataset_id=meta["dataset_id"],
                    source_probs=arrays.get("source_probs"), layer=meta["layer"],
                    meta=meta.get("featureset_meta") or {},
                )
            except FileNotFoundError as exc:
                problem = f"missing file {Path(exc.filename or '?').name}"
            except _DAMAGE_ERRORS as exc:
                problem = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # the machine's trouble (EMFILE, EIO, MemoryError), not the entry's: keep it
                if hasattr(exc, "add_note"):
                    exc.add_note(f"(while reading feature cache entry {key}; the entry was kept)")
                raise
            if not entry.is_dir():  # deleted by another process while we read: a plain miss
                return None
            replaced = self._replaced_since(entry, sidecar)
            if not replaced:
                break
            # another process swapped in a new entry (put with overwrite) while we read: read again
        if replaced:  # still being replaced under us: a miss now, but nothing here is known to be damaged
            return None
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

    @staticmethod
    def _read_meta(entry: Path, sidecar: str) -> dict:
        """The parsed sidecar, checked against itself: its digest (when it has one), its key parts against the
        folder name, and the model / dataset / layer it names against those parts. Raises ``_Damage``."""
        meta = json.loads(sidecar)
        if not isinstance(meta, dict):
            raise _Damage("meta.json is not a JSON object")
        if meta.get("format") != FORMAT_VERSION:
            raise _Damage(f"entry format {meta.get('format')!r}, expected {FORMAT_VERSION}")
        if meta.get("key") != entry.name:
            raise _Damage("sidecar key does not match the entry folder")
        if "meta_sha256" in meta and meta["meta_sha256"] != _meta_digest(meta):
            raise _Damage("meta.json was changed after the entry was written (its SHA-256 does not match)")
        parts = meta["parts"]
        if store_key(parts) != entry.name:
            raise _Damage("the key parts in meta.json do not hash to the entry's key")
        for name in ("model_id", "dataset_id", "layer"):
            if meta[name] != parts[name]:
                raise _Damage(f"meta.json's {name} {meta[name]!r} differs from its key part {parts[name]!r}")
        if not isinstance(meta["class_names"], list):
            raise _Damage("meta.json's class_names is not a list")
        return meta

    def _read_arrays(self, entry: Path, meta: dict) -> dict[str, np.ndarray]:
        arrays = {}
        for name in _ARRAYS:
            shape = meta["shapes"].get(name)
            if shape is None:
                continue
            path = entry / f"{name}.npy"
            record = meta["files"][f"{name}.npy"]
            size = path.stat().st_size
            if size != record["bytes"]:
                raise _Damage(f"{path.name} has {size} bytes, expected {record['bytes']}")
            if self.verify and _sha256_file(path) != record["sha256"]:
                raise _Damage(f"{path.name} checksum mismatch")
            with open(path, "rb") as fh:  # the header first: a damaged one must not make numpy allocate
                header_shape, fortran, dtype = _read_npy_header(fh)
                if list(header_shape) != list(shape) or fortran or dtype != _ARRAY_DTYPES[name]:
                    raise _Damage(f"{path.name} holds {dtype} {header_shape}, expected {_ARRAY_DTYPES[name]} "
                                  f"{tuple(shape)}")
                if fh.tell() + dtype.itemsize * int(np.prod(shape)) != size:
                    raise _Damage(f"{path.name} has {size} bytes, not those of its header")
                array = np.fromfile(fh, dtype=dtype, count=int(np.prod(shape))).reshape(shape)
            arrays[name] = array
        if "features" not in arrays or "labels" not in arrays:
            raise _Damage("entry lacks features or labels")
        if not np.all(np.isfinite(arrays["features"])):
            raise _Damage("features.npy holds NaN or infinite values")
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
        _remove(self.root / _PREV)  # parked old entries of interrupted overwrites: not to be put back
        count = sum(self._discard(p) for p in list(self.root.iterdir()) if p.is_dir() and not p.name.startswith("."))
        self.sweep(max_age_s=0)
        return count

    def total_bytes(self) -> int:
        return sum(e.size_bytes for e in self.list())

    def sweep(self, max_age_s: float = TMP_GRACE_S) -> int:
        """Remove what dead writers left behind; returns the number of folders removed (or put back).

        A temp folder goes as soon as no writer holds its lock and it is older than ``max_age_s`` (a short grace
        for a writer between ``mkdir`` and ``flock``); where locks are unavailable, once older than
        ``max(max_age_s, NO_LOCK_MAX_AGE_S)`` — or at once with ``max_age_s=0`` (``clear``). Leftover trash
        goes at once; an entry parked by an interrupted overwrite is put back when its key has no entry, else
        removed.
        """
        removed = 0
        now = time.time()
        temp = self.root / _TMP
        for path in (list(temp.iterdir()) if temp.is_dir() else []):
            try:
                age = now - path.stat().st_mtime
            except OSError:
                continue
            gone = _writer_gone(path) if path.is_dir() else True
            limit = max_age_s if gone or max_age_s == 0 else max(max_age_s, NO_LOCK_MAX_AGE_S)
            if gone is not False and age >= limit:
                _remove(path)
                removed += 1
        trash = self.root / _TRASH
        for path in (list(trash.iterdir()) if trash.is_dir() else []):
            _remove(path)
            removed += 1
        parked_folder = self.root / _PREV
        for path in (sorted(parked_folder.iterdir()) if parked_folder.is_dir() else []):
            key = path.name.split("-", 1)[0]
            if self._restore_parked(key):
                removed += 1
            elif (self.root / key).is_dir() and path.exists():
                _remove(path)
                removed += 1
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
