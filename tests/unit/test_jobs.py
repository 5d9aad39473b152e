"""transvis.jobs: a background job's progress, ETA, cancel, errors and result, without any UI."""

from __future__ import annotations

import threading

import pytest

from transvis.jobs import Job, JobCancelled, unit_job

WAIT = 10.0  # seconds a test waits for the worker thread before failing (it needs milliseconds)


class Gate:
    """``fn(value)`` that blocks until the test lets one more unit through: the test steps the job."""

    def __init__(self):
        self.started = []
        self._entered = threading.Semaphore(0)
        self._release = threading.Semaphore(0)

    def __call__(self, value):
        self.started.append(value)
        self._entered.release()
        assert self._release.acquire(timeout=WAIT), "the test never released this unit"
        return value * 10

    def step(self):
        """Wait until a unit is running, then let it finish."""
        assert self._entered.acquire(timeout=WAIT), "no unit started"
        self._release.release()


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _wait_for(job, done):
    for _ in range(int(WAIT / 0.005)):
        if job.status().done >= done or job.status().finished:
            return job.status()
        threading.Event().wait(0.005)
    raise AssertionError(f"the job did not reach {done} units: {job.status()}")


def test_progress_advances_unit_by_unit_and_the_result_comes_at_the_end():
    gate = Gate()
    job = unit_job({"a": 1, "b": 2, "c": 3}, gate, name="probe", tag="pool-1", label=str.upper).start()
    assert job.tag == "pool-1"
    assert job.status().state == "running" and job.status().total == 3
    with pytest.raises(RuntimeError, match="no result while running"):
        job.result
    gate.step()
    status = _wait_for(job, 1)
    assert (status.done, status.state) == (1, "running")
    assert status.fraction == pytest.approx(1 / 3)
    gate.step()
    gate.step()
    status = job.wait(WAIT)
    assert (status.state, status.done, status.label, status.eta) == ("done", 3, "C", 0.0)
    assert job.result == {"a": 10, "b": 20, "c": 30}
    assert not job.alive


def test_the_eta_is_the_observed_time_per_unit_times_the_units_left():
    clock, gate = Clock(), Gate()
    job = unit_job(dict.fromkeys("abcd", 1), gate, clock=clock).start()
    clock.now += 5.0
    assert job.status().eta is None  # nothing finished: no rate yet
    assert job.status().eta_text() == "estimating the time left…"
    gate.step()
    _wait_for(job, 1)  # one unit in 5 s, three left
    assert job.status().eta == pytest.approx(15.0)
    clock.now += 2.0  # 2 s into the second unit: the estimate counts down
    assert job.status().eta == pytest.approx(13.0)
    assert job.status().elapsed == pytest.approx(7.0)
    assert job.status().eta_text() == "about 13 s left"
    clock.now += 1.0
    gate.step()
    _wait_for(job, 2)  # two units in 8 s: 4 s each, two left
    assert job.status().eta == pytest.approx(8.0)
    job.cancel()
    gate.step()
    assert job.wait(WAIT).eta == 0.0


def test_cancel_stops_before_the_next_unit_and_keeps_nothing():
    gate = Gate()
    job = unit_job({"a": 1, "b": 2, "c": 3, "d": 4}, gate).start()
    gate.step()
    _wait_for(job, 1)
    assert gate._entered.acquire(timeout=WAIT)  # unit "b" is running
    job.cancel()
    assert job.status().state == "cancelling"  # "b" finishes first
    gate._release.release()
    status = job.wait(WAIT)
    assert status.state == "cancelled" and status.done == 2
    assert gate.started == [1, 2]  # "c" never started
    assert not job.alive
    with pytest.raises(RuntimeError, match="keeps none"):
        job.result


def test_a_cancel_during_the_last_unit_still_ends_cancelled_with_no_result():
    gate = Gate()
    job = unit_job({"a": 1, "b": 2}, gate).start()
    gate.step()
    assert gate._entered.acquire(timeout=WAIT)  # the last unit is running
    job.cancel()
    gate._release.release()
    status = job.wait(WAIT)
    assert (status.state, status.done) == ("cancelled", 2)
    with pytest.raises(RuntimeError, match="keeps none"):
        job.result


def test_a_cancel_before_the_first_unit_runs_none():
    calls = []
    job = unit_job({"a": 1}, calls.append)
    job.cancel()
    status = job.start().wait(WAIT)
    assert (status.state, status.done, calls) == ("cancelled", 0, [])


def test_an_error_is_captured_with_where_it_happened_and_what_to_do():
    def probe(value):
        if value == 2:
            raise ValueError("features hold NaN values; re-extract them before probing.")
        return value

    job = unit_job({"m1": 1, "m2": 2, "m3": 3}, probe, name="The linear probe").start()
    status = job.wait(WAIT)
    assert status.state == "failed" and status.done == 1
    assert status.error == ("The linear probe failed on m2 after 1 of 3 units: ValueError: features hold NaN "
                            "values; re-extract them before probing. Nothing was kept; fix that and start it "
                            "again.")
    assert not job.alive
    with pytest.raises(RuntimeError, match="while failed"):
        job.result


def test_a_work_function_of_progress_and_cancelled():
    seen = []

    def work(progress, cancelled):
        for i in range(3):
            seen.append(cancelled())
            progress(i + 1, f"step {i + 1}")
        return "ok"

    job = Job(work, 3, name="steps").start()
    status = job.wait(WAIT)
    assert (status.state, status.done, status.label, job.result, seen) == ("done", 3, "step 3", "ok", [False] * 3)


def test_a_work_that_raises_jobcancelled_ends_cancelled_even_without_cancel():
    def work(progress, cancelled):
        raise JobCancelled

    assert Job(work, 1).start().wait(WAIT).state == "cancelled"


def test_progress_that_goes_backwards_or_past_the_total_fails_the_job_with_the_rule():
    def work(progress, cancelled):
        progress(2)
        progress(1)

    status = Job(work, 3, name="bad").start().wait(WAIT)
    assert status.state == "failed" and "progress(1) must lie in 2..3" in status.error


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="integer ≥ 0"):
        Job(lambda p, c: None, -1)
    with pytest.raises(TypeError, match="function of \\(progress, cancelled\\)"):
        Job("not a function", 1)
    job = Job(lambda p, c: None, 0).start()
    job.wait(WAIT)
    with pytest.raises(RuntimeError, match="create a new Job"):
        job.start()
    assert job.result is None and job.status().fraction == 1.0


def test_no_worker_thread_is_left_running():
    before = {t for t in threading.enumerate() if t.name.startswith("transvis-job:")}
    jobs = [unit_job({"a": 1, "b": 2}, lambda v: v, name=f"j{i}").start() for i in range(3)]
    for job in jobs:
        assert job.wait(WAIT).state == "done"
    after = {t for t in threading.enumerate() if t.name.startswith("transvis-job:")}
    assert after <= before
