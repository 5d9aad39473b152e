"""User images: a folder with one sub-folder per class, or a zip of such a folder.

Rules (each reported in ``dataset.warnings`` rather than failing, unless nothing usable is left):

* classes are the sub-folders of the root, sorted by name (Python string order), labelled 0..C-1;
  images inside a class folder are found recursively;
* hidden files and folders (``.x``, ``__MACOSX``) are ignored silently; other non-image files are skipped
  and counted; images lying directly in the root (outside any class folder) are skipped;
* a class folder without images is dropped; a class with a single image is kept (metrics handle one-sample
  classes; a held-out split cannot test it) and named in a warning;
* fewer than two classes with images, or no images at all, is a ``ValueError`` explaining the layout; the
  messages name the folder or zip as the user gave it (never the cache folder a zip is extracted to);
* files that are not images although named like one are found cheaply with ``dataset.verify()`` (header and
  structure, no decoding), corrupt ones when decoded (``CorruptImageError``) or with ``dataset.validate()``;
* a zip whose entries would land outside its folder (absolute paths, ``..``, symbolic links: "zip slip")
  is refused before anything is written. A zip holding a single top folder (``pets/cat/1.jpg``) is fine.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import uuid
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .base import FileImageDataset

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jfif", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
)
LAYOUT_HINT = "transvis expects one folder per class, e.g. root/cat/001.jpg, root/dog/002.png"
_EXAMPLES = 3


def _hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX" or name == "Thumbs.db"


def _is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _walk_files(folder: Path):
    """(absolute path, size) of visible files under ``folder``, sorted, recursively."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
        for name in sorted(filenames):
            if _hidden(name):
                continue
            path = Path(dirpath) / name
            try:
                size = path.stat().st_size
            except OSError:
                continue
            out.append((path, size))
    return out


def _examples(items) -> str:
    shown = ", ".join(str(x) for x in items[:_EXAMPLES])
    return shown + (", ..." if len(items) > _EXAMPLES else "")


def _visible_dirs(folder: Path) -> list[Path]:
    return [e for e in folder.iterdir() if e.is_dir() and not _hidden(e.name)]


def find_dataset_root(folder: str | os.PathLike) -> Path:
    """Descend through single wrapper folders (``data.zip -> data/ -> cat/, dog/``) to the class folders.

    A single sub-folder is a wrapper only when it holds folders itself: ``data/cat/*.png`` stops at ``data``
    (one class, ``cat``), so a one-class dataset is reported as such rather than as images without classes.
    """
    root = Path(folder)
    while True:
        entries = [e for e in root.iterdir() if not _hidden(e.name)]
        dirs = [e for e in entries if e.is_dir()]
        images = [e for e in entries if e.is_file() and _is_image(e.name)]
        if len(dirs) == 1 and not images and _visible_dirs(dirs[0]):
            root = dirs[0]
            continue
        return root


def load_image_folder(root: str | os.PathLike, name: str | None = None,
                      dataset_id: str | None = None, shown: str | None = None) -> FileImageDataset:
    """A dataset from ``root/<class name>/**/<image>``; see the module docstring for the rules.

    The id is ``folder:<name>:<hash>``, where the hash covers every image's relative path and byte size, so
    the same images give the same id wherever the folder lives. ``shown`` names the source in error messages
    (default: the folder's path; a zip passes its file name, so no cache path reaches the user).
    """
    root = Path(root).expanduser().resolve()
    shown = shown or str(root)
    if not root.is_dir():
        raise ValueError(f"{shown} is not a folder; {LAYOUT_HINT}.")
    warnings: list[str] = []
    class_dirs = sorted(_visible_dirs(root), key=lambda e: e.name)
    loose = sorted(e.name for e in root.iterdir() if e.is_file() and _is_image(e.name) and not _hidden(e.name))
    if loose and not class_dirs:
        raise ValueError(f"{shown} holds {len(loose)} images but no class folders: move them into one folder per "
                         f"class; {LAYOUT_HINT}.")
    if loose:
        warnings.append(f"skipped {len(loose)} image(s) outside any class folder: {_examples(loose)}")

    paths, labels, class_names, sizes = [], [], [], []
    skipped, empty, singletons = [], [], []
    for class_dir in class_dirs:
        files = _walk_files(class_dir)
        images = [(p, s) for p, s in files if _is_image(p.name)]
        skipped += [str(p.relative_to(root)) for p, _ in files if not _is_image(p.name)]
        if not images:
            empty.append(class_dir.name)
            continue
        if len(images) == 1:
            singletons.append(class_dir.name)
        label = len(class_names)
        class_names.append(class_dir.name)
        for path, size in images:
            paths.append(str(path))
            labels.append(label)
            sizes.append((str(path.relative_to(root).as_posix()), size))
    if skipped:
        warnings.append(f"skipped {len(skipped)} non-image file(s): {_examples(skipped)}")
    if empty:
        warnings.append(f"dropped {len(empty)} class folder(s) without images: {_examples(empty)}")
    if singletons:
        warnings.append(
            f"{len(singletons)} class(es) have a single image (kept; a held-out split cannot test them): "
            f"{_examples(singletons)}"
        )
    if not paths:
        others = f"; it holds {len(skipped)} other file(s): {_examples(skipped)}" if skipped else ""
        raise ValueError(
            f"no images found in {shown} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))}){others}; "
            f"{LAYOUT_HINT}."
        )
    if len(class_names) < 2:
        raise ValueError(single_class_message(shown, class_names[0], len(paths)))
    name = name or root.name
    if dataset_id is None:
        digest = hashlib.sha256(repr(sizes).encode()).hexdigest()[:12]
        dataset_id = f"folder:{name}:{digest}"
    return FileImageDataset(paths, labels, class_names, dataset_id, root=str(root), warnings=warnings)


def single_class_message(shown: str, class_name: str, n_images: int) -> str:
    """What to tell a user whose dataset ``shown`` holds a single class (``n_images`` images of it)."""
    return (f"{shown}: found one class {class_name!r} with {n_images:,} image{'s' if n_images != 1 else ''}; "
            f"transferability needs at least two classes: add a folder per class ({LAYOUT_HINT}).")


def _zip_member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why this zip entry may not be extracted (None when it is safe)."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(name).parts:
        return "'..' in path"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    return None


def _sha256_stream(fh: BinaryIO) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        digest.update(chunk)
    fh.seek(0)
    return digest.hexdigest()


def extract_zip_safely(source: zipfile.ZipFile, dest: str | os.PathLike) -> None:
    """Extract every file of ``source`` under ``dest``, refusing the whole archive on any zip-slip entry."""
    dest = Path(dest).resolve()
    bad = [(i.filename, why) for i in source.infolist() if (why := _zip_member_problem(i))]
    if bad:
        listed = "; ".join(f"{n!r} ({why})" for n, why in bad[:_EXAMPLES])
        raise ValueError(
            f"refusing this zip: {len(bad)} entr{'y' if len(bad) == 1 else 'ies'} would be written outside its "
            f"folder (zip slip): {listed}. Re-create the zip from inside the dataset folder."
        )
    for info in source.infolist():
        target = (dest / info.filename.replace("\\", "/")).resolve()
        if dest != target and dest not in target.parents:  # belt and braces after the name checks
            raise ValueError(f"refusing this zip: entry {info.filename!r} escapes its folder (zip slip).")
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with source.open(info) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)


def load_image_zip(source: str | os.PathLike | bytes | BinaryIO, name: str | None = None,
                   extract_dir: str | os.PathLike | None = None) -> FileImageDataset:
    """A dataset from a zip of a class-per-folder image tree (a path, raw bytes, or a binary file object).

    The archive is checked for zip slip, extracted once to ``<cache>/datasets/zip-<sha256>`` (or
    ``extract_dir``), and loaded with :func:`load_image_folder`. Its id is ``zip:<name>:<sha256 of the zip>``.
    Errors name the zip as the user knows it (``<name>.zip``, its file name), never the extraction folder.
    """
    if isinstance(source, (bytes, bytearray)):
        fh, default_name = io.BytesIO(bytes(source)), "upload"
        shown = f"{name}.zip" if name else "the uploaded zip"
    elif hasattr(source, "read"):
        fh, default_name = source, Path(getattr(source, "name", "upload") or "upload").stem
        shown = Path(getattr(source, "name", "") or "").name or (f"{name}.zip" if name else "the uploaded zip")
        fh.seek(0)
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise ValueError(f"zip file {path} does not exist.")
        fh, default_name = open(path, "rb"), path.stem
        shown = path.name
    try:
        digest = _sha256_stream(fh)
        try:
            archive = zipfile.ZipFile(fh)
        except zipfile.BadZipFile as exc:
            raise ValueError(f"{shown} is not a valid zip file ({exc}); zip the dataset folder again.") from exc
        with archive:
            if extract_dir is None:
                from transvis.store.paths import cache_dir

                target = cache_dir() / "datasets" / f"zip-{digest[:16]}"
            else:
                target = Path(extract_dir)
            if not (target / ".complete").is_file():
                # extract next to the target, then rename: a half-extracted folder is never reused
                target.parent.mkdir(parents=True, exist_ok=True)
                temp = target.parent / f".tmp-{target.name}-{uuid.uuid4().hex[:8]}"
                try:
                    extract_zip_safely(archive, temp)
                    (temp / ".complete").write_text(digest)
                    if target.exists():
                        shutil.rmtree(target, ignore_errors=True)
                    try:
                        os.rename(temp, target)
                    except OSError:
                        if not (target / ".complete").is_file():  # not a concurrent twin that won the race
                            raise
                finally:
                    shutil.rmtree(temp, ignore_errors=True)
    finally:
        if not isinstance(source, (bytes, bytearray)) and not hasattr(source, "read"):
            fh.close()
    name = name or default_name
    if not any(e for e in target.iterdir() if not _hidden(e.name)):
        raise ValueError(f"{shown} is empty; {LAYOUT_HINT}.")
    return load_image_folder(find_dataset_root(target), name=name, dataset_id=f"zip:{name}:{digest[:12]}",
                             shown=shown)
