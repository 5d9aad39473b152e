"""Per-model work mapped onto a Ray cluster (the optional ``ray`` extra): ``rank_models(..., executor="ray")``.

- :func:`extract_on_cluster` — features into the store, one task per model × shard of images (resumed from
  the store, shard by shard), assembled into the serial path's entry;
- :func:`map_models` — one task per model (scoring, ground truth); a :class:`StoredFeatures` item is read
  from the store by its task, so the driver never loads the matrix;
- :func:`linear_probes_on_cluster` — the CLI's measured ground truth; :func:`reporting` — one progress
  report over a run's tasks (:class:`ClusterProgress`); :func:`configured_address` — the app's
  ``TRANSVIS_CLUSTER``.

Nothing here imports Ray at module import time, and nothing outside this module imports it: without an executor
transvis behaves exactly as without Ray installed. Addresses (the CLI's ``--cluster``, the library's
``executor``):

- ``"ray"`` — a local Ray instance, started on demand with this machine's CPUs (or the one already running
  in this process, e.g. a test session's ``ray.init(num_cpus=2)``);
- ``"ray://HOST:PORT"`` — an existing cluster's Ray Client server (the head node's port 10001 by default);
- ``"ray=auto"`` — the cluster this machine already belongs to (``ray start --address ...`` was run here).

An unreachable ``ray://`` address fails within :data:`CONNECT_TIMEOUT_S` seconds with
:class:`ClusterUnreachable`, which says how to start or name a cluster, instead of Ray's client retrying for
a minute.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CONNECT_TIMEOUT_S = 5.0
"""Seconds a ``ray://HOST:PORT`` address may take to accept a TCP connection before it is called unreachable."""

DEFAULT_CLIENT_PORT = 10001
"""Ray Client's port on the head node (``ray start --head`` opens it)."""

MAX_RETRIES = 3
"""How many times Ray re-runs a task whose worker process died (a killed worker, a lost node)."""


class ClusterUnreachable(ConnectionError, ValueError):
    """The cluster address does not answer (or Ray is not installed); the message says what to do. A
    ``ValueError`` too, as every user-facing error in transvis (the CLI prints it and exits 2)."""


@dataclass(frozen=True)
class ClusterAddress:
    """A parsed ``--cluster`` / ``executor`` value. ``kind`` is ``"local"``, ``"client"`` or ``"auto"``;
    ``host``/``port`` are set for ``"client"``."""

    kind: str
    host: str | None = None
    port: int | None = None

    @property
    def ray_address(self) -> str | None:
        """What ``ray.init(address=...)`` takes: None (start or reuse a local instance), ``"auto"`` or
        ``"ray://HOST:PORT"``."""
        if self.kind == "client":
            return f"ray://{self.host}:{self.port}"
        return "auto" if self.kind == "auto" else None


def parse_address(address: str) -> ClusterAddress:
    """``"ray"`` → local, ``"ray=auto"`` → the cluster this machine joined, ``"ray://HOST[:PORT]"`` → a Ray
    Client address (port :data:`DEFAULT_CLIENT_PORT` when left out). Anything else raises ``ValueError``
    naming the three forms."""
    text = str(address).strip()
    if text == "ray":
        return ClusterAddress("local")
    if text == "ray=auto":
        return ClusterAddress("auto")
    if text.startswith("ray://"):
        rest = text[len("ray://"):].rstrip("/")
        host, sep, port = rest.rpartition(":")
        if not sep:
            host, port = rest, str(DEFAULT_CLIENT_PORT)
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"cluster address {address!r}: expected ray://HOST:PORT, e.g. ray://10.0.0.5:10001.")
        return ClusterAddress("client", host.strip("[]"), int(port))
    raise ValueError(
        f"unknown cluster address {address!r}: use 'ray' (a local Ray started on demand), "
        "'ray://HOST:PORT' (a running cluster's head node, port 10001 by default) or 'ray=auto' "
        "(the cluster this machine joined with `ray start --address ...`).")


def _import_ray():
    try:
        import ray
    except ImportError as err:
        raise ClusterUnreachable(
            "Ray is not installed: `pip install -r requirements-ray.txt` (or `pip install -e .[ray]`) "
            "to rank on a cluster, or leave out --cluster / executor to run in this process.") from err
    return ray


def _check_reachable(address: ClusterAddress, timeout_s: float) -> None:
    """Fail fast when a ``ray://`` head node does not accept a TCP connection within ``timeout_s``."""
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout_s):
            pass
    except OSError as err:
        raise ClusterUnreachable(
            f"no Ray cluster answers at {address.ray_address} within {timeout_s:g} s ({type(err).__name__}: "
            f"{err}). Start one with `ray start --head` on the head node (its Ray Client port is "
            f"{DEFAULT_CLIENT_PORT}), check the host, port and firewall, or use --cluster ray for a local Ray."
        ) from err


def connect(address: str, *, timeout_s: float = CONNECT_TIMEOUT_S, num_cpus: int | None = None):
    """Connect this process to the cluster named by ``address`` (see the module docstring) and return the
    ``ray`` module. A process already connected keeps its connection (a local instance started by a caller,
    e.g. a test session, is reused). ``num_cpus``: a local instance's CPUs (default: this machine's)."""
    parsed = parse_address(address)
    ray = _import_ray()
    if ray.is_initialized():
        return ray
    if parsed.kind == "client":
        _check_reachable(parsed, timeout_s)
    try:
        if parsed.kind == "local":
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=parsed.ray_address, log_to_driver=False, configure_logging=False)
    except ConnectionError as err:
        raise ClusterUnreachable(
            f"could not connect to the Ray cluster {address!r}: {err}. For 'ray=auto' this machine must have "
            "joined a cluster (`ray start --address HEAD:6379`); or name its head node: --cluster "
            "ray://HEAD:10001.") from err
    return ray


# -- progress ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClusterProgress:
    """One update of a cluster run's progress, after a task finished (or failed).

    what : the kind of tasks (``"extraction"``, ``"scoring"``, ``"ground truth"``); done / total : tasks
    finished (failed ones included) of all the run's tasks; failed : tasks that failed so far;
    workers_in_use / workers : task slots busy now / the cluster's slots for this kind of task (CPUs, or GPUs
    for GPU tasks); eta_s : seconds left at the rate so far (None before the first task finished); name :
    the model (or model × shard) that just finished.
    """

    what: str
    done: int
    total: int
    failed: int
    workers_in_use: int
    workers: int
    eta_s: float | None
    name: str = ""

    def line(self, width: int = 24) -> str:
        """``extraction [#########...] 3/8 tasks · ETA 12 s · workers 2/2 · 1 failed``."""
        filled = int(round(width * self.done / self.total)) if self.total else width
        eta = "--" if self.eta_s is None else f"{self.eta_s:.0f} s"
        failed = f" · {self.failed} failed" if self.failed else ""
        return (f"{self.what} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} tasks · ETA {eta} · "
                f"workers {self.workers_in_use}/{self.workers}{failed}")


_PROGRESS: contextvars.ContextVar[Callable[[ClusterProgress], None] | None] = contextvars.ContextVar(
    "transvis_cluster_progress", default=None)


@contextlib.contextmanager
def reporting(callback: Callable[[ClusterProgress], None] | None):
    """Within the block, every cluster run (extraction, ``rank_models(executor=...)``, ground truth) calls
    ``callback(ClusterProgress)`` after each task: the CLI draws its bar this way, a test records the updates."""
    token = _PROGRESS.set(callback)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def stderr_bar(stream=None, log_steps: int = 10) -> Callable[[ClusterProgress], None]:
    """A progress callback drawing :meth:`ClusterProgress.line` on ``stream`` (default stderr): redrawn in
    place on a terminal; otherwise (a log) one line per ``1/log_steps`` of the tasks, per new failure and at
    the end, so that a 500-model run logs about a dozen lines, not 500."""
    logged: dict[str, tuple[int, int]] = {}  # per kind of task: (last tenth logged, failures logged)

    def draw(update: ClusterProgress) -> None:
        out = stream or sys.stderr
        if hasattr(out, "isatty") and out.isatty():
            out.write("\r" + update.line() + ("\n" if update.done == update.total else ""))
        else:
            step = update.done * log_steps // max(update.total, 1)
            last_step, last_failed = logged.get(update.what, (-1, 0))
            if step == last_step and update.failed == last_failed and update.done != update.total:
                return
            logged[update.what] = (step, update.failed)
            out.write(update.line() + "\n")
        out.flush()

    return draw


def _slots(ray, gpu: bool) -> int:
    resources = ray.cluster_resources()
    return max(1, int(resources.get("GPU" if gpu else "CPU", 1)))


def _gather(ray, refs: Mapping[Any, Any], what: str, *, gpu: bool = False,
            on_done: Callable[[Any, Any], None] | None = None) -> tuple[dict, dict]:
    """Wait for every task of ``refs`` (``{name: ObjectRef}``) as they finish, in any order, reporting
    progress (see :func:`reporting`). Returns ``({name: result}, {name: exception})``: a failed task is
    recorded, never fatal for the others (the cause of a ``RayTaskError`` is unwrapped)."""
    callback = _PROGRESS.get()
    names = {ref: name for name, ref in refs.items()}
    pending = list(refs.values())
    slots = _slots(ray, gpu)
    results, errors = {}, {}
    start = time.monotonic()
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        for ref in ready:
            name = names[ref]
            try:
                results[name] = ray.get(ref)
                if on_done is not None:
                    on_done(name, results[name])
            except Exception as err:
                cause = getattr(err, "cause", None)
                errors[name] = cause if isinstance(cause, Exception) else err
            done = len(results) + len(errors)
            if callback is not None:
                rate = (time.monotonic() - start) / done
                callback(ClusterProgress(what, done, len(refs), len(errors), min(len(pending), slots), slots,
                                         rate * len(pending), str(name)))
    return results, errors


def _reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


# -- features by store key --------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredFeatures:
    """A model's features named by their store key instead of carried: the task that scores (or probes) them
    reads them from the store where it runs, so the driver never loads the matrix. ``cache_dir``: the store's
    root as every node sees it (None: ``TRANSVIS_CACHE`` on the worker). Only for cluster runs
    (``rank_models(..., executor=...)``): the in-process path takes arrays."""

    key: str
    cache_dir: str | None = None

    def load(self):
        """The :class:`~transvis.features.featureset.FeatureSet` (a ``ValueError`` naming the key when missing)."""
        from transvis.store import FeatureStore

        features = FeatureStore(self.cache_dir).get(self.key)
        if features is None:
            raise ValueError(f"features {self.key} are not in the store at {self.cache_dir or '$TRANSVIS_CACHE'} "
                             "on this node: extract them first (transvis extract --cluster ...), with a store "
                             "root every node mounts at the same path.")
        return features


def _run_one(fn: Callable, model, item, common: Mapping[str, Any], extra: Mapping[str, Any], blas_threads):
    from transvis._threads import thread_limit

    if isinstance(item, StoredFeatures):
        item = item.load()
    with thread_limit(blas_threads, torch=False):
        return fn(model, item, **common, **extra)


def map_models(address: str, fn: Callable, models: Sequence, items: Mapping[Any, Any],
               per_model_kwargs: Mapping[Any, Mapping[str, Any]] | None = None,
               common_kwargs: Mapping[str, Any] | None = None, *, blas_threads: int | None = 1,
               max_retries: int = MAX_RETRIES, on_failure: Callable[[Any, str], Any] | None = None,
               what: str = "scoring", on_done: Callable[[Any, Any], None] | None = None) -> list:
    """``[fn(model, items[model], **common_kwargs, **per_model_kwargs[model]) for model in models]``, one Ray
    task per model, results in pool order, progress reported as tasks finish (:func:`reporting`).

    Each model's item (e.g. its ``(features [N, D], labels [N])``, or a :class:`StoredFeatures` that the task
    reads from the store where it runs) is put into the object store once and read by its task; the common
    arguments are put once for all tasks. A task whose worker dies is re-run up to ``max_retries`` times
    (``fn`` must be deterministic; its exceptions are not retried). A failed task: with ``on_failure``, its
    result is ``on_failure(model, "ErrorType: message")`` (recorded, the pool carries on); without, the error
    of the first failing model in pool order is raised as the original exception type, after every task has
    finished. BLAS threads per task: ``blas_threads``. ``on_done(model, result)``: called as each finishes.
    """
    ray = connect(address)
    per_model_kwargs = per_model_kwargs or {}
    remote = ray.remote(num_cpus=1, max_retries=max_retries, retry_exceptions=False)(_run_one)
    fn_ref = ray.put(fn)
    common_ref = ray.put(dict(common_kwargs or {}))
    refs = {}
    for model in models:
        refs[model] = remote.remote(fn_ref, model, ray.put(items[model]), common_ref,
                                    dict(per_model_kwargs.get(model, {})), blas_threads)
    results, errors = _gather(ray, refs, what, on_done=on_done)
    if errors and on_failure is None:
        raise next(errors[m] for m in models if m in errors)
    return [results[m] if m in results else on_failure(m, _reason(errors[m])) for m in models]


# -- extraction: one task per model × shard of images ------------------------------------------------------

@dataclass(frozen=True)
class FeaturesSummary:
    """What the driver needs to know of one model's stored features, computed where they are (no matrix
    travels): their size, the images extraction left out (``skipped_note``) and ``problem``, the reason the
    features cannot be ranked (a class with no readable image), or None."""

    n_samples: int
    n_dims: int
    skipped_note: str | None = None
    problem: str | None = None


@dataclass
class ClusterExtraction:
    """What :func:`extract_on_cluster` did, per model (pool order kept in ``keys``).

    keys : ``{model: store key}`` of every model whose features are in the store now.
    resumed : models found complete in the store before any task ran (not recomputed).
    extracted : models whose features tasks extracted (or assembled from shards) in this run.
    retried : ``{model: attempts}`` for models one of whose tasks Ray ran more than once (a worker died).
    failed : ``{model: "ErrorType: message"}``; never fatal for the pool.
    shards : ``{model: (shards extracted now, shards found in the store)}`` for sharded models.
    summaries : ``{model: FeaturesSummary}`` for every model in ``keys``.
    cache_dir : the store root the tasks used.
    """

    keys: dict[str, str]
    resumed: list[str]
    extracted: list[str]
    retried: dict[str, int]
    failed: dict[str, str]
    shards: dict[str, tuple[int, int]] = field(default_factory=dict)
    summaries: dict[str, FeaturesSummary] = field(default_factory=dict)
    cache_dir: str | None = None

    def stored(self) -> dict[str, StoredFeatures]:
        """``{model: StoredFeatures}`` of the stored models, for ``rank_models(..., executor=...)``."""
        return {model: StoredFeatures(key, self.cache_dir) for model, key in self.keys.items()}


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is in the pinned stack
        return False
    return bool(torch.cuda.is_available())


GPU_BATCH_PER_GIB = 16
"""Images per batch per GiB of GPU memory on a CUDA worker (:func:`gpu_batch_size`); 80 GiB → 1,024 (cap)."""


def gpu_batch_size(requested: int, total_bytes: int | None = None, cap: int = 1024) -> int:
    """A CUDA worker's batch size: ``GPU_BATCH_PER_GIB`` images per GiB of the GPU's memory, rounded down to a
    power of two, at least ``requested`` and at most ``cap`` (extraction halves it on out-of-memory anyway).
    ``total_bytes``: the GPU's memory (default: CUDA device 0's). Without CUDA: ``requested``."""
    if total_bytes is None:
        if not _cuda_available():
            return int(requested)
        import torch

        total_bytes = torch.cuda.get_device_properties(0).total_memory
    by_memory = 2 ** int(math.log2(max(1.0, GPU_BATCH_PER_GIB * total_bytes / 2**30)))
    return int(max(requested, min(cap, by_memory)))


def shard_rows(n: int, shards: int, batch_size: int) -> list[tuple[int, int]]:
    """Row ranges ``[(start, stop), ...]`` splitting ``n`` images into at most ``shards`` shards whose sizes
    are multiples of ``batch_size`` (the last takes the rest), so every shard's batches are the serial pass's
    batches and the assembled features equal the serial ones."""
    per = math.ceil(math.ceil(n / max(1, shards)) / batch_size) * batch_size
    return [(start, min(n, start + per)) for start in range(0, n, max(per, 1))]


def _shard_dataset(dataset, start: int, stop: int):
    """Images ``start..stop`` of ``dataset`` with its labels, class names and id unchanged (a shard's
    features belong to the whole dataset's entry)."""
    from transvis.data.base import ImageDataset

    class _Shard(ImageDataset):
        def __init__(self):
            super().__init__(dataset.labels[start:stop], list(dataset.class_names), dataset.dataset_id,
                             list(getattr(dataset, "warnings", [])))

        def load_image(self, index):
            return dataset.load_image(start + int(index))

        def describe(self, index):
            return dataset.describe(start + int(index))

        def image_problem(self, index):
            return dataset.image_problem(start + int(index))

        @property
        def source_root(self):
            return dataset.source_root

    return _Shard()


def _shard_parts(parts: Mapping[str, Any], rows: tuple[int, int]) -> dict[str, Any]:
    return {**parts, "subsample": {"of": parts["subsample"], "rows": [int(rows[0]), int(rows[1])]}}


def _note_attempt(attempts_dir: str, model_id: str, task: str) -> None:
    import uuid
    from pathlib import Path

    folder = Path(attempts_dir) / _safe_name(model_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{task}-{uuid.uuid4().hex}").write_text(str(os.getpid()))


def _safe_name(model_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id)


def _extract_rows(model_id: str, dataset, parts, rows, options):
    """A FeatureSet of ``dataset``'s rows ``rows`` (all when None) under ``model_id``, on CUDA where present."""
    from transvis.features.extract import extract_features

    cuda = _cuda_available()
    batch_size = gpu_batch_size(options["batch_size"]) if cuda else options["batch_size"]
    data = dataset if rows is None else _shard_dataset(dataset, *rows)
    features = extract_features(parts["model_id"], data, batch_size=batch_size, device="cuda" if cuda else "cpu",
                                input_size=options.get("input_size"), progress=False,
                                cache_dir=options.get("cache_dir"))
    features.model_id = parts["model_id"]
    return features


def _extract_shard(model_id: str, dataset, parts, rows, attempts_dir: str, options) -> str:
    """One shard's features into the store (atomic put; a Ray task); returns its key."""
    from transvis.store import FeatureStore

    _note_attempt(attempts_dir, model_id, f"shard{rows[0]}")
    store = FeatureStore(options.get("cache_dir"))
    shard_parts = _shard_parts(parts, rows)
    if not store.has(shard_parts):
        store.put(shard_parts, _extract_rows(model_id, dataset, parts, rows, options), overwrite=True)
    return store.key_of(shard_parts)


def _assemble(dataset, pieces: Sequence[tuple[tuple[int, int], Any]]):
    """The whole dataset's FeatureSet from its shards' (rows order): arrays concatenated, the meta of the
    first shard with the counts, skipped indices and timing of all."""
    import copy

    import numpy as np

    from transvis.features.featureset import FeatureSet

    first = pieces[0][1]
    meta = copy.deepcopy(first.meta)
    skipped, errors = [], {}
    for (start, _), fs in pieces:
        skipped += [start + int(i) for i in fs.meta.get("skipped", [])]
        errors.update({str(start + int(i)): e for i, e in (fs.meta.get("skipped_errors") or {}).items()})
    seconds = sum(float(fs.meta.get("seconds", 0.0)) for _, fs in pieces)
    meta.update(n_total=len(dataset), n_kept=sum(fs.n_samples for _, fs in pieces), skipped=skipped,
                skipped_errors=errors, seconds=round(seconds, 3),
                images_per_s=round(len(dataset) / max(seconds, 1e-9), 2),
                shards=[list(rows) for rows, _ in pieces])
    probs = [fs.source_probs for _, fs in pieces]
    return FeatureSet(features=np.concatenate([fs.features for _, fs in pieces]),
                      labels=np.concatenate([fs.labels for _, fs in pieces]), class_names=list(dataset.class_names),
                      model_id=first.model_id, dataset_id=str(dataset.dataset_id),
                      source_probs=None if any(p is None for p in probs) else np.concatenate(probs),
                      layer=first.layer, meta=meta)


def _finish_model(model_id: str, dataset, parts, shards, attempts_dir: str, options, *shard_keys):
    """A model's features complete in the store (a Ray task, after its shard tasks): kept when already
    stored, else assembled from its shards (which are then deleted) or, unsharded, extracted whole. Returns
    ``(store key, how, FeaturesSummary)``, ``how`` one of ``"resumed"``, ``"assembled"``, ``"extracted"``."""
    from transvis.data.check import check_every_class_read
    from transvis.pipeline import skipped_note
    from transvis.store import FeatureStore

    _note_attempt(attempts_dir, model_id, "whole")
    store = FeatureStore(options.get("cache_dir"))
    features = store.get(parts)  # verified: a damaged entry is deleted and made again
    how = "resumed"
    if features is None and shards:
        pieces = [(rows, store.get(_shard_parts(parts, rows))) for rows in shards]
        missing = [rows for rows, fs in pieces if fs is None]
        if missing:
            raise ValueError(f"{model_id}: the shards {missing} are not in the store (damaged?); run again.")
        features, how = _assemble(dataset, pieces), "assembled"
        store.put(parts, features, overwrite=True)
        for rows in shards:
            store.delete(_shard_parts(parts, rows))
    elif features is None:
        features, how = _extract_rows(model_id, dataset, parts, None, options), "extracted"
        store.put(parts, features, overwrite=True)
    try:
        check_every_class_read(model_id, features)
        problem = None
    except ValueError as err:
        problem = str(err)
    summary = FeaturesSummary(features.n_samples, features.n_dims, skipped_note(features), problem)
    return store.key_of(parts), how, summary


def extract_on_cluster(address: str, model_ids: Sequence[str], dataset, *, cache_dir=None,
                       input_size=None, batch_size: int = 64, shards: int | str = 1,
                       max_retries: int = MAX_RETRIES,
                       attempts_dir: str | os.PathLike | None = None) -> ClusterExtraction:
    """Every model's pre-logits features of ``dataset`` into the feature store: one Ray task per model ×
    shard of images, then one per model that assembles its shards into the entry the serial path
    (:func:`transvis.pipeline.get_features`) makes — the same store key and the same features.

    cache_dir : the store's root (default: ``TRANSVIS_CACHE`` or ``~/.cache/transvis`` as this driver sees
        it), passed to every task: on a multi-node cluster a path every node mounts at the same place.
    shards : shards per model: an int, or ``"auto"`` (enough for every task slot of the cluster to have
        work: slots ÷ models to extract, at least 1). Shard sizes are multiples of ``batch_size``, so each
        shard's batches are the serial pass's and the assembled features equal the serial ones.
    batch_size : images per forward on CPU workers; a CUDA worker uses :func:`gpu_batch_size` (from its
        GPU's memory). Tasks ask for one GPU each where the cluster has GPUs, else one CPU.

    Resume: a model complete in the store is *resumed* (no extraction; its one task only reads it to
    summarise it); a shard already stored (an interrupted run) is not extracted again. Every write is the
    store's atomic put: a worker killed mid-task leaves no entry and Ray re-runs the task (up to
    ``max_retries`` times). The driver receives keys and :class:`FeaturesSummary`s, never feature matrices.
    A failing model is recorded in ``failed``; the others carry on. Progress: :func:`reporting`.
    ``attempts_dir``: where tasks note their attempts (default: a fresh temporary folder under the cache root).
    """
    import shutil
    import tempfile
    from pathlib import Path

    from transvis.pipeline import feature_key_parts
    from transvis.store import FeatureStore
    from transvis.store.paths import cache_dir as resolve_cache_dir

    ray = connect(address)
    root = str(resolve_cache_dir(cache_dir).resolve())
    store = FeatureStore(root)
    parts = {m: feature_key_parts(m, dataset, input_size=input_size, cache_dir=root) for m in model_ids}
    complete = [m for m in model_ids if store.has(parts[m])]
    todo = [m for m in model_ids if m not in complete]
    gpu = ray.cluster_resources().get("GPU", 0) > 0
    if shards == "auto":
        shards = max(1, _slots(ray, gpu) // max(1, len(todo)))
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ValueError(f"shards must be a positive integer or 'auto'; got {shards!r}.")
    rows = shard_rows(len(dataset), shards, batch_size) if shards > 1 else []
    own_attempts_dir = attempts_dir is None
    if own_attempts_dir:
        Path(root).mkdir(parents=True, exist_ok=True)
        attempts_dir = tempfile.mkdtemp(prefix="cluster-attempts-", dir=root)
    resources = dict(num_cpus=1, num_gpus=1 if gpu else 0, max_retries=max_retries, retry_exceptions=False)
    shard_task = ray.remote(**resources)(_extract_shard)
    finish_task = ray.remote(**resources)(_finish_model)
    dataset_ref = ray.put(dataset)
    options = {"input_size": input_size, "batch_size": batch_size, "cache_dir": root}
    refs, shard_counts = {}, {}
    for model_id in model_ids:
        missing = [r for r in rows if model_id in todo and not store.has(_shard_parts(parts[model_id], r))]
        for r in missing:
            refs[(model_id, r)] = shard_task.remote(model_id, dataset_ref, parts[model_id], r, str(attempts_dir),
                                                    options)
        if model_id in todo and rows:
            shard_counts[model_id] = (len(missing), len(rows) - len(missing))
        shard_refs = [refs[(model_id, r)] for r in missing]
        refs[(model_id, None)] = finish_task.remote(model_id, dataset_ref, parts[model_id],
                                                    rows if model_id in todo else [], str(attempts_dir), options,
                                                    *shard_refs)
    try:
        results, errors = _gather(ray, refs, "extraction", gpu=gpu)
        retried = {}
        for model_id in todo:
            folder = Path(attempts_dir) / _safe_name(model_id)
            tasks = [p.name.rsplit("-", 1)[0] for p in folder.iterdir()] if folder.is_dir() else []
            attempts = max((tasks.count(t) for t in set(tasks)), default=0)
            if attempts > 1:
                retried[model_id] = attempts
    finally:
        if own_attempts_dir:
            shutil.rmtree(attempts_dir, ignore_errors=True)
    keys, summaries, resumed, extracted, failed = {}, {}, [], [], {}
    for model_id in model_ids:
        if (model_id, None) in results:
            keys[model_id], how, summaries[model_id] = results[(model_id, None)]
            (resumed if how == "resumed" and model_id in complete else extracted).append(model_id)
        else:  # a failed shard's error is the cause (the model's task then failed with it), else the model's
            shard_errors = [errors[k] for k in refs if k[0] == model_id and k[1] is not None and k in errors]
            failed[model_id] = _reason(shard_errors[0] if shard_errors else errors[(model_id, None)])
    return ClusterExtraction(keys=keys, resumed=resumed, extracted=extracted, retried=retried, failed=failed,
                             shards=shard_counts, summaries=summaries, cache_dir=root)


# -- ground truth: one linear probe per model ---------------------------------------------------------------

def _probe(model, item, *, seed: int, probe_kw: Mapping[str, Any]):
    from transvis.groundtruth import linear_probe

    return linear_probe(item, seed=seed, **probe_kw)


def linear_probes_on_cluster(address: str, features_by_model: Mapping[str, Any], *, seed: int = 0,
                             probe_kw: Mapping[str, Any] | None = None, blas_threads: int | None = 1) -> dict:
    """``{model: ProbeResult}``: :func:`transvis.groundtruth.linear_probe` on each model's features (a
    FeatureSet or a :class:`StoredFeatures`, read where the task runs), one Ray task per model — equal to the
    serial probes. A failing model raises (after the others finished)."""
    models = list(features_by_model)
    results = map_models(address, _probe, models, features_by_model,
                         common_kwargs={"seed": seed, "probe_kw": dict(probe_kw or {})}, blas_threads=blas_threads,
                         what="ground truth")
    return dict(zip(models, results))


# -- the app's option --------------------------------------------------------------------------------------

CLUSTER_ENV = "TRANSVIS_CLUSTER"
"""The environment variable naming the cluster the app may extract on (e.g. ``ray://head:10001``)."""


def configured_address() -> str | None:
    """The cluster address configured for the app (``$TRANSVIS_CLUSTER``), checked with :func:`parse_address`
    (a ``ValueError`` naming the forms when malformed); None when unset. Imports nothing of Ray."""
    address = os.environ.get(CLUSTER_ENV, "").strip()
    if not address:
        return None
    parse_address(address)
    return address


def features_from_cluster(address: str, model_ids: Sequence[str], dataset, *, input_size=None,
                          batch_size: int = 64, cache_dir=None,
                          progress: Callable[[ClusterProgress], None] | None = None):
    """``(featuresets, run)``: :func:`extract_on_cluster` (shards ``"auto"``, progress to ``progress``), then
    the stored features of every model that succeeded, read here in pool order — for a front end that scores
    in this process (the app's Setup page). ``run`` (a :class:`ClusterExtraction`) says what was resumed,
    extracted, retried or failed."""
    with reporting(progress):
        run = extract_on_cluster(address, model_ids, dataset, input_size=input_size, batch_size=batch_size,
                                 cache_dir=cache_dir, shards="auto")
    stored = run.stored()
    return [stored[m].load() for m in model_ids if m in stored], run
