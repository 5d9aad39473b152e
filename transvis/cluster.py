"""Per-model work mapped onto a Ray cluster (the optional ``ray`` extra): ``rank_models(..., executor="ray")``.

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

import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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


def _run_one(fn: Callable, model: str, item, kwargs: Mapping[str, Any], blas_threads):
    from transvis._threads import thread_limit

    with thread_limit(blas_threads, torch=False):
        return fn(model, item, **kwargs)


def map_models(address: str, fn: Callable, models: Sequence[str], items: Mapping[str, Any],
               per_model_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
               common_kwargs: Mapping[str, Any] | None = None, *, blas_threads: int | None = 1,
               max_retries: int = MAX_RETRIES) -> list:
    """``[fn(model, items[model], **common_kwargs, **per_model_kwargs[model]) for model in models]``, one Ray
    task per model, results in pool order.

    Each model's item (e.g. its ``(features [N, D], labels [N])``) is put into the object store once and read
    by its task where it runs; the common arguments are put once for all tasks. A task whose worker dies is
    re-run up to ``max_retries`` times (``fn`` must be deterministic; its exceptions are not retried). The
    error of the first failing model in pool order is raised as the original exception type (Ray's
    ``RayTaskError`` subclasses it), after every task has finished. BLAS threads per task: ``blas_threads``.
    """
    ray = connect(address)
    per_model_kwargs = per_model_kwargs or {}
    remote = ray.remote(num_cpus=1, max_retries=max_retries, retry_exceptions=False)(_run_one)
    fn_ref = ray.put(fn)
    refs = []
    for model in models:
        kwargs = {**(common_kwargs or {}), **per_model_kwargs.get(model, {})}
        refs.append(remote.remote(fn_ref, model, ray.put(items[model]), kwargs, blas_threads))
    results, first_error = [], None
    for ref in refs:
        try:
            results.append(ray.get(ref))
        except Exception as err:  # the first failure in pool order wins; the others still finish
            first_error = first_error or err
            results.append(None)
    if first_error is not None:
        cause = getattr(first_error, "cause", None)
        raise (cause if isinstance(cause, Exception) else first_error)
    return results


@dataclass
class ClusterExtraction:
    """What :func:`extract_on_cluster` did, per model (pool order kept in ``keys``).

    keys : ``{model: store key}`` of every model whose features are in the store now.
    resumed : models found in the store before any task ran (not recomputed).
    extracted : models a task extracted and stored in this run.
    retried : ``{model: attempts}`` for tasks Ray ran more than once (a worker died mid-task).
    failed : ``{model: "ErrorType: message"}``; never fatal for the pool.
    """

    keys: dict[str, str]
    resumed: list[str]
    extracted: list[str]
    retried: dict[str, int]
    failed: dict[str, str]


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is in the pinned stack
        return False
    return bool(torch.cuda.is_available())


def _extract_one(model_id: str, dataset, cache_dir, attempts_dir: str, options: Mapping[str, Any]):
    """One model's features into the store (a Ray task). Records this attempt (a file named by a fresh id,
    holding this worker's PID) so the driver can count retries; returns ``(store key, extracted here?)``."""
    import uuid
    from pathlib import Path

    from transvis.pipeline import feature_key_parts, get_features
    from transvis.store import FeatureStore

    folder = Path(attempts_dir) / _safe_name(model_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / uuid.uuid4().hex).write_text(str(os.getpid()))
    store = FeatureStore(cache_dir)
    device = "cuda" if _cuda_available() else "cpu"
    _, from_cache = get_features(model_id, dataset, store=store, device=device, progress=False,
                                 cache_dir=cache_dir, **options)
    parts = feature_key_parts(model_id, dataset, input_size=options.get("input_size"), cache_dir=cache_dir)
    return store.key_of(parts), not from_cache


def _safe_name(model_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id)


def extract_on_cluster(address: str, model_ids: Sequence[str], dataset, *, cache_dir=None,
                       input_size=None, batch_size: int = 64, max_retries: int = MAX_RETRIES,
                       attempts_dir: str | os.PathLike | None = None) -> ClusterExtraction:
    """Every model's pre-logits features of ``dataset`` into the feature store, one Ray task per model.

    The store lives at ``cache_dir`` (default: ``TRANSVIS_CACHE`` as each worker sees it): on a multi-node
    cluster a path every node mounts at the same place. Models already stored are *resumed*: no task runs
    for them. Each task writes with the store's atomic put, so a worker killed mid-task leaves no entry and
    Ray re-runs the task (up to ``max_retries`` times); the driver receives store keys, never feature
    matrices. A task asks for one GPU where the cluster has GPUs (extraction then runs on CUDA), else one
    CPU. A model that fails is recorded in ``failed`` and the others carry on. ``attempts_dir``: where
    tasks note their attempts (default: a fresh folder under the store's temp space).
    """
    import tempfile
    from pathlib import Path

    from transvis.pipeline import feature_key_parts
    from transvis.store import FeatureStore

    ray = connect(address)
    store = FeatureStore(cache_dir)
    keys: dict[str, str] = {}
    resumed, todo = [], []
    for model_id in model_ids:
        key = store.key_of(feature_key_parts(model_id, dataset, input_size=input_size, cache_dir=cache_dir))
        if store.get(key) is not None:  # verified: a damaged entry is recomputed
            keys[model_id] = key
            resumed.append(model_id)
        else:
            todo.append(model_id)
    own_attempts_dir = attempts_dir is None
    if own_attempts_dir:
        store.root.mkdir(parents=True, exist_ok=True)
        attempts_dir = tempfile.mkdtemp(prefix="cluster-attempts-", dir=store.root.parent)
    gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
    remote = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=max_retries, retry_exceptions=False)(_extract_one)
    dataset_ref = ray.put(dataset)
    options = {"input_size": input_size, "batch_size": batch_size}
    refs = {m: remote.remote(m, dataset_ref, cache_dir, str(attempts_dir), options) for m in todo}
    extracted, failed = [], {}
    for model_id, ref in refs.items():
        try:
            key, _ = ray.get(ref)
            keys[model_id] = key
            extracted.append(model_id)
        except Exception as err:  # recorded, never fatal for the pool
            cause = getattr(err, "cause", None) or err
            failed[model_id] = f"{type(cause).__name__}: {cause}"
    retried = {}
    for model_id in todo:
        folder = Path(attempts_dir) / _safe_name(model_id)
        attempts = len(list(folder.iterdir())) if folder.is_dir() else 0
        if attempts > 1:
            retried[model_id] = attempts
    if own_attempts_dir:
        import shutil

        shutil.rmtree(attempts_dir, ignore_errors=True)
    keys = {m: keys[m] for m in model_ids if m in keys}
    return ClusterExtraction(keys=keys, resumed=resumed, extracted=extracted, retried=retried, failed=failed)
