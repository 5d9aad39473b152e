"""Score a pool serially and through a local Ray instance in the same run; project the makespan on more workers.

    .venv/bin/python bench/scale.py                  # a small pool (8 models, N=4,000, D=512, C=50)
    .venv/bin/python bench/scale.py --large          # issue 15's pool: 10 models, N=20,000, D=2,048, C=100
    .venv/bin/python bench/scale.py --models 6 --n 2000 --d 256 --c 20 --metrics logme hscore

Prints: the serial wall time and per-model (per-task) compute times; Ray's start-up; the pool through
``rank_models(executor="ray")`` with as many Ray workers as CPUs, cold (the workers' first imports) and warm,
the largest score difference to the serial table; Ray's overhead per task, measured with no-op tasks that carry the same arrays (put once each, read by
the task); and a PROJECTION of the makespan on 8 and 64 workers from the measured per-task times (its
assumptions are printed with it); the compute time measured inside the Ray tasks against the serial per-task
time; and a serial-vs-Ray table with the load average at each run's start. One BLAS thread per task, as
rank_models(n_jobs>1) uses.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transvis.features.featureset import FeatureSet  # noqa: E402
from transvis.ranking import rank_models  # noqa: E402


def synthetic_pool(n_models: int, n: int, d: int, c: int, seed: int = 0) -> dict[str, FeatureSet]:
    """``n_models`` float32 feature sets [n, d], labels [n] in c balanced classes, class separation growing
    with the model index (so the ranking is not a tie)."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % c)
    pool = {}
    for k in range(n_models):
        means = rng.normal(size=(c, d)).astype(np.float32) * (0.1 + 0.05 * k)
        x = means[labels] + rng.normal(size=(n, d)).astype(np.float32)
        pool[f"model-{k:02d}"] = FeatureSet(features=np.maximum(x, 0), labels=labels, model_id=f"model-{k:02d}",
                                            dataset_id="scale", class_names=[str(i) for i in range(c)])
    return pool


def lpt_makespan(task_seconds: list[float], workers: int, overhead_s: float) -> float:
    """Longest-processing-time-first schedule of independent tasks (each ``t + overhead_s``) on ``workers``
    identical workers: the finishing time of the busiest one."""
    loads = np.zeros(workers)
    for t in sorted(task_seconds, reverse=True):
        loads[np.argmin(loads)] += t + overhead_s
    return float(loads.max())


def _noop(item) -> int:
    return int(np.asarray(item[0]).shape[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="issue 15's pool: 10 models, N=20000, D=2048, C=100")
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--c", type=int, default=50)
    parser.add_argument("--metrics", nargs="+", default=["logme", "hscore", "transrate", "sfda"])
    parser.add_argument("--project", type=int, nargs="+", default=[8, 64], help="worker counts to project")
    parser.add_argument("--project-pool", type=int, default=500,
                        help="also project a pool this large, its per-task times repeating the measured ones")
    args = parser.parse_args()
    if args.large:
        args.models, args.n, args.d, args.c = 10, 20000, 2048, 100
    cpus = os.cpu_count() or 1
    print(f"pool: {args.models} models, N={args.n:,}, D={args.d:,}, C={args.c}; metrics {', '.join(args.metrics)}; "
          f"{cpus} CPUs; load average at start {os.getloadavg()[0]:.1f}")
    pool = synthetic_pool(args.models, args.n, args.d, args.c)
    features = {m: (fs.features, fs.labels) for m, fs in pool.items()}

    loads = {"serial": os.getloadavg()[0]}
    start = time.perf_counter()
    serial = rank_models(features, args.metrics, backend="numpy", blas_threads=1)
    serial_s = time.perf_counter() - start
    task_s = [float(serial.stats_seconds.get(m, 0.0) + np.nansum(serial.seconds.loc[m].to_numpy()))
              for m in serial.models]
    print(f"serial (one process, 1 BLAS thread): {serial_s:.2f} s; per task (statistics + metrics) "
          f"min {min(task_s):.2f} / median {np.median(task_s):.2f} / max {max(task_s):.2f} s")

    import ray

    from transvis.cluster import connect

    start = time.perf_counter()
    connect("ray", num_cpus=cpus)
    print(f"Ray start-up (local, {cpus} workers): {time.perf_counter() - start:.2f} s (once per driver)")
    remote_noop = ray.remote(num_cpus=1)(_noop)
    loads["cold"] = os.getloadavg()[0]
    start = time.perf_counter()
    rank_models(features, args.metrics, backend="numpy", blas_threads=1, executor="ray")
    cold_s = time.perf_counter() - start
    print(f"through Ray, first run: {cold_s:.2f} s (each new worker process imports transvis and its metrics "
          "once: a per-worker cost, not per task)")
    loads["warm"] = os.getloadavg()[0]
    start = time.perf_counter()
    through_ray = rank_models(features, args.metrics, backend="numpy", blas_threads=1, executor="ray")
    ray_s = time.perf_counter() - start
    diff = float(np.nanmax(np.abs(through_ray.scores.to_numpy() - serial.scores.to_numpy())))
    same_ranks = bool((through_ray.ranks.to_numpy() == serial.ranks.to_numpy()).all())
    print(f"through Ray ({cpus} workers, warm): {ray_s:.2f} s ({serial_s / ray_s:.2f}x the serial run); "
          f"largest score difference to serial {diff:.1e}, ranks identical: {same_ranks}")
    in_task = [float(through_ray.stats_seconds.get(m, 0.0) + np.nansum(through_ray.seconds.loc[m].to_numpy()))
               for m in through_ray.models]
    print(f"  compute inside the Ray tasks (statistics + metrics, as timed serially above): median "
          f"{np.median(in_task):.2f} s per task, {np.median(in_task) / np.median(task_s):.2f}x the serial median")

    start = time.perf_counter()
    ray.get([remote_noop.remote(ray.put(item)) for item in features.values()])
    noop_s = time.perf_counter() - start
    overhead_s = noop_s * min(cpus, len(features)) / len(features)
    print(f"Ray overhead per task: {overhead_s * 1000:.0f} ms (no-op tasks carrying the same arrays: "
          f"{noop_s:.2f} s for {len(features)} tasks on {cpus} workers; put + schedule + read)")

    print("\nPROJECTION (not measured): makespan = longest-processing-time schedule of the tasks above on W workers.")
    print("Assumptions: each worker as fast as one core here with one BLAS thread; tasks independent, no contention;")
    print(f"each task pays the overhead measured above ({overhead_s * 1000:.0f} ms) and nothing more for moving its "
          "features (store on shared storage, or arrays already in the object store);")
    print("the driver's collection of results and Ray's start-up are left out.")
    big = [task_s[i % len(task_s)] for i in range(args.project_pool)]
    print(f"{'workers':>8}{f'{len(task_s)} models s':>16}{f'{args.project_pool} models s':>18}")
    for workers in [1, *args.project]:
        print(f"{workers:>8}{lpt_makespan(task_s, workers, overhead_s):>16.2f}"
              f"{lpt_makespan(big, workers, overhead_s):>18.1f}")
    print(f"\nSERIAL vs RAY (measured, this run, {cpus} CPUs):")
    print(f"{'run':<44}{'wall s':>10}{'x serial':>10}{'load at start':>15}")
    runs = (("serial, one process", serial_s, "serial"),
            (f"Ray, {cpus} workers, first run (cold workers)", cold_s, "cold"),
            (f"Ray, {cpus} workers, warm", ray_s, "warm"))
    for label, seconds, phase in runs:
        print(f"{label:<44}{seconds:>10.2f}{serial_s / seconds:>10.2f}{loads[phase]:>15.1f}")
    print("(the machine is shared: compare the rows only where their loads are alike)")
    print(f"\nload average at end {os.getloadavg()[0]:.1f}")
    ray.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
