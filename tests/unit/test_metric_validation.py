"""Every registered metric rejects invalid input with a clear ValueError and never modifies its input.

The metric list is read from the registry, so a metric module added later is covered without edits here.
Each invalid input is tried through ``compute`` and through the module's own function (which must
validate by itself via ``ensure_stats``).
"""

import numpy as np
import pytest

from tests.metric_calls import call, call_direct, extras_for, gaussian_classes
from transvis.metrics import available, compute, get_spec

METRICS = available()
PATHS = {"compute": call, "direct": call_direct}


def _valid(name, n_per_class=12, n_classes=3, n_dims=5):
    x, y = gaussian_classes([n_per_class] * n_classes, n_dims, seed=1)
    return x, y, extras_for(name, x)


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("path", PATHS)
def test_valid_input_gives_a_finite_score(name, path):
    """The baseline the error tests rely on: the same call with valid input succeeds."""
    x, y, extras = _valid(name)
    result = PATHS[path](name, x, y, extras)
    assert np.isfinite(result.score), f"{name}: score {result.score}"
    assert isinstance(result.score, float)


def _nan(x, y):
    x = x.copy()
    x[2, 1] = np.nan
    return x, y


def _inf(x, y):
    x = x.copy()
    x[0, 0] = -np.inf
    return x, y


INVALID = {
    "nan_features": (_nan, "NaN"),
    "inf_features": (_inf, "NaN/inf"),
    "label_length_mismatch": (lambda x, y: (x, y[:-1]), "one label per feature row"),
    "non_contiguous_labels": (lambda x, y: (x, np.where(y == 2, 5, y)), "contiguous"),
    "single_class": (lambda x, y: (x, np.zeros_like(y)), "single class"),
    "negative_labels": (lambda x, y: (x, y - 1), "negative"),
    "string_labels": (lambda x, y: (x, y.astype(str)), "integers"),
    "float_labels": (lambda x, y: (x, y.astype(np.float64)), "integers"),
    "string_features": (lambda x, y: (x.astype(str), y), "numeric"),
    "object_features": (lambda x, y: (x.astype(object), y), "numeric"),
    "features_1d": (lambda x, y: (x[:, 0], y), "2-D"),
    "features_3d": (lambda x, y: (x[:, :, None], y), "2-D"),
    "one_hot_labels": (lambda x, y: (x, np.eye(3, dtype=np.int64)[y]), "1-D"),
}


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", INVALID)
def test_invalid_input_raises_a_clear_value_error(name, path, case):
    make, message = INVALID[case]
    x, y, extras = _valid(name)
    bad_x, bad_y = make(x, y)
    with pytest.raises(ValueError, match=message):
        PATHS[path](name, bad_x, bad_y, extras)


@pytest.mark.parametrize("name", METRICS)
def test_unknown_metric_name_suggests_the_right_one(name):
    x, y, _ = _valid(name)
    typo = name + "x"
    with pytest.raises(ValueError, match=rf"unknown metric '{typo}'.*Did you mean .*'{name}'"):
        compute(typo, x, y)


def test_non_string_metric_name():
    x, y, _ = _valid("hscore")
    with pytest.raises(ValueError, match="string"):
        compute(3, x, y)


@pytest.mark.parametrize("name", METRICS)
def test_unknown_parameter_is_named_with_the_accepted_ones(name):
    x, y, extras = _valid(name)
    with pytest.raises(ValueError, match=r"no parameter\(s\) \['not_a_parameter'\]"):
        call(name, x, y, extras, not_a_parameter=1)


@pytest.mark.parametrize("name", METRICS)
def test_unknown_variant_is_refused(name):
    x, y, extras = _valid(name)
    spec = get_spec(name)
    message = "no variant 'no_such_variant'" if spec.variants else r"no parameter\(s\) \['variant'\]"
    with pytest.raises(ValueError, match=message):
        call(name, x, y, extras, variant="no_such_variant")


@pytest.mark.parametrize("name", [m for m in METRICS if get_spec(m).variants])
def test_every_declared_variant_runs(name):
    x, y, extras = _valid(name)
    spec = get_spec(name)
    assert spec.default_variant in spec.variants
    for variant in spec.variants:
        assert np.isfinite(call(name, x, y, extras, variant=variant).score), variant


PROBS_METRICS = [m for m in METRICS if get_spec(m).needs_source_probs]


@pytest.mark.parametrize("name", PROBS_METRICS)
def test_source_probs_are_validated(name):
    x, y, extras = _valid(name)
    probs = extras["source_probs"]
    with pytest.raises(ValueError, match="needs source_probs"):
        compute(name, x, y)
    with pytest.raises(ValueError, match="logits"):
        compute(name, x, y, source_probs=np.log(probs))
    with pytest.raises(ValueError, match="rows"):
        compute(name, x, y, source_probs=probs[:-1])
    bad = probs.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        compute(name, x, y, source_probs=bad)


REFERENCE_METRICS = [m for m in METRICS if "reference_features" in get_spec(m).params]


@pytest.mark.parametrize("name", REFERENCE_METRICS)
def test_reference_features_are_validated(name):
    x, y, extras = _valid(name)
    ref = extras["reference_features"]
    bad = ref.copy()
    bad[1, 1] = np.inf
    with pytest.raises(ValueError):
        call(name, x, y, {**extras, "reference_features": bad})
    with pytest.raises(ValueError):
        call(name, x, y, {**extras, "reference_features": ref[:, :-1]})


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("path", PATHS)
def test_input_is_never_modified(name, path):
    x, y, extras = _valid(name)
    arrays = {"features": x, "labels": y, **{k: v for k, v in extras.items() if isinstance(v, np.ndarray)}}
    before = {k: v.copy() for k, v in arrays.items()}
    PATHS[path](name, x, y, extras)
    for key, arr in arrays.items():
        np.testing.assert_array_equal(arr, before[key], err_msg=f"{name} modified {key}")
        assert arr.flags.writeable, f"{name} changed the writeable flag of the caller's {key}"


@pytest.mark.parametrize("name", METRICS)
def test_float32_input_is_not_modified_and_matches_float64(name):
    x, y, extras = _valid(name)
    x32 = x.astype(np.float32)
    x32_before = x32.copy()
    score32 = call(name, x32, y, extras).score
    np.testing.assert_array_equal(x32, x32_before)
    score64 = call(name, x32.astype(np.float64), y, extras).score
    assert score32 == pytest.approx(score64, rel=1e-9, abs=1e-12)  # float64 internally
