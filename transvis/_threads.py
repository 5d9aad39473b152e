"""One way to limit the BLAS/OpenMP (and torch) thread pools for a block: ``with thread_limit(n): ...``."""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np


@contextlib.contextmanager
def thread_limit(threads, *, torch: bool = True):
    """Limit BLAS/OpenMP threads (threadpoolctl) inside the block, and torch's with ``torch`` (when imported).

    ``threads``: a positive integer; None (no limit: a no-op); or ``"auto"``: 1 thread when the machine is busy
    (1-minute load average above cores − 1), else no limit.
    """
    if threads == "auto":
        cores = os.cpu_count() or 1
        try:
            busy = os.getloadavg()[0] > cores - 1
        except OSError:  # pragma: no cover - no load average on this platform
            busy = False
        threads = 1 if busy else None
    if threads is None:
        yield
        return
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a positive integer, None or 'auto'; got {threads!r}.")
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    module = sys.modules.get("torch") if torch else None
    torch_threads = module.get_num_threads() if module is not None else None
    try:
        if module is not None:
            module.set_num_threads(threads)
        with threadpool_limits(limits=threads):
            yield
    finally:
        if module is not None:
            module.set_num_threads(torch_threads)
