"""transvis._threads.thread_limit: the one BLAS/OpenMP (and torch) thread limiter of ranking and dynamics."""

import os

import pytest
from threadpoolctl import threadpool_info

from transvis import _threads
from transvis._threads import thread_limit


def _blas_threads():
    return [pool["num_threads"] for pool in threadpool_info()]


def test_integer_limit_is_scoped():
    before = _blas_threads()
    with thread_limit(1):
        assert all(n == 1 for n in _blas_threads())
    assert _blas_threads() == before


@pytest.mark.parametrize("load, limited", [(1e9, True), (-1.0, False)])
def test_auto_limits_to_one_thread_only_when_busy(monkeypatch, load, limited):
    monkeypatch.setattr(_threads.os, "getloadavg", lambda: (load, load, load))
    before = _blas_threads()
    with thread_limit("auto"):
        assert _blas_threads() == ([1] * len(before) if limited else before)


@pytest.mark.parametrize("bad", [0, -2, True, 1.5, "two"])
def test_invalid_limits_raise(bad):
    with pytest.raises(ValueError, match="positive integer"):
        with thread_limit(bad):
            pass


def test_none_is_a_no_op():
    before = _blas_threads()
    with thread_limit(None):
        assert _blas_threads() == before
    assert os.cpu_count() >= 1
