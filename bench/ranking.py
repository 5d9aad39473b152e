"""Time scoring a pool one metric per call (as the app's leaderboard does), with and without a shared stats cache.

    .venv/bin/python bench/ranking.py            # the prepared offline demo (7 zoo models, 3,000 images)
    .venv/bin/python bench/ranking.py --synthetic

Prints one row per metric: seconds without sharing (fresh ClassStats per call), with
``rank_models(stats_cache=...)``, and the ratio, plus totals. NLEEP and PARC (opt-in in the app) are left out
unless named with --metrics. For the demo, a last line times reading the default ranking that
``transvis demo prepare`` persisted (what the app's first Leaderboard paint costs instead).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transvis.metrics import default_metrics  # noqa: E402
from transvis.ranking import rank_models  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", action="store_true", help="use the synthetic pool instead of the demo")
    parser.add_argument("--metrics", nargs="+", default=default_metrics())
    args = parser.parse_args()
    demo = None
    if args.synthetic:
        from transvis.demo import synthetic_demo

        pool = synthetic_demo().features
    else:
        from transvis.demo import load_demo

        start = time.perf_counter()
        demo = load_demo()
        print(f"load_demo: {time.perf_counter() - start:.2f} s")
        pool = demo.features
    print(f"pool: {len(pool)} models, {next(iter(pool.values())).n_samples} samples")
    print(f"{'metric':<18}{'fresh s':>10}{'shared s':>10}{'ratio':>8}")
    cache: dict = {}
    total_fresh = total_shared = 0.0
    for metric in args.metrics:
        start = time.perf_counter()
        rank_models(pool, [metric])
        fresh = time.perf_counter() - start
        start = time.perf_counter()
        rank_models(pool, [metric], stats_cache=cache)
        shared = time.perf_counter() - start
        total_fresh += fresh
        total_shared += shared
        print(f"{metric:<18}{fresh:>10.2f}{shared:>10.2f}{fresh / max(shared, 1e-9):>7.1f}x")
    print(f"{'total':<18}{total_fresh:>10.2f}{total_shared:>10.2f}{total_fresh / max(total_shared, 1e-9):>7.1f}x")
    if demo is not None:
        from transvis.demo import load_demo_ranking

        start = time.perf_counter()
        persisted = load_demo_ranking(demo)
        state = "fresh" if persisted is not None else "missing or stale: run `python -m transvis demo prepare`"
        print(f"persisted default ranking: read in {time.perf_counter() - start:.2f} s ({state})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
