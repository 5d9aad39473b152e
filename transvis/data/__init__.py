"""Datasets: images + int labels 0..C-1 + class names + a stable id, from five kinds of source.

    from transvis.data import load_dataset
    ds = load_dataset("fashion-mnist").subsample(100, seed=0)      # built-in, offline
    image, label = ds[0]                                            # PIL RGB image, int
    load_dataset("cifar10", root="~/data", split="train")          # torchvision by name
    load_dataset("path/to/folder")                                  # root/<class>/<image>
    load_dataset("upload.zip")                                      # zip of such a folder
    load_dataset("features.npz")                                    # precomputed -> FeatureSet

Class order: built-in and torchvision sets keep their official label order; folders, zips and string labels
in ``.npz`` files sort class names (Python string order). What was skipped is listed in ``ds.warnings``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import (
    ArrayImageDataset,
    BadImage,
    CorruptImageError,
    FileImageDataset,
    ImageDataset,
    SubsetImageDataset,
    describe_bad_images,
    image_file_problem,
    open_rgb,
    stratified_subsample_indices,
    to_rgb,
)
from .check import CheckedDataset, check_dataset
from .builtin import (
    list_builtin_datasets,
    load_builtin,
    load_digits,
    load_fashion_mnist,
    load_mnist_5k,
)
from .features_npz import load_feature_npz
from .folder import IMAGE_EXTENSIONS, load_image_folder, load_image_zip, single_class_message
from .torchvision_datasets import (
    TORCHVISION_DATASETS,
    canonical_torchvision_name,
    from_torch_dataset,
    load_torchvision_dataset,
)

__all__ = [
    "ArrayImageDataset",
    "BadImage",
    "CheckedDataset",
    "CorruptImageError",
    "FileImageDataset",
    "IMAGE_EXTENSIONS",
    "ImageDataset",
    "SubsetImageDataset",
    "TORCHVISION_DATASETS",
    "check_dataset",
    "describe_bad_images",
    "from_torch_dataset",
    "image_file_problem",
    "list_builtin_datasets",
    "list_torchvision_datasets",
    "load_builtin",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_feature_npz",
    "load_image_folder",
    "load_image_zip",
    "load_mnist_5k",
    "load_torchvision_dataset",
    "open_rgb",
    "single_class_message",
    "stratified_subsample_indices",
    "to_rgb",
]


def list_torchvision_datasets() -> list[str]:
    """Names accepted by :func:`load_torchvision_dataset` (also as ``torchvision:<name>``)."""
    return sorted(TORCHVISION_DATASETS)


def _builtin_key(name: str) -> str | None:
    key = name.strip().lower().replace("_", "-")
    aliases = {"fashionmnist": "fashion-mnist", "mnist5k": "mnist-5k", "sklearn-digits": "digits"}
    key = aliases.get(key, key)
    return key if key in list_builtin_datasets() else None


def load_dataset(source, **kwargs):
    """Load a dataset from any supported source; returns an :class:`ImageDataset` (or a ``FeatureSet`` for
    ``.npz`` features).

    source : a built-in name (:func:`list_builtin_datasets`), a torchvision name (``"cifar10"`` or
        ``"torchvision:CIFAR10"``; kwargs ``root``, ``split``, ``download``), a folder path, a ``.zip``
        path, or a ``.npz`` path. Bytes / file objects are read as a zip, or as an ``.npz`` when their name
        ends in ``.npz`` (or ``kind="npz"``).
    kwargs : passed to the specific loader; ``max_per_class`` and ``seed`` (for image datasets) subsample.
    """
    max_per_class = kwargs.pop("max_per_class", None)
    seed = kwargs.pop("seed", 0)
    kind = kwargs.pop("kind", None)
    dataset = _load(source, kind, kwargs)
    if isinstance(dataset, ImageDataset):
        return dataset.subsample(max_per_class, seed)
    if max_per_class is not None:
        raise ValueError("max_per_class applies to image datasets; subsample .npz features before saving them.")
    return dataset


def _load(source, kind, kwargs):
    if isinstance(source, (bytes, bytearray)) or hasattr(source, "read"):
        name = str(getattr(source, "name", "") or "")
        if kind == "npz" or name.lower().endswith(".npz"):
            return load_feature_npz(source, **kwargs)
        return load_image_zip(source, **kwargs)
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError(f"cannot load a dataset from a {type(source).__name__}; pass a name or a path.")
    text = str(source)
    if kind in (None, "builtin") and (key := _builtin_key(text)) is not None:
        return load_builtin(key, **kwargs)
    if kind in (None, "torchvision") and canonical_torchvision_name(text) is not None and not Path(text).exists():
        return load_torchvision_dataset(text, **kwargs)
    path = Path(text).expanduser()
    if (path.is_dir() or path.is_file()) and kwargs.get("split") is not None:
        raise ValueError(f"{path} is a file or folder, which has no splits; drop split={kwargs['split']!r} "
                         "(--split): put each split in its own folder.")
    if path.is_dir():
        return load_image_folder(path, **kwargs)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".zip" or kind == "zip":
            return load_image_zip(path, **kwargs)
        if suffix == ".npz" or kind == "npz":
            return load_feature_npz(path, **kwargs)
        raise ValueError(f"{path} is neither a .zip of images nor a .npz of features.")
    raise ValueError(
        f"no dataset {text!r}: not a built-in ({', '.join(list_builtin_datasets())}), not a torchvision name "
        f"({', '.join(list_torchvision_datasets())}), and no such file or folder."
    )
