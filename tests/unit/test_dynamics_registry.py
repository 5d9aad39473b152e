"""The dynamics registry: one spec per kind, read by run/request/method_params; a new kind is one module."""

import inspect

import numpy as np
import pytest

import transvis.dynamics as dynamics
from transvis.demo import synthetic_demo
from transvis.dynamics import (
    CLOSED_FORM_SCORERS,
    DynamicsSpec,
    available_dynamics,
    get_dynamics_spec,
    method_params,
    register,
    request,
    run,
)
from transvis.dynamics import _engine, _fast_logme
from transvis.dynamics._context import AffineFrame
from transvis.dynamics._plan import Plan, check_n_frames, fractions
from transvis.dynamics._spec import ENGINE_ARGS, unregister
from transvis.metrics import compute, get_spec


@pytest.fixture(scope="module")
def pool():
    demo = synthetic_demo(n_models=3, n_classes=4, n_per_class=30, n_dims=12)
    return {m: fs.features.astype(np.float64) for m, fs in demo.features.items()}, demo.labels


def test_the_four_kinds_are_registered_in_the_pages_order():
    assert available_dynamics()[:4] == ("spread_attract", "fisher", "ped", "collapse")


@pytest.mark.parametrize("kind", available_dynamics())  # every registered kind, new ones included
def test_every_kind_has_a_spec_whose_parameters_match_its_build(kind):
    spec = get_dynamics_spec(kind)
    assert isinstance(spec, DynamicsSpec) and spec.name == kind
    signature = inspect.signature(spec.build).parameters
    own = [p for p in signature.values() if p.kind is p.KEYWORD_ONLY and p.name not in ENGINE_ARGS]
    assert [p.name for p in spec.params] == [p.name for p in own] == list(method_params(kind))
    assert spec.defaults() == {p.name: p.default for p in own}
    assert set(spec.ranges) <= set(spec.param_names)
    assert spec.title and spec.moves and spec.slider
    assert spec.default_projection in ("pca", "fisher")
    get_spec(spec.default_metric)  # a registered metric
    assert spec.takes_n_frames or (spec.frames_are and spec.frame_count_param in spec.param_names)
    for alias in spec.aliases:
        assert get_dynamics_spec(alias) is spec
    # the dict-style names are views of the registry
    assert _engine.METHODS[kind].build is spec.build
    assert _engine.DEFAULT_METRIC[kind] == spec.default_metric
    assert _engine.DEFAULT_PROJECTION[kind] == spec.default_projection
    assert all(_engine.ALIASES[a] == kind for a in spec.aliases)
    assert request(kind)["params"] == spec.defaults()


def test_request_validates_as_run_does():
    with pytest.raises(ValueError, match="max_steps"):
        request("ped", n_frames=3)
    with pytest.raises(ValueError, match="UMAP"):
        request("collapse", projection="umap")
    with pytest.raises(ValueError, match="unknown dynamics"):
        request("nope")
    assert request("Neural-Collapse") == request("collapse")


def test_the_closed_form_scorer_is_a_capability_of_the_metric():
    assert "logme" in CLOSED_FORM_SCORERS
    assert get_spec("logme").default_variant in _fast_logme.VARIANTS


# -- a new kind is one module: a toy kind defined and registered here ----------------------------------------
def toy_build(contexts, *, displays, n_frames=None, pull: float = 0.5) -> Plan:
    """Every class centre slides a fraction ``pull`` of the way to the unweighted mean of the centres."""
    if not 0.0 <= pull <= 1.0:
        raise ValueError(f"pull must be in [0, 1]; got {pull!r}.")
    ts = fractions(check_n_frames(5 if n_frames is None else n_frames))
    frames = {}
    for model, context in contexts.items():
        means = context.stats.class_means
        towards = means.mean(axis=0) - means
        frames[model] = [AffineFrame(context, 0.0, towards, float(pull * t)) for t in ts]
    return Plan(parameter="pull", values=[float(t) for t in ts], labels=[f"pull {pull * t:.2f}" for t in ts],
                frames=frames, params={"pull": float(pull)})


@pytest.fixture
def toy():
    spec = register(DynamicsSpec(name="toy_pull", build=toy_build, title="Toy pull",
                                 moves="class centres towards their mean", aliases=("toy",),
                                 ranges={"pull": (0.0, 1.0)}, slider="pull"))
    try:
        yield spec
    finally:
        unregister("toy_pull")
        dynamics.clear_cache()


def test_a_toy_kind_registered_in_one_place_runs_through_run(toy, pool):
    features, labels = pool
    assert "toy_pull" in available_dynamics() and get_dynamics_spec("toy") is toy
    assert method_params("toy") == ("pull",)
    assert request("toy") == {"method": "toy_pull", "metric": "logme", "metric_params": {}, "projection": "pca",
                              "n_frames": None, "params": {"pull": 0.5}}
    traj = run("toy", features, labels, metric="sfda", pull=0.8, n_frames=3)
    assert traj.method == "toy_pull" and len(traj.frames) == 3 and traj.parameter == "pull"
    for model, x in features.items():
        means = np.stack([x[labels == c].mean(axis=0) for c in range(labels.max() + 1)])
        moved = x + 0.8 * (means.mean(axis=0) - means)[labels]
        assert traj.frames[-1].scores[model] == pytest.approx(compute("sfda", moved, labels).score, rel=1e-9)
        assert traj.frames[0].scores[model] == pytest.approx(compute("sfda", x, labels).score, rel=1e-9)
    with pytest.raises(ValueError, match="no parameter"):
        run("toy", features, labels, spread=1.0)
    assert _engine.DEFAULT_METRIC["toy_pull"] == "logme" and "toy_pull" in _engine.METHODS  # live views


def test_a_new_kind_gets_the_closed_form_scorer_of_its_metric(toy, pool, monkeypatch):
    monkeypatch.setattr(_fast_logme, "applicable", lambda context, variant, n: context.n_samples > context.n_dims)
    features, labels = pool
    fast = run("toy", features, labels, metric="logme", n_frames=4)
    slow = run("toy", features, labels, metric="logme", n_frames=4, fast=False)
    model = next(iter(features))
    assert fast.scoring[model].startswith("closed form") and slow.scoring[model].startswith("registry")
    for a, b in zip(fast.frames, slow.frames):
        for m in features:
            assert a.scores[m] == pytest.approx(b.scores[m], rel=1e-9)


def test_register_rejects_conflicts_and_incomplete_specs(toy):
    with pytest.raises(ValueError, match="already taken"):
        register(DynamicsSpec(name="other", build=toy_build, title="x", moves="x", aliases=("toy",)))
    with pytest.raises(ValueError, match="does not take"):
        DynamicsSpec(name="other", build=toy_build, title="x", moves="x", ranges={"strength": (0, 1)})

    def stepwise(contexts, *, displays, steps: int = 3):
        raise NotImplementedError

    with pytest.raises(ValueError, match="frames_are"):
        DynamicsSpec(name="other", build=stepwise, title="x", moves="x")
