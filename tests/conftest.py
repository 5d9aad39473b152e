"""Suite-wide settings: one compute thread per pytest worker (two workers share two cores)."""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def pytest_configure(config):
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is pinned
        return
    # Two workers x two intra-op threads on two cores made model tests several times slower.
    torch.set_num_threads(1)
