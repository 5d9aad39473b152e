"""Glue from images to cached features: the one function the CLI and the app call to get features.

dataset + model id  ──►  feature-store key  ──►  hit: stored FeatureSet
                                             └─►  miss: extract, store atomically, return
"""

from __future__ import annotations

from transvis.features.featureset import FeatureSet


def feature_key_parts(model_id: str, dataset, *, input_size=None, layer: str = "pre_logits",
                      weights_file=None, cache_dir=None) -> dict:
    """Store key parts (model id + weights hash + dataset id + subsample + transform + layer)."""
    from transvis.models import canonical_model_id, model_fingerprint, preprocessing_config, preprocessing_fingerprint
    from transvis.store import key_parts

    canonical = canonical_model_id(model_id)
    return key_parts(
        model_id=canonical,
        weights_hash=model_fingerprint(canonical, weights_file=weights_file, cache_dir=cache_dir),
        dataset_id=dataset.dataset_id,
        subsample=getattr(dataset, "subset_spec", None),
        transform=preprocessing_fingerprint(preprocessing_config(canonical, input_size)),
        layer=layer,
    )


def _model_and_parts(model_id: str, dataset, *, input_size, weights_file, cache_dir, load: bool):
    """``(model or None, store key parts)``. A local checkpoint is always loaded (that validates the file
    against the architecture) and named after its file (the loader's ``<arch>@<file>``), so it never shares
    entries with the hub weights; otherwise the model is loaded only when ``load``."""
    from transvis.models import load_model

    parts = feature_key_parts(model_id, dataset, input_size=input_size, weights_file=weights_file,
                              cache_dir=cache_dir)
    if weights_file is not None:
        model = load_model(model_id, weights_file=weights_file)
        parts["model_id"] = getattr(model, "transvis_model_id", None) or parts["model_id"]
        return model, parts
    return (load_model(parts["model_id"], device="cpu", cache_dir=cache_dir) if load else None), parts


def get_features(model_id: str, dataset, *, input_size=None, device="auto", batch_size: int = 64,
                 progress=None, store=None, recompute: bool = False, cache_dir=None,
                 cancel=None, weights_file=None) -> tuple[FeatureSet, bool]:
    """Pre-logits features of ``dataset`` under ``model_id``, from the store when present.

    Returns ``(feature_set, from_cache)``. A miss extracts (on ``device``; progress callback
    ``progress(done, total, images_per_s, eta_s)``) and stores the result atomically, only once complete:
    a ``cancel`` request (see :func:`~transvis.features.extract.extract_features`) or any error raised
    mid-way (also from ``progress``) leaves the store as it was.
    weights_file : a local checkpoint for ``model_id``'s architecture (as :func:`transvis.models.load_model`).
    """
    from transvis.features.extract import extract_features
    from transvis.store import FeatureStore

    store = store if store is not None else FeatureStore(cache_dir)
    model, parts = _model_and_parts(model_id, dataset, input_size=input_size, weights_file=weights_file,
                                    cache_dir=cache_dir, load=False)
    if not recompute:
        cached = store.get(parts)
        if cached is not None:
            return cached, True
    features = extract_features(parts["model_id"] if model is None else model, dataset, batch_size=batch_size,
                                device=device, input_size=input_size, progress=progress, cache_dir=cache_dir,
                                cancel=cancel)
    # Extraction records the model's own id; keep the store's view of it identical.
    features.model_id = parts["model_id"]
    store.put(parts, features, overwrite=True)
    return features, False


def parse_layers(spec: str | None):
    """A typed layer request: None or "" (pre-logits only), ``"all"``, or comma-separated tap indices."""
    if spec is None or not str(spec).strip():
        return None
    spec = str(spec).strip()
    if spec.lower() == "all":
        return "all"
    try:
        return [int(item) for item in spec.replace(" ", "").split(",") if item]
    except ValueError:
        raise ValueError(f"layers takes 'all' or comma-separated tap indices such as 0,2,-1; got {spec!r}.") from None


def features_by_name(model_id: str, dataset, *, layers=None, **options) -> tuple[dict[str, FeatureSet], bool]:
    """``({name: FeatureSet}, from_cache)``: the pre-logits features under ``model_id``, and with ``layers``
    (``"all"`` or tap indices, :func:`parse_layers`) each tap as ``<id>@tap<i>`` (:func:`named_layers`; the id is
    the loaded model's, ``<arch>@<file>`` for a local checkpoint), ready to rank. ``options`` go to :func:`get_features` / :func:`get_layer_features`. The one dispatch the CLI and
    the app share."""
    if layers is None:
        features, cached = get_features(model_id, dataset, **options)
        return {model_id: features}, cached
    per_layer, cached = get_layer_features(model_id, dataset, layers, **options)
    return named_layers(per_layer["pre_logits"].model_id or model_id, per_layer), cached


def named_layers(model_id: str, per_layer: dict[str, FeatureSet]) -> dict[str, FeatureSet]:
    """``{model_id: pre-logits, f"{model_id}@tap<i>": tap i}``, each a copy whose ``model_id`` is its name, so
    the layers rank side by side as if they were models (ground-truth rows for the model still match)."""
    import dataclasses

    return {name: dataclasses.replace(fs, model_id=name)
            for name, fs in ((model_id if layer == "pre_logits" else f"{model_id}@{layer}", fs)
                             for layer, fs in per_layer.items())}


def get_layer_features(model_id: str, dataset, layers, *, input_size=None, device="auto", batch_size: int = 64,
                       progress=None, store=None, recompute: bool = False, cache_dir=None, cancel=None,
                       weights_file=None) -> tuple[dict[str, FeatureSet], bool]:
    """Pre-logits features and intermediate taps of ``dataset`` under ``model_id``, so layers can be ranked.

    layers : ``"all"`` or tap indices of ``model.forward_intermediates`` (negative from the end).
    weights_file : a local checkpoint for ``model_id``'s architecture (as :func:`transvis.models.load_model`).
    Returns ``({"pre_logits": FeatureSet, "tap<i>": FeatureSet, ...}, from_cache)``. Each layer is its own
    store entry (the key's ``layer`` part); when any is missing, one pass extracts every requested layer and
    stores each atomically. The model is loaded once to name its taps (and reused for a pass).
    """
    from transvis.features.extract import PRE_LOGITS, extract_features, resolve_taps
    from transvis.models import preprocessing_config
    from transvis.store import FeatureStore

    store = store if store is not None else FeatureStore(cache_dir)
    model, base = _model_and_parts(model_id, dataset, input_size=input_size, weights_file=weights_file,
                                   cache_dir=cache_dir, load=True)
    config = preprocessing_config(model, input_size)
    taps = resolve_taps(model, layers, tuple(config["input_size"]))
    names = [PRE_LOGITS] + [f"tap{index}" for index in taps]
    parts = {name: {**base, "layer": name} for name in names}
    if not recompute:
        cached = {name: store.get(parts[name]) for name in names}
        if all(value is not None for value in cached.values()):
            return cached, True
    extracted = extract_features(model, dataset, batch_size=batch_size, device=device, input_size=input_size,
                                 layers=taps, progress=progress, cache_dir=cache_dir, cancel=cancel)
    for name in names:
        extracted[name].model_id = base["model_id"]
        store.put(parts[name], extracted[name], overwrite=True)
    return {name: extracted[name] for name in names}, False


def skipped_note(features: FeatureSet, shown: int = 3, dataset=None) -> str | None:
    """A sentence naming the images extraction had to leave out (unreadable files), or None when none was.

    With the ``dataset`` they were extracted from (an ``ImageDataset``), each is named by its file relative
    to the dataset's folder with why it is unusable, in plain words (``dogs/2.png (not an image)``: no
    internal path, no code); without, by its index and the extraction's error."""
    skipped = list(features.meta.get("skipped") or [])
    if not skipped:
        return None
    total = features.meta.get("n_total", features.n_samples + len(skipped))
    more = f" and {len(skipped) - shown} more" if len(skipped) > shown else ""
    if dataset is not None and hasattr(dataset, "image_problem"):
        from transvis.data import BadImage
        from transvis.data.base import bad_image_list

        bad = [BadImage(int(i), dataset.describe(int(i)), dataset.image_problem(int(i)) or "could not be decoded")
               for i in skipped]
        return (f"{len(skipped)} of {total:,} images could not be read and were left out: "
                f"{bad_image_list(bad, dataset.source_root, shown)}.")
    errors = features.meta.get("skipped_errors") or {}
    examples = ", ".join(f"#{i}" + (f" ({errors[str(i)]})" if str(i) in errors else "") for i in skipped[:shown])
    return f"{len(skipped)} of {total:,} images could not be read and were left out: {examples}{more}."
