"""Frozen features of a timm model on a dataset, in one pass.

For every image the pass gives the pooled pre-logits features (``forward_features`` then
``forward_head(pre_logits=True)``) and, when the model has its source classifier, the softmax of its logits
(source probabilities, for LEEP and NCE). Optional intermediate taps (``forward_intermediates``, each
global-average-pooled) let layers be ranked too.

A dataset is any object with ``__len__``, ``__getitem__(i) -> (PIL.Image.Image, int label)`` and the
attributes ``labels`` (int64 [N]), ``class_names`` (list[str]) and ``dataset_id`` (str). An item whose
``__getitem__`` raises (a corrupt image) is skipped and recorded in ``meta["skipped"]``; labels stay aligned
with the feature rows.
"""

from __future__ import annotations

import copy
import math
import os
import sys
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .featureset import FeatureSet

__all__ = ["PRE_LOGITS", "ExtractionCancelled", "auto_num_workers", "extract_features", "resolve_taps",
           "select_device"]

ProgressCallback = Callable[[int, int, float, float], None]

PRE_LOGITS = "pre_logits"
_MAX_ERRORS_KEPT = 20


class ExtractionCancelled(Exception):
    """Extraction stopped because ``cancel`` asked for it (checked after every batch); nothing is returned."""


def _cancel_requested(cancel) -> bool:
    """``cancel`` is None, a ``threading.Event`` (or anything with ``is_set``) or a callable returning a bool."""
    if cancel is None:
        return False
    return bool(cancel.is_set() if hasattr(cancel, "is_set") else cancel())


# --------------------------------------------------------------------------- devices


def select_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple MPS, then CPU; anything else is passed to ``torch.device``
    after checking that it is available."""
    if device is None or (isinstance(device, str) and device == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but no CUDA GPU is available; use device='auto' or 'cpu'.")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device='mps' was asked for but Apple MPS is not available; use device='auto' or 'cpu'.")
    return device


def _amp_dtype(device: torch.device, amp: bool | None) -> torch.dtype | None:
    """Mixed precision: on by default on CUDA (bfloat16 where supported, else float16). Elsewhere only when
    asked for (``amp=True``): bfloat16 on CPU (fast on CPUs with AVX-512 BF16/AMX, slow on others), float16
    on MPS. ``amp=False`` is full precision everywhere."""
    if amp is False:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if amp is True:
        return torch.bfloat16 if device.type == "cpu" else torch.float16
    return None


def _is_oom(error: BaseException) -> bool:
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def _empty_cache(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()


# --------------------------------------------------------------------------- data


class _SafeTransformed(Dataset):
    """Wraps a transvis dataset: RGB conversion + the model's transform, and a raising item becomes a
    recorded failure instead of an exception (so a DataLoader worker never dies on one bad file)."""

    def __init__(self, dataset, transform):
        self.dataset = dataset
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        try:
            image, label = self.dataset[index]
            if image.mode != "RGB":  # grayscale, palette, RGBA, CMYK -> 3 channels
                image = image.convert("RGB")
            return index, self.transform(image), int(label), None
        except Exception as error:  # noqa: BLE001 - any failure of one item is recorded, not raised
            return index, None, -1, f"{type(error).__name__}: {error}"


def _collate(items):
    good = [item for item in items if item[3] is None]
    failed = [(item[0], item[3]) for item in items if item[3] is not None]
    if good:
        indices = torch.tensor([item[0] for item in good], dtype=torch.long)
        images = torch.stack([item[1] for item in good])
        labels = torch.tensor([item[2] for item in good], dtype=torch.long)
    else:
        indices, images, labels = torch.empty(0, dtype=torch.long), None, torch.empty(0, dtype=torch.long)
    return indices, images, labels, failed


def _worker_init(_worker_id: int) -> None:
    torch.set_num_threads(1)  # workers only decode and resize; leave the cores to the model


def auto_num_workers(n_items: int, batch_size: int, device: torch.device | str = "cpu") -> int:
    """Loader processes: none for a single batch. On a GPU up to 8, leaving one core to the main process,
    since decoding and resizing then set the pace. On CPU the model's threads want every core: one loader
    process from 4 cores up, none below (on 2 cores a loader slows the forward more than it saves)."""
    cores = os.cpu_count() or 1
    if n_items <= batch_size:
        return 0
    if torch.device(device).type == "cpu":
        return 1 if cores >= 4 else 0
    return int(min(8, max(0, cores - 1)))


# --------------------------------------------------------------------------- progress


class _Progress:
    def __init__(self, total: int, progress, description: str):
        self.total = total
        self.callback = progress if callable(progress) else None
        use_bar = progress is True or (progress is None and sys.stderr is not None and sys.stderr.isatty())
        self.bar = None
        if use_bar:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=description, unit="img", leave=False)
        self.start = time.perf_counter()

    def update(self, done: int, step: int) -> None:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 else math.inf
        if self.bar is not None:
            self.bar.update(step)
        if self.callback is not None:
            self.callback(done, self.total, rate, eta)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- the pass


def _pool(tap: torch.Tensor) -> torch.Tensor:
    """Global average pool of a tap: NCHW over H, W; token sequences (N, L, C) over L."""
    if tap.ndim == 4:
        return tap.float().mean(dim=(2, 3))
    if tap.ndim == 3:
        return tap.float().mean(dim=1)
    return tap.float().flatten(1)


def _count_taps(model, input_size, device, amp_dtype) -> int:
    probe = torch.zeros((1, *input_size), device=device)
    with torch.inference_mode(), _autocast(device, amp_dtype):
        return len(model.forward_intermediates(probe, intermediates_only=True))


def _autocast(device: torch.device, amp_dtype: torch.dtype | None):
    return torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else nullcontext()


def _resolve_taps(model, layers, input_size, device, amp_dtype) -> list[int]:
    if layers is None:
        return []
    if not hasattr(model, "forward_intermediates"):
        raise ValueError(
            f"{type(model).__name__} has no forward_intermediates in this timm version, so intermediate "
            "layers cannot be tapped; pass layers=None."
        )
    n_taps = _count_taps(model, input_size, device, amp_dtype)
    if isinstance(layers, str):
        if layers != "all":
            raise ValueError(f"layers must be None, 'all' or a list of tap indices (0..{n_taps - 1}); got {layers!r}.")
        return list(range(n_taps))
    taps = []
    for index in layers:
        index = int(index)
        if not -n_taps <= index < n_taps:
            raise ValueError(f"tap index {index} is out of range: this model has taps 0..{n_taps - 1}.")
        taps.append(index % n_taps)
    return sorted(set(taps))


def resolve_taps(model, layers: Sequence[int] | str, input_size: tuple[int, int, int]) -> list[int]:
    """Sorted non-negative tap indices of ``model.forward_intermediates`` for ``layers`` (``"all"`` or
    indices, negative from the end), found with one probe forward on the CPU at ``input_size`` (C, H, W)."""
    return _resolve_taps(model, layers, tuple(input_size), torch.device("cpu"), None)


class _Forward:
    """Forward of one batch in chunks; a chunk that runs out of memory is halved and retried."""

    def __init__(self, model, device, amp_dtype, channels_last, taps, with_logits, batch_size):
        self.model, self.device, self.amp_dtype = model, device, amp_dtype
        self.channels_last, self.taps, self.with_logits = channels_last, taps, with_logits
        self.chunk = batch_size
        self.backoffs = 0

    def _one(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        images = images.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with _autocast(self.device, self.amp_dtype):
            out = {}
            if self.taps:
                final, intermediates = self.model.forward_intermediates(images, indices=self.taps)
                for index, tap in zip(self.taps, intermediates):
                    out[f"tap{index}"] = _pool(tap)
            else:
                final = self.model.forward_features(images)
            pre_logits = self.model.forward_head(final, pre_logits=True)
            out[PRE_LOGITS] = _pool(pre_logits) if pre_logits.ndim > 2 else pre_logits.float()
            if self.with_logits:
                out["probs"] = torch.softmax(self.model.forward_head(final).float(), dim=1)
        return {k: v.float().cpu() for k, v in out.items()}

    def __call__(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        while True:
            try:
                parts = [self._one(chunk) for chunk in images.split(self.chunk)]
                return {k: torch.cat([p[k] for p in parts]).numpy() for k in parts[0]}
            except Exception as error:  # noqa: BLE001 - only out-of-memory is handled, the rest re-raised
                if not _is_oom(error):
                    raise
                _empty_cache(self.device)
                if self.chunk == 1:
                    raise ValueError(
                        f"Out of {self.device.type} memory even with one image per forward; use device='cpu' or a "
                        "smaller input_size."
                    ) from error
                self.chunk = max(1, self.chunk // 2)
                self.backoffs += 1
                warnings.warn(f"out of memory on {self.device}: batch size reduced to {self.chunk}", stacklevel=2)


def extract_features(
    model_or_id,
    dataset,
    *,
    batch_size: int = 64,
    device: str | torch.device | None = "auto",
    input_size: int | tuple[int, int] | None = None,
    layers: Sequence[int] | str | None = None,
    num_workers: int | None = None,
    progress: ProgressCallback | bool | None = None,
    amp: bool | None = None,
    channels_last: bool | None = None,
    with_source_probs: bool = True,
    cache_dir: str | os.PathLike | None = None,
    cancel: Callable[[], bool] | Any = None,
) -> FeatureSet | dict[str, FeatureSet]:
    """Features of ``dataset`` under one model, in one pass.

    model_or_id : a model id (timm name with tag, or ``offline/<name>``; loaded with
        :func:`transvis.models.load_model`) or a loaded timm model (put in eval mode and moved to ``device``).
    dataset : see the module docstring; grayscale images become 3 channels.
    batch_size : images per forward; on out-of-memory it is halved and the batch retried, never a crash.
    device : ``"auto"`` (CUDA, then MPS, then CPU) or an explicit device.
    input_size : override of the model's input side (int or (H, W)) for CPU-friendly runs; the rest of the
        preprocessing is always the model's own timm config.
    layers : intermediate taps besides the pre-logits features: ``"all"`` or tap indices (negative from the
        end) of ``model.forward_intermediates``; each is global-average-pooled.
    num_workers : DataLoader processes (default: :func:`auto_num_workers`).
    progress : ``progress(done, total, images_per_s, eta_s)`` after every batch; ``True`` shows a tqdm bar,
        ``False`` nothing; ``None`` shows tqdm only on a terminal.
    amp : mixed precision (default: on for CUDA, off elsewhere; ``True`` on CPU autocasts to bfloat16);
        channels_last likewise (default on CUDA only).
    with_source_probs : compute source probabilities when the model has a classifier.
    cancel : a ``threading.Event`` or a callable returning True to stop: checked before the first batch and
        after every batch; a request raises :class:`ExtractionCancelled` (the running batch finishes first).

    Returns the pre-logits :class:`FeatureSet` (float32 features [N, D], labels [N], source_probs [N, Cs] or
    None), or, when ``layers`` is given, ``{"pre_logits": FeatureSet, "tap<i>": FeatureSet, ...}``.
    ``meta`` records the preprocessing, device, precision, effective batch size, timing, versions and the
    dataset indices that were skipped (``meta["skipped"]``) with their errors.
    """
    from transvis.models import preprocessing_config

    _check_dataset(dataset, batch_size)
    n_items = len(dataset)
    device = select_device(device)
    amp_dtype = _amp_dtype(device, amp)
    use_channels_last = (device.type == "cuda") if channels_last is None else bool(channels_last)
    model, model_id = _prepared_model(model_or_id, device, use_channels_last, cache_dir)
    config = preprocessing_config(model, input_size)
    taps = _resolve_taps(model, layers, tuple(config["input_size"]), device, amp_dtype)
    with_logits = bool(with_source_probs) and int(getattr(model, "num_classes", 0) or 0) > 0
    forward = _Forward(model, device, amp_dtype, use_channels_last, taps, with_logits, batch_size)
    workers = auto_num_workers(n_items, batch_size, device) if num_workers is None else int(num_workers)
    loader = _loader(dataset, _eval_transform(config), batch_size, workers, device)

    bar = _Progress(n_items, progress, f"{model_id} on {dataset.dataset_id}")
    run = _run_batches(loader, forward, n_items, bar, cancel, model_id, str(dataset.dataset_id))
    meta = _extraction_meta(model_id, config, device, amp_dtype, use_channels_last, forward, batch_size, workers,
                            n_items, run, with_logits)
    labels = np.concatenate(run.labels).astype(np.int64)
    probs = np.concatenate(run.chunks.pop("probs")) if "probs" in run.chunks else None

    def featureset(layer: str, values: np.ndarray, source_probs) -> FeatureSet:
        layer_meta = dict(copy.deepcopy(meta), layer=layer)
        if layer != PRE_LOGITS:
            layer_meta["tap_index"] = int(layer[3:])
        return FeatureSet(features=values, labels=labels, class_names=list(dataset.class_names), model_id=model_id,
                          dataset_id=str(dataset.dataset_id), source_probs=source_probs, layer=layer,
                          meta=layer_meta)

    pre_logits = featureset(PRE_LOGITS, np.concatenate(run.chunks.pop(PRE_LOGITS)), probs)
    if layers is None:
        return pre_logits
    out = {PRE_LOGITS: pre_logits}
    for index in taps:
        out[f"tap{index}"] = featureset(f"tap{index}", np.concatenate(run.chunks[f"tap{index}"]), None)
    return out


def _check_dataset(dataset, batch_size: int) -> None:
    for attribute in ("class_names", "dataset_id"):
        if not hasattr(dataset, attribute):
            raise ValueError(f"The dataset has no `{attribute}` attribute; transvis datasets provide it.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    if len(dataset) == 0:
        raise ValueError(f"Dataset {dataset.dataset_id} is empty; nothing to extract.")


def _prepared_model(model_or_id, device: torch.device, channels_last: bool, cache_dir):
    """``(model in eval mode on device, model id)``; a model id is loaded with :func:`transvis.models.load_model`."""
    from transvis.models import load_model

    model = load_model(model_or_id, device="cpu", cache_dir=cache_dir) if isinstance(model_or_id, str) else model_or_id
    model_id = getattr(model, "transvis_model_id", None) or _describe(model)
    _check_finite_weights(model, model_id)
    model = model.eval().to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, model_id


def _check_finite_weights(model, model_id: str) -> None:
    """Raise ``ValueError`` naming the first parameter or buffer of ``model`` that holds NaN or inf values:
    such weights give NaN features, which no metric can rank and the store must never keep."""
    for kind, tensors in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
        for name, tensor in tensors:
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                bad = int((~torch.isfinite(tensor)).sum())
                raise ValueError(
                    f"the weights of {model_id} are not finite: {kind} {name!r} holds {bad:,} NaN or infinite "
                    "value(s). The checkpoint is damaged or its training diverged; use a finite checkpoint."
                )


def _check_finite_outputs(outputs: Mapping[str, np.ndarray], what: str, indices: np.ndarray) -> None:
    """Raise ``ValueError`` when a batch's outputs ({name: [B, ...]}, rows for dataset items ``indices`` [B])
    hold NaN or inf values, naming the first such item."""
    for key, values in outputs.items():
        bad_rows = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
        if bad_rows.any():
            output = "source probabilities" if key == "probs" else f"{key} features"
            raise ValueError(
                f"the {output} of {what} hold NaN or infinite values (first at dataset item "
                f"{int(indices[np.argmax(bad_rows)])}); they are not kept. With finite weights this is an "
                "overflow: extract in full precision (amp=False), or check that image."
            )


def _eval_transform(config: Mapping[str, Any]):
    """timm's evaluation transform for a model's preprocessing ``config`` (``transvis.models.preprocessing_config``)."""
    from timm.data import create_transform

    return create_transform(
        input_size=tuple(config["input_size"]),
        interpolation=config["interpolation"],
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
        crop_pct=config["crop_pct"],
        crop_mode=config.get("crop_mode", "center"),
        is_training=False,
    )


def _loader(dataset, transform, batch_size: int, workers: int, device: torch.device) -> DataLoader:
    """Batches of ``(indices, images, labels, failed)`` in dataset order; unreadable images are reported in
    ``failed`` instead of stopping the run (``_SafeTransformed``)."""
    return DataLoader(
        _SafeTransformed(dataset, transform),
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=device.type == "cuda",
        worker_init_fn=_worker_init if workers > 0 else None,
        prefetch_factor=4 if workers > 0 else None,
    )


@dataclass
class _BatchRun:
    """What one pass over the loader collected: per-output arrays, labels of the kept images, skipped indices."""

    chunks: dict[str, list[np.ndarray]] = field(default_factory=dict)
    labels: list[np.ndarray] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def _run_batches(loader, forward: _Forward, n_items: int, bar: _Progress, cancel, model_id: str,
                 dataset_id: str) -> _BatchRun:
    """Forward every batch of ``loader``; checks ``cancel`` before the first batch and after each one."""
    what = f"{model_id} on {dataset_id}"
    run = _BatchRun()
    start = time.perf_counter()
    done = 0
    try:
        with torch.inference_mode():
            if _cancel_requested(cancel):
                raise ExtractionCancelled(f"extraction of {what} cancelled before it started.")
            for indices, images, labels, failed in loader:
                for index, message in failed:
                    run.skipped.append(int(index))
                    if len(run.errors) < _MAX_ERRORS_KEPT:
                        run.errors[str(int(index))] = message
                if images is not None:
                    outputs = forward(images)
                    _check_finite_outputs(outputs, what, indices.numpy())
                    for key, value in outputs.items():
                        run.chunks.setdefault(key, []).append(value)
                    run.labels.append(labels.numpy())
                step = len(indices) + len(failed)
                done += step
                bar.update(done, step)
                if _cancel_requested(cancel) and done < n_items:
                    raise ExtractionCancelled(f"extraction of {what} cancelled after {done:,} of {n_items:,} "
                                              "images.")
    finally:
        bar.close()
    run.seconds = time.perf_counter() - start
    if not run.labels:
        first = next(iter(run.errors.values()), "unknown error")
        raise ValueError(f"No image of {dataset_id} could be read (first error: {first}).")
    return run


def _extraction_meta(model_id, config, device, amp_dtype, channels_last, forward, batch_size, workers, n_items,
                     run: _BatchRun, with_logits: bool) -> dict[str, Any]:
    """``FeatureSet.meta`` of an extraction: preprocessing, device, precision, batch sizes, timing, versions, skips."""
    import timm

    from transvis.models import preprocessing_fingerprint

    return {
        "model_id": model_id,
        "preprocessing": config,
        "preprocessing_id": preprocessing_fingerprint(config),
        "device": str(device),
        "precision": str(amp_dtype).replace("torch.", "") if amp_dtype is not None else "float32",
        "channels_last": channels_last,
        "batch_size": forward.chunk,
        "requested_batch_size": batch_size,
        "oom_backoffs": forward.backoffs,
        "num_workers": workers,
        "n_total": n_items,
        "n_kept": int(sum(part.shape[0] for part in run.labels)),
        "skipped": sorted(run.skipped),
        "skipped_errors": run.errors,
        "seconds": round(run.seconds, 3),
        "images_per_s": round(n_items / max(run.seconds, 1e-9), 2),
        "source_head": with_logits,
        "versions": {"torch": torch.__version__, "timm": timm.__version__},
    }


def _describe(model) -> str:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    arch, tag = cfg.get("architecture"), cfg.get("tag")
    if arch:
        return f"{arch}.{tag}" if tag else arch
    return type(model).__name__
