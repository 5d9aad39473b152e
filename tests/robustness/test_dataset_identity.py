"""Issue 13, case 1: a folder dataset's id changes when its images' content changes (same names, same byte
sizes), so cached features are never reused for other images; moving the folder keeps it."""

import os
import shutil
import time

from transvis.data import load_dataset, load_image_folder

from ._input_helpers import bmp_bytes, image_folder, image_zip


def test_same_size_replacement_changes_the_folder_id(tmp_path):
    root = image_folder(tmp_path / "pets")
    before = load_image_folder(root).dataset_id
    target = root / "cat" / "1.bmp"
    stat = target.stat()
    replacement = bmp_bytes(999)
    assert len(replacement) == stat.st_size  # same byte size: the old id could not see the change
    target.write_bytes(replacement)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old modification time
    after = load_image_folder(root).dataset_id
    assert after != before
    target.write_bytes(bmp_bytes(1))  # the original content back: the original id back
    assert load_image_folder(root).dataset_id == before


def test_moved_or_copied_folder_keeps_its_id(tmp_path):
    root = image_folder(tmp_path / "pets")
    ident = load_image_folder(root, name="pets").dataset_id
    copy = shutil.copytree(root, tmp_path / "elsewhere" / "pets")
    assert load_image_folder(copy, name="pets").dataset_id == ident


def test_uploaded_zip_id_follows_its_bytes(tmp_path):
    a = load_dataset(image_zip(seed=1), name="up", extract_dir=tmp_path / "a")
    b = load_dataset(image_zip(seed=2), name="up", extract_dir=tmp_path / "b")
    assert a.dataset_id != b.dataset_id


def test_identity_of_2000_images_is_cheap(tmp_path):
    root = image_folder(tmp_path / "big", classes=("a", "b"), per_class=1000)
    start = time.perf_counter()
    ds = load_image_folder(root)
    assert len(ds) == 2000 and time.perf_counter() - start < 5.0
