import numpy as np
import pytest

from transvis.demo import synthetic_demo
from transvis.metrics import compute


def test_synthetic_demo_is_deterministic_and_graded():
    a, b = synthetic_demo(seed=3), synthetic_demo(seed=3)
    assert list(a.features) == list(b.features)
    for name in a.features:
        np.testing.assert_array_equal(a.features[name].features, b.features[name].features)
    acc = a.groundtruth["ncm_heldout"]
    values = [acc[m] for m in a.features]
    # Separation grows with the model index, so held-out accuracy does too (up to saturation).
    assert values[0] < values[1] < values[2]
    assert 1 / 6 < values[0] < 0.8 and values[-1] > 0.95


def test_synthetic_demo_hscore_follows_separation():
    demo = synthetic_demo(n_models=3, seed=1)
    scores = [compute("hscore", f.features, f.labels).score for f in demo.features.values()]
    assert scores[0] < scores[1] < scores[2]


def test_synthetic_demo_rejects_degenerate_sizes():
    with pytest.raises(ValueError, match="at least 2"):
        synthetic_demo(n_classes=1)


# --- the persisted default ranking (transvis demo prepare) ---------------------------------------------
import json  # noqa: E402

import transvis.demo as demo_module  # noqa: E402
from transvis.demo import (  # noqa: E402
    compute_demo_ranking,
    demo_ranking_path,
    load_demo_ranking,
    save_demo_ranking,
)
from transvis.app_defaults import default_metrics  # noqa: E402


@pytest.fixture(scope="module")
def small_demo():
    """A synthetic demo standing for the prepared one: store keys per model and two ground-truth regimes."""
    demo = synthetic_demo(n_models=4, n_classes=3, n_per_class=15, n_dims=6, seed=2)
    demo.feature_keys = {m: f"key-{i}" for i, m in enumerate(demo.features)}
    accuracy = demo.groundtruth["ncm_heldout"]
    demo.groundtruth = {"linear_probe": dict(accuracy),
                        "finetune": {m: 1.0 - a for m, a in accuracy.items()}}  # reversed order of models
    return demo


@pytest.fixture(scope="module")
def small_table(small_demo):
    return compute_demo_ranking(small_demo)


def test_persisted_ranking_round_trips_with_traces(tmp_path, small_demo, small_table):
    path = save_demo_ranking(small_demo, small_table, cache_dir=tmp_path)
    assert path == demo_ranking_path(tmp_path) and path.is_file()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # written atomically: no temporary left
    loaded = load_demo_ranking(small_demo, cache_dir=tmp_path)
    assert loaded.metrics == default_metrics()
    np.testing.assert_array_equal(loaded.scores.to_numpy(), small_table.scores.to_numpy())
    model = next(iter(small_demo.features))
    np.testing.assert_array_equal(loaded.results["nc"][model].trace["mean_gram"],
                                  small_table.results["nc"][model].trace["mean_gram"])


def test_the_persisted_ranking_carries_the_scores_noise_and_tau_intervals(tmp_path, small_demo, small_table):
    from transvis.uncertainty import DEFAULT_RESAMPLING

    scored = [m for m in default_metrics() if small_table.scores[m].notna().any()]  # LEEP/NCE need a source head
    assert set(small_table.noise) == set(scored)  # every scored default metric carries its noise
    save_demo_ranking(small_demo, small_table, cache_dir=tmp_path)
    demo = demo_module.Demo(name=small_demo.name, features=small_demo.features, feature_keys=small_demo.feature_keys,
                            groundtruth=small_demo.groundtruth,
                            groundtruth_n={"linear_probe": {m: 300 for m in small_demo.features}})
    loaded = load_demo_ranking(demo, cache_dir=tmp_path)
    model = next(iter(small_demo.features))
    assert loaded.noise["logme"].resampling == DEFAULT_RESAMPLING
    assert loaded.score_se.at[model, "logme"] == pytest.approx(small_table.score_se.at[model, "logme"])
    assert loaded.tau_intervals["logme"].sources == ("scores", "ground truth")


def test_correlations_follow_the_chosen_regime_and_the_current_ground_truth(tmp_path, small_demo, small_table):
    save_demo_ranking(small_demo, small_table, cache_dir=tmp_path)
    probe = load_demo_ranking(small_demo, cache_dir=tmp_path)  # default: the first regime
    finetune = load_demo_ranking(small_demo, regime="finetune", cache_dir=tmp_path)
    assert probe.groundtruth == small_demo.groundtruth["linear_probe"]
    assert finetune.groundtruth == small_demo.groundtruth["finetune"]
    # the finetune accuracies reverse the models' order, so every correlation flips sign
    assert probe.correlations["logme"]["spearman"] == pytest.approx(-finetune.correlations["logme"]["spearman"])
    # rows added to the ground truth after preparation are used at once (nothing stale is read from the file)
    changed = dict(small_demo.groundtruth["linear_probe"])
    changed[next(iter(changed))] = 0.0
    demo = demo_module.Demo(name=small_demo.name, features=small_demo.features, feature_keys=small_demo.feature_keys,
                            groundtruth={"linear_probe": changed})
    assert load_demo_ranking(demo, cache_dir=tmp_path).groundtruth == changed
    with pytest.raises(ValueError, match="no 'zero_shot' ground truth"):
        load_demo_ranking(small_demo, regime="zero_shot", cache_dir=tmp_path)


def test_a_stale_persisted_ranking_is_not_used(tmp_path, small_demo, small_table, monkeypatch):
    assert load_demo_ranking(small_demo, cache_dir=tmp_path) is None  # nothing persisted yet
    save_demo_ranking(small_demo, small_table, cache_dir=tmp_path)
    other_features = demo_module.Demo(name=small_demo.name, features=small_demo.features,
                                      feature_keys={**small_demo.feature_keys, next(iter(small_demo.features)): "new"})
    assert load_demo_ranking(other_features, cache_dir=tmp_path) is None
    with monkeypatch.context() as patch:
        patch.setattr(demo_module.ranking_cache, "_scoring_code_digest", lambda: "edited-metric-code")
        assert load_demo_ranking(small_demo, cache_dir=tmp_path) is None
    with monkeypatch.context() as patch:
        patch.setattr(demo_module.ranking_cache, "DEMO_RANKING_FORMAT", demo_module.DEMO_RANKING_FORMAT + 1)
        assert load_demo_ranking(small_demo, cache_dir=tmp_path) is None
    with monkeypatch.context() as patch:
        patch.setattr("transvis.app_defaults.default_metrics", lambda: ["logme", "sfda"])
        assert load_demo_ranking(small_demo, cache_dir=tmp_path) is None
    assert load_demo_ranking(small_demo, cache_dir=tmp_path) is not None  # unchanged inputs: used
    demo_ranking_path(tmp_path).write_text("{truncated")
    assert load_demo_ranking(small_demo, cache_dir=tmp_path) is None


def test_only_the_default_ranking_of_the_demo_is_persisted(tmp_path, small_demo, small_table):
    with pytest.raises(ValueError, match="Leaderboard's defaults"):
        save_demo_ranking(small_demo, small_table.select(["logme"]), cache_dir=tmp_path)
    keyless = demo_module.Demo(name="x", features=small_demo.features)
    with pytest.raises(ValueError, match="no feature-store keys"):
        save_demo_ranking(keyless, small_table, cache_dir=tmp_path)
    assert not demo_ranking_path(tmp_path).exists()


def test_the_key_names_features_metrics_params_and_code(small_demo):
    key = demo_module.demo_ranking_key(small_demo.feature_keys)
    assert key["features"] == small_demo.feature_keys and key["metrics"] == default_metrics()
    assert key["params"]["logme"] == {"variant": "exact"} and "nleep" not in key["metrics"]
    assert len(key["code"]) == 16 and json.loads(json.dumps(key)) == key


def test_method_page_defaults_are_persisted_beside_the_default_ranking(tmp_path, small_demo, small_table):
    from transvis.demo import compute_method_rankings, load_demo_method_rankings
    from transvis.app_defaults import METHOD_DEFAULTS

    methods = compute_method_rankings(small_demo, small_table)
    assert set(methods) == set(METHOD_DEFAULTS)
    save_demo_ranking(small_demo, small_table, methods=methods, cache_dir=tmp_path)
    loaded = load_demo_method_rankings(small_demo, cache_dir=tmp_path)
    assert set(loaded) == set(METHOD_DEFAULTS)
    params, sfda = loaded["sfda"]
    assert params == METHOD_DEFAULTS["sfda"]
    model = next(iter(small_demo.features))
    np.testing.assert_array_equal(sfda.results["sfda"][model].trace["eigenvalues"],
                                  methods["sfda"].results["sfda"][model].trace["eigenvalues"])
    assert sfda.scores.equals(methods["sfda"].scores)
    # a page default equal to the Leaderboard's is taken from the default table, any other is scored again
    # (PED's page runs at time step 0.2 / exit ratio 0.45 since 394f72b, the Leaderboard at the official 0.1 / 0.5)
    from transvis.app_defaults import default_params
    from transvis.demo.ranking_cache import _resolved_params

    same = _resolved_params("ped", METHOD_DEFAULTS["ped"]) == _resolved_params("ped", default_params(["ped"]).get("ped", {}))
    assert (methods["ped"].results["ped"][model] is small_table.results["ped"][model]) == same
    assert methods["fsp"].results["fsp"][model] is not small_table.results["fsp"][model]  # spread 0.3 ≠ 0.1
    assert "ped" in methods["ped"].noise and "fsp" in methods["fsp"].noise
    with pytest.raises(ValueError, match="no method-page defaults"):
        save_demo_ranking(small_demo, small_table, methods={"logme": small_table}, cache_dir=tmp_path)


# --- the persisted default trajectories (transvis demo prepare) ------------------------------------------
@pytest.fixture(scope="module")
def small_trajectories(small_demo):
    return demo_module.compute_demo_trajectories(small_demo)


def test_default_trajectories_are_persisted_and_loaded_by_request(tmp_path, small_demo, small_trajectories):
    from transvis.app_defaults import DYNAMICS_DEFAULTS
    from transvis.session import trajectory_request_key

    assert set(small_trajectories) == set(DYNAMICS_DEFAULTS)
    path = demo_module.save_demo_trajectories(small_demo, small_trajectories, cache_dir=tmp_path)
    assert path == demo_module.demo_trajectories_path(tmp_path) and path.parent == demo_ranking_path(tmp_path).parent
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # written atomically: no temporary left
    loaders = demo_module.load_demo_trajectories(small_demo, cache_dir=tmp_path)
    keys = {kind: trajectory_request_key(kind, metric, params) for kind, (metric, params) in DYNAMICS_DEFAULTS.items()}
    assert set(loaders) == set(keys.values())
    for kind, key in keys.items():
        loaded, computed = loaders[key](), small_trajectories[kind]
        assert loaded.method == computed.method and loaded.metric == computed.metric
        assert loaded.scores_table().equals(computed.scores_table())
        model = computed.models[-1]
        np.testing.assert_array_equal(loaded.frames[-1].positions[model], computed.frames[-1].positions[model])
    nc1 = small_trajectories["collapse"].quantity("nc1", model)
    assert loaders[keys["collapse"]]().quantity("nc1", model) == nc1 and nc1[-1] < nc1[0]


def test_stale_or_missing_trajectories_are_not_used(tmp_path, small_demo, small_trajectories, monkeypatch):
    assert demo_module.load_demo_trajectories(small_demo, cache_dir=tmp_path) == {}  # nothing persisted yet
    demo_module.save_demo_trajectories(small_demo, small_trajectories, cache_dir=tmp_path)
    other_features = demo_module.Demo(name=small_demo.name, features=small_demo.features,
                                      feature_keys={**small_demo.feature_keys, next(iter(small_demo.features)): "new"})
    assert demo_module.load_demo_trajectories(other_features, cache_dir=tmp_path) == {}
    with monkeypatch.context() as patch:
        patch.setattr(demo_module.trajectory_cache, "_dynamics_code_digest", lambda: "edited-dynamics-code")
        assert demo_module.load_demo_trajectories(small_demo, cache_dir=tmp_path) == {}
    with monkeypatch.context() as patch:  # frames are scored: the scoring code is part of their key
        patch.setattr(demo_module.ranking_cache, "_scoring_code_digest", lambda: "edited-metric-code")
        assert demo_module.load_demo_trajectories(small_demo, cache_dir=tmp_path) == {}
    with monkeypatch.context() as patch:
        patch.setattr(demo_module.trajectory_cache, "DEMO_TRAJECTORIES_FORMAT",
                      demo_module.DEMO_TRAJECTORIES_FORMAT + 1)
        assert demo_module.load_demo_trajectories(small_demo, cache_dir=tmp_path) == {}
    with monkeypatch.context() as patch:  # a page default changed: its trajectory is another request
        import transvis.app_defaults as app_defaults

        patch.setitem(app_defaults.DYNAMICS_DEFAULTS, "collapse", ("logme", {"to_etf": True}))
        assert demo_module.load_demo_trajectories(small_demo, cache_dir=tmp_path) == {}
    loaders = demo_module.load_demo_trajectories(small_demo, cache_dir=tmp_path)
    assert len(loaders) == 4  # unchanged inputs: used
    # rewritten for other features after the app read the header: the old loaders read nothing stale
    demo_module.save_demo_trajectories(other_features, small_trajectories, cache_dir=tmp_path)
    assert all(load() is None for load in loaders.values())
    demo_module.demo_trajectories_path(tmp_path).write_bytes(b"truncated")
    assert demo_module.load_demo_trajectories(other_features, cache_dir=tmp_path) == {}


def test_the_app_pool_serves_persisted_trajectories_for_equal_requests_only(tmp_path, small_demo, small_trajectories):
    from transvis.session import pool_from_demo, precomputed_trajectory

    demo_module.save_demo_trajectories(small_demo, small_trajectories, cache_dir=tmp_path)
    pool = pool_from_demo(small_demo)
    pool.trajectories.update(demo_module.load_demo_trajectories(small_demo, cache_dir=tmp_path))
    page = precomputed_trajectory(pool, "collapse", "logme", {"to_etf": False})  # the Neural collapse page
    assert page is not None and page.scores_table().equals(small_trajectories["collapse"].scores_table())
    assert precomputed_trajectory(pool, "collapse", "logme", {}) is page  # Export's request: same, loaded once
    assert precomputed_trajectory(pool, "collapse", "logme", {"to_etf": True}) is None
    assert precomputed_trajectory(pool, "collapse", "sfda", {}) is None
    assert precomputed_trajectory(pool, "collapse", "logme", {"no_such_parameter": 1}) is None
    from transvis.app_defaults import DYNAMICS_DEFAULTS

    ped = precomputed_trajectory(pool, "ped", "sfda", dict(DYNAMICS_DEFAULTS["ped"][1]))  # the PED page's request
    assert ped is not None and ped.metric == "sfda"


def test_only_the_default_trajectories_of_a_prepared_demo_are_persisted(tmp_path, small_demo, small_trajectories):
    with pytest.raises(ValueError, match="no dynamics-page defaults for \\['extra'\\]"):
        demo_module.save_demo_trajectories(small_demo, {"extra": small_trajectories["ped"]}, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="not the default collapse/logme"):
        demo_module.save_demo_trajectories(small_demo, {"collapse": small_trajectories["ped"]}, cache_dir=tmp_path)
    keyless = demo_module.Demo(name="x", features=small_demo.features)
    with pytest.raises(ValueError, match="no feature-store keys"):
        demo_module.save_demo_trajectories(keyless, small_trajectories, cache_dir=tmp_path)
    assert not demo_module.demo_trajectories_path(tmp_path).exists()


def test_a_method_page_default_equal_to_the_leaderboards_is_not_scored_again(monkeypatch, small_demo, small_table):
    import transvis.app_defaults
    from transvis.app_defaults import default_params
    from transvis.demo import compute_method_rankings

    monkeypatch.setattr(transvis.app_defaults, "METHOD_DEFAULTS", {"ped": dict(default_params(["ped"]).get("ped", {}))})
    methods = compute_method_rankings(small_demo, small_table)
    model = next(iter(small_demo.features))
    assert methods["ped"].results["ped"][model] is small_table.results["ped"][model]
