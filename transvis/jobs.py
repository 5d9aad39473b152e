"""Background jobs: a long computation runs in a worker thread while a front end polls its progress.

A job runs ``work(progress, cancelled)`` in one daemon thread. ``work`` reports each finished unit with
``progress(done, label)`` and asks ``cancelled()`` between units; a cancelled work raises :class:`JobCancelled`
(a normal return is taken as a complete result). The front end reads :meth:`Job.status` — a frozen
:class:`JobStatus` snapshot: state, done / total, the unit being worked on, elapsed seconds and an ETA from the
observed rate — and the result once the state is ``"done"``. Nothing in this module knows about Streamlit: the
worker never touches a UI, the UI thread only reads snapshots, and one lock guards the shared state.

:func:`unit_job` is the common case: one function applied to every unit (every model of a pool) in turn.
Its results are committed **all at the end**: the job's result exists only when every unit finished, so a
cancel or an error leaves nothing behind — a ground truth measured on some models only would silently change
which models the metrics are correlated on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

RUNNING, CANCELLING, DONE, CANCELLED, FAILED = "running", "cancelling", "done", "cancelled", "failed"
FINISHED_STATES = (DONE, CANCELLED, FAILED)


class JobCancelled(Exception):
    """Raised by a job's work when it stops early on a cancel request (between two units)."""


@dataclass(frozen=True)
class JobStatus:
    """One consistent snapshot of a job.

    ``state``: ``"running"``, ``"cancelling"`` (cancel asked, the running unit is finishing), ``"done"``,
    ``"cancelled"`` or ``"failed"``. ``done`` of ``total`` units finished; ``label``: the unit being worked on
    (or the last one). ``elapsed``: seconds since the start (until the end once finished). ``eta``: seconds
    left, from the mean time per finished unit minus the time already spent on the running one (None before
    the first unit finished, 0 once finished). ``error``: why a failed job failed, with what to do about it.
    """

    name: str
    state: str
    done: int
    total: int
    label: str
    elapsed: float
    eta: float | None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    def eta_text(self) -> str:
        """``"about 12 s left"``, ``"about 3 min left"``, or ``"estimating the time left…"``."""
        if self.eta is None:
            return "estimating the time left…"
        seconds = max(0.0, self.eta)
        if seconds < 90:
            return f"about {max(1, round(seconds))} s left"
        return f"about {round(seconds / 60)} min left"


class Job:
    """``work(progress, cancelled) -> result`` over ``total`` units in a worker thread (see the module doc).

    ``progress(done, label="")``: ``done`` units finished (0 ≤ done ≤ total, never decreasing); ``label``
    names the unit that comes next or is running. ``cancelled()``: True once :meth:`cancel` was called.
    ``tag``: anything the caller wants back with the result (e.g. the key of the pool the job ran on).
    """

    def __init__(self, work: Callable[[Callable[..., None], Callable[[], bool]], Any], total: int, *,
                 name: str = "job", tag: Any = None, clock: Callable[[], float] = time.monotonic):
        if not callable(work):
            raise TypeError(f"work must be a function of (progress, cancelled); got {type(work).__name__}.")
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ValueError(f"total must be the number of units, an integer ≥ 0; got {total!r}.")
        self.name, self.tag = name, tag
        self._work, self._total, self._clock = work, total, clock
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._state, self._done, self._label = RUNNING, 0, ""
        self._started = self._last_unit = self._ended = None
        self._result, self._error = None, None

    # --- the UI thread's side ------------------------------------------------------------------------
    def start(self) -> "Job":
        """Start the worker thread (once); returns the job."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError(f"{self.name} was already started; create a new Job to run it again.")
            self._started = self._last_unit = self._clock()
            self._thread = threading.Thread(target=self._run, name=f"transvis-job:{self.name}", daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the work to stop before its next unit (the running unit finishes; its result is discarded)."""
        self._cancel.set()
        with self._lock:
            if self._state == RUNNING:
                self._state = CANCELLING

    def status(self) -> JobStatus:
        with self._lock:
            now = self._ended if self._ended is not None else self._clock()
            started = self._started if self._started is not None else now
            if self._state in FINISHED_STATES:
                eta = 0.0
            elif self._done == 0:
                eta = None
            else:
                per_unit = (self._last_unit - started) / self._done
                eta = max(0.0, per_unit * (self._total - self._done) - (now - self._last_unit))
            return JobStatus(self.name, self._state, self._done, self._total, self._label, now - started, eta,
                             self._error)

    @property
    def result(self) -> Any:
        """The work's return value; only once the state is ``"done"``."""
        with self._lock:
            if self._state != DONE:
                raise RuntimeError(f"{self.name} has no result while {self._state}: read it once "
                                   "status().state == 'done' (a cancelled or failed job keeps none).")
            return self._result

    def wait(self, timeout: float | None = None) -> JobStatus:
        """Block until the worker thread has ended (or ``timeout`` seconds passed); returns the status."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.status()

    @property
    def alive(self) -> bool:
        """Whether the worker thread is still running (a cancelled job's thread ends after its unit)."""
        return self._thread is not None and self._thread.is_alive()

    # --- the worker thread's side --------------------------------------------------------------------
    def _progress(self, done: int, label: str = "") -> None:
        with self._lock:
            if not (self._done <= done <= self._total):
                raise ValueError(f"{self.name}: progress({done}) must lie in {self._done}..{self._total} "
                                 "(units finished so far, never fewer than before).")
            if done > self._done:
                self._last_unit = self._clock()
            self._done, self._label = done, str(label)

    def _run(self) -> None:
        try:
            result = self._work(self._progress, self._cancel.is_set)
        except JobCancelled:
            outcome = (CANCELLED, None, None)
        except Exception as err:  # noqa: BLE001 - captured for the UI thread, which shows it
            with self._lock:
                where = f" on {self._label}" if self._label else ""
                done, total = self._done, self._total
            outcome = (FAILED, None, f"{self.name} failed{where} after {done} of {total} units: "
                                     f"{type(err).__name__}: {err} Nothing was kept; fix that and start it again.")
        else:
            outcome = (DONE, result, None)
        with self._lock:
            self._state, self._result, self._error = outcome
            self._ended = self._clock()


def unit_job(units: Mapping, fn: Callable[[Any], Any], *, name: str = "job", tag: Any = None,
             label: Callable[[Any], str] = str, clock: Callable[[], float] = time.monotonic) -> Job:
    """A (not yet started) job applying ``fn(value)`` to each ``units`` item in order; its result is
    ``{key: fn(value)}``, built only when every unit finished (committed all at the end: see the module doc).

    It checks for a cancel before each unit and after the last, so a cancel stops it after the running unit at
    most and always ends it ``"cancelled"`` with no result. ``label(key)``
    names the unit in the status (e.g. a short model name).
    """
    items = list(units.items())

    def work(progress, cancelled):
        results = {}
        for i, (key, value) in enumerate(items):
            if cancelled():
                raise JobCancelled
            progress(i, label(key))
            results[key] = fn(value)
            progress(i + 1, label(key))
        if cancelled():  # asked during the last unit: the user was told nothing of this run is kept
            raise JobCancelled
        return results

    return Job(work, len(items), name=name, tag=tag, clock=clock)
