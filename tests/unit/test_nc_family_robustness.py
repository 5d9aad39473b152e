"""Hard inputs for LEEP, NCE, 𝒩LEEP, GBC, PARC, NCTI, NC and FaCe: finite scores *and* finite traces.

The registry-wide sweep (test_metric_properties) checks the scores; this one also checks that no trace
scalar silently turns NaN, and that float32 and float64 inputs are left untouched.
"""

import numpy as np
import pytest

from tests.metric_calls import call, extras_for, gaussian_classes

METRICS = ["leep", "nce", "nleep", "gbc", "parc", "ncti", "nc", "face"]


def _cases():
    cases = {"n_lt_d": gaussian_classes([6, 7, 7], 50, seed=1)}
    x, y = gaussian_classes([15, 15, 15], 6, seed=2)
    cases["singular_cov"] = (np.hstack([x, x[:, :3] * 2.0 - x[:, 3:4]]), y)
    x, y = gaussian_classes([15, 15, 15], 8, seed=3)
    x[:, [1, 4, 6]] = 0.0
    cases["dead_dims"] = (x, y)
    x, y = gaussian_classes([15, 15, 15], 8, seed=4)
    x[:, [0, 5]] = 3.5
    cases["constant_dims"] = (x, y)
    cases["all_constant"] = (np.full((30, 5), 2.0), np.arange(30) % 3)
    cases["one_sample_class"] = gaussian_classes([1, 20, 20], 6, seed=5)
    cases["two_classes"] = gaussian_classes([20, 25], 6, seed=6)
    cases["imbalanced"] = gaussian_classes([150, 6, 4], 6, seed=7)
    x, y = gaussian_classes([15, 15, 15], 6, seed=8)
    cases["scale_1e-6"] = (x * 1e-6, y)
    cases["scale_1e6"] = (x * 1e6, y)
    cases["collapsed"] = (np.random.default_rng(9).normal(size=(3, 6))[y], y)
    return cases


CASES = _cases()
# Trace scalars that are legitimately not finite on degenerate input (documented in the docstrings).
ALLOWED_NON_FINITE = {"nc1", "nc2_equinorm", "nc3", "nc2_classifier_equinorm", "mean_within_dissimilarity"}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", METRICS)
def test_finite_score_and_trace(name, case):
    x, y = CASES[case]
    result = call(name, x, y, extras_for(name, x))
    assert np.isfinite(result.score), f"{name} on {case}: {result.score}"
    for key, value in result.trace.items():
        if isinstance(value, float) and key not in ALLOWED_NON_FINITE:
            assert not np.isnan(value), f"{name} on {case}: trace[{key!r}] is NaN"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", METRICS)
def test_inputs_are_not_modified(name, dtype):
    x, y = gaussian_classes([12, 15, 10], 7, seed=10)
    x = x.astype(dtype)
    extras = extras_for(name, x)
    copies = (x.copy(), y.copy(), {k: np.copy(v) for k, v in extras.items()})
    call(name, x, y, extras)
    np.testing.assert_array_equal(x, copies[0])
    np.testing.assert_array_equal(y, copies[1])
    for key, value in extras.items():
        np.testing.assert_array_equal(value, copies[2][key])
