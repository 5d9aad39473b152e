"""Presentation scripts: every kind narrated, frames valid for real trajectories, formulas well formed."""

import re

import pytest

from tests.synthetic import blobs
from transvis.app_defaults import DYNAMICS_DEFAULTS
from transvis.dynamics import available_dynamics, get_dynamics_spec, run
from transvis.presentation import (
    SCRIPTS,
    STATISTIC_LABELS,
    Step,
    format_statistic,
    parse_query,
    query_for,
    script,
)


def test_every_registered_kind_has_a_script_of_three_to_five_steps():
    kinds = {get_dynamics_spec(k).name for k in available_dynamics()}
    assert kinds == set(SCRIPTS)
    for kind, s in SCRIPTS.items():
        assert s.kind == kind and 3 <= len(s.steps) <= 5
        for step in s.steps:
            assert step.title and len(step.text) > 40 and step.formulas
            assert all(k in STATISTIC_LABELS for k in step.statistics)
    with pytest.raises(KeyError, match="scripts exist for"):
        script("nonsense")


def test_neural_collapse_follows_nc1_nc2_nc3_nc4_then_transfer():
    titles = [s.title for s in script("collapse").steps]
    assert [t.split(" ")[0] for t in titles[:4]] == ["NC1", "NC2", "NC3", "NC4"]
    assert "transfer" in titles[4]
    nc1, etf = script("collapse").steps[:2]
    assert nc1.frame_indices(11) == list(range(11)) and nc1.start_index(11) == 0
    assert etf.figure == "etf" and dict(etf.params) == {"to_etf": True} and etf.start_index(11) == 10
    assert r"\operatorname{tr}" in nc1.formulas[1] and r"\Sigma_B^{\dagger}" in nc1.formulas[1]


def _balanced(formula: str) -> bool:
    depth = 0
    for ch in formula.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


@pytest.mark.parametrize("kind", sorted(SCRIPTS))
def test_formulas_are_latex_not_unicode_prose(kind):
    for step in script(kind).steps:
        for formula in step.formulas:
            assert _balanced(formula), formula
            assert "$" not in formula
            assert formula.count(r"\left") == formula.count(r"\right"), formula
            assert re.search(r"\\[a-zA-Z]+", formula), f"no LaTeX command in {formula!r}"
            assert not re.search(r"[Σμ⁺†√]", formula), f"unicode maths in {formula!r}: write LaTeX"


@pytest.fixture(scope="module")
def features():
    x1, y = blobs(240, 12, 4, seed=1, spread=1.0)
    x2, _ = blobs(240, 12, 4, seed=2, spread=2.0)
    return {"a": x1, "b": x2}, y


@pytest.mark.parametrize("kind", sorted(SCRIPTS))
def test_each_steps_frames_and_statistics_exist_in_its_trajectory(kind, features):
    feats, labels = features
    metric, defaults = DYNAMICS_DEFAULTS[kind]
    s = script(kind)
    for index, step in enumerate(s.steps):
        traj = run(kind, feats, labels, metric=metric, **s.params(index, defaults))
        n = len(traj.frames)
        indices = step.frame_indices(n)
        assert indices and all(0 <= i < n for i in indices) and step.start_index(n) in indices
        for i in indices:
            q = traj.frames[i].quantities["a"]
            for key in step.statistics:
                assert key in q, f"{kind} step {index + 1}: {key!r} not in frame {i}'s quantities"


def test_frame_fractions_resolve_for_any_length_and_bad_steps_are_refused():
    step = Step("x", "y" * 50, ("a",), frames=(0.5, 1.0), start=0.5)
    assert step.frame_indices(5) == [2, 3, 4] and step.start_index(5) == 2
    assert step.frame_indices(1) == [0]
    with pytest.raises(ValueError, match="first ≤ last"):
        Step("x", "y", frames=(0.8, 0.2))
    with pytest.raises(ValueError, match="outside"):
        Step("x", "y", frames=(0.0, 0.5), start=1.0)


def test_query_round_trip_and_clamping():
    assert parse_query({"present": "1", "step": "3"}, 5) == (True, 2)
    assert parse_query({"present": ["true"], "step": ["9"]}, 5) == (True, 4)
    assert parse_query({"step": "x"}, 5) == (False, 0)
    assert parse_query({}, 4) == (False, 0)
    assert parse_query(query_for(True, 3), 5) == (True, 3)
    assert query_for(False, 3) == {}


def test_format_statistic_never_prints_round_off():
    assert format_statistic(3.2e-33) == "0 (collapsed)"
    assert format_statistic(-1e-15) == "0 (collapsed)"
    assert format_statistic(2.5e-6) == "2.500e-06"
    assert format_statistic(0.123456) == "0.1235"
    assert format_statistic(float("nan")) == "–" and format_statistic(None) == "–"


def test_frame_statistics_reads_one_frame_with_ranks_and_ties():
    from types import SimpleNamespace

    from transvis.presentation import frame_rank_text, frame_statistics

    frame = SimpleNamespace(quantities={"a": {"nc1": 1e-20}, "b": {"nc1": 0.5}, "c": {"nc1": 0.25}},
                            scores={"a": 2.0, "b": 1.0, "c": 1.0}, ranks={"a": 1, "b": 2, "c": 2},
                            tiers=[["a"], ["b", "c"]])
    assert frame_rank_text(frame, "a") == "1 of 3" and frame_rank_text(frame, "c") == "2–3 of 3 (≈)"
    table = frame_statistics(frame, ["a", "b", "c"], ("nc1",), score_label="LogME")
    assert list(table.index) == ["NC1 ↓", "LogME", "rank"]
    assert table.loc["NC1 ↓", "a"] == "0 (collapsed)" and table.loc["NC1 ↓", "b"] == "0.5"
    assert table.loc["rank", "b"] == "2–3 of 3 (≈)"
    assert list(frame_statistics(frame, ["a"], ("nc1",), score_and_rank=False).index) == ["NC1 ↓"]


def test_collapse_intervals_map_the_nc_scores_interval_to_nc1_and_keep_faces():
    import numpy as np

    from transvis.presentation import collapse_intervals
    from transvis.uncertainty import ScoreNoise

    nc = ScoreNoise(estimate={"a": 0.5, "b": 0.25}, replicates={"a": np.array([0.45, 0.55, 0.5]),
                                                              "b": np.array([0.25, 0.25, np.nan])},
                    factor={"a": 0.25, "b": 0.25}, signature={"a": "s", "b": "s"})
    face = ScoreNoise(estimate={"a": 3.0}, replicates={"a": np.array([2.0, 4.0])}, factor={"a": 1.0},
                      signature={"a": "s"})
    low, high = nc.interval("a")
    assert low < 0.5 < high
    out = collapse_intervals(nc, face, ["a", "b", "c"])
    assert out["nc1"]["a"] == pytest.approx((1 / high - 1, 1 / low - 1))
    assert out["nc1"]["a"][0] < 1.0 < out["nc1"]["a"][1]  # NC1 = 1/0.5 − 1 = 1 inside
    assert out["nc1"]["b"] == pytest.approx((3.0, 3.0))  # no spread among the finite replicates
    assert out["face"] == {"a": face.interval("a")} and set(out) == {"nc1", "face"}
    assert collapse_intervals(None, None, ["a"]) == {}
    wide = ScoreNoise(estimate={"a": 0.1}, replicates={"a": np.array([-1.0, 1.0])}, factor={"a": 1.0},
                      signature={"a": "s"})
    assert collapse_intervals(wide, None, ["a"])["nc1"]["a"][1] == float("inf")  # the score's interval reaches 0
