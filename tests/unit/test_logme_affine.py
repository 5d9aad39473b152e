"""LogME of moved statistics in closed form (``transvis.metrics._logme_affine``): FSP's Spread/Attract and PED's
steps score LogME from the base's within-class eigendecomposition, equal to LogME on the moved rows."""

import numpy as np
import pytest

from tests.refcases import load_case
from transvis.metrics import ClassStats, compute
from transvis.metrics import _logme_affine
from transvis.metrics.fsp import spread_attract

RTOL = 1e-9


def case(name):
    arrays, _ = load_case(name)
    return arrays["X"].astype(np.float64), arrays["y"], arrays["G"].astype(np.float64)


@pytest.mark.parametrize("name", ["a01_gauss_separated_n600_d64_c5", "a04_gauss_imbalanced_n500_d96_c8"])
@pytest.mark.parametrize("variant", ["exact", "official_fixed_point", "official_icml"])
def test_fsp_paper_with_logme_equals_logme_on_the_moved_rows(name, variant):
    x, y, _ = case(name)
    stats = ClassStats(x, y)
    for spread, attract in ((0.0, 0.0), (0.4, 0.3), (1.0, 0.95)):
        result = compute("fsp", x, y, stats=stats, metric="logme", metric_params={"variant": variant},
                         spread=spread, attract=attract)
        explicit = compute("logme", spread_attract(x, y, spread, attract), y, variant=variant)
        assert "closed_form" in result.trace["wrapped_trace"]
        np.testing.assert_allclose(result.score, explicit.score, rtol=RTOL)
        for key in ("alpha", "beta", "evidence"):
            np.testing.assert_allclose(result.trace["wrapped_trace"][key], explicit.trace[key], rtol=1e-8)


def test_one_within_class_eigendecomposition_serves_every_strength(monkeypatch):
    x, y, _ = case("a01_gauss_separated_n600_d64_c5")
    stats = ClassStats(x, y)
    calls = []
    original = _logme_affine.within_eigh

    def counting(s):
        calls.append(s)
        return original(s)

    monkeypatch.setattr(_logme_affine, "within_eigh", counting)
    builds = []
    import scipy.linalg
    real_eigh = scipy.linalg.eigh
    monkeypatch.setattr(scipy.linalg, "eigh", lambda *a, **k: builds.append(1) or real_eigh(*a, **k))
    for spread in (0.1, 0.2, 0.3):
        compute("fsp", x, y, stats=stats, metric="logme", spread=spread, attract=0.2)
    # asked for the unperturbed and the perturbed score at every strength, decomposed once
    assert len(calls) == 6 and len(builds) == 1


def test_the_closed_form_trace_stays_lazy_through_compute():
    """Reading the trace's singular values costs an O(D³) spectrum: compute, the memo and the degeneracy check
    must not force it."""
    x, y, _ = case("a01_gauss_separated_n600_d64_c5")
    result = compute("fsp", x, y, metric="logme", spread=0.5, attract=0.5)
    wrapped = result.trace["wrapped_trace"]
    assert "singular_values" not in wrapped.computed() and "rank" not in wrapped.computed()
    explicit = compute("logme", spread_attract(x, y, 0.5, 0.5), y)
    assert wrapped["rank"] == explicit.trace["rank"]
    np.testing.assert_allclose(wrapped["singular_values"], explicit.trace["singular_values"], rtol=1e-8)


def test_ped_with_logme_closed_form_matches_the_registry(monkeypatch):
    x, y, g = case("a02_gauss_overlap_n600_d64_c10")
    monkeypatch.setattr(_logme_affine, "faster_than_registry", lambda n, d, c: True)
    fast = compute("ped", x, y, metric="logme", reference_features=g)
    assert "closed_form" in fast.trace["wrapped_trace"]
    monkeypatch.setattr(_logme_affine, "faster_than_registry", lambda n, d, c: False)
    slow = compute("ped", x, y, metric="logme", reference_features=g)
    assert "closed_form" not in slow.trace["wrapped_trace"]
    np.testing.assert_allclose(fast.score, slow.score, rtol=RTOL)


def test_many_classes_for_the_dimension_fall_back_to_the_registry():
    # C³·D per evaluation beats an eigendecomposition only while C is small against D
    assert _logme_affine.faster_than_registry(3000, 1280, 10)
    assert not _logme_affine.faster_than_registry(3000, 64, 20)
    assert not _logme_affine.faster_than_registry(500, 1280, 10)  # N ≤ D: LogME's XXᵀ path
    x, y, _ = case("a07_gauss_c20_n2000_d64")
    result = compute("fsp", x, y, metric="logme", spread=0.4, attract=0.3)
    assert "closed_form" not in result.trace["wrapped_trace"]
    explicit = compute("logme", spread_attract(x, y, 0.4, 0.3), y)
    np.testing.assert_allclose(result.score, explicit.score, rtol=RTOL)


def test_the_dynamics_context_and_the_metrics_share_the_decomposition():
    from transvis.dynamics._context import ModelContext
    from transvis.metrics._backend import get_backend

    x, y, _ = case("a01_gauss_separated_n600_d64_c5")
    context = ModelContext("m", x, y, backend=get_backend("numpy"))
    assert context.within_eigh is _logme_affine.within_eigh(context.stats)


def test_a_trajectory_and_a_ranking_share_the_pools_statistics():
    """``dynamics.run(stats_cache=…)`` and ``rank_models(stats_cache=…)`` with one dict: the within-class
    eigendecomposition the trajectory computed serves FSP's ranking (no second one), with the same scores as
    a ranking on fresh statistics; ``warm_contexts`` prepares it ahead."""
    import scipy.linalg

    from transvis import dynamics
    from transvis.dynamics._context import clear_contexts
    from transvis.dynamics._engine import warm_contexts
    from transvis.ranking import rank_models

    x, y, _ = case("a01_gauss_separated_n600_d64_c5")
    pool = {"a": x, "b": x[:, ::-1].copy()}
    params = {"fsp": {"metric": "logme", "spread": 0.4, "attract": 0.2}}
    fresh = rank_models({m: (v, y) for m, v in pool.items()}, ["fsp"], params=params)
    clear_contexts()
    cache = {}
    assert warm_contexts(pool, y, cache_key="shared-test", stats_cache=cache) == 2
    assert set(cache) == {"a", "b"}
    real_eigh = scipy.linalg.eigh
    builds = []
    try:
        scipy.linalg.eigh = lambda *a, **k: builds.append(1) or real_eigh(*a, **k)
        traj = dynamics.run("spread_attract", pool, y, metric="logme", cache_key="shared-test", stats_cache=cache,
                            spread=0.4, attract=0.2, n_frames=3)
        shared = rank_models({m: (v, y) for m, v in pool.items()}, ["fsp"], params=params, stats_cache=cache)
    finally:
        scipy.linalg.eigh = real_eigh
        clear_contexts()
    assert builds == []  # warmed: neither the trajectory nor the ranking decomposed again
    for m in pool:
        np.testing.assert_allclose(shared.results["fsp"][m].score, fresh.results["fsp"][m].score, rtol=RTOL)
        np.testing.assert_allclose(traj.frames[-1].scores[m], fresh.results["fsp"][m].score, rtol=RTOL)


def test_a_lazy_trace_pickles_as_the_plain_dict_of_its_values():
    """Ray and process pools pickle results: a closed-form trace travels as a plain dict, every value computed."""
    import copy
    import pickle

    x, y, _ = case("a01_gauss_separated_n600_d64_c5")
    wrapped = compute("fsp", x, y, metric="logme", spread=0.5, attract=0.5).trace["wrapped_trace"]
    restored = pickle.loads(pickle.dumps(wrapped))
    assert type(restored) is dict and set(restored) == set(wrapped)
    explicit = compute("logme", spread_attract(x, y, 0.5, 0.5), y)
    assert restored["rank"] == explicit.trace["rank"]
    np.testing.assert_allclose(restored["singular_values"], explicit.trace["singular_values"], rtol=1e-8)
    assert type(copy.deepcopy(wrapped)) is dict
