"""Small image folders and zips shared by the inputs' robustness tests (issue 13: 1, 3, 4, 9, 11)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def bmp_bytes(seed: int, side: int = 8) -> bytes:
    """A ``side``x``side`` grey BMP whose pixels differ with ``seed``; every one has the same byte size."""
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, "L").save(buf, "BMP")
    return buf.getvalue()


def image_folder(root: Path, seed: int = 0, classes=("cat", "dog"), per_class: int = 3) -> Path:
    """``root/<class>/<i>.bmp`` with images drawn from ``seed``."""
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (root / name / f"{i}.bmp").write_bytes(bmp_bytes(seed * 1000 + c * 100 + i))
    return root


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def image_zip(seed: int = 0) -> bytes:
    return zip_bytes({f"{c}/{i}.bmp": bmp_bytes(seed * 1000 + k * 100 + i)
                      for k, c in enumerate(("cat", "dog")) for i in range(3)})


def mark_encrypted(data: bytes) -> bytes:
    """``data`` (a zip) with the "encrypted" flag set on every entry, as a password-protected zip has it."""
    out = bytearray(data)
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (at := out.find(signature, start)) >= 0:
            out[at + flag_offset] |= 0x1
            start = at + 4
    return bytes(out)
