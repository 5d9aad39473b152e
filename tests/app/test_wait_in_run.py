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
    monkeypatch.setattr(pages._jobs, "PREDICT_WAITS", True)
    pages._jobs._unit_seconds().clear()
    pages._jobs.new_page_run()
    yield pages._jobs
    pages._jobs._unit_seconds().clear()


def _sleeping_job(units: int, seconds: float, name: str = "sleeper"):
    return unit_job({i: seconds for i in range(units)}, time.sleep, name=name, tag=("pool", name)).start()


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def test_a_quick_job_is_waited_for(budget):
    job = _sleeping_job(4, 0.05)
    finished, took = _timed(lambda: budget.wait_in_run(job, 2.0))
    assert finished and job.status().state == "done" and took < 1.5


def test_a_job_whose_eta_exceeds_the_time_left_is_left_to_the_background(budget):
    job = unit_job({0: 0.1, 1: 1.0, 2: 1.0, 3: 1.0}, time.sleep, name="sleeper", tag=("pool",)).start()
    # after its second unit (1.1 s) its ETA is 2 × 0.55 s, with 0.9 s of the 2 s grace left
    finished, took = _timed(lambda: budget.wait_in_run(job, 2.0))
    assert not finished and job.status().done >= 2
    assert 1.0 < took < 1.6  # not the whole grace
    job.cancel()


def test_before_its_first_unit_ends_a_job_too_long_for_the_grace_is_seen_by_a_lower_bound(budget):
    job = _sleeping_job(8, 0.5)  # 0.3 s into its first unit, the seven others need ≥ 2.1 s: more than is left
    finished, took = _timed(lambda: budget.wait_in_run(job, 2.0))
    assert not finished and job.status().done == 0 and took < 0.45
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


def test_a_kind_of_job_that_took_far_longer_than_the_grace_is_not_waited_for_again(budget):
    slow = _sleeping_job(2, 0.8)  # one 1.6 s job: its first unit ends after 0.8 s, its ETA then fits
    assert budget.wait_in_run(slow, 2.0)
    assert budget._unit_seconds()[("sleeper", "pool")] == pytest.approx(0.8, abs=0.3)
    budget.new_page_run()
    again = _sleeping_job(2, 0.8)  # the same kind: 1.6 s expected, more than 3 × a 0.5 s grace
    finished, took = _timed(lambda: budget.wait_in_run(again, 0.5))
    assert not finished and took < 0.1
    other = _sleeping_job(1, 0.2, name="another kind")  # unknown: waited for
    finished, took = _timed(lambda: budget.wait_in_run(other, 0.5))
    assert finished and 0.15 < took < 0.5
    assert budget.wait_in_run(again, 2.0)  # a long enough grace still waits for it
