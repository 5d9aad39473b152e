"""The command-line front end, driven in-process through ``transvis.cli.main``."""

import json

import numpy as np
import pytest

from transvis.cli import main
from transvis.demo import synthetic_demo
from transvis.metrics import compute


@pytest.fixture()
def npz_files(tmp_path):
    demo = synthetic_demo(n_models=3, seed=2)
    paths = []
    for name, fs in demo.features.items():
        path = tmp_path / f"{name.split('/')[1]}.npz"
        np.savez(path, features=fs.features, labels=fs.labels)
        paths.append(str(path))
    return demo, paths


def test_score_writes_models_and_ranks(npz_files, tmp_path, capsys):
    demo, paths = npz_files
    out = tmp_path / "out.json"
    assert main(["score", "--features", *paths, "--metrics", "logme,hscore", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    by_model = {entry["model"]: entry for entry in payload["models"]}
    assert set(by_model) == {"model-0", "model-1", "model-2"}
    fs = demo.features["synthetic/model-1"]
    assert by_model["model-1"]["scores"]["logme"] == pytest.approx(compute("logme", fs.features, fs.labels).score)
    # Separation grows with the model index, so H-score ranks model-2 first.
    assert by_model["model-2"]["ranks"]["hscore"] == 1 and by_model["model-0"]["ranks"]["hscore"] == 3
    assert "model-0" in capsys.readouterr().out


def test_rank_with_groundtruth_csv_reports_weighted_tau(npz_files, tmp_path):
    demo, paths = npz_files
    csv = tmp_path / "gt.csv"
    accs = demo.groundtruth["ncm_heldout"]
    rows = ["model,dataset,regime,accuracy,protocol"]
    rows += [f"{m.split('/')[1]},synthetic,linear_probe,{a},test" for m, a in accs.items()]
    csv.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out.json"
    code = main(["rank", "--features", *paths, "--metrics", "hscore", "--groundtruth", f"{csv}:linear_probe",
                 "--json", str(out)])
    assert code == 0
    payload = json.loads(out.read_text())
    # Scores and accuracies are both ordered by separation: perfect agreement.
    assert payload["weighted_tau"]["hscore"] == pytest.approx(1.0)


def test_unknown_metric_is_a_clear_error(npz_files, capsys):
    _, paths = npz_files
    assert main(["score", "--features", paths[0], "--metrics", "logmee"]) == 2
    err = capsys.readouterr().err
    assert "unknown metric 'logmee'" in err and "logme" in err


def test_cache_list_on_empty_store(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path))
    assert main(["cache", "list"]) == 0
    assert "0 entries" in capsys.readouterr().out


def test_rank_without_a_source_is_a_clear_error(capsys):
    assert main(["rank", "--metrics", "logme"]) == 2
    assert "--features" in capsys.readouterr().err


def test_rank_layers_of_models_extracted_once_then_cached(tmp_path, monkeypatch, capsys):
    """`--layers` ranks every tapped layer as <model>@tap<i>; each layer is its own store entry, so a second
    run extracts nothing. With no ground-truth rows for the dataset, linear_probe is measured per layer."""
    from transvis.data import load_dataset
    from transvis.features.extract import extract_features
    from transvis.groundtruth import linear_probe
    from transvis.models import load_model

    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "layers.json"
    argv = ["rank", "--dataset", "digits", "--max-per-class", "8", "--models", "test_resnet.random_init",
            "--layers", "0,-1", "--input-size", "32", "--metrics", "logme,hscore", "--groundtruth", "linear_probe",
            "--json", str(out)]
    assert main(argv) == 0
    first = capsys.readouterr().err
    names = ["test_resnet.random_init", "test_resnet.random_init@tap0", "test_resnet.random_init@tap4"]
    assert [line.split(":")[0] for line in first.splitlines() if "(extracted)" in line] == names
    payload = json.loads(out.read_text())
    by_model = {entry["model"]: entry for entry in payload["models"]}
    assert sorted(by_model) == sorted(names)
    # every layer's score is that layer's own features, as one extraction pass computes them
    dataset = load_dataset("digits", max_per_class=8, seed=0)
    direct = extract_features(load_model("test_resnet.random_init"), dataset, input_size=32, layers=[0, 4],
                              progress=False, device="cpu", num_workers=0)
    for name, layer in zip(names, ["pre_logits", "tap0", "tap4"]):
        fs = direct[layer]
        assert by_model[name]["scores"]["logme"] == pytest.approx(compute("logme", fs.features, fs.labels).score,
                                                                  rel=1e-6)
        assert by_model[name]["accuracy"] == pytest.approx(linear_probe(fs, seed=0).accuracy)
    assert "measured now" in payload["groundtruth_source"]
    assert np.isfinite(payload["weighted_tau"]["hscore"])

    assert main(argv) == 0
    second = capsys.readouterr().err
    assert "(extracted)" not in second and second.count("(cached)") == 3
    assert main(["cache", "list"]) == 0
    listing = capsys.readouterr().out
    assert all(layer in listing for layer in ("pre_logits", "tap0", "tap4")) and "3 entries" in listing
    assert f"80x{direct['tap0'].features.shape[1]}" in listing  # each entry lists its features' shape


def test_bad_layers_are_a_clear_error(capsys):
    assert main(["extract", "--dataset", "digits", "--models", "test_resnet.random_init", "--layers", "last"]) == 2
    assert "--layers takes 'all' or comma-separated tap indices" in capsys.readouterr().err


def test_extract_reports_unreadable_images_it_left_out(tmp_path, monkeypatch, capsys):
    from PIL import Image

    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "photos"
    for name in ("cats", "dogs"):
        (root / name).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (16, 16), (60 * i, 100, 0)).save(root / name / f"{i}.png")
    (root / "cats" / "zz.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    assert main(["extract", "--dataset", str(root), "--models", "test_resnet.random_init", "--input-size", "32"]) == 0
    err = capsys.readouterr().err
    assert "test_resnet.random_init: 4x96 (extracted)" in err
    assert "1 of 5 images could not be read and were left out: #2 (CorruptImageError" in err and "zz.jpg" in err


def test_parse_layers_spellings():
    from transvis.pipeline import parse_layers

    assert parse_layers(None) is None and parse_layers("  ") is None
    assert parse_layers("all") == parse_layers(" ALL ") == "all"
    assert parse_layers(" 0, 2,-1 ") == [0, 2, -1] and parse_layers("3,") == [3]
    with pytest.raises(ValueError, match="such as 0,2,-1; got 'first'"):
        parse_layers("first")


def test_a_malformed_groundtruth_csv_is_an_error_not_a_silent_probe(npz_files, tmp_path, capsys):
    _, paths = npz_files
    csv = tmp_path / "gt.csv"
    csv.write_text("model,regime\nmodel-0,linear_probe\n")  # no dataset or accuracy column
    code = main(["rank", "--features", *paths, "--metrics", "hscore", "--groundtruth", "linear_probe",
                 "--groundtruth-csv", str(csv)])
    assert code == 2
    err = capsys.readouterr().err
    assert "dataset" in err and "accuracy" in err


def test_rank_json_carries_noise_tiers_and_tau_intervals(npz_files, tmp_path, capsys):
    demo, paths = npz_files
    csv = tmp_path / "gt.csv"
    rows = ["model,dataset,regime,accuracy,protocol,n_test"]
    rows += [f"{m.split('/')[1]},synthetic,linear_probe,{a},test,200" for m, a in demo.groundtruth["ncm_heldout"].items()]
    csv.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out.json"
    assert main(["rank", "--features", *paths, "--metrics", "logme,hscore", "--groundtruth", f"{csv}:linear_probe",
                 "--resamples", "5", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    noise = payload["noise"]["logme"]
    assert noise["resampling"]["n_replicates"] == 5
    entry = noise["models"]["model-1"]
    assert entry["se"] > 0 and entry["interval"][0] < entry["estimate"] < entry["interval"][1]
    assert len(entry["replicates"]) == 5
    assert payload["groundtruth_n"] == {"model-0": 200, "model-1": 200, "model-2": 200}
    tau = payload["tau_intervals"]["hscore"]
    assert tau["sources"] == ["scores", "ground truth"] and tau["low"] <= tau["tau"] <= tau["high"]
    printed = capsys.readouterr().out
    assert "±" in printed and "within noise" in printed and "[" in printed


def test_score_without_resamples_has_no_noise(npz_files, tmp_path):
    _, paths = npz_files
    out = tmp_path / "out.json"
    assert main(["score", "--features", *paths, "--metrics", "logme", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["noise"] == {}
