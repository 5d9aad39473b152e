"""load_feature_npz's label and source-probability branches (the basic cases are in test_data.py)."""

import numpy as np
import pytest

from transvis.data import load_feature_npz


def _npz(tmp_path, **arrays):
    path = tmp_path / "features.npz"
    np.savez(path, **arrays)
    return path


def test_string_labels_with_class_names_index_into_them(tmp_path):
    path = _npz(tmp_path, features=np.ones((4, 2)), labels=np.array(["z", "x", "z", "x"]),
                class_names=np.array(["x", "y", "z"]))
    fs = load_feature_npz(path)
    assert fs.class_names == ["x", "z"] and fs.labels.tolist() == [1, 0, 1, 0]


def test_whole_float_labels_are_integers_and_fractional_ones_are_refused(tmp_path):
    fs = load_feature_npz(_npz(tmp_path, features=np.ones((4, 2)), labels=np.array([3.0, 1.0, 3.0, 1.0])))
    assert fs.labels.tolist() == [1, 0, 1, 0] and fs.class_names == ["1", "3"]
    with pytest.raises(ValueError, match="integers or strings"):
        load_feature_npz(_npz(tmp_path, features=np.ones((2, 2)), labels=np.array([0.5, 1.0])))


@pytest.mark.parametrize("arrays, message", [
    (dict(labels=np.array(["a", "q"]), class_names=np.array(["a", "b"])), r"\['q'\] are not among 'class_names'"),
    (dict(labels=np.array([4, 4])), "fewer than two classes"),
    (dict(labels=np.array(["a", "a"])), "fewer than two classes"),
    (dict(labels=np.array([0, 1]), source_probs=np.full((2, 2), 0.5), source_logits=np.zeros((2, 2))),
     "either 'source_probs' or 'source_logits'"),
    (dict(labels=np.array([0, 1]), source_logits=np.zeros((3, 2))), r"'source_logits' must be \[N, Cs\]"),
    (dict(labels=np.array([0, 1]), source_probs=np.array([[np.inf, 0.0], [0.5, 0.5]])), "NaN or infinite"),
])
def test_bad_labels_and_source_probabilities_name_the_fix(tmp_path, arrays, message):
    with pytest.raises(ValueError, match=message):
        load_feature_npz(_npz(tmp_path, features=np.ones((2, 2)), **arrays))


def test_valid_source_probs_are_kept_and_unknown_keys_recorded(tmp_path):
    probs = np.array([[0.25, 0.75], [1.0, 0.0]])
    fs = load_feature_npz(_npz(tmp_path, features=np.ones((2, 2)), labels=np.array([0, 1]), source_probs=probs,
                               extra=np.zeros(1)))
    np.testing.assert_array_equal(fs.source_probs, probs)
    assert fs.meta["ignored_keys"] == ["extra"] and fs.dataset_id.startswith("npz:features:")
