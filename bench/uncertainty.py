"""What the scores' noise costs: rank_models with and without resamples, in the same run.

    .venv/bin/python bench/uncertainty.py                       # the prepared demo pool (app's default metrics)
    .venv/bin/python bench/uncertainty.py --pool large          # 10 synthetic models, N=20,000 D=2,048 C=100
    .venv/bin/python bench/uncertainty.py --pool medium --models 4
    .venv/bin/python bench/uncertainty.py --resamples 5 10 20

Each row scores the same pool with the same metrics through ``rank_models(..., n_jobs=J)``: once without
noise (``resamples=0``) and once per ``--resamples`` value (R subsets of 80 % of each class, see
``transvis.uncertainty``). Columns: wall seconds, process CPU seconds, and the ratio to the no-noise run.
The large pool uses the bench suite of ``bench/metrics.py`` (the official-comparable metrics); the demo pool
uses the Leaderboard's default metrics. The load average is printed: timings on a busy 2-core machine vary.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transvis.ranking import rank_models  # noqa: E402
from transvis.uncertainty import Resampling  # noqa: E402


def _demo_pool():
    from transvis.demo import load_demo
    from transvis.app_defaults import default_metrics, default_params

    demo = load_demo()
    metrics = default_metrics()
    return demo.features, metrics, default_params(metrics), {}


def _synthetic_pool(size: str, n_models: int):
    from bench.metrics import NAMED_SIZES, SUITE, _suite_ranking_args, synthetic_features

    n, d, c = NAMED_SIZES[size]
    pool, references = {}, {}
    for k in range(n_models):
        x, y, g = synthetic_features(n, d, c, 1000 + k)
        pool[f"model-{k}"] = (x, y)
        references[f"model-{k}"] = g
    metrics, params, model_params = _suite_ranking_args(SUITE, references)
    return pool, metrics, params, model_params


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", default="demo", choices=["demo", "medium", "large", "quick-small", "quick-large"])
    parser.add_argument("--models", type=int, default=10, help="synthetic pools: how many models")
    parser.add_argument("--resamples", type=int, nargs="+", default=[10])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)

    if args.pool == "demo":
        pool, metrics, params, model_params = _demo_pool()
    else:
        pool, metrics, params, model_params = _synthetic_pool(args.pool, args.models)
    first = next(iter(pool.values()))
    shape = first.features.shape if hasattr(first, "features") else first[0].shape
    print(f"pool {args.pool}: {len(pool)} models, N={shape[0]}, D={shape[1]} (first model); {len(metrics)} metrics; "
          f"n_jobs={args.jobs}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'resamples':>10}{'wall s':>10}{'cpu s':>10}{'x no-noise':>12}{'per subset':>12}")

    def run(resamples):
        return rank_models(pool, metrics, params=params, model_params=model_params, n_jobs=args.jobs,
                           resamples=Resampling(n_replicates=resamples) if resamples else None)

    _, base_wall, base_cpu = _timed(lambda: run(0))
    print(f"{0:>10}{base_wall:>10.1f}{base_cpu:>10.1f}{1.0:>11.2f}x{'':>12}")
    for resamples in args.resamples:
        table, wall, cpu = _timed(lambda r=resamples: run(r))
        per = (wall - base_wall) / resamples / base_wall
        print(f"{resamples:>10}{wall:>10.1f}{cpu:>10.1f}{wall / base_wall:>11.2f}x{per:>11.2f}x")
    se = table.score_se
    print("\nmedian standard error / median |score| per metric (last run):")
    for metric in metrics:
        scale = table.scores[metric].abs().median()
        print(f"  {metric:<20} {se[metric].median():.3g} / {scale:.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
