"""The ETF view: a regular polygon / simplex drawn, means on its vertices at t = 1, one fixed projection."""

import numpy as np
import pytest

from tests.synthetic import blobs
from transvis.dynamics import run
from transvis.dynamics.collapse import nearest_simplex_etf
from transvis.metrics.nc import nc2_statistics
from transvis.viz.etf import (
    coxeter_basis,
    dft_basis,
    etf_angle,
    etf_coordinates,
    etf_extent,
    etf_figure,
    etf_view,
    nearest_class_angle,
    rms_norm,
    vertex_edges,
)


def _gram_norms(means):
    stats = nc2_statistics(means - means.mean(axis=0))
    return stats["mean_gram"], stats["class_mean_norms"]


@pytest.fixture(scope="module")
def etf_trajectory():
    """A 10-class collapse trajectory with the means moved to the ETF (5 frames: t = 0, .25, .5, .75, 1)."""
    x, y = blobs(400, 24, 10, seed=4, spread=0.7)
    return run("collapse", {"m": x}, y, n_frames=5, to_etf=True, nc3_classifier=None)


def _views(traj, classes=None):
    q = [f.quantities["m"] for f in traj.frames]
    scale = rms_norm(q[0]["class_mean_norms"])
    return [etf_view(f["mean_gram"], f["class_mean_norms"], classes, scale=scale) for f in q]


def test_dft_basis_is_orthonormal_and_sums_to_zero():
    for k in (3, 4, 7, 10):
        basis = dft_basis(k)
        assert basis.shape == (k, k - 1)
        np.testing.assert_allclose(basis.T @ basis, np.eye(k - 1), atol=1e-12)
        np.testing.assert_allclose(basis.sum(axis=0), 0.0, atol=1e-12)


def test_coordinates_reproduce_the_gram_of_the_centred_means():
    means = np.random.default_rng(0).normal(size=(6, 11))
    gram, norms = _gram_norms(means)
    coords = etf_coordinates(gram, norms, scale=1.0)
    centred = means - means.mean(axis=0)
    np.testing.assert_allclose(coords @ coords.T, centred @ centred.T, atol=1e-9)


def test_ideal_vertices_form_a_regular_decagon_on_the_coxeter_plane():
    means = np.random.default_rng(1).normal(size=(10, 30))
    view = etf_view(*_gram_norms(means))
    edges = vertex_edges(view.vertices)
    assert edges.shape == (10,)
    assert edges.max() / edges.min() - 1 < 1e-9
    radii = np.linalg.norm(view.vertices, axis=1)
    np.testing.assert_allclose(radii, radii[0], rtol=1e-12)
    # the plane keeps 2 of the simplex's 9 dimensions: 2/9 of an ETF's squared norm
    etf_view_ = etf_view(*_gram_norms(nearest_simplex_etf(means)))
    assert etf_view_.shown_fraction == pytest.approx(2 / 9, rel=1e-9)


def test_means_at_t1_with_to_etf_sit_on_the_vertices(etf_trajectory):
    first, last = _views(etf_trajectory)[0], _views(etf_trajectory)[-1]
    assert np.abs(first.means - first.vertices).max() > 0.05  # not there at t = 0
    np.testing.assert_allclose(last.means, last.vertices, atol=1e-6)
    edges = vertex_edges(last.means)
    assert edges.max() / edges.min() - 1 < 0.01


def test_projection_is_fixed_across_frames(etf_trajectory):
    """The means move on straight lines at constant speed in the view (no rotation, no jump): frame t is
    the interpolation of frames 0 and 1, and the vertices never move."""
    for classes in (None, (0, 3, 5), (1, 2, 6, 9)):
        views = _views(etf_trajectory, classes)
        t = np.array(etf_trajectory.values)
        for view, tt in zip(views, t):
            np.testing.assert_allclose(view.means, (1 - tt) * views[0].means + tt * views[-1].means, atol=1e-6)
            np.testing.assert_allclose(view.vertices, views[0].vertices, atol=1e-12)


def test_three_classes_are_an_equilateral_triangle_and_four_a_regular_tetrahedron(etf_trajectory):
    tri = _views(etf_trajectory, (0, 3, 5))[-1]
    assert tri.means.shape == (3, 2) and tri.shown_fraction == pytest.approx(1.0)
    assert np.ptp(vertex_edges(tri.vertices)) < 1e-9
    np.testing.assert_allclose(tri.means, tri.vertices, atol=1e-6)
    tet = _views(etf_trajectory, (1, 2, 6, 9))[-1]
    assert tet.means.shape == (4, 3)
    edges = vertex_edges(tet.vertices)
    assert edges.shape == (6,) and np.ptp(edges) < 1e-9
    with pytest.raises(ValueError, match="3 or 4"):
        _views(etf_trajectory, (0, 1))


def test_figure_draws_the_polygon_and_the_means_with_fixed_axes(etf_trajectory):
    views = _views(etf_trajectory)
    extent = etf_extent(views)
    names = [f"class {c}" for c in range(10)]
    fig = etf_figure(views[-1], names, extent=extent)
    by_name = {trace.name: trace for trace in fig.data}
    vertices = np.column_stack([by_name["ETF vertices"].x, by_name["ETF vertices"].y])
    edges = vertex_edges(vertices)
    assert edges.max() / edges.min() - 1 < 0.01
    means = np.column_stack([by_name["class means"].x, by_name["class means"].y])
    np.testing.assert_allclose(means, vertices, atol=1e-6)
    assert list(fig.layout.xaxis.range) == pytest.approx([-extent, extent])
    assert fig.layout.yaxis.scaleanchor == "x"
    assert "Coxeter" in fig.layout.xaxis.title.text
    tet = etf_figure(_views(etf_trajectory, (1, 2, 6, 9))[-1], names)
    assert {t.type for t in tet.data} == {"scatter3d"}


def test_nearest_class_angle_varies_per_class_and_is_the_etf_angle_at_the_etf():
    means = np.random.default_rng(2).normal(size=(10, 30))
    gram, _ = _gram_norms(means)
    angles = nearest_class_angle(gram)
    assert angles.shape == (10,) and np.ptp(angles) > 1.0
    etf_gram, _ = _gram_norms(nearest_simplex_etf(means))
    np.testing.assert_allclose(nearest_class_angle(etf_gram), etf_angle(10), atol=1e-5)
    assert etf_angle(10) == pytest.approx(96.379, abs=1e-3)
    assert coxeter_basis(10).shape == (10, 2)
