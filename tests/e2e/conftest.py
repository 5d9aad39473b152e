"""End-to-end fixtures: the app served on 127.0.0.1, driven by Playwright through Debian's chromium.

Playwright's own browser download does not work offline, so the tests install Debian's ``chromium`` when it
is missing (``scripts/install_chromium.sh``) and launch it by path. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGES = {  # url path -> page title
    "": "Leaderboard", "setup": "Setup", "spread_attract": "Spread & Attract", "fisher_space": "Fisher space",
    "ped_dynamics": "PED dynamics", "neural_collapse": "Neural collapse", "deep_dive": "Model deep-dive",
    "export": "Export",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    result = subprocess.run(["bash", str(ROOT / "scripts" / "install_chromium.sh")], capture_output=True, text=True)
    if result.returncode != 0 or not Path(CHROMIUM).exists():
        pytest.skip(f"chromium is not installed and could not be installed: {result.stderr.strip()[-300:]}")


def serve_app(tmp_path_factory, launch: list[str], extra_env: dict | None = None):
    """Serve ``app.py`` headless on a free local port with ``launch`` (the command before ``app.py``: e.g.
    ``[python, "-m", "streamlit", "run"]``), synthetic demo, offline; yields the base URL, stops it after."""
    port = _free_port()
    env = {**os.environ, "TRANSVIS_APP_DEMO": "synthetic", "HF_HUB_OFFLINE": "1",
           "TRANSVIS_CACHE": str(tmp_path_factory.mktemp("cache")), **(extra_env or {})}  # extra_env wins
    log = open(tmp_path_factory.mktemp("log") / "streamlit.log", "w")
    process = subprocess.Popen(
        [*launch, str(ROOT / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"streamlit did not come up on {url} (exit {process.poll()})")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """Base URL of the app, served headless on a free local port (synthetic demo, offline)."""
    yield from serve_app(tmp_path_factory, [sys.executable, "-m", "streamlit", "run"])


@pytest.fixture(scope="session")
def browser():
    _ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, server):
    with browser_tab(browser, accept_downloads=True) as tab:
        yield tab


@contextlib.contextmanager
def browser_tab(browser, width: int = 1400, height: int = 1000, timeout_ms: int = 120_000, **context_options):
    """A fresh browser context's one page at ``width``×``height`` with a long default timeout (a loaded 2-core
    machine renders slowly); the context is closed on leaving the block."""
    context = browser.new_context(viewport={"width": width, "height": height}, **context_options)
    tab = context.new_page()
    tab.set_default_timeout(timeout_ms)
    try:
        yield tab
    finally:
        context.close()


def wait_idle(page, timeout_s: float = 180.0) -> None:
    """Until the app shell is there and no script run is in progress (no Stop button / spinner) for 1 s."""
    page.wait_for_selector('[data-testid="stApp"]')
    deadline = time.time() + timeout_s
    quiet_since = None
    while time.time() < deadline:
        busy = (page.get_by_role("button", name="Stop").count()
                + page.locator('[data-testid="stSpinner"]').count()
                + page.locator('[data-testid="stStatusWidget"] :text("Running")').count())
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since > 1.0 and page.locator('[data-testid="stMainBlockContainer"] h1').count():
            return
        page.wait_for_timeout(250)
    raise AssertionError("the app did not finish running within the time limit")


def open_page(page, server, path: str):
    page.goto(f"{server}/{path}")
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()


def screenshot(page, name: str) -> Path:
    """Full-page PNG under test-artifacts/, asserted not blank (content, not one flat colour)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # Streamlit scrolls inside its main container, so grow the viewport to the content to capture it all
    viewport = page.viewport_size
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                           " return m ? m.scrollHeight : document.body.scrollHeight; }")
    page.set_viewport_size({"width": viewport["width"], "height": int(min(max(height, viewport["height"]), 7000))})
    # the resize makes Streamlit lay the page out again: on a loaded machine the repaint can take seconds, so a
    # blank capture is retaken (a page that stays blank still fails)
    for wait_ms in (800, 2000, 4000, 8000):
        page.wait_for_timeout(wait_ms)
        page.screenshot(path=str(path), full_page=True)
        if blank_reason(path) is None:
            break
    page.set_viewport_size(viewport)
    assert_not_blank(path)
    return path


def viewport_screenshot(page, name: str) -> Path:
    """The viewport as it is (no resizing, so hovers and scroll positions stay) as a PNG under test-artifacts/,
    asserted not blank."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    assert_not_blank(path)
    return path


def blank_reason(path: Path) -> str | None:
    """Why the PNG looks blank (one flat colour, or almost no pixels off the background), or None."""
    from PIL import Image

    grey = np.asarray(Image.open(path).convert("L"), dtype=float)
    background = np.median(grey)
    if grey.std() <= 5:
        return f"{path.name} looks blank (std {grey.std():.1f})"
    if (np.abs(grey - background) > 30).mean() <= 0.01:
        return f"{path.name} has almost no content"
    return None


def assert_not_blank(path: Path) -> None:
    """The PNG has content, not one flat colour."""
    reason = blank_reason(path)
    assert reason is None, reason


def plotly_chart(page, title_fragment: str):
    """The Streamlit plotly element whose figure title contains ``title_fragment``."""
    chart = page.locator('[data-testid="stPlotlyChart"]').filter(has=page.locator(f'text="{title_fragment}"'))
    if chart.count() == 0:
        chart = page.locator('[data-testid="stPlotlyChart"]').filter(has_text=title_fragment)
    chart.first.scroll_into_view_if_needed()
    return chart.first


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: real-browser end-to-end test (Playwright + Debian chromium)")
