"""Time every seed/baseline metric of transvis against a transcription of its official implementation.

    .venv/bin/python bench/metrics.py --quick                 # small sizes, about a minute
    .venv/bin/python bench/metrics.py                         # N=5,000 D=1,280 C=10 and N=20,000 D=2,048 C=100
    .venv/bin/python bench/metrics.py --sizes 5000x1280x10 --backend torch
    .venv/bin/python bench/metrics.py --sizes large --no-official   # ours only
    .venv/bin/python bench/metrics.py --blas-threads 1              # one BLAS thread (threadpoolctl)

For each feature-set size (synthetic, float32, CNN-like: 3 × ReLU of Gaussian class clusters with a power-law
spectrum, raw-CNN scale so that the FSP gate fires and SFDA's shrinkage is at its floor, plus a reference set G
for PED) and each metric of the suite, it prints

- ``ours shared``: the metric's incremental time inside one suite run on one model, with one
  :class:`~transvis.metrics.ClassStats` shared by every metric (how ``transvis.ranking`` scores a zoo; a
  statistic is paid by the first metric that needs it);
- ``ours cold``: the metric alone, with fresh statistics;
- ``official``: the transcription in ``bench/official.py``, measured in the same run;
- the speed-up (official / ours cold), the same in process CPU time (with one BLAS thread the robust
  comparison on a shared machine) and the max relative difference between the two values.

Then the suite total per model (LogME + H-score + shrinkage H-score + TransRate + SFDA + PED + FSP + NCTI +
NLEEP) and its extrapolation to ``--models`` (default 10) models; the floor of any such suite (one centred Gram
matrix and one symmetric eigendecomposition, timed in the same run) with the suite/floor ratio; a resample row
(``--resamples`` B = 20 replicates, each the suite re-scored on a stratified 80 % subset: refitted with a fresh
``ClassStats``, refitted with ``ClassStats.subset``, and as ``rank_models(resamples=...)`` does now (deletion
replicates where a metric offers them), against one fresh scoring, in process CPU time); and a real pool run: ``--models`` distinct
synthetic models of that size scored with the suite by ``transvis.ranking.rank_models(n_jobs=J)`` for each
``--jobs`` value (default: the CPU count; one BLAS thread per worker), timed in wall and process CPU time.
Targets (bench/README.md): every metric at least as fast as its official implementation; the suite over 10
models at the large size under a minute on the 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import official  # noqa: E402
from transvis.metrics import ClassStats, compute  # noqa: E402
from transvis.ranking import rank_models  # noqa: E402

NAMED_SIZES = {
    "medium": (5_000, 1_280, 10),
    "large": (20_000, 2_048, 100),
    "quick-small": (2_000, 256, 10),
    "quick-large": (4_000, 512, 40),
}
DEFAULT_SIZES = ("medium", "large")
QUICK_SIZES = ("quick-small", "quick-large")
REFERENCE_ROWS = 2_000
# Amplitude of the synthetic features: large enough, like raw CNN features, that the FSP scale gate fires
# (mean of the top-2 eigenvalues of S_T > 4.145) and SFDA's adaptive shrinkage sits at its 1e-10 floor
# (λ̂_max(S_W) > 4.6) at every named size.
FEATURE_SCALE = 3.0


@dataclass
class SuiteEntry:
    """One metric of the suite: our registered call and the official transcription it is compared with.

    ``ours`` maps G to the ``compute`` keyword arguments; ``value`` extracts the compared number(s) from
    our MetricResult; ``official`` computes the same number(s) from (X64, y, G64) and is what is timed;
    ``check``, when set, is the official computation used for the value comparison instead (NCTI: the
    official call's PCA is an unseeded randomised solver, so the values are compared with an exact PCA).
    """

    label: str
    metric: str
    ours: callable
    official: callable
    value: callable = field(default=lambda result: (result.score,))
    check: callable = None


def _logme_params(_g):
    return {"variant": "official_fixed_point"}


SUITE = [
    SuiteEntry("LogME (fixed point)", "logme", _logme_params,
               lambda x, y, g: (official.logme_fixed_point(x, y),)),
    SuiteEntry("H-score", "hscore", lambda g: {}, lambda x, y, g: (official.h_score(x, y),)),
    SuiteEntry("H-score shrinkage", "hscore_shrinkage", lambda g: {},
               lambda x, y, g: (official.regularized_h_score(x, y),)),
    SuiteEntry("TransRate", "transrate", lambda g: {}, lambda x, y, g: (official.transrate(x, y),)),
    SuiteEntry("SFDA", "sfda", lambda g: {}, lambda x, y, g: (official.sfda_score(x.copy(), y),)),
    SuiteEntry("PED (SFDA)", "ped", lambda g: {"metric": "sfda", "reference_features": g},
               lambda x, y, g: (official.ped_score(x.copy(), y, g, metric="SFDA"),)),
    SuiteEntry("FSP official (LogME)", "fsp",
               lambda g: {"metric": "logme", "variant": "official",
                          "metric_params": {"variant": "official_fixed_point"}},
               lambda x, y, g: (official.sa_score(x.copy(), y, metric="LOGME"),)),
    SuiteEntry("NCTI (3 components)", "ncti", lambda g: {},
               lambda x, y, g: official.ncti_components(x.copy(), y),
               value=lambda r: (r.trace["seli"], r.trace["ncc"], r.trace["vc"]),
               check=lambda x, y, g: official.ncti_components(x.copy(), y, svd_solver="covariance_eigh")),
    SuiteEntry("NLEEP (official, seed 0)", "nleep", lambda g: {"variant": "official", "seed": 0},
               lambda x, y, g: (official.nleep_mean_prob(x, y),)),
]


def _suite_ranking_args(entries, references):
    """(metrics, params, model_params) that make ``rank_models`` score ``entries`` as the suite does."""
    metrics = [e.metric for e in entries]
    params = {}
    for e in entries:
        kwargs = e.ours(None)
        kwargs.pop("reference_features", None)
        if kwargs:
            params[e.metric] = kwargs
    model_params = {model: {"ped": {"reference_features": g}} for model, g in references.items()} \
        if "ped" in metrics else {}
    return metrics, params, model_params


def run_pool(n, d, c, *, entries, backend, n_models, jobs, blas_threads, seed=0):
    """Score ``n_models`` distinct synthetic models (seeds ``seed + 1000 + k``) with the suite through
    ``rank_models(n_jobs=j)`` for every j in ``jobs``. Returns [(j, wall s, CPU s, table)]."""
    pool, references = {}, {}
    for k in range(n_models):
        x, y, g = synthetic_features(n, d, c, seed + 1000 + k)
        pool[f"model-{k}"] = (x, y)
        references[f"model-{k}"] = g
    metrics, params, model_params = _suite_ranking_args(entries, references)
    out = []
    for j in jobs:
        table, wall, cpu = _timed_cpu(lambda j=j: rank_models(pool, metrics, params=params, model_params=model_params,
                                                              backend=backend, n_jobs=j, blas_threads=blas_threads))
        out.append((j, wall, cpu, table))
    return out


def print_pool(n, d, c, runs, per_model_serial, n_models):
    print(f"\npool: {n_models} models of N={n:,} D={d:,} C={c}, the suite through rank_models "
          f"(extrapolated serial: {per_model_serial * n_models:.1f} s = {n_models} x {per_model_serial:.2f} s)")
    print(f"{'n_jobs':>6} {'wall s':>8} {'cpu s':>8} {'wall per model':>15} {'vs extrapolated':>16}  load average")
    for j, wall, cpu, table in runs:
        load = " ".join(f"{v:.1f}" for v in os.getloadavg())
        speedup = _fmt_x(_ratio(per_model_serial * n_models, wall), 15)
        print(f"{j:>6} {wall:8.1f} {cpu:8.1f} {wall / n_models:15.2f} {speedup}  {load}")
        if table.failed:
            print(f"       FAILED: {table.failed[:3]}")
    print("(wall: the whole rank_models call; cpu: process CPU time over all threads)", flush=True)


def parse_size(text: str) -> tuple[int, int, int]:
    if text in NAMED_SIZES:
        return NAMED_SIZES[text]
    try:
        n, d, c = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"size {text!r}: use NxDxC (e.g. 5000x1280x10) or one of {sorted(NAMED_SIZES)}"
        ) from err
    return n, d, c


def nleep_stages(sizes, repeat: int = 1) -> None:
    """Where NLEEP's time goes (``transvis.metrics._mixture``), stage by stage, process CPU s: the PCA scores
    (the eigendecomposition of S_T already paid, as in the suite, where LogME needs it first), scikit-learn's
    k-means that fixes the initial clusters, one M-step, one E-step, and the whole mixture fit."""
    from sklearn.cluster import KMeans

    from transvis.metrics import _mixture

    print(f"\nNLEEP's stages (process CPU s, best of {repeat})")
    print(f"| {'N × D × C':>20} | {'d':>4} | {'K':>4} | {'PCA scores':>10} | {'k-means':>8} | {'M-step':>7} | "
          f"{'E-step':>7} | {'mixture fit':>11} |")
    for n, d, c in sizes:
        x, y, _ = synthetic_features(n, d, c)
        stats = ClassStats(x, y)
        stats.total_eigh  # noqa: B018 - paid by LogME before NLEEP in the suite
        k = 5 * c

        def best(fn):
            times = [_timed_cpu(fn) for _ in range(repeat)]
            return times[0][0], min(t[2] for t in times)

        points, pca_s = best(lambda: _mixture.pca_scores(stats, 0.8))
        labels, kmeans_s = best(lambda: KMeans(n_clusters=k, n_init=1, random_state=np.random.RandomState(0))
                                .fit(points).labels_)
        resp = np.zeros((n, k))
        resp[np.arange(n), labels] = 1.0
        model, m_s = best(lambda: _mixture._m_step(points, resp, 1e-6))
        _, e_s = best(lambda: _mixture._e_step(points, model, labels))
        _, fit_s = best(lambda: _mixture.fit_full_mixture(points, k, seed=0))
        print(f"| {f'{n:,} × {d:,} × {c}':>20} | {points.shape[1]:>4} | {k:>4} | {pca_s:>10.3f} | {kmeans_s:>8.3f} | "
              f"{m_s:>7.3f} | {e_s:>7.3f} | {fit_s:>11.3f} |", flush=True)


def synthetic_features(n: int, d: int, c: int, seed: int = 0):
    """CNN-like features [N, D] float32 (ReLU of Gaussian clusters), labels [N], reference set G [M, D]."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % c)
    spectrum = 1.0 / np.arange(1, d + 1) ** 0.6
    basis = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)
    means = (rng.normal(size=(c, d)) * 0.9 * np.sqrt(spectrum)).astype(np.float32)

    def draw(lab, spread):
        z = means[lab] + rng.standard_normal((lab.size, d), dtype=np.float32) * (spread * np.sqrt(spectrum)).astype(np.float32)
        return (FEATURE_SCALE * np.maximum(z @ basis + 0.3, 0.0)).astype(np.float32)

    x = draw(labels, 1.0)
    reference = draw(rng.integers(0, c, size=REFERENCE_ROWS), 1.6)
    return x, labels.astype(np.int64), reference


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _timed_cpu(fn):
    """(output, wall s, process CPU s). With one BLAS thread the CPU time is what the call costs on an idle
    core, however loaded the machine is."""
    start, start_cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - start, time.process_time() - start_cpu


def _rel_diff(ours, theirs) -> float:
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    return float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-12)))


def _best_of(repeat, fn):
    """(last output, min wall time, min CPU time) over ``repeat`` runs: the least-disturbed run on a shared
    machine."""
    best, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        out, seconds, cpu = _timed_cpu(fn)
        best, best_cpu = min(best, seconds), min(best_cpu, cpu)
    return out, best, best_cpu


def run_size(n, d, c, *, entries, backend, run_official, run_cold, repeat=1, seed=0, resamples=0):
    x, y, g = synthetic_features(n, d, c, seed)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    # Shared: one ClassStats for the whole suite, metrics in suite order (as ranking does it).
    stats_time = stats_cpu = float("inf")
    shared = {e.label: float("inf") for e in entries}
    shared_cpu = {e.label: float("inf") for e in entries}
    results = {}
    for _ in range(repeat):
        stats, seconds, cpu = _timed_cpu(lambda: ClassStats(x, y, backend=backend))
        stats_time, stats_cpu = min(stats_time, seconds), min(stats_cpu, cpu)
        for entry in entries:
            result, seconds, cpu = _timed_cpu(lambda e=entry: compute(e.metric, stats.features, stats.labels,
                                                                      stats=stats, **e.ours(g)))
            shared[entry.label] = min(shared[entry.label], seconds)
            shared_cpu[entry.label] = min(shared_cpu[entry.label], cpu)
            results[entry.label] = result
        del stats
    rows = []
    for entry in entries:
        cold_s = official_s = cold_cpu = official_cpu = diff = float("nan")
        if run_cold:
            _, cold_s, cold_cpu = _best_of(repeat, lambda e=entry: compute(e.metric, x, y, backend=backend,
                                                                           **e.ours(g)))
        if run_official:
            theirs, official_s, official_cpu = _best_of(repeat, lambda e=entry: e.official(x64, y, g64))
            if entry.check is not None:
                theirs = entry.check(x64, y, g64)
            diff = _rel_diff(entry.value(results[entry.label]), theirs)
        rows.append({"label": entry.label, "shared": shared[entry.label], "shared_cpu": shared_cpu[entry.label],
                     "cold": cold_s, "official": official_s, "cold_cpu": cold_cpu, "official_cpu": official_cpu,
                     "rel_diff": diff})
    extra = dict(zip(("floor", "floor_cpu"), floor_time(x, repeat)))
    if resamples:
        extra.update(resample_time(x, y, g, entries=entries, backend=backend, n_replicates=resamples))
    return rows, stats_time, stats_cpu, extra


def floor_time(x, repeat=1) -> tuple[float, float]:
    """Wall and process CPU seconds of the floor of any suite of these metrics: one centred Gram matrix and one symmetric
    eigendecomposition of it (float64, numpy), best of ``repeat``."""
    def floor():
        centred = np.asarray(x, dtype=np.float64) - x.mean(axis=0)
        return np.linalg.eigh(centred.T @ centred)

    return _best_of(repeat, floor)[1:]


def resample_time(x, y, g, *, entries, backend, n_replicates=20) -> dict:
    """Process CPU seconds (robust on a shared machine with one BLAS thread) of one scoring of the suite with
    fresh statistics (``scoring``) and per replicate, where a replicate is the suite on one stratified 80 %
    subset (``transvis.uncertainty.Resampling``):

    - ``replicate``: each subset refitted with a fresh ``ClassStats(x[rows], y[rows])`` (how
      ``rank_models(resamples=...)`` estimated the noise before ``ClassStats.subset``);
    - ``replicate_subset``: each subset refitted on statistics derived from the full scoring's
      (``ClassStats.subset``: no re-validation, S_T from the full S_T and a Gram of the left-out rows);
    - ``replicate_now``: as ``rank_models`` does today (``transvis.ranking._score_subsets``): metrics with
      deletion replicates (``MetricSpec.deletion_replicates``, e.g. LogME) score the subsets from their full fit,
      the others refit on ``ClassStats.subset``;
    - ``*_default``: the same for the metrics ranked by default only (opt-in metrics such as NLEEP left out:
      the app does not estimate their noise).
    """
    from transvis.metrics import get_spec
    from transvis.ranking import _score_subsets
    from transvis.uncertainty import Resampling

    def suite(stats, chosen):
        return {e.metric: compute(e.metric, stats.features, stats.labels, stats=stats, **e.ours(g)) for e in chosen}

    def now(stats, results, chosen):
        _score_subsets(stats, None, {e.metric: get_spec(e.metric) for e in chosen},
                       {e.metric: e.ours(g) for e in chosen}, {}, results, resampling)

    resampling = Resampling(n_replicates=n_replicates)
    subsets = resampling.subsets(y)
    default = [e for e in entries if get_spec(e.metric).opt_in is None]
    out = {}
    base = ClassStats(x, y, backend=backend)
    results, _, out["scoring"] = _timed_cpu(lambda: suite(base, entries))
    _, _, total = _timed_cpu(lambda: [suite(ClassStats(x[rows], y[rows], backend=backend), entries)
                                      for rows in subsets])
    out["replicate"] = total / n_replicates
    _, _, total = _timed_cpu(lambda: [suite(base.subset(rows), entries) for rows in subsets])
    out["replicate_subset"] = total / n_replicates
    _, _, total = _timed_cpu(lambda: now(base, results, entries))
    out["replicate_now"] = total / n_replicates
    if default and len(default) < len(entries):
        base = ClassStats(x, y, backend=backend)
        results, _, out["scoring_default"] = _timed_cpu(lambda: suite(base, default))
        _, _, total = _timed_cpu(lambda: [suite(base.subset(rows), default) for rows in subsets])
        out["replicate_default"] = total / n_replicates
        _, _, total = _timed_cpu(lambda: now(base, results, default))
        out["replicate_now_default"] = total / n_replicates
    # each metric alone, as a method page's noise job scores it: scoring, refitted replicate, replicate now
    out["alone"] = {}
    for entry in entries:
        base = ClassStats(x, y, backend=backend)
        results, _, scoring = _timed_cpu(lambda e=entry: suite(base, [e]))
        _, _, refit = _timed_cpu(lambda e=entry: [suite(base.subset(rows), [e]) for rows in subsets])
        _, _, current = _timed_cpu(lambda e=entry: now(base, results, [e]))
        out["alone"][entry.label] = (scoring, refit / n_replicates, current / n_replicates)
    return out


def _fmt_s(v):
    return "      -" if not np.isfinite(v) else f"{v:7.2f}" if v >= 0.995 else f"{v:7.3f}"


def _ratio(num, den):
    return num / den if np.isfinite(num) and np.isfinite(den) and den > 0 else float("nan")


def _fmt_x(v, width=8):
    return f"{v:{width}.1f}x" if np.isfinite(v) else " " * width + "-"


def print_table(n, d, c, rows, stats_time, n_models, stats_cpu=float("nan"), extra=None):
    print(f"\n=== N={n:,} D={d:,} C={c}  (validation + ClassStats setup {stats_time:.3f} s) ===")
    header = (f"{'metric':<24} {'ours shared s':>13} {'ours cold s':>11} {'official s':>10} {'speed-up':>9} "
              f"{'cold cpu s':>10} {'offic. cpu s':>12} {'cpu speed-up':>12} {'max rel diff':>12}")
    print(header)
    print("-" * len(header))
    for r in rows:
        diff_s = f"{r['rel_diff']:12.1e}" if np.isfinite(r["rel_diff"]) else "           -"
        print(f"{r['label']:<24} {_fmt_s(r['shared']):>13} {_fmt_s(r['cold']):>11} {_fmt_s(r['official']):>10} "
              f"{_fmt_x(_ratio(r['official'], r['cold']))} {_fmt_s(r['cold_cpu']):>10} "
              f"{_fmt_s(r['official_cpu']):>12} {_fmt_x(_ratio(r['official_cpu'], r['cold_cpu']), 11)} {diff_s}")
    ours_model = stats_time + sum(r["shared"] for r in rows)
    official_model = sum(r["official"] for r in rows)
    ours_cpu = stats_cpu + sum(r["shared_cpu"] for r in rows)
    official_cpu = sum(r["official_cpu"] for r in rows)
    print("-" * len(header))
    print(f"{'suite per model':<24} {_fmt_s(ours_model):>13} {'':>11} {_fmt_s(official_model):>10} "
          f"{_fmt_x(_ratio(official_model, ours_model))} {_fmt_s(ours_cpu):>10} {_fmt_s(official_cpu):>12} "
          f"{_fmt_x(_ratio(official_cpu, ours_cpu), 11)}")
    print(f"{f'suite x {n_models} models':<24} {_fmt_s(ours_model * n_models):>13} {'':>11} "
          f"{_fmt_s(official_model * n_models):>10} {'':>9} {_fmt_s(ours_cpu * n_models):>10} "
          f"{_fmt_s(official_cpu * n_models):>12}")
    print("(cpu columns: process CPU time; with one BLAS thread that is the time on an otherwise idle core. In the\n"
          " suite rows the cpu column under 'cold cpu s' is ours shared.)")
    extra = extra or {}
    if "floor" in extra:
        print(f"floor (one centred Gram + one eigh, float64): {extra['floor']:.3f} s; suite per model / floor = "
              f"{_ratio(ours_model, extra['floor']):.1f}x; official suite / ours = "
              f"{_ratio(official_model, ours_model):.1f}x; in CPU time: floor {extra['floor_cpu']:.3f} s, suite / floor "
              f"= {_ratio(ours_cpu, extra['floor_cpu']):.1f}x, official / ours = {_ratio(official_cpu, ours_cpu):.1f}x")
    if "replicate" in extra:
        print(f"resample (process CPU s): one scoring of the suite {extra['scoring']:.3f} s, one replicate (80 % stratified subset) "
              f"{extra['replicate']:.3f} s = {_ratio(extra['replicate'], extra['scoring']):.2f}x a scoring with a "
              f"fresh ClassStats, {extra['replicate_subset']:.3f} s = "
              f"{_ratio(extra['replicate_subset'], extra['scoring']):.2f}x with ClassStats.subset, "
              f"{extra['replicate_now']:.3f} s = {_ratio(extra['replicate_now'], extra['scoring']):.2f}x as "
              "rank_models now (deletion replicates where a metric offers them)")
    if "replicate_default" in extra:
        print(f"resample, metrics ranked by default only (no opt-in metric): one scoring {extra['scoring_default']:.3f}"
              f" s, one replicate with ClassStats.subset {extra['replicate_default']:.3f} s = "
              f"{_ratio(extra['replicate_default'], extra['scoring_default']):.2f}x, as rank_models now "
              f"{extra['replicate_now_default']:.3f} s = "
              f"{_ratio(extra['replicate_now_default'], extra['scoring_default']):.2f}x")
    if extra.get("alone"):
        print("resample, each metric alone (a method page's noise job), process CPU s per replicate:")
        print(f"  {'metric':<24} {'scoring':>8} {'refit':>8} {'now':>8} {'now/scoring':>11} {'refit/now':>9}")
        for label, (scoring, refit, current) in extra["alone"].items():
            print(f"  {label:<24} {scoring:8.3f} {refit:8.3f} {current:8.3f} {_ratio(current, scoring):10.2f}x "
                  f"{_ratio(refit, current):8.1f}x")
    return ours_model, official_model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=parse_size, default=None,
                        help="NxDxC or a name: " + ", ".join(f"{k}={'x'.join(map(str, v))}" for k, v in NAMED_SIZES.items()))
    parser.add_argument("--quick", action="store_true", help="small sizes (" + ", ".join(QUICK_SIZES) + ")")
    parser.add_argument("--backend", choices=("numpy", "torch", "auto"), default="numpy")
    parser.add_argument("--metrics", nargs="+", default=None, help="subset of suite labels or metric names")
    parser.add_argument("--no-official", action="store_true", help="skip the (slow) official transcriptions")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold (fresh statistics) timings")
    parser.add_argument("--models", type=int, default=10,
                        help="pool size for the extrapolated suite total and the real pool run")
    parser.add_argument("--jobs", type=int, nargs="+", default=None,
                        help="rank_models n_jobs values for the pool run (default: the CPU count), e.g. --jobs 1 2")
    parser.add_argument("--no-pool", action="store_true", help="skip the real pool run")
    parser.add_argument("--full-confmix", action="store_true",
                        help="disable SFDA's common-weight shortcut: time the ConfMix Gram passes that features "
                             "with an unsaturated first pass need (the synthetic sets saturate)")
    parser.add_argument("--resamples", type=int, default=20,
                        help="replicates for the resample row (B; 0 skips it): one 80 %% subset re-scoring vs one "
                             "scoring")
    parser.add_argument("--repeat", type=int, default=1, help="time each call this many times and keep the fastest")
    parser.add_argument("--nleep-stages", action="store_true",
                        help="only NLEEP's stages per size (PCA scores, k-means, one M-step, one E-step, the whole "
                             "mixture fit), process CPU s, best of --repeat")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="limit BLAS/OpenMP threads for the whole run (threadpoolctl); default: leave as set")
    args = parser.parse_args(argv)
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=args.blas_threads):
            return _run(args, parser)
    return _run(args, parser)


def _blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - a scikit-learn dependency
        return "?"
    return ", ".join(f"{i.get('internal_api')} {i.get('num_threads')}" for i in threadpool_info()) or "?"


def _run(args, parser):
    import warnings

    from transvis.metrics._degeneracy import DegenerateScoreWarning

    # the synthetic sets saturate by design (bench/README: FEATURE_SCALE): one line here, not one per call
    warnings.simplefilter("ignore", DegenerateScoreWarning)
    print("(degenerate-score warnings silenced: the synthetic features saturate NLEEP and SFDA by design)")
    if args.full_confmix:
        from transvis.metrics import sfda as sfda_module

        sfda_module._ConfMixMoments._common_weight_scatter = lambda self: None

    sizes = args.sizes or [NAMED_SIZES[s] for s in (QUICK_SIZES if args.quick else DEFAULT_SIZES)]
    entries = SUITE
    if args.metrics:
        wanted = {m.lower() for m in args.metrics}
        entries = [e for e in SUITE if e.metric in wanted or e.label.lower() in wanted]
        if not entries:
            parser.error(f"no suite metric matches {args.metrics}; choose from {[e.metric for e in SUITE]}")
    print(f"transvis metrics benchmark: backend={args.backend}, python {platform.python_version()}, "
          f"numpy {np.__version__}, {os.cpu_count()} CPUs, {platform.machine()}, "
          f"OPENBLAS/OMP threads {os.environ.get('OPENBLAS_NUM_THREADS', '-')}/{os.environ.get('OMP_NUM_THREADS', '-')}, "
          f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"date {time.strftime('%Y-%m-%d %H:%M')}, threads in use: {_blas_threads()}"
          + (", SFDA common-weight shortcut disabled (--full-confmix)" if args.full_confmix else ""))
    if args.backend != "numpy":
        import torch

        print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}"
              + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else ""))
    if args.nleep_stages:
        nleep_stages(sizes, repeat=max(1, args.repeat))
        return 0
    # Warm-up on a tiny set: imports, BLAS thread pools and first-call costs stay out of the timings.
    run_size(400, 96, 4, entries=entries, backend=args.backend, run_official=not args.no_official,
             run_cold=False)
    for n, d, c in sizes:
        rows, stats_time, stats_cpu, extra = run_size(n, d, c, entries=entries, backend=args.backend,
                                                      run_official=not args.no_official,
                                                      run_cold=not args.no_cold, repeat=max(1, args.repeat),
                                                      resamples=args.resamples)
        ours_model, _ = print_table(n, d, c, rows, stats_time, args.models, stats_cpu, extra)
        print(f"load average after this size: {' '.join(f'{v:.1f}' for v in os.getloadavg())}", flush=True)
        if not args.no_pool and args.models > 0:
            jobs = args.jobs or [os.cpu_count() or 1]
            runs = run_pool(n, d, c, entries=entries, backend=args.backend, n_models=args.models, jobs=jobs,
                            blas_threads=args.blas_threads)
            print_pool(n, d, c, runs, ours_model, args.models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
