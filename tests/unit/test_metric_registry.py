"""Registry-wide facts every metric's spec carries for the front ends (no metric is named here: a new metric
is checked by registering it)."""

from __future__ import annotations

import pytest

from transvis.metrics import (
    available,
    default_metrics,
    display_name,
    get_spec,
    in_sample_posterior_metrics,
    opt_in_metrics,
    short_name,
    specs,
)


@pytest.mark.parametrize("name", available())
def test_every_spec_has_a_display_name(name):
    spec = get_spec(name)
    assert isinstance(spec.display_name, str) and spec.display_name.strip()
    assert display_name(name) == spec.display_name
    assert short_name(name).strip() and (spec.short_name is None or spec.short_name.strip())


@pytest.mark.parametrize("name", available())
def test_opt_in_reasons_and_pool_notes_are_sentences_when_set(name):
    spec = get_spec(name)
    assert spec.opt_in is None or (isinstance(spec.opt_in, str) and spec.opt_in.strip())
    assert spec.pool_note is None or (isinstance(spec.pool_note, str) and spec.pool_note.strip())
    assert spec.pool_note is None or spec.pool_combine is not None  # a note explains a pool combination


def test_default_and_opt_in_sets_split_the_registry_in_its_order():
    assert [s.name for s in specs()] == available()
    assert sorted(default_metrics() + opt_in_metrics()) == available()
    assert default_metrics() == [m for m in available() if m not in opt_in_metrics()]
    assert set(in_sample_posterior_metrics()) <= set(available())


def test_labels_of_other_strings_are_unchanged():
    assert display_name("mean rank") == "mean rank" and short_name("ground truth") == "ground truth"
