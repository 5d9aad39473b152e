"""Load time of the prepared offline zoo models: transvis.models.load_model against the plain path (build the
timm skeleton with its random initialisation, then load the file), in the same run.

    .venv/bin/python bench/zoo_load.py            # every prepared zoo model, best of 3

For trunk-only models (vgg16_hed) load_model builds the skeleton on the meta device, so VGG's fc6/fc7
(102M parameters, dropped by the trunk-only model) are never initialised; the others go through timm's own
pretrained path, which this bench times both ways for comparison.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transvis.models import load_model, zoo  # noqa: E402


def _plain(entry):
    """The skeleton initialised on the CPU, then every tensor loaded from the file."""
    from safetensors.torch import load_file

    model = zoo.build_zoo_skeleton(entry, pretrained_cfg_file=str(entry.weights_path()))
    model.load_state_dict(load_file(str(entry.weights_path())), strict=True)
    return model


def _best(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    entries = [e for e in zoo.DEMO_ZOO if zoo.is_prepared(e)]
    if not entries:
        print("no zoo model is prepared: run `.venv/bin/python -m transvis zoo prepare` first", file=sys.stderr)
        return 2
    load_model(entries[0].name)  # imports and first-call costs out of the table
    print(f"{'model':<32}{'plain s':>10}{'load_model s':>14}{'speed-up':>10}")
    for entry in entries:
        plain = _best(args.repeats, lambda e=entry: _plain(e))
        ours = _best(args.repeats, lambda e=entry: load_model(e.name))
        print(f"{entry.name:<32}{plain:>10.2f}{ours:>14.2f}{plain / ours:>9.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
