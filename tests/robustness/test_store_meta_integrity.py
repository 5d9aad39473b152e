"""Issue 13, case 5: an edited meta.json (class names, model id) is damage, not data to trust."""

import json

import pytest

from transvis.store import CorruptEntryWarning, FeatureStore

from ._store_helpers import featureset, parts


def _edit_class_names(meta):
    meta["class_names"] = ["cat", "dog", "bird"]


def _edit_model_id(meta):
    meta["model_id"] = "timm/vit_base_patch16_224.augreg_in21k"


def _edit_model_id_everywhere(meta):  # a careful edit: the readable id and the key part agree
    meta["model_id"] = meta["parts"]["model_id"] = "timm/vit_base_patch16_224.augreg_in21k"


@pytest.mark.parametrize("edit", [_edit_class_names, _edit_model_id, _edit_model_id_everywhere],
                         ids=["class_names", "model_id", "model_id_and_key_part"])
def test_edited_sidecar_is_detected_deleted_and_recomputed(tmp_path, edit):
    store = FeatureStore(tmp_path)
    key = store.put(parts(), featureset())
    sidecar = store.root / key / "meta.json"
    meta = json.loads(sidecar.read_text())
    edit(meta)
    sidecar.write_text(json.dumps(meta, indent=1))

    with pytest.warns(CorruptEntryWarning, match="meta.json"):
        assert store.get(parts()) is None
    assert not (store.root / key).exists()
    store.put(parts(), featureset())
    assert store.get(parts()).class_names == ["a", "b", "c"]
