"""Model loading: timm names and tags, local checkpoints, offline errors, ids, fingerprints, preprocessing.

Uses timm's tiny ``test_*`` architectures with random weights; nothing touches the network.
"""

from __future__ import annotations

import os

import pytest
import torch

from transvis.models import (
    ModelLoadError,
    UnknownModelError,
    WeightsUnavailableError,
    canonical_model_id,
    load_model,
    model_fingerprint,
    preprocessing_config,
    preprocessing_fingerprint,
)
from transvis.models import loading

ARCHS = ["test_resnet", "test_efficientnet", "test_vit"]


class NotWeights:
    """An arbitrary class: unpickling it would run code, which ``weights_only=True`` refuses."""


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No hub, and an empty Hugging Face / torch-hub cache."""
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch_hub"))
    return tmp_path


def _images(n=2, size=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=generator)


@pytest.mark.parametrize("arch", ARCHS)
def test_local_safetensors_checkpoint_round_trips_exactly(arch, tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(1)
    source = load_model(arch, pretrained=False)
    for p in source.parameters():  # make sure we do not compare two default inits
        p.data.add_(torch.randn_like(p) * 0.01)
    path = tmp_path / f"{arch}.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))

    loaded = load_model(arch, weights_file=path)
    assert not loaded.training
    x = _images()
    with torch.inference_mode():
        assert torch.equal(loaded(x), source(x))
    assert loaded.transvis_model_id == f"{arch}@{arch}.safetensors"


def test_local_pth_checkpoint_is_read_with_weights_only(tmp_path):
    source = load_model("test_resnet", pretrained=False)
    with torch.no_grad():
        source.fc.bias.fill_(0.25)
    path = tmp_path / "resnet.pth"
    torch.save({"state_dict": source.state_dict()}, path)  # the common training-script wrapper
    loaded = load_model("test_resnet.r160_in1k", weights_file=path)
    assert torch.equal(loaded.fc.bias, torch.full((1000,), 0.25))
    x = _images()
    with torch.inference_mode():
        assert torch.equal(loaded(x), source(x))

    # A pickle that needs code execution is refused (weights_only=True), with a message naming the file.
    evil = tmp_path / "evil.pth"
    torch.save({"model": NotWeights()}, evil)
    with pytest.raises(ModelLoadError, match="evil.pth"):
        load_model("test_resnet", weights_file=evil)


def test_checkpoint_from_another_architecture_is_a_clear_error(tmp_path):
    from safetensors.torch import save_file

    other = load_model("test_efficientnet", pretrained=False)
    path = tmp_path / "other.safetensors"
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(path))
    with pytest.raises(ModelLoadError, match="exact architecture"):
        load_model("test_resnet", weights_file=path)


def test_weights_file_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model("test_resnet", weights_file=tmp_path / "missing.safetensors")
    odd = tmp_path / "weights.txt"
    odd.write_text("x")
    with pytest.raises(ModelLoadError, match="unknown type"):
        load_model("test_resnet", weights_file=odd)


def test_num_classes_replaces_the_head():
    model = load_model("test_resnet", pretrained=False, num_classes=7)
    assert model(_images(1)).shape == (1, 7)
    headless = load_model("test_resnet", pretrained=False, num_classes=0)
    assert headless(_images(1)).shape == (1, headless.num_features)


def test_unknown_model_names_suggest_close_matches():
    with pytest.raises(UnknownModelError, match="resnet18") as info:
        load_model("resnet_18", pretrained=False)
    assert isinstance(info.value, ValueError)
    with pytest.raises(UnknownModelError, match=r"a1_in1k.*tv_in1k|tv_in1k.*a1_in1k"):
        load_model("resnet18.no_such_tag")


def test_missing_pretrained_weights_offline_fail_fast_with_instructions(offline):
    with pytest.raises(WeightsUnavailableError) as info:
        load_model("test_resnet.r160_in1k")
    message = str(info.value)
    assert "huggingface-cli download timm/test_resnet.r160_in1k" in message
    assert "HF_HUB_OFFLINE" in message
    assert "weights_file" in message
    assert isinstance(info.value, ValueError)


def test_weights_in_the_hf_cache_load_without_network(offline):
    """A snapshot laid out like huggingface_hub's cache is found and loaded through the local-file path."""
    from safetensors.torch import save_file

    source = load_model("test_resnet", pretrained=False)
    with torch.no_grad():
        source.fc.bias.fill_(-1.5)
    repo = offline / "hf" / "models--timm--test_resnet.r160_in1k"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(snapshot / "model.safetensors"))

    loaded = load_model("test_resnet")  # default tag r160_in1k
    assert loaded.transvis_model_id == "test_resnet.r160_in1k"
    assert torch.equal(loaded.fc.bias, torch.full((1000,), -1.5))


def test_hub_reachable_respects_hf_hub_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert loading.hub_reachable() is False


def test_random_init_twin_is_seeded_and_named():
    a = load_model("test_resnet", pretrained=False)
    b = load_model("test_resnet.random_init")
    assert a.transvis_model_id == b.transvis_model_id == "test_resnet.random_init"
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(pa, pb), name
    assert canonical_model_id("test_resnet.random_init") == "test_resnet.random_init"
    assert model_fingerprint("test_resnet.random_init") == "seed:0"


def test_zoo_random_init_twin_needs_no_preparation(tmp_path):
    twin = load_model("offline/mobilenetv2_deepsort.random_init", cache_dir=tmp_path)
    assert twin.transvis_model_id == "offline/mobilenetv2_deepsort.random_init"
    assert twin.num_classes == 0 and twin.pretrained_cfg["interpolation"] == "bilinear"
    assert canonical_model_id("offline/vgg16_hed.random_init") == "offline/vgg16_hed.random_init"
    with pytest.raises(ModelLoadError, match="contradict"):
        load_model("test_resnet", pretrained=False, weights_file=tmp_path / "x.safetensors")


def test_canonical_ids_and_fingerprints(tmp_path):
    from safetensors.torch import save_file

    assert canonical_model_id("test_resnet") == "test_resnet.r160_in1k"
    assert canonical_model_id("offline/vgg16_hed") == "offline/vgg16_hed"
    assert model_fingerprint("test_resnet") == "hf:timm/test_resnet.r160_in1k"

    model = load_model("test_resnet", pretrained=False)
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    first = model_fingerprint("test_resnet", weights_file=path)
    assert first.startswith("sha256:") and len(first) == 7 + 64
    with torch.no_grad():
        model.fc.bias.add_(1)
    os.utime(path, ns=(1, 1))  # a rewrite with another mtime must not hit the in-process hash cache
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    assert model_fingerprint("test_resnet", weights_file=path) != first


def test_zoo_model_not_prepared_says_how_to_prepare(tmp_path):
    with pytest.raises(WeightsUnavailableError, match="transvis zoo prepare"):
        load_model("offline/mobilenetv2_tv", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="demo zoo has"):
        load_model("offline/no_such_model", cache_dir=tmp_path)


@pytest.mark.parametrize(
    "model_id", ["test_vit", "test_resnet.r160_in1k", "offline/vgg16_hed", "offline/xception_kitchenware"]
)
def test_preprocessing_config_from_id_matches_the_loaded_model(model_id, tmp_path):
    model = load_model(model_id, pretrained=False, cache_dir=tmp_path)  # random twin: same config, no weights
    for size in (None, 96):
        assert preprocessing_config(model_id, size) == preprocessing_config(model, size)
    override = preprocessing_config(model_id, (80, 96))
    assert override["input_size"] == [3, 80, 96]
    assert preprocessing_fingerprint(override) != preprocessing_fingerprint(preprocessing_config(model_id))


def test_zoo_preprocessing_overrides_reach_the_timm_config():
    hed = preprocessing_config("offline/vgg16_hed")
    # Caffe: 0-255 pixels minus the BGR mean, written in RGB order (R 122.68, G 116.67, B 104.01).
    assert hed["std"] == pytest.approx([1 / 255] * 3)
    assert [m * 255 for m in hed["mean"]] == pytest.approx([122.67892, 116.66877, 104.00699])
    xception = preprocessing_config("offline/xception_kitchenware")
    assert xception["mean"] == [0.5, 0.5, 0.5] and xception["input_size"] == [3, 299, 299]
    assert preprocessing_config("offline/mobilenetv2_tv")["interpolation"] == "bilinear"
