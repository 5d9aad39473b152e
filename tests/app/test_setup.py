"""Setup page: dataset and model choice, extraction through the feature store, and readable errors."""

import zipfile

import numpy as np
from PIL import Image

from tests.app.conftest import errors

SETUP = "pages/setup.py"


def _use_path(at, path):
    at.radio(key="w:setup_source").set_value("Path on this machine").run()
    at.text_input(key="w:setup_path").input(str(path)).run()
    assert not at.exception, at.exception
    return at


def _still_works(at):
    """After an error the app keeps working: the leaderboard renders."""
    at.switch_page("pages/leaderboard.py").run()
    assert not at.exception
    assert "Leaderboard" in at.title[0].value


def test_setup_renders_with_its_controls(app):
    at = app(SETUP)
    assert "Setup" in at.title[0].value
    assert at.radio(key="w:setup_source").value == "Built-in"
    assert at.selectbox(key="w:setup_builtin").value == "fashion-mnist"
    assert at.number_input(key="w:setup_max_per_class").value == 300
    assert at.selectbox(key="w:setup_device").value == "auto"
    assert at.button(key="setup_extract").disabled  # no model chosen yet
    assert any("3,000 images, 10 classes" in s.value for s in at.success)


def test_subsample_control_changes_the_dataset(app):
    at = app(SETUP)
    at.selectbox(key="w:setup_builtin").set_value("digits").run()
    at.number_input(key="w:setup_max_per_class").set_value(5).run()
    assert any("50 images, 10 classes" in s.value for s in at.success)


def test_unknown_model_name_is_a_readable_error(app):
    at = app(SETUP)
    at.text_input(key="setup_typed_model").input("resnet_that_does_not_exist").run()
    at.button(key="setup_add_model").click().run()
    assert not at.exception
    assert any("is not a timm model" in e for e in errors(at))
    _still_works(at)


def test_missing_path_is_a_readable_error(app, tmp_path):
    at = _use_path(app(SETUP), tmp_path / "nowhere")
    assert any("no dataset" in e for e in errors(at))
    _still_works(at)


def test_zip_without_images_is_a_readable_error(app, tmp_path):
    archive = tmp_path / "notes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme/notes.txt", "no images here")
    at = _use_path(app(SETUP), archive)
    assert errors(at) and "Loading the dataset failed" in errors(at)[0]
    _still_works(at)


def test_single_class_folder_is_a_readable_error(app, tmp_path):
    folder = tmp_path / "one_class" / "cats"
    folder.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((8, 8, 3), 40 * i, dtype=np.uint8)).save(folder / f"{i}.png")
    at = _use_path(app(SETUP), tmp_path / "one_class")
    assert any("class" in e.lower() for e in errors(at))
    _still_works(at)


def test_wrong_format_feature_file_is_a_readable_error(app, tmp_path):
    bad = tmp_path / "features.npz"
    bad.write_bytes(b"this is not a numpy archive")
    at = _use_path(app(SETUP), bad)
    assert any(".npz" in e for e in errors(at))
    _still_works(at)


def test_feature_file_path_offers_a_pool(app, tmp_path):
    rng = np.random.default_rng(0)
    good = tmp_path / "my_model.npz"
    np.savez(good, features=rng.normal(size=(30, 4)), labels=np.repeat([0, 1, 2], 10))
    at = _use_path(app(SETUP), good)
    assert not errors(at)
    at.button(key="setup_npz_path_use").click().run()
    assert any(" ready: " in s.value for s in at.success)
    assert at.session_state["pools"][at.session_state["active_pool"]].models == ["my_model"]


def test_offline_model_without_weights_is_a_readable_error(app):
    at = app(SETUP)
    at.selectbox(key="w:setup_builtin").set_value("digits").run()
    at.number_input(key="w:setup_max_per_class").set_value(2).run()
    at.text_input(key="setup_typed_model").input("resnet18.a1_in1k").run()
    at.button(key="setup_add_model").click().run()
    assert not errors(at)
    at.button(key="setup_extract").click().run()
    assert not at.exception
    messages = errors(at)
    assert messages and "resnet18" in messages[0] and "not cached" in messages[0]
    _still_works(at)


def test_extraction_with_a_local_checkpoint_builds_a_pool_and_reuses_the_cache(app, tmp_path, monkeypatch):
    import timm
    from safetensors.torch import save_file

    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path / "cache"))
    weights = tmp_path / "tiny.safetensors"
    save_file(timm.create_model("test_efficientnet", pretrained=False).state_dict(), str(weights))

    at = app(SETUP)
    at.selectbox(key="w:setup_builtin").set_value("digits").run()
    at.number_input(key="w:setup_max_per_class").set_value(2).run()
    at.number_input(key="w:setup_input_size").set_value(64).run()
    at.text_input(key="setup_typed_model").input("test_efficientnet").run()
    at.text_input(key="setup_checkpoint").input(str(weights)).run()
    at.button(key="setup_add_model").click().run()
    at.button(key="setup_extract").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert any(" ready: " in s.value for s in at.success)
    pool = at.session_state["pools"][at.session_state["active_pool"]]
    assert pool.models == ["test_efficientnet@tiny.safetensors"]
    assert pool.n_samples == 20 and pool.first.n_dims > 0
    assert pool.image_fn(3).size[0] > 0  # thumbnails of the extracted images
    # the entry is listed in the cache table, and a second run reuses it
    assert any("test_efficientnet@tiny.safetensors" in df.value.to_string() for df in at.dataframe)
    at.button(key="setup_extract").click().run()
    assert any(": reused from the cache" in s.value for s in at.success), [s.value for s in at.success]
    # a one-model pool still renders on the leaderboard (correlations need three models: said, not crashed)
    _still_works(at)


def test_layers_of_a_checkpoint_become_a_pool_ranked_layer_by_layer(app, tmp_path, monkeypatch):
    """"Also rank layers" extracts the taps in the same pass; each tap joins the pool as <model>@tap<i> and
    the Leaderboard ranks them beside the final features. A malformed request says how to write it."""
    import timm
    from safetensors.torch import save_file

    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path / "cache"))
    weights = tmp_path / "tiny.safetensors"
    save_file(timm.create_model("test_resnet", pretrained=False).state_dict(), str(weights))

    at = app(SETUP)
    at.text_input(key="w:setup_layers").input("last").run()
    assert any("layers takes 'all' or comma-separated tap indices" in e.value for e in at.error)
    at.selectbox(key="w:setup_builtin").set_value("digits").run()
    at.number_input(key="w:setup_max_per_class").set_value(4).run()
    at.number_input(key="w:setup_input_size").set_value(32).run()
    at.text_input(key="w:setup_layers").input("0,-1").run()
    at.text_input(key="setup_typed_model").input("test_resnet").run()
    at.text_input(key="setup_checkpoint").input(str(weights)).run()
    at.button(key="setup_add_model").click().run()
    at.button(key="setup_extract").click().run()
    assert not at.exception and not errors(at), errors(at)
    pool = at.session_state["pools"][at.session_state["active_pool"]]
    name = "test_resnet@tiny.safetensors"
    assert pool.models == [name, f"{name}@tap0", f"{name}@tap4"]
    assert [pool.features[m].n_dims for m in pool.models] == [96, 32, 96]
    assert pool.features[f"{name}@tap0"].layer == "tap0" and pool.n_samples == 40
    at.switch_page("pages/leaderboard.py").run()
    assert not at.exception and not errors(at), errors(at)
    table = next(f.value for f in at.dataframe if len(f.value.columns) and "logme" in f.value.columns)
    from transvis.viz import short_model_name

    assert sorted(table.index) == sorted(short_model_name(m) for m in pool.models)  # the table's labels


def test_unreadable_images_are_named_when_inspected_and_skipped_if_they_break_later(app, tmp_path, monkeypatch):
    """A file named like an image that is none is named when the dataset is inspected and left out; one that
    breaks after the inspection is left out of the features, and the page says which one and why (after the
    rerun that shows the new pool). The pool is built from the readable images."""
    from PIL import Image

    monkeypatch.setenv("TRANSVIS_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "photos"
    for name, value in (("cats", 30), ("dogs", 200)):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (20, 20), (value, 40 * i, 0)).save(root / name / f"{i}.png")
    (root / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 3)
    at = _use_path(app(SETUP), root)
    [named] = [w.value for w in at.warning if "not usable images" in w.value]
    assert named.startswith("1 of 7 files are not usable images: dogs/broken.jpg (a damaged image")
    assert any("6 images (1 file(s) left out), 2 classes" in s.value for s in at.success)
    (root / "dogs" / "2.png").write_bytes(b"overwritten after the inspection")
    at.number_input(key="w:setup_input_size").set_value(32).run()
    at.text_input(key="setup_typed_model").input("test_resnet.random_init").run()
    at.button(key="setup_add_model").click().run()
    at.button(key="setup_extract").click().run()
    assert not at.exception and not errors(at), errors(at)
    [warning] = [w.value for w in at.warning if "could not be read" in w.value]
    assert "1 of 6 images could not be read and were left out: dogs/2.png (not an image)." in warning
    assert str(root) not in warning and "`" not in warning  # no path of this machine, no code
    pool = at.session_state["pools"][at.session_state["active_pool"]]
    assert pool.n_samples == 5 and pool.labels.tolist() == [0, 0, 0, 1, 1]


def test_timm_catalogue_search_lists_pretrained_tags(app):
    at = app(SETUP)
    at.text_input(key="w:setup_timm_query").input("resnet18").run()
    assert not at.exception
    options = at.multiselect(key="w:setup_timm_pick").options
    assert "resnet18.a1_in1k" in options and all("resnet18" in o for o in options)
    at.multiselect(key="w:setup_timm_pick").set_value(["resnet18.a1_in1k"]).run()
    assert not at.button(key="setup_extract").disabled  # a dataset and a model: ready to extract


def test_timm_picks_survive_a_new_search(app):
    at = app(SETUP)
    at.text_input(key="w:setup_timm_query").input("resnet18").run()
    at.multiselect(key="w:setup_timm_pick").set_value(["resnet18.a1_in1k"]).run()
    at.text_input(key="w:setup_timm_query").input("convnext_atto").run()
    assert not at.exception
    assert at.multiselect(key="w:setup_timm_pick").value == ["resnet18.a1_in1k"]
    assert any(o.startswith("convnext_atto") for o in at.multiselect(key="w:setup_timm_pick").options)
