"""Issue 13, case 7: complex values in an uploaded .npz are refused, not silently cut to their real part."""

import io
import warnings

import numpy as np
import pytest

from transvis.data.features_npz import load_feature_npz


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _valid(rng, n=12):
    return {"features": rng.normal(size=(n, 4)), "labels": np.arange(n) % 3}


@pytest.mark.parametrize("key", ["features", "source_probs", "source_logits"])
def test_complex_input_is_refused_with_a_clear_error(key):
    rng = np.random.default_rng(0)
    arrays = _valid(rng)
    if key == "features":
        arrays["features"] = arrays["features"] + 1j * rng.normal(size=arrays["features"].shape)
    else:
        p = rng.random((12, 5))
        arrays[key] = (p / p.sum(1, keepdims=True)).astype(np.complex128)  # imaginary part 0: still refused
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way
        with pytest.raises(ValueError, match=rf"'{key}' is complex \(complex128\)"):
            load_feature_npz(_npz(**arrays))
