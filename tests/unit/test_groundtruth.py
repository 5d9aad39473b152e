"""Ground truth: splits, linear probe, fine-tuning on a tiny timm model, the CSV format and measure_groundtruth."""

import json

import numpy as np
import pytest

from transvis.data import ArrayImageDataset
from transvis.features.featureset import FeatureSet
from transvis.groundtruth import (
    GroundTruthRow,
    finetune,
    groundtruth_for,
    linear_probe,
    measure_groundtruth,
    read_groundtruth_csv,
    stratified_split,
    with_new_head,
    write_groundtruth_csv,
)


def _toy_images(n_per_class=24, seed=0):
    """Two classes a network separates in a few steps: dark vs bright noisy 16x16 images."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n_per_class)
    images = np.where(labels[:, None, None] == 1, 200, 40) + rng.integers(-30, 30, (labels.size, 16, 16))
    return ArrayImageDataset(images.clip(0, 255).astype(np.uint8), labels, ["dark", "bright"], "toy:bright-dark")


def _tiny_timm(name="test_convnext"):
    import timm

    return lambda: timm.create_model(name, pretrained=False)


# -- splits --------------------------------------------------------------------------------------------

def test_stratified_split_sizes_disjoint_and_deterministic():
    labels = np.repeat([0, 1, 2, 3], [10, 3, 2, 1])
    train, val, test = stratified_split(labels, val_fraction=0.2, test_fraction=0.3, seed=5)
    assert np.intersect1d(train, val).size == np.intersect1d(train, test).size == np.intersect1d(val, test).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, val, test])), np.arange(labels.size))
    assert np.bincount(labels[test], minlength=4).tolist() == [3, 1, 1, 0]
    assert np.bincount(labels[val], minlength=4).tolist() == [2, 1, 0, 0]
    assert np.bincount(labels[train], minlength=4).tolist() == [5, 1, 1, 1]  # the singleton trains
    again = stratified_split(labels, val_fraction=0.2, test_fraction=0.3, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again, strict=True))
    other = stratified_split(labels, val_fraction=0.2, test_fraction=0.3, seed=6)
    assert not np.array_equal(test, other[2])
    with pytest.raises(ValueError, match="sum below 1"):
        stratified_split(labels, 0.5, 0.5)


# -- linear probe --------------------------------------------------------------------------------------

def test_linear_probe_separable_features_reach_full_accuracy():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 60)
    means = rng.normal(size=(4, 16)) * 6
    features = means[labels] + rng.normal(size=(labels.size, 16))
    result = linear_probe(features, labels, seed=0)
    assert result.accuracy == pytest.approx(1.0)
    assert (result.n_train, result.n_val, result.n_test) == (120, 48, 72)
    assert result.best_c in result.val_accuracy and result.protocol["seed"] == 0


def test_linear_probe_random_labels_stay_near_chance():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(600, 20))
    labels = rng.integers(0, 4, 600)
    result = linear_probe(features, labels, seed=0)
    assert 0.12 < result.accuracy < 0.38  # chance is 0.25; 180 test samples


def test_linear_probe_accepts_a_featureset_and_does_not_modify_it():
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1], 30)
    fs = FeatureSet(features=rng.normal(size=(60, 5)) + labels[:, None] * 4, labels=labels, class_names=["a", "b"],
                    model_id="m", dataset_id="d")
    before = fs.features.copy()
    assert linear_probe(fs, c_grid=(1.0,)).accuracy == pytest.approx(1.0)
    assert np.array_equal(fs.features, before)
    with pytest.raises(ValueError, match="NaN"):
        linear_probe(np.full((4, 2), np.nan), np.array([0, 1, 0, 1]))


# -- fine-tuning ---------------------------------------------------------------------------------------

def test_finetune_tiny_timm_model_learns_a_separable_task():
    result = finetune(_tiny_timm(), _toy_images(), input_size=32, lrs=(0.05,), max_steps=6, epochs=10,
                      batch_size=8, seed=0)
    assert result.accuracy == pytest.approx(1.0)  # chance is 0.5
    assert (result.n_train, result.n_val, result.n_test) == (34, 0, 14)
    assert result.protocol["input_size"] == [3, 32, 32] and result.protocol["lrs"] == [0.05]


def test_finetune_picks_the_learning_rate_on_validation():
    result = finetune(_tiny_timm(), _toy_images(), input_size=32, lrs=(0.05, 0.0), max_steps=4, batch_size=8)
    assert set(result.val_accuracy) == {0.05, 0.0} and result.n_val > 0
    assert result.best_lr == max(result.val_accuracy, key=lambda lr: (result.val_accuracy[lr], -lr))
    assert result.accuracy == result.test_accuracy[result.best_lr]


def test_with_new_head_for_plain_torch_modules():
    import torch

    class WithFc(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
            self.fc = torch.nn.Linear(4, 1000)

        def forward(self, x):
            return self.fc(self.body(x))

    x = torch.zeros(2, 3, 16, 16)
    assert with_new_head(WithFc(), 7)(x).shape == (2, 7)
    bare = torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3), torch.nn.AdaptiveAvgPool2d(1))
    assert with_new_head(bare, 3)(x).shape == (2, 3)


# -- CSV -----------------------------------------------------------------------------------------------

def test_csv_round_trip_merge_and_lookup(tmp_path):
    path = tmp_path / "gt.csv"
    protocol = {"seed": 0, "lrs": [0.01, 0.001], "input_size": [3, 96, 96]}
    write_groundtruth_csv([
        GroundTruthRow("m1", "fashion-mnist:test", "linear_probe", 0.81, protocol),
        GroundTruthRow("m2", "fashion-mnist:test", "linear_probe", 0.77, protocol),
        GroundTruthRow("m1", "fashion-mnist:test", "finetune", 0.90, protocol),
    ], path)
    write_groundtruth_csv([GroundTruthRow("m2", "fashion-mnist:test", "linear_probe", 0.79, "by hand")], path)
    rows = read_groundtruth_csv(path)
    assert len(rows) == 3 and rows[0].protocol == protocol
    assert groundtruth_for(path, "linear_probe") == {"m1": 0.81, "m2": 0.79}
    assert groundtruth_for(rows, "Fine-tune", dataset="fashion-mnist") == {"m1": 0.90}
    with pytest.raises(ValueError, match="no ground truth for regime"):
        groundtruth_for(rows, "zero_shot")
    with pytest.raises(ValueError, match="available: fashion-mnist:test"):
        groundtruth_for(rows, "linear_probe", dataset="cifar10")


def test_user_csv_minimal_columns_and_regime_spellings(tmp_path):
    path = tmp_path / "user.csv"
    path.write_text("Model, Dataset ,Regime,Accuracy\nresnet50,pets,Linear probe,0.9\nvit,pets,LP,0.92\n"
                    "resnet50,pets,fine-tuning,0.95\nresnet50,flowers,linear_probe,1\n")
    rows = read_groundtruth_csv(path)
    assert [r.regime for r in rows] == ["linear_probe", "linear_probe", "finetune", "linear_probe"]
    assert groundtruth_for(rows, "linear_probe", dataset="pets") == {"resnet50": 0.9, "vit": 0.92}
    with pytest.raises(ValueError, match="several datasets"):
        groundtruth_for(rows, "linear_probe")


@pytest.mark.parametrize("body,message", [
    ("model,dataset,accuracy\nm,d,0.5\n", "lacks the column.*regime"),
    ("model,dataset,regime,accuracy\nm,d,linear_probe,87.5\n", "line 2.*percentage"),
    ("model,dataset,regime,accuracy\nm,d,linear_probe,85%\n", "percentage"),
    ("model,dataset,regime,accuracy\nm,d,linear_probe,-0.1\n", r"fraction in \[0, 1\]"),
    ("model,dataset,regime,accuracy\nm,d,linear_probe,high\n", "not a number"),
    ("model,dataset,regime,accuracy\nm,d,linear_probe,\n", r"fraction in \[0, 1\]"),
    ("model,dataset,regime,accuracy\nm,d,lp,0.5\nm,d,linear_probe,0.6\n", "line 3: duplicate of line 2"),
    ("model,dataset,regime,accuracy\n,d,lp,0.5\n", "empty model"),
    ("model,dataset,regime,accuracy,protocol\nm,d,lp,0.5,{\"a\": 1, \"b\": 2}\n", "quote fields"),
    ("model,dataset,regime,accuracy\n", "no rows"),
    ("", "empty"),
])
def test_user_csv_errors_name_the_problem(tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(ValueError, match=message):
        read_groundtruth_csv(path)


# -- measure_groundtruth -------------------------------------------------------------------------------

def test_measure_groundtruth_writes_a_valid_csv(tmp_path):
    import timm

    out = tmp_path / "gt.csv"
    names = {"tiny/a": "test_convnext", "tiny/b": "test_resnet"}
    rows = measure_groundtruth(
        list(names), _toy_images(12), seed=0, out_csv=out,
        model_loader=lambda mid: timm.create_model(names[mid], pretrained=False),
        probe_kw={"c_grid": (1.0,)}, finetune_kw={"input_size": 32, "lrs": (0.05,), "max_steps": 3, "batch_size": 8},
    )
    assert [(r.model, r.regime) for r in rows] == [
        ("tiny/a", "linear_probe"), ("tiny/a", "finetune"), ("tiny/b", "linear_probe"), ("tiny/b", "finetune")]
    back = read_groundtruth_csv(out)
    assert {(r.model, r.regime): r.accuracy for r in back} == {(r.model, r.regime): r.accuracy for r in rows}
    assert all(r.dataset == "toy:bright-dark" and 0.0 <= r.accuracy <= 1.0 for r in back)
    probe = next(r for r in back if r.regime == "linear_probe")
    assert probe.protocol["seed"] == 0 and probe.protocol["c_grid"] == [1.0] and probe.protocol["input_size"] == 32
    assert json.loads(json.dumps(probe.protocol)) == probe.protocol
    assert set(groundtruth_for(out, "finetune")) == {"tiny/a", "tiny/b"}
    with pytest.raises(ValueError, match="unknown regime"):
        measure_groundtruth(["tiny/a"], _toy_images(4), regimes=("zero_shot",))


def test_measure_groundtruth_skips_corrupt_images_and_uses_feature_fn_labels(tmp_path):
    from PIL import Image

    from transvis.data import load_image_folder

    rng = np.random.default_rng(0)
    for cls, value in (("dark", 30), ("bright", 220)):
        for i in range(10):
            pixels = np.clip(value + rng.integers(-20, 20, (8, 8)), 0, 255).astype(np.uint8)
            (tmp_path / "ds" / cls).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels, "L").save(tmp_path / "ds" / cls / f"{i}.png")
    (tmp_path / "ds" / "dark" / "broken.png").write_bytes(b"not a png")
    dataset = load_image_folder(tmp_path / "ds")
    seen, messages = [], []

    def feature_fn(model_id, ds):
        seen.append(len(ds))
        mean = np.array([[np.asarray(ds[i][0], dtype=float).mean()] for i in range(len(ds))])
        return FeatureSet(features=np.hstack([mean, rng.normal(size=(len(ds), 2))]), labels=ds.labels,
                          class_names=ds.class_names, model_id=model_id, dataset_id=ds.dataset_id)

    rows = measure_groundtruth(["pixel-mean"], dataset, regimes=("linear probe",), feature_fn=feature_fn,
                               probe_kw={"c_grid": (1.0,)}, progress=messages.append)
    assert seen == [20] and any("broken.png" in m for m in messages)
    assert rows[0].regime == "linear_probe" and rows[0].accuracy == pytest.approx(1.0)


# -- divergence, merge and resume ----------------------------------------------------------------------

def test_finetune_skips_a_diverging_learning_rate_and_fails_when_all_diverge():
    result = finetune(_tiny_timm(), _toy_images(), input_size=32, lrs=(1e12, 0.05), max_steps=4, batch_size=8)
    assert result.protocol["diverged_lrs"] == [1e12] and set(result.val_accuracy) == {0.05}
    assert result.best_lr == 0.05 and result.protocol["steps_per_lr"] == 4
    assert result.protocol["lrs_tried"] == [1e12, 0.05]  # one lr trained: no fallback run
    with pytest.raises(ValueError, match=r"diverged at every learning rate \[1000000000000.0, 100000000000.0\]"):
        finetune(_tiny_timm(), _toy_images(), input_size=32, lrs=(1e12,), max_steps=4, batch_size=8)


def test_learning_rate_grid_falls_back_to_a_tenth_of_its_smallest_only_when_every_run_failed():
    from transvis.groundtruth.finetune import _grid_with_fallback

    lrs = [0.01, 0.003]
    assert list(_grid_with_fallback(lrs, lambda: True)) == [0.01, 0.003, pytest.approx(0.0003)]
    assert lrs == [0.01, 0.003, pytest.approx(0.0003)]  # recorded as tried
    lrs = [0.01, 0.003]
    assert list(_grid_with_fallback(lrs, lambda: False)) == [0.01, 0.003] and lrs == [0.01, 0.003]


def test_protocol_settings_fill_defaults_and_match_recorded_protocols():
    from transvis.groundtruth import protocol_matches, protocol_settings

    settings = protocol_settings("fine-tune", 3, {"lrs": (0.01, 0.003), "input_size": 64, "device": "cpu"})
    assert settings == {"lrs": [0.01, 0.003], "epochs": 3, "max_steps": None, "batch_size": 32, "momentum": 0.9,
                        "weight_decay": 1e-4, "augment": False, "val_fraction": 0.2, "test_fraction": 0.3,
                        "seed": 3, "input_size": [3, 64, 64]}
    recorded = {**settings, "best_lr": 0.01, "device": "cuda", "epochs": 3.0}
    assert protocol_matches(recorded, settings)
    assert not protocol_matches({**recorded, "epochs": 4}, settings)
    assert not protocol_matches({k: v for k, v in recorded.items() if k != "seed"}, settings)
    assert not protocol_matches("typed in by hand", settings)
    probe = protocol_settings("linear_probe", 0, {}, input_size=112, features="feature_fn")
    assert probe["c_grid"] == [0.001, 0.01, 0.1, 1.0, 10.0] and probe["input_size"] == 112


def test_measure_groundtruth_merges_into_other_regimes_and_resumes(tmp_path):
    import timm

    out = tmp_path / "gt.csv"
    dataset = _toy_images(12)
    kept = [GroundTruthRow(m, dataset.dataset_id, "linear_probe", acc, {"seed": 0}) for m, acc in
            (("tiny/a", 0.61), ("tiny/b", 0.62))]
    other_dataset = GroundTruthRow("tiny/a", "cifar10:test", "finetune", 0.33, "by hand")
    write_groundtruth_csv(kept + [other_dataset], out)
    loaded = []

    def loader(model_id):
        loaded.append(model_id)
        return timm.create_model({"tiny/a": "test_convnext", "tiny/b": "test_resnet"}[model_id], pretrained=False)

    ft = {"input_size": 32, "lrs": (0.05,), "max_steps": 2, "batch_size": 8}
    first = measure_groundtruth(["tiny/a"], dataset, regimes=("finetune",), out_csv=out, model_loader=loader,
                                finetune_kw=ft, resume=True)
    assert loaded == ["tiny/a"] and [(r.model, r.regime) for r in first] == [("tiny/a", "finetune")]
    rows = {(r.model, r.dataset, r.regime): r.accuracy for r in read_groundtruth_csv(out)}
    assert rows[("tiny/a", dataset.dataset_id, "linear_probe")] == 0.61   # other regime kept
    assert rows[("tiny/b", dataset.dataset_id, "linear_probe")] == 0.62
    assert rows[("tiny/a", "cifar10:test", "finetune")] == 0.33           # other dataset kept
    assert rows[("tiny/a", dataset.dataset_id, "finetune")] == first[0].accuracy

    # a rerun skips tiny/a (same protocol) and measures tiny/b only; its row joins the file
    second = measure_groundtruth(["tiny/a", "tiny/b"], dataset, regimes=("finetune",), out_csv=out,
                                 model_loader=loader, finetune_kw=ft, resume=True)
    assert loaded == ["tiny/a", "tiny/b"]
    assert [r.model for r in second] == ["tiny/a", "tiny/b"] and second[0].accuracy == first[0].accuracy
    assert len(read_groundtruth_csv(out)) == 5

    # another protocol (more steps) or resume=False measures again
    measure_groundtruth(["tiny/a"], dataset, regimes=("finetune",), out_csv=out, model_loader=loader,
                        finetune_kw={**ft, "max_steps": 3}, resume=True)
    measure_groundtruth(["tiny/b"], dataset, regimes=("finetune",), out_csv=out, model_loader=loader,
                        finetune_kw=ft, resume=False)
    assert loaded == ["tiny/a", "tiny/b", "tiny/a", "tiny/b"]
    redone = next(r for r in read_groundtruth_csv(out) if r.model == "tiny/a" and r.regime == "finetune"
                  and r.dataset == dataset.dataset_id)
    assert redone.protocol["max_steps"] == 3 and len(read_groundtruth_csv(out)) == 5


# -- the shipped demo ground truth ---------------------------------------------------------------------

def _measure_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "measure_demo_groundtruth.py"
    spec = importlib.util.spec_from_file_location("measure_demo_groundtruth", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_demo_groundtruth_has_both_regimes_for_every_demo_model():
    from transvis.demo import DEMO_GROUNDTRUTH_CSV, DEMO_INPUT_SIZE, demo_dataset
    from transvis.models import zoo_ids

    rows = read_groundtruth_csv(DEMO_GROUNDTRUTH_CSV)
    script = _measure_script()
    # each regime on its own sample of the test split: the linear probe on the app's scoring sample
    samples = {regime: demo_dataset(n) for regime, n in script.REGIME_MAX_PER_CLASS.items()}
    assert samples["linear_probe"].dataset_id == demo_dataset().dataset_id
    splits = {"linear_probe": (1500, 600, 900), "finetune": (500, 200, 300)}
    assert len(zoo_ids()) == 7
    for regime in ("linear_probe", "finetune"):
        table = groundtruth_for(rows, regime, dataset="fashion-mnist")
        assert sorted(table) == sorted(script.default_models(regime)), regime  # probe: the pool; fine-tuning: zoo
        assert all(0.1 < accuracy <= 1.0 for accuracy in table.values()), (regime, table)  # chance is 0.1
    for row in rows:
        dataset_id = samples[row.regime].dataset_id
        assert row.dataset == dataset_id and row.protocol["dataset_id"] == dataset_id
        assert row.protocol["seed"] == 0 and (row.protocol["val_fraction"], row.protocol["test_fraction"]) == (0.2, 0.3)
        assert (int(row.extra["n_train"]), int(row.extra["n_val"]), int(row.extra["n_test"])) == splits[row.regime]
        if row.regime == "linear_probe":
            assert row.protocol["input_size"] == DEMO_INPUT_SIZE and row.protocol["best_c"] in row.protocol["c_grid"]
        else:
            tried = row.protocol.get("lrs_tried", row.protocol["lrs"])  # lrs + the fallback, if it ran
            assert row.protocol["input_size"] == [3, 64, 64] and row.protocol["best_lr"] in tried
            assert row.protocol["best_lr"] not in row.protocol["diverged_lrs"]
            assert len(row.protocol["lrs"]) >= 2 and row.protocol["epochs"] >= 1
            assert row.protocol["val_accuracy"][f"{row.protocol['best_lr']:g}"] > 0.1  # above chance


def test_shipped_demo_groundtruth_is_what_the_recorded_commands_produce():
    from transvis.demo import DEMO_GROUNDTRUTH_CSV, DEMO_INPUT_SIZE
    from transvis.groundtruth import protocol_matches, protocol_settings

    script = _measure_script()
    args = script.parse_args([])
    planned = {
        "finetune": protocol_settings("finetune", args.seed, script.finetune_kwargs(args)),
        "linear_probe": protocol_settings("linear_probe", args.seed, {}, input_size=DEMO_INPUT_SIZE,
                                          features="feature_fn"),
    }
    rows = read_groundtruth_csv(DEMO_GROUNDTRUTH_CSV)
    assert all(protocol_matches(r.protocol, planned[r.regime]) for r in rows), "script defaults drifted"
    readme = (DEMO_GROUNDTRUTH_CSV.parent / "README.md").read_text()
    assert readme == script.readme_text()
    for regime in ("linear_probe", "finetune"):
        assert script.command(regime, 0) in readme
