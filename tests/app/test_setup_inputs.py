"""Issue 13, the same guarantees on the Setup page: a broken or hostile zip shows the library's message (the
zip named, the fix), never a traceback, and the page keeps working."""

import pytest

from tests.app.conftest import errors

from tests.robustness._input_helpers import bmp_bytes, image_zip, mark_encrypted, zip_bytes

SETUP = "pages/setup.py"


@pytest.mark.parametrize("case, expected", [
    ("encrypted", "is encrypted (password-protected"),
    ("clash", "holds a file and a folder with the same name"),
    ("empty", "is empty (no files in the archive)"),
])
def test_broken_zip_on_setup_is_the_librarys_message(app, tmp_path, case, expected):
    data = {"clash": zip_bytes({"cat": b"x", "cat/0.bmp": bmp_bytes(0), "dog/0.bmp": bmp_bytes(1)}),
            "empty": zip_bytes({}), "encrypted": mark_encrypted(image_zip())}[case]
    path = tmp_path / f"{case}.zip"
    path.write_bytes(data)
    at = app(SETUP)
    at.radio(key="w:setup_source").set_value("Path on this machine").run()
    at.text_input(key="w:setup_path").input(str(path)).run()
    assert not at.exception, at.exception
    [message] = errors(at)
    assert f"{case}.zip" in message and expected in message
