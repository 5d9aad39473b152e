"""The Leaderboard's linear probe as a background job in a real browser: its progress bar advances, the page
answers while it runs, Cancel stops it, and nothing half-written remains (no measured ground truth in the
session, no file added to the store).

The synthetic demo's probe takes milliseconds per model, too quick to watch; this file serves its own app
through a launcher that makes each model's (real) probe wait ``PROBE_S`` seconds first, and points the store
(``TRANSVIS_CACHE``) at a directory the test lists before and after.
"""

from __future__ import annotations

import os
import re
import sys
import time

import pytest

from tests.e2e.conftest import ROOT, browser_tab, serve_app, viewport_screenshot, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

PROBE_S = 6.0  # each model's probe: 5 models, 30 s in all

LAUNCHER = r"""
import os
import sys
import time

import transvis.groundtruth as groundtruth

real = groundtruth.linear_probe

def slow_linear_probe(*args, **kwargs):
    time.sleep(float(os.environ["TRANSVIS_E2E_PROBE_S"]))
    return real(*args, **kwargs)

groundtruth.linear_probe = slow_linear_probe
from streamlit.web import cli
sys.argv = ["streamlit", "run", *sys.argv[1:]]
sys.exit(cli.main())
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="module")
def slow_probe_server(tmp_path_factory, store):
    yield from serve_app(tmp_path_factory, [sys.executable, "-c", LAUNCHER],
                         {"PYTHONPATH": str(ROOT), "TRANSVIS_CACHE": str(store),
                          "TRANSVIS_E2E_PROBE_S": str(PROBE_S)})


@pytest.fixture
def tab(browser, slow_probe_server):
    with browser_tab(browser, 1600, 1000) as page:
        yield page


def _files(root) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def _poll(tab, condition, timeout_s: float, what: str) -> float:
    """Seconds until ``condition()`` held (polled every 50 ms)."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout_s:
            viewport_screenshot(tab, "probe_cancel_timeout")
            shown = tab.locator('[data-testid="stMainBlockContainer"]').inner_text()[:1500]
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (test-artifacts/"
                                 f"probe_cancel_timeout.png); the page showed:\n{shown}")
        tab.wait_for_timeout(50)
    return time.perf_counter() - start


def test_start_watch_cancel_and_nothing_is_stored(tab, slow_probe_server, store):
    tab.goto(slow_probe_server)
    wait_idle(tab)
    tab.locator('[data-testid="stDataFrame"]').first.wait_for(state="visible")
    files_before = _files(store)
    main = tab.locator('[data-testid="stMainBlockContainer"]')
    tab.locator("summary").filter(has_text="Metric settings and your own ground truth").click()
    bar = tab.locator('[data-testid="stProgress"]').filter(has_text="Linear probe:")
    # a click on a button inside a fragment waits for any page run in progress (streamlit#10928); on a loaded
    # CI machine start from a quiet page so that the time measured is the job's, not a pending rerun's
    wait_idle(tab)

    tab.get_by_role("button", name="Linear-probe every model").click()
    click_to_bar = _poll(tab, lambda: bar.count() > 0, 90, "the progress bar")
    first = bar.inner_text()
    assert "0/5 models" in first
    _poll(tab, lambda: bar.count() and re.search(r"[12]/5 models · about \d+ (s|min) left", bar.inner_text()),
          120, "the bar to advance, with an ETA")  # a loaded 2-core machine can take far longer than PROBE_S
    viewport_screenshot(tab, "probe_job_running_1600x1000")

    # the rest of the page answers meanwhile: switch the table to ranks
    tab.locator('[data-testid="stRadio"]').filter(has_text="Table shows").get_by_text("ranks").click()
    toggle_while_running = _poll(tab, lambda: "the ranks the noise allows" in main.inner_text(), 60,
                                 "the ranks view while the job runs")
    assert bar.count() == 1

    tab.get_by_role("button", name="Cancel").click()
    cancelling = _poll(tab, lambda: "Cancelling" in main.inner_text() or "Cancelled after" in main.inner_text(),
                       60, "the cancel to show")
    cancelled = _poll(tab, lambda: "Cancelled after" in main.inner_text(), 120, "the job to stop")
    assert bar.count() == 0
    text = main.inner_text()
    done_at_cancel = int(text.split("Cancelled after ", 1)[1].split(" of 5", 1)[0])
    assert 1 <= done_at_cancel < 5

    # still usable: back to scores
    tab.locator('[data-testid="stRadio"]').filter(has_text="Table shows").get_by_text("scores").click()
    toggle_after = _poll(tab, lambda: "standard error (see" in main.inner_text(), 60, "the scores view")

    # nothing half-written: the ground-truth choice offers no measured probe; the store gained no file
    tab.locator('[data-testid="stSelectbox"]').filter(has=tab.get_by_text("Ground truth", exact=True)).click()
    options = tab.locator('[role="option"]')
    options.first.wait_for()
    offered = options.all_inner_texts()
    tab.keyboard.press("Escape")
    assert offered and not any("measured here" in o for o in offered), offered
    assert _files(store) == files_before
    wait_idle(tab)
    assert tab.get_by_role("button", name="Linear-probe every model").count() == 1
    assert tab.get_by_role("button", name="Cancel").count() == 0
    viewport_screenshot(tab, "probe_job_cancelled_1600x1000")
    print(f"\nclick→progress bar {click_to_bar:.2f} s; ranks toggle while running {toggle_while_running:.2f} s; "
          f"cancel→'Cancelling' {cancelling:.2f} s, →'Cancelled' {cancelling + cancelled:.2f} s "
          f"(after {done_at_cancel}/5 models); scores toggle after cancel {toggle_after:.2f} s")
