"""transvis app: the router. Launch with ``bash scripts/app.sh`` (or ``streamlit run app.py``).

One file per page under ``pages/``; each page is thin (widgets + layout) over the ``transvis`` package.
The app opens on the Leaderboard of the built-in demo pool.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # pages import their shared helpers as ``pages._ui``
    sys.path.insert(0, str(ROOT))

import plotly.io as pio  # noqa: E402
import streamlit as st  # noqa: E402

from pages._ui import init_state, persist_widgets, sidebar_pool_summary  # noqa: E402
from transvis.viz._style import TEMPLATE  # noqa: E402

# every figure's template as plotly's default: validated once, not per figure (base_layout)
pio.templates.default = TEMPLATE

st.set_page_config(page_title="transvis — which model should I fine-tune?", page_icon=":material/insights:",
                   layout="wide")
persist_widgets()
init_state()

PAGES = {
    "Rank": [
        st.Page("pages/leaderboard.py", title="Leaderboard", icon=":material/leaderboard:", default=True),
        st.Page("pages/setup.py", title="Setup", icon=":material/tune:"),
    ],
    "Watch the methods": [
        st.Page("pages/spread_attract.py", title="Spread & Attract", icon=":material/open_with:"),
        st.Page("pages/fisher_space.py", title="Fisher space", icon=":material/center_focus_strong:"),
        st.Page("pages/ped_dynamics.py", title="PED dynamics", icon=":material/bolt:"),
        st.Page("pages/neural_collapse.py", title="Neural collapse", icon=":material/compress:"),
    ],
    "Explain & share": [
        st.Page("pages/deep_dive.py", title="Model deep-dive", icon=":material/search_insights:"),
        st.Page("pages/export.py", title="Export", icon=":material/download:"),
    ],
}

navigation = st.navigation(PAGES)
sidebar_pool_summary()
navigation.run()
