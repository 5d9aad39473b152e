"""The dataset record every source produces: lazily decoded images, int labels 0..C-1, class names, a stable id.

``dataset[i]`` returns ``(PIL.Image.Image in RGB, int label)``; images stay encoded (file paths) or as compact
uint8 arrays until asked for. Subsampling is stratified and deterministic, and the id of a subsample says how
it was drawn, so the id can key the feature cache.
"""

from __future__ import annotations

import abc

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image


class CorruptImageError(ValueError):
    """An image that cannot be decoded; ``path`` names it (or ``index`` for in-memory sources)."""

    def __init__(self, where: str, reason: str, index: int | None = None):
        self.where = where
        self.reason = reason
        self.index = index
        super().__init__(
            f"cannot decode image {where}: {reason}. Remove or replace the file, or drop bad images with "
            "`dataset.without(dataset.validate())`."
        )


@dataclass(frozen=True)
class BadImage:
    """One image that failed to decode during :meth:`ImageDataset.validate` (or is no image at all:
    :meth:`ImageDataset.verify`)."""

    index: int
    where: str
    reason: str


def image_file_problem(path: str) -> str | None:
    """Why the file at ``path`` is not a readable image, in words for its owner (no path, no code), or None.

    Cheap: PIL reads the header and checks the file's structure (``Image.verify``) without decoding pixels,
    so a text file named ``.png`` is caught, while a truncated image may still pass (extraction skips it).
    """
    from PIL import UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
    except UnidentifiedImageError:
        return "not an image"
    except FileNotFoundError:
        return "missing (deleted or moved since the folder was read)"
    except Exception as exc:  # noqa: BLE001 - PIL raises OSError, SyntaxError, ValueError, ...
        message = str(exc).replace(str(path), "").strip(" '\"") or type(exc).__name__
        return f"a damaged image: {message}"
    return None


def bad_image_list(bad: Sequence[BadImage], root: str | None = None, shown: int = 5) -> str:
    """The files of ``bad`` (relative to ``root`` where they lie under it), each with why it is unusable:
    ``cat/a.png (not an image), dog/b.jpg (a damaged image: …) and 3 more``."""
    def name(where: str) -> str:
        if root:
            try:
                return Path(where).resolve().relative_to(Path(root).resolve()).as_posix()
            except ValueError:
                pass
        return where

    listed = ", ".join(f"{name(b.where)} ({b.reason})" for b in bad[:shown])
    return listed + (f" and {len(bad) - shown} more" if len(bad) > shown else "")


def describe_bad_images(bad: Sequence[BadImage], total: int, root: str | None = None, shown: int = 5) -> str:
    """One sentence naming the files of ``bad`` among ``total`` with why each is unusable, e.g.
    ``2 of 6 files are not usable images: cat/a.png (not an image), dog/b.png (not an image).``"""
    files = "file is" if total == 1 else "files are"
    return f"{len(bad)} of {total:,} {files} not usable images: {bad_image_list(bad, root, shown)}."


def short_hash(*parts: object, length: int = 12) -> str:
    """Hex digest of the ``repr`` of ``parts`` (stable across runs and machines for str/int/tuples)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:length]


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL image as 8-bit RGB: grey is replicated to 3 channels, 16-bit is scaled down, and
    transparent pixels are composited on white (not left as whatever colour hides under alpha 0)."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(image, dtype=np.float64)
        scale = 257.0 if arr.max(initial=0) > 255 else 1.0
        return Image.fromarray(np.clip(arr / scale, 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode == "F":
        arr = np.asarray(image, dtype=np.float64)
        lo, hi = float(arr.min(initial=0)), float(arr.max(initial=0))
        arr = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(arr.astype(np.uint8), "L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def open_rgb(path: str) -> Image.Image:
    """Decode the image file at ``path`` as RGB; any decoding failure becomes :class:`CorruptImageError`."""
    try:
        with Image.open(path) as image:
            image.load()  # truncated files fail here, not later in a DataLoader worker
            rgb = to_rgb(image)
            return rgb.copy() if rgb is image else rgb
    except CorruptImageError:
        raise
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, DecompressionBombError, ...
        raise CorruptImageError(str(path), f"{type(exc).__name__}: {exc}") from exc


def stratified_subsample_indices(labels: np.ndarray, max_per_class: int, seed: int = 0) -> np.ndarray:
    """Sorted indices keeping at most ``max_per_class`` samples of every class (all of smaller classes).

    labels : int [N]. Each class draws from its own generator seeded by ``(seed, class)``, so the draw of
    one class does not depend on the sizes of the others. Returns int64 [M], ascending.
    """
    if int(max_per_class) < 1:
        raise ValueError(f"max_per_class must be at least 1, got {max_per_class}.")
    labels = np.asarray(labels)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if idx.size > max_per_class:
            rng = np.random.default_rng([int(seed), int(c)])
            idx = rng.choice(idx, size=int(max_per_class), replace=False)
        keep.append(idx)
    return np.sort(np.concatenate(keep)).astype(np.int64) if keep else np.zeros(0, dtype=np.int64)


def contiguous_labels(raw: Sequence | np.ndarray, class_names: Sequence[str] | None = None):
    """Map arbitrary labels to contiguous ints 0..C-1.

    With ``class_names`` the labels are indices into it; classes without samples are dropped (their names
    too). Without, classes are the sorted unique label values, named ``str(value)``.
    Returns (labels int64 [N], class_names list[str], dropped list[str]).
    """
    raw = np.asarray(raw)
    if class_names is None:
        values = np.unique(raw)
        return np.searchsorted(values, raw).astype(np.int64), [str(v) for v in values], []
    present = np.unique(raw)
    if raw.size and (present.min() < 0 or present.max() >= len(class_names)):
        raise ValueError(
            f"labels must index the {len(class_names)} class names (0..{len(class_names) - 1}); "
            f"found values {present.min()}..{present.max()}."
        )
    present_set = set(present.tolist())
    dropped = [str(class_names[c]) for c in range(len(class_names)) if c not in present_set]
    names = [str(class_names[c]) for c in present]
    return np.searchsorted(present, raw).astype(np.int64), names, dropped


class ImageDataset(abc.ABC):
    """Images + int64 labels 0..C-1 + class names, with a stable ``dataset_id`` (abstract base).

    Subclasses implement :meth:`load_image` (and :meth:`describe` for nicer error messages).
    ``warnings`` lists what was skipped or looks odd (for the user, not ``warnings.warn``).
    """

    labels: np.ndarray
    class_names: list[str]
    dataset_id: str
    subset_spec: str | None = None  # how a subset was drawn from its source, e.g. "max100-seed0"

    def __init__(self, labels, class_names: Sequence[str], dataset_id: str, warnings: Sequence[str] = ()):
        self.labels = np.asarray(labels, dtype=np.int64)
        self.class_names = [str(n) for n in class_names]
        self.dataset_id = str(dataset_id)
        self.warnings = list(warnings)
        if self.labels.ndim != 1:
            raise ValueError(f"labels must be 1-D, got shape {self.labels.shape}.")
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise ValueError("labels must lie in 0..C-1 for the C class names.")

    # -- what subclasses provide -------------------------------------------------------------------
    @abc.abstractmethod
    def load_image(self, index: int) -> Image.Image:
        """Decode image ``index`` (subclasses: arrays, files, torchvision datasets, subsets)."""

    def describe(self, index: int) -> str:
        """Where image ``index`` comes from (a path, or an index into an array)."""
        return f"#{index} of {self.dataset_id}"

    def image_problem(self, index: int) -> str | None:
        """Why image ``index`` is not a usable image, found cheaply (see :func:`image_file_problem`); None
        when it looks fine. Sources other than user files (arrays, built-ins, torchvision) are trusted."""
        return None

    @property
    def source_root(self) -> str | None:
        """The folder the images' files lie under (to name them relative to it), or None."""
        return None

    # -- the common interface ----------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> tuple[Image.Image, int]:
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images.")
        index %= len(self)
        return self.load_image(index), int(self.labels[index])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(id={self.dataset_id!r}, n={len(self)}, classes={self.num_classes}"
            + (f", warnings={len(self.warnings)}" if self.warnings else "")
            + ")"
        )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def class_counts(self) -> np.ndarray:
        """int64 [C]: number of images per class."""
        return np.bincount(self.labels, minlength=self.num_classes).astype(np.int64)

    def select(self, indices, tag: str) -> "ImageDataset":
        """The images at ``indices`` (in that order) as a dataset whose id is ``<this id>/<tag>``."""
        subset = SubsetImageDataset(self, indices, f"{self.dataset_id}/{tag}")
        subset.subset_spec = f"{self.subset_spec}/{tag}" if self.subset_spec else tag
        return subset

    def subsample(self, max_per_class: int | None, seed: int = 0) -> "ImageDataset":
        """At most ``max_per_class`` images per class, drawn deterministically from ``seed`` (stratified).

        ``None`` returns the dataset itself. The result's id ends in ``/max<N>-seed<S>`` and its
        ``subset_spec`` is ``"max<N>-seed<S>"`` (the store key's ``subsample`` part).
        """
        if max_per_class is None:
            return self
        indices = stratified_subsample_indices(self.labels, int(max_per_class), seed)
        return self.select(indices, f"max{int(max_per_class)}-seed{int(seed)}")

    def validate(self, progress: Callable[[int, int], None] | None = None) -> list[BadImage]:
        """Decode every image once; return the ones that fail (empty list when all decode).

        ``progress(done, total)`` is called every 256 images and at the end.
        """
        bad = []
        total = len(self)
        for i in range(total):
            try:
                self.load_image(i)
            except CorruptImageError as exc:
                bad.append(BadImage(i, exc.where, exc.reason))
            if progress is not None and ((i + 1) % 256 == 0 or i + 1 == total):
                progress(i + 1, total)
        return bad

    def verify(self) -> list[BadImage]:
        """The images that are no usable image files, found cheaply (header and structure, no decoding: a
        few milliseconds per file); empty when all look fine. For checking a dataset when it is inspected,
        before anything is extracted; :meth:`validate` decodes every image (slower, catches truncation)."""
        return [BadImage(i, self.describe(i), why) for i in range(len(self))
                if (why := self.image_problem(i)) is not None]

    def without(self, bad: Sequence[BadImage | int]) -> "ImageDataset":
        """This dataset minus the images in ``bad`` (from :meth:`validate`); itself when ``bad`` is empty."""
        drop = {b.index if isinstance(b, BadImage) else int(b) for b in bad}
        if not drop:
            return self
        keep = np.array([i for i in range(len(self)) if i not in drop], dtype=np.int64)
        subset = self.select(keep, f"without-{short_hash(tuple(sorted(drop)), length=8)}")
        subset.warnings.append(f"dropped {len(drop)} image(s) that could not be decoded")
        return subset


class ArrayImageDataset(ImageDataset):
    """Images held as one uint8 array [N, H, W] (grey) or [N, H, W, 3] (RGB)."""

    def __init__(self, images: np.ndarray, labels, class_names, dataset_id: str, warnings: Sequence[str] = ()):
        super().__init__(labels, class_names, dataset_id, warnings)
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] != 3):
            raise ValueError(f"images must be uint8 [N, H, W] or [N, H, W, 3]; got {images.dtype} {images.shape}.")
        if images.shape[0] != len(self.labels):
            raise ValueError(f"{images.shape[0]} images but {len(self.labels)} labels.")
        self.images = images

    def load_image(self, index: int) -> Image.Image:
        array = self.images[index]
        return Image.fromarray(array, "L" if array.ndim == 2 else "RGB").convert("RGB")

    def describe(self, index: int) -> str:
        return f"#{index} of {self.dataset_id}"

    def validate(self, progress: Callable[[int, int], None] | None = None) -> list[BadImage]:
        """In-memory uint8 arrays always decode."""
        if progress is not None:
            progress(len(self), len(self))
        return []


class FileImageDataset(ImageDataset):
    """Images as files on disk, decoded on access; ``paths[i]`` is an absolute path."""

    def __init__(self, paths: Sequence[str], labels, class_names, dataset_id: str, root: str | None = None,
                 warnings: Sequence[str] = ()):
        super().__init__(labels, class_names, dataset_id, warnings)
        self.paths = [str(p) for p in paths]
        self.root = root
        if len(self.paths) != len(self.labels):
            raise ValueError(f"{len(self.paths)} paths but {len(self.labels)} labels.")

    def load_image(self, index: int) -> Image.Image:
        return open_rgb(self.paths[index])

    def describe(self, index: int) -> str:
        return self.paths[index]

    def image_problem(self, index: int) -> str | None:
        return image_file_problem(self.paths[index])

    @property
    def source_root(self) -> str | None:
        return self.root


class SubsetImageDataset(ImageDataset):
    """A view of ``base`` at ``indices``; classes left without images are dropped and labels renumbered."""

    def __init__(self, base: ImageDataset, indices, dataset_id: str):
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= len(base)):
            raise ValueError(f"subset indices must lie in 0..{len(base) - 1}.")
        labels, names, dropped = contiguous_labels(base.labels[indices], base.class_names)
        warnings = list(base.warnings)
        if dropped:
            warnings.append(f"classes without images in this subset were dropped: {', '.join(dropped)}")
        super().__init__(labels, names, dataset_id, warnings)
        self.base = base
        self.indices = indices

    def load_image(self, index: int) -> Image.Image:
        try:
            return self.base.load_image(int(self.indices[index]))
        except CorruptImageError as exc:
            raise CorruptImageError(exc.where, exc.reason, index=index) from exc

    def describe(self, index: int) -> str:
        return self.base.describe(int(self.indices[index]))

    def image_problem(self, index: int) -> str | None:
        return self.base.image_problem(int(self.indices[index]))

    @property
    def source_root(self) -> str | None:
        return self.base.source_root

    @property
    def root_indices(self) -> np.ndarray:
        """int64 [N]: indices of these images in the outermost (non-subset) dataset."""
        base, idx = self.base, self.indices
        while isinstance(base, SubsetImageDataset):
            idx = base.indices[idx]
            base = base.base
        return idx
