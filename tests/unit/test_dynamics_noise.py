"""Rankings that tell the truth: dynamics frames rank with float-tolerant ties and announce only the order
changes that the score noise supports; saturated or all-within-noise frames say so."""

import numpy as np
import pytest

from transvis.demo import synthetic_demo
from transvis.dynamics import Frame, Overtake, clear_cache, load_trajectory, run, save_trajectories
from transvis.dynamics.frames import attach_ranks, saturation
from transvis.ordering import display_order
from transvis.uncertainty import Resampling, ScoreNoise


def constant_noise(estimate: dict, half_width: dict | float, *, paired: bool = False) -> ScoreNoise:
    """A ScoreNoise whose subset scores give every model the 95 % half-width ``half_width`` (unpaired models:
    the difference of two has se √(se_a² + se_b²))."""
    resampling = Resampling(n_replicates=10)
    t = resampling.critical_value()
    halves = half_width if isinstance(half_width, dict) else {m: half_width for m in estimate}
    replicates, signature = {}, {}
    for i, (model, value) in enumerate(estimate.items()):
        se = halves[model] / t
        d = se / 2.0  # factor 4 (keep 0.8): se = 2 · the subsets' standard deviation
        replicates[model] = value + d * np.array([1.0, -1.0] * 5)
        signature[model] = "shared" if paired else f"sample-{i}"
    noise = ScoreNoise(dict(estimate), replicates, {m: 4.0 for m in estimate}, signature, True, resampling)
    for model in estimate:
        assert noise.interval(model)[1] - estimate[model] == pytest.approx(halves[model])
    return noise


def frames_of(rows: list[dict], degenerate: list[dict] | None = None) -> list[Frame]:
    return [Frame(i, float(i), f"f{i}", {}, {}, dict(row), degenerate=dict((degenerate or [{}] * len(rows))[i]))
            for i, row in enumerate(rows)]


# -- float ties: rotation-equivalent features share a rank at every frame of every dynamics -------------------
@pytest.fixture(scope="module")
def rotated_pool():
    """Four synthetic models; "b" is "a" rotated by a random orthogonal matrix, "b_perm" by a signed
    permutation (also orthogonal)."""
    demo = synthetic_demo(n_models=3, n_classes=4, n_per_class=30, n_dims=12, seed=1)
    x = {m.split("/")[1]: fs.features.astype(np.float64) for m, fs in demo.features.items()}
    rng = np.random.default_rng(3)
    rotation = np.linalg.qr(rng.normal(size=(12, 12)))[0]
    signed_permutation = np.eye(12)[:, rng.permutation(12)] * rng.choice([-1.0, 1.0], size=12)
    a = x["model-1"]
    return {"rotation": {"model-0": x["model-0"], "a": a, "b": a @ rotation, "model-2": x["model-2"]},
            "signed permutation": {"model-0": x["model-0"], "a": a, "b": a @ signed_permutation,
                                   "model-2": x["model-2"]}}, demo.labels


KINDS = [("spread_attract", "logme", {}), ("fisher", "sfda", {}), ("ped", "logme", {}), ("ped", "sfda", {}),
         ("collapse", "logme", {"statistics": False})]


@pytest.mark.parametrize("kind, metric, params", KINDS, ids=[f"{k}-{m}" for k, m, _ in KINDS])
def test_rotation_equivalent_models_share_a_rank_at_every_frame(rotated_pool, kind, metric, params):
    """Rotated features give scores equal up to float rounding (~1e-15): one rank, pool order, no swaps, no
    overtakes between them. PED standardises each dimension (the official method), so it is equivariant only
    under orthogonal maps that keep the axes: its test uses the signed permutation; the others use both."""
    pools, labels = rotated_pool
    maps = ["signed permutation"] if kind == "ped" else ["rotation", "signed permutation"]
    for name in maps:
        traj = run(kind, pools[name], labels, metric=metric, **params)
        assert len(traj.frames) >= 3
        split = 0
        for frame in traj.frames:
            a, b = frame.scores["a"], frame.scores["b"]
            assert abs(a - b) <= 1e-9 * max(abs(s) for s in frame.scores.values()), (name, frame.label, a, b)
            split += a != b
            assert frame.ranks["a"] == frame.ranks["b"], (name, frame.label, frame.scores)
            order = display_order(frame.scores)
            assert order.index("a") < order.index("b")  # tied: pool order, at every frame
            assert not {Overtake("a", "b"), Overtake("b", "a")} & set(frame.overtakes + frame.within_noise)
            assert frame.rank_changes["a"] == frame.rank_changes["b"]
            assert any(set(tier) >= {"a", "b"} for tier in frame.tiers)
        if name == "rotation":
            assert split, "the rotated scores should differ by rounding somewhere (else the test proves nothing)"


# -- announcements beyond noise only ---------------------------------------------------------------------------
def test_overtakes_within_noise_are_recorded_not_announced():
    rows = [{"a": 1.00, "b": 0.99, "c": 0.50}, {"a": 0.99, "b": 1.00, "c": 0.50}, {"a": 0.99, "b": 1.00, "c": 1.2}]
    noise = constant_noise(rows[0], 0.05)  # a and b are 0.01 apart: far inside the noise; c is beyond it
    frames = frames_of(rows)
    attach_ranks(frames, noise=noise, metric="logme")
    assert frames[1].ranks == {"a": 2, "b": 1, "c": 3}  # the order is what the scores say ...
    assert frames[1].overtakes == [] and frames[1].rank_changes == {"a": 0, "b": 0, "c": 0}  # ... but no ▲/▼
    assert frames[1].within_noise == [Overtake("b", "a")]
    assert frames[1].tiers == [["b", "a"], ["c"]]
    assert frames[2].overtakes == [Overtake("c", "b"), Overtake("c", "a")]  # beyond noise: announced
    assert frames[2].rank_changes == {"a": -1, "b": -1, "c": 2}
    # without noise the same swap is an overtake: only float ties are known
    frames = frames_of(rows)
    attach_ranks(frames, noise=None)
    assert frames[1].overtakes == [Overtake("b", "a")] and frames[1].within_noise == []


def test_a_slow_overtake_is_announced_when_it_leaves_the_noise():
    """b creeps past a: the displayed swap (frame 1) is within noise; the overtake is announced on the frame
    where b is ahead beyond noise (frame 3), although the displayed order did not change there."""
    rows = [{"a": 1.0, "b": 0.5}, {"a": 1.0, "b": 1.01}, {"a": 1.0, "b": 1.05}, {"a": 1.0, "b": 1.5}]
    frames = frames_of(rows)
    attach_ranks(frames, noise=constant_noise(rows[0], 0.1))
    assert [f.overtakes for f in frames] == [[], [], [], [Overtake("b", "a")]]
    assert [f.within_noise for f in frames] == [[], [Overtake("b", "a")], [], []]
    assert frames[3].rank_changes == {"a": -1, "b": 1}


def test_run_with_noise_announces_nothing_the_noise_cannot_support():
    demo = synthetic_demo(n_models=3, n_classes=4, n_per_class=30, n_dims=12)
    features = {m: fs.features for m, fs in demo.features.items()}
    clear_cache()
    bare = run("collapse", features, demo.labels, n_frames=6, statistics=False, cache_key="noise-pool")
    estimate = bare.frames[0].scores
    huge = constant_noise(estimate, 1e6)  # nothing is beyond this noise
    traj = run("collapse", features, demo.labels, n_frames=6, statistics=False, cache_key="noise-pool", noise=huge)
    assert traj is not bare and traj.noise is huge and bare.noise is None  # the cached trajectory is untouched
    assert run("collapse", features, demo.labels, n_frames=6, statistics=False, cache_key="noise-pool") is bare
    assert traj.all_overtakes() == []
    assert all(f.note == "All 3 models within noise: no ranking at this step" for f in traj.frames)
    assert all(f.rank_changes == {m: 0 for m in traj.models} for f in traj.frames)
    for mine, theirs in zip(traj.frames, bare.frames):  # the arrays are shared, not copied
        assert mine.positions is theirs.positions and mine.scores == theirs.scores and mine.ranks == theirs.ranks
    tiny = constant_noise(estimate, 1e-12)
    assert run("collapse", features, demo.labels, n_frames=6, statistics=False, cache_key="noise-pool",
               noise=tiny).all_overtakes() == bare.all_overtakes()
    flipped = constant_noise(estimate, 0.1)
    flipped.higher_is_better = False
    with pytest.raises(ValueError, match="other way round"):
        run("collapse", features, demo.labels, n_frames=6, statistics=False, noise=flipped)
    with pytest.raises(ValueError, match="ScoreNoise"):
        bare.with_noise({"a": 1.0})


# -- notes -------------------------------------------------------------------------------------------------------
def test_a_frame_where_the_metric_saturates_says_so_and_ranks_nothing_among_the_saturated():
    reason = "SFDA is 1 (saturated)"
    rows = [{"a": 0.9, "b": 0.8, "c": 0.7}, {"a": 0.9999998, "b": 1.0, "c": 0.9999999}]
    frames = frames_of(rows, [{}, {"a": reason, "b": reason, "c": reason}])
    attach_ranks(frames, metric="sfda")  # no noise: only float tolerance, yet the saturation decides nothing
    assert frames[1].note == "SFDA at 1 for 3 of 3 models (SFDA is 1 (saturated)): no ranking at this step"
    assert frames[1].overtakes == [] and set(frames[1].within_noise) == {Overtake("b", "a"), Overtake("c", "a")}
    assert frames[1].tiers == [["b", "c", "a"]]
    assert frames[0].note is None
    # scores tied by float tolerance for all but one model are saturation too (no degenerate flag needed)
    note, models = saturation({"a": 8.798, "b": 8.798 * (1 + 1e-12), "c": 8.798, "d": 3.0}, None, metric="logme")
    assert note == "LogME at 8.798 for 3 of 4 models: no ranking among them" and models == {"a", "b", "c"}
    assert saturation({"a": 1.0, "b": 2.0, "c": 2.0, "d": 3.0}, None)[0] is None  # two of four tied: a tie
    note, models = saturation({"a": 1.0, "b": 0.5, "c": 0.4, "d": 0.3}, {"a": "x", "b": "x"}, metric="gbc")
    assert note == "GBC at 0.5–1 for 2 of 4 models (x): no ranking among them" and models == {"a", "b"}


def test_ped_with_a_large_time_step_notes_the_saturated_frames():
    """PED with time step 0.5 where few samples per dimension let SFDA saturate at 1 (in-sample LDA): after the
    first step three of four models sit at 1; every such frame carries the note, and no overtake is announced
    among the saturated models (their order is float noise around 1)."""
    demo = synthetic_demo(n_models=4, n_classes=4, n_per_class=10, n_dims=32, seed=0)
    features = {m: fs.features for m, fs in demo.features.items()}
    traj = run("ped", features, demo.labels, metric="sfda", time_step=0.5, max_steps=4)
    saturated = [f for f in traj.frames if len(f.degenerate) >= 2]
    assert len(saturated) >= 2, "this pool should saturate SFDA (pick another seed if the metric changed)"
    for frame in saturated:
        assert frame.note == f"SFDA at 1 for {len(frame.degenerate)} of 4 models: no ranking among them"
        assert all(o.model not in frame.degenerate or o.passed not in frame.degenerate for o in frame.overtakes)
    assert all(f.note is None for f in traj.frames if len(f.degenerate) < 2)


def test_all_but_one_model_within_noise_is_noted_too():
    """PED with time step 0.5 on the demo: six models' SFDA at 0.997–1.0 within noise of each other, one at 0.93:
    the frame has no ranking among the six, and says so."""
    rows = [{"a": 0.90, "b": 0.93, "c": 0.95, "d": 0.80}, {"a": 0.998, "b": 0.999, "c": 1.0, "d": 0.93}]
    frames = frames_of(rows)
    attach_ranks(frames, noise=constant_noise(rows[0], 0.01), metric="sfda")
    assert frames[0].note is None
    assert frames[1].note == "3 of 4 models within noise of c: no ranking among them"
    assert frames[1].overtakes == [] and frames[1].tiers == [["c", "b", "a"], ["d"]]
    two = frames_of([{"a": 1.0, "b": 0.2}])
    attach_ranks(two, noise=constant_noise(two[0].scores, 0.01))
    assert two[0].note is None  # "all but one" of two models is one model: nothing to note


# -- persistence ----------------------------------------------------------------------------------------------------
def test_noise_notes_and_within_noise_changes_survive_saving(tmp_path):
    demo = synthetic_demo(n_models=3, n_classes=4, n_per_class=15, n_dims=8, seed=4)
    features = {m: fs.features for m, fs in demo.features.items()}
    bare = run("spread_attract", features, demo.labels, n_frames=4)
    traj = bare.with_noise(constant_noise(bare.frames[0].scores, 0.05))
    save_trajectories(tmp_path / "t.npz", {"sa": traj})
    loaded = load_trajectory(tmp_path / "t.npz", "sa")
    assert loaded.noise.to_dict() == traj.noise.to_dict() and loaded.higher_is_better is True
    for mine, theirs in zip(traj.frames, loaded.frames):
        assert (theirs.note, theirs.tiers, theirs.within_noise, theirs.overtakes, theirs.degenerate) == \
               (mine.note, mine.tiers, mine.within_noise, mine.overtakes, mine.degenerate)
    # re-deciding with the loaded noise gives the same announcements
    again = loaded.with_noise(loaded.noise)
    assert [f.overtakes for f in again.frames] == [f.overtakes for f in traj.frames]
