"""PED (Li et al., ICCV 2023): the trajectory against a plain transcription of the official loop (with its
C×C×D pair tensor, on the moved features), the wrapper contract, robustness."""

import numpy as np
import pytest

from tests.metric_calls import gaussian_classes
from transvis.metrics import ClassStats, compute
from transvis.metrics.ped import (
    REFERENCE_OFFICIAL,
    REFERENCE_SELF,
    class_radii,
    overlap_forces,
    pairwise_displacement,
    ped,
    ped_trajectory,
)


# -- a plain transcription of ALGORITHMS.md §2 -----------------------------------------------------------
def _one_step(x, y, ref, time_step, nsigma, eps=1e-3, constant=1.0):
    offset, scale = ref.mean(axis=0), np.maximum(ref.std(axis=0), eps)
    z = (x - offset) / scale
    c = y.max() + 1
    means = np.array([z[y == k].mean(axis=0) for k in range(c)])
    radii = np.array([np.sqrt(z[y == k].var(axis=0).sum()) for k in range(c)])
    pair = np.zeros((c, c, x.shape[1]))
    for i in range(c):
        for j in range(c):
            if i == j:
                continue
            diff = means[i] - means[j]
            dist = np.linalg.norm(diff)
            force = max(nsigma * (radii[i] + radii[j]) - dist, 0.0)
            pair[i, j] = min(0.5 * time_step**2 * constant * force, force) * diff / dist
    delta = pair.sum(axis=1)
    return (z + delta[y]) * scale + offset, np.abs(delta).sum()


def _reference_ped(x, y, ref, time_step=0.1, nsigma=0.6, exit_ratio=0.5):
    changes, steps = [], 0
    while steps < 6:
        moved, change = _one_step(x, y, ref, time_step, nsigma)
        changes.append(change)
        first = changes[0]
        if first > 0 and change / first > exit_ratio:
            x = moved
        else:
            break
        steps += 1
    return x, steps, changes


def _overlapping(seed=0, counts=(30, 30, 30, 30), n_dims=8, separation=0.8):
    x, y = gaussian_classes(list(counts), n_dims, seed=seed, separation=separation)
    ref = np.random.default_rng(seed + 1).normal(size=(100, n_dims)) * 1.5 + 0.3
    return x, y, ref


@pytest.mark.parametrize("time_step", [0.1, 0.4])
def test_trajectory_matches_transcription(time_step):
    x, y, ref = _overlapping()
    expected_x, expected_steps, expected_changes = _reference_ped(x, y, ref, time_step)
    traj = ped_trajectory(x, y, reference_features=ref, time_step=time_step)
    assert traj.num_steps == expected_steps
    np.testing.assert_allclose(traj.position_changes, expected_changes, rtol=1e-10)
    np.testing.assert_allclose(traj.features_after(), expected_x, rtol=1e-10, atol=1e-12)
    assert len(traj.steps) == min(expected_steps + 1, 6)
    assert [s.accepted for s in traj.steps] == [True] * expected_steps + [False] * (len(traj.steps) - expected_steps)
    if time_step == 0.4:  # the large step exits early; the rejected step is reported but not applied
        assert expected_steps < 6 and not traj.steps[-1].accepted


def test_metric_scores_moved_features_and_reports_trajectory():
    x, y, ref = _overlapping(seed=2)
    moved, steps, changes = _reference_ped(x, y, ref)
    result = compute("ped", x, y, reference_features=ref)
    assert result.score == pytest.approx(compute("sfda", moved, y).score, rel=1e-9)
    assert result.trace["score_before"] == pytest.approx(compute("sfda", x, y).score, rel=1e-12)
    assert result.trace["num_steps"] == steps
    np.testing.assert_allclose(result.trace["position_changes"], changes, rtol=1e-10)
    np.testing.assert_allclose(result.trace["change_ratios"], np.array(changes) / changes[0], rtol=1e-10)
    assert result.trace["reference"] == REFERENCE_OFFICIAL
    assert result.trace["overlap"].shape == (4, 4) and np.all(np.diag(result.trace["overlap"]) == 0)
    np.testing.assert_allclose(result.trace["overlap"], result.trace["overlap"].T)
    assert result.trace["metric"] == "sfda"


def test_steps_repel_overlapping_classes():
    x, y, ref = _overlapping(seed=3)
    traj = ped_trajectory(x, y, reference_features=ref)
    first = traj.steps[0]
    assert first.position_change > 0
    gaps_before = np.linalg.norm(first.centres_std[:, None] - first.centres_std[None], axis=2)
    gaps_after = np.linalg.norm(first.centres_after_std[:, None] - first.centres_after_std[None], axis=2)
    overlapping = first.overlap > 0
    assert np.all(gaps_after[overlapping] > gaps_before[overlapping])
    # Original-space centres are the class means of the moved features.
    moved_means = ClassStats(traj.features_after(1), y).class_means
    np.testing.assert_allclose(traj.steps[1].centres, moved_means, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(traj.features_after(0), x)
    with pytest.raises(ValueError, match="n_steps"):
        traj.features_after(traj.num_steps + 1)


def test_no_overlap_takes_no_step():
    x, y = gaussian_classes([20, 20, 20], 4, seed=4, separation=60.0)
    result = ped(x, y, reference_features=x)
    assert result.trace["num_steps"] == 0
    assert result.trace["position_changes"] == [0.0]
    assert result.trace["change_ratios"] == [None]
    assert result.score == result.trace["score_before"]
    assert not np.any(result.trace["overlap"])


def test_without_reference_standardises_with_target_and_says_so():
    x, y, _ = _overlapping(seed=5)
    result = ped(x, y)
    assert result.trace["reference"] == REFERENCE_SELF
    expected_x, steps, changes = _reference_ped(x, y, x)
    assert result.trace["num_steps"] == steps
    np.testing.assert_allclose(result.trace["position_changes"], changes, rtol=1e-10)


def test_radii_and_pairwise_pieces():
    x, y = gaussian_classes([5, 9, 1], 3, seed=6)
    stats = ClassStats(x, y)
    scale = np.array([1.0, 2.0, 0.5])
    radii = class_radii(stats, scale)
    for c in range(3):
        assert radii[c] == pytest.approx(np.sqrt((x[y == c] / scale).var(axis=0).sum()))
    assert radii[2] == 0.0  # one-sample class
    centres = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])  # classes 0 and 2 coincide
    force = overlap_forces(centres, np.array([4.0, 4.0, 4.0]), 1.0)
    assert force[0, 1] == pytest.approx(3.0) and force[0, 2] == pytest.approx(8.0) and force[0, 0] == 0
    delta = pairwise_displacement(centres, force)
    assert np.all(np.isfinite(delta))  # coincident centres exert no force (direction undefined)
    np.testing.assert_allclose(delta[1], 3.0 * np.array([0.6, 0.8]) * 2)
    np.testing.assert_allclose(delta[0], -3.0 * np.array([0.6, 0.8]))


def test_wraps_other_metrics_through_the_registry():
    x, y, ref = _overlapping(seed=7)
    moved = ped_trajectory(x, y, reference_features=ref).features_after()
    for name in ("hscore", "ncm_softmax", "gbc", "logme"):
        result = ped(x, y, metric=name, reference_features=ref)
        assert result.score == pytest.approx(compute(name, moved, y).score, rel=1e-9), name
    official = ped(x, y, metric="logme", metric_params={"variant": "official_fixed_point"}, reference_features=ref)
    assert official.score == pytest.approx(compute("logme", moved, y, variant="official_fixed_point").score, rel=1e-9)


def test_clear_errors():
    x, y, ref = _overlapping(seed=8)
    with pytest.raises(ValueError, match="source model"):
        ped(x, y, metric="leep")
    with pytest.raises(ValueError, match="wraps a metric"):
        ped(x, y, metric="fsp")
    with pytest.raises(ValueError, match="dimensions"):
        ped(x, y, reference_features=ref[:, :3])
    with pytest.raises(ValueError, match="unknown metric"):
        ped(x, y, metric="sfdaa")
    with pytest.raises(ValueError, match="no parameter"):
        ped(x, y, metric="sfda", metric_params={"alpha": 1.0})
    with pytest.raises(ValueError, match="max_steps"):
        ped(x, y, max_steps=-1)


def test_inputs_untouched_and_robust():
    x, y, ref = _overlapping(seed=9)
    x_before, ref_before = x.copy(), ref.copy()
    ped(x, y, reference_features=ref)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(ref, ref_before)
    rng = np.random.default_rng(0)
    cases = [
        gaussian_classes([6, 6, 6], 30, seed=1, separation=0.3),  # N < D
        gaussian_classes([1, 30, 30], 5, seed=2, separation=0.3),  # one-sample class
        gaussian_classes([25, 25], 5, seed=3, separation=0.3, scale=1e6),
        gaussian_classes([25, 25], 5, seed=3, separation=0.3, scale=1e-6),
        (np.repeat(rng.normal(size=(2, 4)), 5, axis=0) * 0 + 1.0, np.repeat([0, 1], 5)),  # coincident classes
    ]
    for features, labels in cases:
        features = features.copy()
        features[:, 0] = 0.0  # a dead dimension
        result = ped(features, labels)
        assert np.isfinite(result.score)
        assert all(np.isfinite(c) for c in result.trace["position_changes"])
