"""The dynamics engine: frame 0 and the end frames reproduce the metrics, invariants of each move, ranking."""

import numpy as np
import pytest

from tests.refcases import load_case
from transvis.demo import synthetic_demo
from transvis.dynamics import (
    Frame,
    Overtake,
    clear_cache,
    find_overtakes,
    method_params,
    nearest_simplex_etf,
    potential_energy,
    rank_scores,
    run,
)
from transvis.dynamics import _fast_logme
from transvis.dynamics.frames import attach_ranks
from transvis.metrics import compute
from transvis.metrics.fsp import spread_attract

OFFICIAL_LOGME = {"variant": "official_fixed_point"}
RTOL = 1e-9


def case(name):
    arrays, expected = load_case(name)
    return arrays["X"].astype(np.float64), arrays["y"], arrays["G"].astype(np.float64), expected


@pytest.fixture(scope="module")
def overlap():
    return case("a02_gauss_overlap_n600_d64_c10")


@pytest.fixture(scope="module")
def relu():
    return case("a05_relu_raw_n480_d128_c12")


@pytest.fixture(scope="module")
def pool():
    demo = synthetic_demo(n_models=3, n_classes=4, n_per_class=30, n_dims=12)
    return {m: fs.features.astype(np.float64) for m, fs in demo.features.items()}, demo.labels


@pytest.fixture
def force_fast(monkeypatch):
    """Use the LogME closed form wherever it is valid (N > D), whatever the cost model prefers."""
    monkeypatch.setattr(_fast_logme, "applicable", lambda context, variant, n: context.n_samples > context.n_dims)


# -- frame 0 and the end frames reproduce the metrics -------------------------------------------------------
@pytest.mark.parametrize("method, params, metric", [
    ("spread_attract", {}, "logme"),
    ("spread_attract", {"variant": "official"}, "logme"),
    ("ped", {}, "logme"),
    ("collapse", {"statistics": False}, "logme"),
    ("fisher", {}, "logme"),
    ("spread_attract", {}, "hscore"),
    ("ped", {}, "sfda"),
])
def test_frame_zero_is_the_unperturbed_metric(relu, method, params, metric):
    x, y, _, expected = relu
    traj = run(method, {"m": x}, y, metric=metric, n_frames=None if method == "ped" else 4, **params)
    np.testing.assert_allclose(traj.frames[0].scores["m"], compute(metric, x, y).score, rtol=RTOL)
    if metric == "logme":
        np.testing.assert_allclose(traj.frames[0].scores["m"], expected["logme_exact"], rtol=1e-6)


def test_frame_zero_with_the_closed_form_logme(relu, force_fast):
    x, y, _, expected = relu
    for variant in ("exact", "official_fixed_point", "official_icml"):
        traj = run("spread_attract", {"m": x}, y, metric_params={"variant": variant}, n_frames=3)
        assert traj.scoring["m"].startswith("closed form")
        np.testing.assert_allclose(traj.frames[0].scores["m"], compute("logme", x, y, variant=variant).score,
                                   rtol=RTOL)
        np.testing.assert_allclose(traj.frames[0].scores["m"], expected[f"logme_{variant}"], rtol=1e-6)


@pytest.mark.parametrize("name, time_step, suffix", [
    ("a02_gauss_overlap_n600_d64_c10", 0.1, ""),       # all 6 steps
    ("a05_relu_raw_n480_d128_c12", 0.4, "ts0p4_"),     # early exit
    ("a01_gauss_separated_n600_d64_c5", 0.1, ""),      # no overlap: no step
])
def test_last_ped_frame_is_the_ped_metric(name, time_step, suffix, force_fast):
    x, y, g, expected = case(name)
    for metric, params in (("sfda", None), ("logme", OFFICIAL_LOGME)):
        traj = run("ped", {"m": x}, y, metric=metric, metric_params=params, reference_features={"m": g},
                   time_step=time_step)
        ped = compute("ped", x, y, metric=metric, metric_params=params, reference_features=g, time_step=time_step)
        np.testing.assert_allclose(traj.frames[-1].scores["m"], ped.score, rtol=RTOL)
        np.testing.assert_allclose(traj.frames[-1].scores["m"], expected[f"ped_{suffix}{metric}"], rtol=1e-6)
        assert len(traj.frames) == 1 + expected[f"ped_{suffix}num_steps"]
        np.testing.assert_allclose(traj.frames[0].scores["m"], ped.trace["score_before"], rtol=RTOL)
    assert traj.info["m"]["reference"] == "reference features"


@pytest.mark.parametrize("name", ["a01_gauss_separated_n600_d64_c5", "a05_relu_raw_n480_d128_c12",
                                  "a06_relu_l2norm_n600_d64_c6"])
def test_official_fsp_frame_is_the_fsp_official_value(name, force_fast):
    x, y, _, expected = case(name)
    traj = run("spread_attract", {"m": x}, y, metric_params=OFFICIAL_LOGME, variant="official", n_frames=4)
    assert traj.info["m"]["gate_fired"] == expected["fsp_gate_fired"]
    np.testing.assert_allclose(traj.frames[-1].scores["m"], expected["fsp_official_logme"], rtol=1e-6)
    official = compute("fsp", x, y, variant="official", metric="logme", metric_params=OFFICIAL_LOGME)
    np.testing.assert_allclose(traj.frames[-1].scores["m"], official.score, rtol=RTOL)
    if expected["fsp_gate_fired"]:
        pca64 = compute("fsp", x, y, variant="pca64", metric="logme", metric_params=OFFICIAL_LOGME)
        np.testing.assert_allclose(traj.frames[1].scores["m"], pca64.score, rtol=RTOL)
        assert [f.quantities["m"]["stage"] for f in traj.frames] == ["raw", "pca", "attract", "attract"]


def test_paper_frames_are_the_fsp_paper_metric(overlap):
    x, y, _, _ = overlap
    traj = run("spread_attract", {"m": x}, y, metric="sfda", spread=0.6, attract=0.3, n_frames=4)
    for frame in traj.frames[1:]:
        q = frame.quantities["m"]
        fsp = compute("fsp", x, y, variant="paper", metric="sfda", spread=q["spread_strength"],
                      attract=q["attract_strength"])
        np.testing.assert_allclose(frame.scores["m"], fsp.score, rtol=RTOL)
        assert q["intra_class_spread"] == pytest.approx(fsp.trace["intra_class_spread_after"], rel=1e-9)
        assert q["mean_centre_distance"] == pytest.approx(fsp.trace["mean_centre_distance_after"], rel=1e-9)


@pytest.mark.parametrize("variant", ["exact", "official_fixed_point", "official_icml"])
def test_closed_form_logme_equals_the_registry_on_moved_frames(relu, variant):
    x, y, _, _ = relu
    kwargs = dict(metric_params={"variant": variant}, n_frames=4, spread=0.8, attract=0.6)
    fast = run("spread_attract", {"m": x}, y, fast=True, **kwargs)
    slow = run("spread_attract", {"m": x}, y, fast=False, **kwargs)
    assert slow.scoring["m"].startswith("registry")
    for a, b in zip(fast.frames, slow.frames):
        np.testing.assert_allclose(a.scores["m"], b.scores["m"], rtol=RTOL)
    for frame in fast.frames[1:3]:  # and against a plain compute on features built by fsp itself
        q = frame.quantities["m"]
        moved = spread_attract(x, y, q["spread_strength"], q["attract_strength"])
        np.testing.assert_allclose(frame.scores["m"], compute("logme", moved, y, variant=variant).score, rtol=RTOL)


@pytest.mark.parametrize("name", ["a01_gauss_separated_n600_d64_c5", "a04_gauss_imbalanced_n500_d96_c8",
                                  "a07_gauss_c20_n2000_d64", "a08_gauss_small_scale_n300_d64_c3"])
def test_closed_form_logme_on_extreme_frames(name):
    from transvis.dynamics._context import AffineFrame, ModelContext
    from transvis.metrics._backend import get_backend

    x, y, _, expected = case(name)
    context = ModelContext("m", x, y, backend=get_backend("numpy"))
    far = np.random.default_rng(0).normal(size=(y.max() + 1, x.shape[1])) * 3 * x.std()
    frames = [AffineFrame(context), AffineFrame(context, 1.5), AffineFrame(context, -0.5, far, 2.0),
              AffineFrame(context, -0.999), AffineFrame(context, -1.0)]  # the last: every class a point
    for variant in ("exact", "official_fixed_point", "official_icml"):
        fast = [r.score for r in _fast_logme.logme_frames(frames, variant)]
        registry = [compute("logme", f.features(), y, variant=variant).score for f in frames]
        np.testing.assert_allclose(fast[:3], registry[:3], rtol=RTOL)
        np.testing.assert_allclose(fast[3:], registry[3:], rtol=1e-8)  # near-rank-C spectra: LAPACK's own error
        np.testing.assert_allclose(fast[0], expected[f"logme_{variant}"], rtol=1e-6)


def test_closed_form_logme_through_collapse_and_ped(overlap, force_fast):
    x, y, g, _ = overlap
    for method, params in (("collapse", {"n_frames": 5, "statistics": False}),
                           ("ped", {"reference_features": {"m": g}})):
        fast = run(method, {"m": x}, y, **params)
        slow = run(method, {"m": x}, y, fast=False, **params)
        assert fast.scoring["m"].startswith("closed form")
        np.testing.assert_allclose([f.scores["m"] for f in fast.frames], [f.scores["m"] for f in slow.frames],
                                   rtol=RTOL)


# -- invariants -----------------------------------------------------------------------------------------------
def _frame_features(traj, model, index, x, y):
    """The D-dimensional features of a paper/collapse/PED frame, rebuilt from its recorded quantities."""
    stats_means = np.stack([x[y == c].mean(0) for c in range(y.max() + 1)])
    q = traj.frames[index].quantities[model]
    if traj.method == "spread_attract":
        return spread_attract(x, y, q["spread_strength"], q["attract_strength"])
    if traj.method == "collapse":
        return (1 - q["t"]) * x + q["t"] * stats_means[y]
    raise AssertionError(traj.method)


def test_projection_is_fitted_once_and_fixed_for_every_frame(overlap):
    x, y, _, _ = overlap
    traj = run("spread_attract", {"m": x}, y, spread=1.0, attract=0.5, n_frames=4)
    proj = traj.projections["m"]
    assert traj.projection_fixed and "PCA" in traj.projection_name
    for index in range(4):
        moved = _frame_features(traj, "m", index, x, y)
        np.testing.assert_allclose(traj.frames[index].positions["m"], proj.transform(moved), atol=1e-9)
        means = np.stack([moved[y == c].mean(0) for c in range(10)])
        np.testing.assert_allclose(traj.frames[index].centres["m"], proj.transform(means), atol=1e-9)
    fisher = run("collapse", {"m": x}, y, projection="fisher", n_frames=3, statistics=False)
    assert "Fisher" in fisher.projection_name
    np.testing.assert_allclose(fisher.frames[1].positions["m"],
                               fisher.projections["m"].transform(_frame_features(fisher, "m", 1, x, y)), atol=1e-9)


def test_spread_never_moves_class_centres_and_attract_never_changes_offsets(overlap):
    x, y, _, _ = overlap
    spread = run("spread_attract", {"m": x}, y, mode="spread", spread=2.0, n_frames=4)
    attract = run("spread_attract", {"m": x}, y, mode="attract", attract=0.9, n_frames=4)
    first_centres = spread.frames[0].centres["m"]
    offsets0 = attract.frames[0].positions["m"] - attract.frames[0].centres["m"][y]
    for s_frame, a_frame in zip(spread.frames[1:], attract.frames[1:]):
        np.testing.assert_allclose(s_frame.centres["m"], first_centres, atol=1e-10)
        moved = _frame_features(spread, "m", s_frame.index, x, y)
        np.testing.assert_allclose([moved[y == c].mean(0) for c in range(10)],
                                   [x[y == c].mean(0) for c in range(10)], atol=1e-10)
        np.testing.assert_allclose(a_frame.positions["m"] - a_frame.centres["m"][y], offsets0, atol=1e-10)
        moved = _frame_features(attract, "m", a_frame.index, x, y)
        shift = moved - x
        for c in range(10):
            np.testing.assert_allclose(shift[y == c], np.broadcast_to(shift[y == c][0], shift[y == c].shape),
                                       atol=1e-10)
    assert spread.frames[-1].quantities["m"]["intra_class_spread"] == pytest.approx(
        3.0 * spread.frames[0].quantities["m"]["intra_class_spread"])
    assert attract.frames[-1].quantities["m"]["mean_centre_distance"] == pytest.approx(
        0.1 * attract.frames[0].quantities["m"]["mean_centre_distance"])


def test_ped_moves_classes_rigidly_and_its_energy_declines(overlap):
    x, y, g, expected = overlap
    traj = run("ped", {"m": x}, y, metric="sfda", reference_features={"m": g})
    base = traj.frames[0].positions["m"]
    energies = [f.quantities["m"]["potential_energy"] for f in traj.frames]
    assert np.all(np.diff(energies) < 0) and energies[0] > 0
    for frame in traj.frames[1:]:
        shift = frame.positions["m"] - base
        for c in range(10):
            np.testing.assert_allclose(shift[y == c], np.broadcast_to(shift[y == c][0], shift[y == c].shape),
                                       atol=1e-9)
    changes = [f.quantities["m"]["position_change"] for f in traj.frames[:-1]]
    np.testing.assert_allclose(changes, expected["ped_position_changes"], rtol=1e-9)
    first = traj.frames[0].quantities["m"]
    assert potential_energy(first["overlap"]) == pytest.approx(0.5 * (np.triu(first["overlap"], 1) ** 2).sum())
    assert first["moving"] and first["step"] == 0 and first["displacement"].shape == (10, 64)
    self_ref = run("ped", {"m": x}, y)  # no reference set: standardised with the target, labelled as such
    assert "deviation" in self_ref.info["m"]["reference"]


def test_collapse_drives_nc1_to_zero_and_etf_mode_reaches_the_simplex(relu):
    x, y, _, expected = relu
    traj = run("collapse", {"m": x}, y, n_frames=5)
    nc1 = np.array(traj.quantity("nc1", "m"))
    np.testing.assert_allclose(nc1[0], expected["nc1"], rtol=1e-6)
    t = traj.values
    np.testing.assert_allclose(nc1[:-1], nc1[0] * (1 - t[:-1]) ** 2, rtol=1e-8)
    assert nc1[-1] < 1e-20
    assert traj.quantity("nc4_ncc_accuracy", "m")[-1] == 1.0
    etf = run("collapse", {"m": x}, y, n_frames=3, to_etf=True, nc3_classifier=None)
    distances = etf.quantity("etf_distance", "m")
    assert distances[0] > 0.1 and distances[-1] < 1e-8 and distances[1] < distances[0]
    np.testing.assert_allclose(etf.frames[-1].quantities["m"]["mean_gram"], etf.frames[-1].quantities["m"]["etf_gram"],
                               atol=1e-8)
    assert 0 < etf.frames[0].quantities["m"]["face"] <= 1


def test_nearest_simplex_etf_keeps_centre_and_rms_norm():
    means = np.random.default_rng(1).normal(size=(5, 7))
    etf = nearest_simplex_etf(means)
    centre = means.mean(0)
    np.testing.assert_allclose(etf.mean(0), centre, atol=1e-12)
    norms = np.linalg.norm(etf - centre, axis=1)
    np.testing.assert_allclose(norms, np.sqrt((np.linalg.norm(means - centre, axis=1) ** 2).mean()), rtol=1e-12)
    unit = (etf - centre) / norms[:, None]
    np.testing.assert_allclose(unit @ unit.T, np.where(np.eye(5) > 0, 1.0, -0.25), atol=1e-12)
    with pytest.raises(ValueError, match="dimensions"):
        nearest_simplex_etf(np.ones((5, 2)))


# -- Fisher space ---------------------------------------------------------------------------------------------
def test_fisher_confmix_trajectory(overlap):
    x, y, _, _ = overlap
    traj = run("fisher", {"m": x}, y, n_frames=4)
    assert traj.metric == "sfda" and traj.params["sweep"] == "confmix"  # the Fisher dynamics default to SFDA
    sfda = compute("sfda", x, y)
    first = compute("sfda", x, y, confmix=False)
    np.testing.assert_allclose(traj.frames[0].scores["m"], first.score, rtol=RTOL)
    np.testing.assert_allclose(traj.frames[-1].scores["m"], sfda.score, rtol=1e-9)
    np.testing.assert_allclose(traj.info["m"]["mixing_weights"], sfda.trace["mixing_weights"], rtol=1e-12)
    np.testing.assert_allclose(traj.frames[-1].quantities["m"]["class_posterior"], sfda.trace["class_posterior"],
                               rtol=1e-8)
    priors = np.bincount(y) / y.size
    for frame in traj.frames:
        contribution = frame.contribution["m"]
        assert contribution.shape == (y.size,) and frame.predicted["m"].shape == (y.size,)
        assert contribution.mean() == pytest.approx(frame.scores["m"], rel=1e-9)
        assert priors @ frame.quantities["m"]["class_posterior"] == pytest.approx(frame.scores["m"], rel=1e-9)
    mid = 0.5 * (traj.frames[0].positions["m"] + traj.frames[-1].positions["m"])
    halfway = run("fisher", {"m": x}, y, metric="sfda", n_frames=3)
    np.testing.assert_allclose(halfway.frames[1].positions["m"], mid, atol=1e-9)
    spectra = traj.info["m"]["spectra"]
    assert spectra["first"].shape == (64,) and spectra["first"][0] >= spectra["first"][-1]
    other = run("fisher", {"m": x}, y, metric="logme", n_frames=3)  # any metric, on x(t)
    mixed = x + 1.0 * (x - x)  # frame 0 is the identity
    np.testing.assert_allclose(other.frames[0].scores["m"], compute("logme", mixed, y).score, rtol=RTOL)


def test_fisher_shrinkage_sweep(overlap):
    x, y, _, _ = overlap
    traj = run("fisher", {"m": x}, y, metric="sfda", confmix=False, n_frames=3, shrinkage_range=(1e-4, 0.5))
    assert traj.params["sweep"] == "shrinkage" and not traj.projection_fixed
    for frame in traj.frames:
        expected = compute("sfda", x, y, shrinkage=frame.value, confmix=False).score
        np.testing.assert_allclose(frame.scores["m"], expected, rtol=RTOL)
    with pytest.raises(ValueError, match="only 'sfda'"):
        run("fisher", {"m": x}, y, metric="logme", sweep="shrinkage")


# -- ranking --------------------------------------------------------------------------------------------------
def test_rank_scores_ties_nan_and_overtakes():
    assert rank_scores({"a": 1.0, "b": 3.0, "c": 3.0, "d": float("nan")}) == {"a": 3, "b": 1, "c": 1, "d": 4}
    assert rank_scores({"a": 1.0, "b": 2.0}, higher_is_better=False) == {"a": 1, "b": 2}
    assert find_overtakes({"a": 2, "b": 1, "c": 3}, {"a": 1, "b": 2, "c": 3}) == [Overtake("a", "b")]
    frames = [Frame(i, float(i), str(i), {}, {}, scores) for i, scores in
              enumerate([{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 2.0}, {"a": 3.0, "b": 2.0}])]
    attach_ranks(frames)
    assert [f.ranks for f in frames] == [{"a": 2, "b": 1}, {"a": 1, "b": 2}, {"a": 1, "b": 2}]
    assert frames[1].rank_changes == {"a": 1, "b": -1} and frames[1].overtakes == [Overtake("a", "b")]
    assert frames[0].overtakes == [] and frames[2].overtakes == []


def test_pool_ranks_follow_scores_and_record_overtakes(pool):
    features, labels = pool
    traj = run("collapse", features, labels, n_frames=6, statistics=False)
    for frame in traj.frames:
        assert frame.ranks == rank_scores(frame.scores)
        assert set(frame.positions) == set(features) and frame.positions[traj.models[0]].shape == (labels.size, 2)
        assert frame.centres[traj.models[0]].shape == (4, 2)
    previous = traj.frames[0].ranks
    for frame in traj.frames[1:]:
        assert frame.overtakes == find_overtakes(previous, frame.ranks)
        previous = frame.ranks
    table = traj.scores_table()
    assert table.shape == (6, 3) and list(table.columns) == traj.models


# -- inputs, caching, robustness ------------------------------------------------------------------------------
def test_feature_sets_inputs_untouched_and_pool_metrics(pool):
    demo = synthetic_demo(n_models=3, n_classes=4, n_per_class=30, n_dims=12)
    traj = run("spread_attract", demo.features, n_frames=3)  # labels taken from the FeatureSets
    assert traj.models == list(demo.features)
    features, labels = pool
    copies = {m: x.copy() for m, x in features.items()}
    run("ped", features, labels, metric="sfda")
    run("fisher", features, labels, metric="sfda", n_frames=3)
    for m in features:
        np.testing.assert_array_equal(features[m], copies[m])
    ncti = run("spread_attract", features, labels, metric="ncti", n_frames=3)  # pool-combined per frame
    assert all(np.isfinite(list(f.scores.values())).all() for f in ncti.frames)


def test_cache_key_reuses_trajectories(pool):
    features, labels = pool
    clear_cache()
    first = run("spread_attract", features, labels, n_frames=3, cache_key="pool-1")
    assert run("spread_attract", features, labels, n_frames=3, cache_key="pool-1") is first
    assert run("spread_attract", features, labels, n_frames=4, cache_key="pool-1") is not first
    assert run("spread_attract", features, labels, n_frames=3) is not first
    clear_cache()
    assert run("spread_attract", features, labels, n_frames=3, cache_key="pool-1") is not first


def test_bad_inputs_raise_helpful_errors(pool):
    features, labels = pool
    with pytest.raises(ValueError, match="unknown dynamics"):
        run("melt", features, labels)
    with pytest.raises(ValueError, match="no parameter"):
        run("collapse", features, labels, strength=2)
    with pytest.raises(ValueError, match="wraps a metric"):
        run("collapse", features, labels, metric="ped")
    with pytest.raises(ValueError, match="source"):
        run("collapse", features, labels, metric="leep")
    with pytest.raises(ValueError, match="max_steps"):
        run("ped", features, labels, n_frames=4)
    with pytest.raises(ValueError, match="UMAP"):
        run("collapse", features, labels, projection="umap")
    with pytest.raises(ValueError, match="same samples"):
        run("collapse", {"a": features[next(iter(features))][:-1]}, labels)
    with pytest.raises(ValueError, match="labels are required"):
        run("collapse", features)
    with pytest.raises(ValueError, match="attract"):
        run("spread_attract", features, labels, attract=1.5)
    assert "reference_features" in method_params("ped") and "mode" in method_params("spread_attract")


def test_a_failing_metric_gives_nan_and_a_recorded_error(pool, monkeypatch):
    import transvis.dynamics._engine as engine

    features, labels = pool
    first_model = next(iter(features))
    real, calls = engine.compute, {"n": 0}

    def failing(name, x, y, *, stats, **params):
        calls["n"] += 1
        if calls["n"] == 2:  # the first model's second frame
            raise np.linalg.LinAlgError("singular by test")
        return real(name, x, y, stats=stats, **params)

    monkeypatch.setattr(engine, "compute", failing)
    traj = run("collapse", features, labels, n_frames=3, statistics=False, fast=False)
    assert traj.errors == [(first_model, 1, "LinAlgError: singular by test")]
    assert np.isnan(traj.frames[1].scores[first_model])
    assert traj.frames[1].ranks[first_model] == 3
    assert np.isfinite(traj.frames[2].scores[first_model])


def test_torch_backend_equals_numpy(relu, force_fast):
    pytest.importorskip("torch")
    x, y, _, _ = relu
    a = run("spread_attract", {"m": x}, y, n_frames=3, backend="numpy")
    b = run("spread_attract", {"m": x}, y, n_frames=3, backend="torch")
    np.testing.assert_allclose([f.scores["m"] for f in b.frames], [f.scores["m"] for f in a.frames], rtol=1e-9)


@pytest.mark.parametrize("method, params", [("spread_attract", {}), ("fisher", {"metric": "sfda"}), ("ped", {}),
                                            ("collapse", {})])
def test_the_animation_view_reads_every_trajectory(pool, method, params):
    from transvis.viz.animation import trajectory_view

    features, labels = pool
    traj = run(method, features, labels, **params)
    model = traj.models[1]
    view = trajectory_view(traj, model)
    assert view.positions.shape == (len(traj.frames), labels.size, 2)
    assert view.centres.shape == (len(traj.frames), 4, 2)
    assert list(view.scores.columns) == traj.models and view.projection == traj.projection_name
    if method == "fisher":
        assert view.predicted.shape == (len(traj.frames), labels.size)
        np.testing.assert_allclose(view.contribution.mean(axis=1), view.scores[model].to_numpy(), rtol=1e-9)
        assert traj.frames[0].predicted.computed() == [model]  # only the displayed model was computed


@pytest.mark.parametrize("variant", ["exact", "official_fixed_point", "official_icml"])
def test_closed_form_logme_trace_has_the_registry_keys_and_values(variant):
    from transvis.dynamics._context import AffineFrame, ModelContext
    from transvis.metrics._backend import get_backend

    x, y, _, _ = case("a01_gauss_separated_n600_d64_c5")
    context = ModelContext("m", x, y, backend=get_backend("numpy"))
    far = np.random.default_rng(1).normal(size=(y.max() + 1, x.shape[1])) * 3 * x.std()
    frames = [AffineFrame(context), AffineFrame(context, 0.7), AffineFrame(context, -0.3, far, 1.0)]
    for frame, fast in zip(frames, _fast_logme.logme_frames(frames, variant)):
        registry = compute("logme", frame.features(), y, variant=variant)
        assert set(registry.trace) <= set(fast.trace)
        assert fast.trace["rank"] == registry.trace["rank"]
        for key in ("alpha", "beta", "evidence", "singular_values"):
            np.testing.assert_allclose(fast.trace[key], registry.trace[key], rtol=1e-8)
        scale = np.abs(registry.trace["weights"]).max()
        np.testing.assert_allclose(fast.trace["weights"], registry.trace["weights"], rtol=1e-7, atol=1e-9 * scale)
    # the costly keys are computed on read; a saved trajectory reads them all
    lazy = _fast_logme.logme_frames(frames[:1], variant)[0].trace
    lazy["alpha"]
    assert set(dict.keys(lazy)) == {"alpha"}  # nothing else computed yet
    assert set(dict(lazy.items())) == set(registry.trace) | {"closed_form"}
