"""Display names of model ids: what each member of a pool is, in words, from its id alone.

One model id everywhere (``offline/<name>``, ``<timm name>.<tag>``); the app shows short names that still say
what a member is when the pool mixes pretrained models, their random-init twins and intermediate layers::

    offline/mobilenetv2_tv                    -> "mobilenetv2_tv"
    offline/mobilenetv2_tv.random_init        -> "mobilenetv2_tv · random init"
    offline/efficientnet_lite0@tap2           -> "efficientnet_lite0 · tap 2"
    resnet18.a1_in1k                          -> "resnet18.a1_in1k"   (other weight tags are kept)
"""

from __future__ import annotations

import re

RANDOM_INIT_SUFFIX = ".random_init"  # transvis.models.loading.RANDOM_INIT_TAG as an id suffix
_TAP = re.compile(r"@tap(\d+)$")


def display_model_name(model_id: str) -> str:
    """The app's short name of ``model_id``: no ``offline/``/``synthetic/`` source prefix, a random-init twin
    named "<arch> · random init", an intermediate tap ``<id>@tap<i>`` named "<name> · tap <i>" (taps are
    ``forward_intermediates`` indices, shallow to deep). Other weight tags and ``@<file>`` suffixes are kept."""
    name = model_id.split("/", 1)[1] if "/" in model_id else model_id
    tap = _TAP.search(name)
    suffix = ""
    if tap:
        name, suffix = name[:tap.start()], f" · tap {int(tap.group(1))}"
    if name.endswith(RANDOM_INIT_SUFFIX):
        name, suffix = name[:-len(RANDOM_INIT_SUFFIX)], " · random init" + suffix
    return name + suffix
