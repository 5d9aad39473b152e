"""Deep dive: ranks say when a model is tied or within noise of others, scores carry their noise."""

from __future__ import annotations

import numpy as np

from tests.app.conftest import activate_pool, errors


def _twin_pool():
    """Three models: two with identical features (every score ties exactly), one far worse."""
    from transvis.features.featureset import FeatureSet
    from transvis.session import pool_from_featuresets

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 30)
    means = rng.normal(size=(4, 8)) * 3
    good = means[labels] + rng.normal(size=(labels.size, 8))
    bad = 0.2 * means[labels] + rng.normal(size=(labels.size, 8))
    sets = [FeatureSet(features=x, labels=labels, class_names=list("abcd"), model_id=name, dataset_id="twins")
            for name, x in (("twin-a", good), ("twin-b", good.copy()), ("weak", bad))]
    return pool_from_featuresets(sets, "twins", "upload")


def _ranks_table(at):
    """The ranks and the scores (two tabs of one row order) as one frame."""
    ranks = next(f.value for f in at.dataframe if len(f.value.columns) and f.value.columns[0].startswith("rank of"))
    scores = next(f.value for f in at.dataframe if len(f.value.columns) and f.value.columns[0].endswith(" score"))
    assert list(scores.index) == list(ranks.index)
    return ranks.join(scores)


def test_tied_models_rank_as_tied_and_scores_carry_noise(app):
    at = app()
    activate_pool(at, _twin_pool())
    at.session_state["w:lb_metrics"] = ["logme", "hscore", "sfda"]
    at.session_state["w:dd_model_a"] = "twin-a"
    at.session_state["w:dd_compare"] = True
    at.session_state["w:dd_model_b"] = "twin-b"
    at.switch_page("pages/deep_dive.py").run()
    assert not at.exception, at.exception
    assert not errors(at), errors(at)
    table = _ranks_table(at)
    assert list(table.columns) == ["rank of twin-a", "rank of twin-b", "twin-a score", "twin-b score"]
    for metric in ("LogME", "H-score", "SFDA"):
        # equal scores share the first place, never "1 of 3" vs "2 of 3"
        assert table.loc[metric, "rank of twin-a"] == table.loc[metric, "rank of twin-b"] == "1 of 3 (tied)"
        assert "±" in table.loc[metric, "twin-a score"]
    at.selectbox(key="w:dd_model_b").set_value("weak").run()
    assert not at.exception, at.exception
    table = _ranks_table(at)
    assert table.loc["LogME", "rank of weak"] == "3 of 3"
    assert any("within noise" in c.value and "tied" in c.value for c in at.caption)


def test_export_offers_the_noise_and_draws_it_in_the_bump_chart(app):
    at = app("pages/export.py")
    assert not at.exception, at.exception
    assert not errors(at), errors(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"Scores (CSV)", "Scores ± noise (CSV)", "Everything (JSON)", "Download the report (HTML)"} <= set(labels)
    assert any("Each score with its noise." in c.value for c in at.caption)
    from tests.app.conftest import charts

    bump = charts(at)["ex_preview"]  # the default figure: the bump chart, with what each column cannot order
    assert any(t.get("name", "").startswith("within noise") for t in bump["data"])
    at.selectbox(key="w:ex_figure").set_value("Weighted τ per metric").run()
    bars = charts(at)["ex_preview"]["data"][0]
    assert bars["error_x"]["type"] == "data"
