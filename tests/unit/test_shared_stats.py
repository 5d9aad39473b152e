"""The shared statistics that make a zoo fast: rank-one XᵀX eigendecomposition, blockwise Grams, derived
(moved) statistics and the result memo must all equal their direct computations."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from transvis.metrics import ClassStats, compute
from transvis.metrics._backend import get_backend
from transvis.metrics._eigen_update import eigh_rank_one_update
from transvis.metrics._stats import MovedClassStats


def _relu_classes(n=300, d=24, c=5, seed=0, offset=0.3):
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % c)
    means = rng.normal(size=(c, d))
    x = np.maximum(means[labels] + rng.normal(size=(n, d)) + offset, 0.0)
    return x, labels


def _sym_psd(d, rank, seed, repeat=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(rank, d))
    sym = a.T @ a / rank
    if repeat:  # an eigenvalue of multiplicity `repeat`
        q = np.linalg.qr(rng.normal(size=(d, d)))[0]
        w = np.sort(rng.random(d))[::-1] * 5
        w[2: 2 + repeat] = w[2]
        sym = (q * w) @ q.T
    return (sym + sym.T) / 2


def _check_update(sym, u, rtol=1e-12):
    w, v = np.linalg.eigh(sym)
    target = sym + np.outer(u, u)
    result = eigh_rank_one_update(w[::-1], v[:, ::-1], u)
    assert result is not None
    expected = np.linalg.eigvalsh(target)[::-1]
    scale = max(expected[0], 1e-300)
    np.testing.assert_allclose(result.values, expected, rtol=0, atol=rtol * scale * target.shape[0])
    assert np.all(np.diff(result.values) <= 0)
    vec = result.vectors
    np.testing.assert_allclose(vec.T @ vec, np.eye(sym.shape[0]), atol=1e-12 * sym.shape[0])
    np.testing.assert_allclose(target @ vec, vec * result.values, atol=1e-12 * scale * sym.shape[0])
    rows = np.random.default_rng(1).normal(size=(3, sym.shape[0]))
    np.testing.assert_allclose(result.project(rows), rows @ vec, atol=1e-12 * np.abs(rows).max())
    np.testing.assert_allclose(result.expand(rows), rows @ vec.T, atol=1e-12 * np.abs(rows).max())


@pytest.mark.parametrize("d,rank,repeat", [(1, 1, 0), (2, 2, 0), (12, 30, 0), (40, 10, 0), (30, 60, 4)])
def test_rank_one_update_equals_direct_eigendecomposition(d, rank, repeat):
    sym = _sym_psd(d, rank, seed=d + rank, repeat=repeat)
    u = np.random.default_rng(d).normal(size=d) * 3.0
    _check_update(sym, u)


def test_rank_one_update_deflates_null_space_and_orthogonal_updates():
    d = 16
    sym = _sym_psd(d, 5, seed=3)  # rank 5: an 11-dimensional null space (eigenvalues ~ ±1e-16)
    rng = np.random.default_rng(4)
    _check_update(sym, rng.normal(size=d))
    w, v = np.linalg.eigh(sym)
    _check_update(sym, 2.0 * v[:, 0])  # update entirely in the null space
    _check_update(sym, 0.5 * v[:, -1])  # along the top eigenvector: every other component deflates
    zero = eigh_rank_one_update(w[::-1], v[:, ::-1], np.zeros(d))
    np.testing.assert_allclose(zero.values, np.maximum(w[::-1], 0.0))


def test_rank_one_update_huge_offset_like_relu_features():
    x, _ = _relu_classes(400, 32, 4, seed=2, offset=50.0)  # mean ≫ spread
    mean = x.mean(axis=0)
    cov = np.cov(x.T, bias=True)
    _check_update(cov, mean, rtol=1e-13)


@pytest.mark.parametrize("n,d", [(300, 24), (120, 40)])
def test_raw_gram_and_its_eigendecomposition_from_the_shared_total_scatter(n, d):
    x, y = _relu_classes(n, d, seed=n)
    x[:, 3] = 0.0  # a dead dimension
    x[:, 5] = 2.5  # a constant one: a null direction of S_T that XᵀX does not have
    stats = ClassStats(x, y)
    gram = x.T @ x
    np.testing.assert_allclose(stats.raw_gram, gram, rtol=1e-12, atol=1e-12 * np.abs(gram).max())
    eig = stats.raw_gram_eigh
    expected = np.linalg.eigvalsh(gram)[::-1]
    np.testing.assert_allclose(eig.values, expected, rtol=0, atol=1e-12 * expected[0])
    vec = eig.vectors
    np.testing.assert_allclose(gram @ vec, vec * eig.values, atol=1e-11 * expected[0])


def test_blockwise_statistics_equal_dense_ones(monkeypatch):
    import transvis.metrics._stats as stats_module

    monkeypatch.setattr(stats_module, "_BLOCK_ENTRIES", 7 * 24)  # force many small blocks (7 rows)
    x, y = _relu_classes(200, 24, 6, seed=5)
    stats = ClassStats(x, y)
    assert len(stats.row_blocks()) == int(np.ceil(200 / 7))
    centred = x - x.mean(axis=0)
    np.testing.assert_allclose(stats.total_scatter, centred.T @ centred / 200, rtol=1e-12, atol=1e-14)
    m = np.random.default_rng(0).normal(size=(24, 3))
    np.testing.assert_allclose(stats.centered_dot(m), centred @ m, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(stats.centered_row_norms2(), (centred**2).sum(axis=1), rtol=1e-12)
    variances = np.stack([x[y == c].var(axis=0) for c in range(6)])
    np.testing.assert_allclose(stats.class_variances, variances, rtol=1e-12, atol=1e-14)
    resid = np.concatenate([block for _, block in stats.residual_blocks()])
    np.testing.assert_allclose(resid, x - stats.class_means[y], rtol=0, atol=1e-14)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_gram_sum_and_logdet(backend):
    be = get_backend(backend)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 9))
    blocks = [a[:7], a[7:7], a[7:31], a[31:]]
    np.testing.assert_allclose(be.gram_sum(iter(blocks), 9), a.T @ a, rtol=1e-12, atol=1e-12)
    sym = a.T @ a
    expected = np.linalg.slogdet(np.eye(9) + 0.3 * sym)[1]
    assert be.logdet_eye_plus(sym, 0.3) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("scale", [1.0, 1.7, 0.0])
def test_moved_statistics_equal_those_of_the_moved_features(scale):
    x, y = _relu_classes(240, 20, 4, seed=7)
    base = ClassStats(x, y)
    shift = np.random.default_rng(1).normal(size=(4, 20))
    new_means = base.class_means + shift
    moved = base.moved(new_means, residual_scale=scale)
    assert isinstance(moved, MovedClassStats)
    explicit_x = new_means[y] + scale * (x - base.class_means[y])
    explicit = ClassStats(explicit_x, y)
    tol = dict(rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(moved.class_means, explicit.class_means, **tol)
    np.testing.assert_allclose(moved.mean, explicit.mean, **tol)
    for name in ("within_scatter", "between_scatter", "total_scatter", "raw_gram", "class_variances"):
        np.testing.assert_allclose(getattr(moved, name), getattr(explicit, name), err_msg=name, **tol)
    np.testing.assert_allclose(moved.total_eigh[0], explicit.total_eigh[0], rtol=1e-9, atol=1e-10)
    m = np.random.default_rng(2).normal(size=(20, 3))
    np.testing.assert_allclose(moved.centered_dot(m), explicit.centered_dot(m), **tol)
    assert "features" not in moved.__dict__  # nothing above needed the rows themselves
    np.testing.assert_allclose(moved.features, explicit_x, **tol)
    assert not moved.features.flags.writeable
    # Metrics on the derived statistics equal metrics on the materialised features.
    for name, params in [("sfda", {}), ("logme", {}), ("hscore", {}), ("gbc", {"pca_dims": 8})]:
        got = compute(name, moved.features, y, stats=moved, **params).score
        want = compute(name, explicit_x, y, **params).score
        assert got == pytest.approx(want, rel=1e-8, abs=1e-12), name


def test_moved_statistics_reject_bad_arguments():
    x, y = _relu_classes(60, 6, 3, seed=1)
    stats = ClassStats(x, y)
    with pytest.raises(ValueError, match="residual_scale"):
        stats.moved(stats.class_means, residual_scale=-1.0)
    with pytest.raises(ValueError, match="class_means"):
        stats.moved(stats.class_means[:2])


def test_memo_returns_copies_and_wrappers_reuse_the_plain_score(monkeypatch):
    import transvis.metrics.sfda as sfda_module

    x, y = _relu_classes(200, 12, 4, seed=3)
    stats = ClassStats(x, y)
    calls = []
    original = sfda_module._sfda

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(sfda_module, "_sfda", counting)
    first = compute("sfda", x, y, stats=stats)
    first.trace["extra"] = 1  # callers get their own trace dict
    second = compute("sfda", x, y, stats=stats)
    assert "extra" not in second.trace and second.score == first.score
    assert len(calls) == 1
    ped = compute("ped", x, y, stats=stats, metric="sfda", reference_features=x[:50] * 1.5)
    assert ped.trace["score_before"] == first.score
    assert len(calls) == 1 + (ped.trace["num_steps"] > 0)  # only the moved features are scored anew
    compute("sfda", x, y, stats=stats, shrinkage=0.5)  # other parameters: another entry
    assert len(calls) == 2 + (ped.trace["num_steps"] > 0)


def test_raw_gram_eigh_falls_back_to_a_direct_decomposition(monkeypatch):
    import transvis.metrics._stats as stats_module

    x, y = _relu_classes(150, 10, 3, seed=9)
    expected = compute("logme", x, y).trace
    monkeypatch.setattr(stats_module, "eigh_rank_one_update", lambda *args: None)
    stats = ClassStats(x, y)
    assert type(stats.raw_gram_eigh).__name__ == "DenseEigh"
    got = compute("logme", x, y, stats=stats).trace
    np.testing.assert_allclose(got["evidence"], expected["evidence"], rtol=1e-10)
    np.testing.assert_allclose(got["weights"], expected["weights"], rtol=1e-8, atol=1e-12)


def test_top_eigh_partial_equals_full_and_ncti_gbc_do_not_depend_on_the_order():
    x, y = _relu_classes(300, 40, 5, seed=11)
    cold = ClassStats(x, y)
    values, vectors = cold.top_eigh(8)
    assert "total_eigh" not in cold.__dict__  # a partial decomposition
    full_values, full_vectors = ClassStats(x, y).total_eigh
    np.testing.assert_allclose(values, full_values[:8], rtol=1e-11)
    np.testing.assert_allclose(np.abs(vectors.T @ full_vectors[:, :8]), np.eye(8), atol=1e-8)
    assert cold.top_eigh(4)[0].shape == (4,)  # served from the cached 8
    warm = ClassStats(x, y)
    compute("hscore", x, y, stats=warm)  # the full decomposition first
    for name, params, key in [("ncti", {"pca_dims": 16}, "seli"), ("gbc", {"pca_dims": 16}, None)]:
        a = compute(name, x, y, **params)
        b = compute(name, x, y, stats=warm, **params)
        assert a.score == pytest.approx(b.score, rel=1e-9, abs=1e-12)
        if key:
            assert a.trace[key] == pytest.approx(b.trace[key], rel=1e-9)
