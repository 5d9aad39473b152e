"""torchvision's classification datasets by name, from a local root, downloading only when missing.

    load_torchvision_dataset("cifar10", root="~/data", split="train")

The local copy is tried first (no network touched); when it is missing and ``download=True`` torchvision
downloads it; offline, the error says where to put the files. Sets whose images torchvision keeps as arrays
(CIFAR, SVHN, STL10, the MNISTs) become :class:`ArrayImageDataset`; the rest decode lazily through the
torchvision object.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from .base import ArrayImageDataset, ImageDataset, contiguous_labels, to_rgb

# lower-case name -> (torchvision class, how it takes a split, its split names)
TORCHVISION_DATASETS = {
    "cifar10": ("CIFAR10", "train_flag", ("train", "test")),
    "cifar100": ("CIFAR100", "train_flag", ("train", "test")),
    "mnist": ("MNIST", "train_flag", ("train", "test")),
    "kmnist": ("KMNIST", "train_flag", ("train", "test")),
    "flowers102": ("Flowers102", "split", ("train", "val", "test")),
    "oxfordiiitpet": ("OxfordIIITPet", "split", ("trainval", "test")),
    "dtd": ("DTD", "split", ("train", "val", "test")),
    "food101": ("Food101", "split", ("train", "test")),
    "stanfordcars": ("StanfordCars", "split", ("train", "test")),
    "fgvcaircraft": ("FGVCAircraft", "split", ("train", "val", "trainval", "test")),
    "svhn": ("SVHN", "split", ("train", "test", "extra")),
    "stl10": ("STL10", "split", ("train", "test")),
    "gtsrb": ("GTSRB", "split", ("train", "test")),
    "country211": ("Country211", "split", ("train", "valid", "test")),
    "imagenette": ("Imagenette", "split", ("train", "val")),
    "caltech101": ("Caltech101", "none", ()),
    "caltech256": ("Caltech256", "none", ()),
    "eurosat": ("EuroSAT", "none", ()),
    "sun397": ("SUN397", "none", ()),
}
ALIASES = {"pets": "oxfordiiitpet", "oxford-pets": "oxfordiiitpet", "flowers": "flowers102",
           "aircraft": "fgvcaircraft", "cars": "stanfordcars", "food": "food101", "cifar-10": "cifar10",
           "cifar-100": "cifar100"}


def canonical_torchvision_name(name: str) -> str | None:
    """The table key for ``name`` (case, dashes, underscores and a ``torchvision:`` prefix ignored), or None."""
    key = name.strip().lower()
    key = key.split(":", 1)[1] if key.startswith("torchvision:") else key
    key = ALIASES.get(key, key)
    key = key.replace("-", "").replace("_", "")
    return key if key in TORCHVISION_DATASETS else None


def default_torchvision_root() -> Path:
    from transvis.store.paths import cache_dir

    return cache_dir() / "datasets" / "torchvision"


class TorchvisionImageDataset(ImageDataset):
    """Lazily decoded images of a torchvision dataset object (anything with ``ds[i] -> (image, target)``)."""

    def __init__(self, source, labels, class_names, dataset_id: str, warnings=()):
        super().__init__(labels, class_names, dataset_id, warnings)
        self.source = source

    def load_image(self, index: int) -> Image.Image:
        image = self.source[index][0]
        if not isinstance(image, Image.Image):
            raise ValueError(
                f"{self.dataset_id} returned a {type(image).__name__}, not a PIL image; build the torchvision "
                "dataset without a transform."
            )
        return to_rgb(image)


def _targets(ds) -> np.ndarray:
    for attr in ("targets", "_labels", "labels", "y"):
        value = getattr(ds, attr, None)
        if value is not None and len(value) == len(ds):
            return np.asarray([int(v) for v in value], dtype=np.int64)
    samples = getattr(ds, "_samples", None)
    if samples is not None and len(samples) == len(ds):
        return np.asarray([int(s[1]) for s in samples], dtype=np.int64)
    return np.asarray([int(ds[i][1]) for i in range(len(ds))], dtype=np.int64)  # slow but always works


def _class_names(ds, n_classes: int) -> list[str]:
    names = getattr(ds, "classes", None) or getattr(ds, "categories", None)
    if names is not None and len(names) >= n_classes:
        return [str(n) for n in names]
    return [str(c) for c in range(n_classes)]


def _image_array(ds) -> np.ndarray | None:
    """uint8 [N, H, W] or [N, H, W, 3] when torchvision holds the images as one array, else None."""
    data = getattr(ds, "data", None)
    if data is None or not hasattr(data, "shape") or len(data) != len(ds):
        return None
    array = data.numpy() if hasattr(data, "numpy") else np.asarray(data)
    if array.dtype != np.uint8:
        return None
    if array.ndim == 4 and array.shape[1] == 3 and array.shape[-1] != 3:  # SVHN, STL10: [N, 3, H, W]
        array = np.ascontiguousarray(array.transpose(0, 2, 3, 1))
    if array.ndim == 3 or (array.ndim == 4 and array.shape[-1] == 3):
        return array
    return None


def from_torch_dataset(ds, dataset_id: str, class_names=None) -> ImageDataset:
    """Wrap any torchvision-style classification dataset (``ds[i] -> (PIL image, int)``)."""
    targets = _targets(ds)
    if class_names is None:
        class_names = _class_names(ds, int(targets.max()) + 1 if targets.size else 0)
    labels, names, _ = contiguous_labels(targets, class_names)
    images = _image_array(ds)
    if images is not None:
        return ArrayImageDataset(images, labels, names, dataset_id)
    return TorchvisionImageDataset(ds, labels, names, dataset_id)


def load_torchvision_dataset(name: str, root: str | os.PathLike | None = None, split: str = "train",
                             download: bool = True) -> ImageDataset:
    """A torchvision dataset by name (see ``TORCHVISION_DATASETS``) from ``root``.

    root : defaults to ``<cache>/datasets/torchvision``.
    split : one of the dataset's split names ("train"/"test" for most; Pets: "trainval"/"test"; sets without
        splits take "all"). "train" is accepted for Pets (meaning "trainval").
    The id is ``torchvision:<name>:<split>``.
    """
    key = canonical_torchvision_name(name)
    if key is None:
        raise ValueError(
            f"unknown torchvision dataset {name!r}; supported: {', '.join(sorted(TORCHVISION_DATASETS))}."
        )
    class_name, split_style, splits = TORCHVISION_DATASETS[key]
    if key == "oxfordiiitpet" and split == "train":
        split = "trainval"
    kwargs = {}
    if split_style == "none":
        if split not in ("all", "train"):
            raise ValueError(f"{class_name} has no predefined splits; use split='all'.")
        split = "all"
    elif split not in splits:
        raise ValueError(f"{class_name} split must be one of {', '.join(splits)}; got {split!r}.")
    elif split_style == "train_flag":
        kwargs["train"] = split == "train"
    else:
        kwargs["split"] = split
    root = Path(root).expanduser() if root is not None else default_torchvision_root()

    import torchvision.datasets

    cls = getattr(torchvision.datasets, class_name)
    try:
        ds = cls(root=str(root), download=False, **kwargs)
    except Exception as local_exc:  # noqa: BLE001 - torchvision raises RuntimeError/FileNotFoundError/...
        if not download:
            raise ValueError(_offline_message(class_name, root, split, local_exc)) from local_exc
        try:
            root.mkdir(parents=True, exist_ok=True)
            ds = cls(root=str(root), download=True, **kwargs)
        except Exception as exc:  # noqa: BLE001 - no network, server gone, disk full, ...
            raise ValueError(_offline_message(class_name, root, split, exc)) from exc
    return from_torch_dataset(ds, f"torchvision:{key}:{split}")


def _offline_message(class_name: str, root: Path, split: str, exc: Exception) -> str:
    return (
        f"torchvision dataset {class_name} ({split}) is not under {root} and could not be downloaded "
        f"({type(exc).__name__}: {exc}). On a machine with network run "
        f"`python -c \"import torchvision; torchvision.datasets.{class_name}(root='data', download=True)\"`, copy "
        f"the resulting folder's contents to {root} (or pass root=<that folder>), and try again."
    )
