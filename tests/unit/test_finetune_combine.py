"""Fine-tuning split into runs per learning rate (finetune_one_lr) and their combination (combine_lr_runs,
fallback_lr): the choice rule, the fallback, the errors, and serial results identical to the loop they replaced."""

import dataclasses
import random
import time

import numpy as np
import pytest

from tests.unit.test_groundtruth import _tiny_timm, _toy_images
from transvis.groundtruth.finetune import LrRun, combine_lr_runs, fallback_lr, finetune, finetune_one_lr

TINY_IDS = ["tiny/a", "tiny/b"]


def _tiny_net(model_id):
    """A conv layer, ReLU, pooling and an ``fc`` head (width from the model id): trains in milliseconds. On the
    toy images (3 steps, batch 8, 16 px): lr 1.0 learns, 0.01 ends at chance, from about 2e9 the loss overflows
    while 1e9 stays finite (at chance)."""
    import torch

    width = 4 + TINY_IDS.index(model_id)
    body = torch.nn.Sequential(torch.nn.Conv2d(3, width, 3, stride=2), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(1))

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.fc = body, torch.nn.Linear(width, 10)

        def forward(self, x):
            return self.fc(self.body(x))

    return Tiny()


def _run(lr, val=None, test=None, *, diverged=False, chance=0.5, n_val=4, seconds=1.0):
    return LrRun(lr, val, test, diverged, chance, 12, n_val, 8, seconds, {"seed": 0, "device": "cpu"})


# -- the combiner ------------------------------------------------------------------------------------------

def test_the_learning_rate_is_chosen_on_validation_and_its_test_accuracy_reported():
    result = combine_lr_runs([_run(0.1, 0.75, 0.6), _run(0.01, 1.0, 0.9), _run(0.001, 0.5, 1.0)], (0.1, 0.01, 0.001))
    assert (result.best_lr, result.accuracy) == (0.01, 0.9)
    assert result.val_accuracy == {0.1: 0.75, 0.01: 1.0, 0.001: 0.5}
    assert result.test_accuracy == {0.1: 0.6, 0.01: 0.9, 0.001: 1.0}
    assert (result.n_train, result.n_val, result.n_test, result.seconds) == (12, 4, 8, 3.0)  # seconds: the sum
    assert result.protocol["lrs"] == [0.1, 0.01, 0.001] and result.protocol["lrs_tried"] == [0.1, 0.01, 0.001]
    assert result.protocol["val_accuracy"] == {"0.1": 0.75, "0.01": 1.0, "0.001": 0.5}
    assert result.protocol["best_lr"] == 0.01 and result.protocol["device"] == "cpu"


def test_a_tie_on_validation_goes_to_the_smaller_learning_rate_and_a_diverged_one_is_left_out():
    result = combine_lr_runs([_run(1.0, diverged=True), _run(0.1, 0.75, 0.5), _run(0.01, 0.75, 0.25)],
                             [1.0, 0.1, 0.01], seconds=7.5)
    assert (result.best_lr, result.accuracy, result.seconds) == (0.01, 0.25, 7.5)
    assert result.protocol["diverged_lrs"] == [1.0] and 1.0 not in result.val_accuracy


def test_without_a_validation_split_the_only_trained_run_is_reported():
    result = combine_lr_runs([_run(0.1, float("nan"), 0.7, chance=0.0, n_val=0)], [0.1])
    assert (result.best_lr, result.accuracy, result.n_val) == (0.1, 0.7, 0)


def test_the_fallback_is_due_only_when_the_whole_grid_failed_and_not_yet_run():
    lrs = (0.1, 0.01)
    assert fallback_lr([_run(0.1, diverged=True), _run(0.01, 0.5, 0.5)], lrs) == pytest.approx(0.001)  # chance
    assert fallback_lr([_run(0.1, diverged=True), _run(0.01, diverged=True)], lrs) == pytest.approx(0.001)
    assert fallback_lr([_run(0.1, diverged=True), _run(0.01, 0.75, 0.5)], lrs) is None
    assert fallback_lr([_run(0.1, diverged=True), _run(0.01, diverged=True), _run(0.001, 0.5, 0.5)], lrs) is None
    # no validation split: only divergence counts as failing
    assert fallback_lr([_run(0.1, float("nan"), 0.5, chance=0.0, n_val=0)], (0.1,)) is None
    result = combine_lr_runs([_run(0.1, diverged=True), _run(0.01, diverged=True), _run(0.001, 0.5, 0.5)], lrs)
    assert result.best_lr == 0.001 and result.protocol["lrs_tried"] == [0.1, 0.01, 0.001]
    assert result.protocol["lrs"] == [0.1, 0.01] and result.protocol["diverged_lrs"] == [0.1, 0.01]


def test_every_run_diverged_names_the_fix_and_mismatched_runs_are_refused():
    with pytest.raises(ValueError, match=r"diverged at every learning rate \[0.1, 0.01\]; add smaller learning "):
        combine_lr_runs([_run(0.1, diverged=True), _run(0.01, diverged=True)], (0.1,))
    with pytest.raises(ValueError, match=r"do not match the grid \[0.1, 0.01\]"):
        combine_lr_runs([_run(0.01, 0.5, 0.5), _run(0.1, 0.5, 0.5)], (0.1, 0.01))  # not in grid order
    with pytest.raises(ValueError, match="do not match the grid"):
        combine_lr_runs([_run(0.1, 0.5, 0.5)], (0.1, 0.01))  # a run missing
    with pytest.raises(ValueError, match="split differently"):
        combine_lr_runs([_run(0.1, 0.5, 0.5), _run(0.01, 0.5, 0.5, n_val=3)], (0.1, 0.01))
    with pytest.raises(ValueError, match="at least one learning rate"):
        combine_lr_runs([], ())


# -- serial finetune: identical to the loop it replaced ----------------------------------------------------

def _finetune_as_before(model, dataset, *, seed=0, lrs=(0.01, 0.001), epochs=3, batch_size=32, input_size=None,
                        device=None, val_fraction=0.2, test_fraction=0.3, momentum=0.9, weight_decay=1e-4,
                        augment=False, max_steps=None, num_workers=None):
    """transvis.groundtruth.finetune as it was before the runs were split per learning rate (one loop, the
    first fresh network reused for the first learning rate), progress left out, Python's random seeded per run."""
    import torch

    from transvis.groundtruth.finetune import (
        FinetuneResult,
        _fresh_model_factory,
        _grid_with_fallback,
        _loader_factory,
        _LrGrid,
        model_transforms,
        pick_device,
        train_one,
    )
    from transvis.groundtruth.finetune import evaluate as evaluate_as_now  # looked up now: the test records it
    from transvis.groundtruth.splits import stratified_split

    start = time.perf_counter()
    device = pick_device(device)
    labels = np.asarray(dataset.labels)
    train, val, test = stratified_split(labels, val_fraction if len(lrs) > 1 else 0.0, test_fraction, seed)
    num_workers = (4 if device == "cuda" else 0) if num_workers is None else num_workers
    fresh = _fresh_model_factory(model, seed, len(dataset.class_names), int(input_size or 64))
    first = fresh()
    train_tf, eval_tf, config = model_transforms(first, input_size, augment)
    loader = _loader_factory(dataset, batch_size, num_workers, seed, device)
    val_loader = loader(val, eval_tf, False) if val.size else None
    test_loader = loader(test, eval_tf, False)
    steps_per_run = max(min(epochs * len(loader(train, train_tf, True)), int(max_steps) if max_steps else 10**12), 1)
    chance = float(np.bincount(labels[val]).max() / val.size) if val.size else 0.0
    grid = _LrGrid(lrs_tried=[float(v) for v in lrs], chance=chance)
    for lr in _grid_with_fallback(grid.lrs_tried, grid.all_failed):
        net = (first if first is not None else fresh()).to(device)
        first = None
        train_loader = loader(train, train_tf, True)
        torch.manual_seed(seed)
        random.seed(seed)  # the one change since: augment's crops drew from Python's random as it happened to be
        try:
            train_one(net, train_loader, lr, epochs, device, momentum, weight_decay, max_steps, None)
        except FloatingPointError:
            grid.diverged.append(lr)
            continue
        grid.val_accuracy[lr] = evaluate_as_now(net, val_loader, device) if val_loader is not None else float("nan")
        grid.test_accuracy[lr] = evaluate_as_now(net, test_loader, device)
    best_lr = grid.best_lr(validated=val_loader is not None)
    protocol = {
        "method": "full fine-tuning, new linear head, SGD momentum, cosine schedule per step, lr chosen on val; "
                  "if every lr diverges or ends at chance on val, one more run at min(lrs)/10",
        "seed": int(seed), "lrs": [float(v) for v in lrs], "best_lr": best_lr, "epochs": int(epochs),
        "max_steps": max_steps, "batch_size": int(batch_size), "momentum": momentum, "weight_decay": weight_decay,
        "augment": bool(augment), "input_size": list(config["input_size"]), "val_fraction": val_fraction,
        "test_fraction": test_fraction, "device": device, "dataset_id": getattr(dataset, "dataset_id", None),
        "steps_per_lr": steps_per_run, "val_accuracy": {f"{lr:g}": v for lr, v in grid.val_accuracy.items()},
        "diverged_lrs": grid.diverged, "lrs_tried": grid.lrs_tried, "crop_pct": config.get("crop_pct"),
        "interpolation": config.get("interpolation"),
        "torch": torch.__version__.split("+")[0], "torch_threads": torch.get_num_threads(),
    }
    return FinetuneResult(grid.test_accuracy[best_lr], best_lr, grid.val_accuracy, grid.test_accuracy,
                          int(train.size), int(val.size), int(test.size), time.perf_counter() - start, protocol)


def _untimed(result):
    """Every field but ``seconds``, as text (NaN equals NaN; the protocol's key order counts: it is the CSV's)."""
    fields = dataclasses.asdict(result)
    fields.pop("seconds")
    return repr(fields)


@pytest.fixture
def weight_digests(monkeypatch):
    """A list receiving a digest of the trained network's weights at every evaluation of fine-tuning."""
    import hashlib
    import sys

    ft = sys.modules["transvis.groundtruth.finetune"]  # the module (the package's attribute is the function)
    digests, evaluate = [], ft.evaluate

    def evaluate_and_record(net, loader, device):
        digests.append(hashlib.sha256(b"".join(p.detach().cpu().numpy().tobytes() for p in net.parameters()))
                       .hexdigest())
        return evaluate(net, loader, device)

    monkeypatch.setattr(ft, "evaluate", evaluate_and_record)
    return digests


@pytest.mark.parametrize("model, kwargs, runs", [
    (_tiny_timm(), dict(input_size=32, lrs=(0.05, 0.0), max_steps=4, batch_size=8), 2),
    (_tiny_timm(), dict(input_size=32, lrs=(0.05,), max_steps=3, batch_size=8, augment=True), 1),  # no val split
    (lambda: _tiny_net("tiny/a"), dict(input_size=16, lrs=(1.0, 0.01), max_steps=3, batch_size=8), 2),
    (lambda: _tiny_net("tiny/b"), dict(input_size=16, lrs=(1e11, 1e10), max_steps=3, batch_size=8), 3),  # diverge
    (lambda: _tiny_net("tiny/a"), dict(input_size=16, lrs=(1e4, 1e3), max_steps=3, batch_size=8), 3),  # at chance
], ids=["timm", "timm-one-lr-augment", "net", "net-all-diverge", "net-all-chance"])
def test_serial_finetune_is_bit_identical_to_the_loop_it_replaced(model, kwargs, runs, weight_digests):
    weights = weight_digests
    dataset = _toy_images(12)
    before = _finetune_as_before(model, dataset, **kwargs)
    weights_before, weights[:] = list(weights), []
    after = finetune(model, dataset, **kwargs)
    assert _untimed(after) == _untimed(before) and weights == weights_before
    assert len(after.protocol["lrs_tried"]) == runs  # 3: the fallback ran


def test_an_augmented_run_is_reproducible_and_leaves_the_callers_random_state_alone(weight_digests):
    kwargs = dict(input_size=32, lrs=(0.05,), max_steps=3, batch_size=8, augment=True)
    random.seed(1)
    first = finetune_one_lr(_tiny_timm(), _toy_images(12), 0.05, **kwargs)
    after_first = random.random()
    random.seed(2)
    second = finetune_one_lr(_tiny_timm(), _toy_images(12), 0.05, **kwargs)
    random.seed(1)
    assert random.random() == after_first  # as if the run had not drawn from it
    assert first.test_accuracy == second.test_accuracy is not None
    assert len(weight_digests) == 2 and weight_digests[0] == weight_digests[1]  # the same weights, bit for bit


def test_a_run_of_one_learning_rate_is_that_learning_rate_of_the_grid():
    dataset, lrs = _toy_images(12), (1.0, 0.01)
    model = lambda: _tiny_net("tiny/a")  # noqa: E731
    runs = [finetune_one_lr(model, dataset, lr, lrs=lrs, input_size=16, max_steps=3, batch_size=8)
            for lr in reversed(lrs)]  # any order: each run is seeded on its own
    whole = finetune(model, dataset, lrs=lrs, input_size=16, max_steps=3, batch_size=8)
    assert [(r.lr, r.val_accuracy, r.test_accuracy, r.diverged) for r in reversed(runs)] == \
        [(lr, whole.val_accuracy[lr], whole.test_accuracy[lr], False) for lr in lrs]
    assert _untimed(combine_lr_runs(runs[::-1], lrs)) == _untimed(whole)
    assert runs[0].setup["steps_per_lr"] == 3 and runs[0].n_val == 4 and runs[0].chance == 0.5
