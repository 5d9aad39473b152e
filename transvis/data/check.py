"""A dataset checked when it is inspected, before any feature is extracted: the files that are not images are
named and left out, and a dataset that cannot be ranked (fewer than two classes) says so and how to fix it.

    checked = check_dataset(load_dataset("photos.zip"), shown="photos.zip")
    checked.problem      # None, or why it cannot be used (for its owner: no paths of ours, no code)
    checked.bad_note     # None, or "2 of 6 files are not usable images: cat/a.png (not an image), …"
    checked.dataset      # the usable images (the bad files left out), None when ``problem`` is set
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .base import BadImage, ImageDataset, bad_image_list, describe_bad_images
from .folder import single_class_message


@dataclass
class CheckedDataset:
    """What inspecting a dataset found.

    dataset : the usable images (``source`` without ``bad``), or None when ``problem`` says why none are.
    bad : the images that are no usable image files (:meth:`ImageDataset.verify`), in dataset order.
    bad_note : one sentence naming ``bad`` by file (relative to the dataset's folder), or None.
    problem : why the dataset cannot be ranked, with the fix, or None.
    """

    dataset: ImageDataset | None
    bad: list[BadImage] = field(default_factory=list)
    bad_note: str | None = None
    problem: str | None = None


def check_dataset(dataset: ImageDataset, shown: str) -> CheckedDataset:
    """``dataset`` checked cheaply for files that are not images (header and structure, see
    :func:`transvis.data.base.image_file_problem`) and for at least two classes once those are left out.

    ``shown`` names the dataset in messages as its owner knows it (the zip's file name, the folder, the
    built-in's name). The usable dataset keeps ``dataset``'s warnings; ``bad_note`` names the files left out.
    """
    bad = dataset.verify()
    note = describe_bad_images(bad, len(dataset), root=dataset.source_root) if bad else None
    if len(bad) == len(dataset):
        files = f"none of its {len(dataset):,} files" if len(dataset) != 1 else "its only file"
        return CheckedDataset(None, bad, note, problem=(
            f"{shown}: {files} named like an image is a usable image: "
            f"{bad_image_list(bad, dataset.source_root)}. Replace them with real image files (JPEG, PNG, …)."))
    usable = dataset.without(bad)
    if bad:
        usable.warnings = list(dataset.warnings)  # bad_note names the files; without()'s count would repeat it
    counts = usable.class_counts()
    present = np.flatnonzero(counts)
    if len(present) < 2:
        only = int(present[0]) if len(present) else 0
        return CheckedDataset(None, bad, note, problem=single_class_message(
            shown, usable.class_names[only], int(counts[only]) if len(present) else 0))
    return CheckedDataset(usable, bad, note)


def check_every_class_read(name: str, features) -> None:
    """Refuse features (``labels`` [N] in 0..C-1, ``class_names`` [C]) in which a class of the dataset has no
    sample because every image of it was unreadable: every metric would fail on the gap in the labels. The
    ``ValueError`` names the classes and the fix; ``name`` is the model (row) the features belong to."""
    present = set(np.unique(np.asarray(features.labels)).tolist())
    missing = [c for i, c in enumerate(features.class_names) if i not in present]
    if missing:
        raise ValueError(
            f"{name}: no image of class{'es' if len(missing) > 1 else ''} {', '.join(map(repr, missing[:5]))} "
            "could be read (see the unreadable images above); replace those files or remove the class folder.")
