"""Issue 13, case 6: a checkpoint with NaN weights is refused at extraction with a clear error, and nothing
non-finite reaches the feature store."""

import numpy as np
import pytest
import torch
from PIL import Image

from transvis.models import load_model
from transvis.pipeline import get_features
from transvis.store import FeatureStore


class TinyImages:
    """12 random 32-px RGB images in 3 classes (the dataset protocol of transvis.features.extract)."""

    def __init__(self, n=12):
        rng = np.random.default_rng(0)
        self.arrays = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(n)]
        self.labels = (np.arange(n) % 3).astype(np.int64)
        self.class_names, self.dataset_id = ["a", "b", "c"], f"tiny-nan-{n}"

    def __len__(self):
        return len(self.arrays)

    def __getitem__(self, index):
        return Image.fromarray(self.arrays[index]), int(self.labels[index])


def test_checkpoint_with_nan_weights_is_refused_and_nothing_is_stored(tmp_path):
    from safetensors.torch import save_file

    state = load_model("test_resnet", pretrained=False).state_dict()
    name = next(k for k, v in state.items() if v.is_floating_point() and v.ndim == 4)
    state[name] = state[name].clone()
    state[name].view(-1)[:5] = float("nan")
    checkpoint = tmp_path / "nan_weights.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(checkpoint))
    store = FeatureStore(tmp_path / "cache")

    with pytest.raises(ValueError, match=rf"not finite: parameter '{name}' holds 5 NaN"):
        get_features("test_resnet", TinyImages(), weights_file=checkpoint, store=store, device="cpu",
                     input_size=32, batch_size=4, progress=False)
    assert store.list() == [] and not list((tmp_path / "cache").rglob("*.npy"))


def test_non_finite_outputs_of_finite_weights_are_refused(tmp_path):
    from transvis.features.extract import extract_features

    model = load_model("test_resnet", pretrained=False)
    head, calls = model.forward_head, []

    def overflowing_head(x, pre_logits=False):  # as a float16 overflow would: in the 2nd batch, row 1 is inf
        out = head(x, pre_logits=pre_logits).clone()
        calls.append(pre_logits)
        if calls.count(True) == 2 and pre_logits:
            out[1] = torch.inf
        return out

    model.forward_head = overflowing_head
    with pytest.raises(ValueError, match=r"pre_logits features of .* hold NaN or infinite values \(first at "
                                         r"dataset item 5\)"):
        extract_features(model, TinyImages(), batch_size=4, device="cpu", input_size=32, num_workers=0,
                         progress=False)
