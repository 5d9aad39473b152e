"""One spec per dynamics kind, and the registry the engine, :func:`~transvis.dynamics.request`,
:func:`~transvis.dynamics.method_params` and the app's pages read.

A dynamics kind is one module with a ``build(contexts, *, displays, …) -> Plan`` function (see
:class:`transvis.dynamics._plan.Plan`) and one ``register(DynamicsSpec(...))`` call at its bottom::

    SPEC = register(DynamicsSpec(
        name="collapse", build=build, title="Neural collapse",
        moves="every sample towards its class mean",
        aliases=("neural_collapse", "nc"), default_metric="logme", default_projection="pca",
        ranges={"nc3_classifier": ("lda", None)}, slider="collapse t"))

The kind's parameters (names and defaults) are read from ``build``'s keyword-only signature, never
repeated; ``ranges`` only adds what the signature cannot say (intervals, choices). Arguments the engine
itself passes to ``build`` (:data:`ENGINE_ARGS`) are not parameters: ``displays`` always, and ``n_frames``,
``metric``, ``metric_params``, ``projection`` when ``build`` names them. A ``build`` without ``n_frames``
makes its own frame count (``frames_are``/``frame_count_param`` say how, for the error message).

Closed-form frame scorers (:data:`CLOSED_FORM_SCORERS`) are a capability of a *metric*, not of a kind: keyed
by the metric's registered name, each scores a group of affine frames of one model exactly as the registry
would, faster. The engine uses one when ``run(..., fast=True)``, the metric has no pool combination, and the
scorer's ``applicable(context, variant, n_frames)`` holds; ``variant`` is the caller's ``metric_params
["variant"]``, else the metric spec's ``default_variant``. :mod:`._fast_logme` registers LogME's.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

ENGINE_ARGS = frozenset({"contexts", "displays", "metric", "metric_params", "projection", "n_frames"})
PROJECTIONS = ("pca", "fisher")


@dataclass(frozen=True)
class Param:
    """One parameter of a dynamics kind: its name, default (from ``build``'s signature) and declared range
    (``(low, high)`` for numbers, a tuple of choices otherwise; None when undeclared)."""

    name: str
    default: Any
    range: tuple | None = None


@dataclass(frozen=True)
class DynamicsSpec:
    """What the engine and the pages know about one dynamics kind.

    name : the registered name (``run(name, …)``); aliases : other accepted spellings (lower case, ``_``).
    build : ``build(contexts, *, displays, …) -> Plan``; its keyword-only parameters are the kind's parameters.
    title, moves : the kind in plain words ("PED"; "class centres repelling like charges, step by step").
    default_metric, default_projection : used when ``run`` gets None ("pca" or "fisher").
    ranges : {parameter: (low, high) or choices} for parameters whose signature does not say it.
    frames_are, frame_count_param : for a ``build`` without ``n_frames``: what its frames are and the
        parameter that bounds their number ("its steps", "max_steps").
    projection_shrinkage : the parameter holding the shrinkage of the Fisher projection (None: plain LDA).
    slider : the control parameter the pages' animation slider moves through (the Plan's ``parameter``
        for the default request).
    """

    name: str
    build: Callable[..., Any]
    title: str
    moves: str
    aliases: tuple[str, ...] = ()
    default_metric: str = "logme"
    default_projection: str = "pca"
    ranges: Mapping[str, tuple] = field(default_factory=dict)
    frames_are: str | None = None
    frame_count_param: str | None = None
    projection_shrinkage: str | None = None
    slider: str = ""

    def __post_init__(self):
        if self.default_projection not in PROJECTIONS:
            raise ValueError(f"default_projection must be one of {', '.join(PROJECTIONS)}; "
                             f"got {self.default_projection!r}.")
        unknown = sorted(set(self.ranges) - set(self.param_names))
        if unknown:
            raise ValueError(f"dynamics {self.name!r} declares ranges for {unknown}, which build does not take.")
        if not self.takes_n_frames and (self.frames_are is None or self.frame_count_param is None):
            raise ValueError(f"dynamics {self.name!r}: a build without n_frames must say what its frames are "
                             "(frames_are, frame_count_param).")

    @property
    def _signature(self):
        return inspect.signature(self.build).parameters

    @property
    def param_names(self) -> tuple[str, ...]:
        """The keyword parameters ``run`` accepts for this kind (besides the common ones)."""
        return tuple(p.name for p in self._signature.values()
                     if p.kind is p.KEYWORD_ONLY and p.name not in ENGINE_ARGS)

    @property
    def params(self) -> tuple[Param, ...]:
        signature = self._signature
        return tuple(Param(name, signature[name].default, self.ranges.get(name)) for name in self.param_names)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    @property
    def takes_n_frames(self) -> bool:
        return "n_frames" in self._signature

    def engine_args(self) -> tuple[str, ...]:
        """Which of the engine's optional arguments ``build`` takes."""
        return tuple(name for name in ("n_frames", "metric", "metric_params", "projection") if name in self._signature)


_REGISTRY: dict[str, DynamicsSpec] = {}
_ALIASES: dict[str, str] = {}


def register(spec: DynamicsSpec) -> DynamicsSpec:
    """Add ``spec`` to the registry (replacing a kind of the same name, e.g. on module reload); returns it."""
    for alias in spec.aliases:
        owner = _ALIASES.get(alias)
        if (owner is not None and owner != spec.name) or (alias in _REGISTRY and alias != spec.name):
            raise ValueError(f"alias {alias!r} of dynamics {spec.name!r} is already taken by {owner or alias!r}.")
    if spec.name in _ALIASES:
        raise ValueError(f"dynamics name {spec.name!r} is already an alias of {_ALIASES[spec.name]!r}.")
    unregister(spec.name)
    _REGISTRY[spec.name] = spec
    _ALIASES.update({alias: spec.name for alias in spec.aliases})
    return spec


def unregister(name: str) -> None:
    """Remove a kind and its aliases (tests registering a toy kind clean up with this)."""
    if _REGISTRY.pop(name, None) is not None:
        for alias in [a for a, owner in _ALIASES.items() if owner == name]:
            del _ALIASES[alias]


def resolve_name(method) -> str:
    """The registered name of ``method`` (case, ``-``/space and aliases tolerated), or a clear ValueError."""
    if not isinstance(method, str):
        raise ValueError(f"method must be a string; got {type(method).__name__}.")
    key = method.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        raise ValueError(f"unknown dynamics {method!r}; choose one of {', '.join(_REGISTRY)}.")
    return key


def get_dynamics_spec(method: str) -> DynamicsSpec:
    """The spec of a registered kind (by name or alias)."""
    return _REGISTRY[resolve_name(method)]


def available_dynamics() -> tuple[str, ...]:
    """Registered kinds in registration order."""
    return tuple(_REGISTRY)


# Read-only views (for code that looked kinds up in dicts)
ALIASES = MappingProxyType(_ALIASES)


class _Derived(Mapping):
    """A live read-only ``{name: value}`` view of the registry."""

    def __init__(self, value: Callable[[DynamicsSpec], Any]):
        self._value = value

    def __getitem__(self, name):
        return self._value(_REGISTRY[name])

    def __iter__(self):
        return iter(_REGISTRY)

    def __len__(self):
        return len(_REGISTRY)

    def __repr__(self):
        return repr(dict(self))


METHODS = _Derived(lambda spec: inspect.getmodule(spec.build))
DEFAULT_METRIC = _Derived(lambda spec: spec.default_metric)
DEFAULT_PROJECTION = _Derived(lambda spec: spec.default_projection)


# -- closed-form frame scorers (a capability of a metric) --------------------------------------------------
@dataclass(frozen=True)
class ClosedFormScorer:
    """Exact scores of a group of affine frames of one model sharing a context.

    applicable(context, variant, n_frames) -> bool : whether it applies and is worth it.
    score_frames(frames, variant) -> [MetricResult or None] : one per frame (None: score through the registry).
    description : how the trajectory's ``scoring`` names it.
    """

    applicable: Callable[..., bool]
    score_frames: Callable[..., list]
    description: str


CLOSED_FORM_SCORERS: dict[str, ClosedFormScorer] = {}


def register_closed_form(metric: str, scorer: ClosedFormScorer) -> ClosedFormScorer:
    """Declare that frames scored by the registered metric ``metric`` have a closed-form scorer."""
    CLOSED_FORM_SCORERS[metric] = scorer
    return scorer
