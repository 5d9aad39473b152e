"""ClassStats.subset: a replicate's statistics equal a fresh ClassStats of the subset's rows, for every metric."""

import warnings

import numpy as np
import pytest

from tests.metric_calls import extras_for, gaussian_classes
from transvis.metrics import ClassStats, available, compute, get_spec
from transvis.uncertainty import Resampling


def _case():
    # N > D with unequal classes and a soft overlap: no metric is saturated here
    return gaussian_classes([70, 55, 90, 45], 24, seed=5, separation=1.2)


def test_subset_scatter_from_left_out_rows_equals_a_fresh_gram(monkeypatch):
    x, y = _case()
    base = ClassStats(x, y)
    base.total_scatter  # noqa: B018 - the full scoring has paid for S_T
    rows = Resampling(n_replicates=2).subsets(y)[1]
    sub, fresh = base.subset(rows), ClassStats(x[rows], y[rows])
    fresh.total_scatter  # noqa: B018
    gram_rows = []
    original = type(sub.backend).gram_sum

    def spy(backend, blocks, n_dims):
        blocks = list(blocks)
        gram_rows.append(sum(b.shape[0] for b in blocks))
        return original(backend, blocks, n_dims)

    monkeypatch.setattr(type(sub.backend), "gram_sum", spy)
    assert sub.n_samples == rows.size == fresh.n_samples < base.n_samples
    np.testing.assert_array_equal(sub.features, fresh.features)
    np.testing.assert_array_equal(sub.counts, fresh.counts)
    scale = np.abs(fresh.total_scatter).max()
    np.testing.assert_allclose(sub.total_scatter, fresh.total_scatter, rtol=0, atol=1e-13 * scale)
    assert gram_rows == [base.n_samples - rows.size]  # one Gram, of the left-out rows only
    # without the base's S_T the subset computes its own Gram, of its kept rows
    cold = ClassStats(x, y).subset(rows)
    np.testing.assert_allclose(cold.total_scatter, fresh.total_scatter, rtol=0, atol=1e-13 * scale)
    assert gram_rows[1:] == [rows.size]


def test_subset_must_keep_every_class():
    x, y = _case()
    with pytest.raises(ValueError, match="keep every class"):
        ClassStats(x, y).subset(np.flatnonzero(y != 2))


@pytest.mark.parametrize("name", [m for m in available() if get_spec(m).pool_combine is None])
def test_every_metric_scores_a_subset_as_a_fresh_scoring_does(name):
    x, y = _case()
    extras = extras_for(name, x)
    probs = extras.pop("source_probs", None)
    base = ClassStats(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compute(name, x, y, stats=base, source_probs=probs, **extras)  # the full scoring fills the base's cache
        base.total_scatter  # noqa: B018
        for rows in Resampling(n_replicates=3, seed=1).subsets(y):
            sub_probs = None if probs is None else probs[rows]
            sub = base.subset(rows)
            ours = compute(name, sub.features, sub.labels, stats=sub, source_probs=sub_probs, **extras).score
            fresh = compute(name, x[rows], y[rows], source_probs=sub_probs, **extras).score
            np.testing.assert_allclose(ours, fresh, rtol=1e-9, atol=1e-12, err_msg=name)
