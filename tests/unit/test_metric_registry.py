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


def test_app_and_cli_rank_the_registry_default_set():
    """The Leaderboard's default (``app_defaults.default_metrics``) and the CLI's (``--metrics`` left out) are the
    registry's ``default_metrics()`` (the CLI's hard-coded list used to omit ncm_softmax)."""
    from transvis import cli
    from transvis.app_defaults import default_metrics as app_defaults

    assert app_defaults() == default_metrics()
    args = cli.build_parser().parse_args(["score", "--features", "unused.npz"])
    assert args.metrics is None  # resolved from the registry when the command runs


def test_in_sample_note_names_the_specs_flagged_in_sample():
    import numpy as np

    from transvis.features.featureset import FeatureSet
    from transvis.session import in_sample_note, pool_from_featuresets

    labels = np.repeat(np.arange(2), 10)  # N - C = 18 samples for D = 40: thin
    thin = FeatureSet(features=np.random.default_rng(0).normal(size=(20, 40)), labels=labels, class_names=["a", "b"],
                      model_id="zoo/thin", dataset_id="toy")
    pool = pool_from_featuresets([thin], "thin", "upload")
    flagged = in_sample_posterior_metrics()
    assert flagged  # at least one metric scores in-sample posteriors
    assert in_sample_note(pool, available()).startswith(", ".join(short_name(m) for m in flagged) + " fit an LDA")
    assert in_sample_note(pool, [m for m in available() if m not in flagged]) is None
