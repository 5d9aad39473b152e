"""Measure ground truth for a list of models on one dataset and write it as CSV (both regimes).

    measure_groundtruth(["offline/efficientnet_lite0", ...], "fashion-mnist", seed=0,
                        out_csv="assets/groundtruth/fashion-mnist.csv",
                        finetune_kw=dict(input_size=96, epochs=2), max_per_class=200)

Models come from ``model_loader(model_id) -> torch.nn.Module`` (default: ``transvis.models.load_model``);
linear-probe features from ``feature_fn(model_id, dataset) -> FeatureSet | array [N, D]`` (default: a plain
pooled pre-logits pass with the model's own eval transform, :func:`embed_dataset`).
"""

from __future__ import annotations

import inspect
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .csvio import GroundTruthRow, normalise_regime, read_groundtruth_csv, write_groundtruth_csv
from .finetune import (
    DEFAULT_LRS,
    LrRun,
    as_module,
    combine_lr_runs,
    fallback_lr,
    finetune,
    finetune_one_lr,
    model_transforms,
    pick_device,
)
from .linear_probe import linear_probe


def default_model_loader(model_id: str):
    """``transvis.models.load_model(model_id)`` as a ``torch.nn.Module``."""
    from transvis.models import load_model  # imported late: groundtruth does not need the zoo otherwise

    return as_module(load_model(model_id))


def embed_dataset(model, dataset, input_size: int | None = None, batch_size: int = 64, device: str | None = None,
                  num_workers: int | None = None) -> np.ndarray:
    """float32 [N, D] pooled pre-logits features of ``dataset`` under ``model``'s own eval transform.

    timm models use ``forward_features`` + ``forward_head(pre_logits=True)``; other modules use their output.
    """
    import torch

    device = pick_device(device)
    _, eval_tf, _ = model_transforms(model, input_size)
    if num_workers is None:
        num_workers = 4 if device == "cuda" else 0

    class _Images(torch.utils.data.Dataset):
        def __len__(self):
            return len(dataset)

        def __getitem__(self, i):
            return eval_tf(dataset[i][0])

    loader = torch.utils.data.DataLoader(_Images(), batch_size=batch_size, num_workers=num_workers,
                                         pin_memory=device == "cuda")
    model = model.to(device).eval()
    out = []
    with torch.inference_mode(), torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
        for images in loader:
            images = images.to(device, non_blocking=True)
            if hasattr(model, "forward_features") and hasattr(model, "forward_head"):
                feats = model.forward_head(model.forward_features(images), pre_logits=True)
            else:
                feats = model(images)
            out.append(feats.flatten(1).float().cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def measure_groundtruth(model_ids: Sequence[str], dataset, regimes: Sequence[str] = ("linear_probe", "finetune"),
                        seed: int = 0, out_csv: str | Path | None = None,
                        model_loader: Callable[[str], Any] | None = None,
                        feature_fn: Callable[[str, Any], Any] | None = None, max_per_class: int | None = None,
                        probe_kw: dict | None = None, finetune_kw: dict | None = None,
                        probe_input_size: int | None = None, resume: bool = False,
                        progress: Callable[[str], None] | None = None,
                        executor: str | None = None) -> list[GroundTruthRow]:
    """Ground-truth accuracy of every model on ``dataset`` for each regime; rows are merged into ``out_csv``
    (when given) after each model, so an interrupted run keeps what it measured.

    dataset : an ImageDataset or anything :func:`transvis.data.load_dataset` accepts. Images that fail to
        decode are dropped first (reported through ``progress``).
    max_per_class : stratified subsample (seed ``seed``) before measuring.
    probe_kw / finetune_kw : extra arguments for :func:`linear_probe` / :func:`finetune` (e.g. ``epochs``,
        ``lrs``, ``input_size``, ``device``); ``device`` in ``finetune_kw`` also applies to the default feature pass.
    probe_input_size : input side of the linear probe's features (the default feature pass uses it; with a
        ``feature_fn`` it is only recorded). Default: ``finetune_kw["input_size"]``.
    resume : with ``out_csv``, skip every (model, regime) whose row in ``out_csv`` was measured on this dataset
        with the same protocol settings (:func:`protocol_settings`); those rows are returned as read.
    executor : None (default: one measurement after another, in this process) or a Ray cluster address
        (``"ray"``, ``"ray://HOST:PORT"``, ``"ray=auto"``; :mod:`transvis.cluster`): one task per model for the
        linear probe and one per model × learning rate for fine-tuning (then one per model whose grid all
        failed, for the fallback learning rate), with the same rows as in this process (``model_loader`` and
        ``feature_fn`` are sent to the workers). A failing task raises after the others finished; the models
        measured are in ``out_csv``.
    """
    if isinstance(dataset, (str, Path)):
        from transvis.data import load_dataset

        dataset = load_dataset(dataset)
    dataset = dataset.subsample(max_per_class, seed) if max_per_class is not None else dataset
    say = progress or (lambda message: None)
    bad = dataset.validate()
    if bad:  # a corrupt file would stop fine-tuning mid-epoch; measure on the images that decode
        say(f"skipping {len(bad)} image(s) that cannot be decoded, e.g. {bad[0].where}")
        dataset = dataset.without(bad)
    regimes = [normalise_regime(r) for r in regimes]
    unknown = [r for r in regimes if r not in ("linear_probe", "finetune")]
    if unknown:
        raise ValueError(f"unknown regime(s) {unknown}; measure 'linear_probe' and/or 'finetune'.")
    loader = model_loader or default_model_loader
    probe_kw, finetune_kw = dict(probe_kw or {}), dict(finetune_kw or {})
    if probe_input_size is None:
        probe_input_size = finetune_kw.get("input_size")
    planned = {
        "linear_probe": protocol_settings("linear_probe", seed, probe_kw, input_size=probe_input_size,
                                          features="feature_fn" if feature_fn else "embed_dataset (pre-logits)"),
        "finetune": protocol_settings("finetune", seed, finetune_kw),
    }
    done = {}
    if resume and out_csv is not None and Path(out_csv).is_file():
        done = {(r.model, r.regime): r for r in read_groundtruth_csv(out_csv)
                if r.dataset == dataset.dataset_id and r.regime in planned
                and protocol_matches(r.protocol, planned[r.regime])}
    measure = dict(dataset=dataset, seed=seed, loader=loader, feature_fn=feature_fn, probe_kw=probe_kw,
                   finetune_kw=finetune_kw, probe_input_size=probe_input_size)
    if executor is not None:
        return _measure_on_cluster(executor, model_ids, regimes, done, out_csv, say, measure)
    rows = []
    for model_id in model_ids:
        model_rows = []
        for regime in regimes:
            if (model_id, regime) in done:
                say(f"{model_id}: {regime} already measured with this protocol "
                    f"(accuracy {done[model_id, regime].accuracy:.4f}); skipped")
                rows.append(done[model_id, regime])
                continue
            say(f"{model_id}: {regime}")
            model_rows.append(_measure_one((model_id, regime), None, **measure))
            say(f"{model_id}: {regime} accuracy {model_rows[-1].accuracy:.4f}")
        rows += model_rows
        if out_csv is not None and model_rows:
            write_groundtruth_csv(model_rows, out_csv, merge=True)
    return rows


def _measure_one(task: tuple[str, str], _item, *, dataset, seed, loader, feature_fn, probe_kw, finetune_kw,
                 probe_input_size) -> GroundTruthRow:
    """One (model, regime) measurement as a CSV row (in this process, or a linear probe's Ray task)."""
    model_id, regime = task
    start = time.perf_counter()
    if regime == "linear_probe":
        labels = dataset.labels
        if feature_fn is not None:
            feats = feature_fn(model_id, dataset)
            labels = getattr(feats, "labels", labels)  # an extractor may have skipped images
            feats = getattr(feats, "features", feats)
        else:
            feats = embed_dataset(as_module(loader(model_id)), dataset, input_size=probe_input_size,
                                  device=finetune_kw.get("device"))
        result = linear_probe(feats, labels, seed=seed, **probe_kw)
        protocol = {**result.protocol, "input_size": probe_input_size,
                    "features": "feature_fn" if feature_fn else "embed_dataset (pre-logits)"}
    else:
        result = finetune(lambda mid=model_id: loader(mid), dataset, seed=seed, **finetune_kw)
        protocol = result.protocol
    return _row(model_id, regime, dataset, result, protocol, time.perf_counter() - start)


def _row(model_id: str, regime: str, dataset, result, protocol: dict, seconds: float) -> GroundTruthRow:
    """The CSV row of a ProbeResult / FinetuneResult measured in ``seconds``."""
    return GroundTruthRow(
        model=model_id, dataset=dataset.dataset_id, regime=regime, accuracy=float(result.accuracy),
        protocol={**protocol, "dataset_id": dataset.dataset_id},
        extra={"n_train": result.n_train, "n_val": result.n_val, "n_test": result.n_test,
               "seconds": f"{seconds:.1f}", "created": datetime.now(timezone.utc).isoformat(timespec="seconds")},
    )


def _cluster_task(task: tuple, _item, *, dataset, seed, loader, feature_fn, probe_kw, finetune_kw,
                  probe_input_size):
    """A Ray task of :func:`_measure_on_cluster`: ``(model, "linear_probe")`` → its GroundTruthRow;
    ``(model, "finetune", lr, position)`` → the :class:`LrRun` of that learning rate (``position``: its place
    in the grid, ``len(lrs)`` for the fallback)."""
    if task[1] == "linear_probe":
        return _measure_one(task, None, dataset=dataset, seed=seed, loader=loader, feature_fn=feature_fn,
                            probe_kw=probe_kw, finetune_kw=finetune_kw, probe_input_size=probe_input_size)
    model_id, _, lr, _position = task
    return finetune_one_lr(lambda mid=model_id: loader(mid), dataset, lr, seed=seed,
                           **{"lrs": DEFAULT_LRS, **finetune_kw})


def _measure_on_cluster(executor: str, model_ids, regimes, done, out_csv, say, measure) -> list[GroundTruthRow]:
    """:func:`measure_groundtruth` on a Ray cluster (:func:`transvis.cluster.map_models`): one task per model
    for the linear probe, one per model × learning rate for fine-tuning, combined by
    :func:`~transvis.groundtruth.finetune.combine_lr_runs` once a model's runs are back; the models whose grid
    all failed get their fallback run (:func:`~transvis.groundtruth.finetune.fallback_lr`) in a second round.
    Each model's rows are merged into ``out_csv`` once all of its tasks have finished, so an interrupted run
    keeps them. Rows (and errors) as in this process, in the serial order; a fine-tuning row's ``seconds`` is
    the sum of its runs' (compute, not wall-clock)."""
    from transvis.cluster import map_models

    lrs = [float(v) for v in measure["finetune_kw"].get("lrs", DEFAULT_LRS)]
    todo = [(m, r) for m in model_ids for r in regimes if (m, r) not in done]
    if any(r == "finetune" for _, r in todo) and not lrs:
        raise ValueError("lrs must hold at least one learning rate.")
    rows: dict[tuple[str, str], GroundTruthRow] = {}
    runs: dict[str, dict[int, LrRun]] = {m: {} for m in model_ids}
    failed: dict[str, Exception] = {}  # a model whose fine-tuning diverged at every learning rate
    waiting_for_fallback: list[str] = []

    def tasks_of(model_id, regime):
        if regime == "linear_probe":
            return [(model_id, regime)]
        return [(model_id, regime, lr, i) for i, lr in enumerate(lrs)]

    tasks = [t for m, r in todo for t in tasks_of(m, r)]
    left = {m: sum(1 for t in tasks if t[0] == m) for m in model_ids}

    def model_finished(model_id):
        if (model_id, "finetune") in todo:
            grid = [runs[model_id][i] for i in sorted(runs[model_id])]
            if len(grid) == len(lrs) and fallback_lr(grid, lrs) is not None:
                waiting_for_fallback.append(model_id)  # its rows are written after the fallback round
                return
            try:
                result = combine_lr_runs(grid, lrs)
            except ValueError as err:  # diverged at every learning rate, the fallback's included
                failed[model_id] = err
                return
            rows[model_id, "finetune"] = _row(model_id, "finetune", measure["dataset"], result, result.protocol,
                                              result.seconds)
            say(f"{model_id}: finetune accuracy {result.accuracy:.4f}")
        if out_csv is not None:
            write_groundtruth_csv([rows[m, r] for m, r in todo if m == model_id], out_csv, merge=True)

    def on_done(task, result):
        model_id = task[0]
        if task[1] == "linear_probe":
            rows[task] = result
            say(f"{model_id}: linear_probe accuracy {result.accuracy:.4f}")
        else:
            runs[model_id][task[3]] = result
        left[model_id] -= 1
        if left[model_id] == 0:
            model_finished(model_id)

    for model_id, regime in done:
        say(f"{model_id}: {regime} already measured with this protocol "
            f"(accuracy {done[model_id, regime].accuracy:.4f}); skipped")
    task_error = None
    try:
        map_models(executor, _cluster_task, tasks, {t: None for t in tasks}, common_kwargs=measure,
                   what="ground truth", on_done=on_done, blas_threads=None)
    except Exception as err:  # raised after every task finished: the fallback round still runs, then this
        task_error = err
    if waiting_for_fallback:
        fallback = min(lrs) / 10
        say(f"fine-tuning failed at every learning rate {lrs} for {len(waiting_for_fallback)} model(s); "
            f"one more run each at lr={fallback:g}")
        extra = [(m, "finetune", fallback, len(lrs)) for m in waiting_for_fallback]
        left.update({m: 1 for m in waiting_for_fallback})
        try:
            map_models(executor, _cluster_task, extra, {t: None for t in extra}, common_kwargs=measure,
                       what="ground truth (fallback lr)", on_done=on_done, blas_threads=None)
        except Exception as err:
            task_error = task_error or err
    if task_error is not None:
        raise task_error
    if failed:
        raise next(failed[m] for m in model_ids if m in failed)
    return [done[m, r] if (m, r) in done else rows[m, r] for m in model_ids for r in regimes]


# Arguments that define a regime's protocol (what resuming compares); results such as best_lr are not here.
_SETTING_NAMES = {
    "linear_probe": ("val_fraction", "test_fraction", "c_grid", "max_iter"),
    "finetune": ("lrs", "epochs", "max_steps", "batch_size", "momentum", "weight_decay", "augment",
                 "val_fraction", "test_fraction"),
}


def protocol_settings(regime: str, seed: int, kwargs: dict | None = None, **extra) -> dict[str, Any]:
    """The protocol settings a run of ``regime`` with ``kwargs`` (for :func:`linear_probe` / :func:`finetune`,
    defaults filled in) and ``seed`` records, as JSON values; ``extra`` (e.g. ``input_size``) is added as given.
    A ``finetune`` ``input_size`` is recorded as ``[3, side, side]`` (None: the model's own, not compared)."""
    regime = normalise_regime(regime)
    function = {"linear_probe": linear_probe, "finetune": finetune}[regime]
    defaults = {name: p.default for name, p in inspect.signature(function).parameters.items()}
    kwargs = dict(kwargs or {})
    settings = {name: kwargs.get(name, defaults[name]) for name in _SETTING_NAMES[regime]}
    settings["seed"] = int(seed)
    if regime == "finetune" and kwargs.get("input_size") is not None:
        side = int(kwargs["input_size"])
        settings["input_size"] = [3, side, side]
    settings.update(extra)
    return json.loads(json.dumps(settings))  # tuples -> lists, as they come back from the CSV


def protocol_matches(recorded, settings: dict[str, Any]) -> bool:
    """True when the ``recorded`` protocol (a CSV row's parsed JSON) holds every one of ``settings`` with an
    equal value (numbers compared as floats)."""
    if not isinstance(recorded, dict):
        return False

    def same(a, b):
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
                and not isinstance(b, bool):
            return float(a) == float(b)
        return a == b

    return all(name in recorded and same(recorded[name], value) for name, value in settings.items())
