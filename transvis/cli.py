"""``transvis`` / ``python -m transvis``: a thin command-line front end over the same functions as the app.

    transvis zoo list | zoo prepare
    transvis demo prepare
    transvis extract --dataset fashion-mnist --models demo
    transvis rank --dataset mnist-5k --models demo --groundtruth linear_probe
    transvis score --features feats.npz --metrics logme,sfda
    transvis rank --dataset fashion-mnist --models demo --metrics logme,sfda,ped,fsp,face \\
                  --groundtruth linear_probe --json out.json
    transvis cache list | cache delete KEY | cache clear [features,datasets,temp,demo,zoo,wheels|all]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from transvis.uncertainty import DEFAULT_REPLICATES

# --metrics defaults to the registry's default set (transvis.metrics.default_metrics: every metric but the
# opt-in ones), the app's Leaderboard default; resolved when the command runs (importing the metrics is slow).
METRICS_HELP = "comma-separated metric names (default: every registered metric but the slow opt-in ones)"


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _model_ids(spec: str) -> list[str]:
    """``--models``: comma-separated ids; ``demo`` is the demo pool (the zoo's pretrained models, their
    random-init twins and layer taps: ``transvis.demo.demo_pool_ids``)."""
    from transvis.demo import demo_pool_ids

    ids = []
    for item in _split(spec):
        ids.extend(demo_pool_ids() if item == "demo" else [item])
    if not ids:
        raise ValueError("--models is empty; pass timm names, offline/<name> ids, or 'demo'.")
    return list(dict.fromkeys(ids))


def _dataset(args):
    from transvis.data import load_dataset

    kwargs = {"max_per_class": args.max_per_class, "seed": args.seed}
    if args.split:
        kwargs["split"] = args.split
    return load_dataset(args.dataset, **kwargs)


def _input_size(args, model_ids):
    from transvis.demo import DEMO_INPUT_SIZE
    from transvis.models import is_zoo_id

    if args.input_size is not None:
        return args.input_size
    # The demo zoo is extracted at a CPU-friendly size by default, so `--models demo` reuses its cache.
    return DEMO_INPUT_SIZE if all(is_zoo_id(m) for m in model_ids) else None


def _features_for(args) -> dict:
    from transvis.demo.pool import demo_member, pool_features_cached
    from transvis.pipeline import features_by_name, skipped_note

    model_ids = _model_ids(args.models)
    dataset = _dataset(args)
    input_size = _input_size(args, model_ids)
    layers = _layers(getattr(args, "layers", None))
    common = dict(input_size=input_size, device=args.device, batch_size=args.batch_size,
                  progress=None if args.progress else False)
    members = [demo_member(m) for m in model_ids] if layers is None else []
    if members and all(members):  # the demo pool: its taps and twins from one pass per model, in pool order
        out, from_store = pool_features_cached(dataset, input_size=input_size, members=members, device=args.device)
        for name, features in out.items():
            print(f"{name}: {features.n_samples}x{features.n_dims} "
                  f"({'cached' if from_store[name] else 'extracted'})", file=sys.stderr)
            _check_every_class_read(name, features)
        return out
    if getattr(args, "cluster", None) and layers is None:  # workers extract into the store and score from it
        return _cluster_extract(args.cluster, model_ids, dataset, input_size, args.batch_size).stored()
    out = {}
    for model_id in model_ids:
        by_name, cached = features_by_name(model_id, dataset, layers=layers, **common)
        for name, features in by_name.items():
            print(f"{name}: {features.n_samples}x{features.n_dims} ({'cached' if cached else 'extracted'})",
                  file=sys.stderr)
        note = skipped_note(next(iter(by_name.values())))
        if note:
            print(f"{model_id}: {note}", file=sys.stderr)
        for name, features in by_name.items():
            _check_every_class_read(name, features)
        out.update(by_name)
    return out


class NothingScored(RuntimeError):
    """Every metric failed or was skipped for every model: the command exits 1 (the table is still shown)."""


def _check_every_class_read(name: str, features) -> None:
    from transvis.data.check import check_every_class_read

    check_every_class_read(name, features)


def feature_file_names(paths: list[str], model_ids: list[str | None]) -> list[str]:
    """One distinct row name per ``--features`` file: its recorded model id, else its stem; where two files
    would share a name (``d1/x.npz``, ``d2/x.npz``) both become ``<parent folder>/<stem>`` (with the model id,
    ``<model id> (<parent>/<stem>)``). The same file given twice is an error."""
    resolved = [str(Path(p).expanduser().resolve()) for p in paths]
    twice = sorted({p for p in paths if resolved.count(str(Path(p).expanduser().resolve())) > 1})
    if twice:
        raise ValueError(f"--features names {', '.join(twice)} more than once; give each file once.")
    base = [mid or Path(p).stem for p, mid in zip(paths, model_ids)]
    names = []
    for p, mid, name in zip(paths, model_ids, base):
        if base.count(name) > 1:
            where = f"{Path(p).expanduser().resolve().parent.name}/{Path(p).stem}"
            name = f"{mid} ({where})" if mid else where
        names.append(name)
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ValueError(f"--features: several files would be named {', '.join(clash)}; rename the files so "
                         "their folder/stem differ.")
    return names


def _layers(spec: str | None):
    """``--layers``: None (pre-logits only), ``"all"``, or comma-separated tap indices."""
    from transvis.pipeline import parse_layers

    try:
        return parse_layers(spec)
    except ValueError as err:
        raise ValueError(f"--{err}") from None


def _groundtruth(args, features_by_model) -> tuple[dict | None, str | None, dict | None]:
    """``--groundtruth`` is a regime name (looked up in the shipped/--groundtruth-csv CSV, else measured by a
    linear probe on the features) or ``path.csv[:regime]``. Returns (accuracies, source, test sizes)."""
    if not args.groundtruth:
        return None, None, None
    from transvis.groundtruth import groundtruth_for, linear_probe, read_groundtruth_csv, test_sizes_for

    spec = args.groundtruth
    path, regime = (spec.rsplit(":", 1) + ["linear_probe"])[:2] if spec.endswith(".csv") or ".csv:" in spec else (None, spec)
    dataset_name = args.dataset.split(":")[0] if args.dataset else None
    if path is None:
        path = args.groundtruth_csv or _demo_groundtruth_csv(dataset_name)
    values, sizes = {}, {}
    if path is not None:
        rows = read_groundtruth_csv(path)  # a malformed CSV is an error to fix, never silently replaced
        try:
            values = groundtruth_for(rows, regime=regime, dataset=dataset_name)
            sizes = test_sizes_for(rows, regime=regime, dataset=dataset_name)
        except ValueError:
            if regime != "linear_probe":
                raise
            # no rows for this regime and dataset: the linear probe is measured below, as documented
    models = list(features_by_model)
    if all(m in values for m in models):
        return {m: values[m] for m in models}, f"{regime} ({path})", {m: sizes[m] for m in models if m in sizes}
    if regime != "linear_probe":
        missing = [m for m in models if m not in values]
        raise ValueError(f"no {regime!r} ground truth for {missing}; pass --groundtruth-csv with those rows "
                         "or use --groundtruth linear_probe to measure it.")
    if getattr(args, "cluster", None):  # one Ray task per model, reading its features where it runs
        from transvis.cluster import linear_probes_on_cluster, reporting, stderr_bar

        with reporting(stderr_bar()):
            probes = linear_probes_on_cluster(args.cluster, features_by_model, seed=args.seed)
    else:
        probes = {m: linear_probe(fs, seed=args.seed) for m, fs in features_by_model.items()}
    return ({m: p.accuracy for m, p in probes.items()}, "linear_probe (measured now on these features)",
            {m: p.n_test for m, p in probes.items()})


def _demo_groundtruth_csv(dataset_name: str | None):
    """The shipped ground truth of a demo target (``assets/groundtruth/demo_<target>.csv``) when ``--dataset``
    names one (default: Fashion-MNIST's), else None."""
    from transvis.demo import DEFAULT_TARGET, DEMO_TARGETS

    spec = DEMO_TARGETS.get(dataset_name or DEFAULT_TARGET) or DEMO_TARGETS[DEFAULT_TARGET]
    return spec.groundtruth_csv if spec.groundtruth_csv.exists() else None


def _print_table(table, metrics) -> None:
    """Scores ± standard error (rank; "=" marks a rank shared by a float-noise tie), then per metric the
    tiers of models that the noise cannot order."""
    scores, se = table.scores, table.score_se
    width = max(len(m) for m in table.models) + 2
    cell = 24
    header = "model".ljust(width) + "".join(f"{m[:cell - 2]:>{cell}}" for m in metrics)
    print(header)
    for model in table.models:
        cells = []
        for metric in metrics:
            value = scores.loc[model, metric]
            if value != value:
                cells.append("—")
                continue
            rank = table.ranks.loc[model, metric]
            shared = "=" if (table.ranks[metric] == rank).sum() > 1 else ""
            noise = f" ±{se.loc[model, metric]:.2g}" if se.loc[model, metric] == se.loc[model, metric] else ""
            cells.append(f"{value:.4g}{noise} ({shared}{int(rank)})")
        print(model.ljust(width) + "".join(f"{c:>{cell}}" for c in cells))
    if table.noise:
        level = next(iter(table.noise.values())).resampling.level
        print(f"\nwithin noise ({level:.0%} level; models in one bracket cannot be ordered by these samples):")
        for metric in metrics:
            if metric in table.noise:
                tiers = " > ".join("[" + ", ".join(group) + "]" for group in table.noise_groups(metric))
                print(f"  {metric:<20} {tiers}")


def cmd_rank(args, *, with_groundtruth=True) -> int:
    from transvis.data import load_feature_npz
    from transvis.ranking import rank_models

    if args.metrics is None:
        from transvis.metrics import default_metrics

        metrics = default_metrics()
    else:
        metrics = _split(args.metrics)
    if getattr(args, "features", None):
        loaded = [load_feature_npz(path) for path in args.features]
        names = feature_file_names(args.features, [fs.model_id for fs in loaded])
        features_by_model = dict(zip(names, loaded))
    else:
        if not args.dataset or not args.models:
            raise ValueError("pass --features FILE.npz, or --dataset and --models.")
        features_by_model = _features_for(args)
    groundtruth, source, sizes = _groundtruth(args, features_by_model) if with_groundtruth else (None, None, None)
    with _cluster_progress(args):
        table = rank_models(features_by_model, metrics, groundtruth=groundtruth, groundtruth_n=sizes,
                            backend=args.backend, n_jobs=getattr(args, "jobs", 1),
                            resamples=getattr(args, "resamples", 0) or None, executor=getattr(args, "cluster", None))
    _print_table(table, metrics)
    for model, metric, reason in table.skipped:
        print(f"skipped {metric} for {model}: {reason}", file=sys.stderr)
    for model, metric, reason in table.failed:
        print(f"FAILED {metric} for {model}: {reason}", file=sys.stderr)
    if not table.scores.notna().to_numpy().any():
        raise NothingScored(
            f"no metric could score any model ({len(table.failed)} failed, {len(table.skipped)} skipped; "
            "the reasons are above): fix the features or the dataset, or choose other --metrics.")
    if groundtruth:
        print(f"\nweighted Kendall tau against {source}" + (" [95% interval]:" if table.tau_intervals else ":"))
        for metric, tau in table.weighted_tau.items():
            print(f"  {metric:<20} {table.tau_text(metric)}" if tau == tau else f"  {metric:<20} n/a")
    if args.json:
        payload = table.to_dict()
        payload["groundtruth_source"] = source
        Path(args.json).write_text(json.dumps(payload, indent=2, allow_nan=False, default=str))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def cmd_extract(args) -> int:
    if getattr(args, "cluster", None) and not getattr(args, "layers", None):
        model_ids = _model_ids(args.models)
        _cluster_extract(args.cluster, model_ids, _dataset(args), _input_size(args, model_ids), args.batch_size)
        return 0
    _features_for(args)
    return 0


def cmd_zoo(args) -> int:
    from transvis.models import list_zoo, prepare_demo_zoo

    if args.action == "prepare":
        prepare_demo_zoo()
    for row in list_zoo():
        print(f"{row['name']:<32} {row['architecture']:<24} {row['source']:<44} {row['status']}")
    return 0


def cmd_demo(args) -> int:
    from transvis.demo import prepare_demo

    start = time.perf_counter()
    prepare_demo(progress=lambda message: print(f"[demo] {message}", file=sys.stderr), device=args.device,
                 targets=_split(args.targets) if getattr(args, "targets", None) else None)
    print(f"[demo] prepared in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


def cmd_cache(args) -> int:
    from transvis.store import FeatureStore

    store = FeatureStore()
    if args.action == "list":
        entries = store.list()
        for entry in entries:
            shape = (entry.meta.get("shapes") or {}).get("features")
            shape = "x".join(str(n) for n in shape) if shape else "?"
            flag = f"  PROBLEM: {entry.problem}" if entry.problem else ""
            print(f"{entry.key}  {entry.model_id or '?':<32} {entry.meta.get('layer') or '?':<11} "
                  f"{entry.dataset_id or '?':<36} {shape:>11} {entry.size_bytes / 1e6:7.1f} MB{flag}")
        print(f"{len(entries)} entries, {store.total_bytes() / 1e6:.1f} MB in {store.root}")
        from transvis.store.usage import cache_usage, usage_lines  # every folder under the cache, with sizes

        print("\n".join(usage_lines(cache_usage(store.cache_root), store.cache_root)))
    elif args.action == "delete":
        if not args.key:
            raise ValueError("cache delete needs a KEY (or a unique prefix) from `transvis cache list`.")
        key = store.resolve(args.key)
        store.delete(key)
        print(f"deleted {key}")
    elif args.action == "clear":  # KEY: areas to clear (default features,datasets,temp; "all")
        from transvis.store.usage import clear_cache

        count = len(store.list())
        freed = clear_cache(_split(args.key) if args.key else None, store.cache_root)
        print(f"deleted {count if 'features' in freed else 0} entries; cleared "
              + ", ".join(f"{name} ({size / 1e6:.1f} MB)" for name, size in freed.items()))
    return 0


def _add_source_args(p, *, models_required=False):
    from transvis.demo import DEMO_MAX_PER_CLASS

    p.add_argument("--dataset", help="built-in name (fashion-mnist, mnist-5k, digits), torchvision name, "
                                     "image folder or .zip")
    p.add_argument("--split", help="dataset split (e.g. test/train for fashion-mnist)")
    p.add_argument("--models", required=models_required,
                   help="comma-separated timm names with tag, offline/<name>, or 'demo' for the demo zoo")
    p.add_argument("--max-per-class", type=int, default=DEMO_MAX_PER_CLASS,
                   help=f"stratified subsample size (default {DEMO_MAX_PER_CLASS}, the demo's; SFDA and PED "
                        "saturate at 1.0 unless N - C is well above the feature dimension D)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--input-size", type=int, default=None,
                   help="input side override (default: the model's own; the demo zoo's CPU-friendly size)")
    p.add_argument("--device", default="auto", help="auto (CUDA, MPS, CPU), cpu, cuda, cuda:1, mps")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--progress", action="store_true", help="show a progress bar while extracting")
    p.add_argument("--layers", help="also intermediate layers (timm forward_intermediates taps, globally pooled): "
                                    "'all' or tap indices like 1,-1; each is ranked as <model>@tap<i>")
    p.add_argument("--cluster", help="extract and score on Ray (optional extra): 'ray' (local, started on demand), "
                                     "'ray://HOST:PORT' or 'ray=auto' (a running cluster; README: Many models, "
                                     "many machines)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="transvis", description="Transferability estimation, made visible.",
                                     epilog="--debug (anywhere on the line): show the traceback of a failure.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("rank", help="models x metrics table, ranks and weighted tau against ground truth")
    _add_source_args(p)
    p.add_argument("--features", nargs="+", help=".npz feature files (features, labels[, source_probs])")
    p.add_argument("--metrics", help=METRICS_HELP)
    p.add_argument("--groundtruth", help="regime (linear_probe, finetune) or path.csv[:regime]")
    p.add_argument("--groundtruth-csv", help="CSV model,dataset,regime,accuracy,... to look regimes up in")
    p.add_argument("--backend", default="auto", choices=["auto", "numpy", "torch"])
    p.add_argument("--jobs", type=int, default=1,
                   help="score this many models at once (threads, one BLAS thread each; e.g. the CPU count)")
    p.add_argument("--resamples", type=int, default=DEFAULT_REPLICATES,
                   help=f"subsets re-scored to estimate each score's noise (default {DEFAULT_REPLICATES}, about "
                        f"{0.8 * DEFAULT_REPLICATES:.0f}x the scoring time; 0 = none): intervals, tiers, tau intervals")
    p.add_argument("--json", help="write {models, weighted_tau, tau_intervals, noise, ...} here")
    p.set_defaults(func=cmd_rank)

    p = sub.add_parser("score", help="score features with metrics (no ground truth)")
    _add_source_args(p)
    p.add_argument("--features", nargs="+")
    p.add_argument("--metrics", help=METRICS_HELP)
    p.add_argument("--backend", default="auto", choices=["auto", "numpy", "torch"])
    p.add_argument("--resamples", type=int, default=0,
                   help=f"subsets re-scored to estimate each score's noise (0 = none, default; e.g. {DEFAULT_REPLICATES})")
    p.add_argument("--json")
    p.set_defaults(func=lambda a: cmd_rank(a, with_groundtruth=False), groundtruth=None)

    p = sub.add_parser("extract", help="extract (and cache) features")
    _add_source_args(p, models_required=True)
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("zoo", help="the offline demo zoo")
    p.add_argument("action", choices=["list", "prepare"])
    p.set_defaults(func=cmd_zoo)

    p = sub.add_parser("demo", help="prepare the built-in offline demo (zoo, features, the app's default rankings)")
    p.add_argument("action", choices=["prepare"])
    p.add_argument("--device", default="auto")
    p.add_argument("--targets", help="comma-separated demo targets (default: all: fashion-mnist,mnist-5k)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("cache", help="list or delete cached features; list/clear every area of the cache")
    p.add_argument("action", choices=["list", "delete", "clear"])
    p.add_argument("key", nargs="?")
    p.set_defaults(func=cmd_cache)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. Every failure is one line on stderr and a non-zero exit status: 2 for a user error
    (a ``ValueError``, which names the fix), 1 for anything else (an OS error, a broken file, a bug), 130 on
    Ctrl-C. ``--debug`` (anywhere on the line) shows the traceback instead."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    try:
        _check_arguments(args)
        return args.func(args)
    except KeyboardInterrupt:
        print("transvis: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - the one place every failure becomes a message
        if debug:
            raise
        print(f"transvis: error: {error_line(err)}", file=sys.stderr)
        return 2 if isinstance(err, ValueError) else 1


MAX_ERROR_CHARS = 1200


def error_line(err: BaseException) -> str:
    """``err`` as one line for a terminal: a ValueError's own message (it names the fix); an OSError as
    "<reason>: <path>"; anything else prefixed with its type. Newlines (a state-dict mismatch lists its keys
    on several) are joined with " | " so nothing is cut; very long messages end in "...". Ends with the
    ``--debug`` hint for errors that are not the user's."""
    if isinstance(err, OSError) and err.strerror:
        where = f": {err.filename}" if err.filename else ""
        text = f"{err.strerror}{where} (the operating system refused; check the path, free space and permissions)"
    else:
        text = str(err) or type(err).__name__
        if not isinstance(err, (ValueError, NothingScored)):
            text = f"{type(err).__name__}: {text}"
    text = " | ".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS - 3] + "..."
    if not isinstance(err, (ValueError, NothingScored)):
        text += " (run with --debug for the traceback)"
    return text


def _check_arguments(args) -> None:
    """Refuse arguments that would only fail after minutes of work: ``--json`` must name a file in an
    existing folder; ``--device`` must be a device torch knows."""
    out = getattr(args, "json", None)
    if out:
        path = Path(out).expanduser()
        if path.is_dir():
            raise ValueError(f"--json {out} is a folder; name a file, e.g. {Path(out) / 'ranking.json'}.")
        if not path.parent.is_dir():
            raise ValueError(f"--json {out}: the folder {path.parent} does not exist; create it first.")
    device = getattr(args, "device", None)
    if device and device != "auto":
        import torch

        try:
            torch.device(device)
        except (RuntimeError, ValueError, TypeError):
            raise ValueError(f"--device {device!r} is not a device; use auto, cpu, cuda, cuda:1 or mps.") from None


def _cluster_progress(args):
    """With ``--cluster``: one progress bar on stderr over the run's tasks (done/total, ETA, workers in use)."""
    import contextlib

    if not getattr(args, "cluster", None):
        return contextlib.nullcontext()
    from transvis.cluster import reporting, stderr_bar

    return reporting(stderr_bar())


def _cluster_extract(address, model_ids, dataset, input_size, batch_size, shards="auto"):
    """``--cluster``: Ray tasks (one per model × shard of images) write the features into the store; prints a
    progress bar and each resumed, extracted, retried and failed model; returns the
    :class:`~transvis.cluster.ClusterExtraction` (its ``stored()`` features are scored where they are)."""
    from transvis.cluster import extract_on_cluster, reporting, stderr_bar

    with reporting(stderr_bar()):
        run = extract_on_cluster(address, model_ids, dataset, input_size=input_size, batch_size=batch_size,
                                 shards=shards)
    for model_id, summary in run.summaries.items():
        how = ("resumed (already in the store, not recomputed)" if model_id in run.resumed
               else "extracted on the cluster")
        if model_id in run.shards:
            now, kept = run.shards[model_id]
            how += f" ({now + kept} shards, {kept} resumed)" if kept else f" ({now} shards)"
        print(f"{model_id}: {summary.n_samples}x{summary.n_dims} {how}", file=sys.stderr)
        if summary.skipped_note:
            print(f"{model_id}: {summary.skipped_note}", file=sys.stderr)
    for model_id, attempts in run.retried.items():
        print(f"{model_id}: retried (a worker died; {attempts} attempts)", file=sys.stderr)
    for model_id, reason in run.failed.items():
        print(f"FAILED extraction for {model_id}: {reason}", file=sys.stderr)
    problems = [s.problem for s in run.summaries.values() if s.problem]
    if problems:
        raise ValueError(problems[0])
    if not run.keys:
        raise ValueError(f"no model's features could be extracted on the cluster ({len(run.failed)} failed; the "
                         "reasons are above).")
    return run
