"""Deletion replicates (``MetricSpec.deletion_replicates``): a metric's scores on the noise estimate's subsets
from its full fit, without a refit. Every metric that offers them is checked against refitted replicates (the
registry-wide test picks up metrics added later); LogME's single-deletion formula is checked against a direct
computation; ``rank_models`` uses them unless asked to refit, and says which it did."""

from __future__ import annotations

import numpy as np
import pytest

from tests.metric_calls import call, extras_for, gaussian_classes
from transvis.metrics import ClassStats, available, compute, get_spec
from transvis.noise_jobs import merge_noise
from transvis.ranking import rank_models
from transvis.uncertainty import Resampling, ScoreNoise

WITH_DELETION = [name for name in available() if get_spec(name).deletion_replicates is not None]


def _refit_and_deletion(name, features, labels, n_replicates=12, **params):
    stats = ClassStats(features, labels)
    extras = extras_for(name, features)
    result = call(name, features, labels, extras, stats=stats, **params)
    subsets = Resampling(n_replicates=n_replicates).subsets(labels)
    deletion = get_spec(name).deletion_replicates(result, stats, subsets)
    refit = np.array([call(name, features[rows], labels[rows], extras, **params).score for rows in subsets])
    return refit, deletion


def test_logme_offers_deletion_replicates():
    assert "logme" in WITH_DELETION


@pytest.mark.parametrize("name", WITH_DELETION)
def test_deletion_replicates_follow_the_refitted_ones(name):
    """The replicates' spread (what the noise estimate uses) within 15 % of the refits', and the replicates
    themselves ordered alike: 4 Gaussian classes, N ≫ D (600 × 40)."""
    features, labels = gaussian_classes([150] * 4, 40, seed=3, separation=0.6)
    refit, deletion = _refit_and_deletion(name, features, labels)
    assert deletion is not None and deletion.shape == refit.shape and np.all(np.isfinite(deletion))
    ratio = np.std(deletion) / np.std(refit)
    assert 0.85 <= ratio <= 1.15, ratio
    assert np.corrcoef(refit, deletion)[0, 1] >= 0.95


def test_logme_deletion_replicates_near_the_cut_off_scatter_without_a_bias():
    """1,000 × 200 (the heads' γ/N ≈ 0.18, near the 0.3 cut-off): over 4 draws the spread ratio averages within
    15 % of 1 and every draw keeps correlation ≥ 0.9; at 240 × 200 (γ/N ≈ 0.55) LogME refits instead (None)."""
    ratios = []
    for seed in range(4):
        features, labels = gaussian_classes([250] * 4, 200, seed=seed, separation=0.6)
        refit, deletion = _refit_and_deletion("logme", features, labels)
        ratios.append(np.std(deletion) / np.std(refit))
        assert np.corrcoef(refit, deletion)[0, 1] >= 0.9
    assert 0.85 <= np.mean(ratios) <= 1.15, ratios
    features, labels = gaussian_classes([60] * 4, 200, seed=0, separation=0.6)
    stats = ClassStats(features, labels)
    result = compute("logme", features, labels, stats=stats)
    assert get_spec("logme").deletion_replicates(result, stats, Resampling(n_replicates=3).subsets(labels)) is None


@pytest.mark.parametrize("variant", ["exact", "official_fixed_point", "official_icml"])
def test_logme_deletion_replicates_for_every_variant_where_they_apply(variant):
    features, labels = gaussian_classes([150] * 4, 40, seed=5, separation=0.6)
    refit, deletion = _refit_and_deletion("logme", features, labels, variant=variant)
    assert np.corrcoef(refit, deletion)[0, 1] >= 0.9
    # official_fixed_point with N ≤ D counts N terms in its log-determinant: refit instead. 80 samples in 120
    # dimensions lying near a 5-dimensional subspace, so that the other variants' heads stay under the γ/N cut-off
    low, wide_labels = gaussian_classes([20] * 4, 5, seed=5, separation=3.0)
    rng = np.random.default_rng(5)
    wide = low @ rng.normal(size=(5, 120)) + 0.01 * rng.normal(size=(80, 120))
    stats = ClassStats(wide, wide_labels)
    subsets = Resampling(n_replicates=3).subsets(wide_labels)
    got = get_spec("logme").deletion_replicates(
        compute("logme", wide, wide_labels, stats=stats, variant=variant), stats, subsets)
    assert (got is None) == (variant == "official_fixed_point")
    if variant != "official_fixed_point":  # the N ≤ D (dual) path follows its refits too
        refit, deletion = _refit_and_deletion("logme", wide, wide_labels, variant=variant)
        assert 0.85 <= np.std(deletion) / np.std(refit) <= 1.15
        assert np.corrcoef(refit, deletion)[0, 1] >= 0.95


def _evidence_at(features, target, alpha, beta):
    """N·L at fixed α, β by direct linear algebra (the LogME docstring's formula)."""
    n, d = features.shape
    a = alpha * np.eye(d) + beta * features.T @ features
    m = beta * np.linalg.solve(a, features.T @ target)
    residual = features @ m - target
    return (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - n / 2 * np.log(2 * np.pi)
            - beta / 2 * residual @ residual - alpha / 2 * m @ m - 0.5 * np.linalg.slogdet(a)[1])


def test_logme_single_deletion_is_exact_at_the_full_fits_alpha_beta():
    """Leaving out one sample: the replicate equals mean_c (N·L_c with that sample deleted, α_c and β_c kept)
    / (N − 1), computed directly, to round-off."""
    features, labels = gaussian_classes([30] * 3, 12, seed=1, separation=1.0)
    stats = ClassStats(features, labels)
    result = compute("logme", features, labels, stats=stats)
    alpha, beta = result.trace["alpha"], result.trace["beta"]
    n = labels.size
    for left_out in (0, 41, n - 1):
        rows = np.delete(np.arange(n), left_out)
        (replicate,) = get_spec("logme").deletion_replicates(result, stats, [rows])
        direct = np.mean([_evidence_at(features[rows], (labels[rows] == c).astype(float), alpha[c], beta[c])
                          for c in range(3)]) / (n - 1)
        assert replicate == pytest.approx(direct, rel=1e-9)
        refit = compute("logme", features[rows], labels[rows]).score
        assert replicate != refit and replicate == pytest.approx(refit, abs=2e-3)  # α, β re-estimated there


def test_rank_models_scores_logme_subsets_by_deletion_unless_asked_to_refit():
    pool = {}
    for i in range(3):
        features, labels = gaussian_classes([120] * 4, 30, seed=10 + i, separation=0.5 + 0.1 * i)
        pool[f"m{i}"] = (features, labels)
    fast = rank_models(pool, ["logme", "hscore"], resamples=Resampling(n_replicates=6))
    slow = rank_models(pool, ["logme", "hscore"], resamples=Resampling(n_replicates=6, refit=True))
    assert fast.noise["logme"].method == "deletion" and slow.noise["logme"].method == "refit"
    assert fast.noise["hscore"].method == "refit"
    # H-score has no deletion replicates: the same refits either way
    for model in pool:
        np.testing.assert_array_equal(fast.noise["hscore"].replicates[model], slow.noise["hscore"].replicates[model])
        assert fast.noise["logme"].se(model) == pytest.approx(slow.noise["logme"].se(model), rel=0.3)
        assert not np.array_equal(fast.noise["logme"].replicates[model], slow.noise["logme"].replicates[model])
    # the method survives a round trip and a merge
    back = ScoreNoise.from_dict(fast.noise["logme"].to_dict())
    assert back.method == "deletion" and back.resampling == fast.noise["logme"].resampling
    one = rank_models({"m0": pool["m0"]}, ["logme"], resamples=Resampling(n_replicates=6))
    two = rank_models({"m1": pool["m1"]}, ["logme"], resamples=Resampling(n_replicates=6))
    assert merge_noise([one.noise["logme"], two.noise["logme"]]).method == "deletion"
    mixed = ScoreNoise(estimate={"x": 0.0}, replicates={"x": np.zeros(6)}, factor={"x": 4.0}, signature={"x": "s"},
                       resampling=Resampling(n_replicates=6), method="refit")
    assert merge_noise([one.noise["logme"], mixed]).method == "mixed"


def test_refit_must_be_a_bool():
    with pytest.raises(ValueError, match="refit must be True or False"):
        Resampling(refit="yes")
    assert Resampling().to_dict()["refit"] is False
