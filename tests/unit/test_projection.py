"""Projections: exact PCA with a stable sign, SFDA's Fisher plane, the cached UMAP overview."""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from tests.metric_calls import gaussian_classes
from transvis.metrics import ClassStats, compute
from transvis.metrics.sfda import ShrinkageLDA, shrink
from transvis.projection import FisherProjection, PCAProjection, UMAPOverview, umap_overview


@pytest.fixture(scope="module")
def data():
    return gaussian_classes([50, 40, 60, 30, 45], 120, seed=3, separation=1.5)


# -- PCA ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["dense", "lanczos", "auto"])
def test_pca_matches_full_svd_pca_up_to_sign(data, solver):
    x, _ = data
    ours = PCAProjection(3, solver=solver).fit(x)
    ref = PCA(3, svd_solver="full").fit(x)
    signs = np.sign((ours.components_ * ref.components_).sum(axis=1))
    np.testing.assert_allclose(ours.components_, ref.components_ * signs[:, None], atol=1e-10)
    n = x.shape[0]
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_ * (n - 1) / n, rtol=1e-10)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-10)
    np.testing.assert_allclose(ours.transform(x), (x - x.mean(0)) @ ours.components_.T, atol=1e-10)


def test_pca_sign_convention_is_stable_under_refit_and_row_order(data):
    x, _ = data
    first = PCAProjection(2).fit(x)
    again = PCAProjection(2).fit(x)
    shuffled = PCAProjection(2).fit(x[np.random.default_rng(0).permutation(len(x))])
    np.testing.assert_array_equal(first.components_, again.components_)
    np.testing.assert_allclose(shuffled.components_, first.components_, atol=1e-10)
    pivot = np.abs(first.components_).argmax(axis=1)
    assert np.all(first.components_[np.arange(2), pivot] > 0)


def test_pca_reuses_a_given_covariance_and_the_small_n_path(data):
    x, y = data
    stats = ClassStats(x, y)
    with_cov = PCAProjection(2).fit(x, stats=stats, covariance=stats.total_scatter)
    plain = PCAProjection(2, solver="dense").fit(x)
    np.testing.assert_allclose(with_cov.components_, plain.components_, atol=1e-10)
    wide = x[:40]  # N < D: eigenvectors of the N×N Gram
    small = PCAProjection(2, solver="dense").fit(wide)
    ref = PCA(2, svd_solver="full").fit(wide)
    np.testing.assert_allclose(np.abs(small.components_), np.abs(ref.components_), atol=1e-10)


def test_pca_degenerate_inputs_and_errors():
    one_dim = np.arange(10.0)[:, None]
    proj = PCAProjection(2).fit(one_dim)
    assert proj.components_.shape == (2, 1)
    np.testing.assert_array_equal(proj.components_[1], [0.0])  # padded: the data have one direction
    assert proj.transform(one_dim).shape == (10, 2)
    constant = np.ones((20, 5))
    flat = PCAProjection(2).fit(constant)
    assert np.all(np.isfinite(flat.transform(constant)))
    np.testing.assert_array_equal(flat.explained_variance_ratio_, [0.0, 0.0])
    with pytest.raises(ValueError, match="not fitted"):
        PCAProjection(2).transform(constant)
    with pytest.raises(ValueError, match="n_components"):
        PCAProjection(0).fit(constant)
    with pytest.raises(ValueError, match="solver"):
        PCAProjection(2, solver="randomized").fit(constant)
    with pytest.raises(ValueError, match="dimension"):
        PCAProjection(2).fit(constant).transform(np.ones((3, 4)))


def test_projections_leave_inputs_untouched(data):
    x, y = data
    x = x.copy()
    before = x.copy()
    PCAProjection(2).fit(x).transform(x)
    FisherProjection(2).fit(x, y).transform(x)
    np.testing.assert_array_equal(x, before)


# -- Fisher ---------------------------------------------------------------------------------------------------
def test_fisher_dense_is_shrinkage_lda_scalings(data):
    x, y = data
    proj = FisherProjection(2, solver="dense").fit(x, y)
    lda = ShrinkageLDA().fit(x, y)
    np.testing.assert_allclose(proj.transform(x), lda.transform(x, 2), rtol=1e-12, atol=1e-12)
    assert proj.shrinkage_ == pytest.approx(compute("sfda", x, y).trace["shrinkage"], rel=1e-12)
    np.testing.assert_allclose(proj.eigenvalues_, lda.fisher_eigenvalues_[:2], rtol=1e-12)


def test_fisher_lanczos_agrees_with_dense_and_is_s_w_orthonormal(data):
    x, y = data
    dense = FisherProjection(2, solver="dense").fit(x, y)
    lanczos = FisherProjection(2, solver="lanczos").fit(x, y)
    scale = np.abs(dense.components_).max()
    np.testing.assert_allclose(lanczos.components_, dense.components_, atol=1e-8 * scale)
    np.testing.assert_allclose(lanczos.eigenvalues_, dense.eigenvalues_, rtol=1e-8)
    within = shrink(ClassStats(x, y).within_scatter, lanczos.shrinkage_)
    v = lanczos.components_.T
    np.testing.assert_allclose(v.T @ within @ v, np.eye(2), atol=1e-8)


def test_fisher_fixed_shrinkage_and_spectrum(data):
    x, y = data
    proj = FisherProjection(2, shrinkage=0.3).fit(x, y)
    assert proj.shrinkage_ == 0.3 and proj.lambda_max_ is None
    lda = ShrinkageLDA(0.3).fit(x, y)
    np.testing.assert_allclose(proj.spectrum(), lda.fisher_eigenvalues_, rtol=1e-8,
                               atol=1e-10 * lda.fisher_eigenvalues_[0])
    # With C classes the first C−1 generalised eigenvalues carry the between-class scatter.
    assert proj.spectrum()[:4].min() > 10 * proj.spectrum()[4]


def test_fisher_lanczos_falls_back_to_dense_when_the_within_scatter_is_singular():
    x, y = gaussian_classes([6, 6, 6], 60, seed=1)  # N − C < D: S_W singular; λ = 0 keeps it singular
    lanczos = FisherProjection(2, shrinkage=0.0, solver="lanczos").fit(x, y)
    dense = FisherProjection(2, shrinkage=0.0, solver="dense").fit(x, y)
    np.testing.assert_array_equal(lanczos.components_, dense.components_)  # the same (dense) computation
    assert np.all(np.isfinite(lanczos.transform(x)))
    tiny = FisherProjection(2, solver="lanczos").fit(x * 1e3, y)  # adaptive λ at its 1e-10 floor
    assert tiny.shrinkage_ == 1e-10 and np.all(np.isfinite(tiny.transform(x * 1e3)))


# -- UMAP -----------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_umap_overview_is_fitted_once_and_deterministic():
    x, _ = gaussian_classes([40, 40, 40], 8, seed=0, separation=4.0)
    first = umap_overview(x, cache_key="test-umap", n_neighbors=10)
    assert umap_overview(x, cache_key="test-umap", n_neighbors=10) is first  # cached: never refitted
    assert first.embedding_.shape == (120, 2) and np.all(np.isfinite(first.embedding_))
    again = UMAPOverview(n_neighbors=10).fit(x)
    np.testing.assert_allclose(again.embedding_, first.embedding_)
    assert first.transform(x[:3]).shape == (3, 2)
