"""The app's defaults, in one home: what the Leaderboard ranks and the method pages show before the user
moves a control. ``transvis demo prepare`` scores and persists exactly these, so the app opens on them
without computing; the CLI ranks ``default_metrics()`` too. Metric facts themselves live in each metric's
``MetricSpec`` (``transvis.metrics``); this module only chooses among them."""

from __future__ import annotations

from collections.abc import Sequence

# The method pages' parameters before the user moves a control (their widgets start here), so that
# ``transvis demo prepare`` can score them once: {metric: params}.
METHOD_DEFAULTS = {
    "fsp": {"metric": "logme", "variant": "paper", "spread": 0.3, "attract": 0.3},  # Spread & Attract
    # PED dynamics: time step 0.2 and exit ratio 0.45, not the official 0.1 / 0.5, under which no demo model stops
    # within 6 steps (change ratios fall only to 0.79), so PED's own signal — when each model stops — is invisible;
    # here 5 demo models stop after 4 steps, mobilenetv2_tv after 5, vgg16_hed runs all 6
    "ped": {"metric": "sfda", "exit_ratio": 0.45, "time_step": 0.2, "max_steps": 6},
    "sfda": {"shrinkage": None, "confmix": True, "spectrum": True},  # Fisher space
}


# The trajectory each dynamics page animates before a control is moved (and the Export page's default
# animation, Neural collapse's): {kind: (metric, engine parameters)}; ``transvis demo prepare`` persists them.
DYNAMICS_DEFAULTS = {
    "spread_attract": (METHOD_DEFAULTS["fsp"]["metric"], {
        "variant": METHOD_DEFAULTS["fsp"]["variant"], "mode": "both",
        "spread": METHOD_DEFAULTS["fsp"]["spread"], "attract": METHOD_DEFAULTS["fsp"]["attract"]}),
    "fisher": ("sfda", {"shrinkage": METHOD_DEFAULTS["sfda"]["shrinkage"],
                        "confmix": METHOD_DEFAULTS["sfda"]["confmix"], "sweep": "confmix"}),
    "ped": (METHOD_DEFAULTS["ped"]["metric"], {k: v for k, v in METHOD_DEFAULTS["ped"].items() if k != "metric"}),
    "collapse": ("logme", {"to_etf": False}),
}


def default_metrics() -> list[str]:
    """The metrics the Leaderboard ranks until the user changes them: every registered one but the opt-in
    (``MetricSpec.opt_in``: slow on real pools); the CLI's default too."""
    from transvis.metrics import default_metrics as registry_defaults

    return registry_defaults()


def default_params(metrics: Sequence[str]) -> dict[str, dict]:
    """``{metric: {"variant": default}}`` for the metrics that have variants (the Leaderboard's defaults)."""
    from transvis.metrics import get_spec

    out = {}
    for name in metrics:
        spec = get_spec(name)
        if spec.variants:
            out[name] = {"variant": spec.default_variant or spec.variants[0]}
    return out
