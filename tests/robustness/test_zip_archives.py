"""Issue 13, cases 9 and 11 and the zip tracebacks: a zip bomb is refused at a configurable limit;
``extract_dir`` is never emptied unless transvis owns it and never serves another zip's images; empty,
encrypted and file/folder-clash zips are messages (ValueError), not tracebacks."""

import numpy as np
import pytest

from transvis.data import load_image_zip

from ._input_helpers import bmp_bytes, image_zip, mark_encrypted, zip_bytes


def test_zip_bomb_is_refused_naming_the_limit(tmp_path, monkeypatch):
    bomb = zip_bytes({"cat/0.bmp": bmp_bytes(0), "dog/0.bmp": bmp_bytes(1), "cat/pad.bmp": bytes(30_000_000)})
    assert len(bomb) < 100_000  # 30 MB of zeros deflate to a few dozen kB
    monkeypatch.setenv("TRANSVIS_ZIP_MAX_BYTES", "10000000")
    with pytest.raises(ValueError, match="TRANSVIS_ZIP_MAX_BYTES") as err:
        load_image_zip(bomb, name="bomb", extract_dir=tmp_path / "x")
    assert "10.0 MB" in str(err.value)
    assert not (tmp_path / "x").exists()  # refused before anything was written
    with pytest.raises(ValueError, match="over the limit of 1.0 MB"):  # the per-call limit wins
        load_image_zip(bomb, name="bomb", extract_dir=tmp_path / "y", max_bytes=1_000_000)


def test_default_limits_refuse_a_small_zip_that_expands_a_thousandfold(tmp_path):
    bomb = zip_bytes({"cat/0.bmp": bmp_bytes(0), "dog/0.bmp": bmp_bytes(1), "cat/pad.bmp": bytes(70_000_000)})
    with pytest.raises(ValueError, match="zip bomb") as err:
        load_image_zip(bomb, name="bomb", extract_dir=tmp_path / "x")
    assert "TRANSVIS_ZIP_MAX_RATIO" in str(err.value) and not (tmp_path / "x").exists()


def test_member_count_limit(tmp_path):
    with pytest.raises(ValueError, match=r"6 entries exceed the limit of 5 \(TRANSVIS_ZIP_MAX_MEMBERS\)"):
        load_image_zip(image_zip(), extract_dir=tmp_path / "x", max_members=5)


def test_extract_dir_with_user_files_is_refused_and_kept(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="did not extract"):
        load_image_zip(image_zip(), extract_dir=mine)
    assert (mine / "thesis.tex").read_text() == "precious"


def test_reused_extract_dir_serves_the_new_zip(tmp_path):
    first = load_image_zip(image_zip(seed=1), name="a", extract_dir=tmp_path / "x")
    second = load_image_zip(image_zip(seed=2), name="a", extract_dir=tmp_path / "x")
    assert first.dataset_id != second.dataset_id
    expected = load_image_zip(image_zip(seed=2), name="a", extract_dir=tmp_path / "fresh")
    assert np.array_equal(np.asarray(second[0][0]), np.asarray(expected[0][0]))
    old = load_image_zip(image_zip(seed=1), name="a", extract_dir=tmp_path / "f1")
    assert not np.array_equal(np.asarray(second[0][0]), np.asarray(old[0][0]))


def test_empty_zip_is_a_message(tmp_path):
    with pytest.raises(ValueError, match="is empty"):
        load_image_zip(zip_bytes({}), name="nothing", extract_dir=tmp_path / "x")


def test_encrypted_zip_is_a_message(tmp_path):
    with pytest.raises(ValueError, match="encrypted"):
        load_image_zip(mark_encrypted(image_zip()), extract_dir=tmp_path / "x")


def test_file_folder_clash_is_a_message(tmp_path):
    clash = zip_bytes({"cat": b"a file", "cat/0.bmp": bmp_bytes(0), "dog/0.bmp": bmp_bytes(1)})
    with pytest.raises(ValueError, match="a file and a folder with the same name"):
        load_image_zip(clash, extract_dir=tmp_path / "x")
