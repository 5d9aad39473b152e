"""Degenerate scores are flagged by the library: ``MetricResult.degenerate`` and one ``DegenerateScoreWarning``.

One test per degenerate case of the issue "Rankings that tell the truth" (part 1), plus the contract around
it: the warning names the metric, the reason and the fix; wrappers inherit the wrapped metric's verdict and
warn once; direct calls of a metric's function and well-conditioned inputs do not warn; extreme feature
scales give a finite, scale-consistent score or a ValueError naming the fix. The registry-wide versions
(every metric, well-conditioned and extreme scales) are in ``test_metric_properties.py``.
"""

import dataclasses
import math
import warnings

import numpy as np
import pytest

from tests.metric_calls import gaussian_classes
from transvis.metrics import DegenerateScoreWarning, MetricResult, compute, get_spec
from transvis.metrics.sfda import sfda


def _noise(n_samples, n_dims=100, n_classes=3):
    """Pure-noise features (np.random.default_rng(0)) and balanced labels."""
    x = np.random.default_rng(0).normal(size=(n_samples, n_dims))
    return x, np.repeat(np.arange(n_classes), n_samples // n_classes)


def _flagged(name, x, y, **params):
    """``compute`` that must warn exactly once, naming the metric; returns the result."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = compute(name, x, y, **params)
    degenerate = [w for w in caught if issubclass(w.category, DegenerateScoreWarning)]
    assert len(degenerate) == 1, f"{name}: {len(degenerate)} DegenerateScoreWarnings"
    message = str(degenerate[0].message)
    assert f"degenerate {name} score" in message and result.degenerate in message
    assert degenerate[0].filename == __file__  # stacklevel=2: attributed to the caller of compute
    assert result.is_degenerate
    return result


def _quiet(name, x, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateScoreWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return compute(name, x, y, **params)


# -- N < D: in-sample saturation -----------------------------------------------------------------------------
NOISE = _noise(30)  # 30 samples × 100 dims, 3 classes


@pytest.mark.parametrize("name", ["sfda", "ped"])
def test_noise_with_n_below_d_saturates_sfda_and_ped_at_one(name):
    result = _flagged(name, *NOISE)
    assert result.score == pytest.approx(1.0, abs=1e-9)
    assert "SFDA is 1 (saturated)" in result.degenerate and "N − C ≤ D (30 samples, 100 dims)" in result.degenerate
    assert "N ≫ D" in result.degenerate and "PCA" in result.degenerate  # the fix
    if name == "ped":
        assert result.degenerate.startswith("PED scores with sfda")


def test_noise_with_n_below_d_saturates_hscore_at_c_minus_one():
    result = _flagged("hscore", *NOISE)
    assert result.score == pytest.approx(2.0, abs=1e-9)
    assert "maximum 2" in result.degenerate and "N − C ≤ D" in result.degenerate


@pytest.mark.parametrize("name", ["ncti", "nc", "face"])
def test_noise_with_n_below_d_flags_the_in_sample_family(name):
    result = _flagged(name, *NOISE)
    assert "N − C ≤ D" in result.degenerate and "pure noise" in result.degenerate


TWO_PER_CLASS = _noise(6)  # two samples per class


def test_two_samples_per_class_saturate_ncm_softmax():
    result = _flagged("ncm_softmax", *TWO_PER_CLASS)
    assert result.score > 1 - 1e-9
    assert "one-hot" in result.degenerate and "temperature" in result.degenerate


@pytest.mark.parametrize("name", ["face", "nc"])
def test_two_samples_per_class_flag_face_and_nc(name):
    result = _flagged(name, *TWO_PER_CLASS)
    assert "N − C ≤ D (6 samples, 3 classes, 100 dims)" in result.degenerate


def test_shrinkage_hscore_at_full_shrinkage_is_flagged():
    x, y = _noise(30, n_dims=29)  # Ledoit-Wolf α = 1: Hα = 0 for any features
    result = _flagged("hscore_shrinkage", x, y)
    assert result.score == pytest.approx(0.0, abs=1e-12) and result.trace["alpha"] == pytest.approx(1.0)
    assert "α = 1" in result.degenerate


# -- tiny features: absolute constants take over ---------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [4, 5])
def test_tiny_features_put_gbc_at_its_floor(n_classes):
    x, y = gaussian_classes([40] * n_classes, 32, seed=n_classes, separation=0.5)
    result = _flagged("gbc", x * 1e-12, y)
    assert result.score == -n_classes * (n_classes - 1)  # -12, -20
    assert "floor" in result.degenerate and "Standardise" in result.degenerate
    assert not _quiet("gbc", x, y).is_degenerate


def test_two_tiny_models_tie_at_the_gbc_floor_and_both_say_so():
    x, y = gaussian_classes([40] * 4, 32, seed=1, separation=0.5)
    good, poor = x, x + np.random.default_rng(5).normal(size=x.shape) * 3.0  # poor: extra noise
    assert _quiet("gbc", good, y).score > _quiet("gbc", poor, y).score
    tiny = [_flagged("gbc", features * 1e-12, y) for features in (good, poor)]
    assert tiny[0].score == tiny[1].score == -12.0  # the order is lost ...
    assert all(r.is_degenerate for r in tiny)  # ... and both results say so


def test_tiny_features_put_nleep_at_log_one_over_c():
    x, y = gaussian_classes([40] * 4, 32, seed=1, separation=0.5)
    result = _flagged("nleep", x * 1e-12, y)
    assert result.score == pytest.approx(math.log(1 / 4), abs=1e-9)
    assert "reg_covar" in result.degenerate and "Standardise" in result.degenerate


def test_tiny_features_put_ncm_softmax_at_one_over_c():
    x, y = gaussian_classes([40] * 4, 32, seed=1, separation=0.5)
    result = _flagged("ncm_softmax", x * 1e-12, y)
    assert result.score == pytest.approx(0.25, abs=1e-9)
    assert "priors" in result.degenerate and "tiny" in result.degenerate


def test_tiny_features_put_transrate_at_zero():
    x, y = gaussian_classes([40] * 4, 32, seed=1, separation=0.5)
    result = _flagged("transrate", x * 1e-12, y)
    assert abs(result.score) < 1e-30
    assert "ε = 0.0001" in result.degenerate and "Standardise" in result.degenerate


# -- huge features: no NaN, 0, IndexError or LAPACK error -----------------------------------------------------
HUGE_CASE = gaussian_classes([40] * 4, 32, seed=1, separation=0.5)


@pytest.mark.parametrize("name", ["hscore", "hscore_shrinkage", "face", "nc", "parc"])
def test_huge_features_give_the_scale_invariant_answer(name):
    x, y = HUGE_CASE
    np.testing.assert_allclose(_quiet(name, x * 1e160, y).score, _quiet(name, x, y).score, rtol=1e-9)


@pytest.mark.parametrize("name", ["gbc", "ncti", "sfda", "ped"])
def test_huge_features_give_a_finite_scale_consistent_score(name):
    x, y = HUGE_CASE
    huge = _quiet(name, x * 1e160, y)
    assert np.isfinite(huge.score)
    np.testing.assert_allclose(huge.score, _quiet(name, x * 1e100, y).score, rtol=1e-9)
    if name in ("gbc", "ncti"):  # the absolute constants no longer matter from unit scale upwards here
        np.testing.assert_allclose(huge.score, _quiet(name, x, y).score, rtol=1e-9)


def test_huge_features_saturate_ncm_softmax_to_the_nearest_class_mean_accuracy():
    x, y = HUGE_CASE
    result = _flagged("ncm_softmax", x * 1e160, y)
    assert np.isfinite(result.score) and result.score == result.trace["accuracy"]
    assert "one-hot" in result.degenerate


@pytest.mark.parametrize("name", ["transrate", "logme", "nleep"])
def test_huge_features_give_a_value_error_naming_the_fix(name):
    x, y = HUGE_CASE
    with pytest.raises(ValueError, match=r"scaled by ~1e16\d.*Standardise the features first"):
        compute(name, x * 1e160, y)


def test_moderate_scales_are_not_rescaled():
    x, y = HUGE_CASE
    for factor in (1e-6, 1.0, 1e6):
        result = _quiet("hscore", x * factor, y)
        assert "feature_scale" not in result.trace
    divisor = _quiet("hscore", x * 1e160, y).trace["feature_scale"]
    assert np.frexp(divisor)[0] == 0.5  # an exact power of two ...
    assert divisor / 2 <= np.abs(x * 1e160).max() < divisor  # ... just above the largest |x|


# -- source-probability metrics at their bounds ----------------------------------------------------------------
def test_leep_at_minus_label_entropy_when_the_source_head_is_uninformative():
    x, y = gaussian_classes([20, 20, 20], 4, seed=3)
    uniform = np.full((60, 5), 0.2)
    result = _flagged("leep", x, y, source_probs=uniform)
    assert result.score == pytest.approx(math.log(1 / 3))
    assert "independent of the target labels" in result.degenerate


def test_nce_at_zero_when_the_source_labels_determine_the_target_labels():
    x, y = gaussian_classes([20, 20, 20], 4, seed=3)
    perfect = np.eye(5)[y + 1] * 0.9 + 0.02
    result = _flagged("nce", x, y, source_probs=perfect)
    assert result.score == 0.0 and "maximum 0" in result.degenerate


def test_nce_at_minus_label_entropy_when_one_source_class_is_predicted():
    x, y = gaussian_classes([20, 20, 20], 4, seed=3)
    one_class = np.tile([0.6, 0.1, 0.1, 0.1, 0.1], (60, 1))
    result = _flagged("nce", x, y, source_probs=one_class)
    assert result.score == pytest.approx(-math.log(3)) and "independent" in result.degenerate


# -- other bounds ------------------------------------------------------------------------------------------------
def test_all_zero_features_flag_logme_and_constant_features_flag_parc():
    y = np.arange(24) % 3
    assert "all zero" in _flagged("logme", np.zeros((24, 5)), y).degenerate
    assert "equally dissimilar" in _flagged("parc", np.ones((24, 5)), y).degenerate


def test_coinciding_class_means_put_hscore_and_nc_at_zero():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(90, 4))
    y = np.arange(90) % 3
    x -= np.asarray([x[y == c].mean(axis=0) for c in range(3)])[y]  # every class mean at the origin
    assert "minimum 0" in _flagged("hscore", x, y).degenerate
    assert "class means coincide" in _flagged("nc", x, y).degenerate


# -- the contract -------------------------------------------------------------------------------------------------
def test_wrappers_warn_once_for_their_wrapped_metric():
    result = _flagged("fsp", *NOISE, metric="sfda")  # exactly one warning, although FSP calls compute inside
    assert result.degenerate.startswith("FSP scores with sfda, and SFDA is")


def test_fsp_in_pca_space_counts_the_pca_dimension():
    x, y = gaussian_classes([22, 22, 22], 100, seed=7, separation=0.3)  # N − C = 63 ≤ 64 PCA dims
    result = _flagged("fsp", x, y, metric="sfda", variant="pca64")
    assert "64 dims" in result.degenerate and "100 dims" not in result.degenerate


def test_direct_calls_do_not_warn_and_carry_no_verdict():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateScoreWarning)
        result = sfda(*NOISE)
        from transvis.metrics.ped import ped
        wrapped = ped(*NOISE)
    assert result.score == pytest.approx(1.0) and result.degenerate is None
    assert wrapped.degenerate is None


def test_the_warning_can_be_silenced_by_loops_and_the_verdict_stays():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateScoreWarning)
        results = [compute("sfda", *NOISE) for _ in range(3)]
    assert all(r.is_degenerate for r in results)


def test_metric_result_stays_backwards_compatible():
    result = MetricResult(name="x", score=0.5, trace={"a": 1}, variant=None, params={"p": 2})
    assert result.degenerate is None and not result.is_degenerate
    flagged = dataclasses.replace(result, degenerate="at a bound")
    assert flagged.is_degenerate and flagged.score == 0.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.degenerate = "no"  # type: ignore[misc]
    assert issubclass(DegenerateScoreWarning, UserWarning)


def test_saturation_hints_are_kept_for_rankings():
    for name in ("sfda", "ped"):
        assert "N - C" in get_spec(name).saturation_hint
    assert get_spec("sfda").fits_in_sample and get_spec("sfda").degeneracy is not None
