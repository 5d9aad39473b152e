"""What the background-job AppTests share: a gate that holds a job's units until the test lets each through,
and readers of the session's jobs and progress bars (the ``fresh_results`` fixture is in ``conftest.py``)."""

from __future__ import annotations

import threading
import time

WAIT = 120.0  # seconds a test waits for a unit, a job or a condition before it fails


class Gate:
    """Holds each unit of a background job until the test calls :meth:`step`. A subclass wraps the real
    function and calls :meth:`hold` where a unit should wait (before it runs, or once it finished)."""

    def __init__(self, wait: float = WAIT):
        self.wait = wait
        self._entered, self._release = threading.Semaphore(0), threading.Semaphore(0)

    def hold(self, what: str = "this unit") -> None:
        """In the job's thread: say a unit is here, then wait for the test's :meth:`step`."""
        self._entered.release()
        assert self._release.acquire(timeout=self.wait), f"the test never released {what}"

    def step(self) -> None:
        """In the test: wait for a unit to be held, then let it through."""
        assert self._entered.acquire(timeout=self.wait), "no unit reached the gate"
        self._release.release()


class GatedNoise(Gate):
    """Stands in for ``transvis.noise_jobs.score_noise``: the real estimate, each unit for which
    ``holds(metric, params)`` is true held until the test lets it through (``started``: their metric and
    units, in order); the other units run as they are."""

    def __init__(self, real, holds):
        super().__init__()
        self.real, self.holds, self.started = real, holds, []

    def __call__(self, unit, metric, params=None, **kwargs):
        if self.holds(metric, params or {}):
            self.started.append((metric, list(unit)))
            self.hold()
        return self.real(unit, metric, params, **kwargs)


def wait_until(condition, what: str, timeout: float = WAIT) -> None:
    """Poll ``condition()`` every 10 ms until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def session_jobs(at, prefix: str) -> dict:
    """The session's jobs whose key starts with ``prefix`` (e.g. ``"noise_job:"``), by key."""
    return {k: at.session_state[k] for k in at.session_state
            if str(k).startswith(prefix) and hasattr(at.session_state[k], "status")}


def progress_bars(at, prefix: str) -> list:
    """The progress bars whose text starts with ``prefix``."""
    return [b for b in at.get("progress") if b.text.startswith(prefix)]


def settle(at, prefixes=("trajectory_job:", "point_job:", "noise_job:")) -> None:
    """Wait for the session's background trajectories, point estimates and noise estimates, then rerun: under load
    (CI's e2e servers beside a cold worker) a page's first run may hand them to the background instead of drawing
    them, and a noise estimate that lands between two of the test's runs adds whiskers to the figure, a new chart
    to Streamlit, which drops a selection the test had set on the old one."""
    for prefix in prefixes:
        for job in session_jobs(at, prefix).values():
            assert job.wait(WAIT).state in ("done", "cancelled"), job.status()  # cancelled: superseded
    at.run()
    assert not at.exception, at.exception
