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
  So is, with a ``ValueError`` naming the problem, a zip that is empty, encrypted, holds a file and a folder
  of one name, or would expand past :data:`ZIP_MAX_BYTES` / :data:`ZIP_MAX_MEMBERS`, or past
  :data:`ZIP_MAX_RATIO` times its compressed size once over 64 MiB (a "zip bomb"; each configurable per call
  or with the ``TRANSVIS_ZIP_MAX_BYTES`` / ``TRANSVIS_ZIP_MAX_MEMBERS`` / ``TRANSVIS_ZIP_MAX_RATIO``
  environment variables); the sizes the archive declares are checked before extraction and the bytes written during it;
* ``extract_dir`` is only ever a new or empty folder, or one transvis extracted a zip into before (it holds
  ``.complete`` with that zip's sha256): a folder holding anything else is refused, never emptied, and a
  folder extracted from another zip is re-extracted, never read under the new zip's id.

Dataset identity (the ``dataset_id`` that keys cached features): a zip's (and an uploaded zip's) is the
sha256 of its bytes. A folder's hashes, per image in sorted order, its relative path, byte size and a content
hash: the whole file up to 128 KiB (dataset images are mostly smaller), else its first and last 64 KiB plus
its modification time (ns). So replacing an image by another of the same size changes the id; moving or
copying the folder (``cp -r``, ``shutil.copytree``) keeps it as long as its images are small. Cost: one read
of at most 128 KiB per image: for 10,000 PNGs of 1 KiB, 0.2-0.7 s on top of the 0.65 s the folder walk
takes (measured on a shared 2-core machine, warm page cache; tests/robustness/test_dataset_identity.py).
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

from zlib import error as zlib_error

from .base import FileImageDataset

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jfif", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
)
LAYOUT_HINT = "transvis expects one folder per class, e.g. root/cat/001.jpg, root/dog/002.png"
_EXAMPLES = 3
ZIP_MAX_BYTES = 4 * 1024**3  # 4 GiB uncompressed: ~400k typical dataset images; a 2 MB bomb declares far more
ZIP_MAX_MEMBERS = 500_000
ZIP_MAX_RATIO = 100  # uncompressed / compressed, checked once an archive expands past ZIP_RATIO_FROM bytes:
ZIP_RATIO_FROM = 64 * 1024**2  # image datasets deflate 1-5x; a bomb (2.1 MB -> 2.1 GB) ~1000x
_SAMPLE_BYTES = 64 * 1024


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

    The id is ``folder:<name>:<hash>``, where the hash covers every image's relative path, byte size and
    content (:func:`image_fingerprint`; module docstring: dataset identity), so replaced images change it
    and the same images give the same id wherever the folder lives. ``shown`` names the source in error messages
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
            sizes.append((str(path.relative_to(root).as_posix()), size, image_fingerprint(path, size)))
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


def image_fingerprint(path: str | os.PathLike, size: int) -> str:
    """Content hash of one image file of ``size`` bytes (hex, 24 chars): sha256 of the whole file when it is
    at most 128 KiB, else of its first and last 64 KiB and its modification time in ns. An unreadable file
    hashes as "unreadable" (extraction reports it; the id must still be computable)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            if size <= 2 * _SAMPLE_BYTES:
                digest.update(fh.read())
            else:
                digest.update(fh.read(_SAMPLE_BYTES))
                fh.seek(-_SAMPLE_BYTES, os.SEEK_END)
                digest.update(fh.read(_SAMPLE_BYTES))
                digest.update(str(os.fstat(fh.fileno()).st_mtime_ns).encode())
    except OSError:
        return "unreadable"
    return digest.hexdigest()[:24]


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


def _limit(value: int | None, env: str, default: int) -> int:
    if value is not None:
        return int(value)
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        return int(float(text))
    except ValueError:
        raise ValueError(f"{env}={text!r} is not a number; set it to a count (bytes or members).") from None


def check_zip_members(source: zipfile.ZipFile, shown: str = "this zip", *, max_bytes: int | None = None,
                      max_members: int | None = None, max_ratio: float | None = None) -> int:
    """Refuse, before anything is written, a zip that cannot be extracted safely; returns its declared
    uncompressed size in bytes. ``max_bytes`` / ``max_members`` default to the ``TRANSVIS_ZIP_MAX_BYTES`` /
    ``TRANSVIS_ZIP_MAX_MEMBERS`` environment variables, else :data:`ZIP_MAX_BYTES` / :data:`ZIP_MAX_MEMBERS`."""
    max_bytes = _limit(max_bytes, "TRANSVIS_ZIP_MAX_BYTES", ZIP_MAX_BYTES)
    max_members = _limit(max_members, "TRANSVIS_ZIP_MAX_MEMBERS", ZIP_MAX_MEMBERS)
    max_ratio = _limit(max_ratio, "TRANSVIS_ZIP_MAX_RATIO", ZIP_MAX_RATIO)
    infos = source.infolist()
    if not infos:
        raise ValueError(f"{shown} is empty (no files in the archive); {LAYOUT_HINT}.")
    bad = [(i.filename, why) for i in infos if (why := _zip_member_problem(i))]
    if bad:
        listed = "; ".join(f"{n!r} ({why})" for n, why in bad[:_EXAMPLES])
        raise ValueError(
            f"refusing this zip: {len(bad)} entr{'y' if len(bad) == 1 else 'ies'} would be written outside its "
            f"folder (zip slip): {listed}. Re-create the zip from inside the dataset folder."
        )
    if len(infos) > max_members:
        raise ValueError(f"refusing {shown}: {len(infos):,} entries exceed the limit of {max_members:,} "
                         "(TRANSVIS_ZIP_MAX_MEMBERS); raise it if this archive is trusted.")
    total = sum(i.file_size for i in infos)
    if total > max_bytes:
        raise ValueError(f"refusing {shown}: it would expand to {total / 1e6:,.1f} MB, over the limit of "
                         f"{max_bytes / 1e6:,.1f} MB (TRANSVIS_ZIP_MAX_BYTES); raise it if this archive is "
                         "trusted (a small zip that expands this much is a zip bomb).")
    packed = max(1, sum(i.compress_size for i in infos))
    if total > ZIP_RATIO_FROM and total > max_ratio * packed:
        raise ValueError(f"refusing {shown}: {packed / 1e6:,.1f} MB would expand to {total / 1e6:,.1f} MB, more than "
                         f"{max_ratio:g} times (TRANSVIS_ZIP_MAX_RATIO): a zip bomb, or raise the limit if this "
                         "archive is trusted.")
    encrypted = [i.filename for i in infos if i.flag_bits & 0x1]
    if encrypted:
        raise ValueError(f"{shown} is encrypted (password-protected: {_examples(encrypted)}); transvis cannot "
                         "read it: zip the dataset folder again without a password.")
    files = {i.filename.replace("\\", "/").strip("/") for i in infos if not i.is_dir()}
    parents = {str(parent) for name in files for parent in PurePosixPath(name).parents if str(parent) != "."}
    clash = sorted(files & parents)
    if clash:
        raise ValueError(f"{shown} holds a file and a folder with the same name ({_examples(clash)}); rename one "
                         "and zip the dataset again.")
    return total


def extract_zip_safely(source: zipfile.ZipFile, dest: str | os.PathLike, shown: str = "this zip", *,
                       max_bytes: int | None = None, max_members: int | None = None) -> None:
    """Extract every file of ``source`` under ``dest`` after :func:`check_zip_members` (zip slip, size and
    member limits, encryption, name clashes); the bytes written are counted against ``max_bytes`` too."""
    dest = Path(dest).resolve()
    check_zip_members(source, shown, max_bytes=max_bytes, max_members=max_members)
    budget = _limit(max_bytes, "TRANSVIS_ZIP_MAX_BYTES", ZIP_MAX_BYTES)
    for info in source.infolist():
        target = (dest / info.filename.replace("\\", "/")).resolve()
        if dest != target and dest not in target.parents:  # belt and braces after the name checks
            raise ValueError(f"refusing this zip: entry {info.filename!r} escapes its folder (zip slip).")
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with source.open(info) as src, open(target, "wb") as out:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    budget -= len(chunk)
                    if budget < 0:
                        raise ValueError(f"refusing {shown}: it expands past the limit of its declared size "
                                         "(TRANSVIS_ZIP_MAX_BYTES); the archive is damaged or a zip bomb.")
                    out.write(chunk)
        except (zipfile.BadZipFile, EOFError, zlib_error) as exc:
            raise ValueError(f"{shown} is damaged ({info.filename}: {exc}); zip the dataset folder again.") from exc


def _extracted_digest(folder: Path) -> str | None:
    """The sha256 of the zip transvis extracted into ``folder`` (its ``.complete`` marker), or None."""
    try:
        return (folder / ".complete").read_text().strip() or None
    except OSError:
        return None


def _claim_extract_dir(target: Path, given: bool) -> None:
    """Refuse to extract into ``target`` unless it is new, an empty folder, or transvis's own extraction
    (``.complete``): a user's folder is never emptied. ``given``: the caller named it (``extract_dir``)."""
    if not target.exists() or _extracted_digest(target) is not None:
        return
    if not target.is_dir():
        raise ValueError(f"extract_dir {target} is a file; pass a new or empty folder.")
    if any(target.iterdir()):
        what = "extract_dir" if given else "the cache folder"
        raise ValueError(f"{what} {target} already holds files that transvis did not extract; pass a new or "
                         "empty folder (transvis never empties a folder it does not own).")


def load_image_zip(source: str | os.PathLike | bytes | BinaryIO, name: str | None = None,
                   extract_dir: str | os.PathLike | None = None, *, max_bytes: int | None = None,
                   max_members: int | None = None) -> FileImageDataset:
    """A dataset from a zip of a class-per-folder image tree (a path, raw bytes, or a binary file object).

    The archive is checked for zip slip, extracted once to ``<cache>/datasets/zip-<sha256>`` (or
    ``extract_dir``), and loaded with :func:`load_image_folder`. Its id is ``zip:<name>:<sha256 of the zip>``.
    Errors name the zip as the user knows it (``<name>.zip``, its file name), never the extraction folder.
    ``extract_dir`` must be new, empty or a folder transvis extracted a zip into (:func:`_claim_extract_dir`);
    ``max_bytes`` / ``max_members`` limit the archive (:func:`check_zip_members`).
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
            if _extracted_digest(target) != digest:
                _claim_extract_dir(target, extract_dir is not None)
                # extract next to the target, then rename: a half-extracted folder is never reused
                target.parent.mkdir(parents=True, exist_ok=True)
                temp = target.parent / f".tmp-{target.name}-{uuid.uuid4().hex[:8]}"
                try:
                    extract_zip_safely(archive, temp, shown, max_bytes=max_bytes, max_members=max_members)
                    (temp / ".complete").write_text(digest)
                    if target.is_dir() and _extracted_digest(target) is not None:
                        shutil.rmtree(target, ignore_errors=True)  # transvis's own extraction of another zip
                    elif target.is_dir():
                        target.rmdir()  # empty (checked above)
                    try:
                        os.rename(temp, target)
                    except OSError:
                        if _extracted_digest(target) != digest:  # not a concurrent twin that won the race
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
