"""transvis.demo.showcase: the model or pair that makes a method's point, chosen from the numbers."""

import numpy as np
import pytest

from transvis.demo.showcase import Showcase, groundtruth_contrast, rank_contrast
from transvis.dynamics.frames import Frame, Overtake, Trajectory


def _trajectory(ranks_per_frame, overtakes_per_frame):
    models = list(ranks_per_frame[0])
    frames = [Frame(index=i, value=i / (len(ranks_per_frame) - 1), label=f"t={i}", positions={}, centres={},
                    scores={m: -float(r) for m, r in ranks.items()}, ranks=dict(ranks),
                    overtakes=[Overtake(a, b) for a, b in overtakes])
              for i, (ranks, overtakes) in enumerate(zip(ranks_per_frame, overtakes_per_frame))]
    return Trajectory(method="spread_attract", metric="logme", metric_params={}, params={}, parameter="spread",
                      models=models, labels=np.zeros(4, int), frames=frames, projection_name="pca")


def test_rank_contrast_picks_the_model_that_holds_beside_the_one_that_falls():
    # b starts 2nd and is passed twice beyond the noise (by c, then d); a holds rank 1; c and d rise
    ranks = [{"a": 1, "b": 2, "c": 3, "d": 4}, {"a": 1, "c": 2, "b": 3, "d": 4}, {"a": 1, "c": 2, "d": 3, "b": 4}]
    overtakes = [[], [("c", "b")], [("d", "b")]]
    pick = rank_contrast(_trajectory(ranks, overtakes), model_label=str.upper)
    assert pick == Showcase(("a", "b"), pick.reason)
    assert pick.reason.startswith("A keeps rank 1 → 1 on logme while B falls from rank 2 to 4, passed 2 time(s)")


def test_rank_contrast_prefers_the_holder_that_started_next_to_the_faller():
    # c is passed once (by d); a and b hold; b started right above c
    ranks = [{"a": 1, "b": 2, "c": 3, "d": 4}, {"a": 1, "b": 2, "d": 3, "c": 4}]
    assert rank_contrast(_trajectory(ranks, [[], [("d", "c")]])).models == ("b", "c")


def test_rank_contrast_is_none_when_nothing_changes_beyond_the_noise():
    ranks = [{"a": 1, "b": 2}, {"b": 1, "a": 2}]  # the displayed order swaps, but within the noise
    assert rank_contrast(_trajectory(ranks, [[], []])) is None


class _Table:
    """A RankingTable stand-in: ``ahead[metric]`` holds the (a, b) pairs where a is ahead beyond the noise."""

    def __init__(self, models, ahead):
        self.models, self.metrics, self.ahead = models, list(ahead), ahead

    def is_ahead(self, metric, a, b):
        return (a, b) in self.ahead[metric]


GT = {"pre": 0.85, "mid": 0.80, "tap": 0.62, "rnd": 0.40}
N = {m: 900 for m in GT}


def test_groundtruth_contrast_shows_a_metrics_clear_mistake():
    table = _Table(list(GT), {"logme": {("rnd", "mid")}, "sfda": set()})
    pick = groundtruth_contrast(GT, N, table)
    assert pick.models == ("mid", "rnd")
    assert "40.0% above rnd" in pick.reason and "logme ranks rnd above it" in pick.reason


def test_groundtruth_contrast_without_a_mistake_takes_the_widest_tier_gap():
    pick = groundtruth_contrast(GT, N, _Table(list(GT), {"logme": {("pre", "rnd")}}))
    assert pick.models == ("tap", "rnd")  # 0.62 → 0.40 is the widest gap between adjacent tiers
    assert pick.reason == "tap (62.0%) and rnd (40.0%) sit either side of the widest gap between the ground " \
                          "truth's tiers (22.0%, beyond its noise)."
    assert groundtruth_contrast({"a": 0.80, "b": 0.81}, {"a": 300, "b": 300}) is None  # one tier: nothing to show
    # a 5-point gap on 30 test images is within the noise: one tier
    assert groundtruth_contrast({"a": 0.80, "b": 0.75}, {"a": 30, "b": 30}) is None
    assert groundtruth_contrast({"a": 0.80, "b": 0.75}, {"a": 30_000, "b": 30_000}).models == ("a", "b")


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_groundtruth_contrast_reads_fractions_and_percentages(scale):
    pick = groundtruth_contrast({m: v * scale for m, v in GT.items()}, N)
    assert pick.models == ("tap", "rnd")
