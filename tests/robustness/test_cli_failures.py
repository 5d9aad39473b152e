"""Issue 13, cases 3 and 4 and the CLI tracebacks: every failure is one line on stderr and a non-zero exit
status (the traceback only with --debug); same-stem feature files stay distinct rows; nothing scored (or a
class with no readable image) is an error, not exit 0."""

import errno

import numpy as np
import pytest

from transvis import cli
from transvis.cli import main
from transvis.demo import synthetic_demo
from transvis.features.featureset import FeatureSet

from ._input_helpers import bmp_bytes, image_zip, mark_encrypted, zip_bytes


@pytest.fixture()
def npz(tmp_path):
    demo = synthetic_demo(n_models=2, seed=2)
    paths = []
    for i, fs in enumerate(demo.features.values()):
        (tmp_path / f"d{i}").mkdir()
        path = tmp_path / f"d{i}" / "x.npz"
        np.savez(path, features=fs.features, labels=fs.labels)
        paths.append(str(path))
    return paths


def _one_line_error(capsys) -> str:
    text = capsys.readouterr().err
    errors = [line for line in text.splitlines() if line.startswith("transvis: error: ")]
    assert len(errors) == 1 and "Traceback" not in text and text.rstrip().endswith(errors[0]), text
    return errors[0]


def test_same_stem_feature_files_are_two_rows(npz, capsys):
    assert main(["score", "--features", *npz, "--metrics", "hscore"]) == 0
    out = capsys.readouterr().out
    assert "d0/x" in out and "d1/x" in out


def test_same_feature_file_twice_is_an_error(npz, capsys):
    assert main(["score", "--features", npz[0], npz[0], "--metrics", "hscore"]) == 2
    assert "more than once" in _one_line_error(capsys)


def test_nothing_scored_exits_non_zero(tmp_path, capsys):
    path = tmp_path / "nohead.npz"  # no source_probs: LEEP and NCE skip every model
    np.savez(path, features=np.random.default_rng(0).normal(size=(40, 4)), labels=np.repeat([0, 1], 20))
    assert main(["score", "--features", str(path), "--metrics", "leep,nce"]) == 1
    err = capsys.readouterr().err
    assert "skipped leep" in err and "no metric could score any model" in err.splitlines()[-1]


def test_a_class_without_readable_images_is_an_error(monkeypatch, capsys):
    lost = FeatureSet(features=np.ones((4, 2)), labels=np.array([0, 0, 2, 2]), class_names=["a", "b", "c"],
                      model_id="m", dataset_id="d", meta={"skipped": [4, 5], "n_total": 6})
    monkeypatch.setattr("transvis.pipeline.features_by_name", lambda *a, **k: ({"m": lost}, False))
    monkeypatch.setattr("transvis.demo.pool.demo_member", lambda m: None)
    assert main(["score", "--dataset", "digits", "--models", "m", "--metrics", "logme"]) == 2
    assert "no image of class 'b' could be read" in _one_line_error(capsys)


@pytest.mark.parametrize("where", ["dir", "missing"])
def test_json_into_a_folder_or_a_missing_folder(npz, tmp_path, where, capsys):
    target = tmp_path if where == "dir" else tmp_path / "nope" / "out.json"
    assert main(["score", "--features", npz[0], "--metrics", "hscore", "--json", str(target)]) == 2
    assert ("is a folder" if where == "dir" else "does not exist") in _one_line_error(capsys)


def test_unknown_device(capsys):
    assert main(["extract", "--dataset", "digits", "--models", "offline/mobilenetv2_tv", "--device", "banana"]) == 2
    assert "'banana' is not a device" in _one_line_error(capsys)


def test_split_of_a_single_split_builtin(capsys):
    assert main(["extract", "--dataset", "digits", "--split", "train", "--models", "offline/mobilenetv2_tv"]) == 2
    assert "single split" in _one_line_error(capsys)


@pytest.mark.parametrize("case", ["clash", "empty", "encrypted"])
def test_broken_zips(tmp_path, case, capsys, monkeypatch):
    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path / "cache"))
    data = {"clash": zip_bytes({"cat": b"x", "cat/0.bmp": bmp_bytes(0), "dog/0.bmp": bmp_bytes(1)}),
            "empty": zip_bytes({}), "encrypted": mark_encrypted(image_zip())}[case]
    path = tmp_path / f"{case}.zip"
    path.write_bytes(data)
    assert main(["extract", "--dataset", str(path), "--models", "offline/mobilenetv2_tv"]) == 2
    assert f"{case}.zip" in _one_line_error(capsys)


def test_transient_os_error_is_one_line_exit_1(npz, monkeypatch, capsys):
    def emfile(args, **kwargs):
        raise OSError(errno.EMFILE, "Too many open files", "/cache/features/abc")

    monkeypatch.setattr(cli, "cmd_rank", emfile)
    assert main(["score", "--features", npz[0]]) == 1
    line = _one_line_error(capsys)
    assert "Too many open files: /cache/features/abc" in line and "--debug" in line
    with pytest.raises(OSError):
        main(["score", "--features", npz[0], "--debug"])


def test_multiline_error_keeps_every_line():
    err = RuntimeError('Error(s) in loading state_dict for ResNet:\n\tMissing key(s) in state_dict: "fc.weight".')
    line = cli.error_line(err)
    assert "\n" not in line and 'Missing key(s) in state_dict: "fc.weight"' in line
