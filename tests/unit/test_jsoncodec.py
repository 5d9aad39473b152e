"""transvis._jsoncodec: the one codec behind RankingTable.to_json and the trajectory files; both formats stay
as they were written."""

import json
import math

import numpy as np
import pytest

from transvis._jsoncodec import AsideDecoder, AsideEncoder, decode_inline, encode_inline


def test_inline_is_strict_json_and_round_trips():
    value = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": [1, (2, 3)], "nan": math.nan,
             "inf": -math.inf, "s": np.float64(0.5), "k": {3: "x"}, "obj": object, "names": np.array(["p", "q"])}
    encoded = encode_inline(value)
    text = json.dumps(encoded, allow_nan=False)
    decoded = decode_inline(json.loads(text))
    np.testing.assert_array_equal(decoded["a"], value["a"])
    assert decoded["a"].dtype == np.float32
    assert decoded["b"] == [1, [2, 3]] and decoded["k"] == {"3": "x"} and decoded["names"] == ["p", "q"]
    assert math.isnan(decoded["nan"]) and decoded["inf"] == -math.inf
    assert decoded["s"] == 0.5 and type(decoded["s"]) is float
    assert decoded["obj"] == repr(object)
    assert encoded["a"]["dtype"] == "<f4" and encoded["a"]["shape"] == [2, 3]  # the on-disk tags as before
    assert encoded["nan"] == {"__float__": "nan"}


def test_aside_keeps_types_and_sets_arrays_aside():
    value = {(1, "a"): np.int32(4), "t": (1.5, [np.arange(3)]), "f": float("nan")}
    encoder = AsideEncoder()
    document = json.loads(json.dumps(encoder.encode(value)))
    assert list(encoder.arrays) == ["a0"]
    decoded = AsideDecoder(encoder.arrays).decode(document)
    assert set(decoded) == {(1, "a"), "t", "f"}
    assert decoded[(1, "a")] == 4 and decoded[(1, "a")].dtype == np.int32
    assert decoded["t"][0] == 1.5 and isinstance(decoded["t"], tuple)
    np.testing.assert_array_equal(decoded["t"][1][0], np.arange(3))
    assert math.isnan(decoded["f"])


@pytest.mark.parametrize("bad", [np.array([object()]), np.complex128(1j), object()])
def test_aside_refuses_what_it_cannot_store(bad):
    with pytest.raises(ValueError, match="cannot"):
        AsideEncoder().encode(bad)
