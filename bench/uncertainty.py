"""What the scores' noise costs: rank_models with and without resamples, in the same run.

    .venv/bin/python bench/uncertainty.py                       # the prepared demo pool (app's default metrics)
    .venv/bin/python bench/uncertainty.py --pool large          # 10 synthetic models, N=20,000 D=2,048 C=100
    .venv/bin/python bench/uncertainty.py --pool medium --models 4
    .venv/bin/python bench/uncertainty.py --resamples 5 10 20
    .venv/bin/python bench/uncertainty.py --deletion-vs-refit   # LogME: deletion replicates against refits
    .venv/bin/python bench/uncertainty.py --nleep-frozen-vs-refit --models 4   # why NLEEP's noise refits

Each row scores the same pool with the same metrics through ``rank_models(..., n_jobs=J)``: once without
noise (``resamples=0``) and once per ``--resamples`` value (R subsets of 80 % of each class, see
``transvis.uncertainty``). Columns: wall seconds, process CPU seconds, and the ratio to the no-noise run.
The large pool uses the bench suite of ``bench/metrics.py`` (the official-comparable metrics); the demo pool
uses the Leaderboard's default metrics. The load average is printed: timings on a busy 2-core machine vary.

``--deletion-vs-refit`` checks how faithful LogME's noise without refits is (``Resampling(refit=False)``, the
default: ``logme.logme_deletion_replicates``) on every member of every prepared demo target: for each model,
the standard error from the deletion replicates ÷ the one from refitting LogME on the same subsets, the
correlation of the two replicate vectors, γ/N (the heads' effective parameters per sample, refit above 0.3)
and the time of each.

``--nleep-frozen-vs-refit`` asks whether NLEEP could skip its Gaussian-mixture refits the same way: on the first
``--models`` members of each prepared target it compares the spread of NLEEP refitted on each subset with that of
the full fit's posteriors kept fixed (only P(y | k) and the mean re-estimated on the subset, O(N·K) per subset).
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


def _demo_members(cells: int, per_target: int | None = None):
    """(target, model, X [N, D] float64, y [N]) of every prepared demo target's members (the first ``per_target``
    of each); a target not prepared here prints a table row of ``cells`` cells saying so."""
    import numpy as np

    from transvis.demo import load_demo
    from transvis.demo.pool import DEMO_TARGETS

    for target in DEMO_TARGETS:
        try:
            demo = load_demo(target=target)
        except Exception as err:  # noqa: BLE001 - a target not prepared here
            print(f"| {target} | not prepared ({type(err).__name__}) |" + " |" * (cells - 2))
            continue
        for model, feature_set in list(demo.features.items())[:per_target]:
            yield target, model, np.asarray(feature_set.features, dtype=np.float64), np.asarray(feature_set.labels)


def _ratio_summary(what: str, ratios: list[float], digits: int) -> None:
    import numpy as np

    if ratios:
        print(f"\n{what} ratio over {len(ratios)} models: {min(ratios):.{digits}f}–{max(ratios):.{digits}f} "
              f"(median {float(np.median(ratios)):.{digits}f})")


def deletion_vs_refit(resamples: int) -> None:
    """One row per demo member: deletion-replicate SE ÷ refit SE, replicate correlation, γ/N, times."""
    import numpy as np

    from transvis.metrics import ClassStats, compute

    plan = {refit: Resampling(n_replicates=resamples, refit=refit) for refit in (False, True)}
    print(f"LogME, {resamples} subsets of 80 % per class; load average {os.getloadavg()[0]:.2f}")
    print("| target | model | N × D | γ/N | method | SE deletion ÷ refit | corr | deletion s | refit s |")
    print("|---|---|---|---:|---|---:|---:|---:|---:|")
    ratios = []
    for target, model, x, y in _demo_members(cells=9):
        fit = compute("logme", x, y, stats=ClassStats(x, y))
        alpha, beta = np.asarray(fit.trace["alpha"])[:, None], np.asarray(fit.trace["beta"])[:, None]
        sigma = np.asarray(fit.trace["singular_values"]) ** 2
        gamma = float((beta * sigma / (alpha + beta * sigma)).sum(axis=1).mean()) / len(y)
        noise, times = {}, {}
        for refit, resampling in plan.items():
            table, times[refit], _ = _timed(lambda r=resampling: rank_models({model: (x, y)}, ["logme"],
                                                                             resamples=r))
            noise[refit] = table.noise["logme"]
        ratio = noise[False].se(model) / noise[True].se(model)
        ratios.append(ratio)
        corr = float(np.corrcoef(noise[False].replicates[model], noise[True].replicates[model])[0, 1])
        print(f"| {target} | {model.split('/')[-1]} | {x.shape[0]:,} × {x.shape[1]:,} | {gamma:.3f} | "
              f"{noise[False].method} | {ratio:.3f} | {corr:.3f} | {times[False]:.2f} | {times[True]:.2f} |")
    _ratio_summary("SE", ratios, 3)


def nleep_frozen_vs_refit(resamples: int, per_target: int) -> None:
    """One row per demo member: SD of fixed-mixture replicates ÷ SD of refits, their correlation."""
    import warnings

    import numpy as np

    from transvis.metrics import ClassStats, compute
    from transvis.metrics.leep import conditional_given_source
    from transvis.metrics.nleep import _fit_mixture, _reduce

    resampling = Resampling(n_replicates=resamples)
    print(f"NLEEP, {resamples} subsets of 80 % per class; load average {os.getloadavg()[0]:.2f}")
    print("| target | model | N × D | K | SD fixed mixture ÷ refit | corr | refit s | fixed s |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    ratios = []
    for target, model, x, y in _demo_members(cells=8, per_target=per_target):
        stats = ClassStats(x, y)
        subsets = resampling.subsets(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full = compute("nleep", x, y, stats=stats)
            refit, refit_s, _ = _timed(lambda: np.array([
                compute("nleep", sub.features, sub.labels, stats=sub).score
                for sub in (stats.subset(rows) for rows in subsets)]))
        k = full.trace["n_components"]
        posteriors = _fit_mixture(_reduce(stats), k, 0)[0]  # the full fit's θ [N, K], as nleep computes it

        def fixed_mixture():
            out = []
            for rows in subsets:
                theta, labels = posteriors[rows], y[rows]
                joint = np.zeros((stats.n_classes, k))
                np.add.at(joint, labels, theta)  # Σ_i θ_ik [y_i = c]
                cond = conditional_given_source(joint)  # P(y | k), as nleep computes it
                expected = np.einsum("ik,ik->i", theta, cond[labels])
                out.append(np.log(np.maximum(expected, np.finfo(float).tiny)).mean())
            return np.array(out)

        fixed, fixed_s, _ = _timed(fixed_mixture)
        ratio = float(fixed.std(ddof=1) / refit.std(ddof=1))
        ratios.append(ratio)
        print(f"| {target} | {model.split('/')[-1]} | {x.shape[0]:,} × {x.shape[1]:,} | {k} | {ratio:.2f} | "
              f"{float(np.corrcoef(fixed, refit)[0, 1]):.2f} | {refit_s:.1f} | {fixed_s:.3f} |")
    _ratio_summary("SD", ratios, 2)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", default="demo", choices=["demo", "medium", "large", "quick-small", "quick-large"])
    parser.add_argument("--models", type=int, default=10, help="synthetic pools: how many models")
    parser.add_argument("--resamples", type=int, nargs="+", default=[10])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--deletion-vs-refit", action="store_true",
                        help="LogME's deletion replicates against refits on every prepared demo member")
    parser.add_argument("--nleep-frozen-vs-refit", action="store_true",
                        help="NLEEP: replicates from the full fit's mixture against refits (first --models members "
                             "of each prepared target)")
    args = parser.parse_args(argv)
    if args.nleep_frozen_vs_refit:
        nleep_frozen_vs_refit(args.resamples[0], args.models)
        return 0
    if args.deletion_vs_refit:
        deletion_vs_refit(args.resamples[0])
        return 0

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
