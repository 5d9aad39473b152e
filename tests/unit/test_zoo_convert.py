"""Weight-layout converters on synthetic sources (fast; the real wheels are checked in test_zoo.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from transvis.models import convert
from transvis.models.zoo import DEMO_ZOO, build_zoo_skeleton, zoo_entry


def test_torchvision_mobilenetv2_maps_onto_timm_with_identical_logits():
    import timm
    import torchvision

    torch.manual_seed(0)
    source = torchvision.models.mobilenet_v2(weights=None).eval()
    with torch.no_grad():  # non-trivial BN statistics, so a swapped BN would show
        for module in source.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    target = timm.create_model("mobilenetv2_100", pretrained=False).eval()
    state_dict = convert.torchvision_mobilenetv2_to_timm(source.state_dict(), target)
    convert.check_against(state_dict, target)
    target.load_state_dict(state_dict, strict=True)
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        torch.testing.assert_close(target(x), source(x), rtol=1e-4, atol=1e-5)


def test_check_against_names_missing_and_misshapen_tensors():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    good = {k: v.clone() for k, v in model.state_dict().items()}
    convert.check_against(good, model)
    with pytest.raises(ValueError, match=r"missing \['0.bias'\]"):
        convert.check_against({"0.weight": good["0.weight"]}, model)
    with pytest.raises(ValueError, match="wrong shapes"):
        convert.check_against({"0.weight": torch.zeros(3, 3), "0.bias": good["0.bias"]}, model)


def test_keras_batchnorm_epsilon_is_folded_into_the_variance():
    rng = np.random.default_rng(0)
    gamma, beta, mean = (rng.normal(size=4).astype(np.float32) for _ in range(3))
    var = rng.uniform(1e-4, 1e-2, size=4).astype(np.float32)  # small variances make eps matter
    out = {}
    convert._keras_bn(out, "bn", [gamma, beta, mean, var], eps=1e-3)
    bn = torch.nn.BatchNorm2d(4).eval()
    bn.load_state_dict({k[3:]: v for k, v in out.items()})
    x = rng.normal(size=(2, 4, 3, 3)).astype(np.float32)
    keras = gamma[None, :, None, None] * (x - mean[None, :, None, None]) / np.sqrt(
        var[None, :, None, None] + 1e-3
    ) + beta[None, :, None, None]
    with torch.inference_mode():
        np.testing.assert_allclose(bn(torch.from_numpy(x)).numpy(), keras, rtol=1e-5, atol=1e-5)


def test_keras_kernel_layouts():
    kernel = np.arange(3 * 3 * 2 * 5, dtype=np.float32).reshape(3, 3, 2, 5)  # (H, W, in, out)
    torch_kernel = convert._keras_conv(kernel)
    assert torch_kernel.shape == (5, 2, 3, 3)
    assert torch_kernel[4, 1, 0, 2] == kernel[0, 2, 1, 4]
    depthwise = np.arange(3 * 3 * 7, dtype=np.float32).reshape(3, 3, 7, 1)  # (H, W, in, 1)
    torch_dw = convert._keras_depthwise(depthwise)
    assert torch_dw.shape == (7, 1, 3, 3)
    assert torch_dw[6, 0, 2, 1] == depthwise[2, 1, 6, 0]


@pytest.mark.parametrize(
    "class_name,expected",
    [("Conv2D", "conv2d"), ("SeparableConv2D", "separable_conv2d"), ("BatchNormalization", "batch_normalization"),
     ("GlobalAveragePooling2D", "global_average_pooling2d"), ("InputLayer", "input_layer")],
)
def test_keras_automatic_layer_names(class_name, expected):
    assert convert._keras_snake_case(class_name) == expected


def test_keras_auto_names_count_per_class_in_config_order():
    layers = [{"class_name": c, "config": {"name": n}} for c, n in
              [("Conv2D", "a"), ("BatchNormalization", "b"), ("Conv2D", "c"), ("Conv2D", "d")]]
    assert convert._auto_names(layers) == ["conv2d", "batch_normalization", "conv2d_1", "conv2d_2"]


def test_every_zoo_entry_has_a_converter_and_a_pinned_wheel():
    names = [entry.name for entry in DEMO_ZOO]
    assert len(names) == len(set(names)) == 7
    for entry in DEMO_ZOO:
        assert entry.converter in convert.CONVERTERS
        assert len(entry.wheel_sha256) == 64 and entry.version.count(".") >= 1
        assert entry.name.startswith("offline/")
    assert zoo_entry("vgg16_hed") is zoo_entry("offline/vgg16_hed")


def test_trunk_only_vgg_pools_the_conv_trunk():
    model = build_zoo_skeleton(zoo_entry("offline/vgg16_hed")).eval()
    assert model.num_features == 512 and model.num_classes == 0
    assert not any(name.startswith("pre_logits.") for name in model.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        features = model.forward_features(x)
        pooled = model.forward_head(features, pre_logits=True)
    torch.testing.assert_close(pooled, features.mean(dim=(2, 3)))
    model.reset_classifier(5)
    assert model(x).shape == (2, 5)
