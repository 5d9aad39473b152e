"""What each page's figures cost the browser to draw: every plotly figure of a page, drawn alone in chromium.

    .venv/bin/python bench/figures.py                                  # every page with figures, as the app draws them
    .venv/bin/python bench/figures.py --pages spread_attract deep_dive
    .venv/bin/python bench/figures.py --compare-margins                # + each figure with plotly's auto margins off
    .venv/bin/python bench/figures.py --compare-webgl                  # + static marker scatters as WebGL

The page runs in AppTest on the demo the app opens on (the prepared one where it exists); each figure's JSON is
then drawn by ``Plotly.newPlot`` in a 1,100 px wide div in headless chromium, with python plotly's own
``plotly.min.js`` (the app's bundle may be another plotly.js version), three times, the fastest kept: the time
from the call to the next animation frame. This isolates the drawing from the server, the network and React,
which ``bench/browser.py`` measures together. Columns: milliseconds, the figure's JSON size, the SVG marker
points drawn, the frames it carries. ``--compare-margins`` redraws each figure with ``margin.autoexpand`` off
(plotly otherwise redraws a figure whose legend, colour bar or slider pushes its margins);
``--compare-webgl`` with its frame-less marker scatters as ``scattergl`` (chromium here renders WebGL in
software, SwiftShader). Timings vary with the load: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PAGES = ("leaderboard", "spread_attract", "fisher_space", "ped_dynamics", "neural_collapse", "deep_dive", "export")
DRAW_JS = """async (spec) => {
  const fig = JSON.parse(spec); const times = [];
  for (let i = 0; i < 3; i++) {
    const div = document.getElementById('g'); Plotly.purge(div);
    const start = performance.now();
    await Plotly.newPlot(div, {data: fig.data, layout: fig.layout, frames: fig.frames || [], config: {}});
    await new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)));
    times.push(performance.now() - start);
  }
  return [Math.min(...times), document.querySelectorAll('#g .point').length];
}"""


def page_figures(pages) -> list[tuple[str, str, str]]:
    """(page, chart key, figure JSON) of every plotly chart each page draws in AppTest."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=600)
    app.run()
    out = []
    for page in pages:
        app.switch_page(f"pages/{page}.py").run()
        for element in app.get("plotly_chart"):
            out.append((page, element.proto.id.rsplit("-", 1)[-1], element.proto.spec))
    return out


def variant(spec: str, *, autoexpand: bool | None = None, webgl: bool = False) -> str:
    fig = json.loads(spec)
    if autoexpand is not None:
        fig.setdefault("layout", {}).setdefault("margin", {})["autoexpand"] = autoexpand
    if webgl and not fig.get("frames"):
        for trace in fig.get("data", []):
            if trace.get("type", "scatter") == "scatter" and "markers" in trace.get("mode", "markers"):
                trace["type"] = "scattergl"
    return json.dumps(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", nargs="+", choices=PAGES, default=list(PAGES))
    parser.add_argument("--compare-margins", action="store_true", help="also draw with margin.autoexpand off")
    parser.add_argument("--compare-webgl", action="store_true", help="also draw static marker scatters as WebGL")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args(argv)

    import plotly
    from playwright.sync_api import sync_playwright

    figures = page_figures(args.pages)
    bundle = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text()
    extra = ([("auto margins off", dict(autoexpand=False))] if args.compare_margins else []) + \
            ([("WebGL", dict(webgl=True))] if args.compare_webgl else [])
    print(f"figures drawn alone in chromium (plotly.js of python plotly {plotly.__version__}), fastest of 3; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs\n")
    header = "| page | chart | as drawn ms | JSON kB | SVG points | frames |" + "".join(f" {n} ms |" for n, _ in extra)
    print(header)
    print("|---|---|---:|---:|---:|---:|" + "---:|" * len(extra))
    totals: dict[str, list[float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--headless"])
        tab = browser.new_page(viewport={"width": 1600, "height": 1000})
        tab.set_content("<html><body><div id='g' style='width:1100px'></div></body></html>")
        tab.add_script_tag(content=bundle)
        for page, key, spec in figures:
            ms, points = tab.evaluate(DRAW_JS, spec)
            others = [tab.evaluate(DRAW_JS, variant(spec, **kwargs))[0] for _, kwargs in extra]
            row = totals.setdefault(page, [0.0] * (1 + len(extra)))
            for i, value in enumerate([ms, *others]):
                row[i] += value
            frames = len(json.loads(spec).get("frames") or [])
            print(f"| {page} | {key} | {ms:.0f} | {len(spec) / 1e3:.0f} | {points} | {frames} |"
                  + "".join(f" {v:.0f} |" for v in others))
        browser.close()
    print("\n| page | figures drawn, total ms |" + "".join(f" {n}, total ms |" for n, _ in extra))
    print("|---|---:|" + "---:|" * len(extra))
    for page, row in totals.items():
        print(f"| {page} | {row[0]:.0f} |" + "".join(f" {v:.0f} |" for v in row[1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
