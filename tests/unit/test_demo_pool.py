"""The demo pool's tiers and targets (issue 17): ids and names of every tier, the shipped ground truth's tiers
on every target, weighted τ across targets, and the CLI ranking the pool from the feature store."""

import math

import numpy as np
import pytest

from transvis.demo import (
    DEFAULT_TARGET,
    DEMO_TARGETS,
    TIER_LAYER,
    TIER_PRETRAINED,
    TIER_RANDOM,
    PoolMember,
    demo_member,
    demo_pool_ids,
    demo_pool_members,
    demo_ranking_path,
    demo_target,
    demo_trajectories_path,
    tau_across_targets,
    tiers_of,
)
from transvis.groundtruth import groundtruth_for, read_groundtruth_csv
from transvis.groundtruth import test_sizes_for as sizes_for
from transvis.models import zoo_ids
from transvis.models.naming import display_model_name
from transvis.viz import short_model_name

# -- the pool's tiers: ids and names ----------------------------------------------------------------------------


def test_the_demo_pool_holds_three_tiers_with_their_ids():
    members = demo_pool_members()
    by_tier = {tier: [m.model_id for m in members if m.tier == tier] for tier in (TIER_PRETRAINED, TIER_RANDOM,
                                                                                   TIER_LAYER)}
    assert by_tier[TIER_PRETRAINED] == zoo_ids() and len(zoo_ids()) == 7
    assert by_tier[TIER_RANDOM] == ["offline/mobilenetv2_tv.random_init", "offline/efficientnet_lite0.random_init"]
    assert by_tier[TIER_LAYER] == [f"offline/efficientnet_lite0@tap{i}" for i in (1, 2, 3)]
    assert demo_pool_ids() == [m.model_id for m in members] and len(set(demo_pool_ids())) == 12
    # a twin loads as the zoo's random init; a tap comes from its model's forward pass, as its layer
    twin, tap = demo_member("offline/mobilenetv2_tv.random_init"), demo_member("offline/efficientnet_lite0@tap2")
    assert (twin.loads, twin.layer) == ("offline/mobilenetv2_tv.random_init", "pre_logits")
    assert (tap.loads, tap.layer) == ("offline/efficientnet_lite0", "tap2")
    assert demo_member("offline/nope") is None
    assert tiers_of(["offline/vgg16_hed", "elsewhere/x", "offline/efficientnet_lite0@tap1"]) == {
        "offline/vgg16_hed": TIER_PRETRAINED, "offline/efficientnet_lite0@tap1": TIER_LAYER}


def test_the_app_names_say_what_each_member_is():
    names = {m.model_id: m.name for m in demo_pool_members()}
    assert names["offline/mobilenetv2_tv.random_init"] == "mobilenetv2_tv · random init"
    assert names["offline/efficientnet_lite0.random_init"] == "efficientnet_lite0 · random init"
    assert names["offline/efficientnet_lite0@tap3"] == "efficientnet_lite0 · tap 3"
    assert names["offline/xception_kitchenware"] == "xception_kitchenware"
    assert len(set(names.values())) == len(names)  # no two members look alike in a legend
    assert all(short_model_name(m) == n for m, n in names.items())  # the viz layer names them the same way


@pytest.mark.parametrize("model_id, name", [
    ("resnet18.a1_in1k", "resnet18.a1_in1k"),  # other weight tags are kept
    ("synthetic/model-2", "model-2"),
    ("resnet18.random_init", "resnet18 · random init"),
    ("resnet18.random_init@tap0", "resnet18 · random init · tap 0"),
    ("resnet18.a1_in1k@tap12", "resnet18.a1_in1k · tap 12"),
    ("resnet18@weights.pth", "resnet18@weights.pth"),  # a local checkpoint keeps its file name
])
def test_display_model_name(model_id, name):
    assert display_model_name(model_id) == name


def test_each_target_has_its_own_files_and_sample():
    from transvis.demo import demo_dataset, demo_manifest_path

    assert list(DEMO_TARGETS) == ["fashion-mnist", "mnist-5k"] and DEFAULT_TARGET == "fashion-mnist"
    assert demo_ranking_path("/c").name == "fashion-mnist-ranking.json"  # the path a 7-model demo was saved at
    assert demo_ranking_path("/c", "mnist-5k").name == "mnist-5k-ranking.json"
    assert demo_trajectories_path("/c", "mnist-5k").name == "mnist-5k-trajectories.npz"
    assert demo_manifest_path("/c", "mnist-5k").name == "mnist-5k-features.json"
    sample = demo_dataset(target="mnist-5k")
    assert sample.dataset_id == "mnist-5k/max300-seed0" and len(sample) == 3000
    assert np.bincount(sample.labels).tolist() == [300] * 10
    with pytest.raises(ValueError, match="choose one of fashion-mnist, mnist-5k"):
        demo_target("cifar10")


# -- the shipped ground truth: tiers the ground truth can tell apart ---------------------------------------------

def _probe(target: str) -> tuple[dict, dict]:
    rows = read_groundtruth_csv(demo_target(target).groundtruth_csv)
    return (groundtruth_for(rows, "linear_probe", dataset=target), sizes_for(rows, "linear_probe", dataset=target))


@pytest.mark.parametrize("target", list(DEMO_TARGETS))
def test_every_pool_member_has_measured_linear_probe_ground_truth(target):
    accuracy, sizes = _probe(target)
    assert sorted(accuracy) == sorted(demo_pool_ids())
    assert all(0.1 < a <= 1.0 for a in accuracy.values()) and set(sizes.values()) == {900}


@pytest.mark.parametrize("target", list(DEMO_TARGETS))
def test_random_init_twins_rank_below_every_pretrained_model(target):
    accuracy, _ = _probe(target)
    twins = [m.model_id for m in demo_pool_members() if m.tier == TIER_RANDOM]
    pretrained = [m.model_id for m in demo_pool_members() if m.tier == TIER_PRETRAINED]
    assert max(accuracy[m] for m in twins) < min(accuracy[m] for m in pretrained), accuracy


def test_random_init_twins_rank_last_on_fashion_mnist():
    # On MNIST-5k they do not: the shallow taps 1-2 (0.770, 0.846) are as weak as the twins (0.781, 0.854) there,
    # within the binomial noise of 900 test images (about 1.4 points).
    accuracy, _ = _probe("fashion-mnist")
    twins = [m.model_id for m in demo_pool_members() if m.tier == TIER_RANDOM]
    order = sorted(accuracy, key=accuracy.get)  # worst first
    assert sorted(order[:len(twins)]) == sorted(twins), {m: round(accuracy[m], 3) for m in order}


def test_the_fashion_mnist_ground_truth_spans_at_least_ten_points():
    accuracy, _ = _probe("fashion-mnist")
    assert max(accuracy.values()) - min(accuracy.values()) >= 0.10


# -- weighted τ across targets ---------------------------------------------------------------------------------

class _Table:
    def __init__(self, metrics, taus):
        self.metrics, self.weighted_tau = metrics, dict(zip(metrics, taus))


def test_tau_across_targets_gives_each_target_its_mean_and_spread():
    tables = {"Fashion-MNIST": _Table(["logme", "sfda", "leep"], [0.8, 0.2, math.nan]),
              "MNIST-5k": _Table(["logme", "sfda", "leep"], [0.6, 0.7, math.nan])}
    frame = tau_across_targets(tables)
    assert list(frame.columns) == ["Fashion-MNIST", "MNIST-5k", "mean", "spread"]
    assert frame.loc["logme", "mean"] == pytest.approx(0.7) and frame.loc["logme", "spread"] == pytest.approx(0.2)
    assert frame.loc["sfda", "mean"] == pytest.approx(0.45) and frame.loc["sfda", "spread"] == pytest.approx(0.5)
    assert math.isnan(frame.loc["leep", "mean"]) and math.isnan(frame.loc["leep", "spread"])
    one = tau_across_targets({"A": _Table(["logme"], [0.5]), "B": _Table(["logme"], [math.nan])})
    assert one.loc["logme", "mean"] == 0.5 and one.loc["logme", "spread"] == 0.0  # over the targets where known
    assert list(tau_across_targets(tables, ["sfda"]).index) == ["sfda"]
    with pytest.raises(ValueError, match="at least one target"):
        tau_across_targets({})


# -- the CLI ranks the demo pool from the store ------------------------------------------------------------------

@pytest.fixture()
def tiny_pool(monkeypatch):
    """The demo pool stood in by a tiny timm model: a random-init model and one of its taps (no weights)."""
    members = [PoolMember("test_resnet.random_init", "test_resnet.random_init", "pre_logits", TIER_RANDOM, "tiny"),
               PoolMember("test_resnet.random_init@tap1", "test_resnet.random_init", "tap1", TIER_LAYER, "tiny tap"),
               PoolMember("test_efficientnet.random_init", "test_efficientnet.random_init", "pre_logits",
                          TIER_RANDOM, "tiny")]
    monkeypatch.setattr("transvis.demo.pool.demo_pool_members", lambda: list(members))
    return members


def test_cli_ranks_the_demo_pool_on_mnist_5k_from_the_store(tiny_pool, tmp_path, monkeypatch, capsys):
    import json

    from transvis.cli import main

    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path / "cache"))
    rows = ["model,dataset,regime,accuracy,n_test"] + [
        f"{m.model_id},mnist-5k/max8-seed0,linear_probe,{0.5 + 0.1 * i},24" for i, m in enumerate(tiny_pool)]
    (tmp_path / "gt.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "rank.json"
    argv = ["rank", "--dataset", "mnist-5k", "--models", "demo", "--max-per-class", "8", "--input-size", "32",
            "--metrics", "logme,hscore", "--groundtruth", "linear_probe", "--groundtruth-csv",
            str(tmp_path / "gt.csv"), "--resamples", "0", "--json", str(out)]
    import transvis.features.extract as extract_module

    passes = []
    real = extract_module.extract_features
    monkeypatch.setattr(extract_module, "extract_features",
                        lambda model, *a, **k: passes.append(k.get("layers")) or real(model, *a, **k))
    assert main(argv) == 0
    assert sorted(map(str, passes)) == ["None", "[1]"]  # one pass per model: the tap with its model's features
    first = capsys.readouterr().err
    assert first.count("(extracted)") == 3 and "test_resnet.random_init@tap1: 80x" in first
    assert main(argv) == 0
    second = capsys.readouterr().err
    assert "extracted" not in second and second.count("(cached)") == 3  # from the store
    payload = json.loads(out.read_text())
    assert [entry["model"] for entry in payload["models"]] == [m.model_id for m in tiny_pool]
    assert {e["model"]: e["accuracy"] for e in payload["models"]} == pytest.approx(
        {m.model_id: 0.5 + 0.1 * i for i, m in enumerate(tiny_pool)})
    assert payload["groundtruth_source"].startswith("linear_probe (") and "gt.csv" in payload["groundtruth_source"]
    assert set(payload["weighted_tau"]) == {"logme", "hscore"}


def test_cli_looks_up_each_targets_shipped_ground_truth():
    from transvis.cli import _demo_groundtruth_csv

    assert _demo_groundtruth_csv("mnist-5k") == DEMO_TARGETS["mnist-5k"].groundtruth_csv
    assert _demo_groundtruth_csv("fashion-mnist") == DEMO_TARGETS["fashion-mnist"].groundtruth_csv
    assert _demo_groundtruth_csv("digits") == DEMO_TARGETS["fashion-mnist"].groundtruth_csv  # as before
