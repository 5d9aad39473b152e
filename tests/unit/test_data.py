"""Datasets: built-ins, stratified subsampling, image folders, zips (incl. zip slip), .npz features, torchvision."""

import io
import os
import stat
import zipfile

import numpy as np
import pytest
from PIL import Image

from transvis.data import (
    ArrayImageDataset,
    CorruptImageError,
    list_builtin_datasets,
    load_dataset,
    load_feature_npz,
    load_image_folder,
    load_image_zip,
    load_torchvision_dataset,
    stratified_subsample_indices,
    to_rgb,
)
from transvis.data.builtin import FASHION_MNIST_CLASSES, read_idx, upsample_digits
from transvis.data.torchvision_datasets import from_torch_dataset


def _save_image(path, value=128, size=(12, 10), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    fill = value if mode == "L" else (value, 255 - value, 0)
    Image.new(mode, size, fill).save(path)


@pytest.fixture()
def folder(tmp_path):
    root = tmp_path / "animals"
    for i in range(3):
        _save_image(root / "dog" / f"d{i}.png", 10 * i)
    for i in range(2):
        _save_image(root / "cat" / "sub" / f"c{i}.jpg", 100 + i)  # nested inside the class folder
    _save_image(root / "zebra" / "only.bmp", 200)
    (root / "empty_class").mkdir()
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "cat" / ".DS_Store").write_bytes(b"\0")
    _save_image(root / "loose.png", 50)
    return root


# -- built-ins ---------------------------------------------------------------------------------------

def test_builtins_are_listed_and_load_offline():
    assert set(list_builtin_datasets()) >= {"fashion-mnist", "mnist-5k", "digits"}
    fm = load_dataset("fashion-mnist", split="test")
    assert len(fm) == 10_000 and fm.dataset_id == "fashion-mnist:test"
    assert fm.class_names == FASHION_MNIST_CLASSES
    assert np.array_equal(fm.class_counts(), np.full(10, 1000))
    image, label = fm[0]
    assert image.mode == "RGB" and image.size == (28, 28) and label == 9  # the first test image is an ankle boot
    r, g, b = (np.asarray(image)[..., k] for k in range(3))
    assert np.array_equal(r, g) and np.array_equal(g, b)  # grey replicated to 3 channels

    mnist = load_dataset("mnist-5k")
    assert len(mnist) == 5000 and mnist.class_names == [str(d) for d in range(10)]
    assert np.array_equal(mnist.class_counts(), np.full(10, 500))
    assert isinstance(mnist.images, np.ndarray) and mnist.images.dtype == np.uint8  # stays compact

    digits = load_dataset("digits")
    assert len(digits) == 1797 and digits[0][0].size == (32, 32)


def test_fashion_mnist_auto_uses_vendored_test_split_without_debian(tmp_path):
    from transvis.data import load_fashion_mnist

    ds = load_fashion_mnist(split="auto", debian_dir=tmp_path)
    assert ds.dataset_id == "fashion-mnist:test"
    with pytest.raises(ValueError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(split="all", debian_dir=tmp_path)


def test_fashion_mnist_reads_all_70k_layout_from_debian_package(tmp_path):
    import shutil

    from transvis.data import load_fashion_mnist
    from transvis.data.builtin import ASSETS_DIR

    vendored = ASSETS_DIR / "fashion-mnist"
    for kind in ("images-idx3", "labels-idx1"):  # the test split stands in for Debian's train files
        shutil.copy(vendored / f"t10k-{kind}-ubyte.gz", tmp_path / f"t10k-{kind}-ubyte.gz")
        shutil.copy(vendored / f"t10k-{kind}-ubyte.gz", tmp_path / f"train-{kind}-ubyte.gz")
    full = load_fashion_mnist(debian_dir=tmp_path)
    assert full.dataset_id == "fashion-mnist:all" and len(full) == 20_000
    assert np.array_equal(full.class_counts(), np.full(10, 2000))
    assert load_fashion_mnist(split="train", debian_dir=tmp_path).dataset_id == "fashion-mnist:train"


def test_read_idx_rejects_truncated_file(tmp_path):
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (2).to_bytes(4, "big") + (2).to_bytes(4, "big")
                     + bytes(5))
    with pytest.raises(ValueError, match="truncated"):
        read_idx(path)


def test_digits_upsampling_keeps_a_blank_border_and_full_range():
    images = np.zeros((1, 8, 8))
    images[0, 2:6, 3:5] = 16
    out = upsample_digits(images)
    assert out.shape == (1, 32, 32) and out.dtype == np.uint8
    assert out[0, :4].max() == 0 and out[0, :, :4].max() == 0  # the pad
    assert out[0].max() >= 250


# -- subsampling -------------------------------------------------------------------------------------

def test_stratified_subsample_counts_and_determinism():
    labels = np.repeat([0, 1, 2], [50, 7, 30])
    a = stratified_subsample_indices(labels, 10, seed=3)
    b = stratified_subsample_indices(labels, 10, seed=3)
    c = stratified_subsample_indices(labels, 10, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(np.bincount(labels[a]), [10, 7, 10])
    assert np.all(np.diff(a) > 0)
    # a class's draw does not depend on the other classes' sizes
    other = np.repeat([0, 1, 2], [50, 9, 30])
    d = stratified_subsample_indices(other, 10, seed=3)
    assert np.array_equal(a[labels[a] == 0], d[other[d] == 0])
    with pytest.raises(ValueError, match="at least 1"):
        stratified_subsample_indices(labels, 0)


def test_subsample_dataset_id_and_images():
    ds = load_dataset("mnist-5k")
    sub = ds.subsample(20, seed=1)
    assert sub.dataset_id == "mnist-5k/max20-seed1" and len(sub) == 200
    assert ds.subset_spec is None and sub.subset_spec == "max20-seed1"
    assert np.array_equal(sub.class_counts(), np.full(10, 20))
    idx = sub.root_indices
    assert np.array_equal(np.asarray(sub[5][0]), np.asarray(ds[int(idx[5])][0]))
    assert sub[5][1] == ds.labels[idx[5]]
    assert load_dataset("mnist-5k", max_per_class=20, seed=1).dataset_id == sub.dataset_id
    assert ds.subsample(None) is ds
    nested = sub.subsample(5, seed=0)
    assert nested.dataset_id == "mnist-5k/max20-seed1/max5-seed0" and len(nested) == 50
    assert nested.subset_spec == "max20-seed1/max5-seed0"
    assert np.all(np.isin(nested.root_indices, idx))


# -- image folders -----------------------------------------------------------------------------------

def test_image_folder_classes_sorted_skips_and_warnings(folder):
    ds = load_image_folder(folder)
    assert ds.class_names == ["cat", "dog", "zebra"]  # empty_class dropped, sorted
    assert np.array_equal(ds.class_counts(), [2, 3, 1])
    assert ds.dataset_id.startswith("folder:animals:")
    text = "\n".join(ds.warnings)
    assert "1 non-image file" in text and "notes.txt" in text and "DS_Store" not in text
    assert "empty_class" in text and "single image" in text and "zebra" in text
    assert "outside any class folder" in text and "loose.png" in text
    image, label = ds[0]
    assert image.mode == "RGB" and label == 0
    # the id depends on the content, not the location
    moved = folder.parent / "elsewhere"
    folder.rename(moved)
    assert load_image_folder(moved, name="animals").dataset_id == ds.dataset_id


def test_corrupt_image_raises_clear_error_and_is_found_by_validate(folder):
    bad = folder / "dog" / "d1.png"
    bad.write_bytes(bad.read_bytes()[:40])  # truncated PNG
    (folder / "dog" / "fake.jpg").write_bytes(b"this is no jpeg")
    ds = load_image_folder(folder)
    bad_index = ds.paths.index(str(bad.resolve()))
    with pytest.raises(CorruptImageError, match="d1.png"):
        ds[bad_index]
    found = ds.validate()
    assert sorted(os.path.basename(b.where) for b in found) == ["d1.png", "fake.jpg"]
    clean = ds.without(found)
    assert len(clean) == len(ds) - 2 and clean.validate() == []
    assert clean.dataset_id != ds.dataset_id and any("dropped 2" in w for w in clean.warnings)


def test_truncated_jpeg_is_reported(tmp_path):
    root = tmp_path / "ds"
    for cls in ("a", "b"):
        _save_image(root / cls / "ok.jpg", 90, size=(64, 64))
    good = (root / "a" / "ok.jpg").read_bytes()
    (root / "b" / "cut.jpg").write_bytes(good[: len(good) // 2])
    ds = load_image_folder(root)
    assert [os.path.basename(b.where) for b in ds.validate()] == ["cut.jpg"]


def test_folder_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        load_image_folder(tmp_path / "missing")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match="no images found"):
        load_image_folder(tmp_path)
    flat = tmp_path / "flat"
    _save_image(flat / "x.png")
    with pytest.raises(ValueError, match="no class folders"):
        load_image_folder(flat)
    one = tmp_path / "one"
    _save_image(one / "only" / "x.png")
    with pytest.raises(ValueError, match="at least two"):
        load_image_folder(one)


def test_to_rgb_modes():
    grey = to_rgb(Image.new("L", (3, 3), 77))
    assert grey.mode == "RGB" and np.asarray(grey)[0, 0].tolist() == [77, 77, 77]
    transparent = to_rgb(Image.new("RGBA", (3, 3), (0, 0, 0, 0)))
    assert np.asarray(transparent)[0, 0].tolist() == [255, 255, 255]  # composited on white
    deep = Image.fromarray(np.full((3, 3), 65535, dtype=np.uint16))
    assert np.asarray(to_rgb(deep))[0, 0].tolist() == [255, 255, 255]


# -- zips ----------------------------------------------------------------------------------------------

def _zip_bytes(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _png(value):
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (value, value, value)).save(buf, format="PNG")
    return buf.getvalue()


def test_zip_with_single_top_folder(tmp_path):
    data = _zip_bytes({"pets/cat/1.png": _png(1), "pets/cat/2.png": _png(2), "pets/dog/3.png": _png(3),
                       "__MACOSX/pets/._1.png": b"junk"})
    path = tmp_path / "pets.zip"
    path.write_bytes(data)
    ds = load_dataset(path, extract_dir=tmp_path / "x")
    assert ds.class_names == ["cat", "dog"] and len(ds) == 3
    assert ds.dataset_id.startswith("zip:pets:")
    # raw bytes (as uploaded) give the same id; the extracted copy is reused
    again = load_image_zip(data, name="pets", extract_dir=tmp_path / "x")
    assert again.dataset_id == ds.dataset_id and np.asarray(again[2][0])[0, 0, 0] == 3


@pytest.mark.parametrize("evil", ["../evil.png", "/etc/evil.png", "a/../../evil.png", "C:/evil.png"])
def test_zip_slip_is_rejected_before_writing(tmp_path, evil):
    data = _zip_bytes({"cls/ok.png": _png(5), evil: _png(6)})
    target = tmp_path / "out"
    with pytest.raises(ValueError, match="zip slip"):
        load_image_zip(data, extract_dir=target)
    assert not target.exists() and not (tmp_path / "evil.png").exists()
    assert not any(p.name == "ok.png" for p in tmp_path.rglob("*"))


def test_zip_symlink_entry_is_rejected(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a/1.png", _png(1))
        link = zipfile.ZipInfo("a/link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(ValueError, match="symbolic link"):
        load_image_zip(buf.getvalue(), extract_dir=tmp_path / "out")


def test_zip_without_images_and_non_zip(tmp_path):
    with pytest.raises(ValueError, match="no images found"):
        load_image_zip(_zip_bytes({"a/readme.txt": b"x", "b/notes.md": b"y"}), extract_dir=tmp_path / "a")
    with pytest.raises(ValueError, match="not a valid zip"):
        load_image_zip(b"definitely not a zip", extract_dir=tmp_path / "b")


def test_zip_extracts_under_transvis_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path / "cache"))
    ds = load_image_zip(_zip_bytes({"x/1.png": _png(1), "y/2.png": _png(2)}))
    assert str(tmp_path / "cache" / "datasets") in ds.root
    assert not any(p.name.startswith(".tmp-") for p in (tmp_path / "cache" / "datasets").iterdir())


# -- precomputed features ------------------------------------------------------------------------------

def test_npz_features_with_string_labels_and_logits(tmp_path):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4))
    path = tmp_path / "resnet.npz"
    np.savez(path, features=rng.normal(size=(6, 3)), labels=np.array(["b", "a", "c", "a", "b", "c"]),
             source_logits=logits)
    fs = load_dataset(path)
    assert fs.class_names == ["a", "b", "c"] and fs.labels.tolist() == [1, 0, 2, 0, 1, 2]
    assert fs.model_id == "resnet" and fs.dataset_id.startswith("npz:resnet:")
    assert fs.features.dtype == np.float32 and fs.features.shape == (6, 3)
    np.testing.assert_allclose(fs.source_probs.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(fs.source_probs, np.exp(logits) / np.exp(logits).sum(1, keepdims=True), rtol=1e-5)


def test_npz_int_labels_with_class_names_are_made_contiguous(tmp_path):
    path = tmp_path / "f.npz"
    np.savez(path, features=np.ones((4, 2)), labels=np.array([0, 2, 2, 0]), class_names=np.array(["x", "y", "z"]),
             model_id="m1")
    fs = load_feature_npz(path)
    assert fs.labels.tolist() == [0, 1, 1, 0] and fs.class_names == ["x", "z"] and fs.model_id == "m1"


def test_npz_errors_are_clear(tmp_path):
    p = tmp_path / "bad.npz"
    np.savez(p, features=np.ones((3, 2)))
    with pytest.raises(ValueError, match="lacks labels"):
        load_feature_npz(p)
    np.savez(p, features=np.ones((3, 2)), labels=np.array([0, 1]))
    with pytest.raises(ValueError, match="one entry per feature row"):
        load_feature_npz(p)
    np.savez(p, features=np.ones((2, 2)), labels=np.array([0, 1]), source_probs=np.array([[2.0, -1.0], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="source_logits"):
        load_feature_npz(p)
    np.savez(p, features=np.ones((2, 2)), labels=np.array([0, 1]), class_names=np.array(["a", None], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        load_feature_npz(p)
    with pytest.raises(ValueError, match="cannot read"):
        load_feature_npz(b"garbage")
    np.savez(p, features=np.array([[np.nan, 1.0], [0.0, 1.0]]), labels=np.array([0, 1]))
    with pytest.raises(ValueError, match="NaN"):
        load_feature_npz(p)


# -- torchvision & dispatch ------------------------------------------------------------------------------

def test_torchvision_offline_error_says_how_to_get_the_data(tmp_path):
    with pytest.raises(ValueError, match=r"CIFAR10.*download=True.*copy"):
        load_torchvision_dataset("CIFAR-10", root=tmp_path, split="train", download=False)
    with pytest.raises(ValueError, match="split must be one of"):
        load_torchvision_dataset("flowers102", root=tmp_path, split="bogus", download=False)


def test_from_torch_dataset_wraps_fakedata():
    from torchvision.datasets import FakeData

    fake = FakeData(size=12, image_size=(3, 16, 16), num_classes=3, random_offset=0)
    ds = from_torch_dataset(fake, "fake:3", class_names=["a", "b", "c"])
    image, label = ds[4]
    assert image.mode == "RGB" and image.size == (16, 16)
    assert label == int(fake[4][1]) and len(ds) == 12


def test_array_dataset_from_torchvision_style_data():
    class Tiny:
        data = np.zeros((4, 3, 5, 5), dtype=np.uint8)  # channels first, as SVHN and STL10 keep it
        labels = [0, 1, 1, 0]
        classes = ["no", "yes"]

        def __len__(self):
            return 4

    ds = from_torch_dataset(Tiny(), "tiny")
    assert isinstance(ds, ArrayImageDataset) and ds.images.shape == (4, 5, 5, 3) and ds.class_names == ["no", "yes"]


def test_load_dataset_dispatch_errors(tmp_path):
    with pytest.raises(ValueError, match="not a built-in"):
        load_dataset("no-such-dataset")
    other = tmp_path / "x.txt"
    other.write_text("x")
    with pytest.raises(ValueError, match="neither a .zip"):
        load_dataset(other)
    with pytest.raises(ValueError, match="image datasets"):
        np.savez(tmp_path / "f.npz", features=np.ones((2, 2)), labels=np.array([0, 1]))
        load_dataset(tmp_path / "f.npz", max_per_class=1)


def test_torchvision_dtd_by_name_from_a_local_root(tmp_path):
    """A torchvision set by name from a local copy (DTD's on-disk layout), no network: lazily decoded images,
    torchvision's class names and labels, the split honoured, and the usual subsample/id rules."""
    images = tmp_path / "dtd" / "dtd" / "images"
    values = {"banded": 30, "dotted": 120, "zigzagged": 220}
    lines = {"train1": [], "test1": []}
    for cls, value in values.items():
        for i in range(4):
            _save_image(images / cls / f"{cls}_{i:04d}.jpg", value + i, size=(20, 16))
            lines["train1" if i < 3 else "test1"].append(f"{cls}/{cls}_{i:04d}.jpg")
    labels_dir = tmp_path / "dtd" / "dtd" / "labels"
    labels_dir.mkdir()
    for name, rows in lines.items():
        (labels_dir / f"{name}.txt").write_text("\n".join(rows) + "\n")

    train = load_torchvision_dataset("DTD", root=tmp_path, split="train", download=False)
    assert train.dataset_id == "torchvision:dtd:train" and len(train) == 9
    assert train.class_names == ["banded", "dotted", "zigzagged"]
    np.testing.assert_array_equal(train.labels, [0, 0, 0, 1, 1, 1, 2, 2, 2])
    image, label = train[4]
    assert label == 1 and image.mode == "RGB" and image.size == (20, 16)
    assert abs(int(np.asarray(image)[8, 10, 0]) - 121) <= 3  # the file's own pixels (JPEG-rounded)
    test = load_dataset("torchvision:dtd", root=tmp_path, split="test", download=False)
    assert len(test) == 3 and test.labels.tolist() == [0, 1, 2]
    small = load_dataset("dtd", root=tmp_path, split="train", download=False, max_per_class=2, seed=0)
    assert len(small) == 6 and np.array_equal(small.class_counts(), [2, 2, 2])


def test_torchvision_mnist_by_name_from_local_idx_files(tmp_path):
    """MNIST from raw idx files under a local root becomes an in-memory array dataset (no decoding per item)."""
    import gzip

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (10, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], dtype=np.uint8)
    for prefix in ("train", "t10k"):
        images_idx = b"\x00\x00\x08\x03" + np.array([10, 28, 28], ">i4").tobytes() + pixels.tobytes()
        labels_idx = b"\x00\x00\x08\x01" + np.array([10], ">i4").tobytes() + labels.tobytes()
        for name, payload in ((f"{prefix}-images-idx3-ubyte", images_idx), (f"{prefix}-labels-idx1-ubyte", labels_idx)):
            (raw / name).write_bytes(payload)
            (raw / f"{name}.gz").write_bytes(gzip.compress(payload))
    ds = load_torchvision_dataset("mnist", root=tmp_path, split="test", download=False)
    assert isinstance(ds, ArrayImageDataset) and ds.dataset_id == "torchvision:mnist:test"
    # digit classes present are made contiguous, named by torchvision's class names
    assert ds.class_names == ["1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "9 - nine"]
    assert ds.labels.tolist() == [2, 0, 3, 0, 4, 6, 1, 5, 4, 2]
    image, label = ds[5]
    assert label == 6 and np.array_equal(np.asarray(image)[:, :, 0], pixels[5])


# -- what the Setup page tells the owner of a dataset (issue 11) ---------------------------------------------

def test_zip_without_images_names_the_users_file_not_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValueError) as err:
        load_image_zip(_zip_bytes({"readme/notes.txt": b"no images here"}), name="mydata")
    message = str(err.value)
    assert message.startswith("no images found in mydata.zip") and "readme/notes.txt" in message
    assert str(tmp_path) not in message and "zip-" not in message  # no extraction folder
    assert "one folder per class" in message  # the fix


def test_a_single_class_in_a_wrapper_folder_is_reported_as_one_class(tmp_path):
    """``mydata/cat/*.png``: ``cat`` is a class folder, not a wrapper to descend into."""
    data = _zip_bytes({f"mydata/cat/{i}.png": _png(i) for i in range(10)})
    with pytest.raises(ValueError) as err:
        load_image_zip(data, name="mydata", extract_dir=tmp_path / "x")
    assert str(err.value).startswith("mydata.zip: found one class 'cat' with 10 images; transferability needs at "
                                     "least two classes: add a folder per class")
    assert "no class folders" not in str(err.value) and str(tmp_path) not in str(err.value)
    # wrappers around two classes are still descended into
    ds = load_image_zip(_zip_bytes({"w/mydata/cat/1.png": _png(1), "w/mydata/dog/2.png": _png(2)}),
                        extract_dir=tmp_path / "y")
    assert ds.class_names == ["cat", "dog"]


def test_files_named_like_images_that_are_not_are_found_when_inspected(tmp_path):
    from transvis.data import check_dataset

    root = tmp_path / "photos"
    for cls in ("cat", "dog"):
        for i in range(3):
            (root / cls).mkdir(parents=True, exist_ok=True)
            (root / cls / f"{i}.png").write_text("I am a text file")
    fake = check_dataset(load_image_folder(root), shown="photos.zip")
    assert fake.dataset is None and len(fake.bad) == 6
    assert fake.problem.startswith("photos.zip: none of its 6 files named like an image is a usable image: "
                                   "cat/0.png (not an image), cat/1.png (not an image)")
    assert "and 1 more" in fake.problem and "Replace them with real image files" in fake.problem
    assert "Error" not in fake.problem and "`" not in fake.problem and "validate" not in fake.problem  # no code

    _save_image(root / "cat" / "real.png", 10)
    _save_image(root / "dog" / "real.png", 200)
    checked = check_dataset(load_image_folder(root).subsample(100), shown="photos")
    assert checked.problem is None and len(checked.dataset) == 2 and checked.dataset.class_names == ["cat", "dog"]
    assert [b.where.rsplit("/", 2)[-2:] for b in checked.bad][:2] == [["cat", "0.png"], ["cat", "1.png"]]
    assert checked.bad_note.startswith("6 of 8 files are not usable images: cat/0.png (not an image)")
    assert not any("could not be decoded" in w for w in checked.dataset.warnings)  # named once, in bad_note


def test_a_dataset_left_with_one_class_once_bad_files_are_out_says_so(tmp_path):
    from transvis.data import check_dataset

    root = tmp_path / "photos"
    for i in range(2):
        _save_image(root / "cat" / f"{i}.png", 10 * i)
    (root / "dog").mkdir()
    (root / "dog" / "0.png").write_text("text")
    checked = check_dataset(load_image_folder(root), shown="photos")
    assert checked.dataset is None and checked.problem.startswith("photos: found one class 'cat' with 2 images")


def test_image_file_problem_is_cheap_and_plain(tmp_path):
    from transvis.data import image_file_problem

    good, text, cut = tmp_path / "good.png", tmp_path / "text.png", tmp_path / "cut.png"
    _save_image(good, 5, size=(64, 64))
    text.write_text("hello")
    cut.write_bytes(good.read_bytes()[:60])
    assert image_file_problem(str(good)) is None
    assert image_file_problem(str(text)) == "not an image"
    assert image_file_problem(str(cut)).startswith("a damaged image: ") and str(cut) not in image_file_problem(str(cut))
    assert image_file_problem(str(tmp_path / "gone.png")).startswith("missing")
    # trusted in-memory sources are not checked
    arrays = ArrayImageDataset(np.zeros((2, 4, 4), np.uint8), [0, 1], ["a", "b"], "arrays")
    assert arrays.verify() == []
