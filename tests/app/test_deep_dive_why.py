"""Deep dive's "Why does A rank above B?" panel on a crafted pool where A beats B because of one class."""

from __future__ import annotations

import numpy as np

from tests.app.conftest import activate_pool, charts, errors, values

METRICS = ["sfda", "ncm_softmax", "logme", "nc", "gbc", "face"]


def _one_class_pool():
    """A and B identical but for class "d" (separated in A, spread over the others in B); "weak" mixes all."""
    from transvis.features.featureset import FeatureSet
    from transvis.session import pool_from_featuresets

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 80)
    means = np.eye(4, 10) * 6.0
    noise = rng.normal(size=(labels.size, 10))
    a = means[labels] + noise
    b = a.copy()
    b[labels == 3] = 0.25 * means[3] + 3.0 * noise[labels == 3]
    weak = 0.3 * means[labels] + noise
    sets = [FeatureSet(features=x, labels=labels, class_names=list("abcd"), model_id=name, dataset_id="oneclass")
            for name, x in (("model-A", a), ("model-B", b), ("weak", weak))]
    return pool_from_featuresets(sets, "oneclass", "upload",
                                 groundtruth={"linear_probe": {"model-A": 0.9, "model-B": 0.8, "weak": 0.6}})


def _open(app, b="model-B"):
    at = app()
    activate_pool(at, _one_class_pool())
    at.session_state["w:lb_metrics"] = METRICS
    at.session_state["w:dd_model_a"] = "model-A"
    at.session_state["w:dd_compare"] = True
    at.session_state["w:dd_model_b"] = b
    at.switch_page("pages/deep_dive.py").run()
    assert not at.exception, at.exception
    assert not errors(at), errors(at)
    return at


def _frame(at, first_column):
    """The dataframe whose first column's name starts with ``first_column``."""
    return next(f.value for f in at.dataframe
                if len(f.value.columns) and str(f.value.columns[0]).startswith(first_column))


def test_why_panel_lists_the_class_that_makes_the_difference_first(app):
    at = _open(app)
    assert any(h.value == "Why does model-A rank above model-B?" for h in at.subheader)
    answer = next(i.value for i in at.info if "metrics" in i.value)
    assert answer.startswith("model-A is ahead of model-B on 6 of 6 metrics")
    assert "linear probe agrees (90.0% vs 80.0%" in answer
    reasons = next(m.value for m in at.markdown if m.value.startswith("**The classes that carry the lead**"))
    assert reasons.split("\n")[2].startswith("1. **d** favours model-A on 6 of 6 split metrics (model-A vs model-B)")
    heat = charts(at)["dd_why_classes"]["data"][0]
    assert heat["y"][0] == "d"
    assert heat["zmin"] == -heat["zmax"]
    verdicts = _frame(at, "family")
    assert verdicts.index[0] == "ground truth: linear probe"
    assert len(verdicts) == len(METRICS) + 1
    assert set(verdicts["verdict"].iloc[1:]) == {"model-A ahead beyond noise"}
    # the rank table: every metric and the ground truth, ordered by τ, not cut
    ranks = _frame(at, "rank of")
    assert ranks.index[0] == "ground truth: linear probe (accuracy %)" and len(ranks) == len(METRICS) + 1
    # the per-class heat maps: one scale, one colour bar
    a, b = charts(at)["dd_heat_a"]["data"][0], charts(at)["dd_heat_b"]["data"][0]
    assert (a["zmin"], a["zmax"]) == (b["zmin"], b["zmax"])
    assert [a.get("showscale"), b.get("showscale")] == [False, True]


def test_why_panel_follows_the_selected_pair(app):
    at = _open(app, b="weak")
    assert any(h.value == "Why does model-A rank above weak?" for h in at.subheader)
    at.selectbox(key="w:dd_model_a").set_value("weak").run()
    assert not at.exception, at.exception
    # B is now model-B; weak is behind it: the question turns round
    assert at.selectbox(key="w:dd_model_b").value == "model-B"
    assert any(h.value == "Why does model-B rank above weak?" for h in at.subheader)
    answer = next(i.value for i in at.info if "metrics" in i.value)
    assert answer.startswith("model-B is ahead of weak")


def test_a_leaderboard_variant_change_redraws_the_cached_per_class_heat_maps(app):
    """The per-class heat maps are cached per pool and pair; the key holds the detail metrics' variants, so
    choosing another LogME variant on the Leaderboard shows that variant's per-class evidence, not the last one's."""
    from transvis.metrics import compute

    pool = _one_class_pool()
    features = pool.features["model-A"]
    features = getattr(features, "features", features)

    def logme_column(at):
        heat = charts(at)["dd_heat_a"]["data"][0]
        return values(heat["text"])[:, list(heat["x"]).index("LogME evidence ↑")].astype(float)

    at = _open(app)
    expected = {v: compute("logme", features, pool.labels, variant=v).trace["evidence"]
                for v in ("exact", "official_icml")}
    assert not np.allclose(expected["exact"], expected["official_icml"], rtol=1e-7, atol=0)  # they differ here
    np.testing.assert_allclose(logme_column(at), expected["exact"], rtol=1e-9)
    at.session_state["w:lb_variant_logme"] = "official_icml"
    at.run()
    assert not at.exception, at.exception
    np.testing.assert_allclose(logme_column(at), expected["official_icml"], rtol=1e-9)
