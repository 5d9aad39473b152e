"""Every key of every reference case reproduced through ``transvis.metrics.compute``."""

import pytest

from tests.refcases import REFVECTOR_DIR, SHARED_REFVECTOR_DIR, KEY_CALLS, assert_matches, case_names, load_case

CASE_KEYS = [
    (case, key)
    for case in case_names()
    for key in load_case(case)[1]
    if not key.startswith("_")
]


def test_refvectors_are_present():
    assert len(case_names()) >= 9


@pytest.mark.skipif(not SHARED_REFVECTOR_DIR.is_dir(), reason="no ../shared/refvectors beside the repository")
def test_vendored_copy_is_current():
    shared = {p.name: p.read_bytes() for p in SHARED_REFVECTOR_DIR.iterdir() if p.is_file()}
    vendored = {p.name: p.read_bytes() for p in REFVECTOR_DIR.iterdir() if p.is_file() and p.name != "PROVENANCE.md"}
    stale = sorted(name for name in shared if vendored.get(name) != shared[name])
    assert not stale, f"tests/data/refvectors differs from ../shared/refvectors in {stale}; refresh the copy " \
                      "(cp ../shared/refvectors/* tests/data/refvectors/)."


def test_every_reference_key_has_a_call():
    missing = sorted({key for _, key in CASE_KEYS} - set(KEY_CALLS))
    assert not missing, f"reference keys without a transvis call: {missing}"


@pytest.mark.parametrize("case,key", CASE_KEYS, ids=[f"{c}:{k}" for c, k in CASE_KEYS])
def test_reference_value(case, key):
    expected = load_case(case)[1][key]
    assert_matches(key, KEY_CALLS[key](case), expected)
