"""pages._jobs.wait_in_run: a page run waits for a new result only while it can still arrive in time. Jobs of
sleeping units (no CPU: the timings hold on a loaded machine); st.session_state in bare mode."""

from __future__ import annotations

import time

import pytest

from transvis.jobs import unit_job


@pytest.fixture
def budget(monkeypatch):
    import pages._jobs

    monkeypatch.setattr(pages._jobs, "RUN_WAIT_BUDGET_S", 2.0)
    pages._jobs.new_page_run()
    return pages._jobs


def _sleeping_job(units: int, seconds: float):
    return unit_job({i: seconds for i in range(units)}, time.sleep, name="sleeper").start()


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def test_a_quick_job_is_waited_for(budget):
    job = _sleeping_job(4, 0.05)
    finished, took = _timed(lambda: budget.wait_in_run(job, 2.0))
    assert finished and job.status().state == "done" and took < 1.5


def test_a_job_whose_eta_exceeds_the_time_left_is_left_to_the_background(budget):
    job = _sleeping_job(8, 0.4)  # ETA 2.8 s after its first unit, with 1.6 s of the grace left
    finished, took = _timed(lambda: budget.wait_in_run(job, 2.0))
    assert not finished and job.status().done >= 1
    assert 0.35 < took < 1.2  # one unit, not the whole 2 s grace
    job.cancel()


def test_without_an_eta_the_wait_lasts_the_grace_and_the_budget_is_shared(budget):
    job = _sleeping_job(1, 3.0)  # one long unit: no ETA before it ends
    finished, took = _timed(lambda: budget.wait_in_run(job, 1.5))
    assert not finished and 1.4 < took < 1.9
    other = _sleeping_job(1, 3.0)
    finished, took = _timed(lambda: budget.wait_in_run(other, 1.5))  # 0.5 s of the run's 2 s budget left
    assert not finished and 0.4 < took < 0.9
    budget.new_page_run()
    finished, took = _timed(lambda: budget.wait_in_run(other, 0.3))  # a new page run: a new budget
    assert not finished and 0.25 < took < 0.7
