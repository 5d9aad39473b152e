"""Measure the demo pool's ground truth on each demo target and write assets/groundtruth/.

    .venv/bin/python scripts/measure_demo_groundtruth.py --regimes linear_probe --seed 0
    .venv/bin/python scripts/measure_demo_groundtruth.py --regimes finetune --seed 0 --threads 1
    .venv/bin/python scripts/measure_demo_groundtruth.py --target mnist-5k --regimes linear_probe --seed 0

--target names a demo target (transvis.demo.DEMO_TARGETS: fashion-mnist, the default, or mnist-5k); its rows go to
that target's CSV (assets/groundtruth/demo_<target>.csv). The linear probe is measured for every pool member
(the zoo's pretrained models, the random-init twins, the layer taps: transvis.demo.demo_pool_members), fine-tuning
for the zoo's pretrained models only (about 5 min per model per target on one core; the twins and taps have the
linear probe only).

Each regime has its sample of the target (stratified, seed 0; REGIME_MAX_PER_CLASS): the
linear probe uses the app's scoring sample (300 per class, whose features the store already holds), fine-tuning
100 per class (CPU-hours). Each is split the same way (50 % / 20 % / 30 % of each class into train / val / test,
seed --seed: 1,500 / 600 / 900 and 500 / 200 / 300 images).

Linear probe: logistic regression on the demo models' features of that sample (the feature store's entries, input
112 px); C chosen on validation, refit on train + validation, test accuracy.

Fine-tuning (defaults below are the shipped protocol, sized to run the 7 models in well under an hour on one
CPU core): every weight trained with a new 10-way linear head, input 64 px (the issue allows a reduced size;
Fashion-MNIST is 28 px), SGD momentum 0.9, weight decay 1e-4, batch 32, 8 epochs (120 steps) with a per-step
cosine schedule, one run per learning rate in {0.01, 0.003}, the learning rate picked by validation accuracy
and that run's test accuracy reported. No augmentation. (A pilot on mobilenetv2_tv over {0.03, 0.01, 0.003,
0.001} gave validation accuracy 0.57 / 0.85 / 0.85 / 0.80, hence this grid.) When every learning rate diverges
or ends at chance on validation, one more run at a tenth of the smallest follows (only vgg16_hed, whose Caffe
weights take 0-255 inputs, needs it: 0.01 diverges, 0.003 collapses to chance).

Rows are merged into --out: rows of other regimes are kept, and each model's row is written as soon as it is
measured. A rerun skips (model, regime) rows already measured with the same protocol; --remeasure redoes them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transvis.demo import (  # noqa: E402
    DEFAULT_TARGET, DEMO_FINETUNE_MAX_PER_CLASS, DEMO_INPUT_SIZE, DEMO_MAX_PER_CLASS, DEMO_TARGETS, demo_dataset,
    demo_member, demo_pool_ids, demo_target, pool_features)
from transvis.groundtruth import measure_groundtruth, read_groundtruth_csv, write_groundtruth_csv  # noqa: E402
from transvis.models import zoo_ids  # noqa: E402

# Images per class of the sample each regime is measured on (same split and seed): the linear probe on the
# app's scoring sample (its features are already in the store), fine-tuning on a smaller one (CPU-hours).
REGIME_MAX_PER_CLASS = {"linear_probe": DEMO_MAX_PER_CLASS, "finetune": DEMO_FINETUNE_MAX_PER_CLASS}
FINETUNE_INPUT_SIZE = 64
FINETUNE_EPOCHS = 8
FINETUNE_LRS = "0.01,0.003"
FINETUNE_BATCH_SIZE = 32
COMMANDS = {
    "linear_probe": ".venv/bin/python scripts/measure_demo_groundtruth.py{target} --regimes linear_probe --seed {seed}",
    "finetune": ".venv/bin/python scripts/measure_demo_groundtruth.py{target} --regimes finetune --seed {seed} "
                "--threads 1",
}


def command(regime: str, seed, target: str = DEFAULT_TARGET) -> str:
    """The command that measures ``regime`` on ``target`` (``--target`` only when it is not the default)."""
    return COMMANDS[regime].format(seed=seed, target="" if target == DEFAULT_TARGET else f" --target {target}")


def default_models(regime: str) -> list[str]:
    """Who is measured by default: every pool member for the linear probe, the zoo's pretrained models for
    fine-tuning (CPU-hours; the random-init twins and layer taps have the linear probe only)."""
    return demo_pool_ids() if regime == "linear_probe" else zoo_ids()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regimes", default="linear_probe", help="comma-separated: linear_probe,finetune")
    parser.add_argument("--seed", type=int, default=0, help="split seed (and fine-tuning seed)")
    parser.add_argument("--target", default=DEFAULT_TARGET, choices=list(DEMO_TARGETS),
                        help="the demo target measured on (its CSV is the default --out)")
    parser.add_argument("--out", default=None, help="CSV to merge the rows into (default: the target's)")
    parser.add_argument("--models", default=None,
                        help="comma-separated pool member ids (default: every member for linear_probe, the zoo's "
                             "pretrained models for finetune)")
    parser.add_argument("--input-size", type=int, default=FINETUNE_INPUT_SIZE, help="fine-tuning input side")
    parser.add_argument("--epochs", type=int, default=FINETUNE_EPOCHS)
    parser.add_argument("--lrs", default=FINETUNE_LRS, help="comma-separated learning-rate grid")
    parser.add_argument("--batch-size", type=int, default=FINETUNE_BATCH_SIZE)
    parser.add_argument("--device", default=None, help="cpu / cuda / mps (default: the fastest available)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--remeasure", action="store_true", help="measure rows again even if already in --out")
    return parser.parse_args(argv)


def finetune_kwargs(args: argparse.Namespace) -> dict:
    def report(stage, done, total):  # one line per epoch, so a long CPU run shows where it is
        steps_per_epoch = max(total // max(args.epochs, 1), 1)
        if done % steps_per_epoch == 0 or done == total:
            print(f"  {stage}: step {done}/{total}", file=sys.stderr, flush=True)

    return {"input_size": args.input_size, "epochs": args.epochs, "batch_size": args.batch_size,
            "lrs": tuple(float(v) for v in args.lrs.split(",")), "device": args.device, "progress": report}


def readme_text() -> str:
    """assets/groundtruth/README.md: per target's CSV and regime in it, the command and seed that wrote it."""
    lines = ["# Demo ground truth", "",
             "One CSV per demo target: the demo pool's measured transfer accuracy on a stratified sample of the "
             "target per regime (below), one row per model and regime. Each row's `protocol` column (JSON) records "
             "the split, seed and hyper-parameters; `seconds` is the measuring time. See "
             "`scripts/measure_demo_groundtruth.py`'s docstring for the protocols. The random-init twins and the "
             "layer taps (`@tap<i>`) have the linear probe only.", ""]
    for target, spec in DEMO_TARGETS.items():
        if not spec.groundtruth_csv.is_file():
            continue
        rows = read_groundtruth_csv(spec.groundtruth_csv)
        lines.append(f"`{spec.groundtruth_csv.name}` ({spec.label}):")
        for regime in sorted({r.regime for r in rows}):
            lines.append(_regime_line(target, regime, [r for r in rows if r.regime == regime]))
        lines.append("")
    lines += ["A rerun of a command skips rows already measured with the same protocol (add `--remeasure` "
              "to redo them) and keeps the other regime's rows.", ""]
    return "\n".join(lines)


def _regime_line(target: str, regime: str, in_regime) -> str:
    seeds = sorted({r.protocol.get("seed") for r in in_regime if isinstance(r.protocol, dict)})
    seed = seeds[0] if len(seeds) == 1 else None
    seconds = sum(float(r.extra.get("seconds") or 0) for r in in_regime)
    devices = sorted({str(r.protocol.get("device")) for r in in_regime
                      if isinstance(r.protocol, dict) and r.protocol.get("device")})
    samples = sorted({f"{r.dataset}, {r.extra.get('n_train')}/{r.extra.get('n_val')}/{r.extra.get('n_test')} "
                      "train/val/test" for r in in_regime})
    return (f"- **{regime}** ({len(in_regime)} models on {'; '.join(samples)}, seed "
            f"{seed if seed is not None else seeds}"
            + (f", {seconds / 60:.0f} min wall time on {', '.join(devices)}" if devices else "") + "): "
            + (f"`{command(regime, seed, target)}`" if regime in COMMANDS and seed is not None
               else "measured outside this script"))


def _drop_other_samples(csv_path: Path, regime: str, dataset_id: str) -> None:
    """A regime's rows measured on another sample are superseded (one sample per regime in the CSV)."""
    if not csv_path.is_file():
        return
    rows = read_groundtruth_csv(csv_path)
    keep = [r for r in rows if r.regime != regime or r.dataset == dataset_id]
    if len(keep) < len(rows):
        print(f"replacing {len(rows) - len(keep)} {regime} rows measured on another sample", file=sys.stderr)
        write_groundtruth_csv(keep, csv_path, merge=False)


def member_features(model_id: str, dataset):
    """The linear probe's features of ``model_id`` on ``dataset``: a demo-pool member's (its layer tap or its
    random-init twin, from the feature store) or, for any other id, its pre-logits features."""
    member = demo_member(model_id)
    if member is None:
        from transvis.pipeline import get_features

        return get_features(model_id, dataset, input_size=DEMO_INPUT_SIZE)[0]
    return pool_features(dataset, input_size=DEMO_INPUT_SIZE, members=[member])[model_id]


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else demo_target(args.target).groundtruth_csv
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for regime in args.regimes.split(","):
        models = args.models.split(",") if args.models else default_models(regime)
        dataset = demo_dataset(REGIME_MAX_PER_CLASS[regime], target=args.target)
        _drop_other_samples(out, regime, dataset.dataset_id)
        rows += measure_groundtruth(
            models, dataset, regimes=[regime], seed=args.seed, out_csv=out, feature_fn=member_features,
            probe_input_size=DEMO_INPUT_SIZE, finetune_kw=finetune_kwargs(args), resume=not args.remeasure,
            progress=lambda message: print(message, file=sys.stderr, flush=True),
        )
    for row in rows:
        print(f"{row.model:<32} {row.regime:<13} {row.accuracy:.4f}")
    (out.parent / "README.md").write_text(readme_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
