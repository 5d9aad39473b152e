"""The app's UI-free session model: pools, ground-truth uploads, selections, feature store round trip."""

import numpy as np
import pytest

from transvis.demo import synthetic_demo
from transvis.features.featureset import FeatureSet
from transvis.session import (
    match_groundtruth,
    params_key,
    parse_groundtruth_csv,
    pool_from_demo,
    pool_from_featuresets,
)


def _fs(model, labels, names=("u", "v"), seed=0):
    rng = np.random.default_rng(seed)
    return FeatureSet(rng.normal(size=(len(labels), 3)), labels, list(names), model, "ds")


def test_pool_from_demo_key_is_stable_and_content_specific():
    a, b = pool_from_demo(synthetic_demo(seed=0)), pool_from_demo(synthetic_demo(seed=0))
    c = pool_from_demo(synthetic_demo(seed=1))
    assert a.key == b.key and a.key != c.key
    assert a.models[0] == "synthetic/model-0" and a.shared_samples
    assert a.summary().startswith("5 models · 360 samples · 6 classes")
    assert set(a.feature_arrays()) == set(a.models)


def test_pool_from_featuresets_checks_classes_ids_and_single_class():
    labels = np.array([0, 1, 0, 1])
    pool = pool_from_featuresets([_fs("a", labels), _fs("b", labels, seed=1)], "up", "upload")
    assert pool.models == ["a", "b"] and pool.key.startswith("upload:")
    with pytest.raises(ValueError, match="same model id"):
        pool_from_featuresets([_fs("a", labels), _fs("a", labels)], "up", "upload")
    with pytest.raises(ValueError, match="same classes"):
        pool_from_featuresets([_fs("a", labels), _fs("b", labels, names=("x", "y"))], "up", "upload")
    with pytest.raises(ValueError, match="single class"):
        pool_from_featuresets([_fs("a", np.array([0, 0, 0]))], "up", "upload")
    with pytest.raises(ValueError, match="at least one"):
        pool_from_featuresets([], "up", "upload")


def test_parse_groundtruth_csv_groups_by_regime_and_dataset():
    one = parse_groundtruth_csv(b"model,dataset,regime,accuracy\na,fm,linear probe,0.5\nb,fm,fine-tune,0.7\n")
    assert one == {"linear_probe": {"a": 0.5}, "finetune": {"b": 0.7}}
    two = parse_groundtruth_csv("model,dataset,regime,accuracy\na,fm,lp,0.5\na,cifar,lp,0.6\n")
    assert two == {"fm · linear_probe": {"a": 0.5}, "cifar · linear_probe": {"a": 0.6}}


@pytest.mark.parametrize("text, message", [
    (b"model,score\na,1\n", "lacks the column"),
    (b"model,dataset,regime,accuracy\na,fm,lp,87\n", "percentage"),
    (b"model,dataset,regime,accuracy\na,fm,lp,abc\n", "not a number"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not a text CSV"),
    (b"model,dataset,regime,accuracy\n", "no rows"),
])
def test_parse_groundtruth_csv_errors_name_the_fix(text, message):
    with pytest.raises(ValueError, match=message):
        parse_groundtruth_csv(text)


def test_match_groundtruth_by_id_or_bare_name():
    table = {"mobilenetv2_100": 0.8, "offline/vgg16": 0.5, "other": 0.1, "nan_model": float("nan")}
    assert match_groundtruth(table, ["offline/mobilenetv2_100", "offline/vgg16", "nan_model", "x"]) == {
        "offline/mobilenetv2_100": 0.8, "offline/vgg16": 0.5}


def test_params_key_is_order_free():
    assert params_key({"b": 1, "a": {"y": 2, "x": 1}}) == params_key({"a": {"x": 1, "y": 2}, "b": 1})
    assert params_key(None) == "{}"


def test_per_metric_rankings_merge_to_the_same_table_as_one_call():
    import pandas as pd

    from transvis.ranking import rank_models
    from transvis.session import merge_rankings, with_groundtruth

    demo = synthetic_demo(n_models=4, n_per_class=20, seed=2)
    gt = demo.groundtruth["ncm_heldout"]
    metrics = ["logme", "hscore", "ncti", "leep"]
    whole = rank_models(demo.features, metrics, groundtruth=gt)
    merged = with_groundtruth(merge_rankings([rank_models(demo.features, [m]) for m in metrics]), gt)
    pd.testing.assert_frame_equal(merged.scores, whole.scores)
    pd.testing.assert_frame_equal(merged.ranks, whole.ranks)
    assert merged.correlations.keys() == whole.correlations.keys()
    for metric, stats in whole.correlations.items():
        for name, value in stats.items():
            assert merged.correlations[metric][name] == pytest.approx(value, nan_ok=True) if isinstance(
                value, float) else merged.correlations[metric][name] == value
    assert merged.correlation_skipped == whole.correlation_skipped  # LEEP: no source head, no correlation
    assert sorted(merged.skipped) == sorted(whole.skipped)
    assert with_groundtruth(merged, None).correlations == {}
    with pytest.raises(ValueError, match="same models"):
        merge_rankings([whole, rank_models({m: demo.features[m] for m in list(demo.features)[:2]}, ["logme"])])


def test_precomputed_tables_are_kept_per_metric_and_parameters():
    from transvis.ranking import rank_models
    from transvis.app_defaults import default_metrics, default_params
    from transvis.session import add_precomputed, metric_params_key

    assert "nleep" not in default_metrics() and "parc" not in default_metrics() and "logme" in default_metrics()
    assert default_params(["logme", "hscore", "fsp"]) == {"logme": {"variant": "exact"}, "fsp": {"variant": "paper"}}
    assert metric_params_key("logme", None) == metric_params_key("logme", {}) != metric_params_key(
        "logme", {"variant": "exact"})
    demo = synthetic_demo(n_models=3, n_per_class=15, seed=4)
    pool = pool_from_demo(demo)
    params = {"logme": {"variant": "exact"}}
    table = rank_models(demo.features, ["logme", "hscore"], params=params)
    add_precomputed(pool, table, params)
    assert set(pool.precomputed) == {metric_params_key("logme", {"variant": "exact"}),
                                     metric_params_key("hscore", None)}
    logme = pool.precomputed[metric_params_key("logme", {"variant": "exact"})]
    assert logme.metrics == ["logme"] and logme.scores["logme"].equals(table.scores["logme"])
    other = rank_models({m: demo.features[m] for m in list(demo.features)[:2]}, ["logme"])
    with pytest.raises(ValueError, match="not this pool's"):
        add_precomputed(pool, other)


def test_in_sample_note_names_models_with_few_samples_per_dimension():
    from transvis.features.featureset import FeatureSet
    from transvis.session import in_sample_note, pool_from_featuresets

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 25)  # N - C = 96
    sets = [FeatureSet(features=rng.normal(size=(100, d)), labels=labels, class_names=list("abcd"),
                       model_id=f"zoo/d{d}", dataset_id="toy") for d in (16, 64, 120)]
    pool = pool_from_featuresets(sets, "dims", "upload")
    assert pool.samples_per_dimension() == {"zoo/d16": 6.0, "zoo/d64": 1.5, "zoo/d120": 0.8}
    note = in_sample_note(pool, ["logme", "sfda", "ncm_softmax"])
    assert note.startswith("SFDA, NCM softmax fit an LDA on the samples they score")
    # listed from the fewest samples per dimension up; the well-sampled model is not named
    assert "d120: D = 120 for N - C = 96 (0.80 per dimension); d64: D = 64 for N - C = 96 (1.50" in note
    assert "d16" not in note
    assert in_sample_note(pool, ["logme", "hscore"]) is None  # no in-sample LDA metric chosen
    wide = pool_from_featuresets(sets[:1], "narrow", "upload")
    assert in_sample_note(wide, ["sfda"]) is None  # 6 samples per dimension: nothing to say


@pytest.mark.parametrize("dataset_id, name", [
    ("zip:mydata:68db69a779af/max300-seed0", "mydata"),
    ("folder:holiday photos:0123456789ab", "holiday photos"),
    ("npz:my_model:abc123", "my_model"),
    ("torchvision:cifar10:test/max300-seed0", "cifar10 (test)"),
    ("fashion-mnist:test/max300-seed0", "fashion-mnist (test)"),
    ("digits/max5-seed0", "digits"),
    ("synthetic-c6-n60-seed0", "synthetic-c6-n60-seed0"),
])
def test_readable_dataset_name_drops_hash_and_subsample(dataset_id, name):
    from transvis.session import readable_dataset_name

    assert readable_dataset_name(dataset_id) == name


def test_pool_names_are_readable_with_a_suffix_only_for_a_second_pool_of_that_name():
    from transvis.session import unique_pool_name

    session = {"demo:x": "demo-zoo/fashion-mnist"}
    assert unique_pool_name("mydata", "store:aaa", session) == "mydata"
    session["store:aaa"] = "mydata"
    assert unique_pool_name("mydata", "store:aaa", session) == "mydata"  # the same pool again: same name
    assert unique_pool_name("mydata", "store:bbb", session) == "mydata (2)"
    session["store:bbb"] = "mydata (2)"
    assert unique_pool_name("mydata", "store:ccc", session) == "mydata (3)"


def test_pool_summary_names_the_dataset_without_its_hash():
    labels = np.array([0, 1, 0, 1])
    fs = FeatureSet(np.zeros((4, 3)), labels, ["u", "v"], "a", "zip:mydata:68db69a779af/max300-seed0")
    pool = pool_from_featuresets([fs], "mydata", "store")
    assert pool.summary() == "1 model · 4 samples · 2 classes · mydata"
    assert pool.dataset_id == "zip:mydata:68db69a779af/max300-seed0"  # still the cache's key
