"""Every key of every reference case reproduced through ``transvis.metrics.compute``."""

import pytest

from tests.refcases import KEY_CALLS, assert_matches, case_names, load_case

CASE_KEYS = [
    (case, key)
    for case in case_names()
    for key in load_case(case)[1]
    if not key.startswith("_")
]


def test_refvectors_are_present():
    assert len(case_names()) >= 9


def test_every_reference_key_has_a_call():
    missing = sorted({key for _, key in CASE_KEYS} - set(KEY_CALLS))
    assert not missing, f"reference keys without a transvis call: {missing}"


@pytest.mark.parametrize("case,key", CASE_KEYS, ids=[f"{c}:{k}" for c, k in CASE_KEYS])
def test_reference_value(case, key):
    expected = load_case(case)[1][key]
    assert_matches(key, KEY_CALLS[key](case), expected)
