"""Fine-tuning ground truth: train the whole network with a new head, report held-out test accuracy.

Protocol (the shape used by the transferability literature, e.g. You et al., LogME, ICML 2021; Shao et al.,
SFDA, ECCV 2022): a new linear head for the target classes, SGD with momentum and weight decay, a cosine
learning-rate schedule over all steps, one run per learning rate of a small grid, the learning rate picked by
validation accuracy, and the test accuracy of that run reported. Preprocessing comes from the model's own
timm data config (``timm.data.resolve_model_data_config`` + ``create_transform``), with an optional
``input_size`` override so the same protocol runs on a CPU at reduced resolution. A learning rate whose loss
turns non-finite is recorded in the protocol's ``diverged_lrs`` and left out of the choice; when every
learning rate diverges or ends at chance on validation, one more run at ``min(lrs) / 10`` follows
(``lrs_tried`` records it).

Each learning rate's run is :func:`finetune_one_lr` (its own seeded initial weights and batch order, the split
of the whole grid), so the runs may execute apart — one Ray task each — and :func:`combine_lr_runs` turns them
into the :class:`FinetuneResult` that :func:`finetune` returns; :func:`fallback_lr` says when the extra run is due.
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .splits import stratified_split

DEFAULT_LRS = (0.01, 0.001)


@dataclass
class FinetuneResult:
    """Test accuracy at the learning rate chosen on validation, and every run's numbers."""

    accuracy: float
    best_lr: float
    val_accuracy: dict[float, float]
    test_accuracy: dict[float, float]
    n_train: int
    n_val: int
    n_test: int
    seconds: float
    protocol: dict[str, Any] = field(default_factory=dict)


def pick_device(device: str | None = None) -> str:
    """``device`` when given, else "cuda", then "mps", then "cpu"."""
    import torch

    if device:
        return str(device)
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def as_module(loaded):
    """The ``torch.nn.Module`` inside whatever a model loader returned (a module, a tuple, or an object with
    a ``.model``)."""
    import torch

    if isinstance(loaded, torch.nn.Module):
        return loaded
    if isinstance(loaded, (tuple, list)):
        for item in loaded:
            if isinstance(item, torch.nn.Module):
                return item
    inner = getattr(loaded, "model", None)
    if isinstance(inner, torch.nn.Module):
        return inner
    raise ValueError(f"the model loader returned a {type(loaded).__name__}, not a torch.nn.Module.")


def with_new_head(model, num_classes: int, input_size: int = 64):
    """``model`` with a freshly initialised ``num_classes``-way linear head.

    timm models use ``reset_classifier``; modules with a final ``fc`` / ``classifier`` / ``head`` Linear get
    it replaced; anything else gets a Linear appended after its (flattened) output.
    """
    import torch

    if hasattr(model, "reset_classifier"):
        model.reset_classifier(num_classes)
        return model
    for attr in ("fc", "classifier", "head"):
        layer = getattr(model, attr, None)
        if isinstance(layer, torch.nn.Linear):
            setattr(model, attr, torch.nn.Linear(layer.in_features, num_classes))
            return model
        if isinstance(layer, torch.nn.Sequential) and len(layer) and isinstance(layer[-1], torch.nn.Linear):
            layer[-1] = torch.nn.Linear(layer[-1].in_features, num_classes)
            return model
    was_training = model.training
    model.eval()
    with torch.no_grad():
        width = model(torch.zeros(1, 3, input_size, input_size)).flatten(1).shape[1]
    model.train(was_training)
    return torch.nn.Sequential(model, torch.nn.Flatten(1), torch.nn.Linear(width, num_classes))


def model_transforms(model, input_size: int | None = None, augment: bool = False):
    """(train transform, eval transform, resolved data config) from the model's own timm config.

    input_size : square side overriding the config's input size (CPU-friendly runs).
    augment : random-resized-crop (scale 0.5-1) + horizontal flip for training; otherwise training uses the
        deterministic eval transform.
    """
    from timm.data import create_transform, resolve_model_data_config

    config = dict(resolve_model_data_config(model))
    if input_size is not None:
        config["input_size"] = (3, int(input_size), int(input_size))
    eval_tf = create_transform(**config, is_training=False)
    if augment:
        train_tf = create_transform(**config, is_training=True, scale=(0.5, 1.0), hflip=0.5, color_jitter=0.0)
    else:
        train_tf = eval_tf
    return train_tf, eval_tf, config


class _Transformed:
    """``dataset`` restricted to ``indices`` with ``transform`` applied to each PIL image."""

    def __init__(self, dataset, indices, transform):
        self.dataset, self.indices, self.transform = dataset, np.asarray(indices), transform

    def __len__(self):
        return int(self.indices.size)

    def __getitem__(self, i):
        image, label = self.dataset[int(self.indices[i])]
        return self.transform(image), label


def evaluate(model, loader, device: str) -> float:
    """Top-1 accuracy of ``model`` over ``loader``."""
    import torch

    model.eval()
    correct = total = 0
    with torch.inference_mode(), torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
        for images, labels in loader:
            images = images.to(device, non_blocking=True)
            if device == "cuda":
                images = images.contiguous(memory_format=torch.channels_last)
            pred = model(images).argmax(1).cpu()
            correct += int((pred == labels).sum())
            total += int(labels.numel())
    return correct / max(total, 1)


def train_one(model, train_loader, lr: float, epochs: int, device: str, momentum: float = 0.9,
              weight_decay: float = 1e-4, max_steps: int | None = None,
              progress: Callable[[int, int], None] | None = None):
    """SGD(momentum, weight decay) with a per-step cosine schedule from ``lr`` to 0; trains in place."""
    import torch

    steps = epochs * len(train_loader)
    if max_steps is not None:
        steps = min(steps, int(max_steps))
    steps = max(steps, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    step = 0
    while step < steps:
        for images, labels in train_loader:
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            if device == "cuda":
                images = images.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
                loss = loss_fn(model(images), labels)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"fine-tuning diverged (loss {loss.item()}) at lr={lr}; use a smaller "
                                         "learning rate.")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            if progress is not None:
                progress(step, steps)
            if step >= steps:
                break
    return model


def _grid_with_fallback(lrs: list[float], all_failed: Callable[[], bool]):
    """Yield ``lrs``, then ``min(lrs) / 10`` once when ``all_failed()`` (appended to ``lrs``): a grid set too
    high for a model (e.g. one taking 0-255 inputs) is extended downward rather than reporting chance."""
    yield from list(lrs)
    if all_failed():
        fallback = min(lrs) / 10
        lrs.append(fallback)
        yield fallback


@dataclass(frozen=True)
class LrRun:
    """One learning rate's fine-tuning run (:func:`finetune_one_lr`): what :func:`combine_lr_runs` needs.

    val_accuracy / test_accuracy : top-1 on the split's validation / test images (validation: NaN without a
        validation split; both None when the run diverged). chance : validation accuracy of always guessing the
        commonest class (0.0 without a validation split). n_train / n_val / n_test : the split's sizes (the
        same for every learning rate of a grid). setup : what the protocol records of the run and where it ran
        (settings, steps, input size, device, torch version and threads).
    """

    lr: float
    val_accuracy: float | None
    test_accuracy: float | None
    diverged: bool
    chance: float
    n_train: int
    n_val: int
    n_test: int
    seconds: float
    setup: dict[str, Any] = field(default_factory=dict)


def finetune_one_lr(model, dataset, lr: float, *, lrs: Sequence[float] = DEFAULT_LRS, seed: int = 0,
                    epochs: int = 3, batch_size: int = 32, input_size: int | None = None, device: str | None = None,
                    val_fraction: float = 0.2, test_fraction: float = 0.3, momentum: float = 0.9,
                    weight_decay: float = 1e-4, augment: bool = False, max_steps: int | None = None,
                    num_workers: int | None = None,
                    progress: Callable[[str, int, int], None] | None = None) -> LrRun:
    """One run of :func:`finetune`'s grid: ``model`` fine-tuned at ``lr`` on the split the whole grid ``lrs``
    implies (a validation split only when ``len(lrs) > 1``), from the same seeded initial weights and with
    the same batch order as every other learning rate — so runs may execute anywhere, in any order (one Ray
    task each), and :func:`combine_lr_runs` gives what :func:`finetune` gives. ``lr`` need not be in ``lrs``
    (the fallback run). A non-finite loss is returned as ``diverged=True``, not raised. Other arguments: as
    :func:`finetune`."""
    import torch

    if len(lrs) == 0:
        raise ValueError("lrs must hold at least one learning rate.")
    start = time.perf_counter()
    device = pick_device(device)
    labels = np.asarray(dataset.labels)
    train, val, test = stratified_split(labels, val_fraction if len(lrs) > 1 else 0.0, test_fraction, seed)
    if test.size == 0 or train.size == 0:
        raise ValueError("too few images to fine-tune: need at least two per class for a test split.")
    if num_workers is None:
        num_workers = 4 if device == "cuda" else 0
    net = _fresh_model_factory(model, seed, len(dataset.class_names), int(input_size or 64))()
    train_tf, eval_tf, config = model_transforms(net, input_size, augment)
    loader = _loader_factory(dataset, batch_size, num_workers, seed, device)
    train_loader = loader(train, train_tf, True)  # seeded: the same batch order for every learning rate
    steps = max(min(epochs * len(train_loader), int(max_steps) if max_steps else 10**12), 1)
    chance = float(np.bincount(labels[val]).max() / val.size) if val.size else 0.0
    net = net.to(device)
    if device == "cuda":
        net = net.to(memory_format=torch.channels_last)
    step_progress = (lambda d, t: progress(f"lr={lr:g}", d, t)) if progress else None
    torch.manual_seed(seed)
    # timm's random-resized crop (augment) draws from Python's random, in this process when num_workers=0:
    # seeded per run, so a run is the same wherever and after whatever it runs; the caller's state is restored
    python_random = random.getstate()
    random.seed(seed)
    val_accuracy = test_accuracy = None
    try:
        train_one(net, train_loader, lr, epochs, device, momentum, weight_decay, max_steps, step_progress)
        diverged = False
    except FloatingPointError:
        # a learning rate too large for this model is a result of the grid search, not a failure of the run
        diverged = True
    finally:
        random.setstate(python_random)
    if not diverged:
        val_accuracy = evaluate(net, loader(val, eval_tf, False), device) if val.size else float("nan")
        test_accuracy = evaluate(net, loader(test, eval_tf, False), device)
    del net
    setup = {
        "seed": int(seed), "epochs": int(epochs), "max_steps": max_steps, "batch_size": int(batch_size),
        "momentum": momentum, "weight_decay": weight_decay, "augment": bool(augment),
        "input_size": list(config["input_size"]), "val_fraction": val_fraction, "test_fraction": test_fraction,
        "device": device, "dataset_id": getattr(dataset, "dataset_id", None), "steps_per_lr": steps,
        "crop_pct": config.get("crop_pct"), "interpolation": config.get("interpolation"),
        "torch": torch.__version__.split("+")[0], "torch_threads": torch.get_num_threads(),
    }
    return LrRun(float(lr), val_accuracy, test_accuracy, diverged, chance, int(train.size), int(val.size),
                 int(test.size), time.perf_counter() - start, setup)


def fallback_lr(runs: Sequence[LrRun], lrs: Sequence[float]) -> float | None:
    """``min(lrs) / 10`` when the runs of the grid ``lrs`` (in grid order) all diverged or ended no better
    than chance on validation and no fallback run is among ``runs`` yet; otherwise None."""
    if len(runs) != len(lrs):
        return None
    grid = _grid_of(runs, lrs)
    return min(float(v) for v in lrs) / 10 if grid.all_failed() else None


def combine_lr_runs(runs: Sequence[LrRun], lrs: Sequence[float], *,
                    seconds: float | None = None) -> FinetuneResult:
    """:func:`finetune`'s result from its runs: ``runs`` holds one :class:`LrRun` per learning rate of
    ``lrs`` in grid order, then the fallback run (:func:`fallback_lr`) when there was one. The learning rate
    with the best validation accuracy is chosen (ties: the smaller one; the only trained one without a
    validation split) and its test accuracy reported. ``seconds``: the result's time (default: the runs'
    sum). Raises ``ValueError`` when every run diverged (add smaller learning rates) or when ``runs`` does not
    match ``lrs``."""
    lrs = [float(v) for v in lrs]
    if len(lrs) == 0:
        raise ValueError("lrs must hold at least one learning rate.")
    if [r.lr for r in runs[:len(lrs)]] != lrs or len(runs) > len(lrs) + 1:
        raise ValueError(f"runs at {[r.lr for r in runs]} do not match the grid {lrs} (one run per learning rate "
                         "in grid order, then at most the fallback run at min(lrs)/10).")
    if len({(r.n_train, r.n_val, r.n_test) for r in runs}) > 1:
        raise ValueError("the runs were split differently; run every learning rate with the same lrs, seed, "
                         "val_fraction and test_fraction.")
    grid = _grid_of(runs, lrs)
    best_lr = grid.best_lr(validated=runs[0].n_val > 0)
    setup = runs[0].setup
    protocol = {
        "method": "full fine-tuning, new linear head, SGD momentum, cosine schedule per step, lr chosen on val; "
                  "if every lr diverges or ends at chance on val, one more run at min(lrs)/10",
        "seed": setup.get("seed"), "lrs": lrs, "best_lr": best_lr, "epochs": setup.get("epochs"),
        "max_steps": setup.get("max_steps"), "batch_size": setup.get("batch_size"),
        "momentum": setup.get("momentum"), "weight_decay": setup.get("weight_decay"),
        "augment": setup.get("augment"), "input_size": setup.get("input_size"),
        "val_fraction": setup.get("val_fraction"), "test_fraction": setup.get("test_fraction"),
        "device": setup.get("device"), "dataset_id": setup.get("dataset_id"),
        "steps_per_lr": setup.get("steps_per_lr"),
        "val_accuracy": {f"{lr:g}": v for lr, v in grid.val_accuracy.items()},
        "diverged_lrs": grid.diverged, "lrs_tried": grid.lrs_tried, "crop_pct": setup.get("crop_pct"),
        "interpolation": setup.get("interpolation"), "torch": setup.get("torch"),
        "torch_threads": setup.get("torch_threads"),
    }
    if seconds is None:
        seconds = sum(r.seconds for r in runs)
    return FinetuneResult(grid.test_accuracy[best_lr], best_lr, grid.val_accuracy, grid.test_accuracy,
                          runs[0].n_train, runs[0].n_val, runs[0].n_test, float(seconds), protocol)


def _grid_of(runs: Sequence[LrRun], lrs: Sequence[float]) -> _LrGrid:
    """The :class:`_LrGrid` of ``runs`` (grid order, then the fallback)."""
    grid = _LrGrid(lrs_tried=[r.lr for r in runs], chance=runs[0].chance if runs else 0.0)
    for run in runs:
        if run.diverged:
            grid.diverged.append(run.lr)
        else:
            grid.val_accuracy[run.lr] = run.val_accuracy
            grid.test_accuracy[run.lr] = run.test_accuracy
    return grid


def finetune(model, dataset, *, seed: int = 0, lrs: Sequence[float] = DEFAULT_LRS, epochs: int = 3,
             batch_size: int = 32, input_size: int | None = None, device: str | None = None,
             val_fraction: float = 0.2, test_fraction: float = 0.3, momentum: float = 0.9,
             weight_decay: float = 1e-4, augment: bool = False, max_steps: int | None = None,
             num_workers: int | None = None,
             progress: Callable[[str, int, int], None] | None = None) -> FinetuneResult:
    """Fine-tune ``model`` on ``dataset`` (an ImageDataset: ``ds[i] -> (PIL image, label)``) and return the
    test accuracy at the learning rate chosen on validation.

    model : a ``torch.nn.Module`` (deep-copied for every learning rate) or a zero-argument callable returning
        a fresh pretrained module (called once per learning rate). Its head is replaced (:func:`with_new_head`).
    lrs : learning-rate grid; epochs / max_steps : training length per run (``max_steps`` caps the steps).
    input_size : square input side overriding the model's config (e.g. 64 or 96 on a CPU).
    progress : ``progress(stage, done, total)`` with stage ``"lr=<lr>"``.

    The grid's runs one after another (:func:`finetune_one_lr`), the fallback run when they all failed
    (:func:`fallback_lr`), combined by :func:`combine_lr_runs` — the pieces a cluster runs as one task per
    learning rate (:func:`transvis.groundtruth.measure_groundtruth` with an ``executor``).
    """
    if len(lrs) == 0:
        raise ValueError("lrs must hold at least one learning rate.")
    start = time.perf_counter()
    options = dict(lrs=lrs, seed=seed, epochs=epochs, batch_size=batch_size, input_size=input_size, device=device,
                   val_fraction=val_fraction, test_fraction=test_fraction, momentum=momentum,
                   weight_decay=weight_decay, augment=augment, max_steps=max_steps, num_workers=num_workers,
                   progress=progress)
    runs = [finetune_one_lr(model, dataset, lr, **options) for lr in lrs]
    extra = fallback_lr(runs, lrs)
    if extra is not None:
        runs.append(finetune_one_lr(model, dataset, extra, **options))
    return combine_lr_runs(runs, lrs, seconds=time.perf_counter() - start)


@dataclass
class _LrGrid:
    """The learning-rate search of :func:`finetune`: accuracies per learning rate and the runs that diverged."""

    lrs_tried: list[float]
    chance: float  # validation accuracy of always guessing the commonest class
    val_accuracy: dict[float, float] = field(default_factory=dict)
    test_accuracy: dict[float, float] = field(default_factory=dict)
    diverged: list[float] = field(default_factory=list)

    def all_failed(self) -> bool:
        """Every run diverged or ended no better than guessing the commonest class."""
        return all(lr in self.diverged or self.val_accuracy.get(lr, 0.0) <= self.chance for lr in self.lrs_tried)

    def best_lr(self, validated: bool) -> float:
        """The learning rate with the best validation accuracy (ties: the smaller one); the only one without a
        validation split."""
        if not self.test_accuracy:
            raise ValueError(f"fine-tuning diverged at every learning rate {self.lrs_tried}; add smaller learning "
                             "rates.")
        if not validated:
            return next(iter(self.test_accuracy))
        return max(self.val_accuracy, key=lambda lr: (self.val_accuracy[lr], -lr))


def _fresh_model_factory(model, seed: int, num_classes: int, input_side: int) -> Callable[[], Any]:
    """A function returning the same freshly initialised network (new head) every call: ``model`` deep-copied,
    or called when it is a zero-argument factory."""
    import torch

    def fresh():
        torch.manual_seed(seed)  # the same initial weights (random parts included) for every learning rate
        module = as_module(model() if callable(model) and not isinstance(model, torch.nn.Module)
                           else copy.deepcopy(model))
        torch.manual_seed(seed)
        return with_new_head(module, num_classes, input_side)

    return fresh


def _loader_factory(dataset, batch_size: int, num_workers: int, seed: int, device: str):
    """``loader(indices, transform, shuffle)``: a DataLoader over ``dataset[indices]`` with a seeded order."""
    import torch

    def loader(indices, transform, shuffle):
        generator = torch.Generator().manual_seed(seed)
        return torch.utils.data.DataLoader(
            _Transformed(dataset, indices, transform), batch_size=batch_size, shuffle=shuffle,
            drop_last=shuffle and len(indices) > batch_size, num_workers=num_workers, generator=generator,
            pin_memory=device == "cuda", persistent_workers=False,
        )

    return loader
