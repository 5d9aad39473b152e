"""NCTI: components against the official NCTI_Score pipeline, both LDA solvers, the zoo-level combination."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from tests.metric_calls import gaussian_classes
from transvis.metrics import MetricResult, compute, get_spec
from transvis.metrics.ncti import ncti_pool_scores


def _official(x, y):
    """BUserName/NCTI NCTI_Score re-typed (with an exact PCA: svd_solver='full')."""
    pca = PCA(n_components=64, svd_solver="full")
    z = pca.fit_transform(x)
    tau = max(np.exp(-pca.explained_variance_[:32].sum()), 1e-10)
    if tau == 1e-10:
        lda = LinearDiscriminantAnalysis(solver="svd")
    else:
        lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage=float(tau))
    low = lda.fit_transform(z, y)
    low = low - low.mean(0, keepdims=True)
    seli = np.linalg.norm(low, ord="nuc")
    prob = lda.predict_proba(z)
    ncc = prob[np.arange(len(y)), y].mean()
    vc = np.log(sum(np.linalg.norm(prob[y == c], ord="nuc") for c in range(y.max() + 1)))
    return seli, ncc, vc, (None if tau == 1e-10 else tau)


@pytest.mark.parametrize("scale,solver", [(1.0, "svd"), (0.02, "eigen")])
def test_components_match_the_official_code(scale, solver):
    x, y = gaussian_classes([40, 50, 45, 35], 80, seed=3, separation=0.5, scale=scale)
    seli, ncc, vc, tau = _official(x, y)
    trace = compute("ncti", x, y).trace
    assert trace["lda_solver"] == solver
    np.testing.assert_allclose([trace["seli"], trace["ncc"], trace["vc"]], [seli, ncc, vc], rtol=1e-8)
    if tau is None:
        assert trace["lda_shrinkage"] is None
    else:
        np.testing.assert_allclose(trace["lda_shrinkage"], tau, rtol=1e-10)
    assert trace["pca_dims"] == 64 and trace["explained_variance"].shape == (64,)


def test_standalone_score_is_the_documented_combination():
    x, y = gaussian_classes([30, 30, 30], 20, seed=4, separation=1.0)
    result = compute("ncti", x, y)
    t = result.trace
    assert 0 < t["seli_balance"] <= 1 and 0 <= t["vc_spread"] <= 1
    np.testing.assert_allclose(result.score, t["seli_balance"] + t["ncc"] - t["vc_spread"])
    np.testing.assert_allclose(t["per_class_ncc"] @ np.bincount(y) / y.size, t["ncc"])
    np.testing.assert_allclose(np.log(t["per_class_nuclear_norm"].sum()), t["vc"])


def test_standalone_score_rises_with_separation():
    scores = [compute("ncti", *gaussian_classes([30, 30, 30], 12, seed=5, separation=s)).score
              for s in (0.1, 1.0, 5.0)]
    # Overlapping classes score well below separable ones; separable ones saturate near 2 (ncc = 1,
    # vc_spread = 0) and differ only by how evenly the class means spread over the LDA axes.
    assert scores[0] < 1.0 < 1.9 < min(scores[1], scores[2])


def _result(seli, ncc, vc):
    return MetricResult("ncti", 0.0, {"seli": seli, "ncc": ncc, "vc": vc})


def test_pool_combination_is_min_max_over_the_pool():
    pool = {"a": _result(10.0, 0.5, 3.0), "b": _result(20.0, 0.9, 2.0), "c": _result(15.0, 0.7, 4.0)}
    combined = ncti_pool_scores(pool)
    # n(seli) + n(ncc) − n(vc): a = 0 + 0 − 0.5, b = 1 + 1 − 0, c = 0.5 + 0.5 − 1.
    assert combined == pytest.approx({"a": -0.5, "b": 2.0, "c": 0.0})
    assert get_spec("ncti").pool_combine is ncti_pool_scores


def test_pool_combination_changes_when_the_pool_changes():
    pool = {"a": _result(10.0, 0.5, 3.0), "b": _result(20.0, 0.9, 2.0), "c": _result(15.0, 0.7, 4.0)}
    smaller = ncti_pool_scores({k: pool[k] for k in ("a", "c")})
    assert smaller["c"] != ncti_pool_scores(pool)["c"]
    assert ncti_pool_scores({"a": pool["a"]}) == {"a": 0.0}  # a pool of one: every term normalises to 0
    assert ncti_pool_scores({}) == {}


def test_pool_combination_on_real_results_orders_by_separation():
    results = {f"s{s}": compute("ncti", *gaussian_classes([25, 25, 25], 10, seed=6, separation=s))
               for s in (0.2, 1.0, 4.0)}
    combined = ncti_pool_scores(results)
    assert combined["s0.2"] < combined["s1.0"] < combined["s4.0"]


def test_small_inputs_cap_the_pca_dimension():
    x, y = gaussian_classes([8, 9, 10], 40, seed=7)
    # min(64, N=27, D=40) = 27, minus the zero-variance direction of 27 centred rows: 26.
    assert compute("ncti", x, y).trace["pca_dims"] == 26


def test_degenerate_inputs_use_the_documented_limits():
    y = np.arange(30) % 3
    flat = compute("ncti", np.ones((30, 4)), y)
    assert flat.trace["lda_solver"].startswith("none") and flat.trace["seli"] == 0.0
    np.testing.assert_allclose(flat.trace["ncc"], 1 / 3)
    assert np.isfinite(flat.score)


def test_torch_backend_equals_numpy():
    x, y = gaussian_classes([30, 40, 35], 90, seed=9, separation=0.3)
    a = compute("ncti", x, y, backend="numpy").trace
    b = compute("ncti", x, y, backend="torch").trace
    for key in ("seli", "ncc", "vc"):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-9)
