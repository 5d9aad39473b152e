"""Time the dynamics engine: a trajectory of every model of a pool, per method, numpy vs torch.

    .venv/bin/python bench/dynamics.py                        # N=2,000 D=1,280 C=10, 7 models, 30 frames
    .venv/bin/python bench/dynamics.py --quick                # N=1,000 D=256, 5 models, 11 frames (seconds)
    .venv/bin/python bench/dynamics.py --methods spread_attract collapse --backends numpy torch
    .venv/bin/python bench/dynamics.py --size 2000x1280x10 --models 7 --frames 30 --metric sfda

For each (backend, method) it prints:

* ``cold s`` — ``run(...)`` on a fresh cache: every model prepared from scratch (its Gram matrix, the one
  eigendecomposition the LogME closed form needs, the projection) and every frame scored;
* ``per frame ms`` — cold time / (frames × models);
* ``warm s`` — the same pool with another parameter value under the same ``cache_key`` (prepared models reused,
  trajectory recomputed): what a slider move costs in the app;
* ``scoring`` — how the frames were scored (closed form or registry);
* ``max rel diff`` — frame scores against ``transvis.metrics.compute(metric, frame_features, labels)`` for three
  frames of the first model (the registry, from scratch; ``--no-check`` skips it).

Two reference rows: one registry call of the metric on one model (``compute`` from scratch), and the naive cost
of a trajectory = that × frames × models. Synthetic CNN-like features (ReLU of Gaussian class clusters with a
power-law spectrum, float32; the FSP gate fires, PED classes overlap).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from transvis.dynamics import clear_cache, run  # noqa: E402
from transvis._threads import thread_limit  # noqa: E402
from transvis.metrics import compute  # noqa: E402

METHODS = ("spread_attract", "official", "collapse", "ped", "fisher")


def pool(n, d, c, models, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(c), -(-n // c))[:n]
    rng.shuffle(labels)
    spectrum = 1.0 / np.arange(1, d + 1) ** 0.6
    features = {}
    for m in range(models):
        means = rng.normal(size=(c, d)) * (0.12 + 0.03 * m)
        noise = rng.normal(size=(n, d)) * np.sqrt(spectrum)
        features[f"model-{m}"] = (np.maximum(means[labels] + noise + 0.3, 0.0) * 3.0).astype(np.float32)
    return features, labels


def call(method, features, labels, metric, frames, backend, cache_key, alt=False, threads="auto"):
    kwargs = dict(metric=metric, backend=backend, cache_key=cache_key, threads=threads)
    if method == "spread_attract":
        return run("spread_attract", features, labels, n_frames=frames, spread=1.0 if alt else 0.8, attract=0.5,
                   **kwargs)
    if method == "official":
        return run("spread_attract", features, labels, n_frames=frames, variant="official",
                   alpha=0.006 if alt else 0.005, **kwargs)
    if method == "collapse":
        return run("collapse", features, labels, n_frames=frames + (1 if alt else 0), statistics=False, **kwargs)
    if method == "ped":
        return run("ped", features, labels, exit_ratio=0.45 if alt else 0.5, **kwargs)
    if method == "fisher":
        kwargs["metric"] = "sfda" if metric == "logme" else metric
        return run("fisher", features, labels, n_frames=frames + (1 if alt else 0), **kwargs)
    raise ValueError(method)


def check(traj, method, features, labels):
    """Max relative difference of up to three frames of the first model against compute() on rebuilt features
    (frame 0 only for PED and the official variant; NaN for Fisher, whose frames the tests check)."""
    model = traj.models[0]
    x = np.asarray(features[model], dtype=np.float64)
    means = np.stack([x[labels == k].mean(0) for k in range(labels.max() + 1)])
    priors = np.bincount(labels) / labels.size
    picks = sorted({0, len(traj.frames) // 2, len(traj.frames) - 1})
    if method in ("ped", "official"):
        picks = [0]
    if method == "fisher":
        return float("nan")
    worst = 0.0
    for i in picks:
        frame, q = traj.frames[i], traj.frames[i].quantities[model]
        if i == 0:
            moved = x
        elif method == "spread_attract":
            s, t = q["spread_strength"], q["attract_strength"]
            moved = x + s * (x - means[labels]) + (t * (priors @ means - means))[labels]
        else:  # collapse
            moved = (1 - q["t"]) * x + q["t"] * means[labels]
        expected = compute(traj.metric, moved, labels, **traj.metric_params).score
        worst = max(worst, abs(frame.scores[model] - expected) / max(abs(expected), 1e-300))
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="2000x1280x10", help="NxDxC")
    parser.add_argument("--models", type=int, default=7)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--metric", default="logme")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--backends", nargs="+", default=["numpy", "torch"], choices=["numpy", "torch"])
    parser.add_argument("--quick", action="store_true", help="N=1,000 D=256 C=10, 5 models, 11 frames")
    parser.add_argument("--threads", nargs="+", default=["auto"],
                        help="BLAS threads per run: auto (1 when the machine is busy), none (library default), or N")
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.models, args.frames = "1000x256x10", 5, 11
    n, d, c = (int(v) for v in args.size.lower().split("x"))
    features, labels = pool(n, d, c, args.models)
    print(f"N={n} D={d} C={c}, {args.models} models, {args.frames} frames, metric={args.metric}, "
          f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")

    first = next(iter(features))
    setting = args.threads[0]
    with thread_limit(None if setting == "none" else (setting if setting == "auto" else int(setting))):
        started = time.perf_counter()
        compute(args.metric, features[first], labels)
        single = time.perf_counter() - started
    print(f"one registry {args.metric} call on one model (threads {setting}): {single:.2f} s  →  naive trajectory "
          f"(frames × models calls): {single * args.frames * args.models:.0f} s\n")

    header = (f"{'backend':8} {'threads':7} {'method':15} {'frames':>6} {'cold s':>8} {'per frame ms':>13} "
              f"{'warm s':>7} {'max rel diff':>12}  scoring")
    print(header)
    print("-" * len(header))
    thread_settings = [None if t == "none" else (t if t == "auto" else int(t)) for t in args.threads]
    for backend, threads, method in [(b, t, m) for b in args.backends for t in thread_settings for m in args.methods]:
        clear_cache()
        gc.collect()
        key = f"bench-{backend}"
        started = time.perf_counter()
        traj = call(method, features, labels, args.metric, args.frames, backend, key, threads=threads)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        call(method, features, labels, args.metric, args.frames, backend, key, alt=True, threads=threads)
        warm = time.perf_counter() - started
        diff = float("nan") if args.no_check else check(traj, method, features, labels)
        per_frame = 1000 * cold / (len(traj.frames) * len(traj.models))
        scoring = traj.scoring[traj.models[0]].split(" (")[0]
        print(f"{backend:8} {str(threads):7} {method:15} {len(traj.frames):6d} {cold:8.2f} {per_frame:13.1f} "
              f"{warm:7.2f} {diff:12.1e}  {scoring}" + (f"  errors: {traj.errors[:1]}" if traj.errors else ""))
    clear_cache()


if __name__ == "__main__":
    main()
