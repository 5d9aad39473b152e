"""The persisted default rankings of the prepared demo: the Leaderboard's default table and the method pages'
tables at their defaults, keyed by everything they depend on (features, defaults, scoring code, libraries), so a
stale file is never used."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from transvis.demo._files import DEFAULT_TARGET, demo_ranking_path, package_version, read_json, write_text_atomic
from transvis.demo.synthetic import Demo

DEMO_RANKING_FORMAT = 1  # bump when what the persisted ranking holds changes


def _scoring_code_digest() -> str:
    """sha256 of the code that turns features into scores (transvis/metrics and transvis/ranking.py)."""
    import hashlib

    package = Path(__file__).resolve().parents[1]  # transvis/
    digest = hashlib.sha256()
    for path in sorted([*(package / "metrics").rglob("*.py"), package / "ranking.py", package / "ordering.py",
                        package / "uncertainty.py"]):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def demo_ranking_key(feature_keys: Mapping[str, str]) -> dict:
    """Everything the default ranking depends on: the features (store keys), the Leaderboard's default
    metrics and parameters, the scoring code and the numeric libraries. Ground truth is not part of it:
    correlations are recomputed from the current ground-truth CSV whenever the ranking is loaded."""
    from transvis.app_defaults import METHOD_DEFAULTS, default_metrics, default_params
    from transvis.uncertainty import DEFAULT_RESAMPLING

    metrics = default_metrics()
    return {
        "format": DEMO_RANKING_FORMAT,
        "features": dict(feature_keys),
        "metrics": metrics,
        "params": default_params(metrics),
        "method_params": METHOD_DEFAULTS,
        "resampling": DEFAULT_RESAMPLING.to_dict(),
        "code": _scoring_code_digest(),
        "versions": {name: package_version(name) for name in ("numpy", "scipy", "scikit-learn")},
    }


def compute_demo_ranking(demo: Demo):
    """``rank_models`` of the demo with the Leaderboard's default metrics and parameters, with the scores'
    noise (:data:`transvis.uncertainty.DEFAULT_RESAMPLING`) so the app opens with intervals."""
    from transvis.ranking import rank_models
    from transvis.app_defaults import default_metrics, default_params
    from transvis.uncertainty import DEFAULT_RESAMPLING

    metrics = default_metrics()
    return rank_models(demo.features, metrics, params=default_params(metrics), backend="numpy",
                       resamples=DEFAULT_RESAMPLING, n_jobs=2)


def compute_method_rankings(demo: Demo, default_table=None) -> dict:
    """``{metric: RankingTable}`` of the method pages' metrics at their default parameters
    (``transvis.app_defaults.METHOD_DEFAULTS``): what those pages show before a control is moved. A metric whose
    page defaults resolve to the Leaderboard's parameters is taken from ``default_table`` (the
    :func:`compute_demo_ranking` table) instead of being scored again."""
    from transvis.ranking import rank_models
    from transvis.app_defaults import METHOD_DEFAULTS, default_params
    from transvis.uncertainty import DEFAULT_RESAMPLING

    stats: dict = {}
    out = {}
    for metric, params in METHOD_DEFAULTS.items():
        leaderboard = default_params([metric]).get(metric, {})
        if default_table is not None and metric in default_table.metrics \
                and _resolved_params(metric, params) == _resolved_params(metric, leaderboard):
            out[metric] = default_table.select([metric])
            continue
        out[metric] = rank_models(demo.features, [metric], params={metric: params}, stats_cache=stats,
                                  backend="numpy", resamples=DEFAULT_RESAMPLING, n_jobs=2)
    return out


def _resolved_params(metric: str, params: Mapping) -> dict:
    """The metric's keyword parameters with its defaults filled in (equal dicts = equal scores)."""
    import inspect

    from transvis.metrics import get_spec

    signature = inspect.signature(get_spec(metric).fn).parameters
    names = [n for n, p in signature.items() if p.kind is p.KEYWORD_ONLY and n not in ("stats", "source_probs")]
    return {n: params.get(n, signature[n].default) for n in names}


def save_demo_ranking(demo: Demo, table, *, methods: Mapping | None = None, cache_dir=None,
                      key: dict | None = None) -> Path:
    """Persist ``table`` (the demo's default ranking, with every trace) and ``methods`` (from
    :func:`compute_method_rankings`) atomically, keyed by :func:`demo_ranking_key`. Returns the file written."""
    if not demo.feature_keys:
        raise ValueError("this demo has no feature-store keys; persist the ranking of a demo from load_demo().")
    if list(table.models) != list(demo.features):
        raise ValueError(f"the ranking covers {table.models}, not the demo's models {list(demo.features)}.")
    key = key if key is not None else demo_ranking_key(demo.feature_keys)
    if table.metrics != key["metrics"]:
        raise ValueError(f"the ranking scores {table.metrics}, not the Leaderboard's defaults {key['metrics']}; "
                         "persist compute_demo_ranking(demo).")
    methods = dict(methods or {})
    unknown = sorted(set(methods) - set(key["method_params"]))
    if unknown:
        raise ValueError(f"no method-page defaults for {unknown}; persist compute_method_rankings(demo).")
    path = demo_ranking_path(cache_dir, demo.target or DEFAULT_TARGET)
    payload = {"key": key, "table": table.to_dict(traces=True),
               "methods": {metric: t.to_dict(traces=True) for metric, t in methods.items()}}
    write_text_atomic(path, json.dumps(payload, allow_nan=False))
    return path


def load_demo_ranking(demo: Demo, *, regime: str | None = None, cache_dir=None):
    """The persisted default ranking of ``demo`` (a :class:`~transvis.ranking.RankingTable` with every
    trace), or None when it is missing or stale (features, metrics, parameters or scoring code changed).

    Its correlations are computed here from ``demo.groundtruth[regime]`` (default: the first regime), so
    they always match the ground-truth CSV as it is now.
    """
    from transvis.session import match_groundtruth, with_groundtruth

    payload = _fresh_payload(demo, cache_dir)
    table = _table_of(payload and payload.get("table"), demo)
    if table is None:
        return None
    if regime is not None and regime not in demo.groundtruth:
        raise ValueError(f"the demo has no {regime!r} ground truth; choose one of {list(demo.groundtruth)}.")
    regime = regime or next(iter(demo.groundtruth), None)
    groundtruth = match_groundtruth(demo.groundtruth[regime], table.models) if regime else None
    return with_groundtruth(table, groundtruth, demo.groundtruth_n.get(regime) if regime else None)


def load_demo_method_rankings(demo: Demo, *, cache_dir=None) -> dict:
    """``{metric: (params, RankingTable)}`` persisted for the method pages' defaults; {} when missing or stale."""
    from transvis.app_defaults import METHOD_DEFAULTS

    payload = _fresh_payload(demo, cache_dir)
    out = {}
    for metric, data in ((payload or {}).get("methods") or {}).items():
        table = _table_of(data, demo)
        if table is not None and metric in METHOD_DEFAULTS:
            out[metric] = (METHOD_DEFAULTS[metric], table)
    return out


def _fresh_payload(demo: Demo, cache_dir=None) -> dict | None:
    """The persisted ranking file's content when its key matches this demo and code, else None."""
    payload = read_json(demo_ranking_path(cache_dir, demo.target or DEFAULT_TARGET))
    if not isinstance(payload, dict) or not demo.feature_keys:
        return None
    expected = json.loads(json.dumps(demo_ranking_key(demo.feature_keys)))
    return payload if payload.get("key") == expected else None


def _table_of(data, demo: Demo):
    from transvis.ranking import RankingTable

    try:
        table = RankingTable.from_dict(data)
    except (ValueError, KeyError, TypeError):
        return None
    return table if table.models == list(demo.features) else None


