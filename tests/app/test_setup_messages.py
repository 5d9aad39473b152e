"""Setup page, issue 11: what a user with a bad dataset reads (their file named, the real problem, the fix, no
internal path, no code), and the pool they build named readably and shown in the header and sidebar at once."""

import io
import zipfile

import numpy as np
from PIL import Image

from tests.app.conftest import errors

SETUP = "pages/setup.py"


def _png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (value, 255 - value, 40)).save(buf, format="PNG")
    return buf.getvalue()


def _zip(path, entries: dict) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return str(path)


def _inspect(at, path):
    at.radio(key="w:setup_source").set_value("Path on this machine").run()
    at.text_input(key="w:setup_path").input(str(path)).run()
    assert not at.exception, at.exception
    return at


def test_a_zip_without_images_names_the_zip_and_the_fix_not_the_cache(app, tmp_path, _app_cache):
    at = _inspect(app(SETUP), _zip(tmp_path / "notes.zip", {"readme/notes.txt": "no images here"}))
    [message] = errors(at)
    assert "no images found in notes.zip" in message and "readme/notes.txt" in message
    assert "one folder per class" in message
    assert str(_app_cache) not in message and "datasets/zip-" not in message
    assert not at.success


def test_a_single_class_zip_gets_the_one_class_message(app, tmp_path):
    entries = {f"mydata/x/{i}.png": _png(20 * i) for i in range(10)}
    at = _inspect(app(SETUP), _zip(tmp_path / "mydata.zip", entries))
    [message] = errors(at)
    assert ("found one class 'x' with 10 images; transferability needs at least two classes: add a folder per "
            "class") in message
    assert "no class folders" not in message
    assert at.button(key="setup_extract").disabled


def test_text_files_named_png_are_reported_by_name_instead_of_a_success(app, tmp_path):
    entries = {f"d/{cls}/{i}.png": f"I am text {i}" for cls in ("cat", "dog") for i in range(3)}
    at = _inspect(app(SETUP), _zip(tmp_path / "fake.zip", entries))
    [message] = errors(at)
    assert "none of its 6 files named like an image is a usable image: cat/0.png (not an image)" in message
    assert not at.success  # no "6 images, 2 classes"
    shown = " ".join([message, *(c.value for c in at.caption), *(w.value for w in at.warning)])
    assert "UnidentifiedImageError" not in shown and "validate()" not in shown and "`dataset" not in shown


def test_files_that_are_not_images_are_named_before_the_success_box(app, tmp_path):
    entries = {f"d/{cls}/{i}.png": _png(40 * i + (0 if cls == "cat" else 120)) for cls in ("cat", "dog")
               for i in range(3)}
    entries["d/dog/notes.png"] = "text, not a picture"
    at = _inspect(app(SETUP), _zip(tmp_path / "mixed.zip", entries))
    assert not errors(at)
    [warning] = [w for w in at.warning if "not usable images" in w.value]
    assert warning.value.startswith("1 of 7 files are not usable images: dog/notes.png (not an image)")
    [success] = at.success
    assert "**mixed** — 6 images (1 file(s) left out), 2 classes" in success.value
    order = [getattr(e, "value", None) for e in at.main]  # the page's elements, top to bottom
    assert order.index(warning.value) < order.index(success.value)


def test_an_extracted_pool_is_named_after_the_zip_and_shown_at_once(app, tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path / "cache"))
    entries = {f"mydata/{cls}/{i}.png": _png(30 * i + (0 if cls == "cat" else 100)) for cls in ("cat", "dog")
               for i in range(3)}
    at = _inspect(app(SETUP), _zip(tmp_path / "mydata.zip", entries))
    at.number_input(key="w:setup_input_size").set_value(32).run()
    at.text_input(key="setup_typed_model").input("test_resnet.random_init").run()
    at.button(key="setup_add_model").click().run()
    at.button(key="setup_extract").click().run()
    assert not at.exception and not errors(at), errors(at)
    pool = at.session_state["pools"][at.session_state["active_pool"]]
    assert pool.name == "mydata" and pool.dataset_id.startswith("zip:mydata:")  # the hash stays the cache key
    # the same run's header and sidebar name the new pool, not the demo
    assert [m.value for m in at.sidebar.markdown][0] == "**Pool:** mydata"
    assert not any(c.value.startswith("5 models") for c in at.sidebar.caption)
    assert any("Current pool: **mydata**" in c.value for c in at.caption)
    assert any(s.value.startswith("Pool **mydata** ready: 1 model · 6 samples · 2 classes · mydata")
               for s in at.success)
    assert "68db" not in pool.summary() and ":" not in pool.summary().rsplit("·", 1)[-1]

    # a second, different pool from the same zip gets a short suffix; the first keeps its name
    at.text_input(key="setup_typed_model").input("test_efficientnet.random_init").run()
    at.button(key="setup_add_model").click().run()
    at.button(key="setup_extract").click().run()
    assert not at.exception and not errors(at), errors(at)
    names = sorted(p.name for p in at.session_state["pools"].values())
    assert "mydata" in names and "mydata (2)" in names
    assert [m.value for m in at.sidebar.markdown][0] == "**Pool:** mydata (2)"


def test_using_npz_features_updates_the_sidebar_in_the_same_run(app, tmp_path):
    path = tmp_path / "my_model.npz"
    np.savez(path, features=np.random.default_rng(0).normal(size=(30, 4)), labels=np.repeat([0, 1, 2], 10))
    at = _inspect(app(SETUP), path)
    assert [m.value for m in at.sidebar.markdown][0] == "**Pool:** synthetic"
    at.button(key="setup_npz_path_use").click().run()
    assert not at.exception
    assert [m.value for m in at.sidebar.markdown][0] == "**Pool:** my_model"
    assert any("Current pool: **my_model**" in c.value for c in at.caption)
