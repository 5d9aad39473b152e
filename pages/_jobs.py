"""A background job's panel on a page: a progress bar with done/total and an ETA, a Cancel button, and the rest
of the page usable while it runs (``transvis.jobs`` does the work; this module only draws it).

The job lives in the session (``st.session_state[key]``). The panel is a fragment that reruns alone every
:data:`TICK_S` seconds while the job runs, and asks for one full rerun when the job starts (so the fragment is
registered with its timer) and when it ends, so that the page, having called :func:`take_finished` before its
widgets, shows the result without another click. The worker thread never calls Streamlit.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import streamlit as st

from transvis.jobs import Job, JobStatus

TICK_S = 1.0  # seconds between two redraws of a running job's panel (each is a short fragment run)
# all of one page run's waits for new results together (point estimates, a trajectory); the environment variable
# is for benches (bench/browser.py compares budgets)
RUN_WAIT_BUDGET_S = float(os.environ.get("TRANSVIS_RUN_WAIT_BUDGET_S", "1.0"))


@st.cache_resource(show_spinner=False)
def finished_results(kind: str) -> dict:
    """A dict shared by every session of this server process, for the results of the finished jobs of one
    ``kind`` (e.g. ``{pool key: probes}``), so that the same job asked again is not run again."""
    return {}


def start(key: str, job: Job) -> None:
    """Start ``job`` as the session's job under ``key`` (an ``on_click`` callback may call it)."""
    st.session_state.pop(f"{key}_outcome", None)
    st.session_state[key] = job.start()


def new_page_run() -> None:
    """Mark the start of a page run (the router calls it): the waits of :func:`wait_in_run` share one budget per
    run."""
    st.session_state["_page_run"] = st.session_state.get("_page_run", 0) + 1


WAIT_SLICE_S = 0.1  # how often a wait looks at the job's progress
# wait_in_run stops waiting once the job cannot be ready in time: by its ETA, by a lower bound before its first
# unit ends (Fisher's and PED's trajectories at a new parameter spent their whole grace on a first model that
# takes seconds), or by the last job of its kind on the pool (SKIP_FACTOR × the time left). False in the
# AppTests, whose synthetic jobs must not move to the background on a loaded machine, nor depend on what
# earlier tests' jobs took (tests/app/test_wait_in_run.py checks it).
PREDICT_WAITS = True
SKIP_FACTOR = 3.0


@st.cache_resource(show_spinner=False)
def _unit_seconds() -> dict:
    """``{(job name, pool key): seconds per unit}`` of the last job of that kind done on that pool, for every
    session of this server process."""
    return {}


def _job_kind(job: Job) -> tuple[str, str]:
    tag = job.tag[0] if isinstance(job.tag, tuple) and job.tag else job.tag
    return job.name, str(tag)


def _learn(job: Job, status: JobStatus) -> None:
    if PREDICT_WAITS and status.state == "done" and status.total:
        _unit_seconds()[_job_kind(job)] = status.elapsed / status.total


def _expected_seconds(job: Job, status: JobStatus) -> float | None:
    """The time ``job`` still needs by the last job of its kind (:func:`_unit_seconds`), or None if unknown."""
    per_unit = _unit_seconds().get(_job_kind(job)) if PREDICT_WAITS else None
    return None if per_unit is None else per_unit * (status.total - status.done)


def wait_in_run(job: Job, limit: float) -> bool:
    """Wait up to ``limit`` seconds for ``job`` to finish, but only as long as this page run's waits together stay
    within :data:`RUN_WAIT_BUDGET_S`, so that a control whose trajectory and point estimates both go to the
    background answers after one grace, not two; and no longer once the job's ETA (known after its first unit)
    says it cannot be done in the time left, nor at all when the last job of its kind took far longer
    (:data:`SKIP_FACTOR`): a wait that ends in the background anyway only delays the page's answer. Returns
    whether the job finished."""
    import time

    run = st.session_state.get("_page_run")
    waited_run, waited = st.session_state.get("_page_run_waited", (None, 0.0))
    used = waited if waited_run == run else 0.0
    start = time.perf_counter()
    deadline = start + max(0.0, min(limit, RUN_WAIT_BUDGET_S - used))
    status = job.status()
    expected = _expected_seconds(job, status)
    if expected is not None and expected > SKIP_FACTOR * (deadline - start):
        deadline = start  # the last job of this kind says it cannot be ready in time
    while not status.finished and (left := deadline - time.perf_counter()) > 0:
        if PREDICT_WAITS and _needs_more_than(status, left):
            break  # it will not be ready in time: answer now, the job's panel takes over
        status = job.wait(min(left, WAIT_SLICE_S))
    st.session_state["_page_run_waited"] = (run, used + time.perf_counter() - start)
    if status.finished:
        _learn(job, status)
    return status.finished


def _needs_more_than(status: JobStatus, seconds: float) -> bool:
    """Whether the running job will need more than ``seconds``, assuming its units cost alike: its ETA once a
    unit is done; before that, its first unit has run ``elapsed`` s, so each unit left would need at least as
    much. Units that differ (a pool's models of different widths) can make it wrong either way; the price of
    a wrong "yes" is a result shown by the job's own rerun instead of this one."""
    if status.eta is not None:
        return status.eta > seconds
    return status.done == 0 and status.elapsed * (status.total - 1) > seconds


def running(key: str) -> JobStatus | None:
    """The status of the session's job under ``key`` while it runs (or is cancelling), else None."""
    job = st.session_state.get(key)
    status = job.status() if job is not None else None
    return status if status is not None and not status.finished else None


def take_finished(key: str) -> tuple[JobStatus, Job] | None:
    """Remove the session's job under ``key`` once it has finished and return it with its final status (the
    page stores a ``"done"`` job's result); a cancelled or failed job's outcome is kept for :func:`job_panel`
    to say. None while it runs or when there is none."""
    job = st.session_state.get(key)
    if job is None or not (status := job.status()).finished:
        return None
    del st.session_state[key]
    _learn(job, status)
    if status.state != "done":
        st.session_state[f"{key}_outcome"] = status
    return status, job


def job_panel(key: str, idle: Callable[[JobStatus | None], None], *, units: str = "models",
              action: str = "Working") -> None:
    """The panel of the session's job under ``key``: ``idle(outcome)`` draws the start button (``outcome``: the
    last job's status when it was cancelled or failed, else None); while the job runs, its progress bar
    (``"{action}: 3/12 {units} · about 40 s left · model-x"``) and a Cancel button, redrawn every
    :data:`TICK_S` s without rerunning the page."""
    ticking = running(key) is not None

    @st.fragment(run_every=TICK_S if ticking else None)
    def panel():
        job = st.session_state.get(key)
        status = job.status() if job is not None else None
        if status is None or status.finished:
            idle(st.session_state.get(f"{key}_outcome"))
        else:
            _progress(status, job, key, units, action)
        if status is not None and status.finished == ticking:
            # it started in this fragment's run (drawn above; now register the timer) or it ended (let the
            # page take its result, before its widgets)
            st.rerun()

    panel()


def _progress(status: JobStatus, job: Job, key: str, units: str, action: str) -> None:
    text = f"{action}: {status.done}/{status.total} {units} · {status.eta_text()}"
    if status.label and status.done < status.total:
        text += f" · {status.label}"
    st.progress(status.fraction, text=text)
    if status.state == "cancelling":
        st.caption(f":material/hourglass_top: Cancelling: stopping after {status.label or 'the running unit'} "
                   "(nothing of this run is kept).")
    st.button("Cancel", key=f"{key}_cancel", icon=":material/cancel:", on_click=job.cancel,
              disabled=status.state == "cancelling",
              help="Stops after the unit being computed; nothing of this run is kept.")


def outcome_text(status: JobStatus, units: str = "models") -> str:
    """What a cancelled or failed job left: ``"Cancelled after 2 of 5 models: nothing was stored."``."""
    if status.state == "cancelled":
        return f"Cancelled after {status.done} of {status.total} {units}: nothing was stored."
    return status.error or f"{status.name} {status.state}."
