"""How long the app keeps its user waiting, measured in a real browser (Playwright driving Debian's chromium).

    .venv/bin/python bench/browser.py                       # the prepared demo (TRANSVIS_CACHE or ~/.cache/transvis)
    .venv/bin/python bench/browser.py --demo synthetic      # the synthetic demo (no preparation needed)
    .venv/bin/python bench/browser.py --repeat 3 --viewport 1600x1000 --pages neural_collapse deep_dive

It serves ``app.py`` headless on a free local port, then prints one table:

- **first usable** of each page: from ``page.goto`` (a new session) to the moment the app stops running (no
  Stop button, spinner or "Running" status) and its page stops changing (the last DOM change: the figures
  drawn), with its title there — the 1 s of quiet that confirms it is not counted;
- **from the sidebar**: the same, reaching the page by its sidebar link from Setup (the session kept, as a
  user moves between pages);
- **server done → page drawn** of each page's first load: when the last websocket message from the server
  arrived and when the page was drawn, both from the navigation's start (the first is the server's share of
  *first usable*, the rest is the browser's: Streamlit's React rendering and the charts' draws);
- **plotly charts · draws** of each page's first load: the charts it mounts and their draws in all (each chart's
  ``plotly_afterplot`` events; Streamlit 1.67 draws a chart twice on mount, the second time a full replot:
  bench/README, "Session 14");
- **each control** of issue #12's list: from the input event (a slider step by the keyboard, a toggle click, an
  option chosen) to the end of the rerun it starts, measured the same way; where the rerun hands work to a
  background job (a trajectory, a noise estimate), two times: **usable** (the rerun ended, the job's progress
  bar shown, the page answering) and **final** (the job done and the updated figure drawn).

The server is warmed first (every page opened once, untimed), as a user's server would be. Each timing is the
median of ``--repeat`` runs (a control is moved back and forth, so each run really changes something). A
control whose widget is not on the page is reported as "not found" rather than failing. The machine's load
average is printed with the table: compare only rows of one run. This is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGES = ["", "setup", "spread_attract", "fisher_space", "ped_dynamics", "neural_collapse", "deep_dive", "export"]
QUIET_S = 1.0  # no run in progress for this long = the page is usable (not counted in the timing)
POLL_S = 0.05


# --- the server ------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(demo: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    """Start ``streamlit run app.py`` on a free port; returns the process and its base URL once healthy."""
    port = _free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if demo == "synthetic":
        env["TRANSVIS_APP_DEMO"] = "synthetic"
        env.setdefault("TRANSVIS_CACHE", tempfile.mkdtemp(prefix="transvis-bench-"))
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return process, url
        except OSError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.5)
    process.kill()
    raise SystemExit(f"streamlit did not come up on {url}; see {log_path}")


# --- waiting for the app ---------------------------------------------------------------------------------
# Every change of the page's DOM stamps the time (a run's elements, plotly drawing a figure): a short run is
# never seen "Running" by the status widget (it shows after a delay), so quiet alone would end the timing before
# the page was drawn.
CHANGE_STAMP = """
window.__tvLastChange = Date.now();
new MutationObserver(() => { window.__tvLastChange = Date.now(); })
  .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""
# Every plotly chart's draws (its ``plotly_afterplot`` events) since the page was opened: how many charts a page
# mounts and how often each is drawn (Streamlit 1.67 draws each twice on mount: bench/README, "Session 14").
DRAW_COUNT = """
window.__tvCharts = [];
const __tvHooked = new WeakSet();
new MutationObserver(() => document.querySelectorAll('.js-plotly-plot').forEach(gd => {
  if (__tvHooked.has(gd) || typeof gd.on !== 'function') return;
  __tvHooked.add(gd);
  const chart = {draws: 0};
  window.__tvCharts.push(chart);
  gd.on('plotly_afterplot', () => { chart.draws += 1; });
})).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});
"""


# When the last websocket message arrived (ms since the navigation started): the server's share of a load.
LAST_MESSAGE = """
window.__tvLastMessage = null;
const __TvWebSocket = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new __TvWebSocket(...args);
  socket.addEventListener('message', () => { window.__tvLastMessage = performance.now(); });
  return socket;
};
window.WebSocket.prototype = __TvWebSocket.prototype;
Object.assign(window.WebSocket, __TvWebSocket);
"""


def server_done(page) -> float:
    """Seconds from the navigation's start to the last websocket message (:data:`LAST_MESSAGE`); NaN if none."""
    value = page.evaluate("() => window.__tvLastMessage")
    return float("nan") if value is None else value / 1000.0


def chart_draws(page) -> tuple[int, int]:
    """(plotly charts mounted, their draws in all) since the page was opened (:data:`DRAW_COUNT`)."""
    counts = page.evaluate("() => (window.__tvCharts || []).map(c => c.draws)")
    return len(counts), sum(counts)


# One poll of the page's state in one evaluate with plain selectors: Playwright's text-matching locators walk
# the whole DOM (thousands of SVG nodes) on the page's main thread at every 50 ms poll, slowing what they
# measure.
STATE_JS = """() => {
  const stop = [...document.querySelectorAll('button')].some(
      b => b.textContent.trim() === 'Stop' || b.getAttribute('aria-label') === 'Stop');
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  const bars = [...document.querySelectorAll('[data-testid="stProgress"]')];
  return {
    busy: stop || !!document.querySelector('[data-testid="stSpinner"]')
          || !!(status && status.textContent.includes('Running')),
    bars: bars.map(b => b.innerText),
    titled: !!document.querySelector('[data-testid="stMainBlockContainer"] h1'),
    change: window.__tvLastChange || 0,
  };
}"""


def page_state(page) -> dict:
    """``busy`` (a run in progress), ``bars`` (progress-bar texts), ``titled`` (the page's h1 drawn) and
    ``change`` (the last DOM change, ms since the epoch: :data:`CHANGE_STAMP`). While a navigation replaces
    the document there is nothing to evaluate: busy."""
    from playwright.sync_api import Error

    try:
        return page.evaluate(STATE_JS)
    except Error:
        return {"busy": True, "bars": [], "titled": False, "change": 0}


def _labels(bars: list[str]) -> set[str]:
    return {re.sub(r"\d+(?:[.,]\d+)?", "#", text) for text in bars}


def job_labels(page) -> set[str]:
    """The background jobs' progress-bar texts with their numbers blanked (``"Estimating …: #/# models · about
    # s left"``): which jobs are on the page, whatever their progress. (The app's own bars of a blocking run
    are removed when the run ends, so a bar seen after it means a job: a trajectory, a noise estimate, an
    opt-in scoring.)"""
    return _labels(page_state(page)["bars"])


def settle_times(page, start: float, timeout_s: float = 600.0,
                 jobs_before: set[str] | None = None) -> tuple[float, float]:
    """``(usable, final)`` seconds from ``start``: **usable** when the run in progress has ended — the page then
    answers — either drawn and quiet for ``QUIET_S`` or showing a background job's progress bar (whose panel
    redraws itself every second, so it is never quiet); **final** when no job is left either and the page has
    been quiet for ``QUIET_S``: no run, no job and no change of its DOM (the updated figure drawn); the time is
    that of the last run or change. Equal when nothing went to the background.

    ``jobs_before`` (:func:`job_labels` before the input event): a job not among them shows that the rerun the
    event started has already ended, even when it was too short for a poll to see it running."""
    start_epoch = time.time() - (time.perf_counter() - start)
    last_busy = start
    deadline = start + timeout_s
    quiet_since = usable = None
    seen_busy = False  # a job bar left from before the input event does not make the page usable yet
    while time.perf_counter() < deadline:
        now = time.perf_counter()
        state = page_state(page)
        busy, job = state["busy"], bool(state["bars"])
        changed = max(start, start + (state["change"] / 1000.0 - start_epoch))  # on the perf_counter clock
        if changed > last_busy and not job:  # the page is still being drawn
            last_busy, quiet_since = changed, None
        new_job = job and jobs_before is not None and not _labels(state["bars"]) <= jobs_before
        seen_busy = seen_busy or busy or new_job
        if usable is None and seen_busy and job and not busy:
            usable = now - start
        if busy or job:
            last_busy, quiet_since = now, None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= QUIET_S and state["titled"]:
            final = last_busy - start if last_busy > start else quiet_since - start
            return (final if usable is None else min(usable, final)), final
        page.wait_for_timeout(POLL_S * 1000)
    raise TimeoutError(f"the app was still running after {timeout_s:.0f} s")


def settle_time(page, start: float, timeout_s: float = 600.0) -> float:
    """Seconds from ``start`` until the page is final (:func:`settle_times`)."""
    return settle_times(page, start, timeout_s)[1]


# --- controls ---------------------------------------------------------------------------------------------
def _widget(page, testid: str, label: str):
    return page.locator(f'[data-testid="{testid}"]').filter(has_text=label).first


def slider_step(label: str) -> Callable:
    """Move the slider labelled ``label`` one step right on odd runs and back left on even ones."""
    def act(page, run: int):
        handle = _widget(page, "stSlider", label).locator('input[type="range"], [role="slider"]').first
        handle.focus()
        handle.press("ArrowRight" if run % 2 == 0 else "ArrowLeft")
    return act


def toggle(label: str) -> Callable:
    def act(page, run: int):
        _widget(page, "stCheckbox", label).locator("label").first.click()
    return act


def choose(label: str, options: tuple[str, str]) -> Callable:
    """Pick ``options[0]`` in the selectbox labelled ``label`` (``options[1]`` on the way back)."""
    def act(page, run: int):
        _widget(page, "stSelectbox", label).click()
        page.locator('[role="option"]').filter(has_text=options[run % 2]).first.click()
    return act


def open_tab(labels: tuple[str, str]) -> Callable:
    """Open the tab ``labels[0]`` (``labels[1]`` on the way back): a lazy tab reruns the page and draws its charts."""
    def act(page, run: int):
        page.get_by_role("tab", name=labels[run % 2], exact=True).click()
    return act


def radio(label: str, options: tuple[str, str]) -> Callable:
    def act(page, run: int):
        _widget(page, "stRadio", label).get_by_text(options[run % 2], exact=True).click()
    return act


def multiselect_toggle(label: str, option: str) -> Callable:
    """Add ``option`` to the multiselect labelled ``label`` (remove it again on the way back)."""
    def act(page, run: int):
        box = _widget(page, "stMultiSelect", label)
        if run % 2 == 0:
            box.locator("input").click()
            page.locator('[role="option"]').filter(has_text=option).first.click()
            page.keyboard.press("Escape")
        else:
            box.locator(f'span[role="button"][title="Delete"], [aria-label*="{option}"]').first.click()
    return act


@dataclass(frozen=True)
class Control:
    page: str
    name: str
    act: Callable
    setup: Callable | None = None  # untimed, once before the runs (e.g. switch adaptive λ off)


CONTROLS = [
    Control("spread_attract", "Spread & Attract: change a strength", slider_step("Spread strength")),
    Control("fisher_space", "Fisher space: change λ (adaptive λ off)", slider_step("Shrinkage λ"),
            setup=toggle("Adaptive λ")),
    Control("fisher_space", "Fisher space: open the Per class tab", open_tab(("Per class", "Scores and λ"))),
    Control("neural_collapse", "Neural collapse: move the means to the ETF", toggle("nearest simplex ETF")),
    Control("neural_collapse", "Neural collapse: re-score frames with SFDA", choose(
        "Metric re-scored at every frame", ("SFDA", "LogME"))),
    Control("neural_collapse", "Neural collapse: t one frame (one time control on)",
            slider_step("t — picks the frame")),
    Control("deep_dive", "Model deep-dive: map → UMAP", radio("Map", ("UMAP", "PCA")),
            setup=open_tab(("Every sample on one map", "Which classes carry the score"))),
    Control("ped_dynamics", "PED: change a parameter", slider_step("Exit ratio")),
    Control("", "Leaderboard: add NLEEP", multiselect_toggle("Metrics", "NLEEP")),
]


# --- the run ----------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", choices=("prepared", "synthetic"), default="prepared")
    parser.add_argument("--pages", nargs="+", default=None, help="url paths (leaderboard = '')")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--viewport", default="1600x1000")
    parser.add_argument("--no-controls", action="store_true")
    args = parser.parse_args(argv)
    pages = [("" if p in ("leaderboard", "/") else p) for p in (args.pages or PAGES)]
    width, height = (int(v) for v in args.viewport.split("x"))

    from playwright.sync_api import sync_playwright

    log = Path(tempfile.mkdtemp(prefix="transvis-bench-")) / "streamlit.log"
    process, url = serve(args.demo, log)
    rows: list[tuple[str, str]] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": width, "height": height})
            context.add_init_script(CHANGE_STAMP)
            context.add_init_script(DRAW_COUNT)
            context.add_init_script(LAST_MESSAGE)
            page = context.new_page()
            page.set_default_timeout(30_000)  # a missing widget fails fast; runs are waited for by settle_time
            for path in pages:  # warm the server: caches, imports, the demo's persisted results
                page.goto(f"{url}/{path}")
                settle_time(page, time.perf_counter())
            draws, splits = [], []
            for path in pages:
                times, served = [], []
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    page.goto(f"{url}/{path}")
                    times.append(settle_time(page, start))
                    served.append(server_done(page))
                rows.append((f"first usable: /{path}", _fmt(times)))
                splits.append((f"server done → page drawn, first load: /{path}",
                               f"{statistics.median(served):.2f} → {statistics.median(times):.2f}"))
                draws.append((f"plotly charts · draws, first load: /{path}", "{} · {}".format(*chart_draws(page))))
            rows.extend(splits)
            rows.extend(draws)
            for path in pages:  # the same pages reached from the sidebar: the session and its caches kept
                times = []
                for _ in range(args.repeat):
                    _sidebar_link(page, "setup" if path != "setup" else "").click()
                    settle_time(page, time.perf_counter())
                    start = time.perf_counter()
                    _sidebar_link(page, path).click()
                    times.append(settle_time(page, start))
                rows.append((f"from the sidebar: /{path}", _fmt(times)))
            if not args.no_controls:
                for control in CONTROLS:
                    if control.page not in pages:
                        continue
                    rows.append((control.name, _time_control(page, url, control, args.repeat)))
            browser.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    load = os.getloadavg()
    print(f"\ntransvis in chromium ({args.demo} demo, {width}x{height}, median of {args.repeat}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs)\n")
    print(f"| {'what':<58} | {'seconds':>22} |")
    print(f"|{'-' * 60}|{'-' * 24}|")
    for name, value in rows:
        print(f"| {name:<58} | {value:>22} |")
    return 0


def _sidebar_link(page, path: str):
    """The sidebar's link to the page at ``path`` ('' = the Leaderboard)."""
    from urllib.parse import urlparse

    links = page.locator('[data-testid="stSidebarNav"] a')
    for i in range(links.count()):
        if urlparse(links.nth(i).get_attribute("href") or "").path.strip("/") == path:
            return links.nth(i)
    raise LookupError(f"no sidebar link to /{path}")


def _time_control(page, url: str, control: Control, repeat: int) -> str:
    page.goto(f"{url}/{control.page}")
    settle_time(page, time.perf_counter())
    try:
        if control.setup is not None:
            control.setup(page, 0)
            settle_time(page, time.perf_counter())
        usable, final = [], []
        for run in range(repeat):
            before = job_labels(page)
            start = time.perf_counter()
            control.act(page, run)
            times = settle_times(page, start, jobs_before=before)
            usable.append(times[0])
            final.append(times[1])
    except Exception as err:  # noqa: BLE001 - a widget renamed or missing: reported in the table, not fatal
        return f"not found ({type(err).__name__})"
    if usable == final:
        return _fmt(final)
    return f"{_fmt(usable)} usable · {_fmt(final)} final"


def _fmt(times: list[float]) -> str:
    return f"{statistics.median(times):.2f} ({min(times):.2f}–{max(times):.2f})"


if __name__ == "__main__":
    raise SystemExit(main())
