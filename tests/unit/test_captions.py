"""Plain-language captions (transvis.captions): every sentence is computed from the trajectory's numbers and
never claims an order change the noise does not support."""

import numpy as np
import pytest

from tests.unit.test_dynamics_noise import constant_noise
from transvis.captions import (
    discriminant_share,
    fisher_directions_caption,
    fisher_lambda_caption,
    official_geometry_note,
    order_sentence,
    ped_badges,
    ped_stop_steps,
    ped_stops_sentence,
    score_sentence,
    trajectory_caption,
    view_movement,
)
from transvis.dynamics import Frame, Trajectory
from transvis.dynamics.frames import attach_ranks

MODELS = ["a", "b", "c"]


def crafted(method, rows, quantities=None, *, params=None, info=None, noise=None):
    """A trajectory of ``method`` over score rows [{model: score}] with per-frame quantities and info."""
    frames = [Frame(i, float(i), f"f{i}", {}, {}, dict(row),
                    quantities={m: dict((quantities or [{}] * len(rows))[i].get(m, {})) for m in row})
              for i, row in enumerate(rows)]
    attach_ranks(frames, noise=noise, metric="logme")
    return Trajectory(method=method, metric="logme", metric_params={}, params=dict(params or {}),
                      parameter="t", models=list(rows[0]), labels=np.zeros(3, dtype=int), frames=frames,
                      projection_name="PCA", info=info or {m: {} for m in rows[0]}, noise=noise)


# an overtake beyond noise: c climbs from last to first, far beyond the ±0.01 intervals
OVERTAKE = [{"a": 3.0, "b": 2.0, "c": 1.0}, {"a": 2.5, "b": 1.8, "c": 2.0}, {"a": 2.0, "b": 1.5, "c": 3.5}]
# a within-noise swap: b and c trade places by 0.01 inside ±0.5 intervals; a stays far ahead
WITHIN = [{"a": 5.0, "b": 2.01, "c": 2.0}, {"a": 4.5, "b": 1.50, "c": 1.51}]


def _noise(rows, half):
    return constant_noise(dict(rows[0]), half)


PAPER_Q = [{m: {"intra_class_spread": 2.0, "mean_centre_distance": 10.0} for m in MODELS},
           {m: {"intra_class_spread": 2.3, "mean_centre_distance": 8.5} for m in MODELS},
           {m: {"intra_class_spread": 2.6, "mean_centre_distance": 7.0} for m in MODELS}]
KINDS = {
    "spread_attract": dict(quantities=PAPER_Q, params={"variant": "paper"}),
    "fisher": dict(params={"sweep": "confmix"},
                   info={m: {"mixing_weights": np.array([0.9, 0.7, 0.8])} for m in MODELS}),
    "ped": dict(params={"max_steps": 2, "exit_ratio": 0.5},
                quantities=[{m: {"potential_energy": 4.0} for m in MODELS},
                            {m: {"potential_energy": 2.0} for m in MODELS},
                            {m: {"potential_energy": 1.0} for m in MODELS}],
                info={"a": {"num_steps": 1, "change_ratios": [1.0, 0.4]},
                      "b": {"num_steps": 2, "change_ratios": [1.0, 0.6]},
                      "c": {"num_steps": 2, "change_ratios": [1.0, 0.7]}}),
    "collapse": dict(params={"to_etf": True},
                     quantities=[{m: {"nc1": 2.0} for m in MODELS}, {m: {"nc1": 0.5} for m in MODELS},
                                 {m: {"nc1": 0.0} for m in MODELS}]),
}


def _kind(kind, rows, noise):
    spec = dict(KINDS[kind])
    quantities = spec.pop("quantities", None)
    if quantities is not None and len(rows) == 2:
        quantities = [quantities[0], quantities[-1]]
    return crafted(kind, rows, quantities, noise=noise, **spec)


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_overtake_beyond_noise_is_named(kind):
    traj = _kind(kind, OVERTAKE, _noise(OVERTAKE, 0.01))
    caption = trajectory_caption(traj, "LogME")
    assert "c overtook a and b beyond noise" in caption
    assert "order held" not in caption


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_within_noise_swap_is_told_as_the_order_holding(kind):
    traj = _kind(kind, WITHIN, _noise(WITHIN, 0.5))
    assert traj.frames[-1].overtakes == []  # the frames announced nothing
    caption = trajectory_caption(traj, "LogME")
    assert "the order held except that c passed b, within noise" in caption
    assert "overtook" not in caption
    assert caption.endswith(".") and caption[0].isupper()


def test_kind_sentences_come_from_the_quantities():
    paper = _kind("spread_attract", OVERTAKE, None)
    assert trajectory_caption(paper, "LogME").startswith(
        "Spread pushed every sample 30 % further from its class centre and Attract pulled the class centres 30 % "
        "closer together")
    fisher = _kind("fisher", OVERTAKE, None)
    assert "ConfMix slid each sample on average 20 % of the way" in trajectory_caption(fisher, "SFDA")
    collapse = _kind("collapse", OVERTAKE, None)
    text = trajectory_caption(collapse, "LogME")
    assert "regular simplex" in text and "NC1) fell from 2 to 0" in text


def test_ped_says_when_each_model_stops():
    ped = _kind("ped", OVERTAKE, None)
    assert ped_stop_steps(ped) == {"a": 1, "b": 2, "c": 2}
    # the race marks a from the frame where it stopped on; b and c ran every step and get no mark
    assert ped_badges(ped) == [{}, {"a": "■ stopped at step 1"}, {"a": "■ stopped at step 1"}]
    assert ped_badges(_kind("fisher", OVERTAKE, None)) is None
    assert ped_stops_sentence(ped) == "a stopped after 1 step; b and c ran all 2 steps"
    assert "potential energy down 75 %" in trajectory_caption(ped, "SFDA")
    none_stop = crafted("ped", OVERTAKE, params={"max_steps": 2, "exit_ratio": 0.5},
                        info={m: {"num_steps": 2, "change_ratios": [1.0, 0.79]} for m in MODELS})
    assert ped_stops_sentence(none_stop) == ("no model reached the exit ratio 0.5 (change ratios fell only to "
                                             "0.79): every model ran all 2 steps")


def test_score_sentence_counts_and_spans():
    traj = crafted("collapse", OVERTAKE)
    # a: 3 → 2 (fell 1), b: 2 → 1.5 (fell 0.5), c: 1 → 3.5 (rose 2.5)
    assert score_sentence(traj, "LogME") == "LogME fell for 2 of 3 models (by 0.5–1) and rose for 1 (by 2.5)"
    same = crafted("collapse", [{"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.0}])
    assert score_sentence(same, "LogME") == "LogME stayed the same for every model"
    fell = crafted("collapse", [{"a": 1.0, "b": 2.0}, {"a": 0.5, "b": 1.5}])
    assert score_sentence(fell, "LogME") == "LogME fell for every model (by 0.5)"


def test_an_overtake_undone_later_is_not_claimed():
    rows = [{"a": 3.0, "b": 1.0}, {"a": 1.0, "b": 3.0}, {"a": 3.0, "b": 1.0}]
    traj = crafted("collapse", rows, noise=_noise(rows, 0.01))
    assert len(traj.all_overtakes()) == 2
    assert order_sentence(traj) == "the order held"


def test_official_geometry_note_separates_the_pca_from_the_step():
    rows = [{"a": 2.0, "b": 1.0}, {"a": 1.7, "b": 0.7}, {"a": 1.69, "b": 0.69}]
    q = [{m: {"mean_centre_distance": 10.0} for m in "ab"}, {m: {"mean_centre_distance": 10.0} for m in "ab"},
         {m: {"mean_centre_distance": 10.02, "alpha": 0.005} for m in "ab"}]
    traj = crafted("spread_attract", rows, q, params={"variant": "official", "pca_dims": 64},
                   info={m: {"gate_fired": True} for m in "ab"})
    note = official_geometry_note(traj)
    assert "Spread is computed and discarded" in note and "α = 0.005" in note
    assert "by at most 0.2 %" in note
    assert "64 PCA dimensions first (-0.3), not from the step (-0.01)" in note
    assert official_geometry_note(crafted("spread_attract", rows, q, params={"variant": "paper"})) is None


def test_fisher_lambda_caption_is_true_to_the_numbers():
    same = fisher_lambda_caption({"x/a": 1e-10, "x/b": 1e-10, "x/c": 1e-10}, adaptive=True)
    assert "1e-10 for all 3 models: they are regularised identically" in same and "floor" in same
    assert "differently" not in same
    spread = fisher_lambda_caption({"x/a": 1e-4, "x/b": 0.02}, adaptive=True)
    assert "ranges from 0.0001 (a) to 0.02 (b)" in spread and "regularised differently" in spread
    fixed = fisher_lambda_caption({"a": 0.01, "b": 0.01}, adaptive=False)
    assert fixed.startswith("the fixed λ is 0.01 for all 2 models") and "floor" not in fixed


def test_discriminant_share_of_the_drawn_plane():
    # C = 4 classes: three non-zero generalised eigenvalues 6, 3, 1 (and numerical zeros beyond)
    eig = [1.0, 6.0, 3.0, 1e-14, -1e-15]
    assert discriminant_share(eig, 4) == pytest.approx(0.9)
    assert discriminant_share(eig, 4, n_drawn=1) == pytest.approx(0.6)
    text = fisher_directions_caption(eig, 4, "offline/m")
    assert "draws 2 of the C − 1 = 3 discriminant directions of m, which carry 90 %" in text


def test_view_movement_measures_the_drawn_displacement():
    start = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    positions = np.stack([start, start + [1.0, 0.0]])
    moved = view_movement(positions)
    assert moved["mean"] == pytest.approx(1.0) and moved["share"] == pytest.approx(1.0 / 11.0)
    shrunk = view_movement(np.stack([start, start * 0.1]))
    assert shrunk["last_extent"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="frames, samples, 2"):
        view_movement(np.zeros((3, 2)))


def test_captions_name_twins_and_taps_as_the_race_does():
    from transvis.captions import _short

    assert _short("offline/mobilenetv2_tv.random_init") == "mobilenetv2_tv · random init"
    assert _short("offline/efficientnet_lite0@tap1") == "efficientnet_lite0 · tap 1"
    assert _short("offline/efficientnet_lite0") == "efficientnet_lite0"
