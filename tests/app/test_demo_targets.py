"""The prepared demo's Leaderboard on both targets (issue 17): switch between Fashion-MNIST and MNIST-5k, each
with its own ground truth; weighted τ per target and across targets. Needs ``python -m transvis demo prepare``
(both targets); skips without it, like tests/app/test_demo_pages.py."""

from __future__ import annotations

import pytest

from tests.app.test_demo_pages import _offline_app_env, _on_demo, _skip_or_fail, no_scoring  # noqa: F401
from tests.app.conftest import open_tab
from transvis.viz import short_model_name


@pytest.fixture(scope="module")
def targets():
    """``{target: (demo, persisted ranking)}`` of every demo target (skips/fails when one is not prepared)."""
    from transvis.demo import DEMO_TARGETS, load_demo, load_demo_ranking

    out = {}
    for target in DEMO_TARGETS:
        try:
            demo = load_demo(target=target)
        except Exception as err:  # noqa: BLE001 - any reason is reported
            _skip_or_fail(f"the demo on {target} is not prepared ({err}); run `python -m transvis demo prepare`")
        ranking = load_demo_ranking(demo)
        if ranking is None or len(demo.features) < 12:
            _skip_or_fail(f"the demo pool on {target} is not fully prepared; run `python -m transvis demo prepare`")
        out[target] = demo, ranking
    return out


def _leaderboard_table(at):
    return next(f.value for f in at.dataframe if len(f.value.columns) and f.value.columns[0] == "ground truth")


def test_the_leaderboard_switches_targets_with_their_own_ground_truth(app, targets, no_scoring):  # noqa: F811
    fashion, mnist = targets["fashion-mnist"][0], targets["mnist-5k"][0]
    at = app()
    _on_demo(at, fashion)
    assert at.radio(key="lb_target").options == ["Fashion-MNIST", "MNIST-5k"]
    assert at.radio(key="lb_target").value == "fashion-mnist"
    tiers = next(c.value for c in at.caption if "The pool's tiers" in c.value)
    assert "mobilenetv2_tv · random init" in tiers and "efficientnet_lite0 · tap 2" in tiers
    at.radio(key="lb_target").set_value("mnist-5k").run()
    _on_demo(at, mnist)
    table = _leaderboard_table(at)
    assert sorted(table.index) == sorted(short_model_name(m) for m in mnist.features) and len(table) == 12
    for model, accuracy in mnist.groundtruth["linear_probe"].items():
        assert table.loc[short_model_name(model), "ground truth"] == pytest.approx(accuracy)
    # across targets: each target's τ, their mean and spread, for every persisted metric
    open_tab(at, "w:lb_tab", "Across targets")
    across = next(f.value for f in at.dataframe if "spread" in f.value.columns)
    assert list(across.columns) == ["Fashion-MNIST", "MNIST-5k", "mean", "spread"]
    rankings = {t: targets[t][1] for t in targets}
    from transvis.app_defaults import default_metrics
    from transvis.metrics import get_spec

    label = {get_spec(m).display_name: m for m in default_metrics()}
    for shown, row in across.iterrows():
        metric = label[shown]
        taus = [rankings[t].weighted_tau[metric] for t in ("fashion-mnist", "mnist-5k")]
        assert float(row["mean"]) == pytest.approx(sum(taus) / 2, abs=0.006)
        assert float(row["spread"]) == pytest.approx(max(taus) - min(taus), abs=0.006)
    at.radio(key="lb_target").set_value("fashion-mnist").run()
    _on_demo(at, fashion)
