"""The fast paths of the suite equal their direct computations: the one-reduction finiteness check, slab
Grams, ConfMix moments from the shared statistics (and the common-weight shortcut), PED without moved rows,
the shared Cholesky factor, and FSP's randomised PCA from the shared S_T."""

from __future__ import annotations

import numpy as np
import pytest

import transvis.metrics._backend as backend_module
import transvis.metrics._stats as stats_module
import transvis.metrics.sfda as sfda_module
from transvis.metrics import ClassStats, compute
from transvis.metrics._backend import get_backend
from transvis.metrics._stats import MovedClassStats
from transvis.metrics._validation import as_features
from transvis.metrics.fsp import _official_pca_shared, official_pca


def _relu_classes(n=240, d=20, c=4, seed=0, separation=1.0, offset=0.3):
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % c)
    means = rng.normal(size=(c, d)) * separation
    return np.maximum(means[labels] + rng.normal(size=(n, d)) + offset, 0.0), labels


# -- validation ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_one_non_finite_value_is_found_with_its_row(dtype, bad):
    x = np.ones((50, 7), dtype=dtype)
    x[17, 3] = bad
    with pytest.raises(ValueError, match=r"1 NaN/inf values in 1 rows \(first rows: \[17\]\)"):
        as_features(x)


def test_opposite_infinities_and_nan_rows_are_all_counted():
    x = np.zeros((20, 4))
    x[2, 0], x[2, 1], x[9, 3] = np.inf, -np.inf, np.nan  # inf + (−inf) = NaN: still caught
    with pytest.raises(ValueError, match=r"3 NaN/inf values in 2 rows \(first rows: \[2, 9\]\)"):
        as_features(x)


def test_finite_values_whose_sum_overflows_are_accepted():
    x = np.full((10, 3), 1e308)  # the sum overflows to inf, every value is finite
    out = as_features(x)
    assert out.dtype == np.float64 and not out.flags.writeable
    assert np.shares_memory(out, x) and x.flags.writeable  # a read-only view; the caller's array untouched


def test_float32_input_is_converted_and_left_unchanged():
    x = np.random.default_rng(0).normal(size=(30, 5)).astype(np.float32)
    before = x.copy()
    out = as_features(x)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, before.astype(np.float64))
    np.testing.assert_array_equal(x, before)


# -- slab Grams and blockwise primitives --------------------------------------------------------------------
@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 7 rows and slabs of 30 rows: many slabs, a partial last one."""
    monkeypatch.setattr(stats_module, "_BLOCK_ENTRIES", 7 * 20)
    monkeypatch.setattr(stats_module, "GRAM_SLAB_ENTRIES", 30 * 20)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_slab_gram_equals_the_dense_gram(small_blocks, backend, monkeypatch):
    x, y = _relu_classes(233, 20, 5, seed=1)
    stats = ClassStats(x, y, backend=backend)
    slabs = []
    original = stats.backend.gram_sum

    def recording(blocks, n_dims):
        blocks = [b.copy() for b in blocks]  # (the slab buffer is re-used from one slab to the next)
        slabs.append([b.shape[0] for b in blocks])
        return original(iter(blocks), n_dims)

    monkeypatch.setattr(stats.backend, "gram_sum", recording)
    centred = x - x.mean(axis=0)
    expected = centred.T @ centred / 233
    np.testing.assert_allclose(stats.total_scatter, expected, rtol=1e-12, atol=1e-13 * np.abs(expected).max())
    assert slabs == [[28] * 8 + [9]]  # whole 7-row blocks per 30-row slab


def test_slab_gram_reuses_one_buffer():
    x, y = _relu_classes(100, 6, 3, seed=2)
    stats = ClassStats(x, y)
    seen = []
    stats.row_gram(lambda rows, out: (seen.append(out.base if out.base is not None else out), out.fill(1.0)))
    assert len({id(b) for b in seen}) == 1


def _explicit_rows(x, y, weights, centres, offsets):
    return weights[:, None] * (x - centres[y]) - offsets[y]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_affine_row_scatter_and_class_sums_equal_explicit_ones(small_blocks, backend):
    x, y = _relu_classes(150, 20, 4, seed=3)
    rng = np.random.default_rng(4)
    stats = ClassStats(x, y, backend=backend)
    w, u, v = rng.random(150), rng.normal(size=(4, 20)), rng.normal(size=(4, 20))
    rows = _explicit_rows(x, y, w, u, v)
    np.testing.assert_allclose(stats.affine_row_scatter(w, u, v), rows.T @ rows / 150, rtol=1e-9, atol=1e-12)
    resid = x - stats.class_means[y]
    sums = np.stack([(w[y == c, None] * resid[y == c]).sum(axis=0) for c in range(4)])
    np.testing.assert_allclose(stats.class_residual_sums(w), sums, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.residual_rows([5, 0, 149]), resid[[5, 0, 149]], rtol=0, atol=1e-14)
    m = rng.normal(size=(150, 3))
    np.testing.assert_allclose(stats.centered_tdot(m), (x - x.mean(axis=0)).T @ m, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("scale", [1.0, 1.7, 0.0])
def test_moved_primitives_equal_those_of_the_moved_rows_without_building_them(scale):
    x, y = _relu_classes(200, 16, 4, seed=5)
    base = ClassStats(x, y)
    rng = np.random.default_rng(6)
    new_means = base.class_means + rng.normal(size=(4, 16))
    moved = base.moved(new_means, residual_scale=scale)
    explicit = ClassStats(new_means[y] + scale * (x - base.class_means[y]), y)
    w, u, v = rng.random(200), rng.normal(size=(4, 16)), rng.normal(size=(4, 16))
    tol = dict(rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(moved.affine_row_scatter(w, u, v), explicit.affine_row_scatter(w, u, v), **tol)
    np.testing.assert_allclose(moved.class_residual_sums(w), explicit.class_residual_sums(w), **tol)
    np.testing.assert_allclose(moved.residual_rows([3, 7]), explicit.residual_rows([3, 7]), **tol)
    if scale > 0:  # s = 0 collapses every class to a point: that one case materialises the rows
        assert "features" not in moved.__dict__
    assert moved.matches(None, y) and not base.matches(None, y)


# -- SFDA: ConfMix from the shared statistics --------------------------------------------------------------
def test_common_weight_shortcut_equals_the_full_gram():
    x, y = _relu_classes(400, 12, 5, seed=7)
    stats = ClassStats(x, y)
    rng = np.random.default_rng(8)
    weights = np.full(400, 0.3)
    others = rng.choice(400, size=90, replace=False)  # 22.5 % differ: shortcut
    weights[others] = rng.uniform(0.1, 0.6, size=90)
    mixed = sfda_module._ConfMixMoments(stats, weights)
    shortcut = mixed._common_weight_scatter()
    assert shortcut is not None
    direct = stats.affine_row_scatter(mixed.weights, mixed.outer, mixed.offsets)
    np.testing.assert_allclose(shortcut, direct, rtol=1e-11, atol=1e-13 * np.abs(direct).max())
    np.testing.assert_allclose(mixed.within_scatter(), direct, rtol=1e-11, atol=1e-13 * np.abs(direct).max())
    weights[rng.choice(400, size=120, replace=False)] = 0.55  # now more than a quarter differ
    assert sfda_module._ConfMixMoments(stats, weights)._common_weight_scatter() is None


def test_saturated_sfda_and_ped_equal_the_full_gram_path(monkeypatch):
    # Separated high-dimensional classes: the first pass saturates (one-hot posteriors, λ at its floor).
    x, y = _relu_classes(300, 120, 6, seed=9, separation=3.0)
    g = np.abs(np.random.default_rng(10).normal(size=(80, 120)))
    stats = ClassStats(x, y)
    fast_sfda = compute("sfda", x, y, stats=stats)
    fast_ped = compute("ped", x, y, stats=stats, metric="sfda", reference_features=g)
    _, counts = np.unique(fast_sfda.trace["mixing_weights"], return_counts=True)
    assert counts.max() >= 0.75 * y.size  # the situation the shortcut is for
    monkeypatch.setattr(sfda_module._ConfMixMoments, "_common_weight_scatter", lambda self: None)
    slow = ClassStats(x, y)
    slow_sfda = compute("sfda", x, y, stats=slow)
    slow_ped = compute("ped", x, y, stats=slow, metric="sfda", reference_features=g)
    assert fast_sfda.score == pytest.approx(slow_sfda.score, rel=1e-12)
    assert fast_ped.score == pytest.approx(slow_ped.score, rel=1e-12)
    np.testing.assert_allclose(fast_sfda.trace["confusion"], slow_sfda.trace["confusion"], rtol=1e-10, atol=1e-12)


def test_ped_scores_the_moved_statistics_without_building_the_moved_rows(monkeypatch):
    x, y = _relu_classes(240, 20, 4, seed=11, separation=0.4)
    g = np.abs(np.random.default_rng(12).normal(size=(60, 20))) * 1.5

    def forbidden(self):
        raise AssertionError("the moved rows were materialised")

    expected = {m: compute("ped", x, y, metric=m, reference_features=g).score for m in ("sfda", "logme")}
    monkeypatch.setattr(MovedClassStats, "features", property(forbidden))
    for metric in ("sfda", "logme"):
        result = compute("ped", x, y, metric=metric, reference_features=g)
        assert result.trace["num_steps"] > 0
        assert result.score == expected[metric]


def test_ped_without_a_step_reuses_the_memoised_plain_score(monkeypatch):
    x, y = _relu_classes(200, 10, 4, seed=13, separation=40.0)  # far-apart classes: no overlapping pair
    stats = ClassStats(x, y)
    calls = []
    original = sfda_module._sfda
    monkeypatch.setattr(sfda_module, "_sfda", lambda *a: calls.append(1) or original(*a))
    plain = compute("sfda", x, y, stats=stats)
    ped = compute("ped", x, y, stats=stats, metric="sfda", reference_features=x[:40])
    assert ped.trace["num_steps"] == 0 and ped.score == plain.score and len(calls) == 1


def test_moved_fit_shares_the_base_cholesky_factor():
    x, y = _relu_classes(300, 24, 5, seed=14)
    stats = ClassStats(x, y)
    shift = np.random.default_rng(15).normal(size=(5, 24))
    first = sfda_module.ShrinkageLDA()._fit_stats(stats)
    assert ("sfda_shrunk_within", None) in stats._results
    rigid = sfda_module.ShrinkageLDA()._fit_stats(stats.moved(stats.class_means + shift))
    assert rigid.shrunk_covariance_ is first.shrunk_covariance_  # one factorisation for both
    fresh = sfda_module.ShrinkageLDA().fit(stats.class_means[y] + shift[y] + (x - stats.class_means[y]), y)
    np.testing.assert_allclose(rigid.coef_, fresh.coef_, rtol=1e-9, atol=1e-12)
    scaled = sfda_module.ShrinkageLDA()._fit_stats(stats.moved(stats.class_means, residual_scale=2.0))
    assert scaled.shrunk_covariance_ is not first.shrunk_covariance_  # another S_W: its own factor


def test_psd_solver_falls_back_to_the_pseudo_inverse():
    rng = np.random.default_rng(16)
    a = rng.normal(size=(3, 6))
    singular = a.T @ a  # rank 3
    rhs = singular @ rng.normal(size=(6, 2))
    solve = get_backend("numpy").psd_solver(singular)
    np.testing.assert_allclose(singular @ solve(rhs), rhs, atol=1e-9)
    assert backend_module.NumpyBackend().solve_psd(np.eye(3) * 2.0, np.ones((3, 1)))[0, 0] == pytest.approx(0.5)


# -- FSP: the official randomised PCA from the shared S_T --------------------------------------------------
@pytest.mark.parametrize("n,d", [(400, 70), (300, 64), (500, 30)])
def test_shared_randomised_pca_equals_scikit_learn(n, d):
    x, y = _relu_classes(n, d, 5, seed=n + d)
    stats = ClassStats(x, y)
    got = _official_pca_shared(stats, 64)
    want = official_pca(x, 64)
    assert got.shape == want.shape == (n, min(64, d))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * np.abs(want).max())


def test_shared_randomised_pca_calls_scikit_learn_when_n_is_below_d():
    x, y = _relu_classes(40, 90, 4, seed=17)
    np.testing.assert_array_equal(_official_pca_shared(ClassStats(x, y), 64), official_pca(x, 64))
