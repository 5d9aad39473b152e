"""transvis.demo.showcase for the neural-collapse and PED pages: the model that makes the method's point, from
crafted trajectory numbers."""

import math

import numpy as np

from transvis.demo.showcase import Showcase, collapse_contrast, ped_contrast, showcase
from transvis.dynamics.frames import Frame, Trajectory


def _trajectory(method, models, quantities_per_frame=(), info=None, params=None):
    frames = [Frame(index=i, value=float(i), label=f"f{i}", positions={}, centres={},
                    scores={m: 0.0 for m in models}, quantities=q)
              for i, q in enumerate(quantities_per_frame or [{}, {}])]
    return Trajectory(method=method, metric="logme", metric_params={}, params=dict(params or {}), parameter="t",
                      models=list(models), labels=np.zeros(4, int), frames=frames, projection_name="pca",
                      info=dict(info or {}))


def _collapse(nc1_at_t0):
    first = {m: {"nc1": v, "etf_distance": 0.5} for m, v in nc1_at_t0.items()}
    last = {m: {"nc1": 0.0, "etf_distance": 0.5} for m in nc1_at_t0}
    return _trajectory("collapse", list(nc1_at_t0), [first, last])


def test_collapse_shows_the_model_farthest_from_collapse_beside_the_closest():
    pick = collapse_contrast(_collapse({"a": 0.30, "b": 2.5, "c": 0.08, "d": 1.1}), model_label=str.upper)
    assert pick == Showcase(("c", "b"), pick.reason)
    assert pick.reason == ("B is the farthest from collapse at t = 0 (NC1 2.5, against 0.08 for C, the closest): "
                           "collapsing moves its samples the most.")


def test_collapse_ignores_unscored_models_and_needs_a_difference():
    pick = collapse_contrast(_collapse({"a": 0.3, "b": float("nan"), "c": 0.9, "d": None}))
    assert pick.models == ("a", "c")  # NaN and missing NC1 are never picked
    assert collapse_contrast(_collapse({"a": 0.4, "b": 0.4})) is None  # nothing to contrast
    assert collapse_contrast(_collapse({"a": 0.4, "b": float("nan")})) is None
    assert collapse_contrast(_collapse({"a": 0.4, "b": 0.1, "c": 0.4})).models == ("b", "a")  # tie: pool order


def _ped(steps, ratios, max_steps=6, exit_ratio=0.45):
    info = {m: {"num_steps": k, "change_ratios": r} for (m, k), r in zip(steps.items(), ratios)}
    return _trajectory("ped", list(steps), info=info, params={"max_steps": max_steps, "exit_ratio": exit_ratio})


def test_ped_shows_the_model_that_stops_first_beside_one_that_runs_all_steps():
    # a and c stop after 4 steps; c's stopping step moved less (0.30 < 0.41): the clearer stop. d runs all 6.
    traj = _ped({"a": 4, "b": 5, "c": 4, "d": 6},
                [[None, 0.8, 0.6, 0.5, 0.41], [None, 0.9, 0.7, 0.6, 0.5, 0.44],
                 [None, 0.7, 0.6, 0.5, 0.30], [None, 0.95, 0.9, 0.85, 0.8, 0.79]])
    pick = ped_contrast(traj, model_label=str.upper)
    assert pick == Showcase(("d", "c"), pick.reason)
    assert pick.reason == ("C reaches the exit ratio 0.45 first: it stops after 4 steps (change ratio 0.30), "
                           "while D runs all 6 steps.")
    assert showcase("ped", traj) == ped_contrast(traj)  # the page's dispatch


def test_ped_without_an_early_stop_or_a_difference_picks_nothing():
    every_step = _ped({"a": 6, "b": 6}, [[None, 0.9, 0.8, 0.8, 0.8, 0.79]] * 2)
    assert ped_contrast(every_step) is None  # no model reaches the exit ratio: PED's signal is absent
    same = _ped({"a": 3, "b": 3}, [[None, 0.5, 0.4, 0.2]] * 2)
    assert ped_contrast(same) is None  # every model stops at the same step: nothing to contrast
    # both stop early at different steps: the later one is the contrast, not a model that ran all steps
    pick = ped_contrast(_ped({"a": 3, "b": 2}, [[None, 0.6, 0.5, 0.2], [None, 0.5, 0.1]]))
    assert pick.models == ("a", "b") and "while a runs 3 steps." in pick.reason
    assert not math.isnan(float(pick.reason.split("change ratio ")[1][:4]))


def test_other_kinds_dispatch_to_the_rank_contrast(monkeypatch):
    import transvis.demo.showcase as module

    monkeypatch.setattr(module, "rank_contrast", lambda traj, **_: Showcase(("x", "y"), "stub"))
    assert showcase("spread_attract", _trajectory("spread_attract", ["x", "y"])).models == ("x", "y")
    assert showcase("collapse", _collapse({"x": 0.1, "y": 0.2})).models == ("x", "y")  # its own picker


def test_groundtruth_contrast_names_the_metric_by_its_label_and_says_when_the_noise_is_unknown():
    from transvis.demo.showcase import groundtruth_contrast

    class Table:
        models, metrics = ["pre", "rnd"], ["ncm_softmax"]

        def is_ahead(self, metric, a, b):
            return (a, b) == ("rnd", "pre")

    pick = groundtruth_contrast({"pre": 0.85, "rnd": 0.40}, None, Table(), metric_label=lambda m: "NCM softmax")
    assert pick.models == ("pre", "rnd")
    assert pick.reason == ("The ground truth puts pre 45.0% above rnd (its test sizes unknown, so its noise is not "
                           "judged), yet NCM softmax ranks rnd above it beyond the scores' noise.")
