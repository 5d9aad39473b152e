"""The app's session model, free of any UI: the active model pool and its ground truth tables.

A :class:`Pool` is what every page works on: the features of several models over one dataset (sub)sample,
the ground truth accuracies known for them, and a small ``key`` that names its content. Pages cache their
expensive results under ``(pool.key, parameters)`` and never hash the arrays themselves.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from transvis.features.featureset import FeatureSet

def short_digest(*parts: Any, length: int = 12) -> str:
    """A short stable hex digest of JSON-able parts (for cache keys)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


@dataclass
class Pool:
    """Models ranked together: ``{model_id: FeatureSet}`` plus what is known about them.

    key : small string naming the content (cache key for everything computed from the pool).
    groundtruth : ``{regime: {model_id: accuracy}}`` (e.g. ``linear_probe``, ``finetune``);
    groundtruth_n : ``{regime: {model_id: test samples}}`` behind them (their binomial noise), where known.
    origin : where it came from: ``demo``, ``synthetic``, ``upload``, ``store``.
    image_fn : optional ``i -> PIL.Image`` for sample ``i`` (thumbnails); None when images are unknown.
    note : shown to the user (e.g. why the app fell back to the synthetic demo).
    precomputed : ``{metric_params_key(metric, params): one-metric RankingTable}`` already scored on this
        pool (the demo's persisted ranking), used instead of scoring again.
    trajectories : ``{trajectory_request_key(kind, metric, params): Trajectory or a function loading it}``
        already computed on this pool (the demo's persisted default dynamics), used instead of computing.
    """

    key: str
    name: str
    features: dict[str, FeatureSet]
    groundtruth: dict[str, dict[str, float]] = field(default_factory=dict)
    description: str = ""
    origin: str = "demo"
    image_fn: Callable[[int], Any] | None = None
    note: str | None = None
    precomputed: dict[str, Any] = field(default_factory=dict, repr=False)
    trajectories: dict[str, Any] = field(default_factory=dict, repr=False)
    groundtruth_n: dict[str, dict[str, int]] = field(default_factory=dict)  # regime -> {model: test samples}

    def __post_init__(self):
        if not self.features:
            raise ValueError("a pool needs at least one model's features.")

    @property
    def models(self) -> list[str]:
        return list(self.features)

    @property
    def first(self) -> FeatureSet:
        return next(iter(self.features.values()))

    @property
    def labels(self) -> np.ndarray:
        return self.first.labels

    @property
    def class_names(self) -> list[str]:
        return list(self.first.class_names)

    @property
    def n_samples(self) -> int:
        return self.first.n_samples

    @property
    def dataset_id(self) -> str:
        return self.first.dataset_id

    @property
    def shared_samples(self) -> bool:
        """True when every model's features cover the same samples (same labels, same dataset id)."""
        first = self.first
        return all(
            fs.dataset_id == first.dataset_id and np.array_equal(fs.labels, first.labels)
            for fs in self.features.values()
        )

    def feature_arrays(self) -> dict[str, np.ndarray]:
        """``{model: features [N, D_model]}`` (the dynamics engine's input)."""
        return {m: fs.features for m, fs in self.features.items()}

    def samples_per_dimension(self) -> dict[str, float]:
        """``{model: (N - C) / D}``: samples left per feature dimension once the C class means are fitted."""
        n_classes = len(self.class_names)
        return {m: (fs.n_samples - n_classes) / max(fs.features.shape[1], 1) for m, fs in self.features.items()}

    def summary(self) -> str:
        n = len(self.features)
        return (f"{n} model{'s' if n != 1 else ''} · {self.n_samples:,} samples · {len(self.class_names)} classes"
                f" · {readable_dataset_name(self.dataset_id)}")


def readable_dataset_name(dataset_id: str) -> str:
    """A dataset id as its owner would name it: the folder, zip or ``.npz`` name without the content hash and
    the subsample tag (``zip:mydata:68db69a779af/max300-seed0`` -> ``mydata``), a split in brackets
    (``torchvision:cifar10:test`` -> ``cifar10 (test)``, ``fashion-mnist:test/max300-seed0`` ->
    ``fashion-mnist (test)``); any other id unchanged but for its subsample tag. The id itself stays the
    cache key; this is for labels only."""
    base = str(dataset_id).split("/", 1)[0]
    kind, _, rest = base.partition(":")
    if kind in ("zip", "folder", "npz") and ":" in rest:
        return rest.rsplit(":", 1)[0]
    if kind == "torchvision" and rest:
        name, _, split = rest.partition(":")
        return f"{name} ({split})" if split else name
    if rest and ":" not in rest:
        return f"{kind} ({rest})"
    return base


def unique_pool_name(name: str, key: str, pools: Mapping[str, str]) -> str:
    """``name`` for the pool ``key``, with a short suffix only where another pool of ``pools`` ({key: name},
    the session's) already has that name: ``mydata``, then ``mydata (2)``, ``mydata (3)``. A pool already in
    ``pools`` under ``key`` keeps its name."""
    if key in pools:
        return pools[key]
    taken = {n for k, n in pools.items() if k != key}
    if name not in taken:
        return name
    suffix = 2
    while f"{name} ({suffix})" in taken:
        suffix += 1
    return f"{name} ({suffix})"


FEW_SAMPLES_PER_DIMENSION = 2.0


def in_sample_note(pool: Pool, metrics: Sequence[str]) -> str | None:
    """A plain note when an in-sample LDA metric is ranked on models with few samples per dimension
    (``(N - C) / D`` below 2): their posteriors are optimistic there (exactly 1.0 once N - C <= D), which
    favours high-dimensional features. None when no such metric is chosen or every model has enough samples.
    The in-sample LDA metrics are those whose spec sets ``in_sample_posteriors``."""
    from transvis.metrics import in_sample_posterior_metrics, short_name

    in_sample = set(in_sample_posterior_metrics())
    chosen = [m for m in metrics if m in in_sample]
    ratios = pool.samples_per_dimension()
    thin = {m: r for m, r in ratios.items() if r < FEW_SAMPLES_PER_DIMENSION}
    if not chosen or not thin:
        return None
    n_classes = len(pool.class_names)
    listed = "; ".join(
        f"{m.split('/', 1)[-1]}: D = {pool.features[m].features.shape[1]:,} for N - C = "
        f"{pool.features[m].n_samples - n_classes:,} ({r:.2f} per dimension)"
        for m, r in sorted(thin.items(), key=lambda item: item[1]))
    names = ", ".join(short_name(m) for m in chosen)
    return (f"{names} fit an LDA on the samples they score, so fewer than {FEW_SAMPLES_PER_DIMENSION:g} samples "
            f"per feature dimension make their posteriors optimistic (exactly 1.0 once N - C <= D) and favour "
            f"high-dimensional features. {listed}. More images per class make the comparison fairer.")


def pool_from_demo(demo, origin: str = "demo", note: str | None = None) -> Pool:
    """A :class:`Pool` from a :class:`transvis.demo.Demo` (its key names the demo, dataset and models)."""
    first = next(iter(demo.features.values()))
    key = f"{origin}:{demo.name}:" + short_digest(first.dataset_id, sorted(demo.features), first.n_samples)
    return Pool(
        key=key, name=demo.name, features=dict(demo.features), groundtruth=dict(demo.groundtruth or {}),
        groundtruth_n={k: dict(v) for k, v in (getattr(demo, "groundtruth_n", None) or {}).items()},
        description=getattr(demo, "description", ""), origin=origin,
        image_fn=getattr(demo, "image_fn", None) or _array_image_fn(getattr(demo, "images", None)), note=note,
    )


def _array_image_fn(images) -> Callable[[int], Any] | None:
    if images is None:
        return None
    if callable(images):
        return images
    arr = np.asarray(images)

    def image(i: int):
        from PIL import Image

        return Image.fromarray(arr[int(i)])

    return image


def pool_from_featuresets(
    featuresets: Sequence[FeatureSet] | Mapping[str, FeatureSet],
    name: str,
    origin: str,
    groundtruth: Mapping[str, Mapping[str, float]] | None = None,
    key_parts: Any = None,
    image_fn: Callable[[int], Any] | None = None,
) -> Pool:
    """A :class:`Pool` from feature sets (uploads or store entries), checked to be rankable together.

    Every feature set must cover the same classes (same class names in the same order); model ids must be
    distinct. ``key_parts`` (e.g. the store keys or the uploads' SHA-256) names the content.
    """
    items = list(featuresets.values()) if isinstance(featuresets, Mapping) else list(featuresets)
    if not items:
        raise ValueError("choose at least one model's features.")
    ids = [fs.model_id for fs in items]
    dupes = sorted({m for m in ids if ids.count(m) > 1})
    if dupes:
        raise ValueError(f"two feature sets have the same model id {dupes}; give each file a distinct model_id.")
    names = items[0].class_names
    for fs in items[1:]:
        if list(fs.class_names) != list(names):
            raise ValueError(
                f"{fs.model_id} has classes {fs.class_names[:4]}… but {items[0].model_id} has {names[:4]}…; "
                "rank models on the same dataset (same classes)."
            )
    for fs in items:
        if len(np.unique(fs.labels)) < 2:
            raise ValueError(f"{fs.model_id}: its labels hold a single class; ranking needs at least two classes.")
    key = f"{origin}:" + short_digest(key_parts if key_parts is not None else [
        (fs.model_id, fs.dataset_id, fs.n_samples, fs.n_dims, fs.meta.get("sha256")) for fs in items])
    return Pool(key=key, name=name, features={fs.model_id: fs for fs in items},
                groundtruth={k: dict(v) for k, v in (groundtruth or {}).items()}, origin=origin,
                description=f"{len(items)} model(s) from {origin}", image_fn=image_fn)


def parse_groundtruth_csv(source: bytes | str, *, with_sizes: bool = False):
    """Ground-truth tables from CSV text/bytes ``model,dataset,regime,accuracy[,protocol,n_test,…]``.

    Validated by :func:`transvis.groundtruth.read_groundtruth_csv` (fractions in [0, 1], one row per model,
    dataset and regime). Returns ``{label: {model: accuracy}}`` with one label per (dataset, regime): the
    regime alone when the file covers one dataset, ``"<dataset> · <regime>"`` otherwise; with
    ``with_sizes=True`` also ``{label: {model: n_test}}`` for the rows that give a positive ``n_test`` (the
    accuracies' binomial noise). Raises ``ValueError`` naming the fix for anything else.
    """
    import os
    import tempfile

    from transvis.groundtruth import read_groundtruth_csv

    data = source if isinstance(source, bytes) else str(source).encode("utf-8")
    if b"\x00" in data[:4096]:
        raise ValueError("this file is not a text CSV; upload a CSV with a header model,dataset,regime,accuracy.")
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as fh:
        fh.write(data)
        path = fh.name
    try:
        rows = read_groundtruth_csv(path)
    except ValueError as err:
        raise ValueError(str(err).replace(path, "the uploaded CSV")) from None
    finally:
        os.unlink(path)
    several = len({r.dataset for r in rows}) > 1
    out: dict[str, dict[str, float]] = {}
    sizes: dict[str, dict[str, int]] = {}
    for row in rows:
        label = f"{row.dataset} · {row.regime}" if several else row.regime
        out.setdefault(label, {})[row.model] = float(row.accuracy)
        try:
            n_test = int(float(row.extra.get("n_test") or 0))
        except ValueError:
            n_test = 0
        if n_test > 0:
            sizes.setdefault(label, {})[row.model] = n_test
    return (out, sizes) if with_sizes else out


def match_groundtruth(groundtruth: Mapping[str, float], models: Sequence[str]) -> dict[str, float]:
    """``{pool model id: accuracy}`` for the models the table names, by exact id or by name without the
    source prefix (``offline/mobilenetv2_100`` matches ``mobilenetv2_100``); unmatched entries are dropped.
    Works the same for any ``{model: number}`` table (e.g. test sizes)."""
    out = {}
    for model in models:
        bare = model.split("/", 1)[1] if "/" in model else model
        for candidate in (model, bare):
            if candidate in groundtruth and math.isfinite(float(groundtruth[candidate])):
                out[model] = float(groundtruth[candidate])
                break
    return out


def params_key(params: Mapping[str, Any] | None) -> str:
    """Stable JSON of a parameter dict: the parameter half of a cache key."""
    return json.dumps(params or {}, sort_keys=True, default=str)


def metric_params_key(metric: str, params: Mapping[str, Any] | None) -> str:
    """Names one metric scored with ``params`` (its keyword parameters; None or {} = its defaults)."""
    return f"{metric}|{params_key({metric: dict(params)} if params else {})}"


def add_precomputed(pool: Pool, table, params: Mapping[str, Mapping] | None = None) -> None:
    """Keep every metric of ``table`` (a RankingTable of this pool scored with ``params``) in
    ``pool.precomputed``, one table per metric, so the app reuses them instead of scoring again."""
    if list(table.models) != pool.models:
        raise ValueError(f"the ranking covers models {table.models}, not this pool's {pool.models}; "
                         "rank this pool's features.")
    params = params or {}
    for metric in table.metrics:
        pool.precomputed[metric_params_key(metric, params.get(metric))] = table.select([metric])


def trajectory_request_key(kind: str, metric: str | None, params: Mapping[str, Any] | None) -> str | None:
    """Names the trajectory ``transvis.dynamics.run(kind, …, metric=metric, **params)`` computes (defaults
    filled in, so equal requests spelled differently match); None when it cannot be named by plain data."""
    from transvis.dynamics import request

    try:
        return json.dumps(request(kind, metric, **dict(params or {})), sort_keys=True, allow_nan=False)
    except (ValueError, TypeError):
        return None


def precomputed_trajectory(pool: Pool, kind: str, metric: str | None, params: Mapping[str, Any] | None):
    """The trajectory of this request held by ``pool.trajectories`` (loaded on first use), or None: compute it."""
    key = trajectory_request_key(kind, metric, params)
    entry = pool.trajectories.get(key) if key is not None else None
    if entry is None or not callable(entry):
        return entry
    try:
        loaded = entry()
    except Exception:  # noqa: BLE001 - an unreadable file costs a live computation, nothing else
        loaded = None
    if loaded is None:
        pool.trajectories.pop(key, None)
    else:
        pool.trajectories[key] = loaded
    return loaded


def features_for(
    model_id: str,
    dataset,
    *,
    weights_file: str | None = None,
    device: str = "auto",
    input_size: int | None = None,
    batch_size: int = 64,
    progress: Callable[[int, int, float, float], None] | None = None,
    store=None,
    cancel=None,
    layers=None,
) -> tuple[FeatureSet, bool]:
    """Pre-logits features of ``model_id`` on ``dataset``: from the feature store when cached, else extracted
    (``progress(done, total, images_per_s, eta_s)`` per batch) and stored. Returns ``(features, from_cache)``.
    ``cancel`` (an Event or a callable) stops the extraction after the running batch
    (:class:`~transvis.features.extract.ExtractionCancelled`); nothing is stored then.

    Hub and demo-zoo models go through :func:`transvis.pipeline.get_features` (the CLI's path, so both
    front ends share cache entries). A local checkpoint (``weights_file``) uses the same key parts with the
    loader's name for it (``<arch>@<file>``) as model id, so it never collides with the hub weights.
    Errors (unknown model, weights not available offline, unreadable images) are ``ValueError``s whose
    message says the fix.

    ``layers`` (``"all"`` or tap indices, see :func:`transvis.pipeline.parse_layers`) adds intermediate
    layers: the result is then ``({name: FeatureSet}, from_cache)`` with the pre-logits features under the
    model's id and each tap as ``<id>@tap<i>`` (:func:`transvis.pipeline.named_layers`), ready to rank.
    """
    from transvis.pipeline import features_by_name

    common = dict(input_size=input_size, device=device, batch_size=batch_size, store=store, cancel=cancel,
                  progress=progress if progress is not None else False, weights_file=weights_file)
    by_name, cached = features_by_name(model_id, dataset, layers=layers, **common)
    return (by_name if layers is not None else next(iter(by_name.values()))), cached


def merge_rankings(tables):
    """One :class:`transvis.ranking.RankingTable` from tables of the same pool over disjoint metrics.

    Lets the app score and cache one metric at a time (changing the metric selection recomputes nothing
    already scored). Pool-level metrics (NCTI) stay correct because each table covers the whole pool.
    Ground-truth correlations are dropped; add them with :func:`with_groundtruth`.
    """
    import pandas as pd

    from transvis.ranking import RankingTable

    tables = list(tables)
    if not tables:
        raise ValueError("merge_rankings needs at least one table.")
    models = tables[0].models
    for table in tables[1:]:
        if table.models != models:
            raise ValueError("tables to merge must rank the same models in the same order.")
    seconds = [t.seconds for t in tables if t.seconds is not None]
    return RankingTable(
        scores=pd.concat([t.scores for t in tables], axis=1),
        ranks=pd.concat([t.ranks for t in tables], axis=1),
        results={k: v for t in tables for k, v in t.results.items()},
        skipped=[s for t in tables for s in t.skipped],
        failed=[f for t in tables for f in t.failed],
        seconds=pd.concat(seconds, axis=1) if seconds else None,
        stats_seconds=dict(tables[0].stats_seconds),
        noise={k: v for t in tables for k, v in t.noise.items()},
    )


def with_groundtruth(table, groundtruth: Mapping[str, float] | None, groundtruth_n: Mapping[str, int] | None = None):
    """A copy of ``table`` with its correlations against ``groundtruth`` ({model: accuracy}) and τ intervals
    (``groundtruth_n``: test samples per accuracy), as :func:`transvis.ranking.rank_models` computes them."""
    from transvis.ranking import attach_groundtruth

    if groundtruth:
        groundtruth = {m: float(v) for m, v in groundtruth.items() if math.isfinite(float(v))}
    return attach_groundtruth(table, groundtruth, groundtruth_n)
