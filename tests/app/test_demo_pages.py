"""Every page on the real demo the app opens on: the offline demo zoo (7 models) on Fashion-MNIST.

Needs ``python -m transvis demo prepare`` (run by scripts/setup.sh). Without it these tests skip locally, and
fail where ``CI`` is set: CI runs after setup, so a missing demo there is a broken setup, not a reason to skip.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.app.conftest import charts, errors, open_tab
from transvis.viz import short_model_name

PAGES = ["pages/leaderboard.py", "pages/setup.py", "pages/spread_attract.py", "pages/fisher_space.py",
         "pages/ped_dynamics.py", "pages/neural_collapse.py", "pages/deep_dive.py", "pages/export.py"]
# Pages whose defaults are persisted by `transvis demo prepare` (rankings and trajectories): on the demo they
# must neither score nor compute a trajectory on first render.
DYNAMICS_PAGES = {"pages/spread_attract.py": "spread_attract", "pages/fisher_space.py": "fisher",
                  "pages/ped_dynamics.py": "ped", "pages/neural_collapse.py": "collapse", "pages/export.py": None}
PREPARE = "run `python -m transvis demo prepare` (scripts/setup.sh does)"


def _prepared_demo():
    """``(demo, persisted ranking, None)`` or ``(None, None, why not)``."""
    from transvis.demo import load_demo, load_demo_ranking

    try:
        demo = load_demo()
    except Exception as err:  # noqa: BLE001 - any reason is reported
        return None, None, f"the real demo is not prepared ({type(err).__name__}: {err}); {PREPARE}"
    ranking = load_demo_ranking(demo)
    if ranking is None:
        return None, None, ("the demo's persisted default ranking is missing or stale (its features, the default "
                            f"metrics or the scoring code changed since it was prepared); {PREPARE}")
    return demo, ranking, None


def _skip_or_fail(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"CI runs after setup, which prepares the demo, but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def prepared():
    demo, ranking, reason = _prepared_demo()
    if reason is not None:
        _skip_or_fail(reason)
    return demo, ranking


@pytest.fixture(scope="module")
def persisted_trajectories(prepared):
    """``{kind: Trajectory}`` persisted for the dynamics pages' defaults (skips/fails like ``prepared``)."""
    from transvis.demo import load_demo_trajectories
    from transvis.app_defaults import DYNAMICS_DEFAULTS
    from transvis.session import trajectory_request_key

    loaders = load_demo_trajectories(prepared[0])
    keys = {kind: trajectory_request_key(kind, metric, params) for kind, (metric, params) in DYNAMICS_DEFAULTS.items()}
    if set(keys.values()) - set(loaders):
        _skip_or_fail("the demo's persisted default trajectories are missing or stale (its features, the pages' "
                      f"defaults, or the dynamics or scoring code changed since it was prepared); {PREPARE}")
    return {kind: loaders[key]() for kind, key in keys.items()}


@pytest.fixture(autouse=True)
def _offline_app_env(monkeypatch):
    """Overrides conftest's: the app's own choice of demo (the real one when prepared) and the real cache."""
    monkeypatch.setenv("TRANSVIS_APP_DEMO", "auto")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def no_scoring(monkeypatch):
    """Scoring anything fails the page: proves it drew from the persisted ranking."""
    import transvis.ranking

    def refuse(*args, **kwargs):
        raise AssertionError("the page scored the demo instead of using its persisted ranking")

    monkeypatch.setattr(transvis.ranking, "rank_models", refuse)


@pytest.fixture
def no_dynamics(monkeypatch):
    """Computing any trajectory fails the page (shown as an error box): proves it drew the persisted one."""
    import pages._dynamics
    import transvis.dynamics

    def refuse(*args, **kwargs):
        raise AssertionError("the page computed a trajectory instead of using the demo's persisted one")

    monkeypatch.setattr(transvis.dynamics, "run", refuse)
    monkeypatch.setattr(pages._dynamics, "_trajectory", refuse)  # also an earlier test's cached computation


def _on_demo(at, demo) -> None:
    assert not at.exception, at.exception
    assert not errors(at), errors(at)
    assert any(f"Pool:** {demo.name}" in m.value for m in at.sidebar.markdown), "fell back to the synthetic demo"


def test_app_opens_on_the_ready_demo_ranking(app, prepared, no_scoring):
    demo, ranking = prepared
    at = app()
    _on_demo(at, demo)
    assert "Leaderboard" in at.title[0].value
    table = next(f.value for f in at.dataframe if len(f.value.columns) and f.value.columns[0] == "ground truth")
    assert sorted(table.index) == sorted(short_model_name(m) for m in demo.features)
    for model in demo.features:
        short = short_model_name(model)
        assert table.loc[short, "logme"] == pytest.approx(ranking.scores.at[model, "logme"])
        assert table.loc[short, "ground truth"] == pytest.approx(demo.groundtruth["linear_probe"][model])
    assert not charts(at)  # the charts' tabs are closed (pages._ui.lazy_tabs): the table alone at first load
    for label, keys in (("Metrics vs ground truth", {"lb_scatter", "lb_corr_bars"}),
                        ("Rank bump chart", {"lb_bump"}), ("Metric agreement", {"lb_agreement"})):
        open_tab(at, "w:lb_tab", label)
        _on_demo(at, demo)
        assert keys <= set(charts(at)), label
    open_tab(at, "w:lb_tab", "Table")
    # The demo samples enough images per class (N - C > D) that SFDA and PED separate every model
    # instead of tying at 1.0, and the page raises no tie warning.
    for metric in ("sfda", "ped"):
        scores = ranking.scores[metric]
        assert scores.max() < 1.0 and scores.nunique() == len(scores), (metric, scores.to_dict())
    # The only tie: NCE of the two random-init twins, whose random source heads predict one class for every
    # image, so both sit at NCE's minimum −H(labels) — a degenerate score the library flags, not float noise.
    twins = sorted(m for m in demo.features if m.endswith(".random_init"))
    ties = ranking.tied_scores()
    assert set(ties) <= {"nce"}, ties
    for score, models in ties.get("nce", []):
        assert models == twins and score == pytest.approx(-np.log(len(demo.class_names)), rel=1e-6)
        assert all(ranking.results["nce"][m].degenerate for m in models)
    assert not [w.value for w in at.warning if "tied scores" in w.value and "NCE" not in w.value]
    # ... but xception's 2,048 dimensions leave 1.46 samples per dimension: the page says what that does.
    infos = [i.value for i in at.info if "Samples per dimension" in i.value]
    assert len(infos) == 1 and "xception_kitchenware: D = 2,048 for N - C = 2,990 (1.46 per dimension)" in infos[0]
    assert "efficientnet" not in infos[0] and "vgg16" not in infos[0]


def test_the_leaderboard_offers_every_ground_truth_regime_of_the_demo(app, prepared, no_scoring):
    demo, ranking = prepared
    at = app()
    options = at.selectbox(key="w:lb_gt").options  # as shown: the regimes' readable labels
    labels = {"linear_probe": "linear probe (frozen features)", "finetune": "fine-tuning (whole network)"}
    assert {labels[r] for r in demo.groundtruth} <= set(options) and "none" in options
    if "finetune" not in demo.groundtruth:
        pytest.skip("the demo's ground-truth CSV has no finetune rows yet; only linear_probe to choose")
    at.selectbox(key="w:lb_gt").set_value("finetune").run()
    _on_demo(at, demo)
    table = next(f.value for f in at.dataframe if len(f.value.columns) and f.value.columns[0] == "ground truth")
    for model, accuracy in demo.groundtruth["finetune"].items():
        assert table.loc[short_model_name(model), "ground truth"] == pytest.approx(accuracy)


@pytest.mark.parametrize("page", list(DYNAMICS_PAGES))
def test_dynamics_pages_compute_nothing_on_the_demo_at_their_defaults(app, prepared, persisted_trajectories,
                                                                       no_scoring, no_dynamics, page):
    at = app(page)
    _on_demo(at, prepared[0])
    figures = charts(at)
    assert figures, f"{page} drew no chart"
    kind = DYNAMICS_PAGES[page]
    if kind is None:  # Export: the default animation (Neural collapse's trajectory) is offered for download
        assert any(b.proto.label == "Download animation (HTML)" for b in at.get("download_button"))
        return
    traj = persisted_trajectories[kind]
    if kind == "collapse":  # one time control by default: a still of the t slider's frame, the slider over all
        assert "nc_still" in figures and len(at.select_slider(key="w:nc_t").options) == traj.n_frames > 1
        return
    animation = next(spec for key, spec in figures.items() if key.endswith("_anim"))
    assert len(animation["frames"]) == traj.n_frames > 1, f"{page}: not the persisted trajectory's frames"


@pytest.mark.parametrize("page", [p for p in PAGES if p not in DYNAMICS_PAGES and p != "pages/leaderboard.py"])
def test_every_other_page_renders_on_the_real_demo(app, prepared, page):
    demo, _ = prepared
    at = app(page)
    _on_demo(at, demo)
    if page != "pages/setup.py":
        assert charts(at), f"{page} drew no chart"


def test_the_issues_rank_command_reuses_the_demo_and_agrees_with_the_app(prepared, tmp_path):
    """`transvis rank --dataset fashion-mnist --models demo ... --json out.json` on the prepared demo: every
    model's features come from the store (no extraction), its scores are the app's persisted ones, and its
    weighted tau is the one the Leaderboard shows for the same ground truth."""
    import json
    import subprocess
    import sys

    import numpy as np

    from transvis.session import with_groundtruth

    demo, ranking = prepared
    out = tmp_path / "out.json"
    metrics = ["logme", "sfda", "ped", "fsp", "face"]
    command = [sys.executable, "-m", "transvis", "rank", "--dataset", "fashion-mnist", "--models", "demo",
               "--metrics", ",".join(metrics), "--groundtruth", "linear_probe", "--json", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert (result.stdout + result.stderr).count("(cached)") == len(demo.features), result.stderr[:2000]
    payload = json.loads(out.read_text())
    by_model = {entry["model"]: entry for entry in payload["models"]}
    assert sorted(by_model) == sorted(demo.features)
    for model, entry in by_model.items():
        assert set(entry["scores"]) == set(metrics) and set(entry["ranks"]) == set(metrics)
        for metric in metrics:
            assert entry["scores"][metric] == pytest.approx(ranking.scores.at[model, metric], rel=1e-9, abs=1e-12)
        assert entry["accuracy"] == pytest.approx(demo.groundtruth["linear_probe"][model])
    expected = with_groundtruth(ranking.select(metrics), demo.groundtruth["linear_probe"]).weighted_tau
    assert set(payload["weighted_tau"]) == set(metrics)
    for metric in metrics:
        assert np.isfinite(payload["weighted_tau"][metric])
        assert payload["weighted_tau"][metric] == pytest.approx(expected[metric], abs=1e-12)
