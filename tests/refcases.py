"""The reference vectors (vendored in ``tests/data/refvectors``, a copy of ``../shared/refvectors``) and how
each key is reached through ``compute``.

Every ``*.json`` case found there is checked, so new (unseen) cases are picked up without code changes.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np

from transvis.metrics import compute

REFVECTOR_DIR = Path(os.environ.get("TRANSVIS_REFVECTORS", Path(__file__).resolve().parent / "data" / "refvectors"))
SHARED_REFVECTOR_DIR = Path(__file__).resolve().parents[2] / "shared" / "refvectors"  # optional: checked if present


def case_names() -> list[str]:
    return sorted(p.stem for p in REFVECTOR_DIR.glob("*.json") if (REFVECTOR_DIR / f"{p.stem}.npz").exists())


@functools.lru_cache(maxsize=None)
def load_case(name: str):
    arrays = np.load(REFVECTOR_DIR / f"{name}.npz")
    expected = json.loads((REFVECTOR_DIR / f"{name}.json").read_text())
    return {k: arrays[k] for k in arrays.files}, expected


# Keys compared exactly (ints, booleans); the README's tolerance table.
EXACT_KEYS = {"ped_num_steps", "ped_ts0p4_num_steps", "fsp_gate_fired", "nleep_pca_dims", "nc4_ncc_accuracy"}
LOGME_OFFICIAL = {"variant": "official_fixed_point"}


def tolerance(key: str) -> dict:
    if key.startswith("nleep_") and key.endswith("_seed0"):
        return {"rtol": 1e-6, "atol": 1e-9}
    return {"rtol": 1e-6, "atol": 1e-12}


@functools.lru_cache(maxsize=None)
def _cached(case: str, name: str, frozen_params: tuple):
    arrays, _ = load_case(case)
    params = {k: (dict(v) if isinstance(v, tuple) else v) for k, v in frozen_params}
    return compute(name, arrays["X"], arrays["y"], **params)


def _call(case: str, name: str, **params):
    frozen = tuple(sorted((k, tuple(sorted(v.items())) if isinstance(v, dict) else v) for k, v in params.items()))
    return _cached(case, name, frozen)


def _with_probs(case, name):
    arrays, _ = load_case(case)
    return compute(name, arrays["X"], arrays["y"], source_probs=arrays["P"]).score


def _ped(case, metric, time_step=0.1):
    arrays, _ = load_case(case)
    params = {"metric_params": LOGME_OFFICIAL} if metric == "logme" else {}
    return compute("ped", arrays["X"], arrays["y"], metric=metric, reference_features=arrays["G"],
                   time_step=time_step, **params)


def _fsp(case, metric):
    arrays, _ = load_case(case)
    params = {"metric_params": LOGME_OFFICIAL} if metric == "logme" else {}
    return compute("fsp", arrays["X"], arrays["y"], metric=metric, variant="official", **params)


KEY_CALLS = {
    "logme_exact": lambda c: _call(c, "logme").score,
    "logme_official_fixed_point": lambda c: _call(c, "logme", variant="official_fixed_point").score,
    "logme_official_icml": lambda c: _call(c, "logme", variant="official_icml").score,
    "leep": lambda c: _with_probs(c, "leep"),
    "nce": lambda c: _with_probs(c, "nce"),
    "nleep_log_seed0": lambda c: _call(c, "nleep", seed=0).score,
    "nleep_mean_prob_seed0": lambda c: _call(c, "nleep", seed=0, variant="official").score,
    "nleep_pca_dims": lambda c: _call(c, "nleep", seed=0).trace["pca_dims"],
    "h_score": lambda c: _call(c, "hscore").score,
    "regularized_h_score": lambda c: _call(c, "hscore_shrinkage").score,
    "transrate": lambda c: _call(c, "transrate").score,
    "gbc_spherical_pca64": lambda c: _call(c, "gbc").score,
    "sfda": lambda c: _call(c, "sfda").score,
    "sfda_shrinkage": lambda c: _call(c, "sfda").trace["shrinkage"],
    "ped_sfda": lambda c: _ped(c, "sfda").score,
    "ped_logme": lambda c: _ped(c, "logme").score,
    "ped_num_steps": lambda c: _ped(c, "sfda").trace["num_steps"],
    "ped_position_changes": lambda c: _ped(c, "sfda").trace["position_changes"],
    "ped_change_ratios": lambda c: _ped(c, "sfda").trace["change_ratios"],
    "ped_ts0p4_sfda": lambda c: _ped(c, "sfda", 0.4).score,
    "ped_ts0p4_logme": lambda c: _ped(c, "logme", 0.4).score,
    "ped_ts0p4_num_steps": lambda c: _ped(c, "sfda", 0.4).trace["num_steps"],
    "ped_ts0p4_position_changes": lambda c: _ped(c, "sfda", 0.4).trace["position_changes"],
    "ped_ts0p4_change_ratios": lambda c: _ped(c, "sfda", 0.4).trace["change_ratios"],
    "fsp_gate_fired": lambda c: _fsp(c, "logme").trace["gate_fired"],
    "fsp_gate_top2_mean_eig": lambda c: _fsp(c, "logme").trace["gate_top2_mean_eig"],
    "fsp_official_logme": lambda c: _fsp(c, "logme").score,
    "fsp_official_sfda": lambda c: _fsp(c, "sfda").score,
    "ncti_seli": lambda c: _call(c, "ncti").trace["seli"],
    "ncti_ncc": lambda c: _call(c, "ncti").trace["ncc"],
    "ncti_vc": lambda c: _call(c, "ncti").trace["vc"],
    "ncti_lda_shrinkage": lambda c: _call(c, "ncti").trace["lda_shrinkage"],
    "nc1": lambda c: _call(c, "nc").trace["nc1"],
    "nc2_equinorm": lambda c: _call(c, "nc").trace["nc2_equinorm"],
    "nc2_equiangular": lambda c: _call(c, "nc").trace["nc2_equiangular"],
    "nc2_maxangle": lambda c: _call(c, "nc").trace["nc2_maxangle"],
    "nc4_ncc_accuracy": lambda c: _call(c, "nc").trace["nc4_ncc_accuracy"],
}


def assert_matches(key: str, actual, expected) -> None:
    """Compare one reference value (scalar, bool, None or list) under the README's tolerances."""
    if isinstance(expected, list):
        assert actual is not None and len(actual) == len(expected), f"{key}: length {actual} vs {expected}"
        for a, e in zip(actual, expected):
            assert_matches(key, a, e)
        return
    if expected is None:
        assert actual is None or (isinstance(actual, float) and np.isnan(actual)), f"{key}: {actual} vs None"
        return
    if key in EXACT_KEYS or isinstance(expected, bool):
        assert actual == expected, f"{key}: {actual!r} != {expected!r}"
        return
    np.testing.assert_allclose(float(actual), expected, **tolerance(key), err_msg=key)
